package playbook

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

type matcherRegexp = *regexp.Regexp

// Normalize reduces a procedure title or an alert name to the form they
// are compared in: severity prefix, emoji, mojibake and the bracketed
// condition removed, lower case, letters and digits only.
// "🔴 CRITICAL: High API Error Rate (>5%)", "HighAPIErrorRate" and
// "high_api_error_rate" all give "highapierrorrate".
func Normalize(s string) string {
	t, _, _ := splitHeading(s)
	return normalize(t)
}

func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r > 0x2FF && unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// plausibleAlertName reports whether a title could be an alert name once
// normalised: one to six words, starting with a letter, at most 64
// characters. Longer prose titles ("What to do when the database is on
// fire") are not matched by any real alert.
func plausibleAlertName(title string) bool {
	n := normalize(title)
	if n == "" || len(n) > 64 || !unicode.IsLetter(rune(n[0])) {
		return false
	}
	return len(strings.Fields(title)) <= 6
}

func (m *Matcher) matches(labels map[string]string) bool {
	v := labels[m.Label]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~", "!~":
		re := m.re
		if re == nil {
			var err error
			re, err = regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return false
			}
		}
		return re.MatchString(v) == (m.Op == "=~")
	}
	return false
}

// matchesExplicit reports whether the procedure's annotation selects the
// alert.
func (p *Procedure) matchesExplicit(labels map[string]string) bool {
	if !p.Explicit() {
		return false
	}
	if len(p.AlertNames) > 0 {
		name := labels["alertname"]
		ok := false
		for _, a := range p.AlertNames {
			if a == name {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range p.Matchers {
		if !p.Matchers[i].matches(labels) {
			return false
		}
	}
	return true
}

// specificity ranks explicit matches: more conditions, more specific.
func (p *Procedure) specificity() int {
	n := len(p.Matchers)
	if len(p.AlertNames) > 0 {
		n++
	}
	return n
}

// Match is the procedure chosen for an alert.
type Match struct {
	Playbook  *Playbook  `json:"-"`
	Procedure *Procedure `json:"-"`
	// Explicit is true when an annotation matched, false for a title match.
	Explicit bool `json:"explicit"`
	// Reason says what matched, e.g. "alertname=HighQueueDepth" or
	// "\"High Queue Depth\" ~ alertname HighQueueDepth".
	Reason string `json:"reason"`
	// Others lists procedures that matched equally well (playbook/key).
	// Lint reports this as an error; at run time the first in playbook
	// ID and document order wins.
	Others []string `json:"others,omitempty"`
}

type procRef struct {
	pb *Playbook
	pr *Procedure
}

func (r procRef) String() string { return r.pb.ID + "/" + r.pr.Key }

// matchIn chooses the procedure for labels among refs (in playbook ID and
// document order). Explicit annotations beat title matches; among
// explicit matches the most specific wins.
func matchIn(refs []procRef, byTitle map[string][]procRef, labels map[string]string) (*Match, bool) {
	var best []procRef
	bestSpec := -1
	for _, r := range refs {
		if !r.pr.matchesExplicit(labels) {
			continue
		}
		s := r.pr.specificity()
		switch {
		case s > bestSpec:
			best, bestSpec = []procRef{r}, s
		case s == bestSpec:
			best = append(best, r)
		}
	}
	if len(best) > 0 {
		m := &Match{Playbook: best[0].pb, Procedure: best[0].pr, Explicit: true, Reason: explicitReason(best[0].pr)}
		for _, o := range best[1:] {
			m.Others = append(m.Others, o.String())
		}
		return m, true
	}
	name := labels["alertname"]
	cands := byTitle[normalize(name)]
	if name == "" || len(cands) == 0 {
		return nil, false
	}
	m := &Match{
		Playbook: cands[0].pb, Procedure: cands[0].pr,
		Reason: fmt.Sprintf("%q ~ alertname %s", cands[0].pr.Title, name),
	}
	for _, o := range cands[1:] {
		m.Others = append(m.Others, o.String())
	}
	return m, true
}

func explicitReason(p *Procedure) string {
	var parts []string
	if len(p.AlertNames) > 0 {
		parts = append(parts, "alertname="+strings.Join(p.AlertNames, ","))
	}
	for _, m := range p.Matchers {
		parts = append(parts, "match="+m.String())
	}
	return strings.Join(parts, " ")
}

// titleIndex maps normalised titles of procedures without an explicit
// annotation to the procedures.
func titleIndex(refs []procRef) map[string][]procRef {
	idx := map[string][]procRef{}
	for _, r := range refs {
		if r.pr.Explicit() {
			continue
		}
		n := normalize(r.pr.Title)
		if n == "" {
			continue
		}
		idx[n] = append(idx[n], r)
	}
	return idx
}

func refsOf(pbs []*Playbook) []procRef {
	var refs []procRef
	for _, pb := range pbs {
		for _, pr := range pb.Procedures {
			refs = append(refs, procRef{pb, pr})
		}
	}
	return refs
}

// ambiguity reports every pair of procedures that one alert could match
// equally well: two titles that normalise alike (and have no annotation),
// or two annotations whose conditions overlap.
// With crossOnly, pairs within one playbook are left out (Parse reports
// those).
func ambiguity(pbs []*Playbook, crossOnly bool) []Diagnostic {
	var out []Diagnostic
	refs := refsOf(pbs)
	where := func(r procRef) string {
		return fmt.Sprintf("%s:%d", r.pb.Path, r.pr.Pos.Line)
	}
	for _, group := range titleIndex(refs) {
		for _, r := range group[1:] {
			if crossOnly && r.pb == group[0].pb {
				continue
			}
			out = append(out, Diagnostic{
				File: r.pb.Path, Pos: r.pr.Pos, Severity: SeverityError, Code: CodeAmbiguous,
				Message: fmt.Sprintf("procedure %q and procedure %q (%s) both match alertname %q by title; give one an explicit <!-- firebreak: alertname=… match=… --> annotation", r.pr.Title, group[0].pr.Title, where(group[0]), normalize(r.pr.Title)),
			})
		}
	}
	for i := range refs {
		for j := 0; j < i; j++ {
			a, b := refs[j], refs[i]
			if !a.pr.Explicit() || !b.pr.Explicit() || crossOnly && a.pb == b.pb {
				continue
			}
			if refines(a.pr, b.pr) || refines(b.pr, a.pr) {
				continue
			}
			if name, ok := overlap(a.pr, b.pr); ok {
				out = append(out, Diagnostic{
					File: b.pb.Path, Pos: b.pr.Pos, Severity: SeverityError, Code: CodeAmbiguous,
					Message: fmt.Sprintf("procedure %q and procedure %q (%s) can both match %s; add a match= condition that tells them apart", b.pr.Title, a.pr.Title, where(a), name),
				})
			}
		}
	}
	return out
}

// overlap reports whether some alert could satisfy both annotations, as
// far as can be told without running regular expressions against each
// other.
func overlap(a, b *Procedure) (string, bool) {
	what := "the same alerts"
	if len(a.AlertNames) > 0 && len(b.AlertNames) > 0 {
		common := ""
		for _, x := range a.AlertNames {
			for _, y := range b.AlertNames {
				if x == y {
					common = x
				}
			}
		}
		if common == "" {
			return "", false
		}
		what = "alertname=" + common
	} else if len(a.AlertNames) > 0 {
		what = "alertname=" + a.AlertNames[0]
	} else if len(b.AlertNames) > 0 {
		what = "alertname=" + b.AlertNames[0]
	}
	for _, ma := range a.Matchers {
		for _, mb := range b.Matchers {
			if disjoint(ma, mb) {
				return "", false
			}
		}
	}
	// An alertname list on one side and alertname matchers on the other.
	for _, m := range append(append([]Matcher{}, a.Matchers...), b.Matchers...) {
		if m.Label != "alertname" {
			continue
		}
		names := a.AlertNames
		if len(names) == 0 {
			names = b.AlertNames
		}
		if len(names) == 0 {
			continue
		}
		found := false
		for _, n := range names {
			if m.matches(map[string]string{"alertname": n}) {
				found = true
			}
		}
		if !found {
			return "", false
		}
	}
	return what, true
}

func disjoint(a, b Matcher) bool {
	if a.Label != b.Label {
		return false
	}
	eq := func(x, y Matcher) bool { // x is "=", does y exclude its value?
		return !y.matches(map[string]string{x.Label: x.Value})
	}
	switch {
	case a.Op == "=":
		return eq(a, b)
	case b.Op == "=":
		return eq(b, a)
	}
	return false
}

// refines reports whether p's conditions strictly include q's, so that p
// is the more specific match wherever both match: a deliberate override,
// not a tie.
func refines(p, q *Procedure) bool {
	if p.specificity() <= q.specificity() {
		return false
	}
	if len(q.AlertNames) > 0 {
		if len(p.AlertNames) == 0 {
			return false
		}
		for _, a := range p.AlertNames {
			found := false
			for _, b := range q.AlertNames {
				found = found || a == b
			}
			if !found {
				return false
			}
		}
	}
	for _, mq := range q.Matchers {
		found := false
		for _, mp := range p.Matchers {
			found = found || mp.Label == mq.Label && mp.Op == mq.Op && mp.Value == mq.Value
		}
		if !found {
			return false
		}
	}
	return true
}
