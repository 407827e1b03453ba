package playbook

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const runbookDir = "testdata/runbooks"

// loadRunbooks parses the runbook collection under testdata as a library
// would: IDs from relative paths.
func loadRunbooks(t testing.TB) []*Playbook {
	t.Helper()
	pbs, err := LoadFiles(runbookDir)
	if err != nil {
		t.Fatal(err)
	}
	return pbs
}

func byID(t testing.TB, pbs []*Playbook, id string) *Playbook {
	t.Helper()
	for _, pb := range pbs {
		if pb.ID == id {
			return pb
		}
	}
	t.Fatalf("no document with ID %q", id)
	return nil
}

func TestGoldenRunbooks(t *testing.T) {
	t.Parallel()
	pbs := loadRunbooks(t)
	got, err := json.MarshalIndent(pbs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "runbooks.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenRunbooks -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("parsed runbooks differ from %s; run with -update and review the diff", golden)
	}
}

// TestRunbookCollection states the collection's shape by hand, so the
// golden file cannot drift unnoticed.
func TestRunbookCollection(t *testing.T) {
	t.Parallel()
	pbs := loadRunbooks(t)
	for _, pb := range pbs {
		if pb.HasErrors() {
			t.Errorf("%s has errors: %v", pb.Path, pb.Diagnostics)
		}
	}
	type want struct {
		id, shape, title string
		names            []string
		context          []string
		// tasks per section, "role:key kinds": s step, c checklist, m manual;
		// steps as executor/risk/auto.
		sections []string
	}
	wants := []want{
		{id: "index", shape: ShapeSectionPage, title: "Runbooks"},
		{id: "readme", shape: ShapeSectionPage, title: "On-call runbooks"},
		{id: "kubernetes/index", shape: ShapeSectionPage, title: "Kubernetes"},
		{id: "kubernetes/kubepodcrashlooping", shape: ShapeRunbook, title: "Kube Pod Crash Looping",
			names: []string{"KubePodCrashLooping"}, context: []string{"Meaning", "Impact"},
			sections: []string{
				"diagnosis:diagnosis kube/read/auto kube/read/auto kube/read/auto checklist",
				"mitigation:mitigation kube/write/wait shell/write/wait kube/read/wait",
			}},
		{id: "kubernetes/kubepodnotready", shape: ShapeRunbook, title: "KubePodNotReady",
			names: []string{"KubePodNotReady"}, context: []string{"Meaning", "Impact"},
			sections: []string{
				"diagnosis:diagnosis kube/read/auto kube/read/auto shell/read/auto shell/write/wait",
				"mitigation:mitigation shell/write/wait",
			}},
		{id: "kubernetes/kubeapidown", shape: ShapeRunbook, title: "KubeAPIDown",
			names: []string{"KubeAPIDown"}, context: []string{"Meaning", "Impact"},
			sections: []string{
				"diagnosis:diagnosis kube/read/auto shell/read/auto",
				"mitigation:mitigation shell/write/wait",
			}},
		{id: "openshift/kubeapidown", shape: ShapeRunbook, title: "KubeAPIDown",
			names: []string{"KubeAPIDown"}, context: []string{"Meaning", "Impact"},
			sections: []string{"diagnosis:diagnosis kube/read/auto shell/read/auto", "mitigation:mitigation checklist"}},
		{id: "node/nodefilesystemalmostoutofspace", shape: ShapeRunbook, title: "Node filesystem almost out of space",
			names: []string{"NodeFilesystemAlmostOutOfSpace"}, context: []string{"Meaning", "Impact"},
			sections: []string{
				"diagnosis:investigation shell/read/auto shell/read/auto shell/read/auto shell/write/wait",
				"mitigation:remediation shell/write/wait shell/write/wait",
			}},
		{id: "general/watchdog", shape: ShapeRunbook, title: "Watchdog",
			names: []string{"Watchdog"}, context: []string{"Meaning", "Impact", "Mitigation"}},
		{id: "database/postgrestoomanyconnections", shape: ShapeRunbook, title: "PostgresTooManyConnections",
			names: []string{"PostgresTooManyConnections"}, context: []string{"Meaning"},
			sections: []string{
				"diagnosis:diagnosis sql/read/auto sql/read/auto",
				"mitigation:resolution sql/write/wait",
			}},
		{id: "etcd/etcdnoleader", shape: ShapeRunbook, title: "etcd has no leader",
			names: []string{"etcdNoLeader", "etcd has no leader"}, context: []string{"Meaning"},
			sections: []string{
				"diagnosis:triage shell/read/auto",
				"mitigation:recovery shell/write/wait",
			}},
	}
	if len(pbs) != len(wants) {
		t.Fatalf("%d documents, want %d", len(pbs), len(wants))
	}
	for _, w := range wants {
		pb := byID(t, pbs, w.id)
		if pb.Shape != w.shape || pb.Title != w.title {
			t.Errorf("%s: shape %q title %q, want %q %q", w.id, pb.Shape, pb.Title, w.shape, w.title)
		}
		if w.shape == ShapeSectionPage {
			if len(pb.Procedures) != 0 || pb.NoProcedures == "" {
				t.Errorf("%s: a section page with %d procedures, reason %q", w.id, len(pb.Procedures), pb.NoProcedures)
			}
			continue
		}
		if len(pb.Procedures) != 1 {
			t.Fatalf("%s: %d procedures", w.id, len(pb.Procedures))
		}
		pr := pb.Procedures[0]
		if strings.Join(pr.Names, "|") != strings.Join(w.names, "|") {
			t.Errorf("%s: names %q, want %q", w.id, pr.Names, w.names)
		}
		var ctx []string
		for _, c := range pr.Context {
			ctx = append(ctx, c.Title)
			if c.Text == "" {
				t.Errorf("%s: context %q has no text", w.id, c.Title)
			}
		}
		if strings.Join(ctx, ",") != strings.Join(w.context, ",") {
			t.Errorf("%s: context %v, want %v", w.id, ctx, w.context)
		}
		var secs []string
		for _, s := range pr.Sections {
			d := string(s.Role) + ":" + s.Key
			for _, tk := range s.Tasks {
				switch tk.Kind {
				case KindStep:
					run := "wait"
					if tk.Step.Auto {
						run = "auto"
					}
					d += " " + string(tk.Step.Executor) + "/" + string(tk.Step.Risk) + "/" + run
				default:
					d += " " + string(tk.Kind)
				}
			}
			secs = append(secs, d)
		}
		if strings.Join(secs, "\n") != strings.Join(w.sections, "\n") {
			t.Errorf("%s sections:\n%s\nwant:\n%s", w.id, strings.Join(secs, "\n"), strings.Join(w.sections, "\n"))
		}
	}
}

// The crash-looping runbook, step by step: what its spans and console
// session become, and how each placeholder is filled.
func TestRunbookSteps(t *testing.T) {
	t.Parallel()
	pr := byID(t, loadRunbooks(t), "kubernetes/kubepodcrashlooping").Procedures[0]
	events := pr.Task("diagnosis/1")
	if events.Name != "Check pod events" || events.Step.Script != "kubectl -n {{namespace}} describe pod {{pod}}" {
		t.Errorf("events step %q: %q", events.Name, events.Step.Script)
	}
	if k := events.Step.Commands[0].Kube; k == nil || k.Namespace != "{{namespace}}" || k.Name != "{{pod}}" || k.Verb != "describe" {
		t.Errorf("events kube %+v", k)
	}
	logs := pr.Task("diagnosis/2").Step
	// The console session's output lines are gone; its prompt too.
	if logs.Script != "kubectl logs -n {{namespace}} {{pod}} --previous --tail=50" || logs.Language != "console" || len(logs.Commands) != 1 {
		t.Errorf("logs step %q (%s)", logs.Script, logs.Language)
	}
	if logs.Line != 26 || logs.Commands[0].Line != 27 {
		t.Errorf("logs lines %d/%d, want the fence's 26 and the command's 27", logs.Line, logs.Commands[0].Line)
	}
	list := pr.Task("diagnosis/3").Step
	if list.Script != "kubectl get pods -n {{namespace}}" {
		t.Errorf("${NAMESPACE} step %q", list.Script)
	}
	for _, st := range []*Step{events.Step, logs, list} {
		for _, p := range st.Params {
			if p.Type != TypeK8sName || p.Sources[0].Kind != SourceLabel {
				t.Errorf("param %+v", p)
			}
		}
	}
	ns := events.Step.Param("namespace")
	if ns == nil || strings.Join(ns.Sources[0].Names, ",") != "namespace,exported_namespace" {
		t.Errorf("namespace sources %+v", ns)
	}
	restart := pr.Task("mitigation/1").Step
	if restart.Risk != RiskWrite || restart.Auto || restart.Executor != ExecKube || restart.Param("deployment") == nil {
		t.Errorf("restart %+v", restart)
	}
	if got := strings.Join(restart.Param("deployment").Sources[0].Names, ","); got != "deployment,service" {
		t.Errorf("deployment falls back to service: %s", got)
	}
	if w := restart.Commands[0]; w.ReasonPos != (Pos{Line: 38, Col: 56}) {
		t.Errorf("write reason at %v, want 38:56 (the rollout in the span)", w.ReasonPos)
	}
	verify := pr.Task("mitigation/3").Step
	if verify.Risk != RiskRead || verify.Auto {
		t.Errorf("a mitigation's read runs only when a responder runs it: %+v", verify)
	}
	// A bound run: values become environment variables or API fields.
	r, err := events.Step.Bind(map[string]string{"namespace": "shop", "pod": "api-1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Script != `kubectl -n "$FB_PARAM_NAMESPACE" describe pod "$FB_PARAM_POD"` || r.Env["FB_PARAM_POD"] != "api-1" ||
		len(r.Kube) != 1 || r.Kube[0].Namespace != "shop" || r.Kube[0].Name != "api-1" {
		t.Errorf("bound %+v", r)
	}
}

// Each placeholder style becomes one {{name}} parameter, filled from the
// alert's labels through the table, case-insensitively.
func TestRunbookPlaceholderStyles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		span, script string
		param        string
		labels       []string // label sources, in order
	}{
		{"`kubectl get pods -n $NAMESPACE`", "kubectl get pods -n {{namespace}}", "namespace", []string{"namespace", "exported_namespace"}},
		{"`kubectl describe pod ${POD} -n x`", "kubectl describe pod {{pod}} -n x", "pod", []string{"pod", "exported_pod"}},
		{"`kubectl logs $POD_NAME -n x`", "kubectl logs {{pod_name}} -n x", "pod_name", []string{"pod-name", "pod_name", "pod", "exported_pod"}},
		{"`kubectl get pods -n <namespace>`", "kubectl get pods -n {{namespace}}", "namespace", []string{"namespace", "exported_namespace"}},
		{"`kubectl logs <pod-name> -n x`", "kubectl logs {{pod_name}} -n x", "pod_name", []string{"pod-name", "pod_name", "pod", "exported_pod"}},
		{"`kubectl describe pod {{ $labels.pod }} -n x`", "kubectl describe pod {{pod}} -n x", "pod", []string{"pod", "exported_pod"}},
		{"`kubectl describe pod {{ .Labels.pod }} -n x`", "kubectl describe pod {{pod}} -n x", "pod", []string{"pod", "exported_pod"}},
		{"`oc get pods -n ${NS}`", "oc get pods -n {{ns}}", "ns", []string{"ns", "namespace", "exported_namespace"}},
		{"`kubectl get pods -n $PROJECT`", "kubectl get pods -n {{project}}", "project", []string{"project", "namespace", "exported_namespace"}},
		{"`kubectl get nodes ${NODE}`", "kubectl get nodes {{node}}", "node", []string{"node", "instance"}},
	}
	for _, tt := range tests {
		t.Run(tt.span, func(t *testing.T) {
			t.Parallel()
			doc := "# SomeAlert\n\n## Diagnosis\n\n- Look: " + tt.span + "\n"
			pb := parseDoc(t, "SomeAlert.md", doc)
			st := pb.Procedures[0].Task("diagnosis/1").Step
			if st == nil || st.Script != tt.script {
				t.Fatalf("step %+v, want script %q", st, tt.script)
			}
			p := st.Param(tt.param)
			if p == nil || len(st.Params) != 1 {
				t.Fatalf("params %+v, want one %q", st.Params, tt.param)
			}
			if got := strings.Join(p.Sources[0].Names, ","); got != strings.Join(tt.labels, ",") {
				t.Errorf("label sources %s, want %s", got, strings.Join(tt.labels, ","))
			}
			// Label names match case-insensitively.
			v, _, ok := p.FromAlert(map[string]string{strings.ToUpper(tt.labels[0]): "value-1"}, nil)
			if !ok || v != "value-1" {
				t.Errorf("from an upper-case label: %q %v", v, ok)
			}
		})
	}
}

// What is not a placeholder stays the script's own: a variable it sets,
// one the shell provides, one in single quotes, a lower-case one.
func TestRunbookVariablesThatStay(t *testing.T) {
	t.Parallel()
	tests := []struct{ block, script string }{
		{"$ POD=x; kubectl logs $POD", "POD=x; kubectl logs $POD"},
		{"$ kubectl --context prod get pods -o name | grep -e '$HOME'", "kubectl --context prod get pods -o name | grep -e '$HOME'"},
		{"$ echo $HOME $KUBECONFIG", "echo $HOME $KUBECONFIG"},
		{"$ for P in a b; do echo $P; done", "for P in a b; do echo $P; done"},
		{"$ kubectl get pods | awk '{print $NF}'", "kubectl get pods | awk '{print $NF}'"},
		{"$ echo $pod", "echo $pod"},
	}
	for _, tt := range tests {
		doc := "# SomeAlert\n\n## Diagnosis\n\n```console\n" + tt.block + "\n```\n"
		st := parseDoc(t, "SomeAlert.md", doc).Procedures[0].Task("diagnosis/1").Step
		if st == nil || st.Script != tt.script || len(st.Params) != 0 {
			t.Errorf("%q: step %+v, want script %q and no parameters", tt.block, st, tt.script)
		}
	}
}

func TestConsoleSessions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, lang, body string
		script           string // joined commands; "" for a script block
	}{
		{"dollar prompt and output", "console", "$ kubectl get pods -n x\nNAME   READY\napi-1  1/1\n", "kubectl get pods -n x"},
		{"root prompt before a known CLI", "console", "# systemctl status kubelet\n● kubelet.service\n# this line is a comment\n", "systemctl status kubelet"},
		{"PS2 prompt", "console", "> kubectl get pods -n x\n", "kubectl get pods -n x"},
		{"user and host", "shell-session", "ana@bastion:~$ kubectl get pods -n x\nNo resources found.\n[root@node-1 ~]# journalctl -u kubelet -n 5\n", "kubectl get pods -n x\njournalctl -u kubelet -n 5"},
		{"continuation", "console", "$ kubectl get pods \\\n>   -n x\nNAME\n", "kubectl get pods \\\n  -n x"},
		{"open quote", "console", "$ kubectl get pods -l 'app in (a,\nb)' -n x\nout\n", "kubectl get pods -l 'app in (a,\nb)' -n x"},
		{"two commands", "console", "$ kubectl get pods -n x\nout\n$ kubectl top pods -n x\nout\n", "kubectl get pods -n x\nkubectl top pods -n x"},
		{"bash block written as a session", "bash", "$ kubectl get pods -n x\nout\n", "kubectl get pods -n x"},
		{"console without prompts is a script", "console", "kubectl get pods -n x\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := "## Alerts\n### Disk Full\n1. **Look:**\n   ```" + tt.lang + "\n"
			for _, l := range strings.Split(strings.TrimSuffix(tt.body, "\n"), "\n") {
				doc += "   " + l + "\n"
			}
			doc += "   ```\n"
			pb := parseDoc(t, "c.md", doc)
			st := pb.Procedures[0].Task("steps/1").Step
			if st == nil {
				t.Fatalf("no step: %+v", pb.Procedures[0].Sections)
			}
			want := tt.script
			if want == "" {
				want = strings.TrimSuffix(tt.body, "\n")
			}
			if st.Script != want {
				t.Errorf("script %q, want %q", st.Script, want)
			}
			if st.Risk != RiskRead {
				t.Errorf("risk %s: %v", st.Risk, st.Commands)
			}
		})
	}
	// An edit is the text that runs: a "$ " in it is no prompt.
	st, err := StepFromText("console", "kubectl get pods -n x\n$ kubectl delete pod y")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Script, "kubectl get pods") || st.Risk != RiskWrite {
		t.Errorf("edited console text %q classified %s", st.Script, st.Risk)
	}
}

func TestInlineSpans(t *testing.T) {
	t.Parallel()
	doc := `# SomeAlert

## Meaning

The metric ` + "`kube_pod_status_ready`" + ` is 0; ` + "`kubectl get pods`" + ` here is context, not a step.

## Diagnosis

- See *the events* with ` + "`$ kubectl get events -n x`" + `.
- The word ` + "`kubectl`" + ` alone, and ` + "`grep -r x /`" + `, are no commands.
- **Named step:** ` + "`kubectl get pods -n x`" + ` then ` + "`kubectl top pods -n x`" + `
- Run a script:

  ` + "```sh\n  kubectl get pods -n y\n  ```" + `

` + "`oc get pods -n x`" + `
`
	pb := parseDoc(t, "SomeAlert.md", doc)
	pr := pb.Procedures[0]
	var got []string
	for _, tk := range pr.Tasks() {
		s := tk.Key + " " + string(tk.Kind) + " " + tk.Name
		if tk.Step != nil {
			s += " | " + strings.ReplaceAll(tk.Step.Script, "\n", "; ")
		}
		got = append(got, s)
	}
	want := []string{
		"diagnosis/1 step See the events | kubectl get events -n x",
		"diagnosis/2 checklist The word kubectl alone, and grep -r x /, are no commands.",
		"diagnosis/3 step Named step | kubectl get pods -n x; kubectl top pods -n x",
		"diagnosis/4 step Run a script | kubectl get pods -n y",
		"diagnosis/5 step oc get pods -n x | oc get pods -n x",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tasks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(pr.Context) != 1 || !strings.Contains(pr.Context[0].Text, "kube_pod_status_ready") {
		t.Errorf("context %+v", pr.Context)
	}
	// A playbook's inline code is prose, as before.
	classic := parseDoc(t, "p.md", "## Alerts\n### Disk Full\n- Check `kubectl get pods`\n")
	if tk := classic.Procedures[0].Task("steps/1"); tk.Kind != KindChecklist {
		t.Errorf("playbook inline code became %s", tk.Kind)
	}
}

func TestRunbookShapeDetection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, doc string
		shape           string
		procs           int
	}{
		{"runbook", "KubeJobFailed.md", "# KubeJobFailed\n## Meaning\nx\n## Diagnosis\n- `kubectl get jobs -n x`\n", ShapeRunbook, 1},
		{"file name names the alert", "kube-job-failed.md", "# Kube Job Failed\n## Mitigation\n- c\n", ShapeRunbook, 1},
		{"front matter title", "x.md", "---\ntitle: KubeJobFailed\nweight: 1\n---\n## Diagnosis\n- c\n", ShapeRunbook, 1},
		{"no sections, title names the alert", "KubeJobFailed.md", "# KubeJobFailed\n\nJust prose and `kubectl get jobs`.\n", ShapeRunbook, 1},
		{"runbook sections under a wrapper", "KubeJobFailed.md", "# KubeJobFailed\n## Runbook\n### Meaning\nx\n### Diagnosis\n- c\n", ShapeRunbook, 1},
		{"procedures under a runbook-like H1", "KubeJobFailed.md", "# KubeJobFailed\n## Alert Response Procedures\n### Disk Full\n**Assessment:**\n- c\n", "", 1},
		{"severity heading", "KubeJobFailed.md", "# KubeJobFailed\n## Diagnosis\n- c\n### CRITICAL: Disk Full\n- c\n", "", 1},
		{"prose title", "notes.md", "# Notes from the last outage\n## Diagnosis\n- c\n", "", 0},
		{"readme", "README.md", "# KubeJobFailed\n## Diagnosis\n- c\n", ShapeSectionPage, 0},
		{"readme with procedures is a playbook", "README.md", "# Ops\n## Alert Response Procedures\n### Disk Full\n- c\n", "", 1},
		{"hugo section page", "_index.md", "---\ntitle: KubeJobFailed\n---\n## Diagnosis\n- c\n", ShapeSectionPage, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pb, _ := Parse(tt.path, []byte(tt.doc))
			if pb.Shape != tt.shape || len(pb.Procedures) != tt.procs {
				t.Errorf("shape %q with %d procedures, want %q with %d; %v", pb.Shape, len(pb.Procedures), tt.shape, tt.procs, pb.Diagnostics)
			}
		})
	}
	// The reference stays a playbook.
	if pb := parseReference(t); pb.Shape != "" || len(pb.Procedures) != 7 {
		t.Errorf("reference shape %q", pb.Shape)
	}
}

func TestRunbookFrontMatter(t *testing.T) {
	t.Parallel()
	doc := "---\ntitle: Disk filling up\nweight: 20\nbookHidden: true\nlayout: runbook\ntargets: {kube: prod-eu}\n---\n# KubePersistentVolumeFillingUp\n## Diagnosis\n- `kubectl get pods -n x`\n"
	pb := parseDoc(t, "KubePersistentVolumeFillingUp.md", doc)
	pr := pb.Procedures[0]
	if pr.Title != "Disk filling up" || pb.Title != "Disk filling up" || strings.Join(pr.Names, ",") != "KubePersistentVolumeFillingUp,Disk filling up" {
		t.Errorf("title %q names %v", pr.Title, pr.Names)
	}
	if st := pr.Task("diagnosis/1").Step; st.Target != "prod-eu" {
		t.Errorf("Firebreak's own key ignored: target %q", st.Target)
	}
	infos := codes(pb.Diagnostics, SeverityInfo)
	if n := strings.Count(strings.Join(infos, ","), CodeForeignKey); n != 3 {
		t.Errorf("%d foreign-key infos, want 3 (weight, bookHidden, layout): %v", n, pb.Diagnostics)
	}
	// Firebreak's keys are still checked.
	bad, err := Parse("KubeX.md", []byte("---\ntitle: x\ntargets: {mysql: db}\n---\n# KubeX\n## Diagnosis\n- c\n"))
	if err == nil || !has(codes(bad.Diagnostics, SeverityError), CodeFrontMatter) {
		t.Errorf("bad target accepted: %v", bad.Diagnostics)
	}
	// TOML front matter: the title is read, the rest noted.
	toml := parseDoc(t, "etcdX.md", "+++\ntitle = \"etcd X\"\nweight = 2\nservice = \"etcd\"\n+++\n# etcdX\n## Triage\n- c\n")
	if toml.Procedures[0].Title != "etcd X" || !has(codes(toml.Diagnostics, SeverityWarning), CodeFrontMatter) {
		t.Errorf("toml: %q %v", toml.Procedures[0].Title, toml.Diagnostics)
	}
}

func TestSectionTable(t *testing.T) {
	t.Parallel()
	def := DefaultSectionTable()
	for title, want := range map[string]SectionRole{
		"Meaning": RoleContext, "## Impact": RoleContext, "Diagnosis": RoleDiagnosis, "Diagnosis steps": RoleDiagnosis,
		"Investigation": RoleDiagnosis, "Triage:": RoleDiagnosis, "Assessment": RoleDiagnosis, "Mitigation": RoleMitigation,
		"Possible mitigations": RoleMitigation, "Remediation": RoleMitigation, "Resolution": RoleMitigation, "Recovery": RoleMitigation,
	} {
		if got, ok := def.Role(strings.TrimPrefix(title, "## ")); !ok || got != want {
			t.Errorf("%q = %q %v, want %q", title, got, ok, want)
		}
	}
	if _, ok := def.Role("References"); ok {
		t.Error("References has a role")
	}
	custom, err := NewSectionTable(map[string][]string{"diagnosis": {"Checks"}, "context": {"Assessment"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := custom.Role("Checks"); r != RoleDiagnosis {
		t.Errorf("Checks = %q", r)
	}
	if r, _ := custom.Role("Assessment"); r != RoleContext {
		t.Errorf("config does not override: Assessment = %q", r)
	}
	for _, bad := range []map[string][]string{{"steps": {"x"}}, {"diagnosis": {" "}}, {"diagnosis": {"A"}, "mitigation": {"a"}}} {
		if _, err := NewSectionTable(bad); err == nil || !strings.Contains(err.Error(), "playbook_sections") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
	// The configured table steers parsing: "Checks" holds auto-run reads.
	pb, _ := ParseWith("KubeX.md", []byte("# KubeX\n## Checks\n- `kubectl get pods -n x`\n## Notes\n- `kubectl get pods -n y`\n"), Options{Sections: custom})
	secs := pb.Procedures[0].Sections
	if len(secs) != 2 || secs[0].Role != RoleDiagnosis || !secs[0].Tasks[0].Step.Auto || secs[1].Role != RoleOther || secs[1].Tasks[0].Step.Auto {
		t.Errorf("sections %+v", secs)
	}
	if !has(codes(pb.Diagnostics, SeverityInfo), CodeSectionRole) {
		t.Errorf("no info for the unknown section: %v", pb.Diagnostics)
	}
}

func TestPsqlBecomesSQLStep(t *testing.T) {
	t.Parallel()
	pr := byID(t, loadRunbooks(t), "database/postgrestoomanyconnections").Procedures[0]
	count := pr.Task("diagnosis/1").Step
	if count.Executor != ExecSQL || count.Risk != RiskRead || count.Target != "orders" || !strings.HasPrefix(count.SQL, "SELECT application_name") {
		t.Errorf("count %+v", count)
	}
	if strings.Join(count.Columns, ",") != "application_name,sessions" {
		t.Errorf("columns %v", count.Columns)
	}
	user := pr.Task("diagnosis/2").Step
	r, err := user.Bind(map[string]string{"db_user": "x'; DROP TABLE t; --"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Statements) != 1 || strings.Contains(r.Statements[0].SQL, "DROP") || r.Statements[0].Args[0] != "x'; DROP TABLE t; --" {
		t.Errorf("bound %+v", r.Statements)
	}
	kill := pr.Task("resolution/1").Step
	if kill.Risk != RiskWrite || kill.Executor != ExecSQL {
		t.Errorf("terminate %+v", kill)
	}
	// Other psql forms stay shell commands, which write.
	for _, span := range []string{"`psql -d orders -f fix.sql`", "`psql -d orders`", "`psql -c 'SELECT 1' | tee x`", "`psql -d $DB -c 'SELECT 1'`"} {
		pb := parseDoc(t, "KubeX.md", "# KubeX\n## Diagnosis\n- "+span+"\n")
		st := pb.Procedures[0].Task("diagnosis/1").Step
		if st == nil || st.Executor != ExecShell || st.Risk != RiskWrite {
			t.Errorf("%s: %+v", span, st)
		}
	}
}

func TestRunbookToolsClassified(t *testing.T) {
	t.Parallel()
	reads := []string{
		`curl -s "https://kubernetes.default.svc/readyz?verbose"`,
		`curl -sSf -H 'Accept: application/json' --max-time 5 https://prometheus.example.com/api/v1/alerts`,
		`curl -X GET https://status.example.com/`,
		`promtool query instant http://prometheus:9090 'up == 0'`,
		`promtool query range --start=2024-01-01T00:00:00Z --step=1m http://prometheus:9090 'rate(x[5m])'`,
		`etcdctl endpoint status --cluster -w table`,
		`etcdctl --endpoints=https://10.0.0.1:2379 --cacert=/etc/etcd/ca.crt member list`,
		`systemctl status kubelet --no-pager`,
		`systemctl --no-pager is-active containerd`,
		`journalctl -u kubelet --since "1 hour ago" --no-pager -n 200`,
		`journalctl _SYSTEMD_UNIT=kubelet.service -p err`,
		`oc get clusteroperators`,
		`oc get pods -n x | grep -e Crash`,
	}
	for _, s := range reads {
		if risk, why, _ := classifyScript(s); risk != RiskRead {
			t.Errorf("%q = %s (%s), want read", s, risk, why)
		}
	}
	writes := []struct{ script, why string }{
		{`curl -X POST https://x.example/api`, "is not a GET or HEAD request"},
		{`curl -d a=1 https://x.example/api`, "sends data"},
		{`curl -o /tmp/x https://x.example/`, "writes a file"},
		{`curl -k https://x.example/`, "turns off the TLS checks"},
		{`curl file:///etc/shadow`, "is not an http:// or https:// URL"},
		{`curl http://169.254.169.254/latest/meta-data/`, "is on this machine"},
		{`curl http://localhost:15000/quitquitquit`, "is on this machine"},
		{`curl "http://{{host}}/metrics"`, "takes its host from a parameter"},
		{`curl -H @/etc/secret https://x.example/`, "reads a file"},
		{`curl --unix-socket /var/run/docker.sock http://x/containers/json`, "local socket"},
		{`promtool tsdb create-blocks-from openmetrics x y`, "not a read-only subcommand"},
		{`promtool query instant file:///x 'up'`, "promtool server"},
		{`promtool --http.config.file=/x query instant http://p:9090 up`, "reads credentials"},
		{`etcdctl del /registry/pods/x`, "not a read-only subcommand"},
		{`etcdctl endpoint status --user root:pw`, "changes the credentials"},
		{`etcdctl member list extra`, "is not an argument"},
		{`systemctl restart kubelet`, "not a read-only subcommand"},
		{`systemctl -H node-1 status kubelet`, "runs the command on another host"},
		{`systemctl`, "without a read-only subcommand"},
		{`journalctl --vacuum-size=500M`, "deletes journal files"},
		{`journalctl -f -u kubelet`, "follows the journal"},
		{`journalctl /usr/bin/kubelet`, "names a file"},
		{`oc adm drain node-1`, "oc adm changes the cluster"},
		{`oc delete pod x -n y`, "oc delete changes the cluster"},
	}
	for _, w := range writes {
		risk, why, _ := classifyScript(w.script)
		if risk != RiskWrite || !strings.Contains(why, w.why) {
			t.Errorf("%q = %s (%s), want write because %q", w.script, risk, why, w.why)
		}
	}
	// oc runs natively for the kubectl forms the kube executor knows.
	if _, _, k := classifyScript("oc logs -n x api-1 --tail=20"); k == nil || k.Verb != "logs" || k.Namespace != "x" {
		t.Errorf("oc logs not native: %+v", k)
	}
	if _, _, k := classifyScript("oc get clusteroperators"); k != nil {
		t.Errorf("oc get clusteroperators native: %+v", k)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	pbs := loadRunbooks(t)
	s := Summarize(pbs, Lint(pbs))
	if s.Files != 11 || s.Procedures != 8 || s.Runbooks != 8 || s.SectionPages != 3 || s.Errors != 0 {
		t.Errorf("summary %+v", s)
	}
	total := 0
	for _, n := range s.Steps {
		total += n
	}
	if total != 27 || s.Steps["kube read"] != 8 || s.Steps["sql write"] != 1 {
		t.Errorf("steps %v", s.Steps)
	}
	if len(s.Unresolved) != 1 || s.Unresolved[0].Name != "db_user" {
		t.Errorf("unresolved %+v", s.Unresolved)
	}
	if len(s.Empty) != 3 {
		t.Errorf("empty %+v", s.Empty)
	}
	for _, e := range s.Empty {
		if !strings.Contains(e.Reason, "section page") {
			t.Errorf("%s: reason %q", e.Path, e.Reason)
		}
	}
	// A broken file yields nothing, and says so.
	broken, _ := Parse("KubeX.md", []byte("# KubeX\n<!-- firebreak: colour=red -->\n## Diagnosis\n- c\n"))
	s = Summarize([]*Playbook{broken}, Lint([]*Playbook{broken}))
	if len(s.Empty) != 1 || !strings.Contains(s.Empty[0].Reason, "not loaded: 1 error") || s.Errors != 1 {
		t.Errorf("broken: %+v", s)
	}
}

// docs/playbooks.md shows the placeholder table as it is.
func TestPlaceholderTableDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "playbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	quote := func(ws []string) string {
		var q []string
		for _, w := range ws {
			q = append(q, "`"+w+"`")
		}
		return strings.Join(q, ", ")
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(line, "|") == 3 && !strings.Contains(line, "{{") && !strings.Contains(line, "$") {
			rows++
		}
	}
	for _, r := range PlaceholderLabels {
		if row := "| " + quote(r.Names) + " | " + quote(r.Labels) + " |"; !strings.Contains(string(doc), row+"\n") {
			t.Errorf("docs/playbooks.md lacks the row %s", row)
		}
	}
	if rows < len(PlaceholderLabels) {
		t.Errorf("docs/playbooks.md has %d table rows, want at least the %d of PlaceholderLabels", rows, len(PlaceholderLabels))
	}
}
