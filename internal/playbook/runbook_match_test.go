package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runbookLibrary(t *testing.T, opt LibraryOptions, paths ...string) *Library {
	t.Helper()
	lib, err := NewLibraryWith(nil, opt, paths...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return lib
}

func TestRunbookMatching(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(runbookDir)
	if err != nil {
		t.Fatal(err)
	}
	lib := runbookLibrary(t, LibraryOptions{URLs: map[string]string{
		"https://runbooks.example.com/": runbookDir,
		"https://wiki.example.com/ops/": filepath.Join(root, "node"),
	}}, runbookDir)
	if ds := lib.Lint(); has(codes(ds, SeverityError), CodeDuplicateID) || has(codes(ds, SeverityError), CodeAmbiguous) {
		t.Fatalf("collection does not load cleanly: %v", ds)
	}
	upstream := "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/"
	tests := []struct {
		name        string
		labels      map[string]string
		url         string
		want, by    string
		others, why string
	}{
		{"by name", map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop"}, "", "kubernetes/kubepodcrashlooping", "name", "", ""},
		{"name in another case and spacing", map[string]string{"alertname": "kube_pod_crash_looping"}, "", "kubernetes/kubepodcrashlooping", "name", "", ""},
		{"by front-matter title", map[string]string{"alertname": "EtcdHasNoLeader"}, "", "etcd/etcdnoleader", "name", "", ""},
		{"file name", map[string]string{"alertname": "watchdog"}, "", "general/watchdog", "name", "", ""},
		{"runbook_url last segments", map[string]string{"alertname": "SomethingElse"}, upstream + "kubepodcrashlooping", "kubernetes/kubepodcrashlooping", "runbook_url", "", ""},
		{"runbook_url wins over the name", map[string]string{"alertname": "KubePodNotReady"}, upstream + "kubepodcrashlooping", "kubernetes/kubepodcrashlooping", "runbook_url", "kubernetes/kubepodnotready/kubepodnotready", "runbook_url links"},
		{"runbook_url through a configured prefix", map[string]string{"alertname": "X"}, "https://runbooks.example.com/node/NodeFilesystemAlmostOutOfSpace", "node/nodefilesystemalmostoutofspace", "runbook_url", "", ""},
		{"prefix onto a deeper folder", map[string]string{"alertname": "X"}, "https://wiki.example.com/ops/nodefilesystemalmostoutofspace.html#diagnosis", "node/nodefilesystemalmostoutofspace", "runbook_url", "", ""},
		{"runbook_url to nothing falls back to the name", map[string]string{"alertname": "Watchdog"}, upstream + "nothinghere", "general/watchdog", "name", "", ""},
		{"a section page is no target", map[string]string{"alertname": "Watchdog"}, "https://runbooks.example.com/kubernetes/_index", "general/watchdog", "name", "", ""},
		{"not a URL", map[string]string{"alertname": "Watchdog"}, "file:///etc/passwd", "general/watchdog", "name", "", ""},
		{"same name, one narrower", map[string]string{"alertname": "KubeAPIDown", "cluster": "ocp-1"}, "", "openshift/kubeapidown", "name", "kubernetes/kubeapidown/kubeapidown", "more labels"},
		{"same name, the narrower does not hold", map[string]string{"alertname": "KubeAPIDown", "cluster": "gke-1"}, "", "kubernetes/kubeapidown", "name", "", ""},
		{"same name, the URL picks", map[string]string{"alertname": "KubeAPIDown", "cluster": "ocp-1"}, upstream + "kubeapidown", "kubernetes/kubeapidown", "runbook_url", "openshift/kubeapidown/kubeapidown", "runbook_url links"},
		{"URL shorter than a relative path", map[string]string{"alertname": "KubePodCrashLooping"}, "https://x.example/kubeapidown", "kubernetes/kubepodcrashlooping", "name", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ann map[string]string
			if tt.url != "" {
				ann = map[string]string{"runbook_url": tt.url}
			}
			m, ok := lib.MatchAlert(tt.labels, ann)
			if !ok {
				t.Fatalf("no match")
			}
			if m.Playbook.ID != tt.want || m.By != tt.by {
				t.Fatalf("matched %s by %s (%s), want %s by %s", m.Playbook.ID, m.By, m.Reason, tt.want, tt.by)
			}
			if strings.Join(m.Others, ",") != tt.others || !strings.Contains(m.Why, tt.why) || (tt.why == "") != (m.Why == "") {
				t.Errorf("others %v why %q, want %q and %q", m.Others, m.Why, tt.others, tt.why)
			}
		})
	}
	// The shared name is a warning that says which one an alert gets.
	found := false
	for _, d := range lib.Lint() {
		found = found || d.Code == CodeSharedAlert && d.Severity == SeverityWarning && strings.HasSuffix(d.File, filepath.Join("kubernetes", "KubeAPIDown.md")) && strings.Contains(d.Message, "openshift/kubeapidown")
	}
	if !found {
		t.Errorf("no shared-alert warning: %v", lib.Lint())
	}
}

// Of two runbooks for one alert that nothing else tells apart, the one in
// the first configured folder wins, then the first ID; the Match says so.
func TestRunbookTieRule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := "# NodeDown\n## Diagnosis\n- `kubectl get nodes`\n"
	write("team-b/NodeDown.md", doc)
	write("team-a/x/NodeDown.md", doc)
	write("team-a/y/NodeDown.md", doc)
	labels := map[string]string{"alertname": "NodeDown"}

	byPath := runbookLibrary(t, LibraryOptions{}, filepath.Join(dir, "team-b"), filepath.Join(dir, "team-a"))
	m, _ := byPath.MatchAlert(labels, nil)
	if m.Playbook.ID != "nodedown" || len(m.Others) != 2 || !strings.Contains(m.Why, "comes earlier in the configured playbooks") {
		t.Errorf("config priority: %s, others %v, why %q", m.Playbook.ID, m.Others, m.Why)
	}
	byID := runbookLibrary(t, LibraryOptions{}, filepath.Join(dir, "team-a"))
	for i := 0; i < 20; i++ { // never depends on map order
		m, _ = byID.MatchAlert(labels, nil)
		if m.Playbook.ID != "x/nodedown" || !strings.Contains(m.Why, "first playbook ID") {
			t.Fatalf("ID order: %s, why %q", m.Playbook.ID, m.Why)
		}
	}
	// The last path segments must all match: y/nodedown, not x/.
	m, _ = byID.MatchAlert(labels, map[string]string{"runbook_url": "https://runbooks.example.com/y/NodeDown.md"})
	if m.Playbook.ID != "y/nodedown" || m.By != "runbook_url" {
		t.Errorf("url: %s by %s", m.Playbook.ID, m.By)
	}
}

// A URL may link a procedure of a playbook by its key in the fragment.
func TestRunbookURLIntoPlaybook(t *testing.T) {
	t.Parallel()
	lib := runbookLibrary(t, LibraryOptions{}, filepath.Join("..", "..", "examples", "telegram-platform"))
	m, ok := lib.MatchAlert(map[string]string{"alertname": "Anything"}, map[string]string{"runbook_url": "https://wiki.example.com/telegram-platform/playbook#high-queue-depth"})
	if !ok || m.Procedure.Key != "high-queue-depth" || m.By != "runbook_url" {
		t.Fatalf("match %+v", m)
	}
	if _, ok := lib.MatchAlert(map[string]string{"alertname": "Anything"}, map[string]string{"runbook_url": "https://wiki.example.com/playbook"}); ok {
		t.Error("a playbook of several procedures matched without a fragment or a name")
	}
}

// One changed runbook reloads alone; the others keep their parsed form.
func TestRunbookReload(t *testing.T) {
	t.Parallel()
	b := setupLibrary(t, map[string]string{
		"k8s/KubeJobFailed.md": "# KubeJobFailed\n## Diagnosis\n- `kubectl get pods -n $NAMESPACE`\n",
		"k8s/KubeJobSlow.md":   "# KubeJobSlow\n## Diagnosis\n- c\n",
	})
	slow := b.lib.Playbook("k8s/kubejobslow")
	if slow == nil || b.lib.Playbook("k8s/kubejobfailed") == nil {
		t.Fatalf("loaded %v", b.lib.Playbooks())
	}
	b.write(t, "k8s/KubeJobFailed.md", "# KubeJobFailed\n## Diagnosis\n- `kubectl get pods -n $NAMESPACE`\n- `kubectl top pods -n $NAMESPACE`\n")
	time.Sleep(10 * time.Millisecond)
	if err := b.lib.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(b.lib.Playbook("k8s/kubejobfailed").Procedures[0].Tasks()); n != 2 {
		t.Errorf("%d tasks after the edit", n)
	}
	if b.lib.Playbook("k8s/kubejobslow") != slow {
		t.Error("an unchanged runbook was parsed again")
	}
	m, ok := b.lib.MatchAlert(map[string]string{"alertname": "KubeJobFailed"}, nil)
	if !ok || m.Playbook.ID != "k8s/kubejobfailed" {
		t.Errorf("match after reload %+v", m)
	}
}

// Alert values in every placeholder style stay data: a bound step holds
// them only in its environment, bind arguments or API fields, and a value
// a Kubernetes name cannot be is refused before anything runs.
func TestRunbookHostileValuesBind(t *testing.T) {
	t.Parallel()
	hostile := []string{"'; DROP TABLE x; --", "$(touch /tmp/pwn)", "`touch /tmp/pwn`", "a\nb; touch /tmp/pwn", "--kubeconfig=/tmp/x"}
	doc := "# SomeAlert\n## Mitigation\n```console\n$ echo \"$NOTE\" ${NOTE} <note> '{{ $labels.note }}' {{ .Labels.note }}\n```\n" +
		"## Diagnosis\n- `kubectl -n $NAMESPACE describe pod ${POD}`\n"
	pr := parseDoc(t, "SomeAlert.md", doc).Procedures[0]
	echo := pr.Task("mitigation/1").Step
	if len(echo.Params) != 1 || echo.Params[0].Name != "note" {
		t.Fatalf("params %+v", echo.Params)
	}
	kube := pr.Task("diagnosis/1").Step
	for _, h := range hostile {
		r, err := echo.Bind(map[string]string{"note": h})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Script, h) || strings.Contains(r.Script, "touch") || r.Env["FB_PARAM_NOTE"] != h {
			t.Errorf("%q: script %q env %v", h, r.Script, r.Env)
		}
		want := `echo "${FB_PARAM_NOTE}" "$FB_PARAM_NOTE" "$FB_PARAM_NOTE" ''"$FB_PARAM_NOTE"'' "$FB_PARAM_NOTE"`
		if r.Script != want {
			t.Errorf("script %q, want %q", r.Script, want)
		}
		if _, err := kube.Bind(map[string]string{"namespace": h, "pod": "api-1"}); err == nil {
			t.Errorf("%q accepted as a namespace", h)
		}
		if v, _, ok := kube.Param("namespace").FromAlert(map[string]string{"namespace": h}, nil); ok && kube.Param("namespace").ValidateFromAlert(v) == nil {
			t.Errorf("%q from an alert accepted as a namespace", h)
		}
	}
}
