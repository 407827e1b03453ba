package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// safetyProbe opens an incident on testdata/safety.md with hostile labels
// and waits for its automatic diagnostics.
func safetyProbe(t *testing.T, o options) *bundle {
	t.Helper()
	if o.exec == nil {
		o.exec, _, _ = exampleExecutors(t)
	}
	o.playbooks = []string{"testdata/safety.md"}
	b := setupWith(t, o)
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{
		"name": "SafetyProbe", "service": "probe",
		"labels": map[string]string{"suspicious_ip": "10.1.2.3", "note_text": "$(touch /tmp/fb-note-pwned)"},
	}, 200, nil)
	b.waitStep(1, "investigation/1")
	b.waitStep(1, "investigation/3")
	return b
}

// A responder edits a step into each of these. Bash is no security
// boundary, so none may run before the procedure's approvers saw it,
// whatever the classifier thinks of it; each is also a write to the
// classifier.
func bypassShapes(mark string) map[string]string {
	return map[string]string{
		"quotes across lines":     "kubectl get pods | head -n1 'A\nkubectl get pods '; touch " + mark + "; kubectl get pods 'B\nkubectl get pods C'",
		"sort -o":                 "kubectl get pods 2>/dev/null | sort -o " + mark,
		"head of a file":          "kubectl get pods | head -n1 firebreak-data/admin-token | tr a-z A-Z",
		"redirection":             "kubectl get pods > " + mark,
		"append":                  "kubectl get pods >> " + mark,
		"tee":                     "kubectl get pods | tee " + mark,
		"semicolon":               "kubectl get pods; touch " + mark,
		"or":                      "kubectl get pods || touch " + mark,
		"and":                     "kubectl get pods && touch " + mark,
		"command substitution":    "kubectl get pods $(touch " + mark + ")",
		"backticks":               "kubectl get pods `touch " + mark + "`",
		"substitution in quotes":  "kubectl get pods \"$(touch " + mark + ")\"",
		"awk system":              "kubectl get pods | awk 'BEGIN{system(\"touch " + mark + "\")}'",
		"xargs":                   "kubectl get pods | xargs touch " + mark,
		"find -exec":              "find / -maxdepth 0 -exec touch " + mark + " ;",
		"sed w":                   "kubectl get pods | sed -n 'w " + mark + "'",
		"here-string":             "kubectl get pods <<< $(touch " + mark + ")",
		"env":                     "env touch " + mark,
		"sh -c":                   "sh -c 'touch " + mark + "'",
		"process substitution":    "kubectl get pods | grep -f <(touch " + mark + ")",
		"variable command name":   "X=touch; $X " + mark,
		"braces":                  "{ kubectl get pods; touch " + mark + "; }",
		"newline":                 "kubectl get pods\ntouch " + mark,
		"subshell":                "(touch " + mark + ")",
		"eval":                    "eval 'touch " + mark + "'",
		"grep -r reads files":     "kubectl get pods | grep -r token firebreak-data",
		"sort --compress-program": "kubectl get pods | sort --compress-program=sh",
		"background":              "kubectl get pods & touch " + mark,
	}
}

func TestShellEditsNeverSkipApproval(t *testing.T) {
	b := safetyProbe(t, options{})
	mark := filepath.Join(t.TempDir(), "pwned")
	list := b.step(1, "investigation/1") // kubectl get pods | head: a read that ran by itself
	if list.Status != run.StatusSucceeded || list.Attempts != 1 {
		t.Fatalf("list pods = %s (%s), attempts %d", list.Status, list.Error, list.Attempts)
	}
	for name, text := range bypassShapes(mark) {
		t.Run(name, func(t *testing.T) {
			var out struct{ Step run.Step }
			b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", list.ID), "responder", map[string]string{"text": text}, 200, &out)
			s := out.Step
			if s.Status != run.StatusAwaitingApproval || len(s.Approvals) != 0 || s.Approvers != 2 {
				t.Fatalf("edit ran or was approved by the editor: status %s, approvals %v, approvers needed %d", s.Status, s.Approvals, s.Approvers)
			}
			if s.Risk != "write" {
				t.Errorf("classified %s; want write", s.Risk)
			}
		})
	}
	// A harmless edit waits too: only the playbook's own text runs unasked.
	var out struct{ Step run.Step }
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", list.ID), "responder", map[string]string{"text": "kubectl get pods -n other"}, 200, &out)
	if out.Step.Status != run.StatusAwaitingApproval || out.Step.Risk != "read" {
		t.Fatalf("harmless shell edit = %s %s; want read awaiting approval", out.Step.Status, out.Step.Risk)
	}
	// Approving with an edit counts as one approval of the edit: a
	// two-person step still waits for the second.
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/approve", list.ID), "responder", map[string]string{"text": "kubectl get pods; touch " + mark}, 200, &out)
	if out.Step.Status != run.StatusAwaitingApproval || len(out.Step.Approvals) != 1 {
		t.Fatalf("after one approval of a two-person edit: %s %v", out.Step.Status, out.Step.Approvals)
	}
	b.engine.Poke()
	time.Sleep(300 * time.Millisecond)
	if s := b.step(1, "investigation/1"); s.Attempts != 1 || s.Status != run.StatusAwaitingApproval {
		t.Fatalf("the edited step ran: attempts %d, status %s", s.Attempts, s.Status)
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatalf("marker %s exists: an edit ran", mark)
	}
	// A rejected (cancelled) step edited and run again waits as well.
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/reject", list.ID), "responder", map[string]string{"reason": "no"}, 200, nil)
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", list.ID), "responder", map[string]string{"text": "kubectl get pods | sort -o " + mark}, 200, &out)
	if out.Step.Status != run.StatusAwaitingApproval {
		t.Fatalf("cancelled step edited and run = %s", out.Step.Status)
	}
}

// Edited SQL that is a read runs at once, inside READ ONLY; edited SQL
// that hides a write behind a read waits.
func TestSQLEdits(t *testing.T) {
	b := safetyProbe(t, options{})
	count := b.step(1, "investigation/3")
	var out struct{ Step run.Step }
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", count.ID), "responder", map[string]string{"text": "SELECT count(*) AS n FROM jobs WHERE status = 'RUNNING';"}, 200, &out)
	if out.Step.Status != run.StatusPending || !out.Step.Edited {
		t.Fatalf("read SQL edit = %s", out.Step.Status)
	}
	if s := b.waitStep(1, "investigation/3"); s.Status != run.StatusSucceeded {
		t.Fatalf("read SQL edit ran: %s %s", s.Status, s.Error)
	}
	b.json("POST", fmt.Sprintf("/api/v1/steps/%d/run", count.ID), "responder", map[string]string{"text": "SELECT 1;\nUPDATE jobs SET status = 'PENDING';"}, 200, &out)
	if out.Step.Status != run.StatusAwaitingApproval || out.Step.Risk != "write" {
		t.Fatalf("write hidden after a read = %s %s", out.Step.Status, out.Step.Risk)
	}
}

// The second approver changes a parameter: the first approval no longer
// holds, the change is on the timeline, and the step runs only with a
// value both approvers saw.
func TestParameterSwapClearsApprovals(t *testing.T) {
	b := safetyProbe(t, options{})
	block := b.step(1, "investigation/2")
	if block.Approvers != 2 || block.Status != run.StatusAwaitingApproval || *block.Params[0].Value != "10.1.2.3" {
		t.Fatalf("block step = %+v", block)
	}
	url := fmt.Sprintf("/api/v1/steps/%d/approve", block.ID)
	var out struct{ Step run.Step }
	b.json("POST", url, "responder", nil, 200, &out)
	if len(out.Step.Approvals) != 1 || out.Step.Approvals[0].Digest != run.RequestDigest(&out.Step) {
		t.Fatalf("approval does not bind to the digest: %+v", out.Step.Approvals)
	}
	b.json("POST", url, "admin", map[string]any{"params": map[string]string{"SUSPICIOUS_IP": "10.9.9.9"}}, 200, &out)
	if out.Step.Status != run.StatusAwaitingApproval || len(out.Step.Approvals) != 1 || out.Step.Approvals[0].Actor != "admin" {
		t.Fatalf("after the swap: %s, approvals %+v; want only admin's", out.Step.Status, out.Step.Approvals)
	}
	var tl struct{ Timeline []incident.TimelineEntry }
	b.json("GET", "/api/v1/incidents/1/timeline", "viewer", nil, 200, &tl)
	found := false
	for _, e := range tl.Timeline {
		if e.Kind == "step.approvals_cleared" && e.Actor == "admin" && strings.Contains(e.Message, "responder") && strings.Contains(e.Message, "10.9.9.9") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no timeline entry for the cleared approval: %+v", tl.Timeline)
	}
	b.engine.Poke()
	time.Sleep(200 * time.Millisecond)
	if s := b.step(1, "investigation/2"); s.Attempts != 0 {
		t.Fatalf("ran with a value only one approver saw")
	}
	b.json("POST", url, "responder", nil, 200, &out)
	s := b.waitStep(1, "investigation/2")
	if s.Status != run.StatusSucceeded || !strings.Contains(s.Result.Output, "block 10.9.9.9") {
		t.Fatalf("after both approved the new value: %s %s %+v", s.Status, s.Error, s.Result)
	}
}

// The claim is the last gate: a step whose text changed after approval,
// or a write queued without approval, is refused whatever queued it.
func TestClaimChecksTheApprovedDigest(t *testing.T) {
	b := safetyProbe(t, options{})
	ctx := context.Background()
	st := b.store
	mark := filepath.Join(t.TempDir(), "pwned")
	b.json("POST", "/api/v1/automation/pause", "admin", nil, 200, nil)
	note := b.step(1, "investigation/4")
	url := fmt.Sprintf("/api/v1/steps/%d/approve", note.ID)
	b.json("POST", url, "responder", map[string]any{"params": map[string]string{"NOTE_TEXT": "hello"}}, 200, nil)
	b.json("POST", url, "admin", nil, 200, nil)
	block := b.step(1, "investigation/2")
	err := st.InTx(ctx, func(tx store.Tx) error {
		s, err := tx.LockStep(ctx, note.ID)
		if err != nil {
			return err
		}
		if s.Status != run.StatusPending || !s.Queued {
			return fmt.Errorf("approved step is %s, queued %v", s.Status, s.Queued)
		}
		s.Text = "touch " + mark // changed after approval
		w, err := tx.LockStep(ctx, block.ID)
		if err != nil {
			return err
		}
		w.Status, w.Queued = run.StatusPending, true // a write queued with no approval
		return tx.UpdateSteps(ctx, []*run.Step{s, w})
	})
	if err != nil {
		t.Fatal(err)
	}
	b.json("POST", "/api/v1/automation/resume", "admin", nil, 200, nil)
	for _, key := range []string{"investigation/4", "investigation/2"} {
		s := b.waitStep(1, key)
		if s.Status != run.StatusFailed || !strings.Contains(s.Error, "refused to run") || s.Result != nil {
			t.Errorf("%s = %s %q; want refused", key, s.Status, s.Error)
		}
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatalf("marker exists: a tampered step ran")
	}
}

// A placeholder in text another interpreter parses is refused in an edit,
// as lint refuses it in a playbook: an alert's value would become code.
func TestNestedInterpreterEditRefused(t *testing.T) {
	b := safetyProbe(t, options{})
	note := b.step(1, "investigation/4")
	if p := note.Params[0]; p.Value == nil || !strings.HasPrefix(p.From, "label:") {
		t.Fatalf("NOTE_TEXT = %+v; want the label's value", p)
	}
	url := fmt.Sprintf("/api/v1/steps/%d/approve", note.ID)
	for _, text := range []string{`sh -c "echo NOTE_TEXT"`, `bash -c 'printf %s NOTE_TEXT'`, `ssh host echo NOTE_TEXT`, `eval echo NOTE_TEXT`} {
		b.wantError("POST", url, "responder", map[string]any{"text": text, "params": map[string]string{"NOTE_TEXT": "typed"}}, 400, incident.EINVALID, "NOTE_TEXT")
	}
	if s := b.step(1, "investigation/4"); s.Edited || len(s.Approvals) != 0 {
		t.Fatalf("refused edit left a trace on the step: %+v", s)
	}
}

// Resolving by alert takes the same path as resolving by hand: waiting
// and queued steps are cancelled.
func TestResolveByAlertCancelsSteps(t *testing.T) {
	exec, _, _ := exampleExecutors(t)
	b := setupWith(t, options{exec: exec, playbooks: []string{"testdata/safety.md"}})
	b.json("POST", "/api/v1/automation/pause", "admin", nil, 200, nil)
	alert := map[string]any{"name": "SafetyProbe", "service": "probe", "dedup_key": "probe-1", "labels": map[string]string{"suspicious_ip": "10.1.2.3"}}
	b.json("POST", "/api/v1/ingest/generic", "gen", alert, 200, nil)
	waiting := 0
	for _, s := range b.detail(1).Steps {
		if s.Status == run.StatusAwaitingApproval || s.Status == run.StatusPending && s.Auto {
			waiting++
		}
	}
	if waiting < 3 {
		t.Fatalf("%d waiting or queued steps before the resolve; the test needs both kinds", waiting)
	}
	alert["status"] = "resolved"
	b.json("POST", "/api/v1/ingest/generic", "gen", alert, 200, nil)
	d := b.detail(1)
	if d.Incident.Status != incident.StatusResolved {
		t.Fatalf("incident = %s", d.Incident.Status)
	}
	for _, s := range d.Steps {
		if s.Kind == "step" && s.Status != run.StatusCancelled && !s.Status.Final() {
			t.Errorf("step %s is %s after the alert resolved", s.TaskKey, s.Status)
		}
	}
	b.json("POST", "/api/v1/automation/resume", "admin", nil, 200, nil)
	time.Sleep(200 * time.Millisecond)
	for _, s := range b.detail(1).Steps {
		if s.Attempts != 0 {
			t.Errorf("step %s ran after the incident resolved", s.TaskKey)
		}
	}
}
