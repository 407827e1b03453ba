package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Phases, the review and the report from the command line, through the
// real server.
func TestPhasesReviewAndReportFromTheCLI(t *testing.T) {
	s := serve(t)
	s.run(t, false, "alert", "send", "--name", "HighQueueDepth", "--severity", "critical", "--label", "service=job-worker")
	out := s.run(t, false, "incidents", "phase", "1")
	if !regexp.MustCompile(`Detection & Assessment\s+0-5 minutes\s+current\s+\S+\s+[45]m\d*s? left`).MatchString(out) {
		t.Fatalf("phases of a new incident:\n%s", out)
	}
	s.run(t, false, "incidents", "ack", "1")
	out = s.run(t, false, "incidents", "phase", "1", "investigation")
	if !regexp.MustCompile(`Containment\s+5-15 minutes\s+done`).MatchString(out) || !regexp.MustCompile(`Investigation\s+15-60 minutes\s+current`).MatchString(out) {
		t.Fatalf("after moving to investigation:\n%s", out)
	}
	if msg := s.run(t, true, "incidents", "phase", "1", "lunch"); !strings.Contains(msg, `phase: "lunch" is not a phase`) {
		t.Fatalf("an unknown phase: %q", msg)
	}
	if out := s.run(t, false, "incidents", "show", "1"); !strings.Contains(out, "Phases:") || !strings.Contains(out, "Participants: admin (acknowledged, moved the phase)") {
		t.Fatalf("incidents show lacks the phases:\n%s", out)
	}
	s.run(t, false, "incidents", "resolve", "1")
	var md string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var j struct {
			Review struct {
				Status string `json:"status"`
			} `json:"review"`
		}
		json.Unmarshal([]byte(s.run(t, false, "review", "show", "1", "--json")), &j)
		if j.Review.Status == "draft" {
			md = s.run(t, false, "review", "show", "1")
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"# Post-incident review: HighQueueDepth (incident 1)", "| Investigation | 15-60 minutes |", "## Review checklist",
		"- [x] Document incident timeline", "## Action items"} {
		if !strings.Contains(md, want) {
			t.Fatalf("the review draft lacks %q:\n%s", want, md)
		}
	}
	if html := s.run(t, false, "review", "show", "1", "--format", "html"); !strings.Contains(html, "<table>") || !strings.Contains(html, "<h1>Post-incident review") {
		t.Fatalf("HTML review:\n%.400s", html)
	}
	f := filepath.Join(t.TempDir(), "review.md")
	os.WriteFile(f, []byte(strings.Replace(md, "_To be written by the responders: what broke, and why._", "A deploy halved the worker pool.", 1)), 0o600)
	if out := s.run(t, false, "review", "save", "1", "--file", f, "--final"); !strings.Contains(out, "(final)") {
		t.Fatalf("review save: %q", out)
	}
	if out := s.run(t, false, "review", "show", "1"); !strings.Contains(out, "halved the worker pool") {
		t.Fatal("the saved version is not the one shown")
	}
	out = s.run(t, false, "report", "--since", "1d")
	if !regexp.MustCompile(`(?m)^job-worker\s+1\s+1\s+1\s`).MatchString(out) || !strings.Contains(out, "MTTA") {
		t.Fatalf("report:\n%s", out)
	}
	var rep struct {
		Overall struct {
			Incidents int      `json:"incidents"`
			MTTA      *float64 `json:"mtta_seconds"`
		} `json:"overall"`
	}
	if err := json.Unmarshal([]byte(s.run(t, false, "report", "--since", "1d", "--json")), &rep); err != nil || rep.Overall.Incidents != 1 || rep.Overall.MTTA == nil {
		t.Fatalf("report --json: %+v %v", rep, err)
	}
	if msg := s.run(t, true, "report", "--since", "forever"); !strings.Contains(msg, "--since") {
		t.Fatalf("a bad --since: %q", msg)
	}
}
