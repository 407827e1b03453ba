package playbook

import (
	"fmt"
	"sort"
	"strings"
)

// SectionRole is what a section of a runbook is for.
type SectionRole string

const (
	// RoleContext sections (Meaning, Impact) explain the alert: their
	// text is shown with the incident and nothing in them runs.
	RoleContext SectionRole = "context"
	// RoleDiagnosis sections (Diagnosis, Investigation, Triage,
	// Assessment) hold the checks: their read steps run at once.
	RoleDiagnosis SectionRole = "diagnosis"
	// RoleMitigation sections (Mitigation, Remediation, Resolution,
	// Recovery) change things: every step waits for a person, writes for
	// approval.
	RoleMitigation SectionRole = "mitigation"
	// RoleOther is a section the table does not name that holds commands:
	// its steps wait for a responder, as a mitigation's do.
	RoleOther SectionRole = "other"
)

// defaultSections is the built-in section table.
var defaultSections = map[SectionRole][]string{
	RoleContext:    {"Meaning", "Impact"},
	RoleDiagnosis:  {"Diagnosis", "Diagnostics", "Investigation", "Triage", "Assessment"},
	RoleMitigation: {"Mitigation", "Remediation", "Resolution", "Recovery"},
}

// SectionTable maps runbook section titles to their roles. The zero value
// is not usable; use DefaultSectionTable or NewSectionTable.
type SectionTable struct {
	names map[string]SectionRole // normalised name → role
}

// DefaultSectionTable returns the built-in table.
func DefaultSectionTable() *SectionTable {
	t, _ := NewSectionTable(nil)
	return t
}

// NewSectionTable returns the built-in table with extra names added; a
// name given here takes the role it is given, also when the built-in
// table has it under another (config playbook_sections). Roles are
// context, diagnosis and mitigation.
func NewSectionTable(extra map[string][]string) (*SectionTable, error) {
	t := &SectionTable{names: map[string]SectionRole{}}
	add := func(role SectionRole, name string) {
		n := normalize(name)
		t.names[n] = role
	}
	for role, names := range defaultSections {
		for _, n := range names {
			add(role, n)
		}
	}
	roles := make([]string, 0, len(extra))
	for r := range extra {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	seen := map[string]string{}
	for _, r := range roles {
		role := SectionRole(r)
		switch role {
		case RoleContext, RoleDiagnosis, RoleMitigation:
		default:
			return nil, fmt.Errorf("playbook_sections: %q is not a role (context, diagnosis, mitigation)", r)
		}
		for i, name := range extra[r] {
			n := normalize(name)
			if n == "" {
				return nil, fmt.Errorf("playbook_sections.%s[%d]: %q is not a section title", r, i, name)
			}
			if other, dup := seen[n]; dup && other != r {
				return nil, fmt.Errorf("playbook_sections.%s[%d]: %q is also listed under %s", r, i, name, other)
			}
			seen[n] = r
			add(role, name)
		}
	}
	return t, nil
}

// Role returns the role of a section title: the title itself, else its
// first word that the table names (a plural "s" ignored), so that
// "Diagnosis steps" and "Possible mitigations" are found. ok is false
// when nothing matches.
func (t *SectionTable) Role(title string) (SectionRole, bool) {
	if t == nil {
		t = builtinSections
	}
	h, _, _ := splitHeading(strings.TrimRight(strings.TrimSpace(title), ":"))
	if r, ok := t.names[normalize(h)]; ok {
		return r, true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(h), func(r rune) bool { return !isWordRune(r) }) {
		n := normalize(w)
		if r, ok := t.names[n]; ok {
			return r, true
		}
		if r, ok := t.names[strings.TrimSuffix(n, "s")]; ok && strings.HasSuffix(n, "s") {
			return r, true
		}
	}
	return "", false
}

var builtinSections = DefaultSectionTable()

func isWordRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 0x2FF
}
