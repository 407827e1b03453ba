package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

var (
	testNow    = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	testSecret = []byte("s3cret-webhook-key")
)

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
		Text:           "Queue depth 12000 > 10000\n<b>not html</b>",
		IdempotencyKey: "inc-42-opened-l1",
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

// setup starts a receiver that answers with status (and headers) and a
// notifier pointed at it.
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
		io.WriteString(w, "answer")
	}))
	t.Cleanup(b.srv.Close)
	n, err := New(Config{URL: b.srv.URL + "/hook", Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	b.n = n
	return b
}

func TestNotifyWirePayload(t *testing.T) {
	t.Parallel()
	b := setup(t, http.StatusOK, nil)
	if _, err := b.n.Notify(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if len(b.reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(b.reqs))
	}
	r := b.reqs[0]
	want := `{"event":"opened","incident":{"id":42,"title":"HighQueueDepth","severity":"critical","status":"open","service":"telegram-platform","url":"https://firebreak.example/incidents/42","started_at":"2026-03-14T09:20:00Z"},"level":1,"title":"HighQueueDepth on telegram-platform","text":"Queue depth 12000 \u003e 10000\n\u003cb\u003enot html\u003c/b\u003e","idempotency_key":"inc-42-opened-l1","sent_at":"2026-03-14T09:26:53Z"}`
	if string(r.body) != want {
		t.Errorf("body\n got %s\nwant %s", r.body, want)
	}
	for k, v := range map[string]string{
		"Content-Type":    "application/json",
		"Idempotency-Key": "inc-42-opened-l1",
		"User-Agent":      UserAgent,
		SignatureHeader:   Sign(testSecret, []byte(want)),
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if !Verify(testSecret, r.body, r.header.Get(SignatureHeader)) {
		t.Error("signature does not verify")
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"opened"}`)
	sig := Sign(testSecret, body)
	// Known answer, computed independently: printf '%s' '{"event":"opened"}' | openssl dgst -sha256 -hmac s3cret-webhook-key
	if want := "sha256=18a9b22dde5bc42b3e28a3818f939be60fdbba1393ef7464873f9fde7462f570"; sig != want {
		t.Fatalf("Sign = %q, want %q", sig, want)
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", testSecret, body, sig, true},
		{"valid with spaces", testSecret, body, " " + sig + " ", true},
		{"body changed", testSecret, []byte(`{"event":"resolved"}`), sig, false},
		{"wrong secret", []byte("other"), body, sig, false},
		{"empty secret", nil, body, Sign(nil, body), false},
		{"no prefix", testSecret, body, strings.TrimPrefix(sig, "sha256="), false},
		{"sha1 prefix", testSecret, body, "sha1=" + strings.TrimPrefix(sig, "sha256="), false},
		{"not hex", testSecret, body, "sha256=zz", false},
		{"truncated", testSecret, body, sig[:len(sig)-2], false},
		{"empty", testSecret, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
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
		{"503 with Retry-After", http.StatusServiceUnavailable, map[string]string{"Retry-After": "7"}, true, 7 * time.Second},
		{"429 waits Retry-After", http.StatusTooManyRequests, map[string]string{"Retry-After": "2"}, true, 2 * time.Second},
		{"400 is permanent", http.StatusBadRequest, nil, false, 0},
		{"404 is permanent", http.StatusNotFound, nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.status, tt.header)
			_, err := b.n.Notify(context.Background(), testMessage())
			var ne *notify.Error
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want a *notify.Error", err)
			}
			if ne.Status != tt.status {
				t.Errorf("Status = %d, want %d", ne.Status, tt.status)
			}
			retry, after := notify.Retryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v", retry, after, tt.wantRetry, tt.wantAfter)
			}
		})
	}
}

func TestNotifyTruncatesLongText(t *testing.T) {
	t.Parallel()
	b := setup(t, http.StatusOK, nil)
	m := testMessage()
	m.Text = strings.Repeat("é", 512<<10) // 1 MiB of two-byte runes
	if _, err := b.n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var p Payload
	if err := json.Unmarshal(b.reqs[0].body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Text) > notify.MaxText || !strings.Contains(p.Text, "bytes cut]") {
		t.Errorf("text is %d bytes, ends %q; want at most %d with a cut marker", len(p.Text), p.Text[len(p.Text)-30:], notify.MaxText)
	}
	if len(b.reqs[0].body) > 2*notify.MaxText+1024 {
		t.Errorf("body is %d bytes", len(b.reqs[0].body))
	}
}

func TestNotifyUnreachableKeepsURLOutOfError(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "tok-0123456789abcdef"
	n, err := New(Config{URL: "http://" + addr + "/hook?token=" + token, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), testMessage())
	if err == nil {
		t.Fatal("want an error")
	}
	if retry, _ := notify.Retryable(err); !retry {
		t.Errorf("connection refused should be retried: %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), string(testSecret)) {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x/y", "/relative", "http://"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestNotifyUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, http.StatusOK, nil)
	n, _ := New(Config{URL: b.srv.URL})
	if _, err := n.Notify(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if h := b.reqs[0].header.Get(SignatureHeader); h != "" {
		t.Errorf("signature header %q without a secret", h)
	}
}
