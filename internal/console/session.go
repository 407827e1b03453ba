package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

const (
	sessionCookie = "fb_session"
	loginCookie   = "fb_login"
	// maxForm bounds a form's body: a review or a step edit fits well.
	maxForm = 2 << 20
)

// secure says whether cookies carry Secure: over TLS, behind an https
// public URL, and on a loopback address, which browsers treat as a secure
// context. Plain http to another host cannot keep a Secure cookie, so the
// console works there without it (and New logs a warning).
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.PublicURL, "https://") || loopback(r.Host)
}

func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// session finds the request's signed-in session.
func (s *Server) session(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !strings.HasPrefix(c.Value, auth.SessionPrefix) {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "no session")
	}
	hash := auth.Hash(c.Value)
	sess, err := s.Store.SessionByHash(r.Context(), hash, s.Now())
	if err != nil {
		return nil, err
	}
	if id, ok := strings.CutPrefix(sess.Via, "token:"); ok {
		// A session opened with a token ends when the token is revoked.
		if live, err := s.tokenLive(r, id); err != nil || !live {
			return nil, incident.Errorf(incident.EUNAUTHORIZED, "the token this session was opened with is revoked")
		}
	}
	return &viewer{Name: sess.User, Role: sess.Role, CSRF: csrfFor(c.Value), SessionHash: hash}, nil
}

func (s *Server) tokenLive(r *http.Request, id string) (bool, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return false, err
	}
	toks, err := s.Store.ListTokens(r.Context())
	if err != nil {
		return false, err
	}
	for _, t := range toks {
		if t.ID == n {
			return t.RevokedAt.IsZero(), nil
		}
	}
	return false, nil
}

// csrfFor is the CSRF token of a session: a MAC keyed by the session's
// cookie, which only the browser and this request know. It needs no
// storage, holds on every instance that shares the database, and means
// nothing without the cookie.
func csrfFor(cookie string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte("firebreak console csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// csrfOK checks the token of a POST: the X-CSRF-Token header (htmx) or
// the form's csrf field.
func (s *Server) csrfOK(r *http.Request, v *viewer) bool {
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostForm.Get("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) == 1
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if v, err := s.session(r); err == nil && v != nil {
		back(w, r, safeNext(r.URL.Query().Get("next")))
		return
	}
	s.showLogin(w, r, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	var b [16]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	s.render(w, r, status, "login", map[string]any{"LoginCSRF": tok, "Next": safeNext(next), "Problem": problem,
		"User": r.PostForm.Get("username")})
}

// safeNext keeps a redirect on this server.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.Contains(next, "\n") {
		return "/"
	}
	return next
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// login opens a session for a token, or a user name and password.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.showLogin(w, r, http.StatusBadRequest, "The form could not be read; try again.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("login_csrf"))) != 1 {
		s.showLogin(w, r, http.StatusForbidden, "The sign-in form expired or came from elsewhere; it has been reloaded, sign in again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	name := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if wait := s.logins.allow(clientIP(r), name); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.showLogin(w, r, http.StatusTooManyRequests, "Too many sign-in attempts; wait a minute and try again.")
		return
	}
	var (
		user, via string
		role      auth.Role
	)
	switch {
	case token != "":
		p, err := s.Tokens.Check(r.Context(), token)
		if err != nil || p.Role == auth.RoleIngest {
			s.logins.failed(clientIP(r), "")
			s.showLogin(w, r, http.StatusUnauthorized, "That token is not valid (or is an integration key, which may only post alerts).")
			return
		}
		user, role, via = p.Name, p.Role, "token:"+strconv.FormatInt(p.TokenID, 10)
	case name != "" && password != "":
		u, err := s.People.Login(r.Context(), name, password)
		if errors.Is(err, auth.ErrBadPassword) {
			s.logins.failed(clientIP(r), name)
			s.showLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
			return
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		user, role, via = u.Name(), u.Role, "password"
	default:
		s.showLogin(w, r, http.StatusBadRequest, "Give a token, or a user name and password.")
		return
	}
	secret, hash := auth.NewSessionSecret()
	now := s.Now().UTC()
	sess := &auth.Session{Hash: hash, User: user, Role: role, Via: via, CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
	detail, _ := json.Marshal(map[string]string{"via": strings.SplitN(via, ":", 2)[0], "ip": clientIP(r)})
	err = s.Store.InTx(r.Context(), func(tx store.Tx) error {
		if err := tx.CreateSession(r.Context(), sess); err != nil {
			return err
		}
		return tx.AppendAudit(r.Context(), &auth.AuditEntry{At: now, Actor: user, Action: "session.login", Target: "console", Detail: detail})
	})
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1})
	back(w, r, safeNext(r.PostForm.Get("next")))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *viewer) error {
	now := s.Now().UTC()
	err := s.Store.InTx(r.Context(), func(tx store.Tx) error {
		if err := tx.DeleteSessions(r.Context(), v.SessionHash, ""); err != nil {
			return err
		}
		return tx.AppendAudit(r.Context(), &auth.AuditEntry{At: now, Actor: v.Name, Action: "session.logout", Target: "console"})
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
	back(w, r, "/login")
	return nil
}

// loginLimiter allows five failed sign-ins a minute per client address
// and per user name (a burst of five, then one every 12 seconds), in
// memory: an instance limits what reaches it. Successful sign-ins cost
// nothing, so a team behind one address is not locked out by its own use.
type loginLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{buckets: map[string]*rate.Limiter{}} }

const maxLoginBuckets = 20000

func loginKeys(ip, name string) []string {
	keys := []string{"ip:" + ip}
	if name != "" {
		keys = append(keys, "user:"+strings.ToLower(name))
	}
	return keys
}

// allow says how long to wait before ip may try name again; 0: now.
func (l *loginLimiter) allow(ip, name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var wait time.Duration
	for _, k := range loginKeys(ip, name) {
		if b := l.buckets[k]; b != nil && b.TokensAt(now) < 1 {
			r := b.ReserveN(now, 1)
			wait = max(wait, r.DelayFrom(now))
			r.CancelAt(now)
		}
	}
	return wait
}

// failed counts a failed sign-in against ip and name.
func (l *loginLimiter) failed(ip, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.buckets) > maxLoginBuckets {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) > maxLoginBuckets {
			l.buckets = map[string]*rate.Limiter{} // a flood of addresses: start over rather than grow
		}
	}
	for _, k := range loginKeys(ip, name) {
		b := l.buckets[k]
		if b == nil {
			b = rate.NewLimiter(rate.Every(12*time.Second), 5)
			l.buckets[k] = b
		}
		b.AllowN(now, 1)
	}
}
