package httpapi

import (
	"net/http"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

func (s *Server) playbookRoutes() {
	s.mux.Handle("GET /api/v1/playbooks", s.authed(auth.RoleViewer, s.listPlaybooks))
	s.mux.Handle("GET /api/v1/playbooks/{id}", s.authed(auth.RoleViewer, s.getPlaybook))
	s.mux.Handle("GET /api/v1/playbook-versions/{hash}", s.authed(auth.RoleViewer, s.getPlaybookVersion))
}

// getPlaybookVersion returns the exact text a run used, by the hash its
// run records: the document may have changed since.
func (s *Server) getPlaybookVersion(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	v, err := s.Store.GetPlaybookVersion(r.Context(), r.PathValue("hash"))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "markdown" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write(v.Content)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": v, "content": string(v.Content)})
	return nil
}

type procedureSummary struct {
	Key        string            `json:"key"`
	Title      string            `json:"title"`
	Condition  string            `json:"condition,omitempty"`
	Severity   incident.Severity `json:"severity,omitempty"`
	AlertNames []string          `json:"alertnames,omitempty"`
	Tasks      int               `json:"tasks"`
}

type playbookSummary struct {
	ID         string             `json:"id"`
	Title      string             `json:"title"`
	Path       string             `json:"path"`
	Hash       string             `json:"hash"`
	Procedures []procedureSummary `json:"procedures"`
	Phases     int                `json:"phases"`
	Escalation int                `json:"escalation_levels"`
	Templates  int                `json:"templates"`
}

func summarize(pb *playbook.Playbook) playbookSummary {
	out := playbookSummary{ID: pb.ID, Title: pb.Title, Path: pb.Path, Hash: pb.Hash,
		Phases: len(pb.Phases), Escalation: len(pb.Escalation), Templates: len(pb.Templates), Procedures: []procedureSummary{}}
	for _, p := range pb.Procedures {
		out.Procedures = append(out.Procedures, procedureSummary{Key: p.Key, Title: p.Title, Condition: p.Condition,
			Severity: p.Severity, AlertNames: p.AlertNames, Tasks: len(p.Tasks())})
	}
	return out
}

func (s *Server) listPlaybooks(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	out := []playbookSummary{}
	for _, pb := range s.Playbooks.Playbooks() {
		out = append(out, summarize(pb))
	}
	writeJSON(w, http.StatusOK, map[string]any{"playbooks": out})
	return nil
}

func (s *Server) getPlaybook(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	pb := s.Playbooks.Playbook(r.PathValue("id"))
	if pb == nil {
		return incident.Errorf(incident.ENOTFOUND, "playbook %q not found; GET /api/v1/playbooks lists them", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, map[string]any{"playbook": pb})
	return nil
}
