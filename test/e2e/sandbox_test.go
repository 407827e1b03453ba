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

// TestStepSandbox runs an approved edit that tries to read the admin token
// and the config file and to write outside its temp folder, against the
// real binary: the approval lets it run, and Landlock still stops it. It
// also sends a 5 MiB edit, which is refused while the server's memory
// stays bounded.
func TestStepSandbox(t *testing.T) {
	bin := firebreak(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "playbook.md")
	doc := "# Sandbox probe\n\n## Alert Response Procedures\n\n### 🔴 CRITICAL: Sandbox Probe\n<!-- firebreak: alertname=SandboxProbe -->\n\n" +
		"**Immediate Actions:**\n1. **Write a note:**\n   ```bash {\"risk\":\"write\"}\n   printf 'note\\n' > " + filepath.Join(out, "note") + "\n   ```\n"
	if err := os.WriteFile(pb, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("shell:\n  writable_paths: ["+out+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	fb := startWith(t, bin, dataDir, []string{"--playbooks", pb, "--config", cfg})
	var ready struct {
		Checks struct {
			Sandbox string `json:"sandbox"`
		} `json:"checks"`
	}
	if err := fb.GetJSON(context.Background(), "/readyz", &ready); err != nil {
		t.Fatal(err)
	}
	if sb := ready.Checks.Sandbox; !strings.HasPrefix(sb, "landlock") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandbox = %q; CI machines here support Landlock", sb)
		}
		t.Skipf("no Landlock on this kernel: %q", sb)
	}
	in := createIntegration(t, fb, "generic", "gen")
	ctx := context.Background()
	body, _ := json.Marshal(map[string]any{"name": "SandboxProbe", "severity": "critical", "service": "api"})
	if _, err := harness.PostIngest(ctx, fb.Client, fb.URL, "generic", in.Key, body); err != nil {
		t.Fatalf("post alert: %v", err)
	}
	var detail struct {
		Steps []struct {
			ID int64 `json:"id"`
		} `json:"steps"`
	}
	if err := fb.GetJSON(ctx, "/api/v1/incidents/1", &detail); err != nil || len(detail.Steps) != 1 {
		t.Fatalf("incident 1: %+v, %v", detail, err)
	}
	id := detail.Steps[0].ID

	big := strings.Repeat("kubectl get pods\n", 5<<20/17)
	status, answer := postJSON(t, fb, fmt.Sprintf("/api/v1/steps/%d/run", id), map[string]string{"text": big})
	if status != 400 && status != 413 {
		t.Fatalf("5 MiB edit: %d %s", status, answer)
	}
	if peak, err := fb.PeakRSS(); err != nil || peak > 300<<20 {
		t.Fatalf("peak RSS after a 5 MiB edit = %d MiB (%v); want under 300", peak>>20, err)
	}

	outside := filepath.Join(dir, "outside")
	script := strings.Join([]string{
		"cat " + filepath.Join(dataDir, "admin-token"),
		"cat " + cfg,
		"touch " + outside,
		"touch " + filepath.Join(dataDir, "planted"),
		"printf 'ran\\n' > " + filepath.Join(out, "ran"),
	}, "\n")
	if status, answer := postJSON(t, fb, fmt.Sprintf("/api/v1/steps/%d/approve", id), map[string]string{"text": script}); status != 200 {
		t.Fatalf("approve the edit: %d %s", status, answer)
	}
	var step struct {
		Step struct {
			Status string `json:"status"`
			Result *struct {
				Output string `json:"output"`
			} `json:"result"`
		} `json:"step"`
	}
	waitFor(t, 20*time.Second, "the step to finish", func() (bool, string) {
		if err := fb.GetJSON(ctx, fmt.Sprintf("/api/v1/steps/%d", id), &step); err != nil {
			return false, err.Error()
		}
		return step.Step.Status == "succeeded" || step.Step.Status == "failed", step.Step.Status
	})
	if step.Step.Result == nil {
		t.Fatalf("step %s without output", step.Step.Status)
	}
	output := step.Step.Result.Output
	if strings.Contains(strings.ToLower(output), strings.ToLower(fb.AdminToken)) || strings.Contains(output, "writable_paths") {
		t.Fatalf("the step read Firebreak's secrets:\n%s", output)
	}
	if !strings.Contains(output, "Permission denied") {
		t.Fatalf("output = %q; want the sandbox's refusals", output)
	}
	for _, f := range []string{outside, filepath.Join(dataDir, "planted")} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s was written from a step", f)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "ran")); err != nil {
		t.Errorf("the step could not write where shell.writable_paths allows: %v", err)
	}
}

func postJSON(t *testing.T, fb *harness.Firebreak, path string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", fb.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+fb.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := fb.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
