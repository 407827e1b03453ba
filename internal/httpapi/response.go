package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/report"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// responseRoutes serve the phase clocks, the post-incident review and the
// response metrics.
func (s *Server) responseRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/incidents/{id}/phases", s.authed(auth.RoleViewer, s.getPhases))
	m.Handle("POST /api/v1/incidents/{id}/phase", s.authed(auth.RoleResponder, s.movePhase))
	m.Handle("GET /api/v1/incidents/{id}/review", s.authed(auth.RoleViewer, s.getReview))
	m.Handle("PUT /api/v1/incidents/{id}/review", s.authed(auth.RoleResponder, s.putReview))
	m.Handle("GET /api/v1/metrics/incidents", s.authed(auth.RoleViewer, s.incidentMetrics))
}

func (s *Server) getPhases(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.Phases == nil {
		return incident.Errorf(incident.EUNAVAILABLE, "this server keeps no phase clocks")
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inc, err := s.Store.GetIncident(r.Context(), id)
	if err != nil {
		return err
	}
	st, err := s.Phases.Status(r.Context(), inc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"phases": st})
	return nil
}

func (s *Server) movePhase(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Phase string `json:"phase"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	inc, err := s.Respond.Act(r.Context(), id, incident.Action{Kind: incident.ActionPhase, Text: body.Phase}, p.Actor())
	if err != nil {
		return err
	}
	out := map[string]any{"incident": inc}
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

// getReview answers the review as JSON (the version and the list of
// versions), or with ?format=md or html, the document itself. An incident
// that has no saved version gets a preview written from its record now.
func (s *Server) getReview(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.Reviews == nil {
		return incident.Errorf(incident.EUNAVAILABLE, "this server writes no reviews")
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	versions, err := s.Reviews.Versions(r.Context(), id)
	if err != nil {
		return err
	}
	var cur *store.Review
	switch v := q.Get("version"); {
	case v != "":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return incident.Errorf(incident.EINVALID, "version: %q is not a version number", v)
		}
		for i := range versions {
			if versions[i].Version == n {
				cur = &versions[i]
			}
		}
		if cur == nil {
			return incident.Errorf(incident.ENOTFOUND, "incident %d's review has no version %d (it has %d)", id, n, len(versions))
		}
	case len(versions) > 0:
		cur = &versions[len(versions)-1]
	default:
		if cur, err = s.Reviews.Preview(r.Context(), id); err != nil {
			return err
		}
		cur.Status = "preview"
	}
	switch format := q.Get("format"); format {
	case "md", "markdown":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		io.WriteString(w, cur.Markdown)
		return nil
	case "html":
		page, err := review.HTML(cur.Markdown, fmt.Sprintf("Post-incident review: incident %d", id))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
		io.WriteString(w, page)
		return nil
	case "", "json":
	default:
		return incident.Errorf(incident.EINVALID, "format: %q is not md, html or json", format)
	}
	type meta struct {
		Version   int       `json:"version"`
		Status    string    `json:"status"`
		CreatedBy string    `json:"created_by"`
		CreatedAt time.Time `json:"created_at"`
	}
	list := make([]meta, 0, len(versions))
	for _, v := range versions {
		list = append(list, meta{v.Version, v.Status, v.CreatedBy, v.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": cur, "versions": list})
	return nil
}

// putReview saves a new version: JSON {"markdown", "status"}, or the
// Markdown itself (Content-Type text/markdown) with ?status=.
func (s *Server) putReview(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if s.Reviews == nil {
		return incident.Errorf(incident.EUNAVAILABLE, "this server writes no reviews")
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Markdown string `json:"markdown"`
		Status   string `json:"status"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/") {
		b, err := readLimited(w, r, review.MaxMarkdown)
		if err != nil {
			return incident.Errorf(incident.ETOOLARGE, "body: a review is at most %d bytes", review.MaxMarkdown)
		}
		body.Markdown, body.Status = string(b), r.URL.Query().Get("status")
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, review.MaxMarkdown+4096)
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&body); err != nil {
			return incident.Errorf(incident.EINVALID, "body: want {\"markdown\": \"…\", \"status\": \"draft|final\"}: %v", err)
		}
	}
	rv, err := s.Reviews.Save(r.Context(), id, body.Markdown, body.Status, p.Actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": rv})
	return nil
}

func (s *Server) incidentMetrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	q := r.URL.Query()
	now := s.Now().UTC()
	p := report.Params{Service: q.Get("service"), Severity: incident.Severity(q.Get("severity")), Period: q.Get("period"),
		From: now.Add(-30 * 24 * time.Hour), To: now.Add(time.Second)}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &p.From}, {"to", &p.To}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return incident.Errorf(incident.EINVALID, "%s: %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", f.name, v)
			}
			*f.dst = t
		}
	}
	rep, err := report.Load(r.Context(), s.Store, p, now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
