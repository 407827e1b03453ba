// Package review writes the post-incident review from what actually
// happened: the incident, its alerts, timeline, steps with their outputs
// and approvers, notifications, escalations, phases against their budgets
// and customer communication. The parts only people can write (root
// cause, preventive measures) are sections to fill in, pre-filled with
// the procedure's Recovery items, and the playbook's own review checklist
// (phase 5) is worked through item by item.
//
// Markdown is the review's form; HTML is rendered from it. Markdown holds
// no logic of its own: given the same Record, it returns the same text.
package review

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// Record is everything a review is written from.
type Record struct {
	Incident incident.Incident
	Alerts   []incident.Alert
	Timeline []incident.TimelineEntry
	Runs     []run.Run
	Steps    []run.Step
	// Phases is where the incident stands in its process.
	Phases *phase.Status
	// Procedure is the procedure that ran, if any, and its playbook.
	Procedure *playbook.Procedure
	Playbook  *playbook.Playbook
	// Checklist is the review phase's checklist (the document's phase 5).
	Checklist      []string
	Communications []incident.Communication
	GeneratedAt    time.Time
	// Redact scrubs secrets from outputs; nil keeps text as it is.
	Redact func(string) string
}

// Limits on what one step's output adds to a review.
const (
	maxRows   = 20
	maxOutput = 2000
)

const timeLayout = "2006-01-02 15:04:05 UTC"

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(timeLayout)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05")
}

// Markdown writes the review of r.
func Markdown(r *Record) string {
	w := &writer{r: r}
	w.header()
	w.summary()
	w.phases()
	w.timeline()
	w.alerts()
	w.steps()
	w.notifications()
	w.communications()
	w.rootCause()
	w.checklist()
	w.actionItems()
	return w.b.String()
}

type writer struct {
	r *Record
	b strings.Builder
}

func (w *writer) p(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

func (w *writer) header() {
	inc := &w.r.Incident
	w.p("# Post-incident review: %s (incident %d)\n\n", inline(inc.Title), inc.ID)
	w.p("Status: **Draft**, written by Firebreak from the incident's record at %s. Edit it, then mark it final.\n\n", ts(w.r.GeneratedAt))
}

func (w *writer) summary() {
	inc := &w.r.Incident
	w.p("## Summary\n\n| | |\n|---|---|\n")
	row := func(k, v string) { w.p("| %s | %s |\n", k, v) }
	row("Title", inline(inc.Title))
	row("Severity", string(inc.Severity))
	row("Service", orUnknown(inline(inc.Service)))
	row("Impact", orUnknown(inline(inc.Impact)))
	row("Started", ts(inc.StartedAt))
	if first := w.firstAlert(); !first.IsZero() && inc.StartedAt.Sub(first) >= time.Second {
		row("Detected", fmt.Sprintf("%s (the first alert fired at %s, %s before)", ts(inc.StartedAt), ts(first), phase.Human(inc.StartedAt.Sub(first))))
	} else {
		row("Detected", ts(inc.StartedAt)+" (when the first alert arrived)")
	}
	if inc.AcknowledgedAt.IsZero() {
		row("Acknowledged", "not acknowledged")
	} else {
		row("Acknowledged", fmt.Sprintf("%s, %s after the start%s", ts(inc.AcknowledgedAt), phase.Human(inc.AcknowledgedAt.Sub(inc.StartedAt)), by(w.actorOf(incident.KindAcknowledged))))
	}
	if inc.ResolvedAt.IsZero() {
		row("Resolved", "not resolved")
	} else {
		row("Resolved", fmt.Sprintf("%s, %s after the start%s", ts(inc.ResolvedAt), phase.Human(inc.ResolvedAt.Sub(inc.StartedAt)), by(w.actorOf(incident.KindResolved))))
		row("Duration", phase.Human(inc.ResolvedAt.Sub(inc.StartedAt)))
	}
	row("Responder (incident commander)", orUnknown(inline(inc.Responder)))
	if ps := w.r.Phases; ps != nil {
		if len(ps.Handovers) > 1 {
			var hs []string
			for _, h := range ps.Handovers {
				hs = append(hs, fmt.Sprintf("%s at %s", inline(h.To), clock(h.At)))
			}
			row("Commanders", strings.Join(hs, ", then "))
		}
		var parts []string
		for _, p := range ps.Participants {
			parts = append(parts, fmt.Sprintf("%s (%s)", inline(p.Name), strings.Join(p.Roles, ", ")))
		}
		if len(parts) > 0 {
			row("Participants", strings.Join(parts, "; "))
		}
		if watch := w.lastWatch(); watch != nil {
			row("Recovery watch", fmt.Sprintf("%s (%s, %s)", watch.Summary, phase.Human(watch.Window), inline(watch.Source)))
		}
	}
	if len(w.r.Runs) > 0 {
		run := w.r.Runs[0]
		row("Procedure", fmt.Sprintf("%s (playbook %s; %s)", inline(run.ProcedureTitle), inline(run.PlaybookID), inline(run.MatchReason)))
	}
	w.p("\n")
}

func (w *writer) lastWatch() *phase.WatchView {
	ps := w.r.Phases
	if ps.Watch != nil {
		return ps.Watch
	}
	if n := len(ps.Watches); n > 0 {
		return &ps.Watches[n-1]
	}
	return nil
}

func (w *writer) firstAlert() time.Time {
	var first time.Time
	for _, a := range w.r.Alerts {
		if first.IsZero() || a.StartsAt.Before(first) {
			first = a.StartsAt
		}
	}
	return first
}

func (w *writer) actorOf(kind incident.EventKind) string {
	actor := ""
	for _, e := range w.r.Timeline {
		if e.Kind == kind {
			actor = e.Actor
		}
	}
	return actor
}

func by(actor string) string {
	if actor == "" {
		return ""
	}
	if actor == incident.ActorSystem {
		return ", by Firebreak (its alerts resolved)"
	}
	return ", by " + inline(actor)
}

func (w *writer) phases() {
	ps := w.r.Phases
	if ps == nil {
		return
	}
	w.p("## Phases against their budgets\n\nBudgets are measured from the incident's start, as the playbook's windows are.\n\n")
	w.p("| Phase | Window | Entered | Left | Time in phase | Budget | Result |\n|---|---|---|---|---|---|---|\n")
	breachAt := map[string]phase.Breach{}
	for _, b := range ps.Breaches {
		breachAt[b.Key] = b
	}
	for _, v := range ps.Phases {
		budget := "—"
		if v.BudgetSeconds > 0 {
			budget = fmt.Sprintf("%s (by %s)", phase.Human(time.Duration(v.BudgetSeconds)*time.Second), clock(v.Deadline))
		} else if !v.Deadline.IsZero() {
			budget = "due " + ts(v.Deadline)
		}
		result := ""
		switch {
		case v.State == "done" && v.Start.IsZero():
			result = "skipped"
		case v.Breached:
			result = fmt.Sprintf("**breached** (found %s)", clock(breachAt[v.Key].At))
		case v.State == "upcoming":
			result = "not reached"
		case v.State == "current":
			result = "in progress"
		default:
			result = "within budget"
		}
		spent := "—"
		if !v.Start.IsZero() {
			spent = phase.Human(time.Duration(v.SpentSeconds) * time.Second)
		}
		w.p("| %s | %s | %s | %s | %s | %s | %s |\n", inline(v.Name), orDash(inline(v.Window)), clock(v.Start), clock(v.End), spent, budget, result)
	}
	w.p("\n")
	if len(ps.Entered) > 0 {
		w.p("How the incident moved:\n\n")
		for _, e := range ps.Entered {
			w.p("- %s: %s (%s)\n", clock(e.Start), inline(e.Name), inline(e.Why))
		}
		w.p("\n")
	}
}

func (w *writer) timeline() {
	w.p("## Timeline (UTC)\n\n| Time | Who | What |\n|---|---|---|\n")
	for _, e := range w.r.Timeline {
		w.p("| %s | %s | %s |\n", ts(e.At), inline(e.Actor), inline(w.redact(e.Message)))
	}
	w.p("\n")
}

func (w *writer) alerts() {
	w.p("## Alerts\n\n")
	if len(w.r.Alerts) == 0 {
		w.p("No alerts are attached (the incident was opened by hand).\n\n")
		return
	}
	total := 0
	for _, a := range w.r.Alerts {
		total += a.Count
	}
	w.p("%s, received %s in all.\n\n| Alert | Labels | Status | Received | First fired | Last seen | Resolved |\n|---|---|---|---|---|---|---|\n", count(len(w.r.Alerts), "alert", "alerts"), count(total, "time", "times"))
	for i, a := range w.r.Alerts {
		if i == 50 {
			w.p("\n… and %d more alerts, listed in the incident's alerts.\n", len(w.r.Alerts)-50)
			break
		}
		w.p("| %s | %s | %s | %d | %s | %s | %s |\n", inline(a.Name), labels(a.Labels), a.Status, a.Count, ts(a.StartsAt), ts(a.LastSeenAt), ts(a.ResolvedAt))
	}
	w.p("\n")
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, "`"+code(k+"="+m[k])+"`")
	}
	return orDash(strings.Join(parts, " "))
}

func (w *writer) steps() {
	w.p("## Steps\n\n")
	if len(w.r.Steps) == 0 {
		w.p("No playbook procedure ran for this incident.\n\n")
		return
	}
	edits := w.edits()
	var tasks []run.Step
	for _, s := range w.r.Steps {
		if s.Kind != playbook.KindStep {
			tasks = append(tasks, s)
			continue
		}
		w.p("### %d. %s\n\n", s.Position, inline(s.Name))
		w.p("- Task `%s` (%s %s), **%s**", code(s.TaskKey), s.Executor, s.Risk, strings.ReplaceAll(string(s.Status), "_", " "))
		if s.Reason != "" {
			w.p(": %s", inline(w.redact(s.Reason)))
		}
		w.p("\n")
		if !s.StartedAt.IsZero() {
			w.p("- Ran %s to %s", ts(s.StartedAt), clock(s.FinishedAt))
			if s.Auto {
				w.p(", by itself (a read step)")
			}
			w.p("\n")
		}
		for _, a := range s.Approvals {
			w.p("- Approved by %s at %s\n", inline(a.Actor), ts(a.At))
		}
		for _, e := range edits[s.ID] {
			w.p("- Edited by %s at %s: %s\n", inline(e.Actor), ts(e.At), inline(e.Message))
		}
		for _, p := range s.Params {
			if p.Value != nil {
				w.p("- Parameter `%s` = `%s` (from %s)\n", code(p.Name), code(w.redact(*p.Value)), inline(orDash(p.From)))
			}
		}
		if s.Text != "" {
			w.fence(s.Language, s.Text)
		}
		w.result(&s)
		w.p("\n")
	}
	if len(tasks) == 0 {
		return
	}
	w.p("### Checklist and manual tasks\n\n")
	for _, s := range tasks {
		mark, how := " ", "not done"
		switch s.Status {
		case run.StatusSucceeded:
			mark, how = "x", "done by "+inline(s.Actor)+" at "+clock(s.FinishedAt)
		case run.StatusSkipped:
			mark, how = "x", "skipped by "+inline(s.Actor)
		case run.StatusCancelled:
			how = inline(s.Reason)
		}
		w.p("- [%s] %d. %s (`%s`, %s): %s\n", mark, s.Position, inline(s.Name), code(s.TaskKey), s.Kind, how)
		if s.Kind == playbook.KindManual && s.Text != "" && s.Text != s.Name {
			w.p("  > %s\n", inline(s.Text))
		}
	}
	w.p("\n")
}

// edits are the step.edited entries of the timeline, by step.
func (w *writer) edits() map[int64][]incident.TimelineEntry {
	out := map[int64][]incident.TimelineEntry{}
	for _, e := range w.r.Timeline {
		if e.Kind != "step.edited" && e.Kind != "step.approvals_cleared" {
			continue
		}
		var d struct {
			Step int64 `json:"step"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.Step != 0 {
			out[d.Step] = append(out[d.Step], e)
		}
	}
	return out
}

func (w *writer) result(s *run.Step) {
	r := s.Result
	if s.Error != "" {
		w.p("\nError: %s\n", inline(w.redact(s.Error)))
	}
	if r == nil {
		return
	}
	if r.Before != "" || r.After != "" {
		w.p("\nChanged: %s → %s", inline(r.Before), inline(r.After))
		if r.Undo != "" {
			w.p(" (undo: `%s`)", code(r.Undo))
		}
		w.p("\n")
	}
	if len(r.Columns) > 0 {
		w.p("\nOutput: %d rows", len(r.Rows))
		if r.Truncated {
			w.p(" (capped when it ran)")
		}
		if len(r.Rows) > maxRows {
			w.p(", the first %d shown", maxRows)
		}
		w.p("\n\n|")
		for _, c := range r.Columns {
			w.p(" %s |", inline(c))
		}
		w.p("\n|")
		for range r.Columns {
			w.p("---|")
		}
		w.p("\n")
		for i, row := range r.Rows {
			if i == maxRows {
				break
			}
			w.p("|")
			for _, v := range row {
				w.p(" %s |", inline(w.redact(cellText(v))))
			}
			w.p("\n")
		}
	} else if r.RowsAffected > 0 {
		w.p("\n%d rows affected.\n", r.RowsAffected)
	}
	if out := strings.TrimRight(r.Output, "\n"); out != "" {
		out = w.redact(out)
		cut := ""
		if len(out) > maxOutput {
			cut = fmt.Sprintf("\n… %d more bytes in the step's full output", len(out)-maxOutput)
			out = truncate(out, maxOutput)
		}
		w.p("\nOutput:\n")
		w.fence("text", out+cut)
	}
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

func (w *writer) fence(lang, text string) {
	// A fence longer than any run of backticks inside, so the text cannot
	// close it.
	n := 3
	for run := 0; ; {
		i := strings.Index(text, strings.Repeat("`", n))
		if i < 0 {
			break
		}
		n++
		run++
	}
	f := strings.Repeat("`", n)
	w.p("\n%s%s\n%s\n%s\n", f, lang, strings.TrimRight(text, "\n"), f)
}

func (w *writer) notifications() {
	w.p("## Notifications and escalations\n\n")
	var rows []incident.TimelineEntry
	for _, e := range w.r.Timeline {
		k := string(e.Kind)
		if strings.HasPrefix(k, "escalation.") || k == "notification.sent" || k == "notification.failed" || k == "notification.bundled" || k == "phase.breached" {
			rows = append(rows, e)
		}
	}
	if len(rows) == 0 {
		w.p("No one was paged: no escalation policy covers this incident.\n\n")
		return
	}
	sent, failed, retries := 0, 0, 0
	for _, e := range w.r.Timeline {
		switch e.Kind {
		case "notification.sent":
			sent++
		case "notification.failed":
			failed++
		case "notification.retrying":
			retries++
		}
	}
	w.p("%d messages delivered, %d failed for good, %d attempts retried.\n\n| Time | What |\n|---|---|\n", sent, failed, retries)
	for _, e := range rows {
		w.p("| %s | %s |\n", ts(e.At), inline(w.redact(e.Message)))
	}
	w.p("\n")
}

func (w *writer) communications() {
	w.p("## Customer communication\n\n")
	if len(w.r.Communications) == 0 {
		w.p("None was drafted.\n\n")
		return
	}
	for _, c := range w.r.Communications {
		w.p("- Communication %d, **%s**: %s", c.ID, c.Status, inline(c.Subject))
		switch c.Status {
		case incident.CommSent:
			w.p(", sent %s through %s, released by %s", ts(c.SentAt), inline(c.Channel), inline(c.SentBy))
		default:
			w.p(", drafted by %s at %s", inline(c.CreatedBy), ts(c.CreatedAt))
		}
		w.p("\n")
		for _, line := range strings.Split(strings.TrimRight(c.Body, "\n"), "\n") {
			w.p("  > %s\n", inline(line))
		}
	}
	w.p("\n")
}

// recovery is the procedure's Recovery section's items.
func (w *writer) recovery() []string {
	var out []string
	if w.r.Procedure == nil {
		return nil
	}
	for _, sec := range w.r.Procedure.Sections {
		if !strings.Contains(strings.ToLower(sec.Title+" "+sec.Key), "recover") {
			continue
		}
		for _, t := range sec.Tasks {
			out = append(out, t.Name)
		}
	}
	return out
}

func (w *writer) rootCause() {
	w.p("## Root cause\n\n_To be written by the responders: what broke, and why._\n\n")
	w.p("## Preventive measures\n\n")
	if items := w.recovery(); len(items) > 0 {
		w.p("From the procedure's Recovery steps; tick what was done, and add what else will keep this from happening again:\n\n")
		for _, it := range items {
			w.p("- [ ] %s\n", inline(it))
		}
	} else {
		w.p("_To be written by the responders._\n")
	}
	w.p("\n")
}

// checklist works through the review phase's checklist of the document.
func (w *writer) checklist() {
	items := w.r.Checklist
	if len(items) == 0 {
		return
	}
	w.p("## Review checklist\n\nThe playbook's Post-Incident Review phase, item by item:\n\n")
	for _, it := range items {
		l := strings.ToLower(it)
		switch {
		case strings.Contains(l, "timeline"):
			w.p("- [x] %s: the timeline above is written from the record, %d entries in UTC.\n", inline(it), len(w.r.Timeline))
		case strings.Contains(l, "prevent"):
			w.p("- [ ] %s: see Preventive measures; tick it once they are agreed.\n", inline(it))
		case strings.Contains(l, "playbook") || strings.Contains(l, "procedure") || strings.Contains(l, "runbook"):
			w.p("- [ ] %s:\n", inline(it))
			for _, s := range w.playbookFindings() {
				w.p("  - %s\n", s)
			}
		case strings.Contains(l, "monitor") || strings.Contains(l, "alert"):
			w.p("- [ ] %s:\n", inline(it))
			for _, s := range w.monitoringFindings() {
				w.p("  - %s\n", s)
			}
		default:
			w.p("- [ ] %s\n", inline(it))
		}
	}
	w.p("\n")
}

// playbookFindings are what the run says about the procedure itself.
func (w *writer) playbookFindings() []string {
	var out []string
	edits := w.edits()
	for _, s := range w.r.Steps {
		switch {
		case len(edits[s.ID]) > 0:
			out = append(out, fmt.Sprintf("step %d (%s) was edited before it ran: bring the fix into the playbook", s.Position, inline(s.Name)))
		case s.Status == run.StatusFailed:
			out = append(out, fmt.Sprintf("step %d (%s) failed: %s", s.Position, inline(s.Name), inline(w.redact(s.Error))))
		case s.Status == run.StatusCancelled && strings.HasPrefix(s.Reason, "rejected"):
			out = append(out, fmt.Sprintf("step %d (%s) was %s: is it still the right step?", s.Position, inline(s.Name), inline(s.Reason)))
		}
		for _, p := range s.Params {
			if p.Value != nil && p.From != "" && !strings.Contains(p.From, ":") {
				out = append(out, fmt.Sprintf("step %d needed `%s` from a person: can an alert label carry it?", s.Position, code(p.Name)))
			}
		}
	}
	if len(w.r.Runs) == 0 {
		out = append(out, "no procedure matched this alert: add one, or name the alert in a procedure's firebreak annotation")
	}
	if len(out) == 0 {
		out = append(out, "every step ran as written; nothing to change from this run")
	}
	return out
}

// monitoringFindings are what the clocks and alerts say about detection.
func (w *writer) monitoringFindings() []string {
	var out []string
	inc := &w.r.Incident
	if first := w.firstAlert(); !first.IsZero() && inc.StartedAt.Sub(first) > time.Minute {
		out = append(out, fmt.Sprintf("the first alert fired %s before the incident opened: shorten the alert's for: or group_wait", phase.Human(inc.StartedAt.Sub(first))))
	}
	if ps := w.r.Phases; ps != nil {
		for _, b := range ps.Breaches {
			out = append(out, fmt.Sprintf("%s overran its budget of %s", inline(b.Name), phase.Human(b.Budget)))
		}
		for _, wv := range ps.Watches {
			if wv.Outcome == phase.Refired {
				out = append(out, "the alert re-fired during the recovery watch ("+wv.Summary+"): the fix did not hold at first")
			}
		}
	}
	repeats := 0
	for _, a := range w.r.Alerts {
		repeats += a.Count - 1
	}
	if repeats > 10 {
		out = append(out, fmt.Sprintf("the alerts repeated %d times: check their repeat_interval and inhibitions", repeats))
	}
	if len(out) == 0 {
		out = append(out, "detection and the budgets held; nothing to change")
	}
	return out
}

func (w *writer) actionItems() {
	ps := w.r.Phases
	owner := w.r.Incident.Responder
	due := "—"
	if ps != nil && !ps.ReviewDue.IsZero() {
		due = ts(ps.ReviewDue)
	}
	w.p("## Action items\n\n| Action | Owner | Due | Status |\n|---|---|---|---|\n")
	w.p("| Write the root cause and agree the preventive measures | %s | %s | open |\n", orUnknown(inline(owner)), due)
	for _, f := range w.playbookFindings() {
		if strings.HasPrefix(f, "every step") {
			continue
		}
		w.p("| Playbook: %s | %s | %s | open |\n", f, orUnknown(inline(owner)), due)
	}
	for _, f := range w.monitoringFindings() {
		if strings.HasPrefix(f, "detection and") {
			continue
		}
		w.p("| Monitoring: %s | %s | %s | open |\n", f, orUnknown(inline(owner)), due)
	}
}

func (w *writer) redact(s string) string {
	if w.r.Redact == nil {
		return s
	}
	return w.r.Redact(s)
}

// inline makes text safe inside one Markdown line or table cell: no line
// breaks, and the characters that would start markup escaped.
func inline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = truncate(s, 500)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '!', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// code makes text safe inside a single-backtick code span.
func code(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(truncate(s, 300), "`", "'")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func orUnknown(s string) string {
	if s == "" {
		return "not yet known"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
