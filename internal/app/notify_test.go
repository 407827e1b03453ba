package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// A channel's own template replaces the playbook's for that channel only;
// one from a file is read relative to the configuration.
func TestChannelTemplates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "teams.txt"), []byte("[Alert Name] is [CRITICAL/WARNING]; owner [Team member]\n"), 0o600)
	cfg := filepath.Join(dir, "firebreak.yaml")
	os.WriteFile(cfg, []byte(`notify:
  channels:
    short: {type: webhook, url: "https://hooks.example/fb", secret_env: S, template: "[Severity] [Alert Name] since [Timestamp]"}
    teams: {type: teams, url: "https://teams.example/hook", template_file: teams.txt}
    plain: {type: webhook, url: "https://hooks.example/2", secret_env: S}
`), 0o600)
	c, err := config.Load(cfg, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	own, err := Templates(&c, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	lib, err := playbook.NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	render := TemplateRenderer(lib, own)
	inc := &incident.Incident{Title: "HighQueueDepth", Severity: incident.SeverityCritical, StartedAt: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)}
	m := &notify.Message{}
	if got := render("short", m, inc); got != "critical HighQueueDepth since 2026-12-01 03:00 UTC" {
		t.Errorf("short: %q", got)
	}
	if got := render("teams", m, inc); got != "HighQueueDepth is CRITICAL; owner not yet known" {
		t.Errorf("teams: %q", got)
	}
	if got := render("plain", m, inc); !strings.Contains(got, "ALERT: HighQueueDepth") || !strings.Contains(got, "Investigating: not yet known") {
		t.Errorf("a channel without its own template: %q", got)
	}
	c.Notify.Channels["teams"] = config.Channel{Type: "teams", URL: "https://teams.example/hook", TemplateFile: filepath.Join(dir, "missing.txt")}
	if _, err := Templates(&c, os.ReadFile); err == nil || !strings.Contains(err.Error(), "notify.channels.teams.template_file") {
		t.Errorf("a missing template file: %v", err)
	}
}
