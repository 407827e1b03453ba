package review_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/escalation"
	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// t0 is a Tuesday, 03:00 UTC.
var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// pager is a chat channel that keeps what it was sent and gives each
// message a handle, so that updates are made in place.
type pager struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (p *pager) UpdatesInPlace() {}

func (p *pager) Notify(_ context.Context, m notify.Message) (notify.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	if m.Ref != "" {
		return notify.Result{Ref: m.Ref}, nil
	}
	return notify.Result{Ref: "C0OPS:17000000" + string(rune('0'+len(p.msgs)))}, nil
}

// The target system's tables that the HighQueueDepth diagnostics read,
// with rows whose answers do not depend on when the test runs.
const fixture = `
CREATE TABLE jobs (id int PRIMARY KEY, type text, status text, created_at timestamptz, updated_at timestamptz);
INSERT INTO jobs VALUES
  (101, 'send_campaign', 'RUNNING', '2026-01-10 08:00:00+00', '2026-01-10 08:05:00+00'),
  (102, 'sync_contacts', 'RUNNING', '2026-01-10 09:00:00+00', '2026-01-10 09:01:00+00'),
  (103, 'send_campaign', 'DONE',    '2026-01-10 09:00:00+00', '2026-01-10 09:30:00+00');
CREATE TABLE job_executions (id int PRIMARY KEY, type text, error_type text, status text, created_at timestamptz);
INSERT INTO job_executions VALUES
  (1, 'send_campaign', 'TelegramRateLimit', 'FAILED', '9999-01-01 00:00:00+00'),
  (2, 'send_campaign', 'TelegramRateLimit', 'FAILED', '9999-01-01 00:00:00+00'),
  (3, 'sync_contacts', 'Timeout',           'FAILED', '9999-01-01 00:00:00+00'),
  (4, 'sync_contacts', 'Timeout',           'DONE',   '9999-01-01 00:00:00+00');
`

type flow struct {
	t       *testing.T
	ctx     context.Context
	st      store.Store
	clock   *clock
	q       *job.Queue[store.Tx]
	svc     *respond.Service
	steps   *automation.Engine
	reviews *review.Service
	clocks  *phase.Engine
	chat    *pager
	kube    *fake.Clientset
}

func newFlow(t *testing.T) *flow {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.NewDatabase(t)
	if _, err := pgtest.Conn(t, dsn).Exec(ctx, fixture); err != nil {
		t.Fatal(err)
	}
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "telegram-platform", DSN: dsn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(targets.Close)
	f := &flow{t: t, ctx: ctx, st: st, clock: &clock{t: t0}, chat: &pager{}}
	three := int32(3)
	f.kube = fake.NewClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "job-worker", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &three}})
	kx, err := kube.NewWithClients([]kube.Cluster{{Name: "prod", Namespace: "default", Kube: f.kube}}, kube.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	lib, err := playbook.NewLibrary(nil) // the reference playbook
	if err != nil {
		t.Fatal(err)
	}
	f.q = job.New(job.Config[store.Tx]{InTx: st.InTx, Now: f.clock.Now, Instance: "test", MinBackoff: time.Second, MaxBackoff: time.Minute})
	var esc *escalation.Engine
	f.clocks = phase.New(phase.Config{Store: st, Queue: f.q, Playbooks: lib, Now: f.clock.Now,
		Tell: func(ctx context.Context, tx store.Tx, id int64, ev notify.Event, by time.Time) ([]string, error) {
			return esc.Tell(ctx, tx, id, ev, by)
		},
		Review: func(ctx context.Context, tx store.Tx, id int64, why string) error {
			return f.reviews.Schedule(ctx, tx, id, why)
		}})
	f.reviews = review.New(review.Config{Store: st, Queue: f.q, Playbooks: lib, Phases: f.clocks, Now: f.clock.Now})
	f.steps = automation.New(automation.Config{Store: st, Queue: f.q, Playbooks: lib, Now: f.clock.Now, Instance: "test",
		Exec: &automation.Executors{SQL: targets, DefaultSQL: "telegram-platform", Kube: kx}, Decided: f.clocks.OnDecided})
	esc = escalation.New(escalation.Config{Store: st, Queue: f.q, Playbooks: lib, Now: f.clock.Now, BaseURL: "https://firebreak.example",
		Channels: map[string]notify.Notifier{"ops-telegram": f.chat},
		Policies: []escalation.Policy{{Name: "default", Levels: map[int][]string{1: {"ops-telegram"}}}}})
	f.svc = respond.New(respond.Config{Store: st, Now: f.clock.Now, Hooks: []respond.Hook{f.steps, esc, f.clocks}, Automation: f.steps})
	return f
}

// at moves the clock to t0+d and runs everything that is due, and what
// comes due within the next few seconds (a delivery that waits a moment
// for the page it follows), as a running server would.
func (f *flow) at(d time.Duration) {
	f.t.Helper()
	if to := t0.Add(d); to.After(f.clock.Now()) {
		f.clock.Set(to)
	}
	for range 100 {
		n, err := f.q.RunDue(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if n > 0 {
			continue
		}
		next, err := f.q.Next(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if next.IsZero() || next.Sub(f.clock.Now()) > 15*time.Second {
			return
		}
		f.clock.Set(next)
	}
	f.t.Fatal("jobs keep coming")
}

func (f *flow) alert(status incident.AlertStatus) {
	f.t.Helper()
	ev := incident.Event{Source: incident.SourceAlertmanager, Status: status, Key: "9f0c2b7e", Severity: incident.SeverityCritical,
		Summary: "Queue outbound holds 1843 jobs", StartsAt: f.clock.Now().Add(-90 * time.Second),
		Labels: map[string]string{"alertname": "HighQueueDepth", "service": "job-worker", "queue": "outbound"}}
	err := f.st.InTx(f.ctx, func(tx store.Tx) error {
		b, err := incident.ApplyBatch(f.ctx, tx, []incident.Event{ev}, incident.Options{Now: f.clock.Now(), AutoResolve: true})
		if err != nil {
			return err
		}
		return f.svc.Ingested(f.ctx, tx, []incident.Event{ev}, b)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *flow) act(kind incident.ActionKind, actor string) {
	f.t.Helper()
	if _, err := f.svc.Act(f.ctx, 1, incident.Action{Kind: kind}, actor); err != nil {
		f.t.Fatal(err)
	}
}

func (f *flow) step(name string) run.Step {
	f.t.Helper()
	steps, err := f.st.StepsOfIncident(f.ctx, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	f.t.Fatalf("no step %q", name)
	return run.Step{}
}

// The scripted incident: an alert at 03:00, diagnostics that run by
// themselves, an ack at 3 min, an approval at 9 min, a Containment breach
// found at 16 min and a resolve at 50 min. Its review equals the golden
// file.
func TestGoldenReview(t *testing.T) {
	f := newFlow(t)
	f.alert(incident.AlertFiring)
	f.at(0)
	if s := f.step("Check for stuck jobs"); s.Status != run.StatusSucceeded || len(s.Result.Rows) != 2 {
		t.Fatalf("the stuck-jobs diagnostic: %s %v", s.Status, s.Result)
	}
	f.at(3 * time.Minute)
	f.act(incident.ActionAck, "alice")
	f.at(3 * time.Minute)
	f.at(9 * time.Minute)
	scale := f.step("Scale job workers")
	if _, err := f.steps.Approve(f.ctx, scale.ID, automation.Decision{Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	f.at(9 * time.Minute)
	dep, err := f.kube.AppsV1().Deployments("default").Get(f.ctx, "job-worker", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 15 {
		t.Fatalf("the approved scale did not run: %v %v", dep, err)
	}
	f.at(16 * time.Minute)
	f.at(50 * time.Minute)
	f.act(incident.ActionResolve, "alice")
	f.at(50 * time.Minute)
	f.at(60 * time.Minute)

	inc, err := f.st.GetIncident(f.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.clocks.Status(f.ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != "post-incident-review" || len(st.Breaches) != 1 || st.Breaches[0].Key != "containment" {
		t.Fatalf("phases: current %s, breaches %+v", st.Current, st.Breaches)
	}
	// Wednesday 2 December, 17:00 UTC: the next business day.
	if want := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC); !st.ReviewDue.Equal(want) {
		t.Fatalf("review due %s, want %s", st.ReviewDue, want)
	}
	versions, err := f.reviews.Versions(f.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[1].CreatedBy != incident.ActorSystem {
		t.Fatalf("review versions: %+v", versions)
	}
	got := versions[1].Markdown
	golden := filepath.Join("testdata", "review.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/review -update to write it)", err)
	}
	if got != string(want) {
		t.Fatalf("the review differs from %s (go test ./internal/review -run Golden -update rewrites it):\n%s", golden, diff(string(want), got))
	}

	// A person's edit is a new version; Firebreak does not overwrite it.
	edited := strings.Replace(got, "_To be written by the responders: what broke, and why._", "A deploy halved job-worker's CPU limit.", 1)
	if _, err := f.reviews.Save(f.ctx, 1, edited, review.StatusFinal, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.InTx(f.ctx, func(tx store.Tx) error { return f.reviews.Schedule(f.ctx, tx, 1, "test") }); err != nil {
		t.Fatal(err)
	}
	f.at(61 * time.Minute)
	versions, _ = f.reviews.Versions(f.ctx, 1)
	if len(versions) != 3 || versions[2].Status != review.StatusFinal || !strings.Contains(versions[2].Markdown, "halved") {
		t.Fatalf("after alice's edit: %d versions, last %+v", len(versions), versions[len(versions)-1].Status)
	}
	html, err := review.HTML(versions[2].Markdown, "review")
	if err != nil || !strings.Contains(html, "<table>") || !strings.Contains(html, "halved") {
		t.Fatalf("HTML: %v\n%.500s", err, html)
	}
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + itoa(i+1) + "\n- " + a + "\n+ " + c + "\n")
			shown++
		}
	}
	return b.String()
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
