package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/config"
)

func TestPlaybookURLsAndSections(t *testing.T) {
	p := write(t, `playbooks: [runbooks/]
playbook_urls:
  "https://runbooks.example.com/": runbooks/
  "https://runbooks.prometheus-operator.dev/runbooks/": runbooks/upstream
playbook_sections:
  diagnosis: [Checks, First look]
  context: [Summary]
`)
	c, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	// Folders are relative to the file, as playbooks are.
	if got := c.PlaybookURLs["https://runbooks.example.com/"]; got != filepath.Join(dir, "runbooks") {
		t.Errorf("folder = %q, want it next to the file", got)
	}
	if got := c.PlaybookURLs["https://runbooks.prometheus-operator.dev/runbooks/"]; got != filepath.Join(dir, "runbooks/upstream") {
		t.Errorf("folder = %q", got)
	}
	if strings.Join(c.PlaybookSections["diagnosis"], ",") != "Checks,First look" {
		t.Errorf("sections = %v", c.PlaybookSections)
	}
}

func TestPlaybookSettingsErrorsNameTheField(t *testing.T) {
	cases := []struct{ body, want string }{
		{"playbooks: [rb]\nplaybook_urls:\n  \"runbooks.example.com\": rb\n", `playbook_urls["runbooks.example.com"]: the key must be an http or https URL prefix`},
		{"playbooks: [rb]\nplaybook_urls:\n  \"ftp://x/\": rb\n", `playbook_urls["ftp://x/"]`},
		{"playbooks: [rb]\nplaybook_urls:\n  \"https://x/?a=1\": rb\n", "without query or fragment"},
		{"playbooks: [rb]\nplaybook_urls:\n  \"https://x/\": \"\"\n", `playbook_urls["https://x/"]: must name the folder`},
		{"playbooks: [rb]\nplaybook_urls:\n  \"https://x/\": elsewhere\n", "is not inside any of playbooks"},
		{"playbook_urls:\n  \"https://x/\": rb\n", "playbooks is empty"},
		{"playbook_sections:\n  checks: [Diagnosis]\n", `playbook_sections.checks: "checks" is not a role`},
		{"playbook_sections:\n  diagnosis: [\"  \"]\n", "playbook_sections.diagnosis[0]"},
		{"playbook_sections:\n  diagnosis: [Checks]\n  mitigation: [checks]\n", `playbook_sections.mitigation[0]: "checks" is also listed under diagnosis`},
		{"playbook_section:\n  diagnosis: [Checks]\n", "field playbook_section not found"},
	}
	for _, c := range cases {
		cfg, err := config.Load(write(t, c.body), env(nil))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.body, err, c.want)
		}
	}
}
