package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FirebreakOptions says how to run `firebreak serve`.
type FirebreakOptions struct {
	Bin     string // the firebreak binary
	DataDir string // --data-dir; created if missing
	DB      string // --db; empty means SQLite under DataDir
	Args    []string
	Env     []string
	// LogPath defaults to DataDir + ".log". Restarts append to it.
	LogPath      string
	ReadyTimeout time.Duration // default 30s
}

// Firebreak is a running `firebreak serve`.
type Firebreak struct {
	*Process
	Opts       FirebreakOptions
	Addr       string
	URL        string
	AdminToken string
	Client     *http.Client
}

// StartFirebreak starts `firebreak serve` on a free loopback port, waits for
// GET /readyz to answer 200 and reads the bootstrap admin token from the
// data directory.
func StartFirebreak(ctx context.Context, o FirebreakOptions) (*Firebreak, error) {
	if o.Bin == "" || o.DataDir == "" {
		return nil, errors.New("firebreak: Bin and DataDir are required")
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Clean(o.DataDir) + ".log"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		args := []string{"serve", "--listen", addr, "--data-dir", o.DataDir}
		if o.DB != "" {
			args = append(args, "--db", o.DB)
		}
		args = append(args, o.Args...)
		p, err := StartProcess("firebreak", o.LogPath, o.Bin, args, o.Env)
		if err != nil {
			return nil, err
		}
		base := "http://" + addr
		err = WaitReady(ctx, p, base+"/readyz", o.ReadyTimeout)
		if err == nil {
			f := &Firebreak{Process: p, Opts: o, Addr: addr, URL: base, Client: NewClient(16)}
			tok, err := os.ReadFile(filepath.Join(o.DataDir, "admin-token"))
			if err != nil {
				_ = p.Kill()
				return nil, fmt.Errorf("firebreak is ready but the admin token is not readable: %w", err)
			}
			f.AdminToken = strings.TrimSpace(string(tok))
			return f, nil
		}
		_ = p.Kill()
		lastErr = err
		if !addrInUse(p.RunLog()) {
			break
		}
	}
	return nil, lastErr
}

// WaitReady polls url until it answers 200, the process exits, or timeout.
func WaitReady(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	last := "no answer yet"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(b))
		} else {
			last = err.Error()
		}
		if exited, werr := p.Exited(); exited {
			return fmt.Errorf("%s exited before %s answered 200 (%v); log:\n%s", p.Name, url, werr, tail(p.RunLog(), 4000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (GET %s: %s); log:\n%s", p.Name, timeout, url, last, tail(p.RunLog(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NewClient is an HTTP client for load from up to conns concurrent callers
// to one host: keep-alives on, enough idle connections that none is closed
// between requests, no compression.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Integration is what `firebreak integration create --json` prints.
type Integration struct {
	ID     ID     `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Key    string `json:"key"`
}

// CreateIntegration runs `firebreak integration create` against this server
// with the admin token, as an operator would.
func (f *Firebreak) CreateIntegration(ctx context.Context, source, name string) (Integration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.Opts.Bin, "integration", "create", "--source", source, "--name", name, "--json")
	cmd.Env = append(childEnv(), "FIREBREAK_URL="+f.URL, "FIREBREAK_TOKEN="+f.AdminToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Integration{}, fmt.Errorf("firebreak integration create: %w\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var in Integration
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &in); err != nil {
		return Integration{}, fmt.Errorf("firebreak integration create --json printed %q: %w", stdout.String(), err)
	}
	if in.Key == "" {
		return Integration{}, fmt.Errorf("firebreak integration create --json printed no key: %s", stdout.String())
	}
	return in, nil
}

// ID is a resource id, which the API may give as a number or a string.
type ID string

func (id *ID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s: %w", b, err)
	}
	*id = ID(n.String())
	return nil
}

// Incident is an incident as GET /api/v1/incidents lists it.
type Incident struct {
	ID          ID     `json:"id"`
	Title       string `json:"title"`
	Status      string `json:"status"`
	Severity    string `json:"severity"`
	Service     string `json:"service"`
	AlertCount  int    `json:"alert_count"`
	FiringCount int    `json:"firing_count"`
}

// IncidentAlert is one alert of an incident.
type IncidentAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"`
	Count       int               `json:"count"`
	Labels      map[string]string `json:"labels"`
}

// IncidentDetail is GET /api/v1/incidents/{id}.
type IncidentDetail struct {
	Incident Incident        `json:"incident"`
	Alerts   []IncidentAlert `json:"alerts"`
}

// APIError is a non-2xx answer from the API.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, tail(e.Body, 1000))
}

// GetJSON does GET path with the admin token and decodes a 2xx answer.
func (f *Firebreak) GetJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.AdminToken)
	resp, err := f.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: read body: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, tail(string(b), 500), err)
	}
	return nil
}

// Incidents lists incidents, following next_cursor for at most maxPages
// pages. status may be empty.
func (f *Firebreak) Incidents(ctx context.Context, status string, maxPages int) ([]Incident, error) {
	var all []Incident
	cursor := ""
	for page := 0; page < maxPages; page++ {
		q := url.Values{"limit": {"100"}}
		if status != "" {
			q.Set("status", status)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Incidents  []Incident `json:"incidents"`
			NextCursor string     `json:"next_cursor"`
		}
		if err := f.GetJSON(ctx, "/api/v1/incidents?"+q.Encode(), &resp); err != nil {
			return all, err
		}
		all = append(all, resp.Incidents...)
		if resp.NextCursor == "" || len(resp.Incidents) == 0 {
			return all, nil
		}
		cursor = resp.NextCursor
	}
	return all, nil
}

// Incident fetches one incident with its alerts.
func (f *Firebreak) Incident(ctx context.Context, id ID) (IncidentDetail, error) {
	var d IncidentDetail
	err := f.GetJSON(ctx, "/api/v1/incidents/"+url.PathEscape(string(id)), &d)
	return d, err
}

// IngestResult is the answer of an intake request.
type IngestResult struct {
	Status int
	Body   []byte
	Alerts int // the "alerts" field of a 2xx answer
}

// PostIngest posts a body to /api/v1/ingest/{source} with an integration key.
func PostIngest(ctx context.Context, client *http.Client, baseURL, source, key string, body []byte) (IngestResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/ingest/"+source, bytes.NewReader(body))
	if err != nil {
		return IngestResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return IngestResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return IngestResult{Status: resp.StatusCode}, fmt.Errorf("read answer: %w", err)
	}
	r := IngestResult{Status: resp.StatusCode, Body: b}
	if resp.StatusCode/100 == 2 {
		var ok struct {
			Alerts json.Number `json:"alerts"`
		}
		if json.Unmarshal(b, &ok) == nil {
			n, _ := strconv.Atoi(ok.Alerts.String())
			r.Alerts = n
		}
	}
	return r, nil
}
