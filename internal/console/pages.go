package console

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// listRow is one incident in the list.
type listRow struct {
	incident.Incident
	Clock clock
}

// incidents is the list: open incidents by default, filtered, newest
// first, with counts by status.
func (s *Server) incidents(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = "open"
	}
	p := store.ListIncidentsParams{Service: q.Get("service"), Limit: 100}
	switch status {
	case "open":
		p.Status = []incident.Status{incident.StatusTriggered, incident.StatusAcknowledged}
	case "all":
	case string(incident.StatusTriggered), string(incident.StatusAcknowledged), string(incident.StatusResolved):
		p.Status = []incident.Status{incident.Status(status)}
	default:
		return incident.Errorf(incident.EINVALID, "status: %q is not open, all, triggered, acknowledged or resolved", status)
	}
	if sev := q.Get("severity"); sev != "" {
		if !incident.Severity(sev).Valid() {
			return incident.Errorf(incident.EINVALID, "severity: %q is not critical, warning or info", sev)
		}
		p.Severity = []incident.Severity{incident.Severity(sev)}
	}
	incs, err := s.Store.ListIncidents(r.Context(), p)
	if err != nil {
		return err
	}
	ids := make([]int64, len(incs))
	for i := range incs {
		ids[i] = incs[i].ID
	}
	states, err := s.Store.PhaseStates(r.Context(), ids)
	if err != nil {
		return err
	}
	now := s.Now()
	rows := make([]listRow, 0, len(incs))
	for _, inc := range incs {
		row := listRow{Incident: inc}
		if ps := states[inc.ID]; ps != nil && s.Phases != nil {
			if st, err := phase.Decode(ps); err == nil {
				row.Clock = clockOf(phase.View(s.Phases.Defs(st), st, &inc, now), &inc)
			}
		}
		rows = append(rows, row)
	}
	open, err := s.Store.CountOpenIncidents(r.Context())
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for st, bySev := range open {
		for _, n := range bySev {
			counts[string(st)] += n
		}
	}
	s.render(w, r, http.StatusOK, "incidents", map[string]any{"Viewer": v, "Rows": rows, "Status": status, "Severity": q.Get("severity"),
		"Service": q.Get("service"), "Counts": counts, "Title": "Incidents", "Live": true})
	return nil
}

// clock is an incident's current phase and the time left in its budget.
type clock struct {
	Name string
	// Text is "12m left", "3m over" or "breached".
	Text     string
	Late     bool
	Deadline time.Time
	// Ticking says the page may count Text down to Deadline.
	Ticking bool
}

func clockOf(v *phase.Status, inc *incident.Incident) clock {
	var c clock
	for _, p := range v.Phases {
		if p.State != "current" {
			continue
		}
		c.Name = p.Name
		if p.LeftSeconds != nil {
			c.Text = funcs["left"].(func(*int64) string)(p.LeftSeconds)
			c.Late = *p.LeftSeconds < 0
			c.Deadline = p.Deadline
			c.Ticking = inc.Open() && !p.Breached && !p.Deadline.IsZero()
		}
		if p.Breached {
			c.Text, c.Late = "breached", true
		}
	}
	return c
}

// stepRow is a step with how it would run.
type stepRow struct {
	run.Step
	Preview *automation.Preview
	Command string
	// Missing are the parameters that need a value before it can run.
	Missing []string
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return err
	}
	alerts, err := s.Store.ListAlerts(ctx, store.ListAlertsParams{IncidentID: id, Limit: 100})
	if err != nil {
		return err
	}
	runs, err := s.Store.RunsOfIncident(ctx, id)
	if err != nil {
		return err
	}
	steps, err := s.Store.StepsOfIncident(ctx, id)
	if err != nil {
		return err
	}
	rows := make([]stepRow, 0, len(steps))
	var waiting []run.Step
	for i := range steps {
		st := &steps[i]
		if inc.Open() && (st.Status == run.StatusAwaitingApproval || st.Status == run.StatusNeedsInput) {
			waiting = append(waiting, *st)
		}
		row := stepRow{Step: *st}
		if s.Runs != nil && st.Kind == playbook.KindStep {
			row.Preview = s.Runs.Preview(st)
			row.Command = command(row.Preview, st)
			if row.Preview != nil && row.Preview.Rendered != nil {
				row.Missing = row.Preview.Rendered.Missing
			}
		}
		rows = append(rows, row)
	}
	var tl []incident.TimelineEntry
	for after := int64(0); len(tl) < 2000; {
		page, err := s.Store.ListTimeline(ctx, store.ListTimelineParams{IncidentID: id, AfterID: after, Limit: 500})
		if err != nil {
			return err
		}
		tl = append(tl, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	data := map[string]any{"Viewer": v, "Incident": inc, "Alerts": alerts, "Runs": runs, "Steps": rows, "Waiting": waiting, "Timeline": newestFirst(tl),
		"CanRespond": v.Can("responder"), "CanApprove": s.canApprove(v), "ApproverRoles": s.ApproverRoles, "Title": fmt.Sprintf("#%d %s", inc.ID, inc.Title), "Live": true}
	if s.Phases != nil {
		st, err := s.Phases.Status(ctx, inc)
		if err != nil {
			return err
		}
		data["Phases"] = st
		data["Clock"] = clockOf(st, inc)
	}
	if s.Comms != nil {
		list, err := s.Store.ListCommunications(ctx, id)
		if err != nil {
			return err
		}
		data["Comms"], data["CommChannels"] = list, s.Comms.Channels()
		if sug, err := s.Comms.Suggest(ctx, id, ""); err == nil {
			data["Suggestion"] = sug
		}
	}
	if s.Reviews != nil {
		vs, err := s.Store.ListReviews(ctx, id)
		if err != nil {
			return err
		}
		data["Reviews"] = vs
	}
	s.render(w, r, http.StatusOK, "incident", data)
	return nil
}

// command is what a step runs, as a person reads it.
func command(p *automation.Preview, st *run.Step) string {
	if p == nil || p.Rendered == nil {
		return st.Text
	}
	rd := p.Rendered
	var b strings.Builder
	switch {
	case rd.SQL != "":
		b.WriteString(rd.SQL)
		for i, a := range rd.Args {
			name := ""
			if i < len(rd.ArgNames) {
				name = " (" + rd.ArgNames[i] + ")"
			}
			fmt.Fprintf(&b, "\n-- $%d%s = %v", i+1, name, a)
		}
	case len(rd.Kube) > 0:
		for i, k := range rd.Kube {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(k.Raw)
		}
	case rd.Script != "":
		b.WriteString(rd.Script)
		keys := make([]string, 0, len(rd.Env))
		for k := range rd.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "\n# %s=%q", k, rd.Env[k])
		}
	default:
		b.WriteString(st.Text)
	}
	return b.String()
}

// newestFirst returns a copy of xs in reverse order.
func newestFirst[T any](xs []T) []T {
	out := slices.Clone(xs)
	slices.Reverse(out)
	return out
}

func (s *Server) reviewPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if s.Reviews == nil {
		return incident.Errorf(incident.EUNAVAILABLE, "this server writes no reviews")
	}
	inc, err := s.Store.GetIncident(r.Context(), id)
	if err != nil {
		return err
	}
	versions, err := s.Reviews.Versions(r.Context(), id)
	if err != nil {
		return err
	}
	var cur *store.Review
	if n := len(versions); n > 0 {
		cur = &versions[n-1]
	} else if cur, err = s.Reviews.Preview(r.Context(), id); err != nil {
		return err
	} else {
		cur.Status = "preview"
	}
	body, err := review.Body(cur.Markdown)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "review", map[string]any{"Viewer": v, "Incident": inc, "Review": cur, "Versions": newestFirst(versions),
		"HTML":    template.HTML(body), // goldmark's safe-mode output
		"CanEdit": v.Can("responder"), "Title": fmt.Sprintf("Review of #%d", id)})
	return nil
}

func (s *Server) playbooks(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var diags []playbook.Diagnostic
	if s.Playbooks != nil {
		diags = s.Playbooks.Lint()
	}
	s.render(w, r, http.StatusOK, "playbooks", map[string]any{"Viewer": v, "Playbooks": s.Playbooks.Playbooks(), "Diagnostics": diags, "Title": "Playbooks"})
	return nil
}

// sourceLine is one line of a playbook's text with the steps that start
// on it and what lint says of it.
type sourceLine struct {
	N     int
	Text  string
	Class string
	Steps []*playbook.Step
	Diags []playbook.Diagnostic
}

func (s *Server) playbookPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pb := s.Playbooks.Playbook(r.PathValue("id"))
	if pb == nil {
		return incident.Errorf(incident.ENOTFOUND, "no playbook %q is loaded", r.PathValue("id"))
	}
	byLine := map[int][]playbook.Diagnostic{}
	errs, warns := 0, 0
	for _, d := range pb.Diagnostics {
		byLine[d.Pos.Line] = append(byLine[d.Pos.Line], d)
		switch d.Severity {
		case playbook.SeverityError:
			errs++
		case playbook.SeverityWarning:
			warns++
		}
	}
	steps := map[int][]*playbook.Step{}
	reads, writes := 0, 0
	for _, pr := range pb.Procedures {
		for _, t := range pr.Tasks() {
			if t.Step == nil {
				continue
			}
			line := t.Step.Line
			if line == 0 {
				line = t.Pos.Line
			}
			steps[line] = append(steps[line], t.Step)
			if t.Step.Risk == playbook.RiskWrite {
				writes++
			} else {
				reads++
			}
		}
	}
	var lines []sourceLine
	for i, l := range strings.Split(string(pb.Source), "\n") {
		sl := sourceLine{N: i + 1, Text: l, Diags: byLine[i+1], Steps: steps[i+1]}
		for _, d := range sl.Diags {
			if d.Severity == playbook.SeverityError {
				sl.Class = "diag-error"
			} else if sl.Class == "" {
				sl.Class = "diag-warning"
			}
		}
		lines = append(lines, sl)
	}
	versions, err := s.Store.ListPlaybookVersions(r.Context(), pb.ID, 50)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "playbook", map[string]any{"Viewer": v, "Playbook": pb, "Lines": lines, "Versions": versions,
		"Steps": reads + writes, "Reads": reads, "Writes": writes, "Errors": errs, "Warnings": warns, "Title": pb.Title})
	return nil
}

// shift is who is on call in a rotation now and next.
type shift struct {
	Rotation string
	Zone     string
	Now      oncall.Shift
	Next     oncall.Shift
}

func (s *Server) oncall(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var roster oncall.Roster
	if s.People != nil {
		roster = s.People.Roster()
	}
	now := s.Now()
	var shifts []shift
	for i := range roster.Rotations {
		rot := &roster.Rotations[i]
		shifts = append(shifts, shift{Rotation: rot.Name, Zone: rot.TimeZone, Now: rot.OnCall(now), Next: rot.Next(now)})
	}
	s.render(w, r, http.StatusOK, "oncall", map[string]any{"Viewer": v, "Shifts": shifts, "Teams": roster.Teams, "Title": "On call"})
	return nil
}

func (s *Server) admin(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return s.adminPage(w, r, v, http.StatusOK, nil)
}

// adminPage renders the admin page; created, when set, is a secret just
// made, shown in this answer once and never stored.
func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, created map[string]string) error {
	ctx := r.Context()
	toks, err := s.Store.ListTokens(ctx)
	if err != nil {
		return err
	}
	var tokens, keys []auth.Token
	for _, t := range toks {
		if t.Role == auth.RoleIngest {
			keys = append(keys, t)
		} else {
			tokens = append(tokens, t)
		}
	}
	var users []auth.User
	if s.People != nil {
		if users, err = s.People.Users(ctx); err != nil {
			return err
		}
	}
	audit, err := s.Store.ListAudit(ctx, store.ListAuditParams{Limit: 100})
	if err != nil {
		return err
	}
	paused := false
	if s.Runs != nil {
		if paused, err = s.Runs.Paused(ctx); err != nil {
			return err
		}
	}
	data := map[string]any{"Viewer": v, "Tokens": tokens, "Keys": keys, "Users": users, "Audit": audit, "Paused": paused,
		"Sources": incident.Sources, "MinPassword": auth.MinPassword, "Title": "Admin"}
	if created != nil {
		data["Created"] = created
	}
	s.render(w, r, status, "admin", data)
	return nil
}
