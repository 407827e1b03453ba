package chat_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/chat"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/notify/email"
	"github.com/firebreak-dev/firebreak/internal/notify/telegram"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

const (
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	linkSecret  = "0123456789abcdef0123456789abcdef"
)

type bundle struct {
	t       *testing.T
	st      store.Store
	srv     *httptest.Server
	mu      sync.Mutex
	replies []string // what the services were told
	tgURL   string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, st: st}
	// Stands in for Telegram's API and Slack's response_url.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.replies = append(b.replies, r.URL.Path+" "+string(body))
		b.mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"result":true}`)
	}))
	t.Cleanup(api.Close)
	b.tgURL = api.URL
	bot, err := telegram.New(telegram.Config{Token: "1:x", ChatID: "-100123", APIURL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc := respond.New(respond.Config{Store: st})
	dir := people.New(st, oncall.Roster{Users: []oncall.User{
		{Name: "alice", Email: "alice@example.com", SlackID: "U0ALICE", TelegramChatID: "4242"},
		{Name: "vera", Email: "vera@example.com", SlackID: "U0VERA", TelegramChatID: "5151", Role: "viewer"},
	}})
	if err := dir.Sync(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	h := chat.New(chat.Config{Respond: svc,
		Users:        dir,
		LinkSecret:   []byte(linkSecret),
		SlackSecrets: map[string]string{"ops-slack": slackSecret},
		Telegram:     map[string]chat.Telegram{"ops-telegram": {Client: bot, SecretToken: "tg-secret"}}})
	mux := http.NewServeMux()
	h.Routes(mux)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	// An open incident, 1.
	err = st.InTx(ctx, func(tx store.Tx) error {
		ev := incident.Event{Source: incident.SourceGeneric, Status: incident.AlertFiring, Key: "k", Severity: incident.SeverityCritical,
			Labels: map[string]string{"alertname": "HighQueueDepth"}}
		_, err := incident.ApplyBatch(ctx, tx, []incident.Event{ev}, incident.Options{Now: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) status() (incident.Status, string) {
	inc, err := b.st.GetIncident(context.Background(), 1)
	if err != nil {
		b.t.Fatal(err)
	}
	return inc.Status, inc.Responder
}

func (b *bundle) lastReply() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.replies) == 0 {
		return ""
	}
	return b.replies[len(b.replies)-1]
}

// slackPress posts a block_actions payload signed at ts with secret.
func (b *bundle) slackPress(user, actionID string, ts time.Time, secret string) *http.Response {
	b.t.Helper()
	payload := fmt.Sprintf(`{"type":"block_actions","user":{"id":%q,"username":"u"},"team":{"id":"T1"},"response_url":%q,`+
		`"container":{"type":"message","channel_id":"C1","message_ts":"1.2"},"actions":[{"action_id":%q,"block_id":"b","value":"1","type":"button"}]}`,
		user, b.tgURL+"/slack-response", actionID)
	body := "payload=" + url.QueryEscape(payload)
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/chat/slack/actions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestSlackButtons(t *testing.T) {
	b := setup(t)
	// Refused: a tampered signature, an old timestamp.
	if r := b.slackPress("U0ALICE", "fb_ack", time.Now(), "wrong-secret"); r.StatusCode != 401 {
		t.Fatalf("bad signature: %d", r.StatusCode)
	}
	if r := b.slackPress("U0ALICE", "fb_ack", time.Now().Add(-6*time.Minute), slackSecret); r.StatusCode != 401 {
		t.Fatalf("old timestamp: %d", r.StatusCode)
	}
	// An unlinked account: a polite refusal, nothing changes.
	if r := b.slackPress("U0MALLORY", "fb_ack", time.Now(), slackSecret); r.StatusCode != 200 {
		t.Fatalf("unlinked: %d", r.StatusCode)
	}
	if st, _ := b.status(); st != incident.StatusTriggered {
		t.Fatalf("an unlinked account changed the incident: %s", st)
	}
	if !strings.Contains(b.lastReply(), "not linked") {
		t.Fatalf("reply = %q", b.lastReply())
	}
	// The linked user acknowledges.
	ts := time.Now()
	if r := b.slackPress("U0ALICE", "fb_ack", ts, slackSecret); r.StatusCode != 200 {
		t.Fatalf("ack: %d", r.StatusCode)
	}
	if st, who := b.status(); st != incident.StatusAcknowledged || who != "alice" {
		t.Fatalf("after alice's ack: %s by %q", st, who)
	}
	if !strings.Contains(b.lastReply(), "acknowledged by alice") {
		t.Fatalf("reply = %q", b.lastReply())
	}
}

func TestSlackReplayRefused(t *testing.T) {
	b := setup(t)
	ts := time.Now()
	b.slackPress("U0MALLORY", "fb_ack", ts, slackSecret) // records the signature
	if r := b.slackPress("U0MALLORY", "fb_ack", ts, slackSecret); r.StatusCode != 401 {
		t.Fatalf("a replayed payload: %d", r.StatusCode)
	}
}

func (b *bundle) telegramPress(from int64, chatID int64, data, secret string) *http.Response {
	b.t.Helper()
	body := fmt.Sprintf(`{"update_id":9,"callback_query":{"id":"cq1","from":{"id":%d,"is_bot":false,"first_name":"A"},`+
		`"message":{"message_id":77,"chat":{"id":%d,"type":"supergroup"},"date":1,"text":"x"},"data":%q}}`, from, chatID, data)
	req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/chat/telegram/ops-telegram", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestTelegramButtons(t *testing.T) {
	b := setup(t)
	if r := b.telegramPress(4242, -100123, "ack:1", ""); r.StatusCode != 401 {
		t.Fatalf("no secret token: %d", r.StatusCode)
	}
	if r := b.telegramPress(4242, -100123, "ack:1", "wrong"); r.StatusCode != 401 {
		t.Fatalf("wrong secret token: %d", r.StatusCode)
	}
	if r := b.telegramPress(4242, -999, "ack:1", "tg-secret"); r.StatusCode != 403 {
		t.Fatalf("another chat: %d", r.StatusCode)
	}
	if r := b.telegramPress(777, -100123, "ack:1", "tg-secret"); r.StatusCode != 200 {
		t.Fatalf("unlinked: %d", r.StatusCode)
	}
	if st, _ := b.status(); st != incident.StatusTriggered {
		t.Fatalf("an unlinked or foreign account changed the incident: %s", st)
	}
	if !strings.Contains(b.lastReply(), "answerCallbackQuery") || !strings.Contains(b.lastReply(), "not linked") {
		t.Fatalf("reply = %q", b.lastReply())
	}
	// A viewer may look but not act.
	if r := b.telegramPress(5151, -100123, "ack:1", "tg-secret"); r.StatusCode != 200 {
		t.Fatalf("viewer: %d", r.StatusCode)
	}
	if st, _ := b.status(); st != incident.StatusTriggered {
		t.Fatalf("a viewer's press changed the incident: %s", st)
	}
	if !strings.Contains(b.lastReply(), "role viewer") {
		t.Fatalf("reply to a viewer = %q", b.lastReply())
	}
	// Pages to a person go to their private chat (chat id = user id);
	// another user's private chat is refused.
	if r := b.telegramPress(4242, 5151, "ack:1", "tg-secret"); r.StatusCode != 403 {
		t.Fatalf("alice pressing in vera's private chat: %d", r.StatusCode)
	}
	if r := b.telegramPress(4242, 4242, "ack:1", "tg-secret"); r.StatusCode != 200 {
		t.Fatalf("ack from alice's private chat: %d", r.StatusCode)
	}
	if st, who := b.status(); st != incident.StatusAcknowledged || who != "alice" {
		t.Fatalf("after alice's ack: %s by %q", st, who)
	}
	if r := b.telegramPress(4242, -100123, "resolve:1", "tg-secret"); r.StatusCode != 200 {
		t.Fatalf("resolve: %d", r.StatusCode)
	}
	if st, _ := b.status(); st != incident.StatusResolved {
		t.Fatalf("after resolve: %s", st)
	}
	if !strings.Contains(b.lastReply(), "resolved by alice") {
		t.Fatalf("reply = %q", b.lastReply())
	}
}

func (b *bundle) get(link string) (int, string) {
	b.t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A signed Acknowledge link from a mail acts as the user whose email it
// went to; a tampered, expired or unlinked one changes nothing and says why.
func TestEmailAckLink(t *testing.T) {
	b := setup(t)
	base := b.srv.URL + chat.EmailLinkPath
	link := func(to string, expires time.Time) string {
		return email.SignLink(base, []byte(linkSecret), 1, "ack", to, expires)
	}
	if code, body := b.get(link("alice@example.com", time.Now().Add(-time.Minute))); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %s", code, body)
	}
	tampered := strings.Replace(link("alice@example.com", time.Now().Add(time.Hour)), "incident=1", "incident=2", 1)
	if code, _ := b.get(tampered); code != http.StatusForbidden {
		t.Fatalf("tampered link: %d", code)
	}
	if code, body := b.get(link("oncall@example.com", time.Now().Add(time.Hour))); code != http.StatusForbidden || !strings.Contains(body, "not the email of a Firebreak user") {
		t.Fatalf("unlinked mailbox: %d %s", code, body)
	}
	if st, _ := b.status(); st != incident.StatusTriggered {
		t.Fatalf("a refused link changed the incident: %s", st)
	}
	if code, body := b.get(link("alice@example.com", time.Now().Add(time.Hour))); code != 200 || !strings.Contains(body, "acknowledged by alice") {
		t.Fatalf("alice's link: %d %s", code, body)
	}
	if st, who := b.status(); st != incident.StatusAcknowledged || who != "alice" {
		t.Fatalf("after alice's link: %s by %q", st, who)
	}
}
