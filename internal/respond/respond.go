// Package respond is the incident lifecycle: the one way incidents change.
//
// Intake, the HTTP API (and so the CLI and the console) and, later, chat
// buttons call it; none of them changes an incident directly. Inside the
// transaction that made a change it calls its hooks in order, so that what
// follows from the change (planning or cancelling playbook steps now;
// notifications, SLA timers and audit later) commits with it or not at all.
// Resolving by alert and resolving by hand take the same path.
package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Change is what one transaction did to incidents.
type Change struct {
	// At is when it happened, by the service's clock.
	At time.Time
	// Actor did it: a person, or incident.ActorSystem for intake.
	Actor string
	// Opened are incidents the change opened, with the alert event that
	// opened each (its labels choose and fill the playbook procedure).
	Opened      []*incident.Incident
	FirstAlerts map[int64]*incident.Event
	// Resolved are incidents the change resolved, by their alerts or by
	// hand; Reopened those a person reopened, or that an alert brought
	// back during their recovery watch.
	Resolved []int64
	Reopened []int64
	// Action is the person's action, when the change is one.
	Action *incident.Action
	// Incident is the acted-on incident as it now stands, for an action.
	Incident *incident.Incident
}

// Why says in words why incidents resolved, for what a hook records.
func (c *Change) Why() string {
	if c.Actor == incident.ActorSystem || c.Actor == "" {
		return "the incident resolved"
	}
	return "the incident was resolved by " + c.Actor
}

// Hook reacts to a change inside its transaction. An error rolls the whole
// change back.
type Hook interface {
	OnChange(ctx context.Context, tx store.Tx, c *Change) error
}

// HookFunc adapts a function to a Hook.
type HookFunc func(ctx context.Context, tx store.Tx, c *Change) error

// OnChange calls f.
func (f HookFunc) OnChange(ctx context.Context, tx store.Tx, c *Change) error { return f(ctx, tx, c) }

// Config sets up a Service.
type Config struct {
	Store store.Store
	// Now is the clock; every time the lifecycle records comes from it.
	Now func() time.Time
	// Hooks run in order inside every change's transaction.
	Hooks []Hook
	// Automation is the step engine's kill switch, for SetPaused.
	Automation Automation
}

// Service applies changes to incidents and fans them out to the hooks.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// Now is the service's clock, in UTC.
func (s *Service) Now() time.Time { return s.cfg.Now().UTC() }

// Ingested is called by intake inside the transaction that applied a batch
// of alert events, with what the batch did.
func (s *Service) Ingested(ctx context.Context, tx store.Tx, events []incident.Event, b *incident.Batch) error {
	if len(b.Opened) == 0 && len(b.Resolved) == 0 && len(b.Reopened) == 0 {
		return nil
	}
	c := &Change{At: s.Now(), Actor: incident.ActorSystem, Opened: b.Opened, Resolved: b.Resolved,
		FirstAlerts: map[int64]*incident.Event{}}
	for _, inc := range b.Reopened {
		c.Reopened = append(c.Reopened, inc.ID)
	}
	for i, r := range b.Results {
		if r.Outcome == incident.OutcomeOpened && c.FirstAlerts[r.IncidentID] == nil {
			c.FirstAlerts[r.IncidentID] = &events[i]
		}
	}
	return s.fire(ctx, tx, c)
}

// Act applies a person's action to an incident in its own transaction and
// returns the incident as it now stands.
func (s *Service) Act(ctx context.Context, id int64, act incident.Action, actor string) (*incident.Incident, error) {
	var out *incident.Incident
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		now := s.Now()
		inc, err := incident.Act(ctx, tx, id, act, actor, now)
		if err != nil {
			return err
		}
		out = inc
		c := &Change{At: now, Actor: actor, Action: &act, Incident: inc}
		switch act.Kind {
		case incident.ActionResolve:
			c.Resolved = []int64{id}
		case incident.ActionReopen:
			c.Reopened = []int64{id}
		}
		return s.fire(ctx, tx, c)
	})
	return out, err
}

func (s *Service) fire(ctx context.Context, tx store.Tx, c *Change) error {
	for i, h := range s.cfg.Hooks {
		if err := h.OnChange(ctx, tx, c); err != nil {
			return fmt.Errorf("lifecycle hook %d: %w", i+1, err)
		}
	}
	return nil
}

// Automation is the step engine's kill switch.
type Automation interface {
	SetPausedIn(ctx context.Context, tx store.Tx, paused bool) error
	Poke()
}

// SetPaused turns the automation kill switch on or off and audits who did,
// in one transaction. Resuming wakes the engine.
func (s *Service) SetPaused(ctx context.Context, paused bool, actor string) error {
	a := s.cfg.Automation
	if a == nil {
		return fmt.Errorf("no automation to pause")
	}
	action := "automation.resume"
	if paused {
		action = "automation.pause"
	}
	detail, err := json.Marshal(map[string]bool{"paused": paused})
	if err != nil {
		return err
	}
	err = s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := a.SetPausedIn(ctx, tx, paused); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: s.Now(), Actor: actor, Action: action, Target: "automation", Detail: detail})
	})
	if err == nil && !paused {
		a.Poke()
	}
	return err
}
