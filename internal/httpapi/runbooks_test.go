package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/executor/shell"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// runbookDir is a collection of one-file-per-alert runbooks in the shape
// kube-prometheus alerts link to (Hugo front matter, Meaning / Impact /
// Diagnosis / Mitigation, commands in inline spans and console sessions).
const runbookDir = "../playbook/testdata/runbooks"

// runbookCluster is a fake cluster holding the pod and deployment the
// alerts name.
func runbookCluster(t *testing.T) (*automation.Executors, *fake.Clientset) {
	t.Helper()
	replicas := int32(2)
	cs := fake.NewSimpleClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api-7d9f", Namespace: "shop", Labels: map[string]string{"app": "api"}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "shop/api:1.4"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}}}}},
	)
	k, err := kube.NewWithClients([]kube.Cluster{{Name: "prod", Namespace: "default", Kube: cs}}, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &automation.Executors{Kube: k, Shell: &shell.Runner{}}, cs
}

// kubeCalls lists the fake cluster's requests as "verb resource
// namespace/name".
func kubeCalls(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource + " " + a.GetNamespace()
		if g, ok := a.(k8stesting.GetAction); ok {
			s += "/" + g.GetName()
		}
		out = append(out, s)
	}
	return out
}

func (b *bundle) timeline(id int64) []incident.TimelineEntry {
	b.t.Helper()
	var tl struct{ Timeline []incident.TimelineEntry }
	b.json("GET", fmt.Sprintf("/api/v1/incidents/%d/timeline", id), "viewer", nil, 200, &tl)
	return tl.Timeline
}

func (b *bundle) planned(id int64) incident.TimelineEntry {
	b.t.Helper()
	for _, e := range b.timeline(id) {
		if e.Kind == "run.planned" {
			return e
		}
	}
	b.t.Fatalf("incident %d has no run.planned entry", id)
	return incident.TimelineEntry{}
}

// An alert named after a runbook file gets that file: its Diagnosis reads
// run at once with $NAMESPACE and $POD filled from the alert's labels, its
// Mitigation writes wait for approval, and its Meaning and Impact come
// with the incident.
func TestRunbookAlertRunsItsDiagnosis(t *testing.T) {
	exec, cs := runbookCluster(t)
	b := setupWith(t, options{exec: exec, playbooks: []string{runbookDir}})
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{
		"name": "KubePodCrashLooping", "severity": "warning", "service": "api",
		"labels": map[string]string{"namespace": "shop", "pod": "api-7d9f"},
	}, 200, nil)

	d := b.detail(1)
	if len(d.Runs) != 1 || d.Runs[0].PlaybookID != "kubernetes/kubepodcrashlooping" || d.Runs[0].ProcedureKey != "kubepodcrashlooping" {
		t.Fatalf("runs = %+v", d.Runs)
	}
	for _, key := range []string{"diagnosis/1", "diagnosis/2", "diagnosis/3"} {
		s := b.waitStep(1, key)
		if s.Status != run.StatusSucceeded || !s.Auto || s.Risk != "read" || s.Executor != "kube" || s.Actor != "" {
			t.Fatalf("%s = %s (%s) auto=%v risk=%s: want a read that ran by itself", key, s.Status, s.Error, s.Auto, s.Risk)
		}
		for _, p := range s.Params {
			want := map[string]string{"namespace": "shop", "pod": "api-7d9f"}[p.Name]
			if p.Value == nil || *p.Value != want || p.From != "label:"+p.Name {
				t.Errorf("%s param %s = %v from %q, want %q from its label", key, p.Name, p.Value, p.From, want)
			}
		}
	}
	if out := b.step(1, "diagnosis/1").Result.Output; !strings.Contains(out, "api-7d9f") || !strings.Contains(out, "shop") {
		t.Errorf("describe output %q", out)
	}
	calls := strings.Join(kubeCalls(cs), "\n")
	if !strings.Contains(calls, "get pods shop/api-7d9f") || !strings.Contains(calls, "list pods shop") {
		t.Errorf("the cluster was not asked about shop/api-7d9f:\n%s", calls)
	}
	// The Mitigation's writes wait; nothing wrote to the cluster.
	restart := b.step(1, "mitigation/1")
	if restart.Status != run.StatusAwaitingApproval || restart.Risk != "write" || restart.Executor != "kube" {
		t.Fatalf("restart = %+v", restart)
	}
	if p := restart.Params[1]; p.Name != "deployment" || p.Value == nil || *p.Value != "api" || p.From != "label:service" {
		t.Errorf("deployment falls back to the service label: %+v", p)
	}
	if del := b.step(1, "mitigation/2"); del.Status != run.StatusAwaitingApproval || del.Executor != "shell" {
		t.Errorf("delete = %s %s", del.Status, del.Executor)
	}
	if check := b.step(1, "mitigation/3"); check.Status != run.StatusPending || check.Auto || check.Risk != "read" {
		t.Errorf("a mitigation's read waits for a responder: %s auto=%v", check.Status, check.Auto)
	}
	if tick := b.step(1, "diagnosis/4"); tick.Kind != "checklist" || tick.Status != run.StatusPending {
		t.Errorf("prose item = %+v", tick)
	}
	for _, c := range kubeCalls(cs) {
		if !strings.HasPrefix(c, "get ") && !strings.HasPrefix(c, "list ") {
			t.Fatalf("the cluster changed before approval: %s", c)
		}
	}
	e := b.planned(1)
	if !strings.Contains(e.Message, "Meaning: A container of a pod keeps exiting") || !strings.Contains(e.Message, "Impact: The workload runs below") {
		t.Errorf("run.planned lacks the runbook's context: %q", e.Message)
	}
	// Approving runs the write.
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", restart.ID), "responder", nil, 200, nil)
	if s := b.waitStep(1, "mitigation/1"); s.Status != run.StatusSucceeded {
		t.Fatalf("approved restart = %s (%s)", s.Status, s.Error)
	}
	dep, err := cs.AppsV1().Deployments("shop").Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("deployment not restarted: %v %+v", err, dep.Spec.Template.Annotations)
	}
}

// An alert whose runbook_url links a file gets that file's procedure,
// whatever its name, and a link beats a match by name; the timeline says
// which won and why.
func TestRunbookURLPicksTheLinkedFile(t *testing.T) {
	exec, _ := runbookCluster(t)
	b := setupWith(t, options{exec: exec, playbooks: []string{runbookDir}})
	const url = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
	body := func(name, runbookURL, fp, service string) string {
		ann := `"summary":"pod restarting"`
		if runbookURL != "" {
			ann += `,"runbook_url":"` + runbookURL + `"`
		}
		return `{"version":"4","groupKey":"{}","truncatedAlerts":0,"status":"firing","receiver":"firebreak","groupLabels":{},
			"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","alerts":[{"status":"firing",
			"labels":{"alertname":"` + name + `","namespace":"shop","service":"` + service + `","pod":"api-7d9f","severity":"warning"},
			"annotations":{` + ann + `},"startsAt":"2026-11-26T03:00:00Z","endsAt":"0001-01-01T00:00:00Z",
			"generatorURL":"http://prometheus/graph","fingerprint":"` + fp + `"}]}`
	}
	b.json("POST", "/api/v1/ingest/alertmanager", "am", body("PodRestartsHigh", url, "1111111111111111", "api"), 200, nil)
	b.json("POST", "/api/v1/ingest/alertmanager", "am", body("KubePodNotReady", url, "2222222222222222", "api"), 200, nil)
	// Another service, so another incident.
	b.json("POST", "/api/v1/ingest/alertmanager", "am", body("KubePodNotReady", "", "3333333333333333", "web"), 200, nil)

	for id, want := range map[int64]string{1: "kubernetes/kubepodcrashlooping", 2: "kubernetes/kubepodcrashlooping", 3: "kubernetes/kubepodnotready"} {
		d := b.detail(id)
		if len(d.Runs) != 1 || d.Runs[0].PlaybookID != want {
			t.Fatalf("incident %d (%s) ran %+v, want %s", id, d.Incident.Title, d.Runs, want)
		}
	}
	if r := b.detail(1).Runs[0]; !strings.Contains(r.MatchReason, "runbook_url "+url+" → kubernetes/KubePodCrashLooping.md") {
		t.Errorf("match reason %q", r.MatchReason)
	}
	if s := b.waitStep(1, "diagnosis/1"); s.Status != run.StatusSucceeded {
		t.Errorf("linked file's diagnosis = %s (%s)", s.Status, s.Error)
	}
	if e := b.planned(2); !strings.Contains(e.Message, "chosen by runbook_url") || !strings.Contains(e.Message, "wins over a match by name") ||
		!strings.Contains(e.Message, "kubernetes/kubepodnotready/kubepodnotready") {
		t.Errorf("run.planned of incident 2 does not say why: %q", e.Message)
	}
	if e := b.planned(3); strings.Contains(e.Message, "runbook_url") {
		t.Errorf("incident 3 has no runbook_url: %q", e.Message)
	}
	// Its runbook writes oc, which runs natively for kubectl's forms.
	if s := b.waitStep(3, "diagnosis/1"); s.Status != run.StatusSucceeded || s.Executor != "kube" || !strings.HasPrefix(s.Text, "oc get pods -n {{namespace}} {{pod}}") {
		t.Errorf("oc step = %s (%s) %s %q", s.Status, s.Error, s.Executor, s.Text)
	}
}

// Label values in every placeholder style stay data: a shell step gets
// them only as environment variables, SQL only as bind parameters, and a
// Kubernetes name that is not one never reaches the cluster.
func TestRunbookHostileLabelsStayData(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "probe", DSN: dsn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(targets.Close)
	exec, cs := runbookCluster(t)
	exec.SQL, exec.DefaultSQL = targets, "probe"
	dir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "pwned")
	doc := "---\ntitle: Hostile probe\nweight: 1\n---\n# HostileProbe\n\n## Meaning\n\nProves that alert labels stay data.\n\n" +
		"## Diagnosis\n\n" +
		"- Describe the pod: `kubectl -n $NAMESPACE describe pod ${POD}`.\n" +
		"- Echo the note through SQL: `psql -d probe -c \"SELECT '$NOTE'::text AS a, {{ $labels.note }}::text AS b, {{ .Labels.note }}::text AS c\"`.\n\n" +
		"## Mitigation\n\n" +
		"- Echo the note through the shell:\n\n" +
		"  ```console\n  $ printf '%s|' \"$NOTE\" ${NOTE} <note> '{{ $labels.note }}' {{ .Labels.note }}\n  a|a|a|a|a|\n  ```\n"
	if err := os.WriteFile(filepath.Join(dir, "HostileProbe.md"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	b := setupWith(t, options{exec: exec, playbooks: []string{dir}})
	hostile := []string{
		"'; DROP TABLE x; --",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a\nb; touch " + marker,
		"--kubeconfig=/etc/passwd",
	}
	conn := pgtest.Conn(t, dsn)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE x (id int); INSERT INTO x VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for i, h := range hostile {
		b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "HostileProbe", "service": fmt.Sprintf("svc-%d", i),
			"labels": map[string]string{"namespace": h, "pod": "api-7d9f", "note": h}}, 200, nil)
	}
	before := len(cs.Actions())
	for i, h := range hostile {
		id := int64(i + 1)
		if d := b.detail(id); len(d.Runs) != 1 || d.Runs[0].PlaybookID != "hostileprobe" {
			t.Fatalf("value %d: runs %+v", i, d.Runs)
		}
		// Not a Kubernetes name: the step waits for a person's value.
		desc := b.step(id, "diagnosis/1")
		if desc.Status != run.StatusNeedsInput || desc.Attempts != 0 {
			t.Errorf("value %d: describe = %s, attempts %d; want it waiting for a value", i, desc.Status, desc.Attempts)
		}
		q := b.waitStep(id, "diagnosis/2")
		if q.Status != run.StatusSucceeded || len(q.Result.Rows) != 1 {
			t.Fatalf("value %d: SQL step %s (%s)", i, q.Status, q.Error)
		}
		for c, got := range q.Result.Rows[0] {
			if got != h {
				t.Errorf("value %d: column %d saw %q, want the label verbatim", i, c, got)
			}
		}
		echo := b.step(id, "mitigation/1")
		if echo.Status != run.StatusAwaitingApproval || strings.Contains(echo.Text, h) {
			t.Fatalf("value %d: echo = %s, text %q", i, echo.Status, echo.Text)
		}
		b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", echo.ID), "responder", nil, 200, nil)
		s := b.waitStep(id, "mitigation/1")
		if want := strings.Repeat(h+"|", 5); s.Status != run.StatusSucceeded || s.Result == nil || s.Result.Output != want {
			t.Fatalf("value %d: shell step %s (%s) gave %+v, want %q", i, s.Status, s.Error, s.Result, want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	for _, a := range cs.Actions()[before:] {
		t.Errorf("a hostile namespace reached the cluster: %s %s %s", a.GetVerb(), a.GetResource().Resource, a.GetNamespace())
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("%s exists: a label value ran as a command", marker)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM x").Scan(&n); err != nil || n != 1 {
		t.Fatalf("table x after hostile input: %d rows, %v", n, err)
	}
}
