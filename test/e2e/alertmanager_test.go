package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

// interopConfig routes every alert to Firebreak's Alertmanager intake, with
// timers short enough that a notification follows a change within seconds.
func interopConfig(firebreakURL, key string) string {
	k, _ := json.Marshal(key) // a JSON string is a YAML string
	return fmt.Sprintf(`global:
  resolve_timeout: 30s
route:
  receiver: firebreak
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: firebreak
    webhook_configs:
      - url: %s/api/v1/ingest/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, firebreakURL, k)
}

// TestAlertmanagerRoutesToFirebreak sends an alert through a real
// Alertmanager and follows it into a Firebreak incident, then resolves it at
// Alertmanager and waits for the incident to resolve.
func TestAlertmanagerRoutesToFirebreak(t *testing.T) {
	bin := firebreak(t)
	amBin := alertmanagerBin(t)
	fb := startFirebreak(t, bin, filepath.Join(t.TempDir(), "data"))
	in := createIntegration(t, fb, "alertmanager", "alertmanager-interop")
	am := startAlertmanager(t, amBin, interopConfig(fb.URL, in.Key))
	ctx := context.Background()

	labels := map[string]string{"alertname": "HighQueueDepth", "severity": "critical", "service": "job-worker"}
	alert := harness.Alert{
		Labels: labels,
		Annotations: map[string]string{
			"summary":     "Queue depth is 4200 (threshold 1000)",
			"description": "job-worker queue has been above 1000 for 5 minutes",
		},
		StartsAt:     time.Now().Add(-time.Minute).UTC().Truncate(time.Second),
		GeneratorURL: "http://prometheus.invalid/graph?g0.expr=queue_depth",
	}
	post := func(a harness.Alert) {
		t.Helper()
		body, err := harness.AlertmanagerV2([]harness.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		if err := am.PostAlerts(ctx, body); err != nil {
			t.Fatalf("post alert to Alertmanager: %v", err)
		}
	}
	post(alert)

	// Alertmanager names the alert by its own fingerprint, which the webhook
	// carries and Firebreak keys the alert by.
	fp := harness.Fingerprint(labels)
	waitFor(t, 10*time.Second, "Alertmanager holds the alert", func() (bool, string) {
		as, err := am.Alerts(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range as {
			if a.Labels["alertname"] == "HighQueueDepth" {
				if a.Fingerprint != fp {
					t.Errorf("Alertmanager's fingerprint %s differs from harness.Fingerprint %s", a.Fingerprint, fp)
					fp = a.Fingerprint
				}
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d alerts, none HighQueueDepth", len(as))
	})
	wantFP := "alertmanager:" + fp

	var incident harness.Incident
	waitFor(t, 30*time.Second, "a triggered Firebreak incident for HighQueueDepth", func() (bool, string) {
		incs, err := fb.Incidents(ctx, "triggered", 5)
		if err != nil {
			return false, err.Error()
		}
		for _, inc := range incs {
			if matchesQueueDepth(inc.Title) {
				incident = inc
				return true, ""
			}
		}
		return false, describeIncidents(incs)
	})
	if incident.Severity != "critical" {
		t.Errorf("incident severity = %q, want critical", incident.Severity)
	}
	if incident.Service != "job-worker" {
		t.Errorf("incident service = %q, want job-worker", incident.Service)
	}
	d, err := fb.Incident(ctx, incident.ID)
	if err != nil {
		t.Fatalf("get incident %s: %v", incident.ID, err)
	}
	if a := findAlert(d, wantFP); a == nil {
		t.Errorf("incident %s has no alert with fingerprint %s; alerts: %+v", incident.ID, wantFP, d.Alerts)
	} else if a.Status != "firing" {
		t.Errorf("alert %s status = %q, want firing", wantFP, a.Status)
	}

	alert.EndsAt = time.Now().Add(-time.Second).UTC()
	post(alert)
	waitFor(t, 30*time.Second, "Firebreak incident "+string(incident.ID)+" resolved", func() (bool, string) {
		d, err = fb.Incident(ctx, incident.ID)
		if err != nil {
			return false, err.Error()
		}
		state := fmt.Sprintf("incident %s; alerts %+v", d.Incident.Status, d.Alerts)
		return d.Incident.Status == "resolved", state
	})
	if a := findAlert(d, wantFP); a != nil && a.Status != "resolved" {
		t.Errorf("incident resolved but alert %s status = %q, want resolved", wantFP, a.Status)
	}
}

// matchesQueueDepth accepts the alert name as the title, or the playbook
// section's "High Queue Depth (>1000)".
func matchesQueueDepth(title string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return strings.Contains(b.String(), "highqueuedepth")
}

func findAlert(d harness.IncidentDetail, fingerprint string) *harness.IncidentAlert {
	for i := range d.Alerts {
		if d.Alerts[i].Fingerprint == fingerprint {
			return &d.Alerts[i]
		}
	}
	return nil
}
