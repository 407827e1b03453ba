package playbook

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
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
	// By says how: "runbook_url" (the alert's runbook_url annotation links
	// the document), "annotation" (a firebreak annotation selects it) or
	// "name" (its title, or a runbook's name, is the alertname).
	By string `json:"by,omitempty"`
	// Reason says what matched, e.g. "alertname=HighQueueDepth" or
	// "\"High Queue Depth\" ~ alertname HighQueueDepth".
	Reason string `json:"reason"`
	// Others lists the other procedures that matched (playbook/key), best
	// first; Why says which rule chose this one over them (see
	// docs/playbooks.md, "Matching alerts to procedures"). Two playbook
	// procedures that tie on everything but their order are a lint error.
	Others []string `json:"others,omitempty"`
	Why    string   `json:"why,omitempty"`
}

type procRef struct {
	pb *Playbook
	pr *Procedure
	// idx is the procedure's place in its document.
	idx int
}

func (r procRef) String() string { return r.pb.ID + "/" + r.pr.Key }

// candidate is a procedure that matches an alert, with what ranks it.
type candidate struct {
	ref      procRef
	explicit bool
	spec     int // label conditions: an annotation's alertname and matchers, a runbook's matchers
	reason   string
}

// rankBefore orders candidates by the documented rule: an explicit
// annotation before a title or name; more label conditions before fewer;
// then the configured order of the playbook paths; then playbook ID and
// document order, so the choice never depends on map or load order.
func rankBefore(a, b candidate) bool {
	if a.explicit != b.explicit {
		return a.explicit
	}
	if a.spec != b.spec {
		return a.spec > b.spec
	}
	if pa, pb := a.ref.pb.priority, b.ref.pb.priority; pa != pb {
		return pa < pb
	}
	if a.ref.pb.ID != b.ref.pb.ID {
		return a.ref.pb.ID < b.ref.pb.ID
	}
	return a.ref.idx < b.ref.idx
}

// whyFirst says which rule put a before b.
func whyFirst(a, b candidate) string {
	switch {
	case a.explicit != b.explicit:
		return "an explicit annotation beats a match by name"
	case a.spec != b.spec:
		return fmt.Sprintf("it names more labels (%d conditions against %d)", a.spec, b.spec)
	case a.ref.pb.priority != b.ref.pb.priority:
		return fmt.Sprintf("its folder comes earlier in the configured playbooks (path %d before %d)", a.ref.pb.priority+1, b.ref.pb.priority+1)
	case a.ref.pb.ID != b.ref.pb.ID:
		return fmt.Sprintf("on a tie the first playbook ID wins (%s before %s)", a.ref.pb.ID, b.ref.pb.ID)
	}
	return "on a tie the first in the document wins"
}

// candidates lists the procedures that match labels by annotation or by
// name, best first.
func candidates(explicit []procRef, byTitle map[string][]procRef, labels map[string]string) []candidate {
	var out []candidate
	for _, r := range explicit {
		if r.pr.matchesExplicit(labels) {
			out = append(out, candidate{ref: r, explicit: true, spec: r.pr.specificity(), reason: explicitReason(r.pr)})
		}
	}
	name := labels["alertname"]
	if n := normalize(name); n != "" {
		for _, r := range byTitle[n] {
			if !r.pr.matchesNarrowing(labels) {
				continue
			}
			shown := r.pr.Title
			for _, a := range r.pr.Names {
				if normalize(a) == n {
					shown = a
					break
				}
			}
			out = append(out, candidate{ref: r, spec: len(r.pr.Matchers), reason: fmt.Sprintf("%q ~ alertname %s", shown, name)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return rankBefore(out[i], out[j]) })
	return out
}

// matchesNarrowing reports whether a runbook's match= conditions hold.
func (p *Procedure) matchesNarrowing(labels map[string]string) bool {
	for i := range p.Matchers {
		if !p.Matchers[i].matches(labels) {
			return false
		}
	}
	return true
}

// matchIn chooses the procedure for labels among refs by annotation or
// name; see rankBefore.
func matchIn(refs []procRef, byTitle map[string][]procRef, labels map[string]string) (*Match, bool) {
	var explicit []procRef
	for _, r := range refs {
		if r.pr.Explicit() {
			explicit = append(explicit, r)
		}
	}
	return chooseMatch(candidates(explicit, byTitle, labels))
}

func chooseMatch(cs []candidate) (*Match, bool) {
	if len(cs) == 0 {
		return nil, false
	}
	best := cs[0]
	m := &Match{Playbook: best.ref.pb, Procedure: best.ref.pr, Explicit: best.explicit, By: "name", Reason: best.reason}
	if best.explicit {
		m.By = "annotation"
	}
	for _, o := range cs[1:] {
		m.Others = append(m.Others, o.ref.String())
	}
	if len(cs) > 1 {
		m.Why = fmt.Sprintf("%d procedures match; %s is chosen over %s because %s", len(cs), best.ref, cs[1].ref, whyFirst(best, cs[1]))
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

// titleIndex maps the normalised names procedures answer to by name (a
// playbook procedure's title, a runbook's names) to the procedures.
// Procedures selected by an annotation answer to no name.
func titleIndex(refs []procRef) map[string][]procRef {
	idx := map[string][]procRef{}
	for _, r := range refs {
		if r.pr.Explicit() {
			continue
		}
		for _, n := range r.pr.matchNames() {
			idx[n] = append(idx[n], r)
		}
	}
	return idx
}

// matchNames returns the normalised names a procedure answers to.
func (p *Procedure) matchNames() []string {
	if len(p.Names) == 0 {
		if n := normalize(p.Title); n != "" {
			return []string{n}
		}
		return nil
	}
	var out []string
	for _, a := range p.Names {
		n := normalize(a)
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func refsOf(pbs []*Playbook) []procRef {
	var refs []procRef
	for _, pb := range pbs {
		for i, pr := range pb.Procedures {
			refs = append(refs, procRef{pb, pr, i})
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
	for name, group := range titleIndex(refs) {
		for _, r := range group[1:] {
			if crossOnly && r.pb == group[0].pb {
				continue
			}
			if len(r.pr.Names) > 0 || len(group[0].pr.Names) > 0 {
				continue // runbooks: a rule picks one (sharedAlerts)
			}
			out = append(out, Diagnostic{
				File: r.pb.Path, Pos: r.pr.Pos, Severity: SeverityError, Code: CodeAmbiguous,
				Message: fmt.Sprintf("procedure %q and procedure %q (%s) both match alertname %q by title; give one an explicit <!-- firebreak: alertname=… match=… --> annotation", r.pr.Title, group[0].pr.Title, where(group[0]), name),
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
