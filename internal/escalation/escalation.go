// Package escalation pages people through the playbook's escalation
// matrix until someone acknowledges.
//
// It is a lifecycle hook (respond.Hook). When an incident opens, it writes
// one timed job per level of the matrix, due at the level's window start
// (L1 at once, L2 at 15 min, L3 at 30 min in the reference playbook), in
// the transaction that opened the incident. An escalation job that comes
// due while the incident is still unacknowledged pages its level's
// targets: channels, and people (a user, a team's members, a rotation's
// person on call at that moment) through their own contact methods. Each
// page is one delivery job per target, keyed by incident, event, level and
// target, so a page is sent once however many instances run.
// Acknowledging or resolving cancels the waiting escalation jobs by key
// prefix and tells the targets already paged; in Slack and Telegram the
// original message is changed in place and the news is posted as a reply
// to it. Every page, escalation and delivery attempt is on the incident's
// timeline.
//
// Timers are durable jobs on the injected clock: a server restarted during
// a wait escalates on time, or at once if the moment passed while it was
// down.
package escalation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Job kinds.
const (
	KindEscalate = "escalation.page"
	KindDeliver  = "notify.deliver"
	KindStorm    = "notify.storm"
)

// Storm bounds how many incidents a channel is paged for one by one: past
// Threshold openings within one Window, the rest of that window's openings
// go out as one summary when the window ends.
type Storm struct {
	Threshold int
	Window    time.Duration
}

// Policy says which targets each level pages, for which incidents.
type Policy struct {
	Name string
	// Levels maps a level of the matrix to its targets: channel names, or
	// "user:NAME", "team:NAME" and "rotation:NAME".
	Levels map[int][]string
	// Repeat is how often the last level is paged again (0: once).
	Repeat int
	// Severities and Services choose incidents; empty means all.
	Severities []string
	Services   []string
	// NotifyOn lists the events sent; empty means all.
	NotifyOn []notify.Event
}

func (p *Policy) covers(inc *incident.Incident) bool {
	match := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return match(p.Severities, string(inc.Severity)) && match(p.Services, inc.Service)
}

// sends reports whether the policy sends event.
func (p *Policy) sends(ev notify.Event) bool {
	return len(p.NotifyOn) == 0 || slices.Contains(p.NotifyOn, ev)
}

// Level is one level of an escalation matrix with when it is paged.
type Level struct {
	Number int
	Role   string
	// After is how long after the incident started the level is paged.
	After time.Duration
	// Every is the interval of repeats, for the last level.
	Every time.Duration
}

// DefaultMatrix is used when the incident's playbook has no escalation
// matrix: a level every 15 minutes.
var DefaultMatrix = []Level{{Number: 1, Role: "on-call", After: 0}, {Number: 2, Role: "level 2", After: 15 * time.Minute},
	{Number: 3, Role: "level 3", After: 30 * time.Minute}}

// Contact is how a page reaches one contact method of a person: the
// notifier that carries it, the address to send to (Message.To) and the
// name of the carrier channel, whose template the page uses.
type Contact struct {
	Notifier notify.Notifier
	To       string
	Channel  string
}

// Config sets up an Engine.
type Config struct {
	Store     store.Store
	Queue     *job.Queue[store.Tx]
	Playbooks *playbook.Library
	// Policies are tried in order; the first that covers an incident pages
	// it. A policy named "default" should come last.
	Policies []Policy
	// Channels are the notifiers by channel name.
	Channels map[string]notify.Notifier
	// People resolves user:, team: and rotation: targets; nil pages
	// channels only.
	People *people.Directory
	// Contact builds the way to one contact method of a person, or says
	// why there is none (no carrier channel of that kind is configured).
	Contact func(kind oncall.ContactKind, address string) (Contact, error)
	// Render renders a message's text for a channel; nil uses a plain
	// summary.
	Render func(channel string, m *notify.Message, inc *incident.Incident) string
	// BaseURL is Firebreak's external URL, for links to incidents.
	BaseURL string
	// Observe, when set, is told each delivery attempt's outcome (sent,
	// retrying, failed), for metrics.
	Observe func(channel, outcome string)
	// AckLink, when set, gives a signed Acknowledge link for a page sent
	// through a channel without buttons (email) to the address to, or "".
	AckLink func(channel, to string, incidentID int64) string
	// Storm bundles openings per channel; zero values mean 5 per minute.
	Storm  Storm
	Now    func() time.Time
	Logger *slog.Logger
}

// Engine runs escalation policies.
type Engine struct {
	cfg Config
}

// New returns an Engine and registers its job handlers on the queue.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Storm.Threshold <= 0 {
		cfg.Storm.Threshold = 5
	}
	if cfg.Storm.Window <= 0 {
		cfg.Storm.Window = time.Minute
	}
	e := &Engine{cfg: cfg}
	cfg.Queue.Handle(KindEscalate, e.page)
	cfg.Queue.Handle(KindDeliver, e.deliver)
	cfg.Queue.Handle(KindStorm, e.stormSummary)
	return e
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

// policy returns the policy that covers inc, or nil.
func (e *Engine) policy(inc *incident.Incident) *Policy {
	for i := range e.cfg.Policies {
		if e.cfg.Policies[i].covers(inc) {
			return &e.cfg.Policies[i]
		}
	}
	return nil
}

func (e *Engine) policyNamed(name string) *Policy {
	for i := range e.cfg.Policies {
		if e.cfg.Policies[i].Name == name {
			return &e.cfg.Policies[i]
		}
	}
	return nil
}

// Matrix returns the escalation levels of the playbook that handles an
// incident: its run's playbook, else the first loaded playbook that has a
// matrix, else DefaultMatrix.
func (e *Engine) Matrix(ctx context.Context, incidentID int64) []Level {
	var pb *playbook.Playbook
	if e.cfg.Playbooks != nil {
		if runs, err := e.cfg.Store.RunsOfIncident(ctx, incidentID); err == nil && len(runs) > 0 {
			pb = e.cfg.Playbooks.Playbook(runs[0].PlaybookID)
		}
		if pb == nil || len(pb.Escalation) == 0 {
			for _, p := range e.cfg.Playbooks.Playbooks() {
				if len(p.Escalation) > 0 {
					pb = p
					break
				}
			}
		}
	}
	if pb == nil || len(pb.Escalation) == 0 {
		return DefaultMatrix
	}
	return matrixOf(pb.Escalation)
}

// matrixOf turns a playbook's matrix into levels. A level without a window
// (the reference playbook's "Level 4: Full team") is paged only by hand.
func matrixOf(levels []*playbook.EscalationLevel) []Level {
	var out []Level
	for _, l := range levels {
		if l.Window.IsZero() {
			continue
		}
		lv := Level{Number: l.Level, Role: l.Role, After: l.Window.From.D()}
		if l.Window.To > l.Window.From {
			lv.Every = l.Window.To.D() - l.Window.From.D()
		}
		out = append(out, lv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].After < out[j].After })
	return out
}

type pagePayload struct {
	IncidentID int64  `json:"incident_id"`
	Level      int    `json:"level"`
	Repeat     int    `json:"repeat,omitempty"`
	Policy     string `json:"policy"`
}

func escalateKey(incidentID int64) string { return fmt.Sprintf("escalate/%d/", incidentID) }

// OnChange is the lifecycle hook: it schedules the pages of an opened
// incident, pages the next level when a responder escalates by hand, and
// on acknowledge or resolve cancels what waits and tells the targets
// already paged.
func (e *Engine) OnChange(ctx context.Context, tx store.Tx, c *respond.Change) error {
	for _, inc := range c.Opened {
		p := e.policy(inc)
		if p == nil {
			continue
		}
		matrix := e.Matrix(ctx, inc.ID)
		if err := e.schedule(ctx, tx, inc, p, matrix, inc.StartedAt); err != nil {
			return fmt.Errorf("schedule escalation of incident %d: %w", inc.ID, err)
		}
		if err := e.approvalsNeeded(ctx, tx, inc, p, matrix); err != nil {
			return err
		}
	}
	// A reopened incident is paged again from the start of the matrix,
	// counting from now.
	if len(c.Reopened) > 0 {
		incs, err := tx.IncidentsByID(ctx, c.Reopened)
		if err != nil {
			return err
		}
		for _, id := range c.Reopened {
			inc := incs[id]
			if inc == nil {
				continue
			}
			if p := e.policy(inc); p != nil {
				if err := e.schedule(ctx, tx, inc, p, e.Matrix(ctx, id), c.At); err != nil {
					return fmt.Errorf("schedule escalation of reopened incident %d: %w", id, err)
				}
			}
		}
	}
	var stopped []int64
	event := notify.EventResolved
	stopped = append(stopped, c.Resolved...)
	if c.Action != nil && c.Incident != nil {
		switch c.Action.Kind {
		case incident.ActionAck:
			stopped, event = append(stopped, c.Incident.ID), notify.EventAcknowledged
		case incident.ActionEscalate:
			if err := e.escalateNow(ctx, tx, c.Incident, c.Actor); err != nil {
				return err
			}
		}
	}
	for _, id := range stopped {
		if err := e.stop(ctx, tx, id, event, c.At); err != nil {
			return err
		}
	}
	return nil
}

// schedule writes the timed page of each level, counted from base.
func (e *Engine) schedule(ctx context.Context, tx store.Tx, inc *incident.Incident, p *Policy, matrix []Level, base time.Time) error {
	var jobs []job.NewJob
	for _, lv := range matrix {
		if len(p.Levels[lv.Number]) == 0 {
			continue
		}
		payload, _ := json.Marshal(pagePayload{IncidentID: inc.ID, Level: lv.Number, Policy: p.Name})
		jobs = append(jobs, job.NewJob{Kind: KindEscalate, Key: fmt.Sprintf("%s%d/0", escalateKey(inc.ID), lv.Number),
			Payload: payload, RunAt: base.Add(lv.After), MaxAttempts: 5})
	}
	if len(jobs) == 0 {
		return nil
	}
	_, err := e.cfg.Queue.Insert(ctx, tx, jobs...)
	return err
}

// approvalsNeeded tells the first level when the playbook's run for a new
// incident holds steps that wait for approval. The step engine's hook runs
// first in the same transaction, so the steps are there.
func (e *Engine) approvalsNeeded(ctx context.Context, tx store.Tx, inc *incident.Incident, p *Policy, matrix []Level) error {
	if !p.sends(notify.EventApprovalNeeded) || len(matrix) == 0 {
		return nil
	}
	steps, err := tx.OpenSteps(ctx, inc.ID)
	if err != nil {
		return err
	}
	waiting := 0
	for _, s := range steps {
		if s.Status == "awaiting_approval" {
			waiting++
		}
	}
	if waiting == 0 {
		return nil
	}
	first := matrix[0].Number
	d := e.deliveries(ctx, inc.ID, notify.EventApprovalNeeded, first, p.Levels[first], "")
	if err := e.noteUnreachable(ctx, tx, inc.ID, d.problems); err != nil {
		return err
	}
	if len(d.jobs) == 0 {
		return nil
	}
	_, err = e.cfg.Queue.Insert(ctx, tx, d.jobs...)
	return err
}

// stop cancels the pages still waiting for an incident and tells the
// targets already paged.
func (e *Engine) stop(ctx context.Context, tx store.Tx, incidentID int64, event notify.Event, at time.Time) error {
	n, err := e.cfg.Queue.Cancel(ctx, tx, job.CancelParams{KeyPrefix: escalateKey(incidentID)})
	if err != nil {
		return err
	}
	told, err := e.tellPaged(ctx, tx, incidentID, event, time.Time{})
	if err != nil {
		return err
	}
	if n == 0 && len(told) == 0 {
		return nil
	}
	msg := fmt.Sprintf("Escalation stopped: incident %s", event)
	if n > 0 {
		msg += fmt.Sprintf("; %d waiting pages cancelled", n)
	}
	if len(told) > 0 {
		msg += "; telling " + strings.Join(told, ", ")
	}
	return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: incidentID, At: at, Actor: incident.ActorSystem,
		Kind: "escalation.stopped", Message: msg}})
}

// Unpaged reports whether a level of an unacknowledged incident's matrix
// came due by at and has not been paged yet. A phase breach found at the
// same moment as a page waits for it (see phase.Config.PagesDue), so that
// the level paged at 15 minutes also hears of the breach at 15 minutes,
// whichever of the two timers a worker took first.
func (e *Engine) Unpaged(ctx context.Context, tx store.Tx, incidentID int64, at time.Time) (bool, error) {
	incs, err := tx.IncidentsByID(ctx, []int64{incidentID})
	if err != nil {
		return false, err
	}
	inc := incs[incidentID]
	if inc == nil || inc.Status != incident.StatusTriggered {
		return false, nil
	}
	p := e.policy(inc)
	if p == nil {
		return false, nil
	}
	paged := map[int]bool{}
	err = e.scanTimeline(ctx, incidentID, func(en *incident.TimelineEntry) {
		if en.Kind != "escalation.paged" {
			return
		}
		var d struct {
			Level int `json:"level"`
		}
		if json.Unmarshal(en.Data, &d) == nil {
			paged[d.Level] = true
		}
	})
	if err != nil {
		return false, err
	}
	for _, lv := range e.Matrix(ctx, incidentID) {
		if len(p.Levels[lv.Number]) > 0 && !paged[lv.Number] && !inc.StartedAt.Add(lv.After).After(at) {
			return true, nil
		}
	}
	return false, nil
}

// Tell sends event to the targets already paged for an incident, in tx,
// when its policy sends that event, and returns the targets told. The
// phase clocks use it for SLA breaches: by is the breach's deadline, and
// only those paged by then, or whose level was due by then, hear of it
// (zero: everyone paged).
func (e *Engine) Tell(ctx context.Context, tx store.Tx, incidentID int64, event notify.Event, by time.Time) ([]string, error) {
	return e.tellPaged(ctx, tx, incidentID, event, by)
}

func (e *Engine) tellPaged(ctx context.Context, tx store.Tx, incidentID int64, event notify.Event, by time.Time) ([]string, error) {
	incs, err := tx.IncidentsByID(ctx, []int64{incidentID})
	if err != nil || incs[incidentID] == nil {
		return nil, err
	}
	inc := incs[incidentID]
	p := e.policy(inc)
	if p == nil || !p.sends(event) {
		return nil, nil
	}
	paged, err := e.pagedTargets(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	due := map[int]time.Time{}
	for _, lv := range e.Matrix(ctx, incidentID) {
		due[lv.Number] = inc.StartedAt.Add(lv.After)
	}
	var jobs []job.NewJob
	var told []string
	for _, pt := range paged {
		if !by.IsZero() && pt.at.After(by) && due[pt.level].After(by) {
			continue // paged after the moment, and not due by it
		}
		jobs = append(jobs, e.deliveryJob(incidentID, event, pt.level, pt.target, ""))
		told = append(told, pt.target)
	}
	if len(jobs) > 0 {
		if _, err := e.cfg.Queue.Insert(ctx, tx, jobs...); err != nil {
			return nil, err
		}
	}
	return told, nil
}

type pagedTarget struct {
	level  int
	target string
	at     time.Time
}

// pagedTargets reads from the timeline which delivery targets were paged,
// each once, at the first level that paged it.
func (e *Engine) pagedTargets(ctx context.Context, incidentID int64) ([]pagedTarget, error) {
	var out []pagedTarget
	seen := map[string]bool{}
	err := e.scanTimeline(ctx, incidentID, func(en *incident.TimelineEntry) {
		if en.Kind != "escalation.paged" {
			return
		}
		var d struct {
			Level      int      `json:"level"`
			Channels   []string `json:"channels"`
			Deliveries []string `json:"deliveries"`
		}
		if json.Unmarshal(en.Data, &d) != nil {
			return
		}
		targets := d.Deliveries
		if targets == nil {
			targets = d.Channels // entries written before people could be paged
		}
		for _, t := range targets {
			if !seen[t] {
				seen[t] = true
				out = append(out, pagedTarget{level: d.Level, target: t, at: en.At})
			}
		}
	})
	return out, err
}

// scanTimeline calls fn for each entry of an incident's timeline, oldest
// first.
func (e *Engine) scanTimeline(ctx context.Context, incidentID int64, fn func(*incident.TimelineEntry)) error {
	var after int64
	for {
		page, err := e.cfg.Store.ListTimeline(ctx, store.ListTimelineParams{IncidentID: incidentID, AfterID: after, Limit: 500})
		if err != nil {
			return err
		}
		for i := range page {
			fn(&page[i])
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// page is the handler of an escalation job that came due.
func (e *Engine) page(ctx context.Context, j *job.Job) error {
	var p pagePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(fmt.Errorf("escalation job %d: %w", j.ID, err))
	}
	return e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		incs, err := tx.IncidentsByID(ctx, []int64{p.IncidentID})
		if err != nil {
			return err
		}
		inc := incs[p.IncidentID]
		if inc == nil || inc.Status != incident.StatusTriggered {
			return nil // acknowledged or resolved meanwhile
		}
		pol := e.policyNamed(p.Policy)
		if pol == nil {
			return nil
		}
		return e.pageLevel(ctx, tx, inc, pol, p.Level, p.Repeat, "")
	})
}

// pageLevel pages one level of the matrix in tx: a delivery job per
// target, the next repeat of the last level, and the timeline entry. actor
// is the responder who escalated by hand, or "".
func (e *Engine) pageLevel(ctx context.Context, tx store.Tx, inc *incident.Incident, pol *Policy, level, repeat int, actor string) error {
	matrix := e.Matrix(ctx, inc.ID)
	var lv Level
	for _, l := range matrix {
		if l.Number == level {
			lv = l
		}
	}
	event := notify.EventOpened
	if level > matrix[0].Number || repeat > 0 || actor != "" {
		event = notify.EventEscalated
	}
	targets := pol.Levels[level]
	key := ""
	switch {
	case actor != "":
		key = fmt.Sprintf("/manual-%d", e.now().UnixMicro())
	case repeat > 0:
		key = fmt.Sprintf("/repeat-%d", repeat)
	}
	d := deliveries{}
	if pol.sends(event) {
		d = e.deliveries(ctx, inc.ID, event, level, targets, key)
	}
	jobs := d.jobs
	last := matrix[len(matrix)-1].Number == level
	if actor == "" && last && repeat < pol.Repeat {
		every := lv.Every
		if every <= 0 {
			every = 15 * time.Minute
		}
		payload, _ := json.Marshal(pagePayload{IncidentID: inc.ID, Level: level, Repeat: repeat + 1, Policy: pol.Name})
		jobs = append(jobs, job.NewJob{Kind: KindEscalate, Key: fmt.Sprintf("%s%d/%d", escalateKey(inc.ID), level, repeat+1),
			Payload: payload, RunAt: e.now().Add(every), MaxAttempts: 5})
	}
	if len(jobs) > 0 {
		if _, err := e.cfg.Queue.Insert(ctx, tx, jobs...); err != nil {
			return err
		}
	}
	if err := e.noteUnreachable(ctx, tx, inc.ID, d.problems); err != nil {
		return err
	}
	who := strings.Join(d.described, ", ")
	if who == "" {
		who = "nobody reachable"
	}
	msg := fmt.Sprintf("Paged level %d (%s): %s", level, lv.Role, who)
	switch {
	case actor != "":
		msg = fmt.Sprintf("Escalated to level %d (%s) by %s; paging %s", level, lv.Role, actor, who)
	case event == notify.EventEscalated:
		msg = fmt.Sprintf("Escalated to level %d (%s): not acknowledged within %s; paging %s", level, lv.Role,
			e.now().Sub(inc.StartedAt).Round(time.Second), who)
		if repeat > 0 {
			msg += fmt.Sprintf(" (repeat %d of %d)", repeat, pol.Repeat)
		}
	}
	if !pol.sends(event) {
		msg += fmt.Sprintf(" (policy %s does not send %s notifications)", pol.Name, event)
	}
	entryActor := incident.ActorSystem
	if actor != "" {
		entryActor = actor
	}
	return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: inc.ID, At: e.now(), Actor: entryActor,
		Kind: "escalation.paged", Message: msg,
		Data: mustJSON(map[string]any{"level": level, "role": lv.Role, "channels": targets, "deliveries": d.targets, "repeat": repeat,
			"manual": actor != ""})}})
}

// escalateNow pages the level after the highest one paged so far (the last
// level again when all were), for a responder who asked for more help. The
// level's own timer, if it still waits, is cancelled: it was paged now.
func (e *Engine) escalateNow(ctx context.Context, tx store.Tx, inc *incident.Incident, actor string) error {
	pol := e.policy(inc)
	if pol == nil {
		return incident.Errorf(incident.ECONFLICT, "no escalation policy covers incident %d; add one under escalation: in the configuration", inc.ID)
	}
	paged, err := e.pagedTargets(ctx, inc.ID)
	if err != nil {
		return err
	}
	highest := 0
	for _, pt := range paged {
		highest = max(highest, pt.level)
	}
	var next *Level
	matrix := e.Matrix(ctx, inc.ID)
	for i := range matrix {
		if matrix[i].Number > highest && len(pol.Levels[matrix[i].Number]) > 0 {
			next = &matrix[i]
			break
		}
	}
	if next == nil {
		for i := len(matrix) - 1; i >= 0; i-- {
			if len(pol.Levels[matrix[i].Number]) > 0 {
				next = &matrix[i]
				break
			}
		}
	}
	if next == nil {
		return incident.Errorf(incident.ECONFLICT, "policy %s pages no level of the matrix", pol.Name)
	}
	if _, err := e.cfg.Queue.Cancel(ctx, tx, job.CancelParams{KeyPrefix: fmt.Sprintf("%s%d/", escalateKey(inc.ID), next.Number)}); err != nil {
		return err
	}
	return e.pageLevel(ctx, tx, inc, pol, next.Number, 0, actor)
}

// noteUnreachable puts on the timeline the targets that reached nobody.
func (e *Engine) noteUnreachable(ctx context.Context, tx store.Tx, incidentID int64, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	var entries []*incident.TimelineEntry
	for _, p := range problems {
		entries = append(entries, &incident.TimelineEntry{IncidentID: incidentID, At: e.now(), Actor: incident.ActorSystem,
			Kind: "escalation.unreachable", Message: "Could not page: " + p})
	}
	return tx.AppendTimeline(ctx, entries)
}

func eventWord(ev notify.Event) string {
	switch ev {
	case notify.EventOpened:
		return "Opened"
	case notify.EventEscalated:
		return "Escalated"
	case notify.EventAcknowledged:
		return "Acknowledged"
	case notify.EventResolved:
		return "Resolved"
	case notify.EventApprovalNeeded:
		return "Approval needed"
	case notify.EventSLABreach:
		return "SLA breached"
	}
	return string(ev)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("escalation: marshal timeline data: %v", err))
	}
	return b
}
