// Package browser_test drives the web console in a real browser: Debian's
// chromium, headless, through chromedp. Each test starts Firebreak in
// process (app.Serve, as `firebreak serve` does) against a real PostgreSQL
// target, posts alerts through the HTTP API and works the incident in the
// browser alone, saving a screenshot under test-artifacts/ at each stage.
package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/config"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type server struct {
	url     string
	dataDir string
	stderr  *syncBuffer
}

// serverConfig is what a test server runs with.
type serverConfig struct {
	// db is a PostgreSQL URL shared by instances; empty is SQLite in the
	// data directory.
	db string
	// targetDSN is the example database the playbook's SQL runs against.
	targetDSN string
	kube      kubernetes.Interface
	dataDir   string
}

// startServer runs Firebreak in process on a free port until the test
// ends, and waits for /readyz.
func startServer(t *testing.T, sc serverConfig) *server {
	t.Helper()
	dir := t.TempDir()
	if sc.dataDir == "" {
		sc.dataDir = filepath.Join(dir, "data")
	}
	yaml := "listen: 127.0.0.1:0\n"
	if sc.db != "" {
		yaml += "db: " + sc.db + "\n"
	}
	env := map[string]string{"TARGET_DSN": sc.targetDSN}
	if sc.targetDSN != "" {
		yaml += "targets:\n  sql:\n    telegram-platform: {dsn_env: TARGET_DSN, default: true, statement_timeout: 10s}\n"
		if sc.kube != nil {
			yaml += "  kube:\n    prod: {namespace: telegram-platform}\n"
		}
	}
	cfgPath := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	c, err := config.Load(cfgPath, getenv)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = sc.dataDir
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var opts []app.Option
	if sc.kube != nil {
		opts = append(opts, app.WithKubeClients(map[string]kubernetes.Interface{"prod": sc.kube}))
	}
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, c, getenv, time.Now, out, errOut, opts...) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", errOut.String())
		}
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Errorf("the server did not stop within 40s")
		}
	})
	re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			if resp, err := http.Get(m[1] + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return &server{url: m[1], dataDir: sc.dataDir, stderr: errOut}
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 30s:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminToken is the bootstrap token the first start wrote.
func (s *server) adminToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// api calls the JSON API with a bearer token and decodes the answer into
// out, failing unless the status is want.
func (s *server) api(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// integrationKey makes an Alertmanager integration key.
func (s *server) integrationKey(t *testing.T, admin string) string {
	t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	s.api(t, "POST", "/api/v1/integrations", admin, map[string]string{"name": "am", "source": "alertmanager"}, 201, &out)
	return out.Key
}

// fire posts one firing Alertmanager alert (webhook v4) with the key.
func (s *server) fire(t *testing.T, key, alertname string, labels map[string]string) {
	t.Helper()
	labels["alertname"] = alertname
	body := map[string]any{
		"version": "4", "status": "firing", "receiver": "firebreak", "groupKey": "{}:{alertname=\"" + alertname + "\"}",
		"groupLabels": map[string]string{"alertname": alertname}, "commonLabels": labels, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
		"alerts": []map[string]any{{"status": "firing", "labels": labels,
			"annotations": map[string]string{"summary": alertname + " on " + labels["service"]},
			"startsAt":    time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090/graph", "fingerprint": fmt.Sprintf("%016x", len(alertname)*7919)}},
	}
	s.api(t, "POST", "/api/v1/ingest/alertmanager", key, body, 200, nil)
}

// exampleCluster is a fake cluster holding the deployments the playbook's
// kubectl steps name, three replicas each.
func exampleCluster() *fake.Clientset {
	var objs []k8sruntime.Object
	for _, name := range []string{"telegram-platform", "message-worker", "job-worker", "postgres"} {
		replicas := int32(3)
		objs = append(objs, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "telegram-platform"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}}},
		})
	}
	return fake.NewClientset(objs...)
}

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

// screenshot saves the page under test-artifacts/ at the repository root.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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
