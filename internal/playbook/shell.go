package playbook

import (
	"regexp"
	"strings"
)

// shellQuote is the quoting context of a position in a shell script.
type shellQuote int

const (
	quoteNone shellQuote = iota
	quoteDouble
	quoteSingle
)

// shellPlaceholder is a parameter placeholder in a shell script.
type shellPlaceholder struct {
	Start, End int
	Name       string
	Form       ParamForm
	Quote      shellQuote
}

var (
	angleName = regexp.MustCompile(`^<([A-Za-z][A-Za-z0-9_-]*)>`)
	capsName  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$`)
)

// scanShell finds the placeholders of a script: <name>, {{name}} and
// ALL_CAPS_WITH_UNDERSCORE words that are not $VAR references or
// assignments. Comments are skipped.
func scanShell(s string) []shellPlaceholder {
	var out []shellPlaceholder
	q := quoteNone
	n := len(s)
	wordStart := true // at the start of a word, where # opens a comment
	for i := 0; i < n; {
		c := s[i]
		switch q {
		case quoteSingle:
			if c == '\'' {
				q = quoteNone
				i++
				continue
			}
		case quoteDouble:
			if c == '\\' {
				i += 2
				continue
			}
			if c == '"' {
				q = quoteNone
				i++
				continue
			}
		case quoteNone:
			switch {
			case c == '\\':
				i += 2
				wordStart = false
				continue
			case c == '\'':
				q = quoteSingle
				i++
				wordStart = false
				continue
			case c == '"':
				q = quoteDouble
				i++
				wordStart = false
				continue
			case c == '#' && wordStart:
				for i < n && s[i] != '\n' {
					i++
				}
				continue
			}
		}
		// Placeholders, in any quoting context.
		if c == '<' {
			if m := angleName.FindStringSubmatch(s[i:]); m != nil {
				out = append(out, shellPlaceholder{Start: i, End: i + len(m[0]), Name: m[1], Form: FormAngle, Quote: q})
				i += len(m[0])
				wordStart = false
				continue
			}
		}
		if c == '{' && i+1 < n && s[i+1] == '{' {
			if m := bracesName.FindStringSubmatch(s[i:]); m != nil {
				out = append(out, shellPlaceholder{Start: i, End: i + len(m[0]), Name: m[1], Form: FormBraces, Quote: q})
				i += len(m[0])
				wordStart = false
				continue
			}
		}
		if c == '$' {
			// $VAR and ${VAR} are the script's own variables.
			j := i + 1
			if j < n && s[j] == '{' {
				j++
			}
			for j < n && (isIdentChar(s[j]) && s[j] != '$') {
				j++
			}
			i = j
			wordStart = false
			continue
		}
		if c >= 'A' && c <= 'Z' && (i == 0 || !isWordByte(s[i-1])) {
			j := i
			for j < n && isWordByte(s[j]) {
				j++
			}
			w := s[i:j]
			if capsName.MatchString(w) && (j >= n || s[j] != '=') {
				out = append(out, shellPlaceholder{Start: i, End: j, Name: w, Form: FormCaps, Quote: q})
			}
			i = j
			wordStart = false
			continue
		}
		wordStart = q == quoteNone && (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '|' || c == '&' || c == '(')
		i++
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// EnvName is the environment variable that carries a parameter's value
// into a shell script: FB_PARAM_ and the name in upper snake case.
func EnvName(param string) string {
	var b strings.Builder
	b.WriteString("FB_PARAM_")
	for i := 0; i < len(param); i++ {
		c := param[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// renderShell replaces each placeholder by a quoted reference to its
// environment variable. Values never enter the text.
func renderShell(s string, phs []shellPlaceholder) string {
	var b strings.Builder
	last := 0
	for _, p := range phs {
		b.WriteString(s[last:p.Start])
		env := EnvName(p.Name)
		switch p.Quote {
		case quoteDouble:
			b.WriteString("${" + env + "}")
		case quoteSingle:
			b.WriteString(`'"$` + env + `"'`)
		default:
			b.WriteString(`"$` + env + `"`)
		}
		last = p.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// shellLine is one logical command line of a script.
type shellLine struct {
	Text string
	Line int // 0-based line within the script
}

// shellLines splits a script into logical command lines, joining
// backslash continuations and dropping blank and comment-only lines.
func shellLines(s string) []shellLine {
	var out []shellLine
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		cur := strings.TrimRight(lines[i], " \t\r")
		for strings.HasSuffix(cur, "\\") && i+1 < len(lines) {
			i++
			cur = strings.TrimSuffix(cur, "\\") + " " + strings.TrimSpace(lines[i])
		}
		t := strings.TrimSpace(cur)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, shellLine{Text: t, Line: start})
	}
	return out
}

// shellCommentOnly reports whether a script holds nothing but comments.
func shellCommentOnly(s string) bool { return len(shellLines(s)) == 0 }

// shellComments returns the text of a script's comment lines.
func shellComments(s string, prefix string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, prefix) {
			t = strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(t, prefix), "#-!/ "))
			if t != "" {
				parts = append(parts, t)
			}
		}
	}
	return strings.Join(parts, "\n")
}

// shTok is a shell token: a word (quotes removed) or an operator.
type shTok struct {
	Word string
	Op   string // | || && ; & > >> < $( `
}

// tokenizeShell splits one command line into words and operators. <name>
// placeholders are words, not redirections. A trailing comment is dropped.
func tokenizeShell(s string) []shTok {
	var toks []shTok
	var w strings.Builder
	inWord := false
	emit := func() {
		if inWord {
			toks = append(toks, shTok{Word: w.String()})
			w.Reset()
			inWord = false
		}
	}
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			emit()
			i++
		case c == '#' && !inWord:
			i = n
		case c == '\\' && i+1 < n:
			w.WriteByte(s[i+1])
			inWord = true
			i += 2
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				w.WriteString(s[i+1:])
				i = n
			} else {
				w.WriteString(s[i+1 : i+1+j])
				i += j + 2
			}
		case c == '"':
			inWord = true
			i++
			for i < n && s[i] != '"' {
				if s[i] == '\\' && i+1 < n {
					i++
				}
				if s[i] == '$' && i+1 < n && s[i+1] == '(' {
					toks = append(toks, shTok{Op: "$("})
				}
				if s[i] == '`' {
					toks = append(toks, shTok{Op: "`"})
				}
				w.WriteByte(s[i])
				i++
			}
			i++
		case c == '<' && angleName.MatchString(s[i:]):
			m := angleName.FindString(s[i:])
			w.WriteString(m)
			inWord = true
			i += len(m)
		case c == '$' && i+1 < n && s[i+1] == '(':
			emit()
			toks = append(toks, shTok{Op: "$("})
			i += 2
		case c == '`':
			emit()
			toks = append(toks, shTok{Op: "`"})
			i++
		case c == '|' || c == '&' || c == ';' || c == '>' || c == '<' || c == '(' || c == ')':
			emit()
			op := string(c)
			if i+1 < n && (s[i+1] == c || c == '>' && s[i+1] == '&' || c == '&' && s[i+1] == '>') {
				op += string(s[i+1])
			}
			toks = append(toks, shTok{Op: op})
			i += len(op)
		default:
			w.WriteByte(c)
			inWord = true
			i++
		}
	}
	emit()
	return toks
}

// Commands that only filter what a read command prints.
var filterCommands = wordSet(`grep egrep fgrep head tail wc sort uniq cut jq tr column`)

var kubeReadVerbs = wordSet(`get describe logs top`)

// classifyShellLine returns the risk of one command line and why, and the
// native kube command when the kube executor can run it.
func classifyShellLine(line string) (Risk, string, *KubeCommand) {
	toks := tokenizeShell(line)
	for i, t := range toks {
		switch t.Op {
		case "$(", "`":
			return RiskWrite, "runs a command substitution", nil
		case ">", ">>", "&>", ">&", "<", "(", ")", "||", "&&", ";", "&":
			if t.Op == ">" || t.Op == ">>" || t.Op == "&>" {
				if i+1 < len(toks) && toks[i+1].Word == "/dev/null" {
					continue
				}
				if t.Op == ">" && i+1 < len(toks) && toks[i+1].Op == "&" {
					continue
				}
			}
			if t.Op == ">&" {
				continue
			}
			if t.Op == "<" || t.Op == ">" || t.Op == ">>" || t.Op == "&>" {
				return RiskWrite, "redirects to or from a file", nil
			}
		}
	}
	// Pipelines joined by ; && || & are classified one by one.
	var pipelines [][]shTok
	cur := []shTok{}
	for _, t := range toks {
		switch t.Op {
		case ";", "&&", "||", "&":
			pipelines = append(pipelines, cur)
			cur = []shTok{}
			continue
		}
		cur = append(cur, t)
	}
	pipelines = append(pipelines, cur)
	risk, reason := RiskRead, ""
	for _, p := range pipelines {
		var cmds [][]string
		var words []string
		for _, t := range p {
			if t.Op == "|" {
				cmds = append(cmds, words)
				words = nil
				continue
			}
			if t.Op == "" {
				words = append(words, t.Word)
			}
		}
		cmds = append(cmds, words)
		for j, c := range cmds {
			c = skipAssignments(c)
			if len(c) == 0 {
				continue
			}
			name := c[0]
			if j > 0 && filterCommands[name] {
				continue
			}
			if name == "kubectl" || name == "oc" {
				verb := kubeVerb(c[1:])
				if kubeReadVerbs[verb] {
					if reason == "" {
						reason = "kubectl " + verb + " only reads"
					}
					continue
				}
				if verb == "" {
					return RiskWrite, "kubectl without a recognised verb", nil
				}
				if verb == "rollout" || verb == "set" || verb == "config" {
					for k := 1; k+1 < len(c); k++ {
						if c[k] == verb {
							if !strings.HasPrefix(c[k+1], "-") {
								verb += " " + c[k+1]
							}
							break
						}
					}
				}
				return RiskWrite, "kubectl " + verb + " changes the cluster", nativeKube(line, toks)
			}
			return RiskWrite, name + " is not a known read-only command", nil
		}
	}
	if reason == "" {
		reason = "no command"
	}
	return risk, reason, nativeKube(line, toks)
}

func skipAssignments(words []string) []string {
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") && isWordByte(words[0][0]) {
		words = words[1:]
	}
	return words
}

// kubectl flags that take a value, used to find the verb after global
// flags.
var kubeValueFlags = wordSet(`-n --namespace --context --cluster --kubeconfig --user -s --server --token --as --request-timeout`)

func kubeVerb(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if kubeValueFlags[a] {
				i++
			}
			continue
		}
		return a
	}
	return ""
}

// nativeKube returns the structured form of a kubectl line when it is one
// of the forms the kube executor runs natively, else nil.
func nativeKube(line string, toks []shTok) *KubeCommand {
	var words []string
	grep := ""
	pipe := false
	for i, t := range toks {
		switch t.Op {
		case "":
			if !pipe {
				words = append(words, t.Word)
			}
		case "|":
			// Only a final "| grep PATTERN" is understood.
			rest := toks[i+1:]
			if pipe || len(rest) != 2 || rest[0].Word != "grep" || rest[1].Op != "" || strings.HasPrefix(rest[1].Word, "-") {
				return nil
			}
			grep = rest[1].Word
			pipe = true
		default:
			return nil
		}
	}
	if len(words) < 2 || words[0] != "kubectl" {
		return nil
	}
	k := &KubeCommand{Raw: line, Grep: grep, Flags: map[string]string{}}
	var pos []string
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		long := a[:2] == "--"
		if !long && len(name) > 1 && !hasVal {
			return nil // combined short flags are not understood
		}
		needVal := func() bool {
			if hasVal {
				return true
			}
			if i+1 < len(args) {
				i++
				val = args[i]
				return true
			}
			return false
		}
		switch name {
		case "n", "namespace":
			if !needVal() {
				return nil
			}
			k.Namespace = val
		case "l", "selector":
			if !needVal() {
				return nil
			}
			k.Selector = val
		case "f", "follow":
			if hasVal {
				return nil
			}
			k.Flags["follow"] = "true"
			k.Bounded = true
		case "p", "previous":
			if hasVal {
				return nil
			}
			k.Flags["previous"] = "true"
		case "c", "container", "since", "tail", "replicas", "o", "output", "field-selector":
			if !needVal() {
				return nil
			}
			key := map[string]string{"c": "container", "o": "output"}[name]
			if key == "" {
				key = name
			}
			k.Flags[key] = val
		case "A", "all-namespaces", "timestamps", "all-containers", "containers":
			if hasVal {
				return nil
			}
			key := name
			if name == "A" {
				key = "all-namespaces"
			}
			k.Flags[key] = "true"
		default:
			return nil
		}
	}
	if len(pos) == 0 {
		return nil
	}
	k.Verb = pos[0]
	rest := pos[1:]
	resource := func(r string) string {
		switch r {
		case "po", "pod", "pods":
			return "pod"
		case "deploy", "deployment", "deployments":
			return "deployment"
		}
		return ""
	}
	typed := func(s string) (string, string) { // deployment/x → deployment, x
		r, name, ok := strings.Cut(s, "/")
		if !ok {
			return "", ""
		}
		return resource(r), name
	}
	allowed := func(flags ...string) bool {
		ok := wordSet(strings.Join(flags, " "))
		for f := range k.Flags {
			if !ok[f] {
				return false
			}
		}
		return true
	}
	switch k.Verb {
	case "get", "top":
		if len(rest) < 1 || len(rest) > 2 || resource(rest[0]) != "pod" {
			return nil
		}
		k.Resource = "pods"
		if len(rest) == 2 {
			k.Name = rest[1]
		}
		if k.Verb == "get" && !allowed("output", "all-namespaces", "field-selector") {
			return nil
		}
		if k.Verb == "top" && !allowed("containers", "all-namespaces") {
			return nil
		}
	case "describe":
		if len(rest) == 1 {
			if r, name := typed(rest[0]); r == "pod" {
				k.Resource, k.Name = r, name
				break
			}
		}
		if len(rest) < 1 || len(rest) > 2 || resource(rest[0]) != "pod" {
			return nil
		}
		k.Resource = "pod"
		if len(rest) == 2 {
			k.Name = rest[1]
		}
		if k.Name == "" && k.Selector == "" || !allowed() {
			return nil
		}
	case "logs":
		if len(rest) > 1 {
			return nil
		}
		if len(rest) == 1 {
			if r, name := typed(rest[0]); r != "" {
				k.Resource, k.Name = r, name
			} else if strings.Contains(rest[0], "/") {
				return nil
			} else {
				k.Resource, k.Name = "pod", rest[0]
			}
		} else if k.Selector != "" {
			k.Resource = "pod"
		} else {
			return nil
		}
		if !allowed("follow", "previous", "container", "since", "tail", "timestamps", "all-containers") {
			return nil
		}
	case "scale":
		switch len(rest) {
		case 1:
			k.Resource, k.Name = typed(rest[0])
		case 2:
			k.Resource, k.Name = resource(rest[0]), rest[1]
		}
		if k.Resource != "deployment" || k.Name == "" || k.Flags["replicas"] == "" || !allowed("replicas") || k.Selector != "" {
			return nil
		}
	case "rollout":
		if len(rest) < 2 || rest[0] != "restart" {
			return nil
		}
		k.Verb = "rollout restart"
		switch len(rest) {
		case 2:
			k.Resource, k.Name = typed(rest[1])
		case 3:
			k.Resource, k.Name = resource(rest[1]), rest[2]
		}
		if k.Resource != "deployment" || k.Name == "" || !allowed() || k.Selector != "" {
			return nil
		}
	default:
		return nil
	}
	if k.Grep != "" && k.Verb != "logs" && k.Verb != "get" && k.Verb != "top" && k.Verb != "describe" {
		return nil
	}
	if len(k.Flags) == 0 {
		k.Flags = nil
	}
	return k
}
