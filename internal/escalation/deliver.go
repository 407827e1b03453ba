package escalation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// A delivery target is a channel name, or one contact method of a person,
// "user:NAME/KIND" (user:ana/telegram). Targets of people are resolved when
// a level is paged, so a rotation pages whoever is on call then, and the
// news of an ack or resolve goes to the same people later.

// A follow-on message waits for the page it follows up to maxPageWaits
// times, from pageWait doubling.
const (
	pageWait     = 200 * time.Millisecond
	maxPageWaits = 6
)

type deliverPayload struct {
	IncidentID int64        `json:"incident_id"`
	Event      notify.Event `json:"event"`
	Level      int          `json:"level"`
	// Channel is the delivery target (the name predates people).
	Channel string `json:"channel"`
}

func (e *Engine) deliveryJob(incidentID int64, event notify.Event, level int, target, keySuffix string) job.NewJob {
	payload, _ := json.Marshal(deliverPayload{IncidentID: incidentID, Event: event, Level: level, Channel: target})
	return job.NewJob{Kind: KindDeliver, Key: fmt.Sprintf("notify/%d/%s/%d/%s%s", incidentID, event, level, target, keySuffix),
		Payload: payload, MaxAttempts: 8}
}

// deliveries are the delivery jobs of one level's targets.
type deliveries struct {
	jobs []job.NewJob
	// targets are the delivery targets, described for the timeline.
	targets   []string
	described []string
	// problems are targets that reached nobody, and why.
	problems []string
}

func (e *Engine) deliveries(ctx context.Context, incidentID int64, event notify.Event, level int, targets []string, keySuffix string) deliveries {
	var d deliveries
	add := func(target string) {
		d.jobs = append(d.jobs, e.deliveryJob(incidentID, event, level, target, keySuffix))
		d.targets = append(d.targets, target)
	}
	for _, t := range targets {
		if !strings.Contains(t, ":") {
			add(t)
			d.described = append(d.described, t)
			continue
		}
		if e.cfg.People == nil {
			d.problems = append(d.problems, t+": no user directory is configured")
			continue
		}
		persons, err := e.cfg.People.Reach(ctx, t, e.now())
		if err != nil {
			d.problems = append(d.problems, err.Error())
			continue
		}
		for _, p := range persons {
			contacts := p.User.Contacts()
			if len(contacts) == 0 {
				d.problems = append(d.problems, fmt.Sprintf("%s (%s) has no contact method; add email, slack_id, telegram_chat_id or teams_webhook", p.User.Name, p.Via))
				continue
			}
			var kinds []string
			for _, c := range contacts {
				add("user:" + p.User.Name + "/" + string(c.Kind))
				kinds = append(kinds, string(c.Kind))
			}
			d.described = append(d.described, fmt.Sprintf("%s by %s (%s)", p.User.Name, strings.Join(kinds, ", "), p.Via))
		}
	}
	return d
}

// route is where one delivery goes.
type route struct {
	notifier notify.Notifier
	to       string
	// channel names the configured channel whose template and storm
	// window the delivery uses.
	channel string
}

// route resolves a delivery target at send time, or says why it cannot.
func (e *Engine) route(ctx context.Context, target string) (route, error) {
	rest, ok := strings.CutPrefix(target, "user:")
	if !ok {
		n := e.cfg.Channels[target]
		if n == nil {
			return route{}, fmt.Errorf("no such channel is configured")
		}
		return route{notifier: n, channel: target}, nil
	}
	name, kind, _ := strings.Cut(rest, "/")
	if e.cfg.People == nil || e.cfg.Contact == nil {
		return route{}, fmt.Errorf("no user directory is configured")
	}
	u, err := e.cfg.People.User(ctx, name)
	if err != nil {
		return route{}, err
	}
	var address string
	for _, c := range u.Contact.Contacts() {
		if string(c.Kind) == kind {
			address = c.Address
		}
	}
	if address == "" {
		return route{}, fmt.Errorf("user %s has no %s contact any more", name, kind)
	}
	c, err := e.cfg.Contact(oncall.ContactKind(kind), address)
	if err != nil {
		return route{}, err
	}
	return route{notifier: c.Notifier, to: c.To, channel: c.Channel}, nil
}

// deliver is the handler of a delivery job: it sends one message to one
// target and records the attempt on the timeline. News of an ack or
// resolve changes the original page in place where the medium can (Slack,
// Telegram) and answers it; mail replies in the page's thread.
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
	r, err := e.route(ctx, p.Channel)
	if err != nil {
		e.record(ctx, inc.ID, "notification.failed", fmt.Sprintf("Notification to %s failed: %v", p.Channel, err), p, j.Attempts, err.Error(), "")
		return job.Permanent(fmt.Errorf("%s: %w", p.Channel, err))
	}
	m := e.message(ctx, inc, p, j.Key, r)
	var ref string
	if p.Event != notify.EventOpened && p.Event != notify.EventEscalated {
		var pending bool
		if ref, pending, err = e.pageRef(ctx, inc.ID, p.Channel); err != nil {
			return err
		}
		if pending && j.Attempts <= maxPageWaits {
			// The page to this target is still on its way: news of it goes
			// after it, in its thread. 0.2 s doubling, some 12 s in all;
			// after that it goes out on its own.
			return job.Snooze(pageWait << (j.Attempts - 1))
		}
	}
	updated := false
	if _, inPlace := r.notifier.(notify.InPlace); inPlace && ref != "" {
		if p.Event == notify.EventAcknowledged || p.Event == notify.EventResolved {
			// The page itself now says what happened, with the buttons
			// that still make sense.
			upd := m
			upd.Ref, upd.Title = ref, fmt.Sprintf("%s: %s", eventWord(notify.EventOpened), inc.Title)
			upd.Actions = inc.Status != incident.StatusResolved
			if _, err := r.notifier.Notify(ctx, upd); err != nil {
				return e.failed(ctx, inc.ID, p, j, fmt.Errorf("update the page in place: %w", err))
			}
			updated = true
		}
		m.Thread = ref
	} else if ref != "" {
		m.Ref = ref
	}
	res, err := r.notifier.Notify(ctx, m)
	if err != nil {
		return e.failed(ctx, inc.ID, p, j, err)
	}
	msg := fmt.Sprintf("Notified %s: %s (level %d)", p.Channel, eventWord(p.Event), p.Level)
	switch {
	case updated:
		msg += "; the page was updated in place"
	case m.Thread != "":
		msg += "; in the page's thread"
	}
	e.record(ctx, inc.ID, "notification.sent", msg, p, j.Attempts, "", res.Ref)
	return nil
}

// message builds what one delivery says.
func (e *Engine) message(ctx context.Context, inc *incident.Incident, p deliverPayload, key string, r route) notify.Message {
	m := notify.Message{
		Event: p.Event, Level: p.Level, IdempotencyKey: key, To: r.to,
		Incident: notify.Incident{ID: inc.ID, Title: inc.Title, Severity: string(inc.Severity), Status: string(inc.Status),
			Service: inc.Service, URL: e.incidentURL(inc.ID), Responder: inc.Responder, StartedAt: inc.StartedAt},
		Actions: p.Event == notify.EventOpened || p.Event == notify.EventEscalated,
	}
	if m.Actions && e.cfg.AckLink != nil {
		m.AckURL = e.cfg.AckLink(r.channel, r.to, inc.ID)
	}
	m.Title = fmt.Sprintf("%s: %s", eventWord(p.Event), inc.Title)
	switch {
	case p.Event == notify.EventApprovalNeeded:
		m.Text = e.approvalText(ctx, inc)
	case p.Event == notify.EventSLABreach:
		m.Text = e.breachText(ctx, inc)
		if e.cfg.Render != nil {
			m.Text += "\n\n" + e.cfg.Render(r.channel, &m, inc)
		}
	case e.cfg.Render != nil:
		m.Text = e.cfg.Render(r.channel, &m, inc)
	default:
		m.Text = plainText(&m, inc)
	}
	return m
}

// failed records a failed attempt and tells the queue what it means.
func (e *Engine) failed(ctx context.Context, incidentID int64, p deliverPayload, j *job.Job, err error) error {
	if retry, _ := notify.Retryable(err); !retry || j.Attempts >= j.MaxAttempts {
		e.record(ctx, incidentID, "notification.failed", fmt.Sprintf("Notification to %s failed for good after %d attempt(s): %v", p.Channel, j.Attempts, err), p, j.Attempts, err.Error(), "")
		return job.Permanent(err)
	}
	e.record(ctx, incidentID, "notification.retrying", fmt.Sprintf("Notification to %s failed (attempt %d): %v; retrying", p.Channel, j.Attempts, err), p, j.Attempts, err.Error(), "")
	return jobOutcome(err)
}

// pageRef returns the channel's handle of the page sent to target for an
// incident (the first opened or escalated message that got one), or "";
// pending says a page to target was queued and has no outcome yet.
func (e *Engine) pageRef(ctx context.Context, incidentID int64, target string) (ref string, pending bool, err error) {
	queued, settled := 0, 0
	err = e.scanTimeline(ctx, incidentID, func(en *incident.TimelineEntry) {
		switch en.Kind {
		case "escalation.paged":
			var d struct {
				Deliveries []string `json:"deliveries"`
			}
			if json.Unmarshal(en.Data, &d) == nil && slices.Contains(d.Deliveries, target) {
				queued++
			}
		case "notification.sent", "notification.failed", "notification.bundled":
			var d struct {
				Channel string       `json:"channel"`
				Event   notify.Event `json:"event"`
				Ref     string       `json:"ref"`
			}
			if json.Unmarshal(en.Data, &d) != nil || d.Channel != target || (d.Event != notify.EventOpened && d.Event != notify.EventEscalated) {
				return
			}
			settled++
			if ref == "" && en.Kind == "notification.sent" {
				ref = d.Ref
			}
		}
	})
	return ref, settled < queued, err
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

func (e *Engine) record(ctx context.Context, incidentID int64, kind incident.EventKind, msg string, p deliverPayload, attempt int, errText, ref string) {
	if e.cfg.Observe != nil {
		channel := p.Channel
		if strings.HasPrefix(channel, "user:") {
			// Metrics are per channel kind for people, not per person.
			_, kind, _ := strings.Cut(channel, "/")
			channel = "person/" + kind
		}
		e.cfg.Observe(channel, strings.TrimPrefix(string(kind), "notification."))
	}
	data := map[string]any{"channel": p.Channel, "event": p.Event, "level": p.Level, "attempt": attempt, "error": errText}
	if ref != "" {
		data["ref"] = ref
	}
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: incidentID, At: e.now(), Actor: incident.ActorSystem,
			Kind: kind, Message: msg, Data: mustJSON(data)}})
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

// breachText says which phase overran its budget: the latest breach on the
// timeline.
func (e *Engine) breachText(ctx context.Context, inc *incident.Incident) string {
	text := inc.Title + ": a phase overran its time budget"
	e.scanTimeline(ctx, inc.ID, func(en *incident.TimelineEntry) {
		if en.Kind == "phase.breached" {
			text = en.Message
		}
	})
	return text
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
