package incident

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Action is something a person does to an incident.
type Action struct {
	Kind ActionKind
	// Text is the note for ActionNote, the responder for ActionAssign.
	Text string
	// Impact and ETA for ActionUpdate; nil leaves a field as it is.
	Impact *string
	ETA    *string
}

// ActionKind names an action.
type ActionKind string

const (
	ActionAck     ActionKind = "ack"
	ActionResolve ActionKind = "resolve"
	ActionReopen  ActionKind = "reopen"
	ActionAssign  ActionKind = "assign"
	ActionUpdate  ActionKind = "update"
	ActionNote    ActionKind = "note"
	// ActionEscalate asks for the next level of the escalation matrix now;
	// Text is the reason, if any. The status stays as it is.
	ActionEscalate ActionKind = "escalate"
	// ActionPhase moves the incident to the phase named by Text; the
	// phase clocks check the name and record the move.
	ActionPhase ActionKind = "phase"
)

// Limits on what people write, so that a timeline stays readable.
const (
	maxNote   = 10000
	maxField  = 1000
	maxPerson = 200
)

// Act applies a person's action to incident id inside tx and returns the
// incident as it now stands.
func Act(ctx context.Context, tx Tx, id int64, act Action, actor string, now time.Time) (*Incident, error) {
	now = now.UTC()
	if err := act.validate(); err != nil {
		return nil, err
	}
	incs, err := tx.IncidentsByID(ctx, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("load incident %d: %w", id, err)
	}
	inc := incs[id]
	if inc == nil {
		return nil, Errorf(ENOTFOUND, "incident %d not found", id)
	}
	var entries []*TimelineEntry
	add := func(kind EventKind, msg string, data any) {
		entries = append(entries, &TimelineEntry{IncidentID: id, At: now, Actor: actor, Kind: kind, Message: msg, Data: mustJSON(data)})
	}
	switch act.Kind {
	case ActionAck:
		switch inc.Status {
		case StatusAcknowledged:
			return nil, Errorf(ECONFLICT, "incident %d is already acknowledged", id)
		case StatusResolved:
			return nil, Errorf(ECONFLICT, "incident %d is resolved; reopen it first", id)
		}
		inc.Status = StatusAcknowledged
		inc.AcknowledgedAt = now
		if inc.Responder == "" {
			inc.Responder = actor
		}
		add(KindAcknowledged, "Acknowledged by "+actor, nil)
	case ActionResolve:
		if inc.Status == StatusResolved {
			return nil, Errorf(ECONFLICT, "incident %d is already resolved", id)
		}
		n, err := tx.ResolveFiringAlerts(ctx, id, now)
		if err != nil {
			return nil, fmt.Errorf("resolve alerts of incident %d: %w", id, err)
		}
		inc.Status = StatusResolved
		inc.ResolvedAt = now
		inc.FiringCount = 0
		msg := "Resolved by " + actor
		if n > 0 {
			msg += fmt.Sprintf(" (%d firing alerts closed; if they fire again they open a new incident)", n)
		}
		add(KindResolved, msg, map[string]any{"alerts_closed": n})
	case ActionReopen:
		if inc.Status != StatusResolved {
			return nil, Errorf(ECONFLICT, "incident %d is not resolved", id)
		}
		inc.Status = StatusTriggered
		inc.ResolvedAt = time.Time{}
		inc.AcknowledgedAt = time.Time{}
		add(KindReopened, "Reopened by "+actor, nil)
	case ActionAssign:
		was := inc.Responder
		inc.Responder = act.Text
		msg := "Assigned to " + act.Text + " by " + actor
		if act.Text == "" {
			msg = "Unassigned by " + actor
		}
		add(KindAssigned, msg, map[string]string{"from": was, "to": act.Text})
	case ActionUpdate:
		var changes []string
		data := map[string]string{}
		if act.Impact != nil && *act.Impact != inc.Impact {
			inc.Impact = *act.Impact
			changes = append(changes, "impact: "+inc.Impact)
			data["impact"] = inc.Impact
		}
		if act.ETA != nil && *act.ETA != inc.ETA {
			inc.ETA = *act.ETA
			changes = append(changes, "ETA: "+inc.ETA)
			data["eta"] = inc.ETA
		}
		if len(changes) == 0 {
			return inc, nil
		}
		add(KindUpdated, "Updated "+strings.Join(changes, "; "), data)
	case ActionNote:
		add(KindNote, act.Text, nil)
	case ActionPhase:
		// Nothing of the incident's own changes; the phase hook records it.
	case ActionEscalate:
		if inc.Status == StatusResolved {
			return nil, Errorf(ECONFLICT, "incident %d is resolved; reopen it first", id)
		}
		msg := "Escalation requested by " + actor
		if act.Text != "" {
			msg += ": " + act.Text
		}
		add(KindEscalated, msg, map[string]string{"reason": act.Text})
	}
	inc.UpdatedAt = now
	entries = append(PendingSummaries(inc, now), entries...)
	if err := tx.UpdateIncidents(ctx, []*Incident{inc}); err != nil {
		return nil, fmt.Errorf("update incident %d: %w", id, err)
	}
	if err := tx.AppendTimeline(ctx, entries); err != nil {
		return nil, fmt.Errorf("append timeline of incident %d: %w", id, err)
	}
	return inc, nil
}

func (a Action) validate() error {
	checkText := func(field, s string, max int) error {
		if !utf8.ValidString(s) {
			return Errorf(EINVALID, "%s: must be valid UTF-8", field)
		}
		if len(s) > max {
			return Errorf(EINVALID, "%s: %d bytes is longer than the limit of %d", field, len(s), max)
		}
		return nil
	}
	switch a.Kind {
	case ActionAck, ActionResolve, ActionReopen:
		return nil
	case ActionEscalate:
		return checkText("reason", a.Text, maxField)
	case ActionPhase:
		if strings.TrimSpace(a.Text) == "" {
			return Errorf(EINVALID, "phase: is required, such as containment or investigation")
		}
		return checkText("phase", a.Text, maxPerson)
	case ActionAssign:
		return checkText("responder", a.Text, maxPerson)
	case ActionNote:
		if strings.TrimSpace(a.Text) == "" {
			return Errorf(EINVALID, "text: a note cannot be empty")
		}
		return checkText("text", a.Text, maxNote)
	case ActionUpdate:
		if a.Impact == nil && a.ETA == nil {
			return Errorf(EINVALID, "impact, eta: give at least one of them")
		}
		if a.Impact != nil {
			if err := checkText("impact", *a.Impact, maxField); err != nil {
				return err
			}
		}
		if a.ETA != nil {
			return checkText("eta", *a.ETA, maxField)
		}
		return nil
	}
	return Errorf(EINVALID, "action: %q is not one of ack, resolve, reopen, assign, update, note, escalate, phase", a.Kind)
}
