// Package template fills a playbook's Communication Templates with an
// incident's values, so a notification reads the way the team wrote it.
//
// Every field of the template is replaced: a placeholder such as
// "[Alert Name]" by its value, a choice such as "[CRITICAL/WARNING]" by
// the matching choice, a fixed line such as "Service: Telegram Platform"
// by the incident's service when it has one. A field with no value reads
// NotKnown, never a blank, "<no value>" or the bracketed placeholder.
package template

import (
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// NotKnown is what a field without a value says.
const NotKnown = "not yet known"

// TimeLayout formats StartedAt.
const TimeLayout = "2006-01-02 15:04 MST"

// Values are what an incident knows for a template.
type Values struct {
	AlertName string
	// Severity is matched against choice fields ("critical" picks
	// CRITICAL) using the usual spellings (page, p1, warn, …).
	Severity  string
	Service   string
	Status    string
	StartedAt time.Time
	// Location formats StartedAt; nil means UTC.
	Location *time.Location
	// Responder fills "[Team member]" / "Investigating:".
	Responder string
	// ETA fills "[Estimated resolution time]" / "[ETA]".
	ETA         string
	Impact      string
	Summary     string
	Description string
	IncidentURL string
	// Extra fills any other field by its name or its line label, compared
	// without regard to case, spaces or punctuation: Extra["fix/mitigation"]
	// = "mitigation". Extra wins over the named values.
	Extra map[string]string
}

// Render returns t's body with every field filled from v.
func Render(t *playbook.Template, v Values) string {
	if t == nil {
		return ""
	}
	var pairs []string
	for _, f := range t.Fields {
		switch f.Kind {
		case playbook.FieldFixed:
			if f.Label == "" || f.Value == "" {
				continue
			}
			val := v.lookup(f.Label, f.Name)
			if val == "" {
				continue // the written value stands
			}
			pairs = append(pairs, f.Label+": "+f.Value, f.Label+": "+val)
		case playbook.FieldChoice:
			if f.Placeholder == "" {
				continue
			}
			pairs = append(pairs, f.Placeholder, or(choose(f, v.lookup(f.Label, f.Name)), NotKnown))
		default:
			if f.Placeholder == "" {
				continue
			}
			pairs = append(pairs, f.Placeholder, or(v.lookup(f.Label, f.Name), NotKnown))
		}
	}
	if len(pairs) == 0 {
		return t.Body
	}
	// One pass, so a value that happens to contain another field's
	// placeholder is not itself replaced.
	return strings.NewReplacer(pairs...).Replace(t.Body)
}

// lookup finds the value for a field: by label first (the line says what
// the value is: "Impact: [Brief description]"), then by name.
func (v Values) lookup(label, name string) string {
	for _, k := range []string{label, name} {
		if k == "" {
			continue
		}
		if s := v.extra(k); s != "" {
			return s
		}
	}
	for _, k := range []string{label, name} {
		if k == "" {
			continue
		}
		if s := oneLine(v.known(norm(k))); s != "" {
			return s
		}
	}
	return ""
}

func (v Values) extra(key string) string {
	if s, ok := v.Extra[key]; ok && strings.TrimSpace(s) != "" {
		return oneLine(s)
	}
	n := norm(key)
	for k, s := range v.Extra {
		if norm(k) == n && strings.TrimSpace(s) != "" {
			return oneLine(s)
		}
	}
	return ""
}

// known maps the names playbooks use for a field onto Values.
func (v Values) known(key string) string {
	switch key {
	case "alertname", "alert", "alerttitle", "title", "incident", "incidenttitle":
		return v.AlertName
	case "severity", "priority", "criticalwarning", "criticalwarninginfo":
		return v.Severity
	case "service", "system", "component", "affectedservice":
		return v.Service
	case "status", "state":
		return v.Status
	case "timestamp", "started", "startedat", "starttime", "time", "since", "detected", "detectedat":
		if v.StartedAt.IsZero() {
			return ""
		}
		loc := v.Location
		if loc == nil {
			loc = time.UTC
		}
		return v.StartedAt.In(loc).Format(TimeLayout)
	case "teammember", "investigating", "responder", "owner", "assignee", "oncall", "incidentcommander":
		return v.Responder
	case "estimatedresolutiontime", "eta", "resolutiontime", "expectedresolution":
		return v.ETA
	case "impact", "customerimpact", "userimpact":
		return v.Impact
	case "summary":
		return or(v.Summary, v.Description)
	case "description", "briefdescription", "briefissuedescription", "issuedescription", "issue", "details":
		return or(v.Description, v.Summary)
	case "url", "link", "incidenturl", "incidentlink", "dashboard":
		return v.IncidentURL
	}
	return ""
}

// choose picks the choice that val names. A severity spelled another way
// (page, p1, warn) picks CRITICAL or WARNING; a value matching no choice is
// written as given, in the choices' case.
func choose(f playbook.Field, val string) string {
	if val == "" {
		return ""
	}
	nv := norm(val)
	for _, c := range f.Choices {
		if norm(c) == nv {
			return c
		}
	}
	if canon := severityOf(nv); canon != "" {
		for _, c := range f.Choices {
			if severityOf(norm(c)) == canon {
				return c
			}
		}
	}
	if allUpper(f.Choices) {
		return strings.ToUpper(val)
	}
	return val
}

func severityOf(s string) string {
	switch s {
	case "critical", "crit", "error", "err", "page", "high", "p1", "p2", "disaster", "emergency", "fatal", "sev1", "sev2", "major":
		return "critical"
	case "warning", "warn", "medium", "average", "p3", "sev3", "minor":
		return "warning"
	case "info", "informational", "information", "low", "none", "ok", "p4", "p5", "debug", "notice", "sev4":
		return "info"
	}
	return ""
}

func allUpper(cs []string) bool {
	for _, c := range cs {
		if c != strings.ToUpper(c) {
			return false
		}
	}
	return len(cs) > 0
}

// norm lowercases s and drops everything but letters and digits.
func norm(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// oneLine keeps a value on its template line.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Join(strings.Fields(s), " "))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
