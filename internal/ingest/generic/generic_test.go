package generic_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/ingest/generic"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/eventtest"
)

var now = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []incident.Event
	}{
		{"single.json", []incident.Event{{
			Source: incident.SourceGeneric,
			Status: incident.AlertFiring,
			Key:    "auth/failed-logins/eu-west-1",
			Labels: map[string]string{
				"alertname": "FailedLoginSpike",
				"service":   "telegram-platform",
				"env":       "prod",
				"region":    "eu-west-1",
			},
			Annotations: map[string]string{
				"playbook":    "Failed Login Attempts",
				"summary":     "Failed logins 12x above baseline",
				"description": "auth_audit_log shows 4210 failed logins in 10 minutes.",
			},
			Summary:  "Failed logins 12x above baseline",
			Severity: incident.SeverityCritical,
			StartsAt: time.Date(2025, 3, 4, 2, 0, 0, 0, time.UTC),
			Links:    []incident.Link{{Href: "https://grafana.example.com/d/auth", Text: "Auth dashboard"}},
			Details:  []byte(`{"failed_logins":4210,"top_ips":["203.0.113.7","198.51.100.22"]}`),
		}}},
		{"list.json", []incident.Event{
			{
				Source:   incident.SourceGeneric,
				Status:   incident.AlertFiring,
				Labels:   map[string]string{"alertname": "ServiceDown", "service": "job-worker"},
				Summary:  "ServiceDown",
				Severity: incident.SeverityWarning,
				StartsAt: now,
			},
			{
				Source:   incident.SourceGeneric,
				Status:   incident.AlertResolved,
				Key:      "msg-success/sms",
				Labels:   map[string]string{"alertname": "MessageSuccessRateLow", "service": "message-worker", "channel": "sms"},
				Summary:  "MessageSuccessRateLow",
				Severity: incident.SeverityWarning,
				StartsAt: time.Date(2025, 3, 4, 1, 0, 0, 0, time.UTC),
				EndsAt:   time.Date(2025, 3, 4, 1, 45, 0, 0, time.UTC),
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			events, err := generic.Decode(body, now)
			if err != nil {
				t.Fatal(err)
			}
			eventtest.Equal(t, events, tt.want)
		})
	}
}

func TestDecodeDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want incident.Event
	}{
		{
			name: "name only",
			body: `{"name":"Disk"}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "resolved any case ends now",
			body: `{"name":"Disk","status":" Resolved ","severity":"INFO"}`,
			want: incident.Event{Status: incident.AlertResolved, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityInfo, StartsAt: now, EndsAt: now},
		},
		{
			name: "description is the summary without one",
			body: `{"name":"Disk","description":"d","annotations":{"owner":"db"}}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Annotations: map[string]string{"owner": "db", "description": "d"},
				Summary:     "d", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "summary field wins over annotation",
			body: `{"name":"Disk","summary":"field","annotations":{"summary":"annotation"}}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Annotations: map[string]string{"summary": "field"},
				Summary:     "field", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "annotation summary used",
			body: `{"name":"Disk","annotations":{"summary":"annotation"}}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Annotations: map[string]string{"summary": "annotation"},
				Summary:     "annotation", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "matching labels agree with fields",
			body: `{"name":"Disk","service":"db","labels":{"alertname":"Disk","service":"db"},"fingerprint":"f","dedup_key":"f"}`,
			want: incident.Event{Status: incident.AlertFiring, Key: "f", Labels: map[string]string{"alertname": "Disk", "service": "db"},
				Summary: "Disk", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "severity synonym",
			body: `{"name":"Disk","severity":"error","details":{}}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityCritical, StartsAt: now, Details: []byte(`{}`)},
		},
		{
			name: "null optional fields",
			body: `{"name":"Disk","status":null,"severity":null,"labels":null,"links":null,"details":null,"starts_at":null}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "byte order mark skipped",
			body: "\xef\xbb\xbf" + `{"name":"Disk"}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityWarning, StartsAt: now},
		},
		{
			name: "NUL becomes U+FFFD",
			body: `{"name":"Disk\u0000","details":{"a\u0000":"\u0000"}}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk\uFFFD"},
				Summary: "Disk\uFFFD", Severity: incident.SeverityWarning, StartsAt: now, Details: []byte(`{"a\ufffd":"\ufffd"}`)},
		},
		{
			name: "unknown fields ignored, names exact",
			body: `{"name":"Disk","Name":"Other","SEVERITY":"critical","extra":[1,2]}`,
			want: incident.Event{Status: incident.AlertFiring, Labels: map[string]string{"alertname": "Disk"},
				Summary: "Disk", Severity: incident.SeverityWarning, StartsAt: now},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := generic.Decode([]byte(tt.body), now)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Source = incident.SourceGeneric
			eventtest.Equal(t, events, []incident.Event{tt.want})
			eventtest.Valid(t, 0, events[0], incident.SourceGeneric)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		body          string
		field, reason string
	}{
		{"whitespace body", " \n", "body", "is empty; expected a JSON object"},
		{"bad JSON", `{"name":"x" "status":"firing"}`, "body", "invalid JSON at offset 12: invalid character '\"' after object key:value pair"},
		{"number body", `42`, "body", "must be a JSON object, got number"},
		{"no name", `{"severity":"critical"}`, "name", "is required"},
		{"blank name", `{"name":"  "}`, "name", "is required"},
		{"name number", `{"name":5}`, "name", "must be a string, got number"},
		{"list no name", `{"alerts":[{"name":"a"},{"name":"b"},{"summary":"c"}]}`, "alerts[2].name", "is required"},
		{"empty list", `{"alerts":[]}`, "alerts", "must not be empty"},
		{"alerts object", `{"alerts":{"name":"a"}}`, "alerts", "must be an array, got object"},
		{"alert string", `{"alerts":["a"]}`, "alerts[0]", "must be an object, got string"},
		{"bad status", `{"name":"a","status":"open"}`, "status", `must be "firing" or "resolved", got "open"`},
		{"bad severity", `{"name":"a","severity":"urgent"}`, "severity", `must be "critical", "warning" or "info", got "urgent"`},
		{"severity number", `{"alerts":[{"name":"a","severity":1}]}`, "alerts[0].severity", "must be a string, got number"},
		{"labels string", `{"name":"a","labels":"env=prod"}`, "labels", "must be an object of strings, got string"},
		{"label value number", `{"alerts":[{"name":"a"},{"name":"b","labels":{"port":8080}}]}`, "alerts[1].labels.port", "must be a string, got number"},
		{"empty label name", `{"name":"a","labels":{"":"x"}}`, "labels", "has an empty name; names must not be empty"},
		{"alertname conflict", `{"name":"a","labels":{"alertname":"b"}}`, "labels.alertname", `is "b" but name is "a"; set one of them`},
		{"service conflict", `{"alerts":[{"name":"a","service":"x","labels":{"service":"y"}}]}`, "alerts[0].labels.service", `is "y" but service is "x"; set one of them`},
		{"annotations array", `{"name":"a","annotations":["x"]}`, "annotations", "must be an object of strings, got array"},
		{"keys differ", `{"name":"a","fingerprint":"f","dedup_key":"d"}`, "dedup_key", "differs from fingerprint; give one of them"},
		{"key too long", `{"name":"a","dedup_key":"` + strings.Repeat("d", 256) + `"}`, "dedup_key", "must be at most 255 bytes, got 256"},
		{"bad starts_at", `{"name":"a","starts_at":"2025-03-04 03:00"}`, "starts_at", `must be an RFC 3339 timestamp such as "2024-05-01T12:00:00Z", got "2025-03-04 03:00"`},
		{"unix ends_at", `{"name":"a","ends_at":1741057200}`, "ends_at", "must be a string, got number"},
		{"links object", `{"name":"a","links":{"href":"x"}}`, "links", "must be an array, got object"},
		{"link no href", `{"name":"a","links":[{"href":"https://a"},{"text":"t"}]}`, "links[1].href", "is required"},
		{"link unsafe", `{"name":"a","links":[{"href":"javascript:alert(1)"}]}`, "links[0].href", `must be an absolute http or https URL, got "javascript:alert(1)"`},
		{"link text number", `{"name":"a","links":[{"href":"https://a","text":1}]}`, "links[0].text", "must be a string, got number"},
		{"details array", `{"name":"a","details":[1]}`, "details", "must be an object, got array"},
		{"odd label name path", `{"name":"a","labels":{"app.kubernetes.io/name":1}}`, `labels["app.kubernetes.io/name"]`, "must be a string, got number"},
		{"long value in error is cut", `{"name":"a","status":"` + strings.Repeat("x", 100) + `"}`, "status", `must be "firing" or "resolved", got "` + strings.Repeat("x", 64) + `"…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := generic.Decode([]byte(tt.body), now)
			if events != nil {
				t.Errorf("events returned with the error")
			}
			eventtest.FieldError(t, err, ingest.FieldError{Field: tt.field, Reason: tt.reason})
		})
	}
}

func TestDecodeHostileStrings(t *testing.T) {
	t.Parallel()
	for _, s := range eventtest.Hostile(strings.Repeat("q", 1<<20)) {
		t.Run(eventtest.Name(s), func(t *testing.T) {
			t.Parallel()
			body := eventtest.JSON(map[string]any{
				"alerts": []any{map[string]any{
					"name": s, "summary": s, "description": s, "service": s,
					"labels":      map[string]string{s: s},
					"annotations": map[string]string{s: s},
					"details":     map[string]string{s: s},
				}},
			})
			events, err := generic.Decode(body, now)
			if err != nil {
				t.Fatal(err)
			}
			e := events[0]
			if e.Labels["alertname"] != s || e.Labels["service"] != s || e.Summary != s || e.Annotations["description"] != s {
				t.Error("hostile string not kept verbatim")
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"single.json", "list.json"} {
		if body, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := generic.Decode(body, now)
		if err != nil {
			var fe *ingest.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("error %T %q is not a complete *FieldError", err, err)
			}
			if events != nil {
				t.Fatal("events returned with an error")
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("no error and no events")
		}
		for i, e := range events {
			eventtest.Valid(t, i, e, incident.SourceGeneric)
			if e.Labels["alertname"] == "" {
				t.Errorf("event %d without alertname", i)
			}
		}
	})
}

// TestFormatDocExamples keeps the README's section on this format true.
func TestFormatDocExamples(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Generic JSON alerts\n")
	if !ok {
		t.Fatal("README.md has no section \"## Generic JSON alerts\"")
	}
	doc, _, _ := strings.Cut(section, "\n## ")
	// The JSON after each "-d '" in the curl examples.
	parts := strings.Split(doc, "-d '")[1:]
	if len(parts) != 2 {
		t.Fatalf("found %d curl examples, want 2", len(parts))
	}
	for i, p := range parts {
		body := p[:strings.Index(p, "'")]
		if _, err := generic.Decode([]byte(body), now); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
	errs := []struct{ body, msg string }{
		{`{"alerts":[{"name":"a"},{"name":"b"},{"name":"c","labels":{"port":8080}}]}`, "alerts[2].labels.port: must be a string, got number"},
		{`{"summary":"x"}`, "name: is required"},
		{`{"name":"a","severity":"urgent"}`, `severity: must be "critical", "warning" or "info", got "urgent"`},
		{`{"name":"Disk",}`, "body: invalid JSON at offset 15: invalid character '}' looking for beginning of object key string"},
	}
	for _, e := range errs {
		_, err := generic.Decode([]byte(e.body), now)
		if err == nil || err.Error() != e.msg {
			t.Errorf("%s: got %v, want %s", e.body, err, e.msg)
		}
		if !strings.Contains(doc, e.msg) {
			t.Errorf("README.md no longer shows %q", e.msg)
		}
	}
}
