package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A callback_query update shaped like the ones Telegram sends.
const callbackJSON = `{
  "update_id": 10000,
  "callback_query": {
    "id": "4382bfdwdsb323b2d9",
    "from": {"id": 1111111, "is_bot": false, "first_name": "Alice", "username": "alice_oncall", "language_code": "en"},
    "message": {
      "message_id": 77,
      "from": {"id": 5555555, "is_bot": true, "first_name": "Firebreak", "username": "firebreak_bot"},
      "chat": {"id": -1001234567890, "title": "Incidents", "type": "supergroup"},
      "date": 1700000000,
      "text": "[SEV1] DB down"
    },
    "chat_instance": "-2931893461829398",
    "data": "ack:42"
  }
}`

func TestParseUpdate(t *testing.T) {
	t.Parallel()
	u, err := ParseUpdate([]byte(callbackJSON))
	if err != nil {
		t.Fatal(err)
	}
	q := u.CallbackQuery
	if u.UpdateID != 10000 || q == nil || q.ID != "4382bfdwdsb323b2d9" || q.From.ID != 1111111 ||
		q.From.Username != "alice_oncall" || q.Message.Chat.ID != -1001234567890 || q.Message.MessageID != 77 {
		t.Errorf("update = %+v, query = %+v", u, q)
	}
	if u.Action != "ack" || u.IncidentID != 42 {
		t.Errorf("action = %q %d", u.Action, u.IncidentID)
	}
	r, err := ParseUpdate([]byte(strings.Replace(callbackJSON, "ack:42", "resolve:7", 1)))
	if err != nil || r.Action != "resolve" || r.IncidentID != 7 {
		t.Errorf("resolve: %+v %v", r, err)
	}
}

func TestParseUpdateNotOurs(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"ack:", "ack:x", "ack:-1", "pause:42", "ack42", ""} {
		u, err := ParseUpdate([]byte(strings.Replace(callbackJSON, "ack:42", data, 1)))
		if err != nil || u.Action != "" || u.IncidentID != 0 {
			t.Errorf("data %q: %+v %v", data, u, err)
		}
	}
	u, err := ParseUpdate([]byte(`{"update_id":5,"message":{"message_id":1,"chat":{"id":1},"text":"hi"}}`))
	if err != nil || u.Action != "" {
		t.Errorf("message update: %+v %v", u, err)
	}
	for _, bad := range []string{`{`, `{}`, `[]`} {
		if _, err := ParseUpdate([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzParseUpdate(f *testing.F) {
	f.Add([]byte(callbackJSON))
	f.Add([]byte(`{"update_id":1,"callback_query":{"id":"x","message":{"chat":{"id":1}},"data":"resolve:9"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := ParseUpdate(body)
		if err != nil {
			return
		}
		if u.Action != "" && (u.IncidentID <= 0 || u.CallbackQuery == nil || u.CallbackQuery.Message == nil) {
			t.Errorf("bad update accepted: %+v", u)
		}
	})
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		ok     bool
	}{
		{"missing", "", false},
		{"wrong", "s3cr3t", false},
		{"prefix", "s3cr3t_toke", false},
		{"right", "s3cr3t_token-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/telegram", strings.NewReader(callbackJSON))
			if tt.header != "" {
				r.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.header)
			}
			err := VerifyWebhook(r, "s3cr3t_token-1")
			if (err == nil) != tt.ok {
				t.Errorf("err = %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrWebhookSecret) {
				t.Errorf("err = %v, want ErrWebhookSecret", err)
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/telegram", nil)
	if err := VerifyWebhook(r, ""); err == nil {
		t.Error("empty configured secret accepted a request without the header")
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Token: testToken, ChatID: "-1001234567890"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := ParseUpdate([]byte(callbackJSON))
	if !c.Allowed(u) {
		t.Error("configured chat refused")
	}
	other, _ := ParseUpdate([]byte(strings.Replace(callbackJSON, "-1001234567890", "-1009999999999", 1)))
	if c.Allowed(other) {
		t.Error("another chat allowed")
	}
	if c.Allowed(Update{UpdateID: 1}) {
		t.Error("update without callback allowed")
	}
}

func TestPollerOffsetsAndCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var calls int
	b.answer = func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1:
			io.WriteString(w, `{"ok":true,"result":[`+callbackJSON+`,`+
				strings.Replace(strings.Replace(callbackJSON, "10000", "10001", 1), "ack:42", "resolve:42", 1)+`]}`)
		case 2:
			w.WriteHeader(502)
			io.WriteString(w, `bad gateway`)
		case 3:
			io.WriteString(w, `{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":0}}`)
		case 4:
			io.WriteString(w, `{"ok":true,"result":[`+strings.Replace(callbackJSON, "10000", "10005", 1)+`]}`)
		default:
			// An empty long poll; hold it briefly as Telegram would.
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Millisecond):
			}
			io.WriteString(w, `{"ok":true,"result":[]}`)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	p := &Poller{
		Client:     b.c,
		Timeout:    25 * time.Second,
		MinBackoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond,
		Handle: func(_ context.Context, u Update) error {
			got = append(got, fmt.Sprintf("%d:%s", u.UpdateID, u.Action))
			if len(got) == 3 {
				cancel()
			}
			return errors.New("handler errors are logged, not fatal")
		},
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
	if strings.Join(got, ",") != "10000:ack,10001:resolve,10005:ack" {
		t.Errorf("updates = %v", got)
	}
	if p.Offset() != 10006 {
		t.Errorf("offset = %d", p.Offset())
	}
	reqs := b.requests()
	if len(reqs) < 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	wantOffsets := []float64{0, 10002, 10002, 10002}
	for i, want := range wantOffsets {
		r := reqs[i]
		if r.Path != "/bot"+testToken+"/getUpdates" {
			t.Errorf("path = %q", r.Path)
		}
		off, _ := r.Body["offset"].(float64)
		if off != want {
			t.Errorf("request %d offset = %v, want %v", i, off, want)
		}
		if r.Body["timeout"] != float64(25) {
			t.Errorf("timeout = %v", r.Body["timeout"])
		}
		if au, _ := r.Body["allowed_updates"].([]any); len(au) != 1 || au[0] != "callback_query" {
			t.Errorf("allowed_updates = %v", r.Body["allowed_updates"])
		}
	}
}

func TestPollerStopsDuringLongPoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.answer = func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		<-r.Context().Done()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Poller{Client: b.c, Timeout: time.Minute, Handle: func(context.Context, Update) error { return nil }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
