package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

const testToken = "xoxb-secret-token"

type request struct {
	Path   string
	Header http.Header
	Form   url.Values
	Body   string
}

type bundle struct {
	srv  *httptest.Server
	n    *Notifier
	mu   sync.Mutex
	reqs []request
	// answer writes the response; the default is ok:true.
	answer func(w http.ResponseWriter, r *http.Request)
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		b.mu.Lock()
		b.reqs = append(b.reqs, request{Path: r.URL.Path, Header: r.Header.Clone(), Form: form, Body: string(body)})
		answer := b.answer
		b.mu.Unlock()
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"channel":"C0123","ts":"1700000000.000100","message":{"ts":"1700000000.000100"}}`)
	}))
	t.Cleanup(b.srv.Close)
	n, err := New(Config{Token: testToken, Channel: "#incidents", APIURL: b.srv.URL,
		Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	b.n = n
	return b
}

func (b *bundle) last(t *testing.T) request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		t.Fatal("no request")
	}
	return b.reqs[len(b.reqs)-1]
}

func message() notify.Message {
	return notify.Message{
		Event: notify.EventOpened,
		Incident: notify.Incident{ID: 42, Title: "DB down", Severity: "SEV1", Status: "open",
			Service: "db", URL: "https://fb.example/i/42?a=1&b=2", Responder: "alice"},
		Title:   "DB down",
		Text:    `<script>&"`,
		Actions: true,
	}
}

type block struct {
	Type     string `json:"type"`
	Text     *struct{ Type, Text string }
	Fields   []struct{ Type, Text string }
	Elements []struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		Text     struct{ Type, Text string }
	}
}

func decodeBlocks(t *testing.T, s string) []block {
	t.Helper()
	var bs []block
	if err := json.Unmarshal([]byte(s), &bs); err != nil {
		t.Fatalf("blocks %q: %v", s, err)
	}
	return bs
}

func TestPostMessageWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.n.Notify(context.Background(), message())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "C0123:1700000000.000100" {
		t.Errorf("Ref = %q", res.Ref)
	}
	req := b.last(t)
	if req.Path != "/chat.postMessage" {
		t.Errorf("path = %q", req.Path)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content type = %q", ct)
	}
	// slack-go sends the token as the form field "token", which the Web
	// API accepts like the Authorization header.
	if got := req.Form.Get("token"); got != testToken {
		t.Errorf("token = %q", got)
	}
	if got := req.Form.Get("channel"); got != "#incidents" {
		t.Errorf("channel = %q", got)
	}
	if got := req.Form.Get("text"); got != "DB down" {
		t.Errorf("text = %q", got)
	}
	bs := decodeBlocks(t, req.Form.Get("blocks"))
	var types []string
	for _, bl := range bs {
		types = append(types, bl.Type)
	}
	if got := strings.Join(types, ","); got != "header,section,section,actions" {
		t.Fatalf("block types = %s", got)
	}
	if bs[0].Text.Type != "plain_text" || bs[0].Text.Text != "[SEV1] DB down" {
		t.Errorf("header = %+v", bs[0].Text)
	}
	if bs[1].Text.Type != "mrkdwn" || bs[1].Text.Text != `&lt;script&gt;&amp;"` {
		t.Errorf("text block = %+v", bs[1].Text)
	}
	var fields []string
	for _, f := range bs[2].Fields {
		fields = append(fields, f.Text)
	}
	want := []string{"*Service:*\ndb", "*Severity:*\nSEV1", "*Status:*\nopen", "*Responder:*\nalice",
		"*Incident:*\n<https://fb.example/i/42?a=1&amp;b=2|#42>"}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Errorf("fields = %q", fields)
	}
	els := bs[3].Elements
	if len(els) != 2 {
		t.Fatalf("elements = %+v", els)
	}
	for i, w := range []struct{ id, label string }{{"fb_ack", "Acknowledge"}, {"fb_resolve", "Resolve"}} {
		if els[i].Type != "button" || els[i].ActionID != w.id || els[i].Value != "42" || els[i].Text.Text != w.label {
			t.Errorf("button %d = %+v", i, els[i])
		}
	}
}

func TestNoActionsNoButtons(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := message()
	m.Actions = false
	if _, err := b.n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, bl := range decodeBlocks(t, b.last(t).Form.Get("blocks")) {
		if bl.Type == "actions" {
			t.Error("actions block without m.Actions")
		}
	}
}

func TestUpdateInPlace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.answer = func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true,"channel":"C0999","ts":"1699999999.000200","text":"x"}`)
	}
	m := message()
	m.Ref = "C0999:1699999999.000200"
	res, err := b.n.Notify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	req := b.last(t)
	if req.Path != "/chat.update" {
		t.Errorf("path = %q", req.Path)
	}
	if req.Form.Get("channel") != "C0999" || req.Form.Get("ts") != "1699999999.000200" {
		t.Errorf("form = %v", req.Form)
	}
	if res.Ref != m.Ref {
		t.Errorf("Ref = %q", res.Ref)
	}
	m.Ref = "nocolon"
	if _, err := b.n.Notify(context.Background(), m); err == nil {
		t.Error("bad ref accepted")
	} else if retry, _ := notify.Retryable(err); retry {
		t.Error("bad ref retryable")
	}
}

func TestLongTextTruncated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := message()
	m.Text = strings.Repeat("<&>", 400_000)
	if _, err := b.n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	text := decodeBlocks(t, b.last(t).Form.Get("blocks"))[1].Text.Text
	if len(text) > maxSection || !strings.Contains(text, "bytes cut]") {
		t.Errorf("text: %d bytes, ends %q", len(text), text[max(0, len(text)-40):])
	}
	if strings.ContainsAny(text, "<>") {
		t.Error("unescaped text")
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		retry  bool
		after  time.Duration
	}{
		{"ok false ratelimited", 200, map[string]string{"Retry-After": "7"}, `{"ok":false,"error":"ratelimited"}`, true, 7 * time.Second},
		{"429 retry after", 429, map[string]string{"Retry-After": "3"}, `{"ok":false,"error":"ratelimited"}`, true, 3 * time.Second},
		{"429 http date", 429, map[string]string{"Retry-After": time.Unix(1700000010, 0).UTC().Format(http.TimeFormat)}, ``, true, 10 * time.Second},
		{"invalid_auth", 200, nil, `{"ok":false,"error":"invalid_auth"}`, false, 0},
		{"not_authed", 200, nil, `{"ok":false,"error":"not_authed"}`, false, 0},
		{"channel_not_found", 200, nil, `{"ok":false,"error":"channel_not_found"}`, false, 0},
		{"internal_error", 200, nil, `{"ok":false,"error":"internal_error"}`, true, 0},
		{"500", 500, nil, `<html>oops</html>`, true, 0},
		{"503 retry after", 503, map[string]string{"Retry-After": "2"}, ``, true, 2 * time.Second},
		{"404", 404, nil, `nope`, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.answer = func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}
			_, err := b.n.Notify(context.Background(), message())
			if err == nil {
				t.Fatal("no error")
			}
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

func TestNetworkErrorRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Close()
	_, err := b.n.Notify(context.Background(), message())
	if retry, _ := notify.Retryable(err); !retry {
		t.Errorf("network error not retryable: %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var path string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type = %q", r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	hook := srv.URL + "/services/T000/B000/SECRETPART"
	n, err := New(Config{WebhookURL: hook})
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Notify(context.Background(), message())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "" {
		t.Errorf("Ref = %q", res.Ref)
	}
	if path != "/services/T000/B000/SECRETPART" {
		t.Errorf("path = %q", path)
	}
	if len(got) != 1 || got["text"] != "*DB down*\n&lt;script&gt;&amp;\"" {
		t.Errorf("payload = %v", got)
	}
	status = http.StatusNotFound
	if _, err := n.Notify(context.Background(), message()); err == nil {
		t.Error("404 accepted")
	} else if retry, _ := notify.Retryable(err); retry {
		t.Errorf("404 retryable: %v", err)
	}
	srv.Close()
	_, err = n.Notify(context.Background(), message())
	if err == nil || strings.Contains(err.Error(), "SECRETPART") {
		t.Errorf("error = %v", err)
	}
}

func TestNewRefusesEmptyConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Token: "x"}); err == nil {
		t.Error("no channel accepted")
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	if got := Escape(`a<b>&c "d" <@U1|x>`); got != `a&lt;b&gt;&amp;c "d" &lt;@U1|x&gt;` {
		t.Errorf("Escape = %q", got)
	}
}
