package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// hostile holds every kind of character a terminal may obey: an OSC 52
// clipboard write ended by BEL, CSI by ESC [ and by C1, DEL, a carriage
// return, a right-to-left override, a byte that is not UTF-8, and a
// newline and tab.
const hostile = "\x1b]52;c;SGVsbG8=\x07evil\x1b[2J\u009b31m\x7f\r\u202eabc\x9b\nnext\tcol"

// rawControls lists the characters of out a terminal would obey; newline
// is allowed, and tab where allowTab is set.
func rawControls(out string, allowTab bool) []string {
	var bad []string
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		if (r == '\n' || r == '\t' && allowTab) || !needsEscape(r, size, true) && r != '\t' {
			i += size
			continue
		}
		bad = append(bad, out[i:i+size])
		i += size
	}
	return bad
}

func TestEscape(t *testing.T) {
	for _, tt := range []struct {
		in, cell, text string
	}{
		{"plain ünïcode ✓", "plain ünïcode ✓", "plain ünïcode ✓"},
		{"\x1b]52;c;SGVsbG8=\x07evil", `\x1b]52;c;SGVsbG8=\x07evil`, `\x1b]52;c;SGVsbG8=\x07evil`},
		{"a\nb\tc\r", `a\x0ab\x09c\x0d`, "a\nb\tc\\x0d"},
		{"\x00\x7f\u0085\u009b\u202e\u2066x", `\x00\x7f\u0085\u009b\u202e\u2066x`, `\x00\x7f\u0085\u009b\u202e\u2066x`},
		{"bad \x9b\xff byte", `bad \x9b\xff byte`, `bad \x9b\xff byte`},
		{`a literal \x1b stays`, `a literal \x1b stays`, `a literal \x1b stays`},
	} {
		if got := cell(tt.in); got != tt.cell {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.cell)
		}
		if got := escape(tt.in, true); got != tt.text {
			t.Errorf("escape(%q, multiline) = %q, want %q", tt.in, got, tt.text)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { cell("nothing to escape here") }); allocs != 0 {
		t.Errorf("cell allocated %.0f times for plain text", allocs)
	}
}

func TestTermWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := &termWriter{w: &buf}
	// Writes that split a line, and a C1 control's two bytes.
	for _, p := range []string{"a\x1b", "b\n\xc2", "\x9b", "c\nlast"} {
		w.Write([]byte(p))
	}
	if got := buf.String(); got != "a\\x1bb\n\\u009bc\n" {
		t.Errorf("before Flush: %q", got)
	}
	w.Flush()
	if got := buf.String(); got != "a\\x1bb\n\\u009bc\nlast" {
		t.Errorf("after Flush: %q", got)
	}
}

func TestJSONOutputEscapesWhatATerminalObeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := map[string]string{"name": hostile, "literal": `\x7f \u009b`}
	if err := writeJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	if bad := rawControls(buf.String(), false); len(bad) > 0 {
		t.Errorf("JSON output has raw %q:\n%s", bad, buf.String())
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	// The invalid byte became U+FFFD in encoding/json, as it always does.
	if want := strings.ToValidUTF8(hostile, "\uFFFD"); back["name"] != want || back["literal"] != v["literal"] {
		t.Errorf("JSON round trip changed the text: %q", back)
	}
}

// Every field a printer shows goes through escape.
func TestPrintersEscapeEveryField(t *testing.T) {
	t.Parallel()
	h := hostile
	now := time.Now()
	inc := &incident.Incident{ID: 1, Title: h, Severity: incident.Severity(h), Service: h, Status: incident.Status(h),
		Responder: h, Impact: h, ETA: h, StartedAt: now, AcknowledgedAt: now, ResolvedAt: now}
	alerts := []incident.Alert{{Name: h, Summary: h, Status: incident.AlertStatus(h), Severity: incident.Severity(h)}}
	tl := []incident.TimelineEntry{{At: now, Actor: h, Message: h}}
	var out bytes.Buffer
	printIncident(&Env{Stdout: &out}, inc, alerts, tl)

	step := &stepOut{Step: run.Step{ID: 1, Name: h, TaskKey: h, Section: h, Status: run.Status(h), Reason: h, Error: h,
		Text: h, Approvals: []run.Approval{{Actor: h, At: now}},
		Params: []run.Param{{Name: h, Choices: []string{h}}},
		Result: &run.Result{Columns: []string{h}, Rows: [][]any{{h, 1}}, Output: h, Undo: h, Duration: h}}}
	step.Preview = &automation.Preview{Target: h, Namespace: h, Rendered: &playbook.Rendered{SQL: h, Args: []any{h}, ArgNames: []string{h}, Missing: []string{h}}}
	printStep(&Env{Stdout: &out}, step)
	step.Preview.Rendered = &playbook.Rendered{Script: h, Env: map[string]string{h: h}}
	step.Result = &run.Result{Before: h, After: h}
	printStep(&Env{Stdout: &out}, step)
	// Multi-line text keeps its tabs; a table cell or a detail row does not
	// have any left to break its columns.
	if bad := rawControls(out.String(), true); len(bad) > 0 {
		t.Errorf("printers wrote raw %q:\n%s", bad, out.String())
	}
	for _, want := range []string{`\x1b]52;c;SGVsbG8=\x07evil`, `\u009b31m`, `\u202e`, `\x9b`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s", want)
		}
	}
}
