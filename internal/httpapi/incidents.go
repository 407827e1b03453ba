package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const (
	defaultLimit = 50
	maxLimit     = 500
)

func limitOf(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, incident.Errorf(incident.EINVALID, "limit: %q is not a number from 1 to %d", v, maxLimit)
	}
	return n, nil
}

// Cursors are opaque to clients: an encoded ID to continue from.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, incident.Errorf(incident.EINVALID, "cursor: %q is not a cursor this API returned", v)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	q := r.URL.Query()
	var p store.ListIncidentsParams
	for _, v := range splitList(q.Get("status")) {
		st := incident.Status(strings.ToLower(v))
		if v == "open" {
			p.Status = append(p.Status, incident.StatusTriggered, incident.StatusAcknowledged)
			continue
		}
		if !st.Valid() {
			return incident.Errorf(incident.EINVALID, "status: %q is not triggered, acknowledged, resolved or open", v)
		}
		p.Status = append(p.Status, st)
	}
	for _, v := range splitList(q.Get("severity")) {
		sev, ok := incident.ParseSeverity(v)
		if !ok {
			return incident.Errorf(incident.EINVALID, "severity: %q is not critical, warning or info", v)
		}
		p.Severity = append(p.Severity, sev)
	}
	p.Service = q.Get("service")
	var err error
	if p.Limit, err = limitOf(q); err != nil {
		return err
	}
	if p.BeforeID, err = decodeCursor(q.Get("cursor")); err != nil {
		return err
	}
	incs, err := s.Store.ListIncidents(r.Context(), p)
	if err != nil {
		return err
	}
	next := ""
	if len(incs) == p.Limit {
		next = encodeCursor(incs[len(incs)-1].ID)
	}
	if incs == nil {
		incs = []incident.Incident{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs, "next_cursor": next})
	return nil
}

// incidentAlertsShown caps the alerts embedded in an incident; the rest are
// paged through /alerts.
const incidentAlertsShown = 100

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inc, err := s.Store.GetIncident(r.Context(), id)
	if err != nil {
		return err
	}
	alerts, err := s.Store.ListAlerts(r.Context(), store.ListAlertsParams{IncidentID: id, Limit: incidentAlertsShown})
	if err != nil {
		return err
	}
	if alerts == nil {
		alerts = []incident.Alert{}
	}
	runs, steps, err := s.runsOf(r, id)
	if err != nil {
		return err
	}
	out := map[string]any{
		"incident":         inc,
		"alerts":           alerts,
		"alerts_truncated": inc.AlertCount > len(alerts),
		"runs":             runs,
		"steps":            steps,
	}
	if s.Phases != nil {
		st, err := s.Phases.Status(r.Context(), inc)
		if err != nil {
			return err
		}
		out["phases"] = st
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.ListAlertsParams{IncidentID: id}
	if v := q.Get("status"); v != "" {
		st := incident.AlertStatus(v)
		if st != incident.AlertFiring && st != incident.AlertResolved {
			return incident.Errorf(incident.EINVALID, "status: %q is not firing or resolved", v)
		}
		p.Status = st
	}
	if p.Limit, err = limitOf(q); err != nil {
		return err
	}
	if p.AfterID, err = decodeCursor(q.Get("cursor")); err != nil {
		return err
	}
	if _, err := s.Store.GetIncident(r.Context(), id); err != nil {
		return err
	}
	alerts, err := s.Store.ListAlerts(r.Context(), p)
	if err != nil {
		return err
	}
	next := ""
	if len(alerts) == p.Limit {
		next = encodeCursor(alerts[len(alerts)-1].ID)
	}
	if alerts == nil {
		alerts = []incident.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts, "next_cursor": next})
	return nil
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.ListTimelineParams{IncidentID: id}
	if p.Limit, err = limitOf(q); err != nil {
		return err
	}
	if q.Get("limit") == "" {
		p.Limit = maxLimit
	}
	if p.AfterID, err = decodeCursor(q.Get("cursor")); err != nil {
		return err
	}
	if _, err := s.Store.GetIncident(r.Context(), id); err != nil {
		return err
	}
	tl, err := s.Store.ListTimeline(r.Context(), p)
	if err != nil {
		return err
	}
	next := ""
	if len(tl) == p.Limit {
		next = encodeCursor(tl[len(tl)-1].ID)
	}
	if tl == nil {
		tl = []incident.TimelineEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"timeline": tl, "next_cursor": next})
	return nil
}

// actionBody is what the action endpoints accept; each uses its fields.
type actionBody struct {
	Text      string  `json:"text"`
	Responder string  `json:"responder"`
	Impact    *string `json:"impact"`
	ETA       *string `json:"eta"`
}

func (s *Server) action(kind incident.ActionKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		var body actionBody
		if r.ContentLength != 0 || kind == incident.ActionNote || kind == incident.ActionUpdate || kind == incident.ActionAssign {
			if err := s.decodeJSON(w, r, &body); err != nil {
				return err
			}
		}
		act := incident.Action{Kind: kind, Text: body.Text, Impact: body.Impact, ETA: body.ETA}
		if kind == incident.ActionAssign {
			act.Text = body.Responder
		}
		inc, err := s.Respond.Act(r.Context(), id, act, p.Actor())
		if err != nil {
			return err
		}
		status := http.StatusOK
		if kind == incident.ActionNote {
			status = http.StatusCreated
		}
		writeJSON(w, status, map[string]any{"incident": inc})
		return nil
	}
}
