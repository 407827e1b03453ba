package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/cli"
)

// runIn is run with standard input.
func (s *server) runIn(t *testing.T, stdin string, wantErr bool, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"FIREBREAK_URL": s.url, "FIREBREAK_DATA_DIR": s.dataDir}
	err := cli.Run(context.Background(), args, &cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] }})
	if (err != nil) != wantErr {
		t.Fatalf("firebreak %s: err = %v (stderr %s)", strings.Join(args, " "), err, errOut.String())
	}
	if err != nil {
		return err.Error()
	}
	return out.String()
}

// Users made with the CLI sit beside those of the configuration; linking a
// Telegram account makes its button presses act as the user; the
// configuration's users keep their contact methods there.
func TestUsersFromTheCLI(t *testing.T) {
	tg := &fakeAPI{}
	tgSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.record(r)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":5,"chat":{"id":-100123},"date":1,"text":"x"}}`)
	}))
	defer tgSrv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	body := fmt.Sprintf(`notify:
  channels:
    ops-telegram: {type: telegram, bot_token_env: TG_BOT_TOKEN, chat_id: "-100123", api_url: %q, updates: webhook, webhook_secret_env: TG_WEBHOOK_SECRET}
escalation:
  default:
    levels:
      1: [ops-telegram]
users:
  - {name: alice, email: alice@example.com}
`, tgSrv.URL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TG_BOT_TOKEN": "123:secret", "TG_WEBHOOK_SECRET": "hook-secret"}
	s := serveWith(t, filepath.Join(dir, "data"), func(k string) string { return env[k] }, nil, "--config", cfg)

	out := s.runIn(t, "correct horse battery\n", false, "user", "create", "bob", "--role", "responder", "--email", "bob@example.com", "--password-stdin")
	if !strings.Contains(out, "Created user bob (responder)") {
		t.Fatalf("user create: %q", out)
	}
	if msg := s.runIn(t, "short\n", true, "user", "create", "carol", "--password-stdin"); !strings.Contains(msg, "password: must be at least 12 characters") {
		t.Fatalf("a short password: %q", msg)
	}
	if msg := s.run(t, true, "user", "create", "bad name"); !strings.Contains(msg, "not a user name") {
		t.Fatalf("a bad name: %q", msg)
	}
	if msg := s.run(t, true, "user", "create", "bob"); !strings.Contains(msg, `user "bob" exists`) {
		t.Fatalf("a second bob: %q", msg)
	}
	if msg := s.run(t, true, "user", "create", "alice"); !strings.Contains(msg, "defined in the configuration") {
		t.Fatalf("a user of the configuration: %q", msg)
	}
	if msg := s.run(t, true, "user", "link-telegram", "alice", "4242"); !strings.Contains(msg, "change its role and contact methods in firebreak.yaml") {
		t.Fatalf("linking a user of the configuration: %q", msg)
	}
	s.run(t, false, "user", "link-telegram", "bob", "777")
	out = s.run(t, false, "user", "list")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "config") || !strings.Contains(out, "777") {
		t.Fatalf("user list:\n%s", out)
	}
	var list struct {
		Users []struct {
			Name     string `json:"name"`
			Password bool   `json:"password"`
			Source   string `json:"source"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(s.run(t, false, "user", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 2 || list.Users[1].Name != "bob" || !list.Users[1].Password || list.Users[0].Source != "config" {
		t.Fatalf("user list --json: %+v", list)
	}

	// bob's Telegram account acknowledges from the chat.
	s.run(t, false, "alert", "send", "--name", "DiskFull", "--severity", "critical")
	tg.waitFor(t, 10*time.Second, "sendMessage", "DiskFull")
	press := `{"update_id":1,"callback_query":{"id":"cq1","from":{"id":777,"is_bot":false,"first_name":"Bob"},` +
		`"message":{"message_id":5,"chat":{"id":-100123,"type":"supergroup"},"date":1,"text":"x"},"data":"ack:1"}}`
	req, _ := http.NewRequest("POST", s.url+"/api/v1/chat/telegram/ops-telegram", strings.NewReader(press))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("press: %v %v", err, resp)
	}
	resp.Body.Close()
	tg.waitFor(t, 10*time.Second, "answerCallbackQuery", "acknowledged by bob")

	s.run(t, false, "user", "delete", "bob")
	if msg := s.run(t, true, "user", "delete", "alice"); !strings.Contains(msg, "remove it there") {
		t.Fatalf("deleting a user of the configuration: %q", msg)
	}
	audit := s.run(t, false, "user", "list")
	if strings.Contains(audit, "bob") {
		t.Fatalf("bob is still listed:\n%s", audit)
	}
}
