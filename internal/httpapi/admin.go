package httpapi

import (
	"github.com/firebreak-dev/firebreak/internal/access"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says only "ready" or "not ready" to anyone: probes need no more,
// and a database error names its user, database and host. A request with a
// valid token of any role also gets each check's state, errors redacted.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var dbErr error
	if s.Ready != nil {
		dbErr = s.Ready(r.Context())
	}
	status, word := http.StatusOK, "ready"
	if dbErr != nil {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	out := map[string]any{"status": word}
	if tok := bearer(r); tok != "" {
		if _, err := s.check(r.Context(), tok); err == nil {
			checks := map[string]string{"database": "ok"}
			if dbErr != nil {
				checks["database"] = "error: " + s.redact.String(dbErr.Error())
			}
			if s.SandboxStatus != nil {
				checks["sandbox"] = s.SandboxStatus()
			}
			out["checks"] = checks
		}
	}
	writeJSON(w, status, out)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role})
	return nil
}

func validName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return incident.Errorf(incident.EINVALID, "name: must not be empty")
	case len(name) > 100 || !utf8.ValidString(name):
		return incident.Errorf(incident.EINVALID, "name: must be valid UTF-8 of at most 100 bytes")
	case strings.ContainsAny(name, "\x00\r\n\t"):
		return incident.Errorf(incident.EINVALID, "name: must not contain control characters")
	}
	return nil
}

type createdSecret struct {
	auth.Token
	// Key is the secret, shown once and never again.
	Key string `json:"key"`
}

// issue creates a token or integration key and audits it in one
// transaction.
func (s *Server) issue(r *http.Request, p *auth.Principal, tok *auth.Token) (*createdSecret, error) {
	t, secret, err := access.Issue(r.Context(), s.Store, tok.Name, tok.Role, tok.Source, p.Actor(), s.Now())
	if err != nil {
		return nil, err
	}
	return &createdSecret{Token: *t, Key: secret}, nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body struct {
		Name string    `json:"name"`
		Role auth.Role `json:"role"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validName(body.Name); err != nil {
		return err
	}
	if !body.Role.ValidUserRole() {
		return incident.Errorf(incident.EINVALID, "role: %q is not viewer, responder or admin", body.Role)
	}
	out, err := s.issue(r, p, &auth.Token{Name: body.Name, Role: body.Role})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body struct {
		Name   string          `json:"name"`
		Source incident.Source `json:"source"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validName(body.Name); err != nil {
		return err
	}
	if !body.Source.Valid() {
		return incident.Errorf(incident.EINVALID, "source: %q is not alertmanager, pagerduty, grafana or generic", body.Source)
	}
	out, err := s.issue(r, p, &auth.Token{Name: body.Name, Role: auth.RoleIngest, Source: body.Source})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) tokens(r *http.Request, integrations bool) ([]auth.Token, error) {
	all, err := s.Store.ListTokens(r.Context())
	if err != nil {
		return nil, err
	}
	out := []auth.Token{}
	for _, t := range all {
		if (t.Role == auth.RoleIngest) == integrations {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	toks, err := s.tokens(r, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	toks, err := s.tokens(r, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": toks})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.revoke(w, r, p, false)
}

func (s *Server) revokeIntegration(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.revoke(w, r, p, true)
}

// revoke revokes an API token or, with integration set, an integration
// key; an id of the other kind is not found, so that neither route can
// revoke what the other manages.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p *auth.Principal, integration bool) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := access.Revoke(r.Context(), s.Store, id, integration, p.Actor(), p.TokenID, s.Now()); err != nil {
		return err
	}
	s.Tokens.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
