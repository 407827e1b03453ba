package browser_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firebreak-dev/firebreak/internal/apptest"
	"github.com/firebreak-dev/firebreak/internal/pgtest"
)

// The "done when": an on-call engineer who has never seen
// Firebreak takes a HighQueueDepth incident from open to resolved in the
// browser alone. The incident arrives on the open list without a reload,
// its auto-run diagnostics show their tables, `a` acknowledges it, the
// scale step is approved and its result appears, and `r` resolves it.
func TestHighQueueDepthFromOpenToResolved(t *testing.T) {
	target := pgtest.NewDatabase(t)
	pgtest.LoadExample(t, target)
	cluster := apptest.ExampleCluster()
	s := apptest.Start(t, apptest.Config{TargetDSN: target, Kube: cluster})
	admin := s.AdminToken(t)
	key := s.IntegrationKey(t, admin)

	b := newBrowser(t)
	b.login(s.URL, admin, "", "")
	b.screenshot("empty-list")
	// A marker that a reload would wipe.
	eval[int](b, `window.noReload = 42; 1`)

	s.Fire(t, key, "HighQueueDepth", map[string]string{"service": "job-worker", "severity": "critical", "namespace": "telegram-platform"})
	b.run("the incident arrives live", chromedp.WaitVisible(chromedp.ID("incident-1")))
	marker := eval[int](b, `window.noReload || 0`)
	if marker != 42 {
		t.Fatalf("the page reloaded to show the new incident (marker %d)", marker)
	}
	if got := b.text(`//*[@id="counts"]`); !strings.Contains(got, "1 triggered") {
		t.Errorf("counts = %q, want 1 triggered", got)
	}
	b.screenshot("incident-arrived")

	// Open it: the auto-run diagnostics' tables are there.
	b.run("open the incident", chromedp.Click(chromedp.CSS(`#incident-1 a`)),
		chromedp.WaitVisible(step("Check for stuck jobs")+`//table[contains(@class,"result")]`),
		chromedp.WaitVisible(step("Analyze job failure patterns")+`//table[contains(@class,"result")]//td`))
	cols := eval[[]string](b, `(() => { const r = document.evaluate('`+step("Check for stuck jobs")+`//table', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue; return Array.from(r.querySelectorAll('th')).map(th => th.textContent) })()`)
	if strings.Join(cols, ",") != "id,type,status,created_at" {
		t.Errorf("stuck-jobs table columns = %v", cols)
	}
	if got := b.text(`//*[@id="phase-name"]`); got != "Detection & Assessment" {
		t.Errorf("phase = %q", got)
	}
	b.screenshot("diagnostics")
	b.run("the stream is live", chromedp.WaitVisible(chromedp.CSS(".live.on")))
	b.viewport("incident-first-screen") // docs/console-incident.png

	// `a` acknowledges.
	b.run("acknowledge with the keyboard", chromedp.KeyEvent("a"),
		chromedp.WaitVisible(`//*[@id="incident-status"]//*[contains(., "acknowledged")]`))
	if got := b.text(`//section[@id="timeline"]`); !strings.Contains(got, "Acknowledged by admin") {
		t.Errorf("the timeline lacks the ack:\n%s", got)
	}

	// Approve the scale step; its result appears, and the cluster changed.
	scale := step("Scale job workers")
	if got := b.text(scale + `//pre[contains(@class,"command")]`); !strings.Contains(got, "kubectl scale deployment job-worker --replicas=15") {
		t.Errorf("the scale step shows %q", got)
	}
	b.run("approve the scale step", chromedp.Click(scale+`//button[normalize-space(.)="Approve"]`),
		chromedp.WaitVisible(scale+`//*[contains(@class,"st-succeeded")]`))
	if got := b.text(scale); !strings.Contains(got, "replicas: 3") || !strings.Contains(got, "replicas: 15") || !strings.Contains(got, "approved by admin") {
		t.Errorf("the scale step's result is not shown:\n%s", got)
	}
	dep, err := cluster.AppsV1().Deployments("telegram-platform").Get(context.Background(), "job-worker", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 15 {
		t.Fatalf("job-worker replicas after approval: %v %v", dep, err)
	}
	b.screenshot("incident")

	// Tick a checklist item, write a note, then `r` resolves.
	check := step("Check queue depth metrics")
	b.run("tick a checklist item", chromedp.Click(check+`//button[normalize-space(.)="Done"]`),
		chromedp.WaitVisible(check+`//*[contains(@class,"st-succeeded")]`))
	b.run("add a note", chromedp.SendKeys(chromedp.ID("note"), "scaled job-worker to 15; backlog draining"), chromedp.Submit(chromedp.ID("note")),
		chromedp.WaitVisible(`//section[@id="timeline"]//li[contains(., "backlog draining")]`))
	b.run("resolve with the keyboard", chromedp.KeyEvent("r"),
		chromedp.WaitVisible(`//*[@id="incident-status"]//*[contains(., "resolved")]`))
	if got := b.text(`//*[@id="phase-name"]`); got != "Recovery" {
		t.Errorf("after resolving the phase is %q, want Recovery", got)
	}
	b.screenshot("resolved")

	// The review is there, from the record.
	b.run("open the review", chromedp.Click(`//a[normalize-space(.)="Review"]`),
		chromedp.WaitVisible(`//article[contains(@class,"review-body")]//h2`))
	if got := b.text(`//article[contains(@class,"review-body")]`); !strings.Contains(got, "Scale job workers") || !strings.Contains(got, "admin") {
		t.Errorf("the review lacks the approved step:\n%.2000s", got)
	}
	b.screenshot("review")
}

// Approving a write step with a parameter: the HighDatabaseCPU procedure's
// pg_cancel_backend(pid) gets the pid of a query that really runs on the
// target, the approval runs it, and its result appears on the page.
func TestApproveWriteStepWithParameter(t *testing.T) {
	target := pgtest.NewDatabase(t)
	pgtest.LoadExample(t, target)
	s := apptest.Start(t, apptest.Config{TargetDSN: target})
	admin := s.AdminToken(t)
	key := s.IntegrationKey(t, admin)

	// A slow query on the target, to be cancelled.
	slow := pgtest.Conn(t, target)
	var pid int
	if err := slow.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	cancelled := make(chan error, 1)
	go func() {
		_, err := slow.Exec(context.Background(), "SELECT pg_sleep(120)")
		cancelled <- err
	}()

	b := newBrowser(t)
	b.login(s.URL, admin, "", "")
	s.Fire(t, key, "HighDatabaseCPU", map[string]string{"service": "postgres", "severity": "warning"})
	kill := step("Kill problematic queries")
	b.run("open the incident", chromedp.WaitVisible(chromedp.ID("incident-1")), chromedp.Click(chromedp.CSS(`#incident-1 a`)),
		chromedp.WaitVisible(kill+`//input[@name="param.pid"]`))
	if got := b.text(kill); !strings.Contains(got, "awaiting approval") || !strings.Contains(got, "write") {
		t.Errorf("the cancel step does not wait for approval:\n%s", got)
	}
	b.run("fill the pid and approve",
		chromedp.SendKeys(kill+`//input[@name="param.pid"]`, fmt.Sprint(pid)),
		chromedp.Click(kill+`//button[normalize-space(.)="Approve"]`),
		chromedp.WaitVisible(kill+`//table[contains(@class,"result")]//td`))
	if got := b.text(kill + `//table[contains(@class,"result")]`); !strings.Contains(got, "pg_cancel_backend") || !strings.Contains(got, "true") {
		t.Errorf("result = %q", got)
	}
	if got := b.text(kill + `//pre[contains(@class,"command")]`); !strings.Contains(got, "$1 (pid) = "+fmt.Sprint(pid)) {
		t.Errorf("the step does not show its bound parameter: %q", got)
	}
	b.screenshot("parameter-approved")
	select {
	case err := <-cancelled:
		if err == nil || !strings.Contains(err.Error(), "canceling statement") {
			t.Fatalf("the slow query ended with %v, want a cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the slow query was not cancelled")
	}
}

// A viewer sees the incident but no Approve, Acknowledge or Resolve
// button, and the server refuses the action too. A POST without the CSRF
// token is refused even for a responder, and changes nothing.
func TestViewerAndForgedPosts(t *testing.T) {
	target := pgtest.NewDatabase(t)
	pgtest.LoadExample(t, target)
	s := apptest.Start(t, apptest.Config{TargetDSN: target, Kube: apptest.ExampleCluster()})
	admin := s.AdminToken(t)
	key := s.IntegrationKey(t, admin)
	s.API(t, "POST", "/api/v1/users", admin, map[string]string{"name": "viewer-1", "role": "viewer", "password": "correct horse battery"}, 201, nil)
	s.Fire(t, key, "HighQueueDepth", map[string]string{"service": "job-worker", "severity": "critical"})

	b := newBrowser(t)
	b.login(s.URL, "", "viewer-1", "correct horse battery")
	b.run("open the incident", chromedp.Click(chromedp.CSS(`#incident-1 a`)),
		chromedp.WaitVisible(step("Scale job workers")))
	buttons := eval[int](b, `document.querySelectorAll('button[formaction$="/approve"], form[action$="/ack"], form[action$="/resolve"], form[action*="/steps/"]').length`)
	if buttons != 0 {
		t.Errorf("a viewer sees %d action buttons", buttons)
	}
	if got := b.text(`//section[@id="head"]`); !strings.Contains(got, "You are a viewer") {
		t.Errorf("the viewer is not told why there are no buttons:\n%s", got)
	}
	b.screenshot("viewer")
	// The server refuses a viewer's approval even with a valid CSRF token.
	status := eval[int](b, `fetch('/steps/4/approve', {method: 'POST', body: new URLSearchParams({csrf: document.querySelector('form[action="/logout"] input[name=csrf]').value})}).then(r => r.status)`)
	if status != 403 {
		t.Errorf("a viewer's approve: %d, want 403", status)
	}

	// A responder's session, and a POST that lacks the CSRF token.
	b.run("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("token")))
	b.login(s.URL, admin, "", "")
	status = eval[int](b, `fetch('/incidents/1/ack', {method: 'POST', body: new URLSearchParams({})}).then(r => r.status)`)
	if status != 403 {
		t.Errorf("an ack without a CSRF token: %d, want 403", status)
	}
	status = eval[int](b, `fetch('/incidents/1/ack', {method: 'POST', body: new URLSearchParams({csrf: 'f00d'})}).then(r => r.status)`)
	if status != 403 {
		t.Errorf("an ack with a wrong CSRF token: %d, want 403", status)
	}
	var inc struct {
		Incident struct{ Status string }
	}
	s.API(t, "GET", "/api/v1/incidents/1", admin, nil, 200, &inc)
	if inc.Incident.Status != "triggered" {
		t.Fatalf("a forged POST changed the incident: %s", inc.Incident.Status)
	}
	b.run("open the incident as a responder", chromedp.Navigate(s.URL+"/incidents/1"), chromedp.WaitVisible(step("Scale job workers")))
	buttons = eval[int](b, `document.querySelectorAll('button[formaction$="/approve"]').length`)
	if buttons == 0 {
		t.Error("an admin sees no Approve button")
	}
}

// Two instances share one PostgreSQL database: an incident opened through
// instance A appears, without a reload, on the list that instance B serves.
func TestLiveAcrossInstances(t *testing.T) {
	db := pgtest.NewDatabase(t)
	a := apptest.Start(t, apptest.Config{DB: db})
	bSrv := apptest.Start(t, apptest.Config{DB: db})
	admin := a.AdminToken(t) // B finds the admin made and writes none
	key := a.IntegrationKey(t, admin)

	b := newBrowser(t)
	b.login(bSrv.URL, admin, "", "")
	eval[int](b, `window.noReload = 7; 1`)
	a.Fire(t, key, "HighErrorRate", map[string]string{"service": "telegram-platform", "severity": "critical"})
	b.run("the incident made on A shows on B", chromedp.WaitVisible(chromedp.ID("incident-1")))
	marker := eval[int](b, `window.noReload || 0`)
	if marker != 7 {
		t.Fatal("the page reloaded")
	}
	// And a change on A (the ack) reaches B's incident page.
	b.run("open on B", chromedp.Click(chromedp.CSS(`#incident-1 a`)), chromedp.WaitVisible(chromedp.ID("incident-status")))
	a.API(t, "POST", "/api/v1/incidents/1/ack", admin, nil, 200, nil)
	b.run("the ack on A shows on B", chromedp.WaitVisible(`//*[@id="incident-status"]//*[contains(., "acknowledged")]`))
	b.screenshot("instance-b")
}

// j and k move through the list, and Enter opens the selected incident.
func TestKeyboardList(t *testing.T) {
	s := apptest.Start(t, apptest.Config{})
	admin := s.AdminToken(t)
	key := s.IntegrationKey(t, admin)
	for _, name := range []string{"HighErrorRate", "ServiceDown", "HighQueueDepth"} {
		s.Fire(t, key, name, map[string]string{"service": strings.ToLower(name), "severity": "critical"})
	}
	b := newBrowser(t)
	b.login(s.URL, admin, "", "")
	b.run("three incidents", chromedp.WaitVisible(chromedp.ID("incident-3")))
	ids := eval[[]string](b, `Array.from(document.querySelectorAll('tr[data-row]')).map(r => r.id)`)
	if len(ids) != 3 {
		t.Fatalf("rows = %v", ids)
	}
	b.run("j j j k", chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), chromedp.KeyEvent("k"))
	sel := eval[string](b, `document.querySelector('tr.sel').id`)
	if sel != ids[1] {
		t.Fatalf("after j j j k the selected row is %q, want the second, %s", sel, ids[1])
	}
	want := "/incidents/" + strings.TrimPrefix(ids[1], "incident-")
	focused := eval[string](b, `document.activeElement.getAttribute('href')`)
	if focused != want {
		t.Fatalf("focus is on %q, want %s", focused, want)
	}
	b.run("Enter opens it", chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(fmt.Sprintf(`//h1[contains(., "#%s ")]`, strings.TrimPrefix(ids[1], "incident-"))))
	b.screenshot("opened-by-keyboard")
}

// The console on a phone in dark mode: nothing wider than the screen, a
// dark page, every field labelled, text at a contrast of at least 4.5:1 in
// both schemes, and a visible focus ring for the keyboard.
func TestPhoneDarkModeAndAccessibility(t *testing.T) {
	target := pgtest.NewDatabase(t)
	pgtest.LoadExample(t, target)
	s := apptest.Start(t, apptest.Config{TargetDSN: target, Kube: apptest.ExampleCluster()})
	admin := s.AdminToken(t)
	s.Fire(t, s.IntegrationKey(t, admin), "HighQueueDepth", map[string]string{"service": "job-worker", "severity": "critical"})
	b := newBrowser(t)
	b.login(s.URL, admin, "", "")
	for _, scheme := range []string{"light", "dark"} {
		b.run("emulate a phone in "+scheme+" mode", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
				return err
			}))
		for _, p := range []string{"/", "/incidents/1", "/incidents/1/review", "/playbooks/telegram-platform", "/admin", "/oncall"} {
			b.run("open "+p, chromedp.Navigate(s.URL+p), chromedp.WaitVisible(chromedp.CSS("main")))
			if p == "/incidents/1" {
				b.run("wait for the diagnostics", chromedp.WaitVisible(step("Check for stuck jobs")+`//table[contains(@class,"result")]`))
			}
			if over := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 1 {
				b.screenshot("too-wide-" + scheme)
				t.Errorf("%s (%s): the page is %dpx wider than the phone", p, scheme, over)
			}
			if unlabelled := eval[[]string](b, jsUnlabelled); len(unlabelled) > 0 {
				t.Errorf("%s: fields without a label: %v", p, unlabelled)
			}
			if low := eval[[]string](b, jsLowContrast); len(low) > 0 {
				t.Errorf("%s (%s): text below 4.5:1 contrast: %v", p, scheme, low)
			}
			if p == "/incidents/1" {
				b.screenshot("phone-" + scheme)
			}
		}
		bg := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
		if dark := bg == "rgb(13, 17, 23)"; dark != (scheme == "dark") {
			t.Errorf("%s mode: the page background is %s", scheme, bg)
		}
	}
	// The keyboard's focus is visible.
	b.run("tab to the first link", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.ID("counts")), chromedp.KeyEvent(kb.Tab))
	if outline := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" || outline == "" {
		t.Errorf("the focused element shows no outline (%q)", outline)
	}
}

// jsUnlabelled lists visible form fields with no label. A disabled field
// is not one: the review's task-list boxes show state beside their text.
const jsUnlabelled = `Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !el.disabled && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 80))`

// jsLowContrast lists visible text whose colour against its background is
// below WCAG's 4.5:1.
const jsLowContrast = `(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return parse(getComputedStyle(document.documentElement).backgroundColor) || {r: 255, g: 255, b: 255}; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.offsetParent === null) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!own) continue;
    const fg = parse(getComputedStyle(el).color), bg = bgOf(el);
    const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push(el.tagName + '.' + el.className + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  }
  return out.slice(0, 10);
})()`
