// Package browser_test drives the web console in a real browser: Debian's
// chromium, headless, through chromedp. Each test starts Firebreak in
// process (app.Serve, as `firebreak serve` does) against a real PostgreSQL
// target, posts alerts through the HTTP API and works the incident in the
// browser alone, saving a screenshot under test-artifacts/ at each stage.
package browser_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $CHROMIUM, or Debian's. Without one the
// test skips, except under CI=true, where .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); .ci/run installs it")
	}
	t.Skip("chromium is not installed; apt-get install chromium, or set CHROMIUM")
	return ""
}

// browser is one headless chromium with one tab. It accepts every
// confirm() the page asks, and records what the console logs, so that a
// Content-Security-Policy violation or a script error fails the test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	logs []string
	shot int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// This test's screenshots from an earlier run go, so that the folder
	// shows this run.
	old, _ := filepath.Glob(filepath.Join(artifacts(), regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+"-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	dialogs := make(chan struct{}, 16)
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			select {
			case dialogs <- struct{}{}:
			default:
			}
		case *log.EventEntryAdded:
			b.record(fmt.Sprintf("%s %s: %s", e.Entry.Source, e.Entry.Level, e.Entry.Text))
		case *cdpruntime.EventExceptionThrown:
			b.record("exception: " + e.ExceptionDetails.Text + " " + e.ExceptionDetails.URL)
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-dialogs:
				chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}
		}
	}()
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		for _, l := range b.problems() {
			t.Errorf("the browser reported: %s", l)
		}
	})
	return b
}

func (b *browser) record(s string) {
	b.mu.Lock()
	b.logs = append(b.logs, s)
	b.mu.Unlock()
}

func (b *browser) logText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.logs, "\n")
}

// problems are logged CSP violations and script errors. A refused POST
// shows as a failed resource load, which tests expect and do not count.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.logs {
		if strings.Contains(l, "Content Security Policy") || strings.HasPrefix(l, "exception") || strings.HasPrefix(l, "javascript") {
			out = append(out, l)
		}
	}
	return out
}

// step runs one action with a deadline, failing the test with a
// screenshot on error.
func runIn[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("%s: %v\nbrowser log:\n%s", what, err, b.logText())
	}
	return v
}

// run runs actions in order.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	runIn(b, what, chromedp.Steps(steps...))
}

// eval evaluates JavaScript in the page, awaiting a promise.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	return runIn(b, "evaluate "+js, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// text returns the text of the first element matching an XPath.
func (b *browser) text(xpath string) string {
	b.t.Helper()
	return runIn(b, "read "+xpath, chromedp.Text(xpath))
}

// screenshot saves the whole page under test-artifacts/ at the
// repository root.
func (b *browser) screenshot(name string) { b.save(name, chromedp.FullScreenshot(100)) }

// viewport saves what the window shows, as a person first sees the page.
func (b *browser) viewport(name string) { b.save(name, chromedp.CaptureScreenshot()) }

func (b *browser) save(name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	dir := artifacts()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	safe := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(fmt.Sprintf("%s-%02d-%s", b.t.Name(), b.shot, name), "_")
	if err := os.WriteFile(filepath.Join(dir, safe+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// artifacts is test-artifacts/ at the repository root.
func artifacts() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test-artifacts")
}

// login signs in with a token, or a user name and password.
func (b *browser) login(base, token, user, password string) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/login"), chromedp.WaitVisible(chromedp.ID("token"))}
	if token != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("token"), token))
	} else {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), password))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS("button[type=submit].primary")), chromedp.WaitVisible(chromedp.ID("counts")))
	b.run("sign in", steps...)
}

// step is the XPath of the step article whose title contains name.
func step(name string) string {
	return fmt.Sprintf(`//article[contains(@class,"step")][.//strong[contains(., %q)]]`, name)
}
