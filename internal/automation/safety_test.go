package automation_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/automation"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// A parameter that another interpreter parses never takes an alert's
// value: the planner leaves it for a person, and the step waits for
// approval even though it only echoes.
func TestPlanNestedInterpreterIgnoresAlert(t *testing.T) {
	doc := "## Alert Response Procedures\n\n### 🟡 WARNING: Note Probe\n\n**Investigation:**\n1. **Echo:**\n   ```bash\n   sh -c \"echo NOTE_TEXT\"\n   ```\n"
	pb, err := playbook.Parse("note.md", []byte(doc))
	if err == nil || !pb.HasErrors() {
		t.Fatalf("lint found no error in a placeholder inside sh -c: %+v", pb.Diagnostics)
	}
	m := &playbook.Match{Playbook: pb, Procedure: pb.Procedures[0]}
	labels := map[string]string{"alertname": "NoteProbe", "note_text": "$(touch /tmp/x)"}
	_, steps := automation.Plan(1, m, automation.PlanOptions{Now: time.Now(), Labels: labels, ApprovalTTL: time.Hour, DefaultTimeout: time.Second})
	s := steps[0]
	if len(s.Params) != 1 || !s.Params[0].Interpreted || s.Params[0].Value != nil {
		t.Fatalf("params = %+v; want NOTE_TEXT interpreted and empty", s.Params)
	}
	if s.Status != run.StatusAwaitingApproval || s.Approvers < 1 {
		t.Fatalf("status %s, approvers %d; want awaiting approval", s.Status, s.Approvers)
	}
}

// Two 12,000-line texts diff in linear space: the old LCS matrix took
// 1.6 GB for this.
func TestDiffLinearSpace(t *testing.T) {
	var a, b strings.Builder
	for i := range 12000 {
		a.WriteString("kubectl get pods -n ns-" + string(rune('a'+i%26)) + "\n")
		b.WriteString("kubectl get pods -n other-" + string(rune('a'+i%23)) + "\n")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := automation.Diff(a.String(), b.String())
	runtime.ReadMemStats(&after)
	if n := strings.Count(d, "\n"); n < 12000 {
		t.Fatalf("diff has %d lines", n)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 200<<20 {
		t.Fatalf("diff of two 12,000-line texts allocated %d MiB", grew>>20)
	}
}

// The engine asks the SQL executor for a READ ONLY transaction for every
// read step: a write that reaches a read step, whatever let it through, is
// refused by PostgreSQL itself.
func TestReadStepsRunReadOnly(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Conn(t, dsn)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE marks (n int)"); err != nil {
		t.Fatal(err)
	}
	targets, err := sqlexec.NewTargets([]sqlexec.Target{{Name: "db", DSN: dsn}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer targets.Close()
	x := &automation.Executors{SQL: targets, DefaultSQL: "db"}
	// Classified as a read by mistake: the step says read, the text writes.
	s := &run.Step{ID: 1, Kind: playbook.KindStep, Executor: playbook.ExecSQL, Risk: playbook.RiskRead, Language: "sql",
		Text: "INSERT INTO marks VALUES (1)", Timeout: 5 * time.Second}
	_, _, err = x.Exec(context.Background(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a write in a read step: err = %v; want PostgreSQL's read-only refusal", err)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM marks").Scan(&n); err != nil || n != 0 {
		t.Fatalf("marks = %d (%v); the write committed", n, err)
	}
	s.Risk = playbook.RiskWrite // the same text as an approved write runs
	if _, _, err := x.Exec(context.Background(), s, nil); err != nil {
		t.Fatalf("as a write step: %v", err)
	}
}

// recorder is an Executor that records what it was asked to run.
type recorder struct{ got []automation.Request }

func (r *recorder) Exec(_ context.Context, req automation.Request) (*run.Result, error) {
	r.got = append(r.got, req)
	return &run.Result{Output: "ok"}, nil
}

// A step runs from the parsed form kept with it, through the executor
// registered for its kind, and never from a parsed form that does not
// match its (approved) text.
func TestStepsRunFromTheirParsedForm(t *testing.T) {
	st, err := playbook.StepFromText("sql", "SELECT count(*) AS n FROM jobs WHERE type = {{job_type}};")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := st.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	v := "batch"
	s := &run.Step{ID: 1, Kind: playbook.KindStep, Executor: playbook.ExecSQL, Risk: playbook.RiskRead, Language: "sql",
		Text: st.SQL, Parsed: parsed, Params: []run.Param{{Name: "job_type", Type: "string", Value: &v}}}
	rec := &recorder{}
	x := &automation.Executors{}
	x.Register(playbook.ExecSQL, rec)
	res, _, err := x.Exec(context.Background(), s, nil)
	if err != nil || res.Output != "ok" || len(rec.got) != 1 {
		t.Fatalf("exec = %+v, %v; calls %d", res, err, len(rec.got))
	}
	r := rec.got[0].Rendered
	if len(r.Statements) != 1 || !strings.Contains(r.Statements[0].SQL, "$1") || r.Statements[0].Args[0] != "batch" {
		t.Fatalf("rendered = %+v", r)
	}
	// The text changed behind the parsed form's back: refused.
	s.Text = "SELECT count(*) AS n FROM jobs; DELETE FROM jobs;"
	if _, _, err := x.Exec(context.Background(), s, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched parsed form: err = %v", err)
	}
	if len(rec.got) != 1 {
		t.Fatal("a step whose parsed form did not match its text reached the executor")
	}
}
