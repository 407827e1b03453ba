package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI records the requests a chat service receives and answers as the
// service does.
type fakeAPI struct {
	mu   sync.Mutex
	reqs []apiReq
}

type apiReq struct {
	path string
	body string
}

func (f *fakeAPI) record(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, apiReq{path: r.URL.Path, body: string(b)})
	f.mu.Unlock()
	return string(b)
}

// waitFor returns the first request to a path ending in method whose body
// contains every part, within d.
func (f *fakeAPI) waitFor(t *testing.T, d time.Duration, method string, parts ...string) apiReq {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, r := range f.reqs {
			if !strings.HasSuffix(r.path, "/"+method) {
				continue
			}
			ok := true
			for _, p := range parts {
				if !strings.Contains(r.body, p) {
					ok = false
				}
			}
			if ok {
				f.mu.Unlock()
				return r
			}
		}
		f.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t.Fatalf("no %s request with %q within %v; got %+v", method, parts, d, f.reqs)
	return apiReq{}
}

func (f *fakeAPI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if strings.HasSuffix(r.path, "/"+method) {
			n++
		}
	}
	return n
}

// The "done when", in process with a movable clock: a HighQueueDepth
// alert pages level 1 on Telegram with the playbook's Internal Alert
// Notification rendered; with no acknowledgement it escalates to Slack at
// 15 minutes; an acknowledgement stops it, and resolving tells both.
func TestPagingThroughTheEscalationMatrix(t *testing.T) {
	tg, sl := &fakeAPI{}, &fakeAPI{}
	tgSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.record(r)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":77,"chat":{"id":-100123},"date":1,"text":"x"}}`)
	}))
	defer tgSrv.Close()
	slSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sl.record(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true,"channel":"C0OPS","ts":"1700000000.000100"}`)
	}))
	defer slSrv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	body := fmt.Sprintf(`notify:
  channels:
    ops-telegram: {type: telegram, bot_token_env: TG_BOT_TOKEN, chat_id: "-100123", api_url: %q, updates: webhook, webhook_secret_env: TG_WEBHOOK_SECRET}
    ops-slack:    {type: slack, token_env: SLACK_BOT_TOKEN, channel: "#ops", signing_secret_env: SLACK_SIGNING_SECRET, api_url: %q}
escalation:
  default:
    levels:
      1: [ops-telegram]
      2: [ops-slack]
users:
  - {name: alice, telegram_chat_id: "4242"}
`, tgSrv.URL, slSrv.URL+"/api")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TG_BOT_TOKEN": "123:secret", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "TG_WEBHOOK_SECRET": "hook-secret"}
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	s := serveWith(t, filepath.Join(dir, "data"), func(k string) string { return env[k] }, now, "--config", cfg)

	s.run(t, false, "alert", "send", "--name", "HighQueueDepth", "--severity", "critical", "--label", "service=job-worker")
	page := tg.waitFor(t, 10*time.Second, "sendMessage", `"chat_id":-100123`, `"parse_mode":"HTML"`, "ALERT: HighQueueDepth")
	var msg struct {
		Text        string `json:"text"`
		ReplyMarkup struct {
			InlineKeyboard [][]struct {
				Text         string `json:"text"`
				CallbackData string `json:"callback_data"`
			} `json:"inline_keyboard"`
		} `json:"reply_markup"`
	}
	if err := json.Unmarshal([]byte(page.body), &msg); err != nil {
		t.Fatal(err)
	}
	// The playbook's template, filled from the incident.
	for _, want := range []string{"ALERT: HighQueueDepth", "Severity: CRITICAL", "Investigating: not yet known", "ETA: not yet known"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("page text lacks %q:\n%s", want, msg.Text)
		}
	}
	if len(msg.ReplyMarkup.InlineKeyboard) == 0 || !strings.HasPrefix(msg.ReplyMarkup.InlineKeyboard[0][0].CallbackData, "ack:") {
		t.Errorf("no Acknowledge button: %+v", msg.ReplyMarkup)
	}
	if sl.count("chat.postMessage") != 0 {
		t.Fatal("level 2 was paged at once")
	}
	// The procedure's scale step waits for approval: level 1 hears of it.
	tg.waitFor(t, 10*time.Second, "sendMessage", "Approval needed", "Scale job workers", "firebreak steps approve")

	// Nobody acknowledges: 15 minutes on, level 2 hears of it.
	mu.Lock()
	offset = 15*time.Minute + time.Second
	mu.Unlock()
	post := sl.waitFor(t, 15*time.Second, "chat.postMessage", "channel=%23ops")
	form, _ := url.ParseQuery(post.body)
	if !strings.Contains(form.Get("blocks"), "fb_ack") {
		t.Errorf("Slack page without an Acknowledge button: %s", form.Get("blocks"))
	}

	// Alice presses Acknowledge in the Telegram group.
	press := `{"update_id":1,"callback_query":{"id":"cq9","from":{"id":4242,"is_bot":false,"first_name":"Alice"},` +
		`"message":{"message_id":77,"chat":{"id":-100123,"type":"supergroup"},"date":1,"text":"x"},"data":"ack:1"}}`
	req, _ := http.NewRequest("POST", s.url+"/api/v1/chat/telegram/ops-telegram", strings.NewReader(press))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("button press: %v %v", err, resp)
	}
	resp.Body.Close()
	tg.waitFor(t, 10*time.Second, "answerCallbackQuery", "acknowledged by alice")
	if out := s.run(t, false, "incidents", "show", "1"); !strings.Contains(out, "Acknowledged by alice") {
		t.Fatalf("the timeline does not show alice's ack:\n%s", out)
	}
	// The pages change in place, and the news answers them.
	tg.waitFor(t, 10*time.Second, "editMessageText", `"message_id":77`, "acknowledged", "Responder:")
	tg.waitFor(t, 10*time.Second, "sendMessage", "Acknowledged", `"reply_parameters":{"message_id":77`)
	sl.waitFor(t, 10*time.Second, "chat.update", "ts=1700000000.000100", "channel=C0OPS")
	s.run(t, false, "incidents", "resolve", "1")
	tg.waitFor(t, 10*time.Second, "sendMessage", "Resolved")
	sl.waitFor(t, 10*time.Second, "chat.postMessage", "Resolved", "thread_ts=1700000000.000100")
	tg.waitFor(t, 10*time.Second, "editMessageText", `"message_id":77`, "resolved", `"inline_keyboard":[]`)

	// Level 3 has no channel in this policy, and the ack stopped the rest.
	mu.Lock()
	offset = 2 * time.Hour
	mu.Unlock()
	time.Sleep(6 * time.Second)
	// The phase clocks' Containment budget (15 min) ran out with the
	// incident unacknowledged: those paged by then heard of the breach.
	sl.waitFor(t, time.Second, "chat.postMessage", "SLA+breached", "Containment+overran")
	if n := sl.count("chat.postMessage"); n != 4 {
		t.Errorf("%d Slack messages; want the page, the Containment breach, the ack and the resolve", n)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "data", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	mreq, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	mresp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), `firebreak_notifications_total{channel="ops-slack",outcome="sent"} 4`) {
		t.Errorf("metrics lack the Slack deliveries:\n%s", grepLines(string(metrics), "firebreak_notifications_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
