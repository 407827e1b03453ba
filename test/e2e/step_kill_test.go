package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

// TestKillMidWriteStepInterruptsIt approves a slow write step, kills the
// server with SIGKILL while the step runs, and restarts it: the step is
// interrupted, never run again, and the shell it started died with the
// server instead of finishing unsupervised.
func TestKillMidWriteStepInterruptsIt(t *testing.T) {
	bin := firebreak(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "fix-finished")
	started := filepath.Join(dir, "fix-started")
	pb := filepath.Join(dir, "playbook.md")
	doc := fmt.Sprintf(`# Slow fix

## Alert Response Procedures

### 🔴 CRITICAL: Slow Fix
<!-- firebreak: alertname=SlowFix -->

**Immediate Actions:**
1. **Apply the slow fix:**
   `+"```bash"+`
   touch %s
   sleep 8
   touch %s
   `+"```"+`
`, started, marker)
	if err := os.WriteFile(pb, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	args := []string{"--playbooks", pb}
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
	// Well past the fix's own 8 s: it was neither re-run nor left running.
	time.Sleep(10 * time.Second)
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("%s exists: the killed server's fix ran to completion, or was run again", marker)
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
