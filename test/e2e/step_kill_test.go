package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

// TestKillMidWriteStepInterruptsIt approves a slow write step, kills the
// server with SIGKILL while the step runs, and restarts it: the step is
// interrupted, never run again, the shell it started died with the server
// instead of finishing unsupervised, and what it had put in the
// background was killed by the restarted server, which also removed the
// step's temp folder.
func TestKillMidWriteStepInterruptsIt(t *testing.T) {
	bin := firebreak(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out") // where write steps may write
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(out, "fix-finished")
	started := filepath.Join(out, "fix-started")
	late := filepath.Join(out, "background-finished")
	pb := filepath.Join(dir, "playbook.md")
	doc := fmt.Sprintf(`# Slow fix

## Alert Response Procedures

### 🔴 CRITICAL: Slow Fix
<!-- firebreak: alertname=SlowFix -->

**Immediate Actions:**
1. **Apply the slow fix:**
   `+"```bash"+`
   (sleep 6; touch %s) &
   touch %s
   sleep 8
   touch %s
   `+"```"+`
`, late, started, marker)
	if err := os.WriteFile(pb, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("shell:\n  writable_paths: ["+out+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	args := []string{"--playbooks", pb, "--config", cfg}
	fb := startWith(t, bin, dataDir, args)
	in := createIntegration(t, fb, "generic", "gen")
	ctx := context.Background()

	body, _ := json.Marshal(map[string]any{"name": "SlowFix", "severity": "critical", "service": "api"})
	if _, err := harness.PostIngest(ctx, fb.Client, fb.URL, "generic", in.Key, body); err != nil {
		t.Fatalf("post alert: %v", err)
	}
	var detail struct {
		Steps []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
			Risk   string `json:"risk"`
		} `json:"steps"`
	}
	if err := fb.GetJSON(ctx, "/api/v1/incidents/1", &detail); err != nil {
		t.Fatal(err)
	}
	if len(detail.Steps) != 1 || detail.Steps[0].Status != "awaiting_approval" || detail.Steps[0].Risk != "write" {
		t.Fatalf("steps = %+v, want one write step awaiting approval", detail.Steps)
	}
	id := detail.Steps[0].ID
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/steps/%d/approve", fb.URL, id), bytes.NewReader(nil))
	req.Header.Set("Authorization", "Bearer "+fb.AdminToken)
	resp, err := fb.Client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("approve: %v %v", err, resp)
	}
	resp.Body.Close()
	waitFor(t, 15*time.Second, "the fix to start", func() (bool, string) {
		_, err := os.Stat(started)
		return err == nil, fmt.Sprint(err)
	})
	if err := fb.Kill(); err != nil {
		t.Fatal(err)
	}

	fb2 := startWith(t, bin, dataDir, args)
	var step struct {
		Step struct {
			Status   string `json:"status"`
			Reason   string `json:"reason"`
			Attempts int    `json:"attempts"`
			Proc     *struct {
				PGID int    `json:"pgid"`
				Dir  string `json:"dir"`
			} `json:"proc"`
		} `json:"step"`
	}
	waitFor(t, 15*time.Second, "the step to be marked interrupted", func() (bool, string) {
		if err := fb2.GetJSON(ctx, fmt.Sprintf("/api/v1/steps/%d", id), &step); err != nil {
			return false, err.Error()
		}
		return step.Step.Status == "interrupted", step.Step.Status
	})
	if step.Step.Attempts != 1 {
		t.Fatalf("attempts = %d: the write was run again", step.Step.Attempts)
	}
	p := step.Step.Proc
	if p == nil || p.PGID <= 1 || !strings.Contains(filepath.Base(p.Dir), "firebreak-step-") {
		t.Fatalf("proc = %+v: the step's process group was not recorded", p)
	}
	if !strings.Contains(step.Step.Reason, fmt.Sprintf("process group %d was killed", p.PGID)) {
		t.Fatalf("reason = %q: want the orphaned process group killed", step.Step.Reason)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Fatalf("temp folder %s left behind: %v", p.Dir, err)
	}
	// Well past the fix's own 8 s: it was neither re-run nor left running,
	// and neither was what it put in the background.
	time.Sleep(10 * time.Second)
	for _, f := range []string{marker, late} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s exists: the killed server's step went on, or was run again", f)
		}
	}
	if err := fb2.GetJSON(ctx, fmt.Sprintf("/api/v1/steps/%d", id), &step); err != nil || step.Step.Status != "interrupted" {
		t.Fatalf("step later = %+v, %v", step.Step, err)
	}
}

func startWith(t *testing.T, bin, dataDir string, args []string) *harness.Firebreak {
	t.Helper()
	printLogOnFailure(t, "firebreak", dataDir+".log")
	fb, err := harness.StartFirebreak(context.Background(), harness.FirebreakOptions{Bin: bin, DataDir: dataDir, Args: args})
	if err != nil {
		t.Fatalf("start firebreak: %v", err)
	}
	t.Cleanup(func() { _ = fb.Kill() })
	return fb
}
