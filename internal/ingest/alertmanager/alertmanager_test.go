package alertmanager_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/ingest/alertmanager"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/eventtest"
)

var now = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)

func TestDecodeFixture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	n, events, err := alertmanager.Decode(body, now)
	if err != nil {
		t.Fatal(err)
	}
	wantN := &alertmanager.Notification{
		Version:           "4",
		GroupKey:          `{}/{severity=~"warning|critical"}:{namespace="telegram-platform"}`,
		Status:            "firing",
		Receiver:          "firebreak",
		GroupLabels:       map[string]string{"namespace": "telegram-platform"},
		CommonLabels:      map[string]string{"namespace": "telegram-platform"},
		CommonAnnotations: map[string]string{},
		ExternalURL:       "http://alertmanager-0:9093",
	}
	if !reflect.DeepEqual(n, wantN) {
		t.Errorf("notification:\n got  %+v\n want %+v", n, wantN)
	}
	eventtest.Equal(t, events, []incident.Event{
		{
			Source: incident.SourceAlertmanager,
			Status: incident.AlertFiring,
			Key:    "c3f2a1b4d5e6f708",
			Labels: map[string]string{
				"alertname": "HighQueueDepth",
				"instance":  "message-worker-7d9f8b6c4-x2x9k:9090",
				"job":       "message-worker",
				"namespace": "telegram-platform",
				"queue":     "outbound",
				"severity":  "warning",
			},
			Annotations: map[string]string{
				"description": "Queue outbound holds 1843 jobs (threshold 1000).",
				"runbook_url": "https://runbooks.example.com/telegram-platform#high-queue-depth",
				"summary":     "High Queue Depth (>1000)",
			},
			Summary:      "High Queue Depth (>1000)",
			Severity:     incident.SeverityWarning,
			StartsAt:     time.Date(2025, 3, 4, 2, 57, 31, 482_000_000, time.UTC),
			GeneratorURL: "http://prometheus-0:9090/graph?g0.expr=sum+by+%28queue%29+%28queue_depth%29+%3E+1000&g0.tab=1",
			Links:        []incident.Link{{Href: "https://runbooks.example.com/telegram-platform#high-queue-depth", Text: "Runbook"}},
		},
		{
			Source: incident.SourceAlertmanager,
			Status: incident.AlertResolved,
			Key:    "0e8f7a6b5c4d3e2f",
			Labels: map[string]string{
				"alertname": "HighErrorRate",
				"job":       "telegram-platform",
				"namespace": "telegram-platform",
				"service":   "telegram-platform",
				"severity":  "critical",
			},
			Annotations:  map[string]string{"description": "5xx ratio is 7.2% over 5m."},
			Summary:      "5xx ratio is 7.2% over 5m.",
			Severity:     incident.SeverityCritical,
			StartsAt:     time.Date(2025, 3, 4, 1, 41, 1, 70_000_000, time.UTC),
			EndsAt:       time.Date(2025, 3, 4, 2, 59, 16, 70_000_000, time.UTC),
			GeneratorURL: "http://prometheus-0:9090/graph?g0.expr=job%3Ahttp_5xx%3Aratio5m+%3E+0.05&g0.tab=1",
		},
	})
}

// alert wraps one alert object in a minimal webhook body.
func alert(a string) []byte {
	return []byte(`{"version":"4","status":"firing","alerts":[` + a + `]}`)
}

func TestDecodeAlertDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		alert string
		check func(t *testing.T, e incident.Event)
	}{
		{"no startsAt starts now", `{"labels":{"alertname":"A"}}`, func(t *testing.T, e incident.Event) {
			if !e.StartsAt.Equal(now) || !e.EndsAt.IsZero() || e.Status != incident.AlertFiring {
				t.Errorf("starts %v ends %v status %s", e.StartsAt, e.EndsAt, e.Status)
			}
		}},
		{"no status, endsAt past is resolved", `{"labels":{"alertname":"A"},"endsAt":"2025-03-04T02:00:00Z"}`, func(t *testing.T, e incident.Event) {
			if e.Status != incident.AlertResolved {
				t.Errorf("status %s", e.Status)
			}
		}},
		{"no status, endsAt future is firing", `{"labels":{"alertname":"A"},"endsAt":"2025-03-04T04:00:00Z"}`, func(t *testing.T, e incident.Event) {
			if e.Status != incident.AlertFiring {
				t.Errorf("status %s", e.Status)
			}
		}},
		{"resolved without endsAt ends now", `{"status":"resolved","labels":{"alertname":"A"},"endsAt":"0001-01-01T00:00:00Z"}`, func(t *testing.T, e incident.Event) {
			if !e.EndsAt.Equal(now) {
				t.Errorf("ends %v", e.EndsAt)
			}
		}},
		{"no severity is warning", `{"labels":{"alertname":"A"}}`, func(t *testing.T, e incident.Event) {
			if e.Severity != incident.SeverityWarning {
				t.Errorf("severity %s", e.Severity)
			}
		}},
		{"unknown severity is warning", `{"labels":{"alertname":"A","severity":"sev-zero"}}`, func(t *testing.T, e incident.Event) {
			if e.Severity != incident.SeverityWarning || e.Labels["severity"] != "sev-zero" {
				t.Errorf("severity %s labels %v", e.Severity, e.Labels)
			}
		}},
		{"page severity is critical", `{"labels":{"alertname":"A","severity":"page"}}`, func(t *testing.T, e incident.Event) {
			if e.Severity != incident.SeverityCritical {
				t.Errorf("severity %s", e.Severity)
			}
		}},
		{"info severity", `{"labels":{"alertname":"A","severity":"Info"}}`, func(t *testing.T, e incident.Event) {
			if e.Severity != incident.SeverityInfo {
				t.Errorf("severity %s", e.Severity)
			}
		}},
		{"summary falls back to alertname", `{"labels":{"alertname":"DiskFull"},"annotations":{"runbook_url":"x"}}`, func(t *testing.T, e incident.Event) {
			if e.Summary != "DiskFull" {
				t.Errorf("summary %q", e.Summary)
			}
		}},
		{"summary before description", `{"labels":{"alertname":"A"},"annotations":{"description":"d","summary":"s"}}`, func(t *testing.T, e incident.Event) {
			if e.Summary != "s" {
				t.Errorf("summary %q", e.Summary)
			}
		}},
		{"no fingerprint leaves key empty", `{"labels":{"alertname":"A"}}`, func(t *testing.T, e incident.Event) {
			if e.Key != "" {
				t.Errorf("key %q", e.Key)
			}
			if got, want := incident.Fingerprint(&e), "alertmanager:"+incident.LabelsHash(map[string]string{"alertname": "A"}); got != want {
				t.Errorf("fingerprint %q, want %q", got, want)
			}
		}},
		{"overlong fingerprint is hashed", `{"labels":{"alertname":"A"},"fingerprint":"` + strings.Repeat("f", 300) + `"}`, func(t *testing.T, e incident.Event) {
			if !strings.HasPrefix(e.Key, "sha256:") || len(e.Key) != 7+64 {
				t.Errorf("key %q", e.Key)
			}
		}},
		{"unsafe generatorURL and runbook are not links", `{"labels":{"alertname":"A"},"generatorURL":"javascript:alert(1)","annotations":{"runbook_url":"data:text/html,x"}}`, func(t *testing.T, e incident.Event) {
			if e.GeneratorURL != "" || e.Links != nil {
				t.Errorf("generator %q links %v", e.GeneratorURL, e.Links)
			}
			if e.Annotations["runbook_url"] != "data:text/html,x" {
				t.Errorf("annotation lost: %v", e.Annotations)
			}
		}},
		{"offset times become UTC", `{"labels":{"alertname":"A"},"startsAt":"2025-03-04T04:00:00+02:00"}`, func(t *testing.T, e incident.Event) {
			if want := time.Date(2025, 3, 4, 2, 0, 0, 0, time.UTC); e.StartsAt != want {
				t.Errorf("starts %#v", e.StartsAt)
			}
		}},
		{"unknown fields are ignored", `{"labels":{"alertname":"A"},"silenceURL":42,"extra":{"x":[1]}}`, func(t *testing.T, e incident.Event) {
			if e.Labels["alertname"] != "A" {
				t.Errorf("labels %v", e.Labels)
			}
		}},
		{"null annotations", `{"labels":{"alertname":"A"},"annotations":null}`, func(t *testing.T, e incident.Event) {
			if e.Annotations != nil {
				t.Errorf("annotations %v", e.Annotations)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, events, err := alertmanager.Decode(alert(tt.alert), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("%d events", len(events))
			}
			if events[0].Source != incident.SourceAlertmanager {
				t.Errorf("source %q", events[0].Source)
			}
			tt.check(t, events[0])
		})
	}
}

func TestDecodeNotification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want alertmanager.Notification
	}{
		{
			name: "newer fields",
			body: `{"version":"4","groupKey":"k","truncatedAlerts":12,"status":"resolved","receiver":"r",
				"notification_reason":"repeat_interval","routeLabels":{"team":"db"},
				"alerts":[{"labels":{"a":"b"}}]}`,
			want: alertmanager.Notification{
				Version: "4", GroupKey: "k", TruncatedAlerts: 12, Status: "resolved", Receiver: "r",
				NotificationReason: "repeat_interval", RouteLabels: map[string]string{"team": "db"},
			},
		},
		{
			name: "newer fields of unexpected type are ignored",
			body: `{"version":"4","notification_reason":{"kind":1},"routeLabels":["x"],"alerts":[{"labels":{"a":"b"}}]}`,
			want: alertmanager.Notification{Version: "4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, _, err := alertmanager.Decode([]byte(tt.body), now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*n, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *n, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	ok := `{"labels":{"alertname":"A"}}`
	tests := []struct {
		name          string
		body          string
		field, reason string
	}{
		{"empty body", ``, "body", "is empty; expected a JSON object"},
		{"not JSON", `{"alerts": [}`, "body", "invalid JSON at offset 12: invalid character '}' looking for beginning of value"},
		{"truncated", `{"alerts": [`, "body", "invalid JSON at offset 12: unexpected end of JSON input"},
		{"trailing data", `{"alerts":[]} x`, "body", "invalid JSON at offset 14: invalid character 'x' after top-level value"},
		{"array body", `[{"labels":{}}]`, "body", "must be a JSON object, got array"},
		{"null body", `null`, "body", "must be a JSON object, got null"},
		{"string body", `"hi"`, "body", "must be a JSON object, got string"},
		{"no alerts", `{"version":"4"}`, "alerts", "is required"},
		{"empty alerts", `{"version":"4","alerts":[]}`, "alerts", "must not be empty"},
		{"alerts not array", `{"alerts":{"labels":{}}}`, "alerts", "must be an array, got object"},
		{"alert not object", `{"alerts":[` + ok + `,"x"]}`, "alerts[1]", "must be an object, got string"},
		{"alert null", `{"alerts":[null]}`, "alerts[0]", "must be an object, got null"},
		{"version number", `{"version":4,"alerts":[` + ok + `]}`, "version", "must be a string, got number"},
		{"bad group status", `{"status":"FIRING","alerts":[` + ok + `]}`, "status", `must be "firing" or "resolved", got "FIRING"`},
		{"truncatedAlerts negative", `{"truncatedAlerts":-1,"alerts":[` + ok + `]}`, "truncatedAlerts", `must be a non-negative integer, got "-1"`},
		{"truncatedAlerts string", `{"truncatedAlerts":"3","alerts":[` + ok + `]}`, "truncatedAlerts", "must be a non-negative integer, got string"},
		{"groupLabels value", `{"groupLabels":{"a":1},"alerts":[` + ok + `]}`, "groupLabels.a", "must be a string, got number"},
		{"commonAnnotations array", `{"commonAnnotations":[],"alerts":[` + ok + `]}`, "commonAnnotations", "must be an object of strings, got array"},
		{"labels array", `{"alerts":[` + ok + `,` + ok + `,` + ok + `,{"labels":["a"]}]}`, "alerts[3].labels", "must be an object of strings, got array"},
		{"label value number", `{"alerts":[{"labels":{"alertname":"A","code":500}}]}`, "alerts[0].labels.code", "must be a string, got number"},
		{"label value null", `{"alerts":[{"labels":{"alertname":null}}]}`, "alerts[0].labels.alertname", "must be a string, got null"},
		{"label odd name quoted", `{"alerts":[{"labels":{"k8s.io/app":true}}]}`, "alerts[0].labels[\"k8s.io/app\"]", "must be a string, got boolean"},
		{"empty label name", `{"alerts":[{"labels":{"":"x"}}]}`, "alerts[0].labels", "has an empty name; names must not be empty"},
		{"no labels", `{"alerts":[{"fingerprint":"abc"}]}`, "alerts[0].labels", "must hold at least one label"},
		{"empty labels", `{"alerts":[{"labels":{}}]}`, "alerts[0].labels", "must hold at least one label"},
		{"annotation value object", `{"alerts":[{"labels":{"a":"b"},"annotations":{"summary":{}}}]}`, "alerts[0].annotations.summary", "must be a string, got object"},
		{"bad alert status", `{"alerts":[{"status":"pending","labels":{"a":"b"}}]}`, "alerts[0].status", `must be "firing" or "resolved", got "pending"`},
		{"bad startsAt", `{"alerts":[{"labels":{"a":"b"},"startsAt":"yesterday"}]}`, "alerts[0].startsAt", `must be an RFC 3339 timestamp such as "2024-05-01T12:00:00Z", got "yesterday"`},
		{"numeric endsAt", `{"alerts":[{"labels":{"a":"b"},"endsAt":1700000000}]}`, "alerts[0].endsAt", "must be a string, got number"},
		{"fingerprint number", `{"alerts":[{"labels":{"a":"b"},"fingerprint":12}]}`, "alerts[0].fingerprint", "must be a string, got number"},
		{"generatorURL bool", `{"alerts":[{"labels":{"a":"b"},"generatorURL":false}]}`, "alerts[0].generatorURL", "must be a string, got boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, events, err := alertmanager.Decode([]byte(tt.body), now)
			if n != nil || events != nil {
				t.Errorf("got a result with the error: %+v %+v", n, events)
			}
			eventtest.FieldError(t, err, ingest.FieldError{Field: tt.field, Reason: tt.reason})
			if want := tt.field + ": " + tt.reason; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestDecodeHostileStrings(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("A", 1<<20)
	for _, s := range eventtest.Hostile(huge) {
		t.Run(eventtest.Name(s), func(t *testing.T) {
			t.Parallel()
			body := eventtest.JSON(map[string]any{
				"version": "4",
				"alerts": []any{map[string]any{
					"labels":       map[string]string{"alertname": s, s: s},
					"annotations":  map[string]string{"summary": s},
					"fingerprint":  s,
					"generatorURL": s,
				}},
			})
			_, events, err := alertmanager.Decode(body, now)
			if err != nil {
				t.Fatal(err)
			}
			e := events[0]
			if e.Labels["alertname"] != s || e.Labels[s] != s || e.Summary != s {
				t.Errorf("hostile string not kept verbatim")
			}
			if len(s) <= alertmanager.MaxKeyLen && e.Key != s {
				t.Errorf("key %q, want %q", e.Key, s)
			}
		})
	}
}

func TestDecodeBigGroup(t *testing.T) {
	t.Parallel()
	alerts := make([]any, 5000)
	for i := range alerts {
		alerts[i] = map[string]any{"labels": map[string]string{"alertname": "Storm", "pod": strings.Repeat("p", i%50) + string(rune('a'+i%26))}}
	}
	_, events, err := alertmanager.Decode(eventtest.JSON(map[string]any{"version": "4", "alerts": alerts}), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(alerts) {
		t.Fatalf("%d events, want %d", len(events), len(alerts))
	}
}

func FuzzDecode(f *testing.F) {
	if body, err := os.ReadFile("testdata/webhook.json"); err == nil {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, events, err := alertmanager.Decode(body, now)
		if err != nil {
			var fe *ingest.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %q is not a *FieldError", err, err)
			}
			if fe.Field == "" || fe.Reason == "" {
				t.Fatalf("incomplete field error %#v", fe)
			}
			if n != nil || events != nil {
				t.Fatal("result returned with an error")
			}
			return
		}
		if n == nil || len(events) == 0 {
			t.Fatal("no error and no events")
		}
		for i, e := range events {
			eventtest.Valid(t, i, e, incident.SourceAlertmanager)
		}
	})
}
