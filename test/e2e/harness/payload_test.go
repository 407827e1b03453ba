package harness

import (
	"encoding/json"
	"testing"
	"time"
)

// The expected values are what Alertmanager v0.28.1 itself reported for these
// label sets (GET /api/v2/alerts and its debug log).
func TestFingerprintMatchesAlertmanager(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"alertname": "a", "x": "2"}, "727502c030e998a9"},
		{map[string]string{"alertname": "HighQueueDepth", "severity": "critical", "service": "job-worker"}, "4a83d09e682669df"},
		{nil, "cbf29ce484222325"},
	} {
		if got := Fingerprint(tc.labels); got != tc.want {
			t.Errorf("Fingerprint(%v) = %s, want %s", tc.labels, got, tc.want)
		}
	}
}

func TestWebhookV4(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	firing := Alert{Labels: map[string]string{"alertname": "A", "instance": "1", "service": "s"}, StartsAt: start}
	resolved := Alert{Labels: map[string]string{"alertname": "A", "instance": "2", "service": "s"}, StartsAt: start, EndsAt: start.Add(time.Minute), Fingerprint: "00000000000000ff"}
	b, err := WebhookV4("fb", []Alert{firing, resolved})
	if err != nil {
		t.Fatal(err)
	}
	var m webhookMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "fb" {
		t.Errorf("envelope = %+v", m)
	}
	if m.GroupLabels["alertname"] != "A" || m.CommonLabels["service"] != "s" || m.CommonLabels["instance"] != "" {
		t.Errorf("group labels %v, common labels %v", m.GroupLabels, m.CommonLabels)
	}
	if m.Alerts[0].Status != "firing" || m.Alerts[0].Fingerprint != Fingerprint(firing.Labels) || !m.Alerts[0].EndsAt.IsZero() {
		t.Errorf("firing alert = %+v", m.Alerts[0])
	}
	if m.Alerts[1].Status != "resolved" || m.Alerts[1].Fingerprint != "00000000000000ff" {
		t.Errorf("resolved alert = %+v", m.Alerts[1])
	}
}

func TestAlertmanagerV2(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := AlertmanagerV2([]Alert{
		{Labels: map[string]string{"alertname": "A"}, StartsAt: start},
		{Labels: map[string]string{"alertname": "B"}, StartsAt: start, EndsAt: start.Add(time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"labels":{"alertname":"A"},"startsAt":"2026-01-02T03:04:05Z"},` +
		`{"labels":{"alertname":"B"},"startsAt":"2026-01-02T03:04:05Z","endsAt":"2026-01-02T03:04:06Z"}]`
	if string(b) != want {
		t.Errorf("body\n got %s\nwant %s", b, want)
	}
}
