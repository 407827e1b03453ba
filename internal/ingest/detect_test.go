package ingest_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/ingest/pagerduty"
)

var now = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want incident.Source
	}{
		{"alertmanager", `{"version":"4","groupKey":"k","alerts":[]}`, incident.SourceAlertmanager},
		{"alertmanager by receiver", `{"receiver":"r","alerts":[]}`, incident.SourceAlertmanager},
		{"grafana by orgId", `{"orgId":1,"version":"1","groupKey":"k","alerts":[]}`, incident.SourceGrafana},
		{"grafana by state", `{"state":"alerting","receiver":"r","alerts":[]}`, incident.SourceGrafana},
		{"pagerduty by action", `{"event_action":"trigger"}`, incident.SourcePagerDuty},
		{"pagerduty by routing key", `{"routing_key":"k","alerts":[],"version":"4"}`, incident.SourcePagerDuty},
		{"generic single", `{"name":"x"}`, incident.SourceGeneric},
		{"generic list", `{"alerts":[{"name":"x"}]}`, incident.SourceGeneric},
		{"null markers do not count", `{"orgId":null,"version":"4","alerts":[]}`, incident.SourceAlertmanager},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ingest.Sniff([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		source incident.Source
		count  int
		first  string // alertname of the first event
	}{
		{"alertmanager/testdata/webhook.json", incident.SourceAlertmanager, 2, "HighQueueDepth"},
		{"grafana/testdata/webhook.json", incident.SourceGrafana, 2, "DatabaseCPUHigh"},
		{"pagerduty/testdata/trigger.json", incident.SourcePagerDuty, 1, "HighQueueDepth"},
		{"pagerduty/testdata/resolve.json", incident.SourcePagerDuty, 1, ""},
		{"generic/testdata/single.json", incident.SourceGeneric, 1, "FailedLoginSpike"},
		{"generic/testdata/list.json", incident.SourceGeneric, 2, "ServiceDown"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			events, err := ingest.Detect(body, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.count {
				t.Fatalf("%d events, want %d", len(events), tt.count)
			}
			if events[0].Source != tt.source || events[0].Labels["alertname"] != tt.first {
				t.Errorf("source %q alertname %q", events[0].Source, events[0].Labels["alertname"])
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want ingest.FieldError
	}{
		{"not JSON", `alert!`, ingest.FieldError{Field: "body", Reason: "invalid JSON at offset 0: invalid character 'a' looking for beginning of value"}},
		{"array", `[]`, ingest.FieldError{Field: "body", Reason: "must be a JSON object, got array"}},
		{"alertmanager", `{"version":"4","alerts":[{"labels":{"a":1}}]}`, ingest.FieldError{Field: "alerts[0].labels.a", Reason: "must be a string, got number"}},
		{"grafana", `{"orgId":1,"alerts":[]}`, ingest.FieldError{Field: "alerts", Reason: "must not be empty"}},
		{"generic", `{"summary":"x"}`, ingest.FieldError{Field: "name", Reason: "is required"}},
		{"pagerduty", `{"routing_key":"k","event_action":"resolve"}`, ingest.FieldError{Field: "dedup_key", Reason: "is missing or blank (required to resolve)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := ingest.Detect([]byte(tt.body), now)
			if events != nil {
				t.Error("events returned with the error")
			}
			var fe *ingest.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T %v, want a *FieldError", err, err)
			}
			if *fe != tt.want {
				t.Errorf("got %q, want %q", fe, &tt.want)
			}
		})
	}
	_, err := ingest.Detect([]byte(`{"event_action":"x"}`), now)
	var ie *pagerduty.InvalidEventError
	if !errors.As(err, &ie) {
		t.Errorf("PagerDuty errors keep their type, got %T", err)
	}
}
