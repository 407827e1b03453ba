// Command notify measures how long a page takes: from the 2xx of the
// intake request that opened an incident to the notification request
// arriving at a local receiver, p50 and p99, with Firebreak idle and
// during an alert storm.
//
//	go run ./bench/notify [-idle 200] [-storm 10000] [-probes 50] [-alertmanager PATH]
//
// It runs `firebreak serve` in process (SQLite, a webhook channel at level
// 1 of the escalation matrix) against an httptest receiver on loopback,
// and, as the reference in the same run, Alertmanager v0.28.1 with
// group_wait 0s delivering to the same receiver.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/internal/cli"
	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func main() {
	idle := flag.Int("idle", 200, "incidents opened one at a time")
	storm := flag.Int("storm", 10000, "alerts in the storm")
	probes := flag.Int("probes", 50, "incidents opened and timed during the storm")
	am := flag.String("alertmanager", "", "alertmanager binary (default: the path scripts/alertmanager prints; \"none\" skips the reference)")
	flag.Parse()
	if err := run(*idle, *storm, *probes, *am); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}

func run(idle, storm, probes int, amBin string) error {
	var mu sync.Mutex
	arrived := map[int64]time.Time{}
	amArrived := map[string]time.Time{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		if r.URL.Path == "/am" { // Alertmanager's webhook
			var p struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
				} `json:"alerts"`
			}
			body, _ := io.ReadAll(r.Body)
			if json.Unmarshal(body, &p) == nil {
				mu.Lock()
				for _, a := range p.Alerts {
					if _, ok := amArrived[a.Labels["alertname"]]; !ok {
						amArrived[a.Labels["alertname"]] = at
					}
				}
				mu.Unlock()
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		var p struct {
			Event    string `json:"event"`
			Incident struct {
				ID int64 `json:"id"`
			} `json:"incident"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &p) == nil && p.Event == "opened" {
			mu.Lock()
			if _, ok := arrived[p.Incident.ID]; !ok {
				arrived[p.Incident.ID] = at
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	dir, err := os.MkdirTemp("", "fb-bench-notify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "firebreak.yaml")
	// Storm bundling is off here (a threshold no run reaches): every
	// incident's own page is what is timed.
	conf := fmt.Sprintf("notify:\n  storm: {threshold: 1000000}\n  channels:\n    hook: {type: webhook, url: %q, secret_env: HOOK_SECRET}\nescalation:\n  default:\n    levels:\n      1: [hook]\n", recv.URL)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return err
	}
	out, errOut := &syncBuf{}, &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--config", cfg},
			&cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut,
				Getenv: func(k string) string { return map[string]string{"HOOK_SECRET": "s", "FIREBREAK_LOG_LEVEL": "error"}[k] }})
	}()
	defer func() { cancel(); <-done }()
	re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			return fmt.Errorf("serve not ready: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "data", "admin-token"))
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	send := func(body any) (int64, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+"/api/v1/ingest/generic", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var r struct{ Incidents []int64 }
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			return 0, fmt.Errorf("intake answered %d (%v)", resp.StatusCode, err)
		}
		if len(r.Incidents) == 0 {
			return 0, nil
		}
		return r.Incidents[0], nil
	}
	// measure opens n incidents one at a time and returns their waits.
	measure := func(prefix string, n int, gap time.Duration) ([]time.Duration, error) {
		acked := map[int64]time.Time{}
		for i := range n {
			id, err := send(map[string]any{"name": fmt.Sprintf("%s%d", prefix, i), "severity": "critical", "service": "svc"})
			if err != nil {
				return nil, err
			}
			acked[id] = time.Now()
			time.Sleep(gap)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			got := 0
			for id := range acked {
				if _, ok := arrived[id]; ok {
					got++
				}
			}
			mu.Unlock()
			if got == len(acked) {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%d of %d pages never arrived", len(acked)-got, len(acked))
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		var lat []time.Duration
		for id, at := range acked {
			lat = append(lat, max(arrived[id].Sub(at), 0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat, nil
	}
	fmt.Printf("# Page latency (intake 2xx → notification at a local receiver)\n\n")
	fmt.Printf("`go run ./bench/notify -idle %d -storm %d -probes %d` on %d CPUs, SQLite, %s\n\n", idle, storm, probes, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	fmt.Println("| load | pages | p50 | p99 | max | target | p99 / target |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	row := func(name string, lat []time.Duration, target time.Duration) {
		p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %.2f× |\n", name, len(lat), ms(p(.5)), ms(p(.99)), ms(lat[len(lat)-1]), target, float64(p(.99))/float64(target))
	}
	if _, err := measure("Warmup", 5, 5*time.Millisecond); err != nil {
		return err
	}
	lat, err := measure("IdleProbe", idle, 5*time.Millisecond)
	if err != nil {
		return err
	}
	row("idle, one incident at a time", lat, 50*time.Millisecond)
	if amBin != "none" {
		ref, err := alertmanagerReference(amBin, recv.URL+"/am", idle, &mu, amArrived)
		if err != nil {
			return fmt.Errorf("alertmanager reference: %w", err)
		}
		row("idle, Alertmanager v0.28.1 with group_wait 0s (reference)", ref, 50*time.Millisecond)
	}

	// The storm: storm alerts of one alertname (one incident) in batches of
	// 100 from 4 clients, while probes open their own incidents.
	stormDone := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		per := storm / 100 / 4
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range per {
					var alerts []map[string]any
					for i := range 100 {
						alerts = append(alerts, map[string]any{"name": "StormAlert", "service": "storm",
							"labels": map[string]string{"pod": fmt.Sprintf("p-%d-%d-%d", c, b, i)}})
					}
					if _, err := send(map[string]any{"alerts": alerts}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		stormDone <- <-errs
	}()
	lat, err = measure("StormProbe", probes, 20*time.Millisecond)
	if err != nil {
		return err
	}
	if err := <-stormDone; err != nil {
		return err
	}
	row(fmt.Sprintf("during a storm of %d alerts", storm), lat, time.Second)
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// alertmanagerReference starts Alertmanager, routing every alertname at
// once (group_wait 0s) to the receiver, and times n alerts from its 2xx to
// their arrival.
func alertmanagerReference(bin, receiver string, n int, mu *sync.Mutex, arrived map[string]time.Time) ([]time.Duration, error) {
	ctx := context.Background()
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	if bin == "" {
		if bin, err = harness.AlertmanagerBinary(ctx, root, os.Stderr); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "fb-bench-am-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	conf := fmt.Sprintf(`route:
  receiver: bench
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: bench
    webhook_configs:
      - url: %q
`, receiver)
	am, err := harness.StartAlertmanager(ctx, harness.AlertmanagerOptions{Bin: bin, Dir: dir, Config: conf})
	if err != nil {
		return nil, err
	}
	defer am.Kill()
	acked := map[string]time.Time{}
	for i := range n {
		name := fmt.Sprintf("AMProbe%d", i)
		body := fmt.Sprintf(`[{"labels":{"alertname":%q,"severity":"critical"},"annotations":{"summary":"probe"}}]`, name)
		resp, err := am.Client.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("alertmanager answered %d", resp.StatusCode)
		}
		acked[name] = time.Now()
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := 0
		for name := range acked {
			if _, ok := arrived[name]; ok {
				got++
			}
		}
		mu.Unlock()
		if got == len(acked) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d alerts never arrived", len(acked)-got, len(acked))
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for name, at := range acked {
		lat = append(lat, max(arrived[name].Sub(at), 0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}
