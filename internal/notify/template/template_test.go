package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// referenceTemplates parses the example playbook and returns its templates
// by key.
func referenceTemplates(t *testing.T) map[string]*playbook.Template {
	t.Helper()
	path := filepath.Join("..", "..", "..", "examples", "telegram-platform", "playbook.md")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := playbook.Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*playbook.Template{}
	for _, tp := range pb.Templates {
		ts[tp.Key] = tp
	}
	for _, k := range []string{"internal-alert-notification", "customer-communication-if-applicable"} {
		if ts[k] == nil {
			t.Fatalf("reference playbook has no template %q", k)
		}
	}
	return ts
}

// alertLine is the first line of the Internal Alert Notification up to its
// placeholder, as written in the playbook (whatever its emoji bytes are).
func alertPrefix(t *testing.T, tp *playbook.Template) string {
	t.Helper()
	first, _, _ := strings.Cut(tp.Body, "\n")
	p, ok := strings.CutSuffix(first, "[Alert Name]")
	if !ok {
		t.Fatalf("first line %q does not end in [Alert Name]", first)
	}
	return p
}

func TestRenderInternalAlertNotification(t *testing.T) {
	t.Parallel()
	tp := referenceTemplates(t)["internal-alert-notification"]
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	started := time.Date(2026, 3, 14, 9, 20, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    Values
		want string
	}{
		{
			name: "every field",
			v: Values{
				AlertName: "HighQueueDepth", Severity: "critical", Service: "telegram-bot-queue",
				StartedAt: started, Location: berlin, Responder: "alice", ETA: "30 minutes",
				Impact: "Message delivery delayed for all bots",
			},
			want: "HighQueueDepth\n" +
				"- Severity: CRITICAL\n" +
				"- Service: telegram-bot-queue\n" +
				"- Impact: Message delivery delayed for all bots\n" +
				"- Started: 2026-03-14 10:20 CET\n" +
				"- Investigating: alice\n" +
				"- ETA: 30 minutes",
		},
		{
			name: "just opened",
			v:    Values{AlertName: "HighQueueDepth", Severity: "warning", StartedAt: started},
			want: "HighQueueDepth\n" +
				"- Severity: WARNING\n" +
				"- Service: Telegram Platform\n" +
				"- Impact: not yet known\n" +
				"- Started: 2026-03-14 09:20 UTC\n" +
				"- Investigating: not yet known\n" +
				"- ETA: not yet known",
		},
		{
			name: "nothing known",
			v:    Values{},
			want: "not yet known\n" +
				"- Severity: not yet known\n" +
				"- Service: Telegram Platform\n" +
				"- Impact: not yet known\n" +
				"- Started: not yet known\n" +
				"- Investigating: not yet known\n" +
				"- ETA: not yet known",
		},
		{
			name: "other spellings and extras",
			v: Values{
				AlertName: "HighQueueDepth", Severity: "page", Description: "queue backs up",
				Extra: map[string]string{"Team member": "bob\n(secondary)", "eta": "1h"},
			},
			want: "HighQueueDepth\n" +
				"- Severity: CRITICAL\n" +
				"- Service: Telegram Platform\n" +
				"- Impact: queue backs up\n" +
				"- Started: not yet known\n" +
				"- Investigating: bob (secondary)\n" +
				"- ETA: 1h",
		},
		{
			name: "value that looks like a placeholder stays",
			v:    Values{AlertName: "[Severity] <no value>", Severity: "info"},
			want: "[Severity] <no value>\n" +
				"- Severity: INFO\n" +
				"- Service: Telegram Platform\n" +
				"- Impact: not yet known\n" +
				"- Started: not yet known\n" +
				"- Investigating: not yet known\n" +
				"- ETA: not yet known",
		},
	}
	prefix := alertPrefix(t, tp)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tp, tt.v)
			if got != prefix+tt.want {
				t.Errorf("Render =\n%s\nwant\n%s", got, prefix+tt.want)
			}
			assertFilled(t, tp, got)
		})
	}
}

func TestRenderCustomerCommunication(t *testing.T) {
	t.Parallel()
	tp := referenceTemplates(t)["customer-communication-if-applicable"]
	tests := []struct {
		name string
		v    Values
		want string
	}{
		{
			name: "filled",
			v: Values{
				Service: "telegram-platform", Description: "delays in message delivery", ETA: "12:00 UTC",
				Extra: map[string]string{"fix/mitigation": "Mitigation"},
			},
			want: "We are currently experiencing delays in message delivery and have implemented mitigation.\n" +
				"Service should be restored by 12:00 UTC.",
		},
		{
			name: "unknown",
			v:    Values{Summary: "slow replies"},
			want: "We are currently experiencing slow replies and have implemented not yet known.\n" +
				"Service should be restored by not yet known.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tp, tt.v)
			if !strings.Contains(got, tt.want) {
				t.Errorf("Render =\n%s\nwant it to contain\n%s", got, tt.want)
			}
			// The subject line is fixed text with no incident value for it.
			if !strings.HasPrefix(got, "Subject: Scheduled Maintenance/Update - Telegram Platform\n") {
				t.Errorf("subject line changed:\n%s", got)
			}
			assertFilled(t, tp, got)
		})
	}
}

// assertFilled checks no placeholder or template artefact is left.
func assertFilled(t *testing.T, tp *playbook.Template, got string) {
	t.Helper()
	for _, f := range tp.Fields {
		if f.Placeholder != "" && strings.Contains(got, f.Placeholder) {
			t.Errorf("placeholder %s left in\n%s", f.Placeholder, got)
		}
	}
	if strings.Contains(got, "{{") {
		t.Errorf("template syntax left in\n%s", got)
	}
}

func TestRenderNil(t *testing.T) {
	t.Parallel()
	if got := Render(nil, Values{}); got != "" {
		t.Errorf("Render(nil) = %q", got)
	}
}

func TestChoose(t *testing.T) {
	t.Parallel()
	sev := playbook.Field{Kind: playbook.FieldChoice, Choices: []string{"CRITICAL", "WARNING"}}
	fix := playbook.Field{Kind: playbook.FieldChoice, Choices: []string{"fix", "mitigation"}}
	tests := []struct {
		f        playbook.Field
		val, out string
	}{
		{sev, "critical", "CRITICAL"},
		{sev, "Warning", "WARNING"},
		{sev, "p1", "CRITICAL"},
		{sev, "warn", "WARNING"},
		{sev, "info", "INFO"},
		{sev, "", ""},
		{fix, "FIX", "fix"},
		{fix, "workaround", "workaround"},
	}
	for _, tt := range tests {
		if got := choose(tt.f, tt.val); got != tt.out {
			t.Errorf("choose(%v, %q) = %q, want %q", tt.f.Choices, tt.val, got, tt.out)
		}
	}
}
