// Package escalation pages people through the playbook's escalation
// matrix until someone acknowledges.
//
// It is a lifecycle hook (respond.Hook). When an incident opens, it writes
// one timed job per level of the matrix, due at the level's window start
// (L1 at once, L2 at 15 min, L3 at 30 min in the reference playbook), in
// the transaction that opened the incident. An escalation job that comes
// due while the incident is still unacknowledged pages its level's
// channels: it writes one delivery job per channel, keyed by incident,
// event, level and channel, so a page is sent once however many instances
// run. Acknowledging or resolving cancels the waiting escalation jobs by
// key prefix and tells the levels already paged. Every page, escalation and
// delivery attempt is on the incident's timeline.
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
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
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

// Policy says which channels each level pages, for which incidents.
type Policy struct {
	Name string
	// Levels maps a level of the matrix to channel names.
	Levels map[int][]string
	// Repeat is how often the last level is paged again (0: once).
	Repeat int
	// Severities and Services choose incidents; empty means all.
	Severities []string
	Services   []string
}

func (p *Policy) covers(inc *incident.Incident) bool {
	match := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	return match(p.Severities, string(inc.Severity)) && match(p.Services, inc.Service)
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
	// Render renders a message's text; nil uses a plain summary.
	Render func(m *notify.Message, inc *incident.Incident) string
	// BaseURL is Firebreak's external URL, for links to incidents.
	BaseURL string
	// Observe, when set, is told each delivery attempt's outcome (sent,
	// retrying, failed), for metrics.
	Observe func(channel, outcome string)
	// AckLink, when set, gives a signed Acknowledge link for a page sent
	// through a channel without buttons (email), or "".
	AckLink func(channel string, incidentID int64) string
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

type deliverPayload struct {
	IncidentID int64        `json:"incident_id"`
	Event      notify.Event `json:"event"`
	Level      int          `json:"level"`
	Channel    string       `json:"channel"`
}

func escalateKey(incidentID int64) string { return fmt.Sprintf("escalate/%d/", incidentID) }

// OnChange is the lifecycle hook: it schedules the pages of an opened
// incident, and on acknowledge or resolve cancels what waits and tells the
// levels already paged.
func (e *Engine) OnChange(ctx context.Context, tx store.Tx, c *respond.Change) error {
	for _, inc := range c.Opened {
		p := e.policy(inc)
		if p == nil {
			continue
		}
		matrix := e.Matrix(ctx, inc.ID)
		if err := e.schedule(ctx, tx, inc, p, matrix); err != nil {
			return fmt.Errorf("schedule escalation of incident %d: %w", inc.ID, err)
		}
		if err := e.approvalsNeeded(ctx, tx, inc, p, matrix); err != nil {
			return err
		}
	}
	var stopped []int64
	event := notify.EventResolved
	stopped = append(stopped, c.Resolved...)
	if c.Action != nil && c.Action.Kind == incident.ActionAck && c.Incident != nil {
		stopped, event = append(stopped, c.Incident.ID), notify.EventAcknowledged
	}
	for _, id := range stopped {
		if err := e.stop(ctx, tx, id, event, c.At); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) schedule(ctx context.Context, tx store.Tx, inc *incident.Incident, p *Policy, matrix []Level) error {
	var jobs []job.NewJob
	for _, lv := range matrix {
		if len(p.Levels[lv.Number]) == 0 {
			continue
		}
		payload, _ := json.Marshal(pagePayload{IncidentID: inc.ID, Level: lv.Number, Policy: p.Name})
		jobs = append(jobs, job.NewJob{Kind: KindEscalate, Key: fmt.Sprintf("%s%d/0", escalateKey(inc.ID), lv.Number),
			Payload: payload, RunAt: inc.StartedAt.Add(lv.After), MaxAttempts: 5})
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
	if waiting == 0 || len(matrix) == 0 {
		return nil
	}
	first := matrix[0].Number
	var jobs []job.NewJob
	for _, ch := range p.Levels[first] {
		jobs = append(jobs, e.deliveryJob(inc.ID, notify.EventApprovalNeeded, first, ch))
	}
	if len(jobs) == 0 {
		return nil
	}
	_, err = e.cfg.Queue.Insert(ctx, tx, jobs...)
	return err
}

// stop cancels the pages still waiting for an incident and tells the
// channels of the levels already paged.
func (e *Engine) stop(ctx context.Context, tx store.Tx, incidentID int64, event notify.Event, at time.Time) error {
	n, err := e.cfg.Queue.Cancel(ctx, tx, job.CancelParams{KeyPrefix: escalateKey(incidentID)})
	if err != nil {
		return err
	}
	incs, err := tx.IncidentsByID(ctx, []int64{incidentID})
	if err != nil || incs[incidentID] == nil {
		return err
	}
	inc := incs[incidentID]
	p := e.policy(inc)
	if p == nil {
		return nil
	}
	paged, err := e.pagedLevels(ctx, incidentID)
	if err != nil {
		return err
	}
	var jobs []job.NewJob
	var told []string
	for _, lv := range e.Matrix(ctx, incidentID) {
		if !paged[lv.Number] {
			continue
		}
		for _, ch := range p.Levels[lv.Number] {
			jobs = append(jobs, e.deliveryJob(incidentID, event, lv.Number, ch))
			told = append(told, ch)
		}
	}
	if len(jobs) > 0 {
		if _, err := e.cfg.Queue.Insert(ctx, tx, jobs...); err != nil {
			return err
		}
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

// pagedLevels reads from the timeline which levels were paged.
func (e *Engine) pagedLevels(ctx context.Context, incidentID int64) (map[int]bool, error) {
	out := map[int]bool{}
	var after int64
	for {
		page, err := e.cfg.Store.ListTimeline(ctx, store.ListTimelineParams{IncidentID: incidentID, AfterID: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, en := range page {
			if en.Kind != "escalation.paged" {
				continue
			}
			var d struct {
				Level int `json:"level"`
			}
			if json.Unmarshal(en.Data, &d) == nil {
				out[d.Level] = true
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

func (e *Engine) deliveryJob(incidentID int64, event notify.Event, level int, channel string) job.NewJob {
	payload, _ := json.Marshal(deliverPayload{IncidentID: incidentID, Event: event, Level: level, Channel: channel})
	return job.NewJob{Kind: KindDeliver, Key: fmt.Sprintf("notify/%d/%s/%d/%s", incidentID, event, level, channel),
		Payload: payload, MaxAttempts: 8}
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
		var pol *Policy
		for i := range e.cfg.Policies {
			if e.cfg.Policies[i].Name == p.Policy {
				pol = &e.cfg.Policies[i]
			}
		}
		if pol == nil {
			return nil
		}
		matrix := e.Matrix(ctx, inc.ID)
		var lv Level
		for _, l := range matrix {
			if l.Number == p.Level {
				lv = l
			}
		}
		event := notify.EventOpened
		if p.Level > matrix[0].Number || p.Repeat > 0 {
			event = notify.EventEscalated
		}
		chans := pol.Levels[p.Level]
		var jobs []job.NewJob
		for _, ch := range chans {
			nj := e.deliveryJob(inc.ID, event, p.Level, ch)
			if p.Repeat > 0 {
				nj.Key += fmt.Sprintf("/repeat-%d", p.Repeat)
			}
			jobs = append(jobs, nj)
		}
		last := matrix[len(matrix)-1].Number == p.Level
		if last && p.Repeat < pol.Repeat {
			every := lv.Every
			if every <= 0 {
				every = 15 * time.Minute
			}
			payload, _ := json.Marshal(pagePayload{IncidentID: inc.ID, Level: p.Level, Repeat: p.Repeat + 1, Policy: p.Policy})
			jobs = append(jobs, job.NewJob{Kind: KindEscalate, Key: fmt.Sprintf("%s%d/%d", escalateKey(inc.ID), p.Level, p.Repeat+1),
				Payload: payload, RunAt: e.now().Add(every), MaxAttempts: 5})
		}
		if _, err := e.cfg.Queue.Insert(ctx, tx, jobs...); err != nil {
			return err
		}
		msg := fmt.Sprintf("Paged level %d (%s) through %s", p.Level, lv.Role, strings.Join(chans, ", "))
		if event == notify.EventEscalated {
			msg = fmt.Sprintf("Escalated to level %d (%s): not acknowledged within %s; paging %s", p.Level, lv.Role,
				e.now().Sub(inc.StartedAt).Round(time.Second), strings.Join(chans, ", "))
			if p.Repeat > 0 {
				msg += fmt.Sprintf(" (repeat %d of %d)", p.Repeat, pol.Repeat)
			}
		}
		return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: inc.ID, At: e.now(), Actor: incident.ActorSystem,
			Kind: "escalation.paged", Message: msg,
			Data: mustJSON(map[string]any{"level": p.Level, "role": lv.Role, "channels": chans, "repeat": p.Repeat})}})
	})
}

// deliver is the handler of a delivery job: it sends one message through
// one channel and records the attempt on the timeline.
func (e *Engine) deliver(ctx context.Context, j *job.Job) error {
	var p deliverPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(fmt.Errorf("delivery job %d: %w", j.ID, err))
	}
	inc, err := e.cfg.Store.GetIncident(ctx, p.IncidentID)
	if err != nil {
		return err
	}
	if p.Event == notify.EventOpened {
		bundled, err := e.stormCheck(ctx, inc, p.Channel)
		if err != nil {
			return err
		}
		if bundled {
			return nil
		}
	}
	n := e.cfg.Channels[p.Channel]
	if n == nil {
		e.record(ctx, inc.ID, "notification.failed", fmt.Sprintf("Notification to %s failed: no such channel is configured", p.Channel), p, j.Attempts, "")
		return job.Permanent(fmt.Errorf("channel %q is not configured", p.Channel))
	}
	m := notify.Message{
		Event: p.Event, Level: p.Level, IdempotencyKey: j.Key,
		Incident: notify.Incident{ID: inc.ID, Title: inc.Title, Severity: string(inc.Severity), Status: string(inc.Status),
			Service: inc.Service, URL: e.incidentURL(inc.ID), Responder: inc.Responder, StartedAt: inc.StartedAt},
		Actions: p.Event == notify.EventOpened || p.Event == notify.EventEscalated,
	}
	if m.Actions && e.cfg.AckLink != nil {
		m.AckURL = e.cfg.AckLink(p.Channel, inc.ID)
	}
	m.Title = fmt.Sprintf("%s: %s", eventWord(p.Event), inc.Title)
	switch {
	case p.Event == notify.EventApprovalNeeded:
		m.Text = e.approvalText(ctx, inc)
	case e.cfg.Render != nil:
		m.Text = e.cfg.Render(&m, inc)
	default:
		m.Text = plainText(&m, inc)
	}
	_, err = n.Notify(ctx, m)
	if err == nil {
		e.record(ctx, inc.ID, "notification.sent", fmt.Sprintf("Notified %s: %s (level %d)", p.Channel, eventWord(p.Event), p.Level), p, j.Attempts, "")
		return nil
	}
	if retry, _ := notify.Retryable(err); !retry || j.Attempts >= j.MaxAttempts {
		e.record(ctx, inc.ID, "notification.failed", fmt.Sprintf("Notification to %s failed for good after %d attempt(s): %v", p.Channel, j.Attempts, err), p, j.Attempts, err.Error())
		return job.Permanent(err)
	}
	e.record(ctx, inc.ID, "notification.retrying", fmt.Sprintf("Notification to %s failed (attempt %d): %v; retrying", p.Channel, j.Attempts, err), p, j.Attempts, err.Error())
	return jobOutcome(err)
}

// jobOutcome tells the queue what a failed delivery means: retry after
// the service's Retry-After, retry with backoff, or give up (4xx).
func jobOutcome(err error) error {
	retry, after := notify.Retryable(err)
	switch {
	case !retry:
		return job.Permanent(err)
	case after > 0:
		return job.RetryAfter(err, after)
	}
	return err
}

func (e *Engine) record(ctx context.Context, incidentID int64, kind incident.EventKind, msg string, p deliverPayload, attempt int, errText string) {
	if e.cfg.Observe != nil {
		e.cfg.Observe(p.Channel, strings.TrimPrefix(string(kind), "notification."))
	}
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: incidentID, At: e.now(), Actor: incident.ActorSystem,
			Kind: kind, Message: msg, Data: mustJSON(map[string]any{"channel": p.Channel, "event": p.Event, "level": p.Level,
				"attempt": attempt, "error": errText})}})
	})
	if err != nil {
		e.cfg.Logger.WarnContext(ctx, "record a notification on the timeline", "incident", incidentID, "err", err)
	}
}

func (e *Engine) incidentURL(id int64) string {
	if e.cfg.BaseURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/incidents/%d", strings.TrimSuffix(e.cfg.BaseURL, "/"), id)
}

// stormState is what a channel's storm window holds, kept as a setting.
type stormState struct {
	Sent    int     `json:"sent"`
	Bundled []int64 `json:"bundled,omitempty"`
	More    int     `json:"more,omitempty"` // bundled beyond the listed IDs
}

const stormListed = 1000

func stormKey(channel string, window time.Time) string {
	return fmt.Sprintf("storm/%s/%d", channel, window.Unix())
}

// stormCheck counts an opening page for a channel in the current window.
// Past the threshold it bundles the incident into the window's summary,
// which one job sends when the window ends, and reports true.
func (e *Engine) stormCheck(ctx context.Context, inc *incident.Incident, channel string) (bool, error) {
	now := e.now()
	// The window is that of the opening, so a page that goes out late
	// still counts where its incident opened.
	window := inc.StartedAt.UTC().Truncate(e.cfg.Storm.Window)
	bundled := false
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		key := stormKey(channel, window)
		var st stormState
		if v, err := tx.GetSetting(ctx, key); err != nil {
			return err
		} else if v != "" {
			if err := json.Unmarshal([]byte(v), &st); err != nil {
				return err
			}
		}
		bundled = st.Sent >= e.cfg.Storm.Threshold
		if !bundled {
			st.Sent++
		} else {
			if len(st.Bundled) < stormListed {
				st.Bundled = append(st.Bundled, inc.ID)
			} else {
				st.More++
			}
			payload, _ := json.Marshal(map[string]any{"channel": channel, "window": window.Unix()})
			runAt := window.Add(e.cfg.Storm.Window)
			if runAt.Before(now) {
				runAt = now
			}
			if _, err := e.cfg.Queue.Insert(ctx, tx, job.NewJob{Kind: KindStorm, Key: "storm/" + channel + "/" + fmt.Sprint(window.Unix()),
				Payload: payload, RunAt: runAt, MaxAttempts: 8}); err != nil {
				return err
			}
			if err := tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: inc.ID, At: now, Actor: incident.ActorSystem,
				Kind: "notification.bundled", Message: fmt.Sprintf("Alert storm: %s already had %d pages this minute; this incident goes into one summary at %s",
					channel, st.Sent, window.Add(e.cfg.Storm.Window).Format(time.TimeOnly))}}); err != nil {
				return err
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.SetSetting(ctx, key, string(b))
	})
	return bundled, err
}

// stormSummary sends a window's bundled openings as one message.
func (e *Engine) stormSummary(ctx context.Context, j *job.Job) error {
	var p struct {
		Channel string `json:"channel"`
		Window  int64  `json:"window"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(err)
	}
	v, err := e.cfg.Store.ReadSetting(ctx, stormKey(p.Channel, time.Unix(p.Window, 0)))
	if err != nil || v == "" {
		return err
	}
	var st stormState
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return job.Permanent(err)
	}
	total := len(st.Bundled) + st.More
	if total == 0 {
		return nil
	}
	n := e.cfg.Channels[p.Channel]
	if n == nil {
		return job.Permanent(fmt.Errorf("channel %q is not configured", p.Channel))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "+%d more incidents opened in this alert storm:", total)
	for i, id := range st.Bundled {
		if i == 20 {
			fmt.Fprintf(&b, "\n… and %d more", total-20)
			break
		}
		title := fmt.Sprintf("incident %d", id)
		if inc, err := e.cfg.Store.GetIncident(ctx, id); err == nil {
			title = fmt.Sprintf("#%d %s (%s, %s)", id, inc.Title, inc.Severity, inc.Status)
		}
		fmt.Fprintf(&b, "\n- %s", title)
	}
	m := notify.Message{Event: notify.EventOpened, IdempotencyKey: j.Key, Title: fmt.Sprintf("Alert storm: +%d more incidents", total), Text: b.String(),
		Incident: notify.Incident{Title: fmt.Sprintf("%d incidents", total), Severity: "critical", Status: "triggered", URL: strings.TrimSuffix(e.cfg.BaseURL, "/")}}
	if _, err := n.Notify(ctx, m); err != nil {
		return jobOutcome(err)
	}
	if e.cfg.Observe != nil {
		e.cfg.Observe(p.Channel, "sent")
	}
	// What was summarised leaves the window's list; a page bundled after
	// this summary gets a summary of its own.
	key := stormKey(p.Channel, time.Unix(p.Window, 0))
	return e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(ctx, key)
		if err != nil || v == "" {
			return err
		}
		var cur stormState
		if err := json.Unmarshal([]byte(v), &cur); err != nil {
			return err
		}
		cur.Bundled = cur.Bundled[min(len(st.Bundled), len(cur.Bundled)):]
		cur.More = max(cur.More-st.More, 0)
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return tx.SetSetting(ctx, key, string(b))
	})
}

// approvalText lists the steps of an incident that wait for approval, and
// says how to approve one.
func (e *Engine) approvalText(ctx context.Context, inc *incident.Incident) string {
	steps, err := e.cfg.Store.StepsOfIncident(ctx, inc.ID)
	if err != nil {
		return inc.Title + ": steps wait for approval"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: these steps wait for approval:", inc.Title)
	n := 0
	for _, s := range steps {
		if s.Status != "awaiting_approval" {
			continue
		}
		n++
		fmt.Fprintf(&b, "\n- step %d: %s (%s %s)", s.ID, s.Name, s.Executor, s.Risk)
	}
	if n == 0 {
		return inc.Title + ": no step waits for approval any more"
	}
	b.WriteString("\nSee exactly what each runs with `firebreak steps show ID`, then `firebreak steps approve ID`.")
	return b.String()
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

func plainText(m *notify.Message, inc *incident.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nSeverity: %s\nService: %s\nStatus: %s\nStarted: %s", inc.Title, inc.Severity, inc.Service, inc.Status,
		inc.StartedAt.Format(time.RFC3339))
	if inc.Responder != "" {
		fmt.Fprintf(&b, "\nResponder: %s", inc.Responder)
	}
	if m.Incident.URL != "" {
		fmt.Fprintf(&b, "\n%s", m.Incident.URL)
	}
	return b.String()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("escalation: marshal timeline data: %v", err))
	}
	return b
}
