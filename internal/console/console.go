// Package console is the web console: the on-call engineer's pages,
// rendered on the server with html/template, made live with htmx and
// server-sent events from the store's change feed. Every action goes
// through the same lifecycle, step engine and services as the HTTP API;
// the console never writes the store itself.
//
// Reading works without JavaScript: every page is whole HTML, every button
// is a form that posts and is redirected back (htmx's hx-boost makes them
// swap in place when scripts run). The only scripts are the vendored htmx,
// its SSE extension and app.js, all served from this binary under a
// Content-Security-Policy that allows no inline script.
package console

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the console needs: the same services the API uses.
type Deps struct {
	Store     store.Store
	Respond   *respond.Service
	Runs      *automation.Engine
	Playbooks *playbook.Library
	People    *people.Directory
	Phases    *phase.Engine
	Reviews   *review.Service
	Comms     *comms.Service
	Tokens    *auth.Tokens
	// ApproverRoles may approve write steps (approvals.roles).
	ApproverRoles []string
	// PublicURL is how people reach the console; an https URL makes the
	// session cookie Secure.
	PublicURL string
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
}

// Server serves the console.
type Server struct {
	Deps
	tmpl   *template.Template
	feed   *Feed
	logins *loginLimiter
	static http.Handler
}

// New builds the console; its change feed runs until ctx ends.
func New(ctx context.Context, d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = 12 * time.Hour
	}
	if len(d.ApproverRoles) == 0 {
		d.ApproverRoles = []string{string(auth.RoleResponder), string(auth.RoleAdmin)}
	}
	if u, err := url.Parse(d.PublicURL); err == nil && u.Scheme == "http" && !loopback(u.Host) {
		d.Logger.Warn("the console is served over plain http to a host that is not loopback: its session cookie cannot be Secure; put TLS in front and set public_url to the https address",
			"public_url", d.PublicURL)
	}
	fm := template.FuncMap{}
	maps.Copy(fm, funcs)
	// ago counts from the server's clock, as everything else does.
	fm["ago"] = func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return phase.Human(d.Now().Sub(t).Truncate(time.Second)) + " ago"
	}
	t, err := template.New("").Funcs(fm).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{Deps: d, tmpl: t, logins: newLoginLimiter(), static: http.FileServerFS(sub)}
	s.feed = NewFeed(ctx, d.Store, d.Logger)
	return s, nil
}

// Routes registers the console's pages on m: every path but the API's.
func (s *Server) Routes(m *http.ServeMux) {
	m.Handle("GET /static/", s.secured(http.StripPrefix("/static/", s.cached(s.static))))
	m.Handle("GET /login", s.secured(http.HandlerFunc(s.loginPage)))
	m.Handle("POST /login", s.secured(http.HandlerFunc(s.login)))
	m.Handle("POST /logout", s.page(auth.RoleViewer, s.logout))
	m.Handle("GET /{$}", s.page(auth.RoleViewer, s.incidents))
	m.Handle("GET /incidents/{id}", s.page(auth.RoleViewer, s.incidentPage))
	m.Handle("POST /incidents/{id}/{action}", s.page(auth.RoleViewer, s.incidentAction))
	m.Handle("GET /incidents/{id}/review", s.page(auth.RoleViewer, s.reviewPage))
	m.Handle("POST /steps/{id}/{decision}", s.page(auth.RoleViewer, s.stepDecision))
	m.Handle("POST /communications/{id}/{op}", s.page(auth.RoleResponder, s.communication))
	m.Handle("GET /playbooks", s.page(auth.RoleViewer, s.playbooks))
	// Playbook IDs of runbook collections hold slashes (kubernetes/kubeapidown).
	m.Handle("GET /playbooks/{id...}", s.page(auth.RoleViewer, s.playbookPage))
	m.Handle("GET /oncall", s.page(auth.RoleViewer, s.oncall))
	m.Handle("GET /admin", s.page(auth.RoleAdmin, s.admin))
	m.Handle("POST /admin/{what}", s.page(auth.RoleAdmin, s.adminAction))
	m.Handle("GET /events", s.page(auth.RoleViewer, s.events))
	m.Handle("GET /", s.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, nil, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
	})))
}

// csp allows nothing but this server's own scripts, styles and event
// stream: no inline script, no eval, no frames.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secured sets the headers every console response carries.
func (s *Server) secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) cached(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// viewer is who a request acts as.
type viewer struct {
	Name string
	Role auth.Role
	CSRF string
	// SessionHash identifies the session, for logout.
	SessionHash []byte
	// Seq is the change feed's position when the request began, before
	// the page read anything; its event stream starts from there.
	Seq uint64
}

func (v *viewer) Can(role string) bool { return v.Role.Allows(auth.Role(role)) }

// pageFunc is a console handler; it returns an error that one place turns
// into a page.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *viewer) error

// page wraps h: a signed-in session with at least role need, and on a
// POST a CSRF token that matches the session.
func (s *Server) page(need auth.Role, h pageFunc) http.Handler {
	return s.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.session(r)
		if err != nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/events") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, nil, http.StatusUnauthorized, "Sign in first", "Your session has ended or was never started. Sign in again.")
			return
		}
		v.Seq = s.feed.Seq()
		if r.Method == http.MethodPost && !s.csrfOK(r, v) {
			s.errorPage(w, r, v, http.StatusForbidden, "Refused", "This form did not carry its security token (CSRF). Reload the page and try again.")
			return
		}
		if !v.Role.Allows(need) {
			s.errorPage(w, r, v, http.StatusForbidden, "Not allowed", fmt.Sprintf("You are signed in as %s with the role %s; this needs %s.", v.Name, v.Role, need))
			return
		}
		if err := h(w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	}))
}

// fail turns an error into a page, or for an htmx request an inline
// message, saying what to do next.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	code := incident.ErrorCode(err)
	status := map[string]int{incident.EINVALID: 400, incident.ENOTFOUND: 404, incident.ECONFLICT: 409, incident.EFORBIDDEN: 403,
		incident.EUNAUTHORIZED: 401, incident.ETOOLARGE: 413, incident.EUNAVAILABLE: 503}[code]
	if status == 0 {
		status = 500
		s.Logger.ErrorContext(r.Context(), "console", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	title := map[int]string{400: "Check the form", 404: "Not found", 409: "Nothing changed", 403: "Not allowed", 401: "Sign in first",
		413: "Too large", 503: "Try again", 500: "Something went wrong"}[status]
	s.errorPage(w, r, v, status, title, incident.ErrorMessage(err))
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, title, msg string) {
	back := r.Referer()
	if u, err := url.Parse(back); err != nil || (u.Host != "" && u.Host != r.Host) {
		back = "/"
	}
	s.render(w, r, status, "error", map[string]any{"Viewer": v, "Title": title, "Message": msg, "Back": back})
}

// render executes a page template.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	if data["Viewer"] == nil {
		delete(data, "Viewer")
	}
	data["Page"] = name
	data["Now"] = s.Now()
	if _, ok := data["Self"]; !ok {
		data["Self"] = r.URL.RequestURI()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name+".html", data); err != nil {
		s.Logger.ErrorContext(r.Context(), "render console page", "page", name, "err", err)
	}
}

// back redirects after a POST, to the page the form is on.
func back(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, incident.Errorf(incident.ENOTFOUND, "%q is not an id", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) canApprove(v *viewer) bool { return slices.Contains(s.ApproverRoles, string(v.Role)) }

var funcs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"hm": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("15:04:05")
	},
	"secs": func(n int64) string { return phase.Human(time.Duration(n) * time.Second) },
	"left": func(p *int64) string {
		if p == nil {
			return ""
		}
		if *p >= 0 {
			return phase.Human(time.Duration(*p)*time.Second) + " left"
		}
		return phase.Human(time.Duration(-*p)*time.Second) + " over"
	},
	"overdue": func(p *int64) bool { return p != nil && *p < 0 },
	"cell": func(v any) string {
		switch x := v.(type) {
		case nil:
			return "NULL"
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return fmt.Sprint(v)
	},
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"join":    strings.Join,
	"add":     func(a, b int) int { return a + b },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// human turns a status such as awaiting_approval into words.
	"human": func(v any) string { return strings.ReplaceAll(fmt.Sprint(v), "_", " ") },
	"list":  func(s ...string) []string { return s },
	"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"source": func(src run.Source) string {
		switch {
		case src.Kind == run.SourceStep:
			return "step " + src.Step + "." + src.Column
		case len(src.Names) > 0:
			return string(src.Kind) + " " + strings.Join(src.Names, "|")
		}
		return string(src.Kind)
	},
	// inzone shows a time in a rotation's zone.
	"inzone": func(t time.Time, zone string) string {
		if t.IsZero() {
			return "—"
		}
		if loc, err := time.LoadLocation(zone); err == nil {
			t = t.In(loc)
		}
		return t.Format("Mon 2 Jan 15:04 MST")
	},
	"deref2": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}
