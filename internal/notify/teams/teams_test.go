package teams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func testMessage() notify.Message {
	return notify.Message{
		Event: notify.EventOpened,
		Incident: notify.Incident{
			ID: 42, Title: "HighQueueDepth", Severity: "critical", Status: "open",
			Service: "telegram-platform", URL: "https://firebreak.example/incidents/42",
			StartedAt: time.Date(2026, 3, 14, 9, 20, 0, 0, time.UTC),
		},
		Level:          1,
		Title:          "HighQueueDepth on telegram-platform",
		Text:           "ALERT: **boom** [click](https://evil.example)\n- Severity: CRITICAL",
		IdempotencyKey: "inc-42-opened-l1",
		AckURL:         "https://firebreak.example/ack?sig=abc",
	}
}

type received struct {
	header http.Header
	body   []byte
}

type bundle struct {
	srv  *httptest.Server
	n    *Notifier
	mu   sync.Mutex
	reqs []received
}

func setup(t *testing.T, status int, header map[string]string) *bundle {
	t.Helper()
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, received{header: r.Header.Clone(), body: body})
		b.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"code":"x","message":"answer"}}`)
	}))
	t.Cleanup(b.srv.Close)
	n, err := New(Config{URL: b.srv.URL + "/workflows/abc/triggers/manual/paths/invoke?sig=SECRETSIG", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	b.n = n
	return b
}

func TestNotifyWirePayload(t *testing.T) {
	t.Parallel()
	b := setup(t, http.StatusAccepted, nil)
	if _, err := b.n.Notify(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if len(b.reqs) != 1 {
		t.Fatalf("got %d requests", len(b.reqs))
	}
	r := b.reqs[0]
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	want := `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{` +
		`"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[` +
		`{"type":"TextBlock","text":"\\[CRITICAL\\] HighQueueDepth on telegram-platform","size":"Medium","weight":"Bolder","color":"Attention","wrap":true},` +
		`{"type":"FactSet","facts":[{"title":"Incident","value":"#42"},{"title":"Event","value":"opened"},{"title":"Severity","value":"critical"},{"title":"Status","value":"open"},{"title":"Service","value":"telegram-platform"},{"title":"Escalation level","value":"1"},{"title":"Started","value":"2026-03-14 09:20 UTC"}]},` +
		`{"type":"TextBlock","text":"ALERT: \\*\\*boom\\*\\* \\[click\\]\\(https://evil.example\\)","wrap":true,"spacing":"Medium"},` +
		`{"type":"TextBlock","text":"\\- Severity: CRITICAL","wrap":true,"spacing":"None"}],` +
		`"actions":[{"type":"Action.OpenUrl","title":"Open incident","url":"https://firebreak.example/incidents/42"},{"type":"Action.OpenUrl","title":"Acknowledge","url":"https://firebreak.example/ack?sig=abc"}],` +
		`"msteams":{"width":"Full"}}}]}`
	if string(r.body) != want {
		t.Errorf("body\n got %s\nwant %s", r.body, want)
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text 42", "plain text 42"},
		{"**bold** _it_", `\*\*bold\*\* \_it\_`},
		{"[x](http://e)", `\[x\]\(http://e\)`},
		{"# heading\nissue #42", "\\# heading\nissue #42"},
		{"- item\n  + sub", "\\- item\n  \\+ sub"},
		{"a - b", "a - b"},
		{"1. first\n10. tenth", "1\\. first\n10\\. tenth"},
		{"v1.2.3", "v1.2.3"},
		{"`code` ~~s~~", "\\`code\\` \\~\\~s\\~\\~"},
		{"<at>x</at> a|b", `\<at\>x\</at\> a\|b`},
		{`back\slash`, `back\\slash`},
		{"{{DATE(2026-01-01T00:00:00Z)}}", "{\u200b{DATE\\(2026-01-01T00:00:00Z\\)}}"},
		{"crlf\r\nline", "crlf\nline"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNotifyFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		wantRetry bool
		wantAfter time.Duration
	}{
		{"500 retries", http.StatusInternalServerError, nil, true, 0},
		{"502 retries", http.StatusBadGateway, nil, true, 0},
		{"429 waits Retry-After", http.StatusTooManyRequests, map[string]string{"Retry-After": "2"}, true, 2 * time.Second},
		{"429 with a date", http.StatusTooManyRequests, map[string]string{"Retry-After": testNow.Add(30 * time.Second).Format(http.TimeFormat)}, true, 30 * time.Second},
		{"400 is permanent", http.StatusBadRequest, nil, false, 0},
		{"403 is permanent", http.StatusForbidden, nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.status, tt.header)
			_, err := b.n.Notify(context.Background(), testMessage())
			var ne *notify.Error
			if !errors.As(err, &ne) || ne.Status != tt.status {
				t.Fatalf("err = %v, want a *notify.Error with status %d", err, tt.status)
			}
			retry, after := notify.Retryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v", retry, after, tt.wantRetry, tt.wantAfter)
			}
			if strings.Contains(err.Error(), "SECRETSIG") {
				t.Errorf("error leaks the URL signature: %v", err)
			}
		})
	}
}

func TestNotifyTruncatesLongText(t *testing.T) {
	t.Parallel()
	b := setup(t, http.StatusOK, nil)
	m := testMessage()
	m.Text = strings.Repeat("x", 1<<20)
	m.Title = strings.Repeat("t", 5000)
	if _, err := b.n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	body := b.reqs[0].body
	if len(body) > 8<<10 {
		t.Errorf("body is %d bytes; want the 1 MiB text cut to about %d", len(body), notify.MaxText)
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	var text string
	for _, e := range env.Attachments[0].Content.Body {
		if e.Type == "TextBlock" {
			text += e.Text
		}
	}
	if !strings.Contains(text, "bytes cut") {
		t.Error("no truncation marker in the card")
	}
}

func TestNotifyUnreachableKeepsURLOutOfError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	n, err := New(Config{URL: u + "/invoke?sig=SECRETSIG"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), testMessage())
	if retry, _ := notify.Retryable(err); err == nil || !retry {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "SECRETSIG") {
		t.Errorf("error leaks the URL signature: %v", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "not a url", "mailto:x@y"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
