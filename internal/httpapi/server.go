// Package httpapi is Firebreak's HTTP interface: intake, the REST API,
// health and metrics. routes.go registers the routes; the playbook and
// step routes are in playbookRoutes (playbooks.go) and stepRoutes
// (steps.go), which routes.go calls.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/redact"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Deps are what the server needs.
type Deps struct {
	Store     store.Store
	Ingester  *intake.Ingester
	Tokens    *auth.Tokens
	Playbooks *playbook.Library
	Runs      *automation.Engine
	// Respond is the incident lifecycle: every change to an incident goes
	// through it.
	Respond *respond.Service
	// Chat, when set, serves the chat services' button callbacks under
	// /api/v1/chat/; they are signed by the service, not token-bearing.
	Chat interface{ Routes(*http.ServeMux) }
	// Console, when set, serves the web console's pages: every GET outside
	// /api/ that no other route takes.
	Console interface{ Routes(*http.ServeMux) }
	// Phases are the phase clocks; Reviews the post-incident reviews.
	Phases  *phase.Engine
	Reviews *review.Service
	// Comms drafts and sends customer communication; nil serves none.
	Comms *comms.Service
	// PublicURL is how people reach this server, for links.
	PublicURL string
	// People is the user directory; nil serves no /api/v1/users.
	People *people.Directory
	// ApproverRoles may approve write steps; default responder and admin.
	ApproverRoles []string
	Metrics       *Metrics
	Logger        *slog.Logger
	Now           func() time.Time
	MaxBodyBytes  int64
	// Ready reports whether the server should take traffic.
	Ready func(ctx context.Context) error
	// SandboxStatus, when set, describes the step sandbox in one line for
	// the detail of /readyz that a token holder sees.
	SandboxStatus func() string
}

// Server serves the HTTP interface.
type Server struct {
	Deps
	mux *http.ServeMux
	// redact scrubs credentials from error text shown to token holders.
	redact *redact.Redactor
}

// NewServer returns the HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{Deps: d, mux: http.NewServeMux(), redact: redact.Default()}
	s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Logger.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeError(w, incident.Errorf(incident.EINTERNAL, "internal error"))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) incidentURL(id int64) string {
	if s.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.PublicURL, "/") + "/incidents/" + strconv.FormatInt(id, 10)
}

// handlerFunc is a handler that returns its error; one place turns errors
// into statuses and bodies.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// principalKey is the context key of the authenticated principal.
type principalKey struct{}

// authed wraps h so that it runs only for a token that allows role need.
func (s *Server) authed(need auth.Role, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.check(r.Context(), bearer(r))
		if err == nil && !p.Role.Allows(need) {
			err = incident.Errorf(incident.EFORBIDDEN, "token %q has role %s; this needs %s", p.Name, p.Role, need)
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

// check looks a token up. A lookup that fails for any reason but a bad
// token (the database is down, say) is EUNAVAILABLE, so that the caller
// answers 503 with Retry-After and a client retries rather than gives up;
// the cause is kept in the error's chain for the log.
func (s *Server) check(ctx context.Context, secret string) (*auth.Principal, error) {
	p, err := s.Tokens.Check(ctx, secret)
	if err != nil && incident.ErrorCode(err) != incident.EUNAUTHORIZED {
		return nil, fmt.Errorf("%w: %w", incident.Errorf(incident.EUNAVAILABLE, "could not check the token; retry"), err)
	}
	return p, err
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := incident.ErrorCode(err)
	if code == incident.EINTERNAL || code == incident.EUNAVAILABLE {
		s.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}

var statusOf = map[string]int{
	incident.ECONFLICT:     http.StatusConflict,
	incident.EINVALID:      http.StatusBadRequest,
	incident.ENOTFOUND:     http.StatusNotFound,
	incident.EUNAUTHORIZED: http.StatusUnauthorized,
	incident.EFORBIDDEN:    http.StatusForbidden,
	incident.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	incident.EUNAVAILABLE:  http.StatusServiceUnavailable,
	incident.EINTERNAL:     http.StatusInternalServerError,
}

func writeError(w http.ResponseWriter, err error) {
	code := incident.ErrorCode(err)
	status := statusOf[code]
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": incident.ErrorMessage(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// readBody reads a request body up to the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := readLimited(w, r, s.MaxBodyBytes)
	if errors.Is(err, errTooLarge) {
		return nil, tooLarge(s.MaxBodyBytes)
	}
	return body, err
}

var errTooLarge = errors.New("body too large")

// readLimited reads a body of at most limit bytes, or returns errTooLarge
// without reading more than limit+1 of them. A body that declares its
// length is read into one buffer of that size rather than a growing one.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, incident.Errorf(incident.EINVALID, "body: could not be read: %v", err)
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return incident.Errorf(incident.ETOOLARGE, "body: larger than the limit of %d bytes; split the request or raise intake.max_body_bytes", limit)
}

// decodeJSON decodes a small API request body strictly.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			return incident.Errorf(incident.EINVALID, "%s: must be %s, got %s", ute.Field, ute.Type, ute.Value)
		case errors.As(err, &se):
			return incident.Errorf(incident.EINVALID, "body: invalid JSON at offset %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return incident.Errorf(incident.EINVALID, "%s: unknown field", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		case errors.Is(err, io.EOF):
			return incident.Errorf(incident.EINVALID, "body: empty; send a JSON object")
		}
		return incident.Errorf(incident.EINVALID, "body: %v", err)
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, incident.Errorf(incident.EINVALID, "%s: %q is not a positive integer", name, v)
	}
	return id, nil
}
