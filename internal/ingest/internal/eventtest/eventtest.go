// Package eventtest holds assertions the intake decoders' tests share.
package eventtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// Equal fails t unless got and want hold the same events, field by field.
func Equal(t testing.TB, got, want []incident.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n%s", len(got), len(want), dump(got))
	}
	for i := range want {
		for _, d := range Diff(got[i], want[i]) {
			t.Errorf("event %d: %s", i, d)
		}
	}
}

// Diff lists the fields in which got differs from want.
func Diff(got, want incident.Event) []string {
	var out []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if name == "Details" {
			if !bytes.Equal(got.Details, want.Details) {
				out = append(out, fmt.Sprintf("Details:\n got  %s\n want %s", got.Details, want.Details))
			}
			continue
		}
		if name == "StartsAt" || name == "EndsAt" {
			// Equal, and the same location: decoders return UTC.
			gt, wt := gv.Field(i).Interface(), wv.Field(i).Interface()
			if !reflect.DeepEqual(gt, wt) {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", name, gt, wt))
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s:\n got  %#v\n want %#v", name, g, w))
		}
	}
	return out
}

func dump(events []incident.Event) string {
	var b strings.Builder
	for i, e := range events {
		fmt.Fprintf(&b, "%d: %+v details=%s\n", i, e, e.Details)
	}
	return b.String()
}

// FieldError fails t unless err is, or wraps, exactly want.
func FieldError(t testing.TB, err error, want wire.FieldError) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want.Error())
	}
	var fe *wire.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %T %q, want a *FieldError", err, err)
	}
	if *fe != want {
		t.Fatalf("got error\n  Field %q Reason %q\nwant\n  Field %q Reason %q", fe.Field, fe.Reason, want.Field, want.Reason)
	}
}

// Hostile lists strings that must pass through a decoder as plain data:
// SQL, shell, template and markup injections, control characters, and huge.
func Hostile(huge string) []string {
	return []string{
		"'; DROP TABLE jobs; --",
		"$(touch /tmp/pwned)",
		"`touch /tmp/pwned`; rm -rf / #",
		"line one\nline two\r\n\ttabbed",
		"{{ .Labels.secret }} ${HOME} %s %n",
		"<script>alert(1)</script>",
		"bell\a, escape \x1b[31m and \u2028 separator",
		"Robert\"); DROP TABLE users;--",
		"ðŸ”´ double-encoded 🔴",
		huge,
	}
}

// Name is a short subtest name for a possibly huge string.
func Name(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%.24s…(%d bytes)", s, len(s))
	}
	return s
}

// JSON marshals v for a request body, failing loudly on a test bug.
func JSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Valid fails t unless event i holds what the engine relies on of every
// decoded event. A PagerDuty acknowledge or resolve carries no severity, so
// severity is checked only when set or when the event is firing.
func Valid(t testing.TB, i int, e incident.Event, src incident.Source) {
	t.Helper()
	if e.Source != src {
		t.Errorf("event %d: source %q, want %q", i, e.Source, src)
	}
	switch e.Status {
	case incident.AlertFiring, incident.AlertResolved, incident.AlertAcknowledged:
	default:
		t.Errorf("event %d: status %q", i, e.Status)
	}
	if (e.Severity != "" || e.Status == incident.AlertFiring) && !e.Severity.Valid() {
		t.Errorf("event %d: severity %q", i, e.Severity)
	}
	if e.Labels == nil {
		t.Errorf("event %d: nil labels", i)
	}
	for k := range e.Labels {
		if k == "" {
			t.Errorf("event %d: empty label name", i)
		}
	}
	strs := []any{e.Key, e.Summary, e.GeneratorURL}
	for k, v := range e.Labels {
		strs = append(strs, k, v)
	}
	for k, v := range e.Annotations {
		strs = append(strs, k, v)
	}
	for _, l := range e.Links {
		strs = append(strs, l.Href, l.Text)
	}
	if hasNUL(strs) {
		t.Errorf("event %d holds a NUL, which PostgreSQL cannot store", i)
	}
	if e.StartsAt.IsZero() || e.StartsAt.Location() != time.UTC {
		t.Errorf("event %d: StartsAt %v", i, e.StartsAt)
	}
	if !e.EndsAt.IsZero() && e.EndsAt.Location() != time.UTC {
		t.Errorf("event %d: EndsAt %v not UTC", i, e.EndsAt)
	}
	if e.Status == incident.AlertResolved && e.EndsAt.IsZero() {
		t.Errorf("event %d: resolved without EndsAt", i)
	}
	if e.Details != nil {
		var v any
		if err := json.Unmarshal(e.Details, &v); err != nil || hasNUL(v) {
			t.Errorf("event %d: details %q are invalid or hold a NUL", i, e.Details)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(e.Details, &m); err != nil {
			t.Errorf("event %d: details %q are not a JSON object: %v", i, e.Details, err)
		}
	}
	if e.GeneratorURL != "" && !wire.SafeURL(e.GeneratorURL) {
		t.Errorf("event %d: unsafe generator URL %q", i, e.GeneratorURL)
	}
	for _, l := range e.Links {
		if !wire.SafeURL(l.Href) {
			t.Errorf("event %d: unsafe link %q", i, l.Href)
		}
	}
}

func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, e := range v {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if hasNUL(k) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}
