package telegram

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

const testToken = "123456:ABC-secret"

type request struct {
	Path string
	Body map[string]any
}

type bundle struct {
	srv    *httptest.Server
	c      *Client
	mu     sync.Mutex
	reqs   []request
	answer func(w http.ResponseWriter, r *http.Request, body map[string]any)
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with content type %q", r.Method, r.Header.Get("Content-Type"))
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, request{Path: r.URL.Path, Body: body})
		answer := b.answer
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if answer != nil {
			answer(w, r, body)
			return
		}
		io.WriteString(w, `{"ok":true,"result":{"message_id":77,"date":1700000000,"chat":{"id":-1001234567890,"type":"supergroup"},"text":"x"}}`)
	}))
	t.Cleanup(b.srv.Close)
	c, err := New(Config{Token: testToken, ChatID: "-1001234567890", APIURL: b.srv.URL,
		Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	b.c = c
	return b
}

func (b *bundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

func (b *bundle) last(t *testing.T) request {
	t.Helper()
	rs := b.requests()
	if len(rs) == 0 {
		t.Fatal("no request")
	}
	return rs[len(rs)-1]
}

func message() notify.Message {
	return notify.Message{
		Event: notify.EventOpened,
		Incident: notify.Incident{ID: 42, Title: "DB down", Severity: "SEV1", Status: "open",
			Service: "db", URL: "https://fb.example/i/42?a=1&b=2", Responder: "alice"},
		Title:   "DB down",
		Text:    `<b>&"'`,
		Actions: true,
	}
}

func TestSendMessageWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.c.Notify(context.Background(), message())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "-1001234567890:77" {
		t.Errorf("Ref = %q", res.Ref)
	}
	req := b.last(t)
	if req.Path != "/bot"+testToken+"/sendMessage" {
		t.Errorf("path = %q", req.Path)
	}
	if id, ok := req.Body["chat_id"].(float64); !ok || id != -1001234567890 {
		t.Errorf("chat_id = %#v", req.Body["chat_id"])
	}
	if req.Body["parse_mode"] != "HTML" {
		t.Errorf("parse_mode = %v", req.Body["parse_mode"])
	}
	want := "<b>[SEV1] DB down</b>\n\n&lt;b&gt;&amp;&quot;&#39;\n\n" +
		"<b>Service:</b> db\n<b>Status:</b> open\n<b>Responder:</b> alice\n" +
		`<a href="https://fb.example/i/42?a=1&amp;b=2">Incident #42</a>`
	if req.Body["text"] != want {
		t.Errorf("text =\n%v\nwant\n%v", req.Body["text"], want)
	}
	kb, _ := json.Marshal(req.Body["reply_markup"])
	if string(kb) != `{"inline_keyboard":[[{"callback_data":"ack:42","text":"Acknowledge"},{"callback_data":"resolve:42","text":"Resolve"}]]}` {
		t.Errorf("reply_markup = %s", kb)
	}
}

func TestChannelUsernameChatID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := New(Config{Token: testToken, ChatID: "@oncall", APIURL: b.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	m := message()
	m.Actions = false
	if _, err := c.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	req := b.last(t)
	if req.Body["chat_id"] != "@oncall" {
		t.Errorf("chat_id = %#v", req.Body["chat_id"])
	}
	if _, ok := req.Body["reply_markup"]; ok {
		t.Error("keyboard without m.Actions")
	}
}

func TestFormatNeverInjects(t *testing.T) {
	t.Parallel()
	m := message()
	m.Title = `</b><a href="tg://x">`
	m.Incident.Service = "<i>svc</i>"
	m.Incident.URL = `javascript:alert(1)`
	m.Actions = false
	m.AckURL = `https://fb.example/ack?t=1&x="><b>`
	got := Format(m)
	want := "<b>[SEV1] &lt;/b&gt;&lt;a href=&quot;tg://x&quot;&gt;</b>\n\n&lt;b&gt;&amp;&quot;&#39;\n\n" +
		"<b>Service:</b> &lt;i&gt;svc&lt;/i&gt;\n<b>Status:</b> open\n<b>Responder:</b> alice\n" +
		`<a href="https://fb.example/ack?t=1&amp;x=&quot;&gt;&lt;b&gt;">Acknowledge</a>`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLongTextTruncated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := message()
	m.Text = strings.Repeat("é<", 1<<20/3)
	if _, err := b.c.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	text := b.last(t).Body["text"].(string)
	if !strings.Contains(text, "bytes cut]") {
		t.Error("no cut marker")
	}
	// Telegram counts characters after entities are parsed: at most 4096.
	plain := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(text)
	if n := len([]rune(plain)); n > 4096 {
		t.Errorf("%d characters", n)
	}
}

func TestEditMessageText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := message()
	m.Ref = "-1001234567890:77"
	m.Actions = false
	res, err := b.c.Notify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != m.Ref {
		t.Errorf("Ref = %q", res.Ref)
	}
	req := b.last(t)
	if req.Path != "/bot"+testToken+"/editMessageText" {
		t.Errorf("path = %q", req.Path)
	}
	if req.Body["chat_id"] != float64(-1001234567890) || req.Body["message_id"] != float64(77) || req.Body["parse_mode"] != "HTML" {
		t.Errorf("body = %v", req.Body)
	}
	for _, ref := range []string{"77", "x:y", ":5", "-100:0"} {
		m.Ref = ref
		if _, err := b.c.Notify(context.Background(), m); err == nil {
			t.Errorf("ref %q accepted", ref)
		} else if retry, _ := notify.Retryable(err); retry {
			t.Errorf("ref %q retryable", ref)
		}
	}
}

func TestEditNotModifiedIsSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.answer = func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		w.WriteHeader(400)
		io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same"}`)
	}
	m := message()
	m.Ref = "-1001234567890:77"
	if _, err := b.c.Notify(context.Background(), m); err != nil {
		t.Errorf("not modified: %v", err)
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header string
		body   string
		retry  bool
		after  time.Duration
	}{
		{"429 retry_after", 429, "", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`, true, 5 * time.Second},
		{"429 header only", 429, "3", `{"ok":false,"error_code":429,"description":"Too Many Requests"}`, true, 3 * time.Second},
		{"400 permanent", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}`, false, 0},
		{"403 blocked", 403, "", `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`, false, 0},
		{"401 token", 401, "", `{"ok":false,"error_code":401,"description":"Unauthorized"}`, false, 0},
		{"500", 500, "", `{"ok":false,"error_code":500,"description":"Internal Server Error"}`, true, 0},
		{"502 html", 502, "", `<html>bad gateway</html>`, true, 0},
		{"200 not json", 200, "", `hello`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.answer = func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}
			_, err := b.c.Notify(context.Background(), message())
			var ne *notify.Error
			if !errors.As(err, &ne) {
				t.Fatalf("not a notify.Error: %T %v", err, err)
			}
			retry, after := notify.Retryable(err)
			if retry != tt.retry || after != tt.after {
				t.Errorf("Retryable = %v, %v; want %v, %v (%v)", retry, after, tt.retry, tt.after, err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestMigratedGroupSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.answer = func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		w.WriteHeader(400)
		io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}`)
	}
	_, err := b.c.Notify(context.Background(), message())
	if err == nil || !strings.Contains(err.Error(), "-1009876543210") {
		t.Errorf("err = %v", err)
	}
}

func TestNetworkErrorHidesToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Close()
	_, err := b.c.Notify(context.Background(), message())
	if retry, _ := notify.Retryable(err); !retry {
		t.Errorf("not retryable: %v", err)
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "ABC-secret") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestAnswerCallbackQueryAndSetWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.answer = func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		io.WriteString(w, `{"ok":true,"result":true}`)
	}
	if err := b.c.AnswerCallbackQuery(context.Background(), "4382bfdwdsb323b2d9", "Acknowledged by alice"); err != nil {
		t.Fatal(err)
	}
	req := b.last(t)
	if req.Path != "/bot"+testToken+"/answerCallbackQuery" ||
		req.Body["callback_query_id"] != "4382bfdwdsb323b2d9" || req.Body["text"] != "Acknowledged by alice" {
		t.Errorf("request = %+v", req)
	}
	if err := b.c.SetWebhook(context.Background(), "https://fb.example/telegram", "s3cr3t_-"); err != nil {
		t.Fatal(err)
	}
	req = b.last(t)
	if req.Path != "/bot"+testToken+"/setWebhook" || req.Body["url"] != "https://fb.example/telegram" ||
		req.Body["secret_token"] != "s3cr3t_-" {
		t.Errorf("request = %+v", req)
	}
}

func TestKeyboardCallbackDataFits(t *testing.T) {
	t.Parallel()
	for _, row := range Keyboard(1<<63 - 1).InlineKeyboard {
		for _, btn := range row {
			if len(btn.CallbackData) > maxCallbackData {
				t.Errorf("%q: %d bytes", btn.CallbackData, len(btn.CallbackData))
			}
		}
	}
}
