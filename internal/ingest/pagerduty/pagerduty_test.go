package pagerduty_test

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/eventtest"
	"github.com/firebreak-dev/firebreak/internal/ingest/pagerduty"
)

var now = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)

const routingKey = "R0123456789abcdef0123456789abcde"

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want pagerduty.Request
	}{
		{
			file: "trigger.json",
			want: pagerduty.Request{
				RoutingKey: routingKey,
				Action:     "trigger",
				DedupKey:   "message-worker/outbound-queue",
				Events: []incident.Event{{
					Source: incident.SourcePagerDuty,
					Status: incident.AlertFiring,
					Key:    "message-worker/outbound-queue",
					Labels: map[string]string{
						"alertname": "HighQueueDepth",
						"class":     "HighQueueDepth",
						"component": "message-worker",
						"group":     "telegram-platform",
						"service":   "message-worker",
						"severity":  "error",
						"source":    "message-worker-7d9f8b6c4-x2x9k",
					},
					Summary:  "Queue outbound holds 1843 jobs on message-worker",
					Severity: incident.SeverityCritical,
					StartsAt: time.Date(2025, 3, 4, 2, 57, 31, 482_000_000, time.UTC),
					Links: []incident.Link{
						{Href: "https://runbooks.example.com/telegram-platform#high-queue-depth", Text: "Runbook"},
						{Href: "https://monitoring.example.com", Text: "Sample Monitoring Service"},
					},
					Details: []byte(`{"custom_details":{"queue":"outbound","depth":1843,"threshold":1000,"oldest_job_age_seconds":412.5},` +
						`"images":[{"src":"https://grafana.example.com/render/d-solo/q1?panelId=2","href":"https://grafana.example.com/d/q1","alt":"Queue depth, last hour"}],` +
						`"client":"Sample Monitoring Service","client_url":"https://monitoring.example.com"}`),
				}},
			},
		},
		{
			file: "acknowledge.json",
			want: pagerduty.Request{
				RoutingKey: routingKey,
				Action:     "acknowledge",
				DedupKey:   "message-worker/outbound-queue",
				Events: []incident.Event{{
					Source:   incident.SourcePagerDuty,
					Status:   incident.AlertAcknowledged,
					Key:      "message-worker/outbound-queue",
					Labels:   map[string]string{},
					StartsAt: now,
				}},
			},
		},
		{
			// The payload of a resolve is ignored, even an invalid one.
			file: "resolve.json",
			want: pagerduty.Request{
				RoutingKey: routingKey,
				Action:     "resolve",
				DedupKey:   "message-worker/outbound-queue",
				Events: []incident.Event{{
					Source:   incident.SourcePagerDuty,
					Status:   incident.AlertResolved,
					Key:      "message-worker/outbound-queue",
					Labels:   map[string]string{},
					StartsAt: now,
					EndsAt:   now,
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			req, err := pagerduty.Decode(body, now)
			if err != nil {
				t.Fatal(err)
			}
			got, want := *req, tt.want
			got.Events, want.Events = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("request %+v, want %+v", got, want)
			}
			eventtest.Equal(t, req.Events, tt.want.Events)
		})
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestDecodeTrigger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, req *pagerduty.Request)
	}{
		{
			name: "minimal trigger gets a generated dedup key",
			body: `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"db-1","severity":"info"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				e := req.Events[0]
				if !hex32.MatchString(req.DedupKey) || e.Key != req.DedupKey {
					t.Errorf("dedup key %q, event key %q", req.DedupKey, e.Key)
				}
				want := map[string]string{"source": "db-1", "severity": "info", "alertname": "db-1"}
				if !reflect.DeepEqual(e.Labels, want) {
					t.Errorf("labels %v, want %v", e.Labels, want)
				}
				if e.Severity != incident.SeverityInfo || !e.StartsAt.Equal(now) || e.Details != nil || e.Links != nil {
					t.Errorf("event %+v", e)
				}
			},
		},
		{
			name: "blank dedup key is generated",
			body: `{"routing_key":"k","event_action":"trigger","dedup_key":"  ","payload":{"summary":"s","source":"x","severity":"warning"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				if !hex32.MatchString(req.DedupKey) {
					t.Errorf("dedup key %q", req.DedupKey)
				}
			},
		},
		{
			name: "alertname is component without class",
			body: `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"warning","component":"postgres"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				l := req.Events[0].Labels
				if l["alertname"] != "postgres" || l["service"] != "postgres" {
					t.Errorf("labels %v", l)
				}
			},
		},
		{
			name: "summary never names the alert",
			body: `{"routing_key":"k","event_action":"trigger","payload":{"summary":"CPU 99% on db-1","source":"db-1","severity":"critical"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				for k, v := range req.Events[0].Labels {
					if strings.Contains(v, "CPU") {
						t.Errorf("label %s carries the summary", k)
					}
				}
			},
		},
		{
			name: "long summary is truncated to 1024 characters",
			body: `{"routing_key":"k","event_action":"trigger","payload":{"summary":"` + strings.Repeat("é", 2000) + `","source":"x","severity":"warning"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				s := req.Events[0].Summary
				if utf8.RuneCountInString(s) != pagerduty.MaxSummaryLen || !utf8.ValidString(s) {
					t.Errorf("summary of %d characters", utf8.RuneCountInString(s))
				}
			},
		},
		{
			name: "custom_details of any JSON kept",
			body: `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"warning","custom_details":"free text <b>"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				if got := string(req.Events[0].Details); got != `{"custom_details":"free text <b>"}` {
					t.Errorf("details %s", got)
				}
			},
		},
		{
			name: "unsafe links dropped",
			body: `{"routing_key":"k","event_action":"trigger","links":[{"href":"javascript:x"},{"href":"https://ok.example"}],"client_url":"file:///etc/passwd","payload":{"summary":"s","source":"x","severity":"warning"}}`,
			check: func(t *testing.T, req *pagerduty.Request) {
				want := []incident.Link{{Href: "https://ok.example"}}
				if !reflect.DeepEqual(req.Events[0].Links, want) {
					t.Errorf("links %v", req.Events[0].Links)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := pagerduty.Decode([]byte(tt.body), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(req.Events) != 1 {
				t.Fatalf("%d events", len(req.Events))
			}
			eventtest.Valid(t, 0, req.Events[0], incident.SourcePagerDuty)
			tt.check(t, req)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"not JSON", `{"routing_key":`, []string{"body: invalid JSON at offset 15: unexpected end of JSON input"}},
		{"array", `[{"event_action":"trigger"}]`, []string{"body: must be a JSON object, got array"}},
		{"empty object", `{}`, []string{
			"'routing_key' is missing or blank",
			"'event_action' is missing or blank",
		}},
		{"trigger without payload", `{"routing_key":"k","event_action":"trigger"}`, []string{
			"'payload' is missing (required to trigger)",
			"'payload.summary' is missing or blank",
			"'payload.source' is missing or blank",
			"'payload.severity' is missing or blank",
		}},
		{"blank summary", `{"routing_key":"k","event_action":"trigger","payload":{"summary":" \n","source":"x","severity":"info"}}`, []string{
			"'payload.summary' is missing or blank",
		}},
		{"bad action and severity", `{"routing_key":"k","event_action":"escalate","payload":{"summary":"s","source":"x","severity":"high"}}`, []string{
			"'event_action' is invalid (must be one of trigger, acknowledge, resolve)",
		}},
		{"bad severity", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"Critical"}}`, []string{
			"'payload.severity' is invalid (must be one of critical, error, warning, info)",
		}},
		{"payload string", `{"routing_key":"k","event_action":"trigger","payload":"boom"}`, []string{
			"'payload' must be an object, got string",
			"'payload.summary' is missing or blank",
			"'payload.source' is missing or blank",
			"'payload.severity' is missing or blank",
		}},
		{"wrong types", `{"routing_key":32,"event_action":"trigger","dedup_key":7,"payload":{"summary":["s"],"source":"x","severity":"info","component":{},"timestamp":1700000000}}`, []string{
			"'routing_key' must be a string, got number",
			"'dedup_key' must be a string, got number",
			"'payload.summary' must be a string, got array",
			"'payload.timestamp' must be a string, got number",
			"'payload.component' must be a string, got object",
		}},
		{"bad timestamp", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","timestamp":"04/03/2025"}}`, []string{
			`'payload.timestamp' is invalid (must be an ISO 8601 timestamp such as "2024-05-01T12:00:00Z")`,
		}},
		{"acknowledge without dedup_key", `{"routing_key":"k","event_action":"acknowledge"}`, []string{
			"'dedup_key' is missing or blank (required to acknowledge)",
		}},
		{"resolve with blank dedup_key", `{"routing_key":"k","event_action":"resolve","dedup_key":""}`, []string{
			"'dedup_key' is missing or blank (required to resolve)",
		}},
		{"resolve with numeric dedup_key", `{"routing_key":"k","event_action":"resolve","dedup_key":12}`, []string{
			"'dedup_key' must be a string, got number",
		}},
		{"dedup_key too long", `{"routing_key":"k","event_action":"resolve","dedup_key":"` + strings.Repeat("k", 256) + `"}`, []string{
			"'dedup_key' is too long (maximum is 255 characters, got 256)",
		}},
		{"bad links and images", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"},` +
			`"links":[{"href":"https://a"},{"text":"no href"},"x"],"images":[{"src":1},null],"client":false}`, []string{
			"'links[1].href' is missing or blank",
			"'links[2]' must be an object, got string",
			"'images[0].src' must be a string, got number",
			"'images[1]' must be an object, got null",
			"'client' must be a string, got boolean",
		}},
		{"links object", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"},"links":{}}`, []string{
			"'links' must be an array, got object",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := pagerduty.Decode([]byte(tt.body), now)
			if req != nil {
				t.Errorf("request returned with the error: %+v", req)
			}
			var ie *pagerduty.InvalidEventError
			if !errors.As(err, &ie) {
				t.Fatalf("got %T %v, want *InvalidEventError", err, err)
			}
			if got := ie.Messages(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages\n got  %q\n want %q", got, tt.want)
			}
			var fe *ingest.FieldError
			if !errors.As(err, &fe) || fe != ie.Fields[0] {
				t.Errorf("errors.As did not find the first field error")
			}
		})
	}
}

func TestInvalidEventErrorFields(t *testing.T) {
	t.Parallel()
	_, err := pagerduty.Decode([]byte(`{"routing_key":"k","event_action":"trigger","payload":{"source":"x","severity":"info"}}`), now)
	var ie *pagerduty.InvalidEventError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v", err)
	}
	want := []*ingest.FieldError{{Field: "payload.summary", Reason: "is missing or blank"}}
	if !reflect.DeepEqual(ie.Fields, want) {
		t.Errorf("fields %+v", ie.Fields)
	}
	if got := err.Error(); got != "invalid event: 'payload.summary' is missing or blank" {
		t.Errorf("Error() = %q", got)
	}
}

func TestDecodeHostileStrings(t *testing.T) {
	t.Parallel()
	for _, s := range eventtest.Hostile(strings.Repeat("z", 1<<20)) {
		t.Run(eventtest.Name(s), func(t *testing.T) {
			t.Parallel()
			body := eventtest.JSON(map[string]any{
				"routing_key":  s,
				"event_action": "trigger",
				"payload": map[string]any{
					"summary": s, "source": s, "severity": "critical", "class": s,
					"custom_details": map[string]string{s: s},
				},
			})
			req, err := pagerduty.Decode(body, now)
			if err != nil {
				t.Fatal(err)
			}
			e := req.Events[0]
			if req.RoutingKey != s || e.Labels["source"] != s || e.Labels["alertname"] != s {
				t.Error("hostile string not kept verbatim")
			}
			if utf8.RuneCountInString(s) <= pagerduty.MaxSummaryLen && e.Summary != s {
				t.Errorf("summary %q", e.Summary)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"trigger.json", "acknowledge.json", "resolve.json"} {
		if body, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := pagerduty.Decode(body, now)
		if err != nil {
			var ie *pagerduty.InvalidEventError
			if !errors.As(err, &ie) || len(ie.Fields) == 0 {
				t.Fatalf("error %T %q is not an *InvalidEventError", err, err)
			}
			for _, fe := range ie.Fields {
				if fe.Field == "" || fe.Reason == "" {
					t.Fatalf("incomplete field error %#v", fe)
				}
			}
			if req != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		if req.RoutingKey == "" || req.DedupKey == "" || len(req.Events) != 1 || req.Events[0].Key != req.DedupKey {
			t.Fatalf("incomplete request %+v", req)
		}
		eventtest.Valid(t, 0, req.Events[0], incident.SourcePagerDuty)
	})
}

func TestRoutingKey(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 300<<10)
	tests := []struct {
		name, body, want string
		errs             []string
	}{
		{"first", `{"routing_key":"k1","event_action":"trigger"}`, "k1", nil},
		{"last of a large body", `{"payload":{"summary":"` + big + `","routing_key":"inner"},"links":[{"routing_key":"no"}],"routing_key" : "k2"}`, "k2", nil},
		{"escaped name and value", "\xef\xbb\xbf {\"routing\\u005fkey\":\"k\\u0033\"}", "k3", nil},
		{"duplicates: the last wins", `{"routing_key":"a","routing_key":"b"}`, "b", nil},
		{"escaped quotes before", `{"x":"\"routing_key\":\"no\"","y":[1,true,null,{"z":"}"}],"routing_key":"k4"}`, "k4", nil},
		{"missing", `{"event_action":"trigger","payload":{"routing_key":"inner"}}`, "", []string{"'routing_key' is missing or blank"}},
		{"blank", `{"routing_key":"  "}`, "", []string{"'routing_key' is missing or blank"}},
		{"null", `{"routing_key":null}`, "", []string{"'routing_key' is missing or blank"}},
		{"number", `{"routing_key":32}`, "", []string{"'routing_key' must be a string, got number"}},
		{"not JSON", `{"routing_key":`, "", []string{"body: invalid JSON at offset 15: unexpected end of JSON input"}},
		{"invalid after the key", `{"routing_key":"k",}`, "", []string{"body: invalid JSON at offset 19: invalid character '}' looking for beginning of object key string"}},
		{"array", `[{"routing_key":"k"}]`, "", []string{"body: must be a JSON object, got array"}},
		{"empty", " \n", "", []string{"body: is empty; expected a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pagerduty.RoutingKey([]byte(tt.body))
			if got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
			var ie *pagerduty.InvalidEventError
			switch {
			case tt.errs == nil && err != nil:
				t.Errorf("error %v", err)
			case tt.errs != nil && !errors.As(err, &ie):
				t.Errorf("got %T %v, want *InvalidEventError", err, err)
			case tt.errs != nil && !reflect.DeepEqual(ie.Messages(), tt.errs):
				t.Errorf("messages\n got  %q\n want %q", ie.Messages(), tt.errs)
			}
		})
	}
}

// The handler checks RoutingKey before Decode: both must read the same key
// and report the same errors for the body and routing_key.
func FuzzRoutingKey(f *testing.F) {
	for _, name := range []string{"trigger.json", "acknowledge.json", "resolve.json"} {
		if body, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(body)
		}
	}
	for _, s := range []string{`{"routing_key":"a","routing_key":"b"}`, `{"routing\u005fkey":"k"}`, "\xef\xbb\xbf\xef\xbb\xbf{}",
		`{"a":[{"b":"]}\""}],"routing_key":1}`, `{"routing_key":"k"} x`, `null`, `{"routing_key":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, kerr := pagerduty.RoutingKey(body)
		req, derr := pagerduty.Decode(body, now)
		if derr == nil {
			if kerr != nil || key != req.RoutingKey {
				t.Fatalf("Decode read key %q; RoutingKey %q, %v", req.RoutingKey, key, kerr)
			}
			return
		}
		var die *pagerduty.InvalidEventError
		errors.As(derr, &die)
		dm := die.Messages()
		if kerr == nil {
			if strings.HasPrefix(dm[0], "body") || strings.HasPrefix(dm[0], "'routing_key'") {
				t.Fatalf("RoutingKey read %q where Decode says %q", key, dm)
			}
			return
		}
		var kie *pagerduty.InvalidEventError
		if !errors.As(kerr, &kie) {
			t.Fatalf("RoutingKey error %T %v", kerr, kerr)
		}
		km := kie.Messages()
		if len(km) > len(dm) || !reflect.DeepEqual(km, dm[:len(km)]) {
			t.Fatalf("RoutingKey says %q, Decode %q", km, dm)
		}
	})
}
