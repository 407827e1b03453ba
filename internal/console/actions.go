package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/access"
	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/run"
)

func forbidden(v *viewer, what string) error {
	return incident.Errorf(incident.EFORBIDDEN, "you are signed in as %s with the role %s, which may not %s", v.Name, v.Role, what)
}

// incidentAction is a button of an incident's page. Each goes through the
// lifecycle (or the service of its kind), as the API's do.
func (s *Server) incidentAction(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if !v.Can("responder") {
		return forbidden(v, "change incidents")
	}
	f := r.PostForm
	page := fmt.Sprintf("/incidents/%d", id)
	act := incident.Action{}
	switch a := r.PathValue("action"); a {
	case "ack", "resolve", "reopen":
		act.Kind = incident.ActionKind(a)
	case "escalate":
		act.Kind, act.Text = incident.ActionEscalate, f.Get("reason")
	case "note":
		act.Kind, act.Text = incident.ActionNote, f.Get("text")
	case "assign":
		act.Kind, act.Text = incident.ActionAssign, strings.TrimSpace(f.Get("responder"))
	case "phase":
		act.Kind, act.Text = incident.ActionPhase, f.Get("phase")
	case "update":
		impact, eta := f.Get("impact"), f.Get("eta")
		act.Kind, act.Impact, act.ETA = incident.ActionUpdate, &impact, &eta
	case "draft":
		if s.Comms == nil {
			return incident.Errorf(incident.EUNAVAILABLE, "this server drafts no customer communication")
		}
		if _, err := s.Comms.Draft(r.Context(), id, comms.DraftParams{Subject: f.Get("subject"), Body: f.Get("body")}, "", v.Name); err != nil {
			return err
		}
		back(w, r, page+"#communication")
		return nil
	case "review":
		if s.Reviews == nil {
			return incident.Errorf(incident.EUNAVAILABLE, "this server writes no reviews")
		}
		status := "draft"
		if f.Get("final") != "" {
			status = "final"
		}
		if _, err := s.Reviews.Save(r.Context(), id, strings.ReplaceAll(f.Get("markdown"), "\r\n", "\n"), status, v.Name); err != nil {
			return err
		}
		back(w, r, page+"/review")
		return nil
	default:
		return incident.Errorf(incident.ENOTFOUND, "no action %q", a)
	}
	if _, err := s.Respond.Act(r.Context(), id, act, v.Name); err != nil {
		return err
	}
	back(w, r, page)
	return nil
}

// stepDecision approves, rejects, runs or ticks a step, with the
// parameter values and edit the form carries.
func (s *Server) stepDecision(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	st, err := s.Store.GetStep(r.Context(), id)
	if err != nil {
		return err
	}
	f := r.PostForm
	d := automation.Decision{Actor: v.Name, Reason: f.Get("reason"), Params: map[string]string{}}
	for k, vals := range f {
		if name, ok := strings.CutPrefix(k, "param."); ok && len(vals) > 0 && strings.TrimSpace(vals[0]) != "" {
			d.Params[name] = strings.TrimSpace(vals[0])
		}
	}
	if len(d.Params) == 0 {
		d.Params = nil
	}
	// The edit box holds the step's text; only a change is an edit.
	if text := strings.ReplaceAll(f.Get("text"), "\r\n", "\n"); text != "" && strings.TrimRight(text, "\n") != strings.TrimRight(st.Text, "\n") {
		d.Text = text
	}
	var decide func() (*run.Step, error)
	switch dec := r.PathValue("decision"); dec {
	case "approve", "reject":
		if !s.canApprove(v) {
			return incident.Errorf(incident.EFORBIDDEN, "approving steps needs one of the roles %s (approvals.roles); you are %s", strings.Join(s.ApproverRoles, ", "), v.Role)
		}
		if dec == "approve" {
			decide = func() (*run.Step, error) { return s.Runs.Approve(r.Context(), id, d) }
		} else {
			decide = func() (*run.Step, error) { return s.Runs.Reject(r.Context(), id, d) }
		}
	case "run", "done", "skip":
		if !v.Can("responder") {
			return forbidden(v, "run or tick steps")
		}
		switch dec {
		case "run":
			decide = func() (*run.Step, error) { return s.Runs.RunNow(r.Context(), id, d) }
		case "done":
			decide = func() (*run.Step, error) { return s.Runs.Tick(r.Context(), id, d, false) }
		default:
			decide = func() (*run.Step, error) { return s.Runs.Tick(r.Context(), id, d, true) }
		}
	default:
		return incident.Errorf(incident.ENOTFOUND, "no decision %q", dec)
	}
	if _, err := decide(); err != nil {
		return err
	}
	back(w, r, fmt.Sprintf("/incidents/%d#step-%d", st.IncidentID, id))
	return nil
}

// communication edits or sends a customer communication draft.
func (s *Server) communication(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if s.Comms == nil {
		return incident.Errorf(incident.EUNAVAILABLE, "this server drafts no customer communication")
	}
	f := r.PostForm
	var c *incident.Communication
	switch op := r.PathValue("op"); op {
	case "edit":
		c, err = s.Comms.Edit(r.Context(), id, comms.DraftParams{Subject: f.Get("subject"), Body: strings.ReplaceAll(f.Get("body"), "\r\n", "\n")}, v.Name)
	case "send":
		c, err = s.Comms.Send(r.Context(), id, f.Get("channel"), v.Name)
	default:
		return incident.Errorf(incident.ENOTFOUND, "no operation %q", op)
	}
	if err != nil {
		return err
	}
	back(w, r, fmt.Sprintf("/incidents/%d#communication", c.IncidentID))
	return nil
}

// adminAction creates users, tokens and integration keys, revokes them,
// and turns the kill switch; every one is in the audit log.
func (s *Server) adminAction(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := r.PostForm
	ctx := r.Context()
	switch what := r.PathValue("what"); what {
	case "users":
		if s.People == nil {
			return incident.Errorf(incident.EUNAVAILABLE, "this server has no user directory")
		}
		_, err := s.People.Create(ctx, people.CreateParams{Role: auth.Role(f.Get("role")), Password: f.Get("password"),
			Contact: oncall.User{Name: strings.TrimSpace(f.Get("name")), Email: strings.TrimSpace(f.Get("email")),
				SlackID: strings.TrimSpace(f.Get("slack_id")), TelegramChatID: strings.TrimSpace(f.Get("telegram_chat_id"))}}, v.Name, s.Now())
		if err != nil {
			return err
		}
	case "password":
		pw := f.Get("password")
		if _, err := s.People.Update(ctx, f.Get("name"), people.UpdateParams{Password: &pw}, v.Name, s.Now()); err != nil {
			return err
		}
	case "tokens", "integrations":
		name := strings.TrimSpace(f.Get("name"))
		if name == "" || len(name) > 100 || strings.ContainsAny(name, "\x00\r\n\t") {
			return incident.Errorf(incident.EINVALID, "name: give a name of at most 100 characters, on one line")
		}
		role, source := auth.Role(f.Get("role")), incident.Source("")
		if what == "integrations" {
			role, source = auth.RoleIngest, incident.Source(f.Get("source"))
			if !source.Valid() {
				return incident.Errorf(incident.EINVALID, "source: %q is not alertmanager, pagerduty, grafana or generic", source)
			}
		} else if !role.ValidUserRole() {
			return incident.Errorf(incident.EINVALID, "role: %q is not viewer, responder or admin", role)
		}
		tok, secret, err := access.Issue(ctx, s.Store, name, role, source, v.Name, s.Now())
		if err != nil {
			return err
		}
		kind := "token"
		if what == "integrations" {
			kind = "integration key"
		}
		return s.adminPage(w, r, v, http.StatusCreated, map[string]string{"Kind": kind, "Name": tok.Name, "Secret": secret})
	case "revoke-token", "revoke-integration":
		id, err := strconv.ParseInt(f.Get("id"), 10, 64)
		if err != nil {
			return incident.Errorf(incident.EINVALID, "id: %q is not an id", f.Get("id"))
		}
		if _, err := access.Revoke(ctx, s.Store, id, what == "revoke-integration", v.Name, 0, s.Now()); err != nil {
			return err
		}
		s.Tokens.Forget()
	case "pause", "resume":
		if err := s.Respond.SetPaused(ctx, what == "pause", v.Name); err != nil {
			return err
		}
	default:
		return incident.Errorf(incident.ENOTFOUND, "no admin action %q", what)
	}
	back(w, r, "/admin")
	return nil
}
