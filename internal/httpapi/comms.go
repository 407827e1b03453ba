package httpapi

import (
	"net/http"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/incident"
)

func (s *Server) commsRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/incidents/{id}/communications", s.authed(auth.RoleViewer, s.listComms))
	m.Handle("POST /api/v1/incidents/{id}/communications", s.authed(auth.RoleResponder, s.draftComm))
	m.Handle("PATCH /api/v1/communications/{id}", s.authed(auth.RoleResponder, s.editComm))
	m.Handle("POST /api/v1/communications/{id}/send", s.authed(auth.RoleResponder, s.sendComm))
}

// commsFor returns the communication service and the request's {id}.
func (s *Server) commsFor(r *http.Request) (*comms.Service, int64, error) {
	if s.Comms == nil {
		return nil, 0, incident.Errorf(incident.EUNAVAILABLE, "this server does not draft customer communication")
	}
	id, err := pathID(r, "id")
	return s.Comms, id, err
}

// listComms lists an incident's communications and, beside them, what the
// playbook's customer template says now, for a new draft.
func (s *Server) listComms(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, id, err := s.commsFor(r)
	if err != nil {
		return err
	}
	list, err := s.Store.ListCommunications(r.Context(), id)
	if err != nil {
		return err
	}
	if list == nil {
		list = []incident.Communication{}
	}
	out := map[string]any{"communications": list, "channels": c.Channels()}
	if sug, err := c.Suggest(r.Context(), id, s.incidentURL(id)); err == nil {
		out["suggestion"] = sug
	} else if incident.ErrorCode(err) != incident.ENOTFOUND {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) draftComm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, id, err := s.commsFor(r)
	if err != nil {
		return err
	}
	var b comms.DraftParams
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &b); err != nil {
			return err
		}
	}
	out, err := c.Draft(r.Context(), id, b, s.incidentURL(id), p.Actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"communication": out})
	return nil
}

func (s *Server) editComm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, id, err := s.commsFor(r)
	if err != nil {
		return err
	}
	var b comms.DraftParams
	if err := s.decodeJSON(w, r, &b); err != nil {
		return err
	}
	out, err := c.Edit(r.Context(), id, b, p.Actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"communication": out})
	return nil
}

func (s *Server) sendComm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, id, err := s.commsFor(r)
	if err != nil {
		return err
	}
	var b struct {
		Channel string `json:"channel"`
	}
	if err := s.decodeJSON(w, r, &b); err != nil {
		return err
	}
	out, err := c.Send(r.Context(), id, b.Channel, p.Actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"communication": out})
	return nil
}
