package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Section roles a runbook's section titles can be given in
// playbook_sections.
var sectionRoles = []string{"context", "diagnosis", "mitigation"}

// validatePlaybooks checks playbook_urls and playbook_sections.
//
//	playbook_urls:
//	  "https://runbooks.example.com/": runbooks/     # a folder inside playbooks
//	playbook_sections:
//	  diagnosis: [Checks, "First look"]
//	  context: [Summary]
func (c *Config) validatePlaybooks() error {
	prefixes := make([]string, 0, len(c.PlaybookURLs))
	for p := range c.PlaybookURLs {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		folder := c.PlaybookURLs[p]
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("playbook_urls[%q]: the key must be an http or https URL prefix without query or fragment, such as https://runbooks.example.com/", p)
		}
		if strings.TrimSpace(folder) == "" {
			return fmt.Errorf("playbook_urls[%q]: must name the folder that holds the linked runbooks", p)
		}
		if !insideAny(folder, c.Playbooks) {
			if len(c.Playbooks) == 0 {
				return fmt.Errorf("playbook_urls[%q]: folder %s is not loaded: playbooks is empty (the bundled example); list the runbook folder under playbooks", p, folder)
			}
			return fmt.Errorf("playbook_urls[%q]: folder %s is not inside any of playbooks (%s), so no runbook there is loaded", p, folder, strings.Join(c.Playbooks, ", "))
		}
	}
	seen := map[string]string{}
	roles := make([]string, 0, len(c.PlaybookSections))
	for r := range c.PlaybookSections {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		known := false
		for _, k := range sectionRoles {
			known = known || r == k
		}
		if !known {
			return fmt.Errorf("playbook_sections.%s: %q is not a role; use %s", r, r, strings.Join(sectionRoles, ", "))
		}
		for i, name := range c.PlaybookSections[r] {
			n := sectionKey(name)
			if n == "" {
				return fmt.Errorf("playbook_sections.%s[%d]: %q is not a section title", r, i, name)
			}
			if other, dup := seen[n]; dup && other != r {
				return fmt.Errorf("playbook_sections.%s[%d]: %q is also listed under %s", r, i, name, other)
			}
			seen[n] = r
		}
	}
	return nil
}

// sectionKey compares section titles as the playbook parser does: lower
// case, letters and digits only.
func sectionKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// insideAny reports whether folder is one of paths or inside one.
func insideAny(folder string, paths []string) bool {
	f, err := filepath.Abs(folder)
	if err != nil {
		return false
	}
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(a, f); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
