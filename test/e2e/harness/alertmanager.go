package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// AlertmanagerOptions says how to run an Alertmanager.
type AlertmanagerOptions struct {
	Bin string
	// Dir holds the config, the storage and the log.
	Dir          string
	Config       string // YAML
	Args         []string
	ReadyTimeout time.Duration // default 30s
}

// Alertmanager is a running Alertmanager with clustering off.
type Alertmanager struct {
	*Process
	Addr   string
	URL    string
	Client *http.Client
}

// StartAlertmanager writes the config into Dir, starts Alertmanager on a free
// loopback port with clustering disabled and waits for GET /-/ready.
func StartAlertmanager(ctx context.Context, o AlertmanagerOptions) (*Alertmanager, error) {
	if o.Bin == "" || o.Dir == "" {
		return nil, errors.New("alertmanager: Bin and Dir are required")
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(o.Dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		args := append([]string{
			"--config.file=" + cfg,
			"--storage.path=" + filepath.Join(o.Dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=",
		}, o.Args...)
		p, err := StartProcess("alertmanager", filepath.Join(o.Dir, "alertmanager.log"), o.Bin, args, nil)
		if err != nil {
			return nil, err
		}
		base := "http://" + addr
		if err = WaitReady(ctx, p, base+"/-/ready", o.ReadyTimeout); err == nil {
			return &Alertmanager{Process: p, Addr: addr, URL: base, Client: NewClient(16)}, nil
		}
		_ = p.Kill()
		lastErr = err
		if !addrInUse(p.RunLog()) {
			break
		}
	}
	return nil, lastErr
}

// PostAlerts posts a body made by AlertmanagerV2 to POST /api/v2/alerts.
func (a *Alertmanager) PostAlerts(ctx context.Context, body []byte) error {
	return PostAlertmanager(ctx, a.Client, a.URL, body)
}

// PostAlertmanager posts alerts to an Alertmanager's /api/v2/alerts.
func PostAlertmanager(ctx context.Context, client *http.Client, baseURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: http.MethodPost, Path: "/api/v2/alerts", Status: resp.StatusCode, Body: string(b)}
	}
	return nil
}

// AMAlert is an alert as Alertmanager's GET /api/v2/alerts shows it.
type AMAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts lists the alerts Alertmanager holds.
func (a *Alertmanager) Alerts(ctx context.Context) ([]AMAlert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{Method: http.MethodGet, Path: "/api/v2/alerts", Status: resp.StatusCode, Body: string(b)}
	}
	var out []AMAlert
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode /api/v2/alerts: %w", err)
	}
	return out, nil
}

// MetricValue reads one sample from a Prometheus text /metrics page, by its
// exact series name as printed (e.g. `alertmanager_alerts{state="active"}`).
func MetricValue(ctx context.Context, client *http.Client, metricsURL, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		return strconv.ParseFloat(strings.TrimSpace(rest), 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no series %s at %s", series, metricsURL)
}
