package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
)

func (s *Server) stepRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/incidents/{id}/steps", s.authed(auth.RoleViewer, s.incidentSteps))
	m.Handle("GET /api/v1/steps/{id}", s.authed(auth.RoleViewer, s.getStep))
	m.Handle("POST /api/v1/steps/{id}/approve", s.authed(auth.RoleViewer, s.approver(s.approveStep)))
	m.Handle("POST /api/v1/steps/{id}/reject", s.authed(auth.RoleViewer, s.approver(s.rejectStep)))
	m.Handle("POST /api/v1/steps/{id}/run", s.authed(auth.RoleResponder, s.runStep))
	m.Handle("POST /api/v1/steps/{id}/done", s.authed(auth.RoleResponder, s.tickStep(false)))
	m.Handle("POST /api/v1/steps/{id}/skip", s.authed(auth.RoleResponder, s.tickStep(true)))
	m.Handle("GET /api/v1/automation", s.authed(auth.RoleViewer, s.automation))
	m.Handle("POST /api/v1/automation/pause", s.authed(auth.RoleAdmin, s.setAutomation(true)))
	m.Handle("POST /api/v1/automation/resume", s.authed(auth.RoleAdmin, s.setAutomation(false)))
}

// approver lets through only the roles configured to approve write steps.
func (s *Server) approver(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		roles := s.ApproverRoles
		if len(roles) == 0 {
			roles = []string{string(auth.RoleResponder), string(auth.RoleAdmin)}
		}
		if !slices.Contains(roles, string(p.Role)) {
			return incident.Errorf(incident.EFORBIDDEN, "token %q has role %s; approving steps needs one of: %s (approvals.roles)", p.Name, p.Role, strings.Join(roles, ", "))
		}
		return h(w, r, p)
	}
}

// stepView is a step with how it would run now.
type stepView struct {
	run.Step
	Preview *automation.Preview `json:"preview,omitempty"`
}

// MarshalJSON adds the preview to the step's own JSON (run.Step has its
// own MarshalJSON, which embedding would otherwise promote over ours).
func (v stepView) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(v.Step)
	if err != nil || v.Preview == nil {
		return b, err
	}
	p, err := json.Marshal(v.Preview)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"preview":`...)
	b = append(b, p...)
	return append(b, '}'), nil
}

func (s *Server) view(st *run.Step) stepView {
	return stepView{Step: *st, Preview: s.Runs.Preview(st)}
}

func (s *Server) incidentSteps(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.Store.GetIncident(r.Context(), id); err != nil {
		return err
	}
	runs, steps, err := s.runsOf(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "steps": steps})
	return nil
}

func (s *Server) runsOf(r *http.Request, incidentID int64) ([]run.Run, []stepView, error) {
	rs := s.Runs.Store()
	runs, err := rs.RunsOfIncident(r.Context(), incidentID)
	if err != nil {
		return nil, nil, err
	}
	steps, err := rs.StepsOfIncident(r.Context(), incidentID)
	if err != nil {
		return nil, nil, err
	}
	views := make([]stepView, 0, len(steps))
	for i := range steps {
		views = append(views, s.view(&steps[i]))
	}
	if runs == nil {
		runs = []run.Run{}
	}
	return runs, views, nil
}

func (s *Server) getStep(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	st, err := s.Runs.Store().GetStep(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": s.view(st)})
	return nil
}

// decisionBody is what approve, reject, run, done and skip accept.
type decisionBody struct {
	Params map[string]string `json:"params"`
	Text   string            `json:"text"`
	Reason string            `json:"reason"`
	Note   string            `json:"note"`
}

func (s *Server) decision(w http.ResponseWriter, r *http.Request, p *auth.Principal) (int64, automation.Decision, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, automation.Decision{}, err
	}
	var body decisionBody
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &body); err != nil {
			return 0, automation.Decision{}, err
		}
	}
	reason := body.Reason
	if reason == "" {
		reason = body.Note
	}
	return id, automation.Decision{Actor: p.Actor(), Params: body.Params, Text: body.Text, Reason: reason}, nil
}

func (s *Server) stepAction(w http.ResponseWriter, r *http.Request, p *auth.Principal, act func(int64, automation.Decision) (*run.Step, error)) error {
	id, d, err := s.decision(w, r, p)
	if err != nil {
		return err
	}
	st, err := act(id, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": s.view(st)})
	return nil
}

func (s *Server) approveStep(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.stepAction(w, r, p, func(id int64, d automation.Decision) (*run.Step, error) { return s.Runs.Approve(r.Context(), id, d) })
}

func (s *Server) rejectStep(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.stepAction(w, r, p, func(id int64, d automation.Decision) (*run.Step, error) { return s.Runs.Reject(r.Context(), id, d) })
}

func (s *Server) runStep(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.stepAction(w, r, p, func(id int64, d automation.Decision) (*run.Step, error) { return s.Runs.RunNow(r.Context(), id, d) })
}

func (s *Server) tickStep(skip bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		return s.stepAction(w, r, p, func(id int64, d automation.Decision) (*run.Step, error) { return s.Runs.Tick(r.Context(), id, d, skip) })
	}
}

func (s *Server) automation(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	paused, err := s.Runs.Paused(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"paused": paused})
	return nil
}

func (s *Server) setAutomation(paused bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if err := s.Respond.SetPaused(r.Context(), paused, p.Actor()); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"paused": paused})
		return nil
	}
}
