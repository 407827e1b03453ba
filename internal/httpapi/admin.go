package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
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
	store.Token
	// Key is the secret, shown once and never again.
	Key string `json:"key"`
}

// issue creates a token or integration key and audits it in one
// transaction.
func (s *Server) issue(r *http.Request, p *auth.Principal, tok *store.Token, prefix string) (*createdSecret, error) {
	secret, hash := auth.NewSecret(prefix)
	tok.Hash = hash
	tok.Prefix = secret[:len(prefix)+6]
	tok.CreatedAt = s.Now().UTC()
	tok.CreatedBy = p.Actor()
	action := "token.create"
	if tok.Role == store.RoleIngest {
		action = "integration.create"
	}
	detail, _ := json.Marshal(map[string]string{"role": string(tok.Role), "source": string(tok.Source)})
	err := s.Store.InTx(r.Context(), func(tx store.Tx) error {
		if err := tx.CreateToken(r.Context(), tok); err != nil {
			return err
		}
		return tx.AppendAudit(r.Context(), &store.AuditEntry{At: tok.CreatedAt, Actor: p.Actor(), Action: action, Target: tok.Name, Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	return &createdSecret{Token: *tok, Key: secret}, nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body struct {
		Name string     `json:"name"`
		Role store.Role `json:"role"`
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
	out, err := s.issue(r, p, &store.Token{Name: body.Name, Role: body.Role}, auth.TokenPrefix)
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
	out, err := s.issue(r, p, &store.Token{Name: body.Name, Role: store.RoleIngest, Source: body.Source}, auth.IntegrationPrefix)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) tokens(r *http.Request, integrations bool) ([]store.Token, error) {
	all, err := s.Store.ListTokens(r.Context())
	if err != nil {
		return nil, err
	}
	out := []store.Token{}
	for _, t := range all {
		if (t.Role == store.RoleIngest) == integrations {
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
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if id == p.TokenID {
		return incident.Errorf(incident.ECONFLICT, "id: a token cannot revoke itself; use another admin token")
	}
	now := s.Now().UTC()
	err = s.Store.InTx(r.Context(), func(tx store.Tx) error {
		if err := tx.RevokeToken(r.Context(), id, now); err != nil {
			return err
		}
		return tx.AppendAudit(r.Context(), &store.AuditEntry{At: now, Actor: p.Actor(), Action: "token.revoke", Target: r.PathValue("id")})
	})
	if err != nil {
		return err
	}
	s.Tokens.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
