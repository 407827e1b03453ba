// Package apptest starts Firebreak in process for tests, as
// `firebreak serve` does (app.Serve with a config file), on a free port,
// and drives it over HTTP.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/config"
)

// SyncBuffer is a bytes.Buffer safe for a server's writes and a test's
// reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type Server struct {
	mu      sync.Mutex
	amKey   string
	URL     string
	DataDir string
	Stderr  *SyncBuffer
}

// Config is what a test server runs with.
type Config struct {
	// db is a PostgreSQL URL shared by instances; empty is SQLite in the
	// data directory.
	DB string
	// targetDSN is the example database the playbook's SQL runs against.
	TargetDSN string
	Kube      kubernetes.Interface
	DataDir   string
	// YAML is appended to the configuration file.
	YAML string
}

// Start runs Firebreak in process on a free port until the test
// ends, and waits for /readyz.
func Start(t testing.TB, sc Config) *Server {
	t.Helper()
	dir := t.TempDir()
	if sc.DataDir == "" {
		sc.DataDir = filepath.Join(dir, "data")
	}
	yaml := "listen: 127.0.0.1:0\n"
	if sc.DB != "" {
		yaml += "db: " + sc.DB + "\n"
	}
	env := map[string]string{"TARGET_DSN": sc.TargetDSN}
	if sc.TargetDSN != "" {
		yaml += "targets:\n  sql:\n    telegram-platform: {dsn_env: TARGET_DSN, default: true, statement_timeout: 10s}\n"
		if sc.Kube != nil {
			yaml += "  kube:\n    prod: {namespace: telegram-platform}\n"
		}
	}
	yaml += sc.YAML
	cfgPath := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	c, err := config.Load(cfgPath, getenv)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = sc.DataDir
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var opts []app.Option
	if sc.Kube != nil {
		opts = append(opts, app.WithKubeClients(map[string]kubernetes.Interface{"prod": sc.Kube}))
	}
	out, errOut := &SyncBuffer{}, &SyncBuffer{}
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
					return &Server{URL: m[1], DataDir: sc.DataDir, Stderr: errOut}
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

// AdminToken is the bootstrap token the first start wrote.
func (s *Server) AdminToken(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// API calls the JSON API with a bearer token and decodes the answer into
// out, failing unless the status is want.
func (s *Server) API(t testing.TB, method, path, token string, body any, want int, out any) {
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
	req, _ := http.NewRequest(method, s.URL+path, rd)
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

// IntegrationKey makes an Alertmanager integration key, once per server.
func (s *Server) IntegrationKey(t testing.TB, admin string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.amKey != "" {
		return s.amKey
	}
	var out struct {
		Key string `json:"key"`
	}
	s.API(t, "POST", "/api/v1/integrations", admin, map[string]string{"name": "am", "source": "alertmanager"}, 201, &out)
	s.amKey = out.Key
	return out.Key
}

// Fire posts one firing Alertmanager alert (webhook v4) with the key.
func (s *Server) Fire(t testing.TB, key, alertname string, labels map[string]string) {
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
	s.API(t, "POST", "/api/v1/ingest/alertmanager", key, body, 200, nil)
}

// ExampleCluster is a fake cluster holding the deployments the playbook's
// kubectl steps name, three replicas each.
func ExampleCluster() *fake.Clientset {
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

// Browser is an HTTP client with a cookie jar, signed in to the console:
// what a browser without JavaScript does.
type Browser struct {
	t      testing.TB
	s      *Server
	Client *http.Client
}

// NewBrowser returns a client that keeps cookies and does not follow
// redirects, so that tests see them.
func (s *Server) NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, s: s, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var loginCSRF = regexp.MustCompile(`name="login_csrf" value="([0-9a-f]+)"`)

// SignIn fills the sign-in form with a token, or a user name and password,
// and returns the answer.
func (b *Browser) SignIn(token, user, password string) *http.Response {
	b.t.Helper()
	_, page := b.Get("/login")
	m := loginCSRF.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("the sign-in page has no login_csrf field:\n%s", page)
	}
	form := url.Values{"login_csrf": {m[1]}, "token": {token}, "username": {user}, "password": {password}, "next": {"/"}}
	return b.Post("/login", form)
}

// Get fetches a page and returns the answer and its body.
func (b *Browser) Get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.Client.Get(b.s.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Post submits a form; its body is read into the answer's Body again.
func (b *Browser) Post(path string, form url.Values) *http.Response {
	b.t.Helper()
	resp, err := b.Client.PostForm(b.s.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// CSRF reads the session's CSRF token from a page.
func (b *Browser) CSRF() string {
	b.t.Helper()
	_, page := b.Get("/")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on the incidents page:\n%.2000s", page)
	}
	return m[1]
}

// Server is the server the browser talks to.
func (b *Browser) Server() *Server { return b.s }
