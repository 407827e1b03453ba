package console_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/apptest"
)

// pages are every page a signed-in admin can open, once an incident exists.
var pages = []string{"/", "/?status=all", "/incidents/1", "/incidents/1/review", "/playbooks", "/playbooks/telegram-platform", "/oncall", "/admin"}

func setup(t *testing.T) (*apptest.Server, *apptest.Browser, string) {
	t.Helper()
	s := apptest.Start(t, apptest.Config{})
	admin := s.AdminToken(t)
	s.Fire(t, s.IntegrationKey(t, admin), "HighQueueDepth", map[string]string{"service": "job-worker", "severity": "critical"})
	b := s.NewBrowser(t)
	if resp := b.SignIn(admin, "", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	return s, b, admin
}

// Every page carries a strict Content-Security-Policy, and nothing in a
// page needs an exception to it: no inline script, event handler or style.
func TestPagesNeedNoInlineScript(t *testing.T) {
	_, b, _ := setup(t)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	anon := b.Server().NewBrowser(t)
	for _, p := range append(pages, "/login") {
		get := b.Get
		if p == "/login" {
			get = anon.Get
		}
		resp, body := get(p)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
			continue
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", p, resp.Header)
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("GET %s has inline code %q", p, m)
		}
		if !strings.Contains(body, `<script src="/static/vendor/htmx.min.js"`) {
			t.Errorf("GET %s does not load the vendored htmx", p)
		}
	}
}

// Reading works without JavaScript: each page holds its content as HTML.
func TestPagesReadWithoutScript(t *testing.T) {
	_, b, _ := setup(t)
	for p, want := range map[string][]string{
		"/":                            {`id="incident-1"`, "HighQueueDepth", "1 triggered"},
		"/incidents/1":                 {"Scale job workers", "awaiting approval", "Detection &amp; Assessment", "kubectl scale deployment job-worker --replicas=15", `action="/incidents/1/ack"`},
		"/incidents/1/review":          {"Post-incident review", "preview"},
		"/playbooks":                   {"High Queue Depth", "7 procedures"},
		"/playbooks/telegram-platform": {"waits for approval", "runs by itself", `id="L1"`, `class="diag-warning"`, "slow_table"},
		"/oncall":                      {"No rotations are configured"},
		"/admin":                       {"Audit log", "Integration keys", "session.login"},
	} {
		_, body := b.Get(p)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", p, w)
			}
		}
	}
}

// Alert text is data: a title, summary and labels full of markup come out
// escaped on every page that shows them.
func TestHostileAlertTextIsEscaped(t *testing.T) {
	s := apptest.Start(t, apptest.Config{})
	admin := s.AdminToken(t)
	key := s.IntegrationKey(t, admin)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	s.Fire(t, key, "Evil"+evil, map[string]string{"service": evil, "severity": "critical", "note": `"><svg onload=alert(3)>`})
	b := s.NewBrowser(t)
	b.SignIn(admin, "", "")
	for _, p := range []string{"/", "/incidents/1", "/incidents/1/review"} {
		_, body := b.Get(p)
		for _, raw := range []string{"<script>alert", "<img src=x", "<svg onload"} {
			if strings.Contains(body, raw) {
				t.Errorf("GET %s contains %q unescaped", p, raw)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the alert's text escaped", p)
		}
	}
}

// Sign-in: a wrong token, a form without its login token, a redirect off
// the site, rate limiting, and the cookie's flags.
func TestSignIn(t *testing.T) {
	s := apptest.Start(t, apptest.Config{})
	admin := s.AdminToken(t)
	b := s.NewBrowser(t)
	if resp := b.SignIn("fbt_wrong", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	// A form from elsewhere has no login token.
	resp := b.Post("/login", url.Values{"token": {admin}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without its form token: %d", resp.StatusCode)
	}
	// An integration key may only post alerts.
	if resp := b.SignIn(s.IntegrationKey(t, admin), "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("integration key: %d", resp.StatusCode)
	}
	resp = b.SignIn(admin, "", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "fb_session=") {
			cookie = c
		}
	}
	for _, flag := range []string{"HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
		if !strings.Contains(cookie, flag) {
			t.Errorf("session cookie %q lacks %s", cookie, flag)
		}
	}
	// next= stays on this server.
	for next, want := range map[string]string{"/incidents/1": "/incidents/1", "//evil.example/x": "/", "https://evil.example": "/", "/\\evil.example": "/"} {
		nb := s.NewBrowser(t)
		_, page := nb.Get("/login?next=" + url.QueryEscape(next))
		m := regexp.MustCompile(`name="login_csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
		r := nb.Post("/login", url.Values{"login_csrf": {m[1]}, "token": {admin}, "next": {next}})
		if got := r.Header.Get("Location"); got != want {
			t.Errorf("next=%q redirects to %q, want %q", next, got, want)
		}
	}
	// Five failed attempts a minute per address, then 429 with
	// Retry-After, even for the right password.
	rb := s.NewBrowser(t)
	var last *http.Response
	for range 5 {
		rb.SignIn("", "nobody", "wrong password")
	}
	last = rb.SignIn(admin, "", "")
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("the sixth attempt in a minute: %d (Retry-After %q)", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// A password sign-in, a viewer's limits on the server side, and a session
// that ends with the token it was opened with.
func TestRolesAndSessions(t *testing.T) {
	s, adminB, admin := setup(t)
	s.API(t, "POST", "/api/v1/users", admin, map[string]string{"name": "viewer-1", "role": "viewer", "password": "correct horse battery"}, 201, nil)
	vb := s.NewBrowser(t)
	if resp := vb.SignIn("", "viewer-1", "wrong horse battery"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := vb.SignIn("", "viewer-1", "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", resp.StatusCode)
	}
	csrf := vb.CSRF()
	_, page := vb.Get("/incidents/1")
	if strings.Contains(page, "/approve") || strings.Contains(page, `action="/incidents/1/ack"`) {
		t.Error("a viewer's page offers actions")
	}
	for _, p := range []string{"/incidents/1/ack", "/incidents/1/resolve", "/steps/4/approve", "/steps/1/done", "/admin/tokens", "/admin/pause"} {
		if resp := vb.Post(p, url.Values{"csrf": {csrf}, "name": {"x"}, "role": {"admin"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a viewer's POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
	if resp, _ := vb.Get("/admin"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's /admin: %d", resp.StatusCode)
	}
	var inc struct{ Incident struct{ Status string } }
	s.API(t, "GET", "/api/v1/incidents/1", admin, nil, 200, &inc)
	if inc.Incident.Status != "triggered" {
		t.Fatalf("a viewer changed the incident: %s", inc.Incident.Status)
	}

	// A token made on the admin page is shown once, works, and its
	// session ends when it is revoked.
	resp := adminB.Post("/admin/tokens", url.Values{"csrf": {adminB.CSRF()}, "name": {"ci-bot"}, "role": {"responder"}})
	body := readBody(resp)
	m := regexp.MustCompile(`id="new-secret">(fbt_[a-z0-9]+)<`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || m == nil {
		t.Fatalf("create token: %d\n%.1500s", resp.StatusCode, body)
	}
	if _, again := adminB.Get("/admin"); strings.Contains(again, m[1]) {
		t.Fatal("the admin page shows the secret again")
	}
	rb := s.NewBrowser(t)
	rb.SignIn(m[1], "", "")
	if resp, _ := rb.Get("/incidents/1"); resp.StatusCode != 200 {
		t.Fatalf("ci-bot's session: %d", resp.StatusCode)
	}
	var toks struct {
		Tokens []struct {
			ID   int64
			Name string
		}
	}
	s.API(t, "GET", "/api/v1/tokens", admin, nil, 200, &toks)
	for _, tk := range toks.Tokens {
		if tk.Name == "ci-bot" {
			adminB.Post("/admin/revoke-token", url.Values{"csrf": {adminB.CSRF()}, "id": {fmt.Sprint(tk.ID)}})
		}
	}
	if resp, _ := rb.Get("/incidents/1"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("after the token is revoked its session still works: %d", resp.StatusCode)
	}
	// The audit log holds who did what.
	_, audit := adminB.Get("/admin")
	for _, w := range []string{"session.login", "token.create", "token.revoke"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %s", w)
		}
	}
}

// Every form POST needs the session's CSRF token: without it, or with
// another session's, nothing changes.
func TestEveryPostNeedsCSRF(t *testing.T) {
	s, b, admin := setup(t)
	other := s.NewBrowser(t)
	other.SignIn(admin, "", "")
	foreign := other.CSRF()
	if foreign == b.CSRF() {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, p := range []string{"/incidents/1/ack", "/incidents/1/resolve", "/incidents/1/note", "/incidents/1/escalate", "/steps/4/approve",
		"/steps/4/reject", "/steps/1/done", "/communications/1/send", "/admin/tokens", "/admin/pause", "/admin/users", "/logout"} {
		for _, token := range []string{"", foreign} {
			form := url.Values{"text": {"x"}, "name": {"x"}, "role": {"admin"}}
			if token != "" {
				form.Set("csrf", token)
			}
			if resp := b.Post(p, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d, want 403", p, token, resp.StatusCode)
			}
		}
	}
	var inc struct{ Incident struct{ Status string } }
	s.API(t, "GET", "/api/v1/incidents/1", admin, nil, 200, &inc)
	if inc.Incident.Status != "triggered" {
		t.Fatalf("a forged POST changed the incident: %s", inc.Incident.Status)
	}
	// With its token the same POST works.
	if resp := b.Post("/incidents/1/ack", url.Values{"csrf": {b.CSRF()}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ack with the CSRF token: %d", resp.StatusCode)
	}
}

// The event stream says at once when the page is behind the feed, sends a
// change when an incident changes, and sends the last of a burst.
func TestEventStream(t *testing.T) {
	s, b, admin := setup(t)
	resp, err := b.Client.Get(s.URL + "/events?incident=2&since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no event: %s", what)
		}
		return ""
	}
	if e := next("a page read at another position"); e != "*" {
		t.Fatalf("first event %q, want *", e)
	}
	// A change to incident 1 is not incident 2's business.
	s.API(t, "POST", "/api/v1/incidents/1/notes", admin, map[string]string{"text": "x"}, 201, nil)
	key := s.IntegrationKey(t, admin)
	s.Fire(t, key, "ServiceDown", map[string]string{"service": "message-worker", "severity": "critical"})
	if e := next("incident 2 opened"); e != "2" && !strings.Contains(e, "2") {
		t.Fatalf("event %q, want incident 2", e)
	}
	// A burst of notes: fewer events than notes, and one after the last.
	for i := range 20 {
		s.API(t, "POST", "/api/v1/incidents/2/notes", admin, map[string]string{"text": fmt.Sprint("note ", i)}, 201, nil)
	}
	last := time.Now()
	n := 0
	for {
		select {
		case <-events:
			n++
			continue
		case <-time.After(time.Second):
		}
		break
	}
	if n == 0 || n >= 20 {
		t.Fatalf("%d events for a burst of 20 notes; want some, coalesced", n)
	}
	_ = last
}

// Unknown pages get the console's page; unknown API paths stay JSON.
func TestNotFound(t *testing.T) {
	s, b, _ := setup(t)
	resp, body := b.Get("/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "There is no page at /nope") {
		t.Fatalf("/nope: %d", resp.StatusCode)
	}
	r, err := http.Get(s.URL + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/api/v1/nope: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if resp, _ := b.Get("/incidents/999"); resp.StatusCode != 404 {
		t.Fatalf("/incidents/999: %d", resp.StatusCode)
	}
	// Signed out, a page sends you to sign in and back.
	anon := s.NewBrowser(t)
	if resp, _ := anon.Get("/incidents/1"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fincidents%2F1" {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The vendored scripts are the npm packages' files, byte for byte, as the
// table in static/vendor/README.md records.
func TestVendoredFiles(t *testing.T) {
	table, err := os.ReadFile(filepath.Join("static", "vendor", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (\S+\.js) \| .* \| ([0-9a-f]{64}) \|$`).FindAllStringSubmatch(string(table), -1)
	if len(rows) != 2 {
		t.Fatalf("%d files in the table, want 2", len(rows))
	}
	for _, r := range rows {
		b, err := os.ReadFile(filepath.Join("static", "vendor", r[1]))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != r[2] {
			t.Errorf("%s: sha256 %s, the table says %s", r[1], got, r[2])
		}
	}
}

func readBody(resp *http.Response) string {
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// The on-call page names who is on call now and next, in the rotation's
// zone; the kill switch pauses automation from the admin page.
func TestOnCallAndKillSwitch(t *testing.T) {
	s := apptest.Start(t, apptest.Config{YAML: `users:
  - {name: sre-1, email: sre-1@example.com}
  - {name: sre-2, email: sre-2@example.com}
rotations:
  - {name: primary, type: daily, start: "2026-03-01T09:00", handoff_time: "09:00", time_zone: Europe/Berlin, participants: [sre-1, sre-2]}
`})
	admin := s.AdminToken(t)
	b := s.NewBrowser(t)
	b.SignIn(admin, "", "")
	_, page := b.Get("/oncall")
	if !strings.Contains(page, "primary") || !strings.Contains(page, "Europe/Berlin") || !strings.Contains(page, "CET") && !strings.Contains(page, "CEST") {
		t.Fatalf("the on-call page lacks the rotation:\n%s", page)
	}
	now := regexp.MustCompile(`<td><strong>(sre-1|sre-2)</strong>`).FindStringSubmatch(page)
	next := regexp.MustCompile(`</td>\s*<td>(sre-1|sre-2)</td>`).FindStringSubmatch(page)
	if now == nil || next == nil || now[1] == next[1] {
		t.Fatalf("on call now %v, next %v", now, next)
	}
	if resp := b.Post("/admin/pause", url.Values{"csrf": {b.CSRF()}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	if _, page := b.Get("/admin"); !strings.Contains(page, "paused: no step runs") || !strings.Contains(page, "automation.pause") && !strings.Contains(page, "paused") {
		t.Fatal("the admin page does not show automation paused")
	}
	var st struct{ Paused bool }
	s.API(t, "GET", "/api/v1/automation", admin, nil, 200, &st)
	if !st.Paused {
		t.Fatal("the kill switch on the admin page did not pause automation")
	}
}

// A runbook collection's playbooks have IDs with slashes; their pages open
// from the list.
func TestRunbookPages(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "playbook", "testdata", "runbooks"))
	s := apptest.Start(t, apptest.Config{YAML: "playbooks: [" + dir + "]\n"})
	b := s.NewBrowser(t)
	b.SignIn(s.AdminToken(t), "", "")
	_, list := b.Get("/playbooks")
	links := regexp.MustCompile(`href="(/playbooks/kubernetes/[a-z]+)"`).FindAllStringSubmatch(list, -1)
	if len(links) == 0 {
		t.Fatalf("no runbook under kubernetes/ on the list:\n%.3000s", list)
	}
	for _, l := range links {
		resp, page := b.Get(l[1])
		if resp.StatusCode != 200 || !strings.Contains(page, `id="L1"`) {
			t.Errorf("GET %s: %d", l[1], resp.StatusCode)
		}
	}
}
