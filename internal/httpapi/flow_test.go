package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/executor/shell"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// exampleExecutors connects steps to a fresh copy of the example database
// and to a fake cluster holding the playbook's deployments.
func exampleExecutors(t *testing.T) (*automation.Executors, *fake.Clientset, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	pgtest.LoadExample(t, dsn)
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "telegram-platform", DSN: dsn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(targets.Close)
	var objs []runtime.Object
	for _, name := range []string{"telegram-platform", "message-worker", "job-worker", "postgres"} {
		replicas := int32(3)
		objs = append(objs, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "telegram-platform"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}}},
		})
	}
	cs := fake.NewSimpleClientset(objs...)
	k, err := kube.NewWithClients([]kube.Cluster{{Name: "prod", Namespace: "telegram-platform", Kube: cs}}, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &automation.Executors{SQL: targets, DefaultSQL: "telegram-platform", Kube: k, Shell: &shell.Runner{}}, cs, dsn
}

type incidentDetail struct {
	Incident incident.Incident
	Runs     []run.Run
	Steps    []run.Step
}

func (b *bundle) detail(id int64) incidentDetail {
	b.t.Helper()
	var d incidentDetail
	b.json("GET", fmt.Sprintf("/api/v1/incidents/%d", id), "viewer", nil, 200, &d)
	return d
}

// step returns the step of incident id with task key key.
func (b *bundle) step(id int64, key string) run.Step {
	b.t.Helper()
	for _, s := range b.detail(id).Steps {
		if s.TaskKey == key {
			return s
		}
	}
	b.t.Fatalf("incident %d has no step %s", id, key)
	return run.Step{}
}

// waitStep polls until the step reaches a final status.
func (b *bundle) waitStep(id int64, key string) run.Step {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := b.step(id, key)
		if s.Status.Final() || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHighQueueDepthFlow(t *testing.T) {
	exec, cs, _ := exampleExecutors(t)
	b := setupWith(t, options{exec: exec})
	b.json("POST", "/api/v1/ingest/alertmanager", "am", amBody("firing", "HighQueueDepth/1a2b3c4d5e6f7a8b"), 200, nil)

	d := b.detail(1)
	if len(d.Runs) != 1 || d.Runs[0].ProcedureKey != "high-queue-depth" || d.Runs[0].PlaybookHash == "" {
		t.Fatalf("runs = %+v", d.Runs)
	}
	if len(d.Steps) != 14 {
		t.Fatalf("%d steps, want the procedure's 14 tasks", len(d.Steps))
	}
	// The diagnostics run by themselves, and their tables are in the API.
	for _, key := range []string{"immediate-actions/3", "investigation/1"} {
		s := b.waitStep(1, key)
		if s.Status != run.StatusSucceeded || s.Result == nil || len(s.Result.Columns) == 0 || len(s.Result.Rows) == 0 {
			t.Fatalf("%s = %s (%s) %+v: want a table with rows", key, s.Status, s.Error, s.Result)
		}
		if !s.Auto || s.Risk != "read" || s.Actor != "" {
			t.Fatalf("%s ran without a person: %+v", key, s)
		}
	}
	stuck := b.step(1, "immediate-actions/3")
	if strings.Join(stuck.Result.Columns, ",") != "id,type,status,created_at" {
		t.Fatalf("stuck-jobs columns = %v", stuck.Result.Columns)
	}
	// The scale step waits for a named approver, who sees what will run.
	scale := b.step(1, "immediate-actions/1")
	if scale.Status != run.StatusAwaitingApproval || scale.Executor != "kube" || scale.Risk != "write" {
		t.Fatalf("scale step = %+v", scale)
	}
	var view struct {
		Step struct {
			Preview *automation.Preview
		}
	}
	b.json("GET", fmt.Sprintf("/api/v1/steps/%d", scale.ID), "viewer", nil, 200, &view)
	if p := view.Step.Preview; p == nil || len(p.Rendered.Kube) != 1 || p.Rendered.Kube[0].Name != "job-worker" || p.Rendered.Kube[0].Flags["replicas"] != "15" {
		t.Fatalf("preview = %+v", view.Step.Preview)
	}
	b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/approve", scale.ID), "viewer", nil, 403, incident.EFORBIDDEN, "approving steps")
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", scale.ID), "responder", nil, 200, nil)
	done := b.waitStep(1, "immediate-actions/1")
	if done.Status != run.StatusSucceeded || done.Result.Before != "replicas: 3" || done.Result.After != "replicas: 15" || done.Result.Undo == "" {
		t.Fatalf("scale = %s (%s) %+v", done.Status, done.Error, done.Result)
	}
	dep, err := cs.AppsV1().Deployments("telegram-platform").Get(context.Background(), "job-worker", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 15 {
		t.Fatalf("job-worker replicas = %v, %v", dep.Spec.Replicas, err)
	}
	if done.Approvals[0].Actor != "responder" {
		t.Fatalf("approvals = %+v", done.Approvals)
	}

	// The timeline shows the diagnostics as tables and names the approver.
	var tl struct{ Timeline []incident.TimelineEntry }
	b.json("GET", "/api/v1/incidents/1/timeline", "viewer", nil, 200, &tl)
	var kinds []string
	tables := 0
	for _, e := range tl.Timeline {
		kinds = append(kinds, string(e.Kind))
		if e.Kind == "step.succeeded" && strings.Contains(string(e.Data), `"table":{"columns":`) {
			tables++
		}
	}
	joined := strings.Join(kinds, ",")
	for _, want := range []string{"run.planned", "step.approved", "step.succeeded"} {
		if !strings.Contains(joined, want) {
			t.Errorf("timeline lacks %s: %s", want, joined)
		}
	}
	if tables != 2 {
		t.Errorf("%d step entries carry a table, want 2", tables)
	}

	// The run names the exact playbook text it used, which stays readable.
	status, text := b.do("GET", "/api/v1/playbook-versions/"+d.Runs[0].PlaybookHash+"?format=markdown", "viewer", nil)
	ref, err := os.ReadFile("../../examples/telegram-platform/playbook.md")
	if err != nil || status != 200 || string(text) != string(ref) {
		t.Fatalf("playbook version %s: %d, %d bytes, want the reference's %d bytes byte for byte", d.Runs[0].PlaybookHash, status, len(text), len(ref))
	}

	// A checklist task is ticked by a person, who is recorded.
	check := b.step(1, "assessment/1")
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/done", check.ID), "responder", map[string]string{"note": "queues checked"}, 200, nil)
	if s := b.step(1, "assessment/1"); s.Status != run.StatusSucceeded || s.Actor != "responder" {
		t.Fatalf("ticked task = %+v", s)
	}
}

func TestApprovalRules(t *testing.T) {
	exec, _, _ := exampleExecutors(t)
	clock := &fakeClock{t: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)}
	b := setupWith(t, options{exec: exec, now: clock.Now, twoPerson: []string{"low-message-success-rate"}})
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "HighQueueDepth", "service": "job-worker"}, 200, nil)
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "LowMessageSuccessRate", "service": "message-worker"}, 200, nil)
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "ServiceDown", "service": "telegram-platform"}, 200, nil)
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "HighAPIErrorRate", "service": "telegram-platform"}, 200, nil)

	t.Run("EditIsReclassified", func(t *testing.T) {
		scale := b.step(1, "immediate-actions/1")
		edited := "kubectl get pods -l app=job-worker"
		var out struct{ Step run.Step }
		b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", scale.ID), "responder", map[string]string{"text": edited}, 200, &out)
		if out.Step.Risk != "read" || !out.Step.Edited || out.Step.Text != edited {
			t.Fatalf("edited step = %+v", out.Step)
		}
		var tl struct{ Timeline []incident.TimelineEntry }
		b.json("GET", "/api/v1/incidents/1/timeline", "viewer", nil, 200, &tl)
		found := false
		for _, e := range tl.Timeline {
			if e.Kind == "step.edited" && e.Actor == "responder" && strings.Contains(string(e.Data), `- kubectl scale deployment job-worker --replicas=15`) &&
				strings.Contains(string(e.Data), `+ kubectl get pods -l app=job-worker`) && strings.Contains(e.Message, "write → read") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no step.edited entry with the diff and the editor: %+v", tl.Timeline)
		}
		// And an edit of a read into a write makes it wait for approval.
		check := b.step(1, "immediate-actions/3")
		b.waitStep(1, "immediate-actions/3")
		b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", check.ID), "responder",
			map[string]string{"text": "UPDATE jobs SET status = 'PENDING' WHERE status = 'RUNNING';"}, 200, &out)
		if out.Step.Risk != "write" || out.Step.Status != run.StatusAwaitingApproval {
			t.Fatalf("read edited into a write = %s %s", out.Step.Risk, out.Step.Status)
		}
	})

	t.Run("TwoPerson", func(t *testing.T) {
		pause := b.step(2, "immediate-actions/1") // UPDATE campaigns SET status = 'PAUSED' …
		if pause.Approvers != 2 {
			t.Fatalf("approvers needed = %d, want 2", pause.Approvers)
		}
		url := fmt.Sprintf("/api/v1/steps/%d/approve", pause.ID)
		var out struct{ Step run.Step }
		b.json("POST", url, "responder", nil, 200, &out)
		if out.Step.Status != run.StatusAwaitingApproval {
			t.Fatalf("after one of two approvals: %s", out.Step.Status)
		}
		b.wantError("POST", url, "responder", nil, 409, incident.ECONFLICT, "different second approver")
		b.json("POST", url, "admin", nil, 200, &out)
		if s := b.waitStep(2, "immediate-actions/1"); s.Status != run.StatusSucceeded || s.Result.RowsAffected == 0 {
			t.Fatalf("after two approvals: %s %s %+v", s.Status, s.Error, s.Result)
		}
	})

	t.Run("ResolveCancelsAndRefuses", func(t *testing.T) {
		check := b.step(3, "immediate-actions/1") // kubectl get pods + describe: read, needs <failed-pod>
		if check.Status != run.StatusNeedsInput {
			t.Fatalf("check pod status = %s, want needs_input for <failed-pod>", check.Status)
		}
		b.json("POST", "/api/v1/incidents/2/resolve", "responder", nil, 200, nil)
		b.json("POST", "/api/v1/incidents/3/resolve", "responder", nil, 200, nil)
		for _, id := range []int64{2, 3} {
			for _, s := range b.detail(id).Steps {
				if s.Kind == "step" && (s.Status == run.StatusAwaitingApproval || s.Status == run.StatusNeedsInput || s.Status == run.StatusPending) {
					t.Errorf("incident %d step %s still %s after resolve", id, s.TaskKey, s.Status)
				}
			}
		}
		b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/run", check.ID), "responder", map[string]any{"params": map[string]string{"failed-pod": "tp-1"}}, 409, incident.ECONFLICT, "resolved")
		scaleWorkers := b.step(2, "immediate-actions/3") // kubectl scale message-worker
		if scaleWorkers.Status != run.StatusCancelled || !strings.Contains(scaleWorkers.Reason, "resolved") {
			t.Fatalf("pending write after resolve = %s %q", scaleWorkers.Status, scaleWorkers.Reason)
		}
		b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/approve", scaleWorkers.ID), "admin", nil, 409, incident.ECONFLICT, "resolved")
	})

	t.Run("Expiry", func(t *testing.T) {
		restart := b.step(4, "immediate-actions/3") // kubectl rollout restart
		if restart.Status != run.StatusAwaitingApproval {
			t.Fatalf("restart = %s", restart.Status)
		}
		clock.Advance(31 * time.Minute)
		if err := b.engine.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := b.step(4, "immediate-actions/3")
		if s.Status != run.StatusCancelled || !strings.Contains(s.Reason, "approval expired") {
			t.Fatalf("after 31 minutes: %s %q", s.Status, s.Reason)
		}
		b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/approve", s.ID), "responder", nil, 409, incident.ECONFLICT, "not awaiting approval")
	})

}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestHostileLabelsNeverBecomeCode(t *testing.T) {
	exec, _, dsn := exampleExecutors(t)
	b := setupWith(t, options{exec: exec, playbooks: []string{"testdata/hostile.md"}})
	marker := filepath.Join(t.TempDir(), "pwned")
	hostile := []string{
		"'; DROP TABLE jobs; --",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a\nb; touch " + marker,
		"%s%n%x",
		strings.Repeat("A", 1<<20),
	}
	for i, h := range hostile {
		b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "HostileProbe", "service": fmt.Sprintf("svc-%d", i),
			"labels": map[string]string{"job_type": h}, "annotations": map[string]string{"description": h}}, 200, nil)
	}
	for i, h := range hostile {
		id := int64(i + 1)
		q := b.waitStep(id, "investigation/1")
		if q.Status != run.StatusSucceeded || len(q.Result.Rows) != 1 {
			t.Fatalf("value %d: SQL step %s (%s)", i, q.Status, q.Error)
		}
		if got := q.Result.Rows[0][1]; got != h {
			t.Fatalf("value %d: the statement saw %.40q, want the label verbatim", i, got)
		}
		echo := b.step(id, "investigation/2")
		b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", echo.ID), "responder", nil, 200, nil)
		s := b.waitStep(id, "investigation/2")
		if len(h) > 100000 {
			// Linux refuses an environment string over 128 KiB: the step
			// fails to start, and nothing runs.
			if s.Status == run.StatusSucceeded && s.Result.Output != h[:min(len(h), len(s.Result.Output))] {
				t.Fatalf("huge value: output %.40q", s.Result.Output)
			}
			continue
		}
		if s.Status != run.StatusSucceeded || s.Result == nil || s.Result.Output != h {
			t.Fatalf("value %d: shell step %s (%s) gave %+v, want the label verbatim", i, s.Status, s.Error, s.Result)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("%s exists: a label value ran as a command", marker)
	}
	// The table is still there and whole.
	conn := pgtest.Conn(t, dsn)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&n); err != nil || n == 0 {
		t.Fatalf("jobs after hostile input: %d rows, %v", n, err)
	}
}

// An earlier step's output column becomes the choices of a later step's
// parameter: the pid of "List sessions" for pg_cancel_backend(pid).
func TestOutputsFeedLaterSteps(t *testing.T) {
	exec, _, dsn := exampleExecutors(t)
	victim := pgtest.Conn(t, dsn+"&application_name=fb-victim") // the session to cancel
	b := setupWith(t, options{exec: exec, playbooks: []string{"testdata/choices.md"}})
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "BusyDatabase", "service": "db"}, 200, nil)
	list := b.waitStep(1, "immediate-actions/1")
	if list.Status != run.StatusSucceeded || len(list.Result.Rows) != 1 {
		t.Fatalf("list sessions = %s %s %+v", list.Status, list.Error, list.Result)
	}
	pid := fmt.Sprint(list.Result.Rows[0][0])
	if want := fmt.Sprint(victim.PgConn().PID()); pid != want {
		t.Fatalf("listed pid %s, want the victim's %s", pid, want)
	}
	cancel := b.step(1, "immediate-actions/2")
	if cancel.Status != run.StatusAwaitingApproval || len(cancel.Params) != 1 || cancel.Params[0].Name != "pid" {
		t.Fatalf("cancel step = %+v", cancel)
	}
	if got := cancel.Params[0].Choices; len(got) != 1 || got[0] != pid {
		t.Fatalf("choices for pid = %v, want [%s] from the earlier step's output", got, pid)
	}
	b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/approve", cancel.ID), "responder", nil, 400, incident.EINVALID, "pid")
	b.wantError("POST", fmt.Sprintf("/api/v1/steps/%d/approve", cancel.ID), "responder",
		map[string]any{"params": map[string]string{"pid": "1; DROP TABLE jobs"}}, 400, incident.EINVALID, "not an integer")
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", cancel.ID), "responder", map[string]any{"params": map[string]string{"pid": pid}}, 200, nil)
	done := b.waitStep(1, "immediate-actions/2")
	if done.Status != run.StatusSucceeded || done.Params[0].From != "responder" || *done.Params[0].Value != pid ||
		len(done.Result.Rows) != 1 || done.Result.Rows[0][0] != true {
		t.Fatalf("cancel after approval = %s %s %+v %+v", done.Status, done.Error, done.Params, done.Result)
	}
}

// The kill switch stops every step until resumed, and shows in the API and
// the metrics.
func TestAutomationKillSwitch(t *testing.T) {
	exec, _, _ := exampleExecutors(t)
	exec.DefaultSQL = "telegram-platform"
	b := setupWith(t, options{exec: exec, playbooks: []string{"../automation/testdata/five.md"}})
	b.wantError("POST", "/api/v1/automation/pause", "responder", nil, 403, incident.EFORBIDDEN, "needs admin")
	b.json("POST", "/api/v1/automation/pause", "admin", nil, 200, nil)
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "FiveChecks", "service": "db"}, 200, nil)
	time.Sleep(300 * time.Millisecond)
	for _, s := range b.detail(1).Steps {
		if s.Status != run.StatusPending || s.Attempts != 0 {
			t.Fatalf("step %s is %s while automation is paused", s.TaskKey, s.Status)
		}
	}
	var state struct{ Paused bool }
	b.json("GET", "/api/v1/automation", "viewer", nil, 200, &state)
	_, metrics := b.do("GET", "/metrics", "viewer", nil)
	if !state.Paused || !strings.Contains(string(metrics), "firebreak_automation_paused 1") {
		t.Fatalf("paused = %v; metrics show %q", state.Paused, regexpLine(string(metrics), "firebreak_automation_paused"))
	}
	b.json("POST", "/api/v1/automation/resume", "admin", nil, 200, nil)
	for _, key := range []string{"assessment/1", "assessment/5"} {
		if s := b.waitStep(1, key); s.Status != run.StatusSucceeded {
			t.Fatalf("%s after resume: %s %s", key, s.Status, s.Error)
		}
	}
	_, metrics = b.do("GET", "/metrics", "viewer", nil)
	if !strings.Contains(string(metrics), "firebreak_automation_paused 0") || !strings.Contains(string(metrics), `firebreak_steps_started_total{executor="sql",risk="read"} 5`) {
		t.Fatalf("metrics after resume: %q %q", regexpLine(string(metrics), "firebreak_automation_paused"), regexpLine(string(metrics), "firebreak_steps_started_total"))
	}
}

func regexpLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
