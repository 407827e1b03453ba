package playbook

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// toolSpec is the read allowlist of a command-line tool that runbooks use
// to look at a system: its read-only subcommands, the flags allowed with
// them, and what its other operands may be. Anything else it can do is a
// write, as for every command the classifier does not know.
type toolSpec struct {
	flags *flagSpec
	// operand checks an operand after the verb; it returns why the
	// operand makes the command a write, or "".
	operand func(op shellOperand) string
	// readWhy says why an allowed command only reads.
	readWhy string
}

var toolSpecs = map[string]*toolSpec{
	"curl": {
		flags: &flagSpec{
			bools: wordSet(`-s --silent -S --show-error -f --fail --fail-with-body -L --location -i --include
				-I --head -v --verbose -g --globoff --compressed -N --no-buffer -4 --ipv4 -6 --ipv6
				--http1.1 --http2 -G --get --no-progress-meter -q --disable`),
			values: wordSet(`-H --header -m --max-time --connect-timeout -X --request -A --user-agent --retry
				--retry-delay --retry-max-time -e --referer --max-redirs -w --write-out --max-filesize`),
			why: map[string]string{
				"-o": "writes a file", "--output": "writes a file", "-O": "writes a file", "--remote-name": "writes a file",
				"--remote-name-all": "writes files", "-J": "writes a file", "--remote-header-name": "writes a file",
				"--output-dir": "writes files", "--create-dirs": "creates folders", "-c": "writes a cookie file",
				"--cookie-jar": "writes a cookie file", "-D": "writes a file", "--dump-header": "writes a file",
				"--trace": "writes a file", "--trace-ascii": "writes a file", "--stderr": "writes a file",
				"--libcurl": "writes a file", "--etag-save": "writes a file", "--hsts": "writes a file", "--alt-svc": "writes a file",
				"-d": "sends data: a write request", "--data": "sends data: a write request", "--data-raw": "sends data: a write request",
				"--data-binary": "sends data: a write request", "--data-urlencode": "sends data: a write request",
				"--data-ascii": "sends data: a write request", "--json": "sends data: a write request",
				"-F": "sends a form: a write request", "--form": "sends a form: a write request", "--form-string": "sends a form: a write request",
				"-T": "uploads a file", "--upload-file": "uploads a file",
				"-K": "reads options from a file", "--config": "reads options from a file",
				"-k": "turns off the TLS checks", "--insecure": "turns off the TLS checks",
				"-u": "sends credentials the text chooses", "--user": "sends credentials the text chooses",
				"--oauth2-bearer": "sends credentials the text chooses", "-E": "reads a client certificate",
				"--cert": "reads a client certificate", "--key": "reads a private key", "-n": "reads credentials from .netrc",
				"--netrc": "reads credentials from .netrc", "--netrc-file": "reads credentials from a file",
				"--netrc-optional": "reads credentials from .netrc", "-b": "may read cookies from a file", "--cookie": "may read cookies from a file",
				"--unix-socket":          "talks to a local socket (a container runtime, the kubelet)",
				"--abstract-unix-socket": "talks to a local socket (a container runtime, the kubelet)",
				"-x":                     "sends the request through another host", "--proxy": "sends the request through another host",
				"--preproxy": "sends the request through another host",
			},
			check: func(flag, value string) string {
				switch flag {
				case "-X", "--request":
					if m := strings.ToUpper(value); m != "GET" && m != "HEAD" {
						return "is not a GET or HEAD request"
					}
				case "-H", "--header", "-w", "--write-out":
					if strings.HasPrefix(value, "@") {
						return "reads a file"
					}
				}
				return ""
			},
		},
		operand: curlURL,
		readWhy: "curl GET only reads",
	},
	"promtool": {
		flags: newFlagSpec(`--experimental`, `-o --format --time --start --end --step --match`,
			map[string]string{"--http.config.file": "reads credentials from a file the text chooses"}),
		readWhy: "promtool query only reads",
	},
	"etcdctl": {
		flags: newFlagSpec(`--cluster --hex --insecure-transport --insecure-discovery`,
			`-w --write-out --endpoints --cacert --cert --key --command-timeout --dial-timeout --keepalive-time --keepalive-timeout`,
			map[string]string{"--user": "changes the credentials", "--password": "changes the credentials",
				"--insecure-skip-tls-verify": "turns off the TLS checks", "--discovery-srv": "talks to the hosts a DNS record names"}),
		operand: func(shellOperand) string { return "is not an argument of a read-only etcdctl command" },
		readWhy: "etcdctl only reads",
	},
	"systemctl": {
		flags: newFlagSpec(`--no-pager -l --full -a --all --no-legend --plain --value --user --system -q --quiet --failed`,
			`-n --lines -p --property -t --type --state -o --output`,
			map[string]string{"-H": "runs the command on another host", "--host": "runs the command on another host",
				"-M": "runs the command in a container", "--machine": "runs the command in a container"}),
		readWhy: "systemctl only reads",
	},
	"journalctl": {
		flags: newFlagSpec(`--no-pager -r --reverse -x --catalog -k --dmesg -b --boot -q --quiet -a --all -l --full
			--no-hostname --utc -m --merge --system --user -e --pager-end --no-tail`,
			`-u --unit -t --identifier -p --priority -S --since -U --until -n --lines -o --output -g --grep
			--output-fields --facility --cursor --after-cursor`,
			map[string]string{"-f": "follows the journal until the step times out", "--follow": "follows the journal until the step times out",
				"-D": "reads journal files the text chooses", "--directory": "reads journal files the text chooses",
				"--file": "reads journal files the text chooses", "--root": "reads journal files the text chooses", "--image": "reads journal files the text chooses",
				"--vacuum-size": "deletes journal files", "--vacuum-time": "deletes journal files", "--vacuum-files": "deletes journal files",
				"--rotate": "changes the journal", "--flush": "changes the journal", "--sync": "changes the journal",
				"--relinquish-var": "changes the journal", "--smart-relinquish-var": "changes the journal",
				"--setup-keys": "writes keys", "--update-catalog": "writes the catalog",
				"-M": "reads a container's journal", "--machine": "reads a container's journal"}),
		operand: func(op shellOperand) string {
			if !strings.Contains(op.in.val, "=") && op.in.val != "+" {
				return "names a file (a journal match is FIELD=VALUE)"
			}
			return ""
		},
		readWhy: "journalctl only reads",
	},
}

// curlURL checks a URL curl fetches: http or https, to a host written
// out that is not this machine. A GET to a local admin endpoint (an
// Envoy, a kubelet, a cloud metadata service) can act or hand out
// credentials, and a host taken from a parameter could be one.
func curlURL(op shellOperand) string {
	v := strings.ToLower(op.in.val)
	rest, ok := strings.CutPrefix(v, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(v, "https://")
	}
	if op.in.lead || !ok {
		return "is not an http:// or https:// URL written out (another scheme reads files or talks other protocols)"
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if strings.ContainsAny(host, "\x00<$") || strings.Contains(host, "{{") {
		return "takes its host from a parameter, which could name this machine"
	}
	if strings.HasPrefix(host, "[") {
		host, _, _ = strings.Cut(host[1:], "]")
	} else if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "metadata" || host == "metadata.google.internal",
		strings.HasPrefix(host, "127.") || host == "::1" || host == "0.0.0.0" || host == "::" || strings.HasPrefix(host, "169.254.") || strings.HasPrefix(host, "fe80:") || host == "fd00:ec2::254":
		return "is on this machine (curl talks to the network here, where local admin and metadata endpoints can act or hand out credentials on a GET)"
	}
	return ""
}

// toolVerbs are the read-only subcommands, of one or two words, of the
// tools that have subcommands.
var toolVerbs = map[string]map[string]bool{
	"promtool":  wordSetLines("query instant\nquery range\nquery series\nquery labels\nquery analyze"),
	"etcdctl":   wordSetLines("endpoint health\nendpoint status\nendpoint hashkv\nmember list\nalarm list\nversion"),
	"systemctl": wordSetLines("status\nshow\nis-active\nis-enabled\nis-failed\nlist-units\nlist-timers\nlist-unit-files\ncat"),
}

func wordSetLines(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[l] = true
	}
	return m
}

// tool checks a command of a tool in toolSpecs: allowed flags, a
// read-only subcommand as literal words, operands its spec allows.
func (a *shellAnalyzer) tool(name string, t *toolSpec, c *syntax.CallExpr) {
	ops, _, ok := a.scanArgs(name, c.Args[1:], t.flags)
	if !ok {
		return
	}
	verb := ""
	if verbs := toolVerbs[name]; verbs != nil {
		word := func(i int) (string, bool) {
			if i >= len(ops) || ops[i].in.exp || ops[i].in.ph >= 0 || a.holdsPlaceholder(ops[i].w) {
				return "", false
			}
			return ops[i].in.val, true
		}
		w1, ok1 := word(0)
		w2, ok2 := word(1)
		switch {
		case ok1 && ok2 && verbs[w1+" "+w2]:
			verb, ops = w1+" "+w2, ops[2:]
		case ok1 && verbs[w1]:
			verb, ops = w1, ops[1:]
		case len(ops) == 0:
			a.softf(c.Args[0].Pos(), "%s without a read-only subcommand", name)
			return
		default:
			shown := a.text(ops[0].w)
			if ok2 {
				shown += " " + w2
			}
			a.softf(ops[0].w.Pos(), "%s %s is not a read-only subcommand", name, shown)
			return
		}
	}
	for i, op := range ops {
		if name == "promtool" && i == 0 {
			if why := toolSpecs["curl"].operand(op); why != "" {
				a.softf(op.w.Pos(), "promtool server %s %s", a.text(op.w), why)
				return
			}
		}
		if t.operand != nil {
			if why := t.operand(op); why != "" {
				a.softf(op.w.Pos(), "%s operand %s %s", name, a.text(op.w), why)
				return
			}
		}
		a.operand(name, op, "write it out, or pass it after --", false)
	}
	if name == "curl" && len(ops) == 0 {
		a.softf(c.Args[0].Pos(), "curl without a URL")
		return
	}
	if a.readWhy == "" {
		a.readWhy = t.readWhy
		if verb != "" {
			a.readWhy = name + " " + verb + " only reads"
		}
	}
}
