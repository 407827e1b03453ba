package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/cli"
)

const runbooks = "../playbook/testdata/runbooks"

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := cli.Run(context.Background(), args, env)
	return out.String(), errOut.String(), err
}

// Lint of a runbook collection passes and ends with what it yields.
func TestLintRunbookCollection(t *testing.T) {
	out, errOut, err := runCLI(t, "playbook", "lint", runbooks)
	if err != nil {
		t.Fatalf("lint: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"KubePodCrashLooping.md:3:1: info: front matter key \"weight\" is not Firebreak's",
		"_index.md:1:1: info: a section page (_index.md) describes a folder, not an alert",
		// A write in an inline span is placed at the span's command.
		"KubePodCrashLooping.md:38:56: info: write step \"Roll the deployment back\" (mitigation/1): kubectl rollout restart changes the cluster",
		"\nSummary: 11 file(s), 8 procedure(s) (8 runbook(s)), 3 section page(s)\n",
		"Steps: 27 (kube read 8, kube write 1, shell read 7, shell write 8, sql read 2, sql write 1)\n",
		"Unresolved placeholders (no alert label fills them; the approver types them): 1\n  db_user  1 step(s): ",
		"Files without procedures: 3\n",
		"README.md: a README without alert procedures is a section page\n",
		"Findings: 0 error(s), 2 warning(s), 13 info(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "0 error(s), 2 warning(s), 13 info(s)") {
		t.Errorf("stderr %q", errOut)
	}
	// A broken runbook fails lint and is listed as yielding nothing.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "KubeX.md"), []byte("---\ntargets: {mysql: db}\n---\n# KubeX\n## Diagnosis\n- `kubectl get pods`\n"), 0o600)
	out, _, err = runCLI(t, "playbook", "lint", dir)
	if err == nil || !strings.Contains(out, "KubeX.md:2:11: error: front matter targets: unknown executor \"mysql\"") || !strings.Contains(out, "KubeX.md: not loaded: 1 error(s)") {
		t.Fatalf("broken runbook: %v\n%s", err, out)
	}
}

func TestShowAndDryRunRunbooks(t *testing.T) {
	out, _, err := runCLI(t, "playbook", "show", filepath.Join(runbooks, "kubernetes", "KubePodCrashLooping.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"matches alertname KubePodCrashLooping (by name, any case and spacing), or a runbook_url that links this file",
		"  Meaning: A container of a pod keeps exiting",
		"diagnosis/1   step       kube   read   auto      Check pod events",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	alert := filepath.Join(t.TempDir(), "alert.json")
	os.WriteFile(alert, []byte(`{"name":"PodRestartsHigh","labels":{"namespace":"shop","pod":"api-7d9f"},
		"annotations":{"runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"}}`), 0o600)
	out, _, err = runCLI(t, "playbook", "dry-run", runbooks, "--alert", alert, "--json")
	if err != nil {
		t.Fatalf("dry-run: %v\n%s", err, out)
	}
	var res struct {
		DryRun struct {
			Playbook string
			Match    struct{ By, Reason string }
			Context  []struct{ Title string }
			Tasks    []struct {
				Key    string
				RunsAt string `json:"runs_at"`
				Params []struct{ Name, Value, From string }
			}
		} `json:"dry_run"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	d := res.DryRun
	if d.Playbook != "kubernetes/kubepodcrashlooping" || d.Match.By != "runbook_url" || len(d.Context) != 2 {
		t.Fatalf("dry-run %+v", d)
	}
	first := d.Tasks[0]
	if first.Key != "diagnosis/1" || first.RunsAt != "immediately" || len(first.Params) != 2 ||
		first.Params[0].Value != "shop" || first.Params[0].From != "label namespace" || first.Params[1].Value != "api-7d9f" {
		t.Errorf("first task %+v", first)
	}
	// --config brings the section table and the URL prefixes.
	cfg := filepath.Join(t.TempDir(), "firebreak.yaml")
	abs, _ := filepath.Abs(runbooks)
	os.WriteFile(cfg, []byte("playbooks: ["+abs+"]\nplaybook_urls:\n  \"https://wiki.example.com/rb/\": "+abs+"/node\nplaybook_sections:\n  context: [Investigation]\n"), 0o600)
	os.WriteFile(alert, []byte(`{"name":"X","annotations":{"runbook_url":"https://wiki.example.com/rb/NodeFilesystemAlmostOutOfSpace"}}`), 0o600)
	out, _, err = runCLI(t, "playbook", "dry-run", runbooks, "--alert", alert, "--config", cfg)
	if err != nil || !strings.Contains(out, "Matched by      runbook_url: runbook_url https://wiki.example.com/rb/NodeFilesystemAlmostOutOfSpace") ||
		!strings.Contains(out, "Investigation   - Ask Prometheus") {
		t.Errorf("dry-run --config: %v\n%s", err, out)
	}
}
