package playbook

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// classifyScript classifies a script as a step would: the highest risk of
// its statements, the reason of the first write statement (else the first
// reason), and the native kube command of a one-statement script.
func classifyScript(s string) (Risk, string, *KubeCommand) {
	an := analyzeShell(s)
	risk, reason := RiskRead, ""
	for _, st := range an.Stmts {
		if st.Risk == RiskWrite && risk != RiskWrite {
			risk, reason = RiskWrite, st.Reason
		}
		if reason == "" {
			reason = st.Reason
		}
	}
	var k *KubeCommand
	if len(an.Stmts) == 1 {
		k = an.Stmts[0].Kube
	}
	return risk, reason, k
}

func TestShellReproductions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script, why string
	}{
		{"quote spanning lines hides a command", "kubectl get pods | head -n1 'A\nkubectl get pods '; id > /tmp/x; kubectl get pods 'B\nkubectl get pods C'", "head operand"},
		{"sort writes a file", "kubectl get pods 2>/dev/null | sort -o /tmp/x", "1:37: sort option -o writes to a file"},
		{"head reads a file", "kubectl get pods | head -n1 firebreak-data/admin-token | tr a-z A-Z", "1:29: head operand firebreak-data/admin-token names a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why, _ := classifyScript(tt.script)
			if got != RiskWrite || !strings.Contains(why, tt.why) {
				t.Errorf("%q = %s (%s), want write mentioning %q", tt.script, got, why, tt.why)
			}
		})
	}
	// Every statement of the first is classified on its own: the id and its
	// redirection are found although they sit inside what lines suggest is
	// a quoted string.
	an := analyzeShell(tests[0].script)
	var got []string
	for _, st := range an.Stmts {
		got = append(got, string(st.Risk)+" "+st.Reason)
	}
	want := []string{
		"write 1:29: head operand 'A kubectl get pods ' names a file (filters may read only standard input)",
		"write 2:24: redirection to a file (> /tmp/x)",
		"read kubectl get only reads",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestShellBypasses lists shapes that must never classify read, each with
// the construct its reason must name.
func TestShellBypasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script, why string
	}{
		{"kubectl get pods > /tmp/x", "1:18: redirection to a file (> /tmp/x)"},
		{"kubectl get pods >> /tmp/x", "redirection to a file (>> /tmp/x)"},
		{"kubectl get pods &> /tmp/x", "redirection to a file (&> /tmp/x)"},
		{"kubectl get pods >| /tmp/x", "redirection to a file (>| /tmp/x)"},
		{"kubectl get pods 2> /tmp/err", "redirection to a file (2> /tmp/err)"},
		{"kubectl get pods >& /tmp/x", "redirection to a file (>& /tmp/x)"},
		{"kubectl get pods | grep x < /etc/shadow", "redirection from a file (< /etc/shadow)"},
		{"kubectl get pods | tee /tmp/x", "1:20: tee writes to files"},
		{"kubectl get pods; id", "1:19: id is not a known read-only command"},
		{"kubectl get pods || id", "1:21: id is not"},
		{"kubectl get pods && id", "1:21: id is not"},
		{"kubectl get pods & id", "id is not"},
		{"kubectl get pods $(id)", "1:18: command substitution $(id) runs a command"},
		{"kubectl get pods `id`", "command substitution `id`"},
		{`kubectl get pods "x$(id)"`, "1:20: command substitution $(id)"},
		{"X=$(id)", "1:3: command substitution $(id)"},
		{"kubectl get pods -l app=$(id)", "command substitution $(id)"},
		{`kubectl get pods | awk 'BEGIN{system("id")}'`, "awk runs a program"},
		{"kubectl get pods | xargs rm", "xargs runs a command"},
		{"find / -exec rm {} \\;", "find can run commands"},
		{"kubectl get pods | sed -n 'w /tmp/x'", "sed can write files and run commands"},
		{"kubectl get pods | grep x <<<$(id)", "1:27: here-string (<<< $(id))"},
		{"kubectl get pods | grep x <<< hello", "here-string (<<< hello)"},
		{"kubectl get pods | grep x <<EOF\nhello\nEOF", "here-document (<<EOF)"},
		{"env X=1 id", "env runs a program"},
		{"sh -c 'kubectl delete pod x'", "sh runs a program"},
		{"kubectl get pods | grep -f <(id)", "process substitution <(id)"},
		{"kubectl get pods | grep x >(id)", "1:27: process substitution >(id)"},
		{"kubectl get pods > >(id)", "redirection to a file (> >(id))"},
		{`kubectl logs "$POD" --since=5m`, "kubectl logs operand \"$POD\" starts with an expansion"},
		{"$X get pods", "1:1: command name $X is not a literal word"},
		{"${X} get pods", "command name ${X} is not a literal word"},
		{`"$X" get pods`, "command name \"$X\" is not a literal word"},
		{"{ id; }", "1:3: id is not"},
		{"(id)", "1:2: id is not"},
		{"kubectl get pods\nid", "2:1: id is not"},
		{"kubectl get pods | sort -o /tmp/x", "sort option -o writes to a file"},
		{"kubectl get pods | sort --output=/tmp/x", "sort option --output writes to a file"},
		{"kubectl get pods | sort --compress-program=sh", "sort option --compress-program runs a program"},
		{"kubectl get pods | sort --o=/tmp/x", "sort option --o is not on the read allowlist"},
		{"kubectl get pods | sort -ro/tmp/x", "sort option -o writes"},
		{"kubectl get pods | grep -f /etc/shadow", "grep option -f reads patterns from a file"},
		{"kubectl get pods | grep -r x /", "grep option -r reads files"},
		{"kubectl get pods | grep x /etc/passwd", "grep operand /etc/passwd names a file"},
		{"kubectl get pods | head -n1 file", "head operand file names a file"},
		{"kubectl get pods | cut -f1 /etc/passwd", "cut operand /etc/passwd names a file"},
		{"kubectl get pods | jq --rawfile a /x .", "jq option --rawfile reads a file"},
		{"kubectl get pods | jq -f prog.jq", "jq option -f reads the program"},
		{"kubectl get pods | jq . /etc/passwd", "jq operand /etc/passwd names a file"},
		{"kubectl get pods | uniq - /tmp/out", "uniq operand - names a file"},
		{"kubectl get pods | tail -f /var/log/x", "tail option -f follows files"},
		{"grep x /etc/passwd", "1:1: grep is allowed only after a |"},
		{"kubectl get pods | grep *", "unquoted pattern * may expand to file names"},
		{"kubectl get pods | grep {a,b}", "unquoted pattern {a,b}"},
		{"kubectl get pods | grep $X", "unquoted expansion $X may split"},
		{`kubectl get pods | grep "$X"`, "grep operand \"$X\" starts with an expansion"},
		{"kubectl get pods | grep <pattern>", "placeholder <pattern> could be read as a grep option; write grep -e PATTERN"},
		{"kubectl get pods | sort -k $K", "unquoted expansion $K"},
		{"kubectl exec -it x -- sh", "1:9: kubectl exec runs a command in a container"},
		{"kubectl delete pod x", "kubectl delete changes the cluster"},
		{"kubectl", "kubectl without a recognised verb"},
		{"kubectl get pods --kubeconfig=/tmp/k", "kubectl get option --kubeconfig reads credentials"},
		{"kubectl --server https://evil get pods", "option --server sends the credentials"},
		{"kubectl get -f pods.yaml", "option -f reads objects from local files"},
		{"kubectl get pods --log-file=/tmp/x", "option --log-file writes local files"},
		{"kubectl $VERB pods", "kubectl verb $VERB is not a literal word"},
		{"kubectl <verb> pods", "kubectl verb <verb> is not a literal word"},
		{"<cmd> get pods", "command name <cmd> is a parameter placeholder"},
		{"f() { rm -rf /tmp/x; }; f", "1:1: function definition f()"},
		{"kubectl() { rm -rf /tmp/x; }\nkubectl get pods", "function definition kubectl()"},
		{"alias ls='rm -rf /tmp/x'", "alias changes what later commands run"},
		{"trap 'rm -rf /tmp/x' EXIT", "trap runs code"},
		{"exec id", "exec replaces the shell"},
		{"command id", "command runs the command it names"},
		{"builtin eval id", "builtin runs the builtin"},
		{". ./x", "1:1: . runs a script"},
		{"source x", "source runs a script"},
		{"eval kubectl get pods", "eval runs its arguments as shell code"},
		{"time rm -rf /tmp/x", "1:6: rm is not"},
		{"coproc id", "coproc runs a command"},
		{"[[ $(id) ]]", "command substitution $(id)"},
		{"[[ -n x ]]", "test [[ -n x ]] is not a read command"},
		{"echo $(( $(id) ))", "1:6: arithmetic expansion $(( $(id) ))"},
		{"echo $(( x ))", "arithmetic expansion $(( x ))"},
		{"(( x ))", "arithmetic command"},
		{"let x=1", "let evaluates arithmetic"},
		{"for ((i=0;i<1;i++)); do kubectl get pods; done", "arithmetic for loop"},
		{"declare -i x=1", "declare changes shell variables"},
		{"export PATH=/tmp", "export changes shell variables"},
		{"X=1", "assignment X=1 changes shell variables"},
		{"PATH=/tmp kubectl get pods", "assignment PATH=/tmp changes the environment of kubectl"},
		{"kubectl get pods ${X:=a}", "parameter expansion ${X:=a} has side effects"},
		{"kubectl get pods ${!X}", "indirect expansion ${!X}"},
		{"kubectl get pods ${a[$i]}", "evaluates arithmetic"},
		{"kubectl get pods ${x@P}", "has side effects"},
		{"if kubectl get pods; then rm -rf /tmp/x; fi", "rm is not"},
		{"while kubectl get pods; do id; done", "id is not"},
		{"for p in a b; do kubectl delete pod $p; done", "kubectl delete"},
		{"case x in x) id;; esac", "id is not"},
		{"! id", "id is not"},
		{"kubectl get pods | bash", "bash runs a program"},
		{"kubectl get pods | python3", "python3 runs a program"},
		{"kubectl get pods 'x", "does not parse"},
		{"kubectl get pods {a,--kubeconfig=/x}", "unquoted pattern"},
		{"kubectl get pods | grep x 2>&1 >&2 {fd}>/tmp/x", "variable file descriptor"},
		{"kubectl get pods >&/tmp/x", "redirection to a file (>& /tmp/x)"},
		{"curl -s http://localhost/health", "curl talks to the network"},
		{"kubectl get pods -o jsonpath-file=/etc/shadow", "option -o jsonpath-file=/etc/shadow reads a local file"},
		{"kubectl get pods --output go-template-file=/x", "reads a local file"},
		{"kubectl get pods -ojsonpath-file=/x", "reads a local file"},
		{"kubectl get --raw /api/v1/namespaces/x/services/y:80/proxy/admin", "option --raw is not on the read allowlist"},
		{"kubectl get pods -o json | jq '$ENV'", "jq filter '$ENV' reads the environment"},
		{"kubectl get pods -o json | jq -n 'env.HOME'", "reads the environment"},
		{`kubectl get pods -o json | jq 'include "x"; .'`, "loads modules"},
	}
	if len(tests) < 25 {
		t.Fatal("too few shapes")
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			t.Parallel()
			got, why, _ := classifyScript(tt.script)
			if got != RiskWrite {
				t.Fatalf("%q = %s (%s), want write", tt.script, got, why)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("%q: reason %q does not mention %q", tt.script, why, tt.why)
			}
			if !reasonPos.MatchString(why) {
				t.Errorf("%q: reason %q does not start with line:col", tt.script, why)
			}
		})
	}
}

var reasonPos = regexp.MustCompile(`^\d+:\d+: `)

func TestShellReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script, why string
	}{
		{"kubectl get pods -n x | grep -i err | head -n 20 | wc -l", "kubectl get only reads"},
		{"kubectl top pods", "kubectl top only reads"},
		{"kubectl logs <pod-name> --previous", "kubectl logs only reads"},
		{"kubectl get pods 2>/dev/null | sort | uniq -c", "kubectl get only reads"},
		{"kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR", "kubectl logs only reads"},
		{"kubectl get pods >/dev/null 2>&1", ""},
		{"kubectl get pods 2>&1 | grep -v Running >&2", ""},
		{"kubectl get pods &>/dev/null", ""},
		{"# just a note\nkubectl get pods # trailing\n", ""},
		{"kubectl get pods -o jsonpath='{.items[*].metadata.name}'", ""},
		{"kubectl get pods -o jsonpath={.items[*].metadata.name}", ""},
		{"kubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{end}}'", ""},
		{"kubectl -n prod get pods -l app=x --context staging", ""},
		{"kubectl get pods \\\n  -n prod", ""},
		{"kubectl get pods | grep -e <pattern>", ""},
		{"kubectl get pods | grep -- <pattern>", ""},
		{"kubectl get pods -n <namespace> | grep -c Running", ""},
		{"kubectl get pods {{pod}} -o wide", ""},
		{"kubectl logs -n \"$NS\" x", ""},
		{"kubectl get pods | jq -r '.items[].metadata.name' | sort -u | head -5", ""},
		{"kubectl get pods | jq --arg n x '.items[] | select(.metadata.name == $n)'", ""},
		{"kubectl get pods | cut -d' ' -f1 | tr a-z A-Z | column -t", ""},
		{"kubectl get pods | tail -n +2 | sort -k2,2 -rn", ""},
		{"kubectl get pods | grep -A3 -B 2 x | grep -Ev 'a|b'", ""},
		{"kubectl get pods && kubectl top pods || kubectl describe pods", ""},
		{"(kubectl get pods; kubectl top pods) | wc -l", ""},
		{"{ kubectl get pods; } 2>/dev/null", ""},
		{"if kubectl get pods; then kubectl top pods; fi", ""},
		{"for ns in a b; do kubectl get pods -n \"$ns\"; done", ""},
		{"time kubectl get pods", ""},
		{"! kubectl get pods | grep -q Crash", ""},
		{"oc get pods", "oc get only reads"},
		{"kubectl get pods -o json | jq '.items[].metadata.labels.env'", ""},
		{"kubectl get pods -o=jsonpath='{.items[0].metadata.name}' --sort-by=.metadata.name", ""},
		{"kubectl logs -l app=x --all-containers --prefix --tail=100 | grep -i error | tail -n 50", ""},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			t.Parallel()
			got, why, _ := classifyScript(tt.script)
			if got != RiskRead || !strings.Contains(why, tt.why) {
				t.Errorf("%q = %s (%s), want read mentioning %q", tt.script, got, why, tt.why)
			}
		})
	}
}

// TestShellStepCommands checks the step built from a script: one command
// per statement as bash parses it, with its text and document line, and the
// step's risk the highest of them, not the first one's.
func TestShellStepCommands(t *testing.T) {
	t.Parallel()
	doc := "## Alerts\n### Disk Full\n1. **Look:**\n   ```bash\n   kubectl get pods\n   rm -rf /tmp/x\n   ```\n" +
		"2. **Split:**\n   ```bash\n   kubectl get pods; kubectl top pods\n   kubectl logs x \\\n     --previous\n   # note\n   ```\n"
	pb := parseDoc(t, "c.md", doc)
	pr := pb.Procedure("disk-full")
	look := pr.Tasks()[0].Step
	if look.Risk != RiskWrite || look.Executor != ExecShell {
		t.Errorf("risk %s executor %s, want write shell", look.Risk, look.Executor)
	}
	type cmd struct {
		Text string
		Risk Risk
		Line int
	}
	var got []cmd
	for _, c := range look.Commands {
		got = append(got, cmd{c.Text, c.Risk, c.Line})
	}
	want := []cmd{{"kubectl get pods", RiskRead, 5}, {"rm -rf /tmp/x", RiskWrite, 6}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands %+v, want %+v", got, want)
	}
	if r := look.Commands[1].Reason; r != "2:1: rm is not a known read-only command" {
		t.Errorf("reason %q", r)
	}

	split := pr.Tasks()[1].Step
	got = nil
	for _, c := range split.Commands {
		got = append(got, cmd{c.Text, c.Risk, c.Line})
	}
	want = []cmd{{"kubectl get pods;", RiskRead, 10}, {"kubectl top pods", RiskRead, 10}, {"kubectl logs x \\\n  --previous", RiskRead, 11}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands %+v, want %+v", got, want)
	}
	if split.Executor != ExecKube || split.Risk != RiskRead || split.Commands[2].Kube.Flags["previous"] != "true" {
		t.Errorf("split step %s %s %+v", split.Executor, split.Risk, split.Commands[2].Kube)
	}

	for _, text := range []string{"kubectl get pods\nrm -rf /tmp/x", "rm -rf /tmp/x\nkubectl get pods", "kubectl get pods\nkubectl get pods | sort -o /tmp/x"} {
		st, err := StepFromText("bash", text)
		if err != nil {
			t.Fatal(err)
		}
		if st.Risk != RiskWrite || len(st.Commands) != 2 {
			t.Errorf("StepFromText(%q): risk %s, %d commands", text, st.Risk, len(st.Commands))
		}
	}
}

func TestShellDoesNotParse(t *testing.T) {
	t.Parallel()
	an := analyzeShell("kubectl get pods\nkubectl get 'pods\n")
	if len(an.Stmts) != 1 {
		t.Fatalf("%d statements", len(an.Stmts))
	}
	st := an.Stmts[0]
	if st.Risk != RiskWrite || st.Reason != "2:13: does not parse: reached EOF without closing quote `'`" || st.Start != 0 || st.End != 34 {
		t.Errorf("%+v", st)
	}
	if _, why, _ := classifyScript("if true; then"); !strings.Contains(why, "does not parse") || !reasonPos.MatchString(why) {
		t.Errorf("reason %q", why)
	}
}

func TestShellCommentOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script string
		want   bool
	}{
		{"# Temporarily disable low-priority job creation", true},
		{"\n  # one\n\n# two\n", true},
		{"", true},
		{"# note\nkubectl get pods", false},
		{"kubectl get pods # note", false},
		{"echo '\n# not a comment'", false},
		{"# note\n'unterminated", false},
		{"<pod-name>", false},
	}
	for _, tt := range tests {
		if got := shellCommentOnly(tt.script); got != tt.want {
			t.Errorf("shellCommentOnly(%q) = %v", tt.script, got)
		}
	}
}

// TestShellPlaceholderPositions checks that masking placeholders keeps the
// positions bash reports those of the text as written.
func TestShellPlaceholderPositions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script, why string
	}{
		{"kubectl logs <pod-name> {{ns}} > /tmp/x", "1:32: redirection to a file (> /tmp/x)"},
		{"kubectl describe pod <failed-pod> | grep <pattern> x", "1:42: placeholder <pattern> could be read as a grep option"},
		{"kubectl get pods | grep -e {{p}} <file>", "1:34: grep operand <file> names a file"},
		{"iptables -A INPUT -s SUSPICIOUS_IP -j DROP", "1:1: iptables is not a known read-only command"},
	}
	for _, tt := range tests {
		if _, why, _ := classifyScript(tt.script); why != tt.why && !strings.HasPrefix(why, tt.why) {
			t.Errorf("%q: reason %q, want %q", tt.script, why, tt.why)
		}
	}
}

// TestShellKubeOperandTypes checks that a placeholder accepted as a
// kubectl operand, where a value starting with - would be a flag, gets the
// k8s_name type that Bind enforces.
func TestShellKubeOperandTypes(t *testing.T) {
	t.Parallel()
	st, err := StepFromText("bash", "kubectl get pods <thing> -o wide | wc -l\nkubectl get pods -l app=<app> | grep -e <text>")
	if err != nil {
		t.Fatal(err)
	}
	if st.Risk != RiskRead {
		t.Fatalf("risk %s: %+v", st.Risk, st.Commands)
	}
	types := map[string]ParamType{}
	for _, p := range st.Params {
		types[p.Name] = p.Type
	}
	want := map[string]ParamType{"thing": TypeK8sName, "app": TypeString, "text": TypeString}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("types %v, want %v", types, want)
	}
	if _, err := st.Bind(map[string]string{"thing": "--kubeconfig=/tmp/k", "app": "x", "text": "y"}); err == nil {
		t.Error("a flag-like value was bound to a kubectl operand")
	}
}

func TestInterpretedParams(t *testing.T) {
	t.Parallel()
	doc := func(script string) string {
		return "## Alerts\n### Disk Full\n1. **Note:**\n   ```bash\n   " + script + "\n   ```\n"
	}
	pb := parseDoc(t, "i.md", doc(`sh -c "echo NOTE_TEXT"`))
	var diag *Diagnostic
	for i, d := range pb.Diagnostics {
		if d.Code == CodeInterpreted {
			diag = &pb.Diagnostics[i]
		}
	}
	if diag == nil || diag.Severity != SeverityError || diag.Pos != (Pos{Line: 5, Col: 16}) {
		t.Fatalf("diagnostics %v", pb.Diagnostics)
	}
	for _, s := range []string{`"NOTE_TEXT"`, "5:16", "sh -c", `sh -c '... "$1" ...' sh VALUE`} {
		if !strings.Contains(diag.Message, s) {
			t.Errorf("message %q does not mention %s", diag.Message, s)
		}
	}
	st := pb.Procedure("disk-full").Tasks()[0].Step
	if p := st.Param("NOTE_TEXT"); p == nil || !p.Interpreted {
		t.Errorf("param %+v", p)
	}

	pb = parseDoc(t, "i.md", doc(`echo NOTE_TEXT`))
	if has(codes(pb.Diagnostics, SeverityError), CodeInterpreted) {
		t.Errorf("echo: %v", pb.Diagnostics)
	}
	if p := pb.Procedure("disk-full").Tasks()[0].Step.Param("NOTE_TEXT"); p == nil || p.Interpreted {
		t.Errorf("echo param %+v", p)
	}
}

func TestInterpretedSites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script string
		want   []string // name by interpreter
	}{
		{`sh -c "echo NOTE_TEXT"`, []string{"NOTE_TEXT by sh -c"}},
		{`bash -ec 'kubectl delete pod <pod>'`, []string{"pod by bash -c"}},
		{`bash -o pipefail -c "x | grep {{p}}"`, []string{"p by bash -c"}},
		{`sh -c 'echo "$1"' sh <note>`, nil},
		{`bash ./script.sh <note>`, nil},
		{`echo <note>`, nil},
		{`kubectl logs <pod>`, nil},
		{`ssh -p 22 admin@db1 systemctl restart <unit>`, []string{"unit by ssh"}},
		{`ssh <host> uptime`, nil},
		{`ssh -o ProxyCommand=<cmd> host`, []string{"cmd by ssh -o"}},
		{`kubectl exec -it <pod> -- sh -c "cat /tmp/<file>"`, []string{"file by kubectl exec"}},
		{`kubectl -n x exec <pod> -- cat <file>`, []string{"file by kubectl exec"}},
		{`eval "echo <x>"`, []string{"x by eval"}},
		{`psql -c "SELECT * FROM t WHERE id = <id>"`, []string{"id by psql -c"}},
		{`psql --command="DELETE FROM t WHERE id = {{id}}"`, []string{"id by psql -c"}},
		{`psql -X -v id=<id> -f q.sql`, nil},
		{`su - app -c "rm <file>"`, []string{"file by su -c"}},
		{`watch -n 5 kubectl get pod <pod>`, []string{"pod by watch"}},
		{`watch -x kubectl get pod <pod>`, nil},
		{`kubectl get pods | xargs -I{} sh -c 'echo {} <x>'`, []string{"x by sh -c"}},
		{`xargs kubectl delete pod <pod>`, nil},
		{`timeout 10 bash -c "curl {{url}}"`, []string{"url by bash -c"}},
		{`sudo -u root sh -c "iptables -A INPUT -s SUSPICIOUS_IP -j DROP"`, []string{"SUSPICIOUS_IP by sh -c"}},
		{`nice -n 5 sh -c "x <a>"`, []string{"a by sh -c"}},
		{`env FOO=1 sh -c "x <a>"`, []string{"a by sh -c"}},
		{`python3 -c "print('<a>')"`, []string{"a by python3 -c"}},
		{`perl -ne 'print if /<a>/'`, []string{"a by perl -e"}},
		{`awk '/<a>/ {print}' file`, []string{"a by awk program"}},
		{`awk -v x=<a> '{print x}'`, nil},
		{`sed -n "s/<a>/b/p"`, []string{"a by sed program"}},
		{`find . -name x -exec sh -c 'rm <a>' \;`, []string{"a by sh -c"}},
		{`trap "echo <a>" EXIT`, []string{"a by trap"}},
		{`x=$(sh -c "echo <a>")`, []string{"a by sh -c"}},
	}
	for _, tt := range tests {
		an := analyzeShell(tt.script)
		var got []string
		for _, s := range an.Interpreted {
			got = append(got, s.Name+" by "+s.By)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.script, got, tt.want)
		}
	}
}

// FuzzShellClassify checks that no script makes the classifier panic, that
// every statement lies inside the script with a positioned reason when it
// writes, and that a command substitution or a redirection to anything but
// /dev/null is never read.
func FuzzShellClassify(f *testing.F) {
	f.Add("kubectl get pods | grep -i err | head -n 20 | wc -l")
	f.Add("kubectl get pods 2>/dev/null | sort -o /tmp/x")
	f.Add("kubectl logs <pod-name> --previous > /tmp/x")
	f.Fuzz(func(t *testing.T, s string) {
		an := analyzeShell(s)
		risk := RiskRead
		for _, st := range an.Stmts {
			if st.Start < 0 || st.Start > st.End || st.End > len(s) {
				t.Fatalf("statement [%d,%d) outside the script (%d bytes)", st.Start, st.End, len(s))
			}
			if st.Risk == RiskWrite {
				risk = RiskWrite
				if !reasonPos.MatchString(st.Reason) && !strings.HasPrefix(st.Reason, "does not parse") {
					t.Errorf("reason %q has no position", st.Reason)
				}
			}
		}
		for _, in := range an.Interpreted {
			if in.Start < 0 || in.Start >= len(s) || in.Name == "" {
				t.Errorf("interpreted site %+v", in)
			}
		}
		if risk == RiskWrite {
			return
		}
		if why := mustWrite(s); why != "" {
			t.Errorf("%q classified read, but it holds %s", s, why)
		}
	})
}

// mustWrite returns what makes a script write by a check independent of
// the classifier: in bash's parse, a command substitution or an output
// redirection to a file other than /dev/null; in text without quotes,
// escapes, comments, placeholders or braces, "$(" or such a ">".
func mustWrite(s string) string {
	if f, err := parseShell(s, scanShell(s)); err == nil {
		why := ""
		syntax.Walk(f, func(n syntax.Node) bool {
			switch n := n.(type) {
			case *syntax.CmdSubst:
				why = "a command substitution"
			case *syntax.Redirect:
				switch n.Op {
				case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
					if len(n.Word.Parts) != 1 || n.Word.Lit() != "/dev/null" {
						why = "a redirection to a file"
					}
				}
			}
			return why == ""
		})
		if why != "" {
			return why
		}
	}
	if strings.ContainsAny(s, "'\"\\#<{`") {
		return ""
	}
	if strings.Contains(s, "$(") {
		return `"$("`
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '>' {
			continue
		}
		j := i + 1
		if j < len(s) && (s[j] == '>' || s[j] == '|') {
			j++
		}
		if j < len(s) && s[j] == '&' {
			continue // >&2, 2>&1
		}
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		k := j
		for k < len(s) && !strings.ContainsRune(" \t\r\n;|&()<>", rune(s[k])) {
			k++
		}
		if s[j:k] != "/dev/null" {
			return fmt.Sprintf("a redirection to %q", s[j:k])
		}
		i = k - 1
	}
	return ""
}

func TestShellFuzzCorpusPresent(t *testing.T) {
	t.Parallel()
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzShellClassify"))
	if err != nil || len(ents) < 10 {
		t.Fatalf("seed corpus: %d files, %v", len(ents), err)
	}
}
