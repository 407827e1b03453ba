// Package comms drafts customer communication from the playbook's
// customer template and sends it only when a responder says so. Nothing
// here runs by itself: the lifecycle never calls it, and a draft goes out
// through one durable job that a person's send creates.
package comms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/notify/template"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// KindSend is the job that sends a communication a responder released.
const KindSend = "comms.send"

// EventCustomer is the event name of a customer communication, as a
// webhook receiver sees it.
const EventCustomer notify.Event = "customer_communication"

// Limits on what a person writes.
const (
	maxSubject = 300
	maxBody    = 20000
)

// Config sets up a Service.
type Config struct {
	Store     store.Store
	Queue     *job.Queue[store.Tx]
	Playbooks *playbook.Library
	// Channels are the notifiers a communication may go through, by name:
	// the configuration's notify.customer.
	Channels map[string]notify.Notifier
	BaseURL  string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service drafts and sends customer communication.
type Service struct {
	cfg Config
}

// New returns a Service and registers its send job.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg}
	cfg.Queue.Handle(KindSend, s.send)
	return s
}

// Channels names the channels a communication may be sent through.
func (s *Service) Channels() []string {
	out := make([]string, 0, len(s.cfg.Channels))
	for name := range s.cfg.Channels {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Suggestion is a draft rendered from the template, not yet saved.
type Suggestion struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Template names the playbook template it came from.
	Template string `json:"template"`
	// Unfilled says that some fields read template.NotKnown, to be written
	// by a person before it can be sent.
	Unfilled bool `json:"unfilled"`
}

// Suggest renders the customer template of the incident's playbook with
// what the incident knows.
func (s *Service) Suggest(ctx context.Context, incidentID int64, url string) (*Suggestion, error) {
	inc, err := s.cfg.Store.GetIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	tpl := s.customerTemplate(ctx, incidentID)
	if tpl == nil {
		return nil, incident.Errorf(incident.ENOTFOUND, "no playbook has a customer communication template (a template whose name says customer under Communication Templates)")
	}
	text := template.Render(tpl, template.Values{AlertName: inc.Title, Severity: string(inc.Severity), Service: inc.Service,
		Status: string(inc.Status), StartedAt: inc.StartedAt, Responder: inc.Responder, ETA: inc.ETA, Impact: inc.Impact,
		Description: inc.Impact, IncidentURL: url})
	subject, body := splitSubject(text)
	return &Suggestion{Subject: subject, Body: body, Template: tpl.Name, Unfilled: strings.Contains(text, template.NotKnown)}, nil
}

// customerTemplate is the customer template of the playbook that runs for
// the incident, else of the first playbook that has one.
func (s *Service) customerTemplate(ctx context.Context, incidentID int64) *playbook.Template {
	if s.cfg.Playbooks == nil {
		return nil
	}
	pbs := s.cfg.Playbooks.Playbooks()
	if runs, err := s.cfg.Store.RunsOfIncident(ctx, incidentID); err == nil && len(runs) > 0 {
		if pb := s.cfg.Playbooks.Playbook(runs[0].PlaybookID); pb != nil {
			pbs = append([]*playbook.Playbook{pb}, pbs...)
		}
	}
	for _, pb := range pbs {
		for _, t := range pb.Templates {
			if strings.Contains(strings.ToLower(t.Name), "customer") {
				return t
			}
		}
	}
	return nil
}

// splitSubject takes a leading "Subject: …" line off a rendered template.
func splitSubject(text string) (string, string) {
	first, rest, _ := strings.Cut(text, "\n")
	if v, ok := strings.CutPrefix(strings.TrimSpace(first), "Subject:"); ok {
		return strings.TrimSpace(v), strings.TrimLeft(rest, "\n")
	}
	return "", text
}

// DraftParams are what a responder writes; empty fields take the
// template's suggestion.
type DraftParams struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

func (p DraftParams) validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"subject", p.Subject, maxSubject}, {"body", p.Body, maxBody}} {
		if !utf8.ValidString(f.v) {
			return incident.Errorf(incident.EINVALID, "%s: must be valid UTF-8", f.name)
		}
		if len(f.v) > f.max {
			return incident.Errorf(incident.EINVALID, "%s: %d bytes is longer than the limit of %d", f.name, len(f.v), f.max)
		}
	}
	if strings.ContainsAny(p.Subject, "\r\n") {
		return incident.Errorf(incident.EINVALID, "subject: must be one line")
	}
	return nil
}

// Draft saves a draft for an incident, as actor.
func (s *Service) Draft(ctx context.Context, incidentID int64, p DraftParams, url, actor string) (*incident.Communication, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.Subject == "" || p.Body == "" {
		sug, err := s.Suggest(ctx, incidentID, url)
		// Without a template a person's own text is still a draft.
		if err != nil && !(p.Body != "" && incident.ErrorCode(err) == incident.ENOTFOUND) {
			return nil, err
		}
		if sug != nil {
			p.Subject = or(p.Subject, sug.Subject)
			p.Body = or(p.Body, sug.Body)
		}
	}
	now := s.cfg.Now().UTC()
	c := &incident.Communication{IncidentID: incidentID, Status: incident.CommDraft, Subject: p.Subject, Body: p.Body,
		CreatedBy: actor, CreatedAt: now, UpdatedAt: now}
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := exists(ctx, tx, incidentID); err != nil {
			return err
		}
		if err := tx.SaveCommunication(ctx, c); err != nil {
			return err
		}
		return note(ctx, tx, c, now, actor, "communication.drafted",
			fmt.Sprintf("Customer communication %d drafted by %s: %q (not sent)", c.ID, actor, c.Subject))
	})
	return c, err
}

// Edit changes a draft, as actor.
func (s *Service) Edit(ctx context.Context, id int64, p DraftParams, actor string) (*incident.Communication, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var out *incident.Communication
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		c, err := tx.LockCommunication(ctx, id)
		if err != nil {
			return err
		}
		if c.Status != incident.CommDraft && c.Status != incident.CommFailed {
			return incident.Errorf(incident.ECONFLICT, "communication %d is %s; only a draft can change", id, c.Status)
		}
		c.Subject, c.Body = or(p.Subject, c.Subject), or(p.Body, c.Body)
		c.Status, c.Error, c.UpdatedAt = incident.CommDraft, "", s.cfg.Now().UTC()
		if err := tx.SaveCommunication(ctx, c); err != nil {
			return err
		}
		out = c
		return note(ctx, tx, c, c.UpdatedAt, actor, "communication.edited", fmt.Sprintf("Customer communication %d edited by %s", c.ID, actor))
	})
	return out, err
}

// Send releases a draft to go out through channel, as actor. It is queued
// in the same transaction as the decision, and sent by a job: a crash
// between the two loses nothing.
func (s *Service) Send(ctx context.Context, id int64, channel, actor string) (*incident.Communication, error) {
	if _, ok := s.cfg.Channels[channel]; !ok {
		return nil, incident.Errorf(incident.EINVALID, "channel: %q is not a customer channel; choose one of %s (notify.customer in the configuration)",
			channel, orNone(strings.Join(s.Channels(), ", ")))
	}
	var out *incident.Communication
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		c, err := tx.LockCommunication(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case c.Status == incident.CommSent || c.Status == incident.CommQueued:
			return incident.Errorf(incident.ECONFLICT, "communication %d is already %s", id, c.Status)
		case strings.Contains(c.Subject+c.Body, template.NotKnown):
			return incident.Errorf(incident.EINVALID, "body: still says %q where the template has a field; edit the draft first", template.NotKnown)
		case strings.TrimSpace(c.Body) == "":
			return incident.Errorf(incident.EINVALID, "body: is empty")
		}
		c.Status, c.Channel, c.SentBy, c.Error, c.UpdatedAt = incident.CommQueued, channel, actor, "", s.cfg.Now().UTC()
		if err := tx.SaveCommunication(ctx, c); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]int64{"communication": c.ID})
		if _, err := s.cfg.Queue.Insert(ctx, tx, job.NewJob{Kind: KindSend, Key: fmt.Sprintf("comms/%d", c.ID), Payload: payload, MaxAttempts: 8}); err != nil {
			return err
		}
		out = c
		return note(ctx, tx, c, c.UpdatedAt, actor, "communication.queued",
			fmt.Sprintf("Customer communication %d released by %s to go out through %s", c.ID, actor, channel))
	})
	return out, err
}

// send is the job that delivers a released communication.
func (s *Service) send(ctx context.Context, j *job.Job) error {
	var p struct {
		ID int64 `json:"communication"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(err)
	}
	c, err := s.cfg.Store.GetCommunication(ctx, p.ID)
	if err != nil {
		return err
	}
	if c.Status != incident.CommQueued {
		return nil
	}
	inc, err := s.cfg.Store.GetIncident(ctx, c.IncidentID)
	if err != nil {
		return err
	}
	n := s.cfg.Channels[c.Channel]
	var sendErr error
	if n == nil {
		sendErr = job.Permanent(fmt.Errorf("channel %q is no longer configured", c.Channel))
	} else {
		_, sendErr = n.Notify(ctx, notify.Message{Event: EventCustomer, IdempotencyKey: j.Key, Title: c.Subject, Text: c.Body,
			Incident: notify.Incident{ID: inc.ID, Title: inc.Title, Severity: string(inc.Severity), Status: string(inc.Status),
				Service: inc.Service, StartedAt: inc.StartedAt}})
	}
	retry, after := notify.Retryable(sendErr)
	final := sendErr == nil || !retry || job.IsPermanent(sendErr) || j.Attempts >= j.MaxAttempts
	if !final {
		if after > 0 {
			return job.RetryAfter(sendErr, after)
		}
		return sendErr
	}
	err = s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		c, err := tx.LockCommunication(ctx, p.ID)
		if err != nil {
			return err
		}
		now := s.cfg.Now().UTC()
		c.UpdatedAt = now
		kind, msg := incident.EventKind("communication.sent"), fmt.Sprintf("Customer communication %d sent through %s (released by %s)", c.ID, c.Channel, c.SentBy)
		if sendErr != nil {
			c.Status, c.Error = incident.CommFailed, sendErr.Error()
			kind, msg = "communication.failed", fmt.Sprintf("Customer communication %d could not be sent through %s: %v; edit or send it again", c.ID, c.Channel, sendErr)
		} else {
			c.Status, c.SentAt = incident.CommSent, now
		}
		if err := tx.SaveCommunication(ctx, c); err != nil {
			return err
		}
		return note(ctx, tx, c, now, incident.ActorSystem, kind, msg)
	})
	if err != nil {
		return err
	}
	if sendErr != nil {
		return job.Permanent(sendErr)
	}
	return nil
}

func exists(ctx context.Context, tx store.Tx, id int64) error {
	incs, err := tx.IncidentsByID(ctx, []int64{id})
	if err != nil {
		return err
	}
	if incs[id] == nil {
		return incident.Errorf(incident.ENOTFOUND, "incident %d not found", id)
	}
	return nil
}

func note(ctx context.Context, tx store.Tx, c *incident.Communication, at time.Time, actor string, kind incident.EventKind, msg string) error {
	data, _ := json.Marshal(map[string]any{"communication": c.ID, "status": c.Status, "channel": c.Channel, "subject": c.Subject})
	return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: c.IncidentID, At: at, Actor: actor, Kind: kind, Message: msg, Data: data}})
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func orNone(s string) string { return or(s, "none is configured") }
