package review

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
)

var at = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// Alert text is data: Markdown and HTML in it are escaped in the review,
// and the HTML page never carries a script or a javascript: link from it.
func TestHostileTextStaysText(t *testing.T) {
	hostile := "<script>alert(1)</script> [click](javascript:alert(2)) | *bold* `tick` \n# heading"
	secret := "api_key=s3cr3t"
	r := &Record{
		Incident: incident.Incident{ID: 7, Title: hostile, Severity: incident.SeverityCritical, StartedAt: at, Status: incident.StatusResolved,
			ResolvedAt: at.Add(time.Hour), Responder: "ana | bob"},
		Alerts:   []incident.Alert{{Name: hostile, Labels: map[string]string{"pod": "x`y|z"}, Count: 3, StartsAt: at, Status: incident.AlertResolved}},
		Timeline: []incident.TimelineEntry{{At: at, Actor: "ana", Kind: incident.KindNote, Message: hostile + " " + secret}},
		Steps: []run.Step{{ID: 1, Position: 1, Name: "Check", Kind: "step", Executor: "shell", Risk: "read", Status: run.StatusSucceeded,
			Language: "bash", Text: "echo ```", Result: &run.Result{Output: strings.Repeat("x", 5000) + secret}}},
		Communications: []incident.Communication{{ID: 1, Status: incident.CommSent, Subject: "Delays", Body: "Dear Customer,\n<b>we</b> are on it",
			Channel: "status-page", SentBy: "ana", SentAt: at.Add(10 * time.Minute)}},
		GeneratedAt: at.Add(2 * time.Hour),
		Redact:      func(s string) string { return strings.ReplaceAll(s, "s3cr3t", "[REDACTED]") },
	}
	md := Markdown(r)
	for _, bad := range []string{"<script>", " [click](", "\n# heading", "s3cr3t"} {
		if strings.Contains(md, bad) {
			t.Errorf("the review holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"\\<script\\>", "ana \\| bob", "`pod=x'y|z`", "more bytes in the step's full output",
		"Communication 1, **sent**: Delays, sent 2026-12-01 03:10:00 UTC through status-page, released by ana", "> \\<b\\>we\\</b\\> are on it",
		"````bash\necho ```\n````"} {
		if !strings.Contains(md, want) {
			t.Errorf("the review lacks %q", want)
		}
	}
	html, err := HTML(md, "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>alert", "href=\"javascript:", "<b>we</b>"} {
		if strings.Contains(html, bad) {
			t.Errorf("the HTML page holds %q", bad)
		}
	}
	// The page's own markup is there: the guard is escaping, not dropping.
	if !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "<table>") {
		t.Errorf("HTML lost the text or the tables:\n%.600s", html)
	}
}

// A step that was edited before it ran, and one that failed, become
// playbook action items.
func TestRunFindingsBecomeActionItems(t *testing.T) {
	r := &Record{
		Incident: incident.Incident{ID: 1, Title: "DB CPU", StartedAt: at, Responder: "ana"},
		Runs:     []run.Run{{ProcedureTitle: "High Database CPU"}},
		Steps: []run.Step{
			{ID: 5, Position: 2, Name: "Kill query", Kind: "step", Executor: "sql", Risk: "write", Status: run.StatusSucceeded},
			{ID: 6, Position: 3, Name: "Explain", Kind: "step", Executor: "sql", Risk: "read", Status: run.StatusFailed, Error: "syntax error at \"|\""},
		},
		Timeline:  []incident.TimelineEntry{{At: at, Actor: "ana", Kind: "step.edited", Message: "edited", Data: []byte(`{"step":5}`)}},
		Checklist: []string{"Document incident timeline", "Update playbooks and procedures"},
	}
	md := Markdown(r)
	for _, want := range []string{"| Playbook: step 2 (Kill query) was edited before it ran: bring the fix into the playbook | ana |",
		"step 3 (Explain) failed: syntax error at \"\\|\"", "- Edited by ana at 2026-12-01 03:00:00 UTC: edited"} {
		if !strings.Contains(md, want) {
			t.Errorf("the review lacks %q:\n%s", want, md)
		}
	}
}
