package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify/webhook"
)

// Customer communication is drafted from the playbook's template and goes
// out only when a responder sends it: opening, acknowledging and resolving
// the incident send nothing to the customer channel.
func TestCustomerCommunicationIsSentOnlyByHand(t *testing.T) {
	hook := &fakeAPI{}
	secret := []byte("status-page-secret")
	var badSig bool
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := hook.record(r)
		if !webhook.Verify(secret, []byte(body), r.Header.Get("X-Firebreak-Signature")) {
			badSig = true
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hookSrv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	body := fmt.Sprintf(`notify:
  channels:
    status-page: {type: webhook, url: %q, secret_env: STATUS_SECRET}
  customer: [status-page]
`, hookSrv.URL+"/send")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STATUS_SECRET": string(secret)}
	s := serveWith(t, filepath.Join(dir, "data"), func(k string) string { return env[k] }, nil, "--config", cfg)

	s.run(t, false, "alert", "send", "--name", "HighQueueDepth", "--severity", "critical", "--label", "service=job-worker")
	s.run(t, false, "incidents", "ack", "1")
	out := s.run(t, false, "comms", "draft", "1")
	for _, want := range []string{"Communication 1 (draft)", "Subject: Scheduled Maintenance/Update - Telegram Platform", "Dear Customer",
		"Service should be restored by not yet known", `Some fields read "not yet known"`} {
		if !strings.Contains(out, want) {
			t.Errorf("draft lacks %q:\n%s", want, out)
		}
	}
	if msg := s.run(t, true, "comms", "send", "1", "--channel", "status-page"); !strings.Contains(msg, `still says "not yet known"`) {
		t.Fatalf("sending an unfilled draft: %q", msg)
	}
	if msg := s.run(t, true, "comms", "send", "1", "--channel", "ops"); !strings.Contains(msg, `"ops" is not a customer channel; choose one of status-page`) {
		t.Fatalf("an unknown channel: %q", msg)
	}
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("Dear Customer,\n\nMessages are delayed; we added workers and expect delivery to catch up by 04:00 UTC.\n"), 0o600)
	s.run(t, false, "comms", "edit", "1", "--subject", "Delayed messages", "--body-file", text)
	s.run(t, false, "incidents", "resolve", "1")
	time.Sleep(300 * time.Millisecond)
	if n := hook.count("send"); n != 0 {
		t.Fatalf("%d messages reached the customer channel before anyone sent one", n)
	}
	out = s.run(t, false, "comms", "send", "1", "--channel", "status-page")
	if !strings.Contains(out, "Sent communication 1 through status-page") {
		t.Fatalf("send: %q", out)
	}
	got := hook.waitFor(t, 5*time.Second, "send", `"event":"customer_communication"`, "Delayed messages", "catch up by 04:00 UTC")
	if badSig {
		t.Fatal("the webhook's signature did not verify")
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(got.body), &payload); err != nil {
		t.Fatal(err)
	}
	if msg := s.run(t, true, "comms", "send", "1", "--channel", "status-page"); !strings.Contains(msg, "already sent") {
		t.Fatalf("a second send: %q", msg)
	}
	if out := s.run(t, false, "incidents", "show", "1"); !strings.Contains(out, "Customer communication 1 sent through status-page") ||
		!strings.Contains(out, "released by admin") {
		t.Fatalf("the timeline does not tell of the communication:\n%s", out)
	}
	if out := s.run(t, false, "comms", "list", "1"); !strings.Contains(out, "sent") || !strings.Contains(out, "Delayed messages") {
		t.Fatalf("comms list:\n%s", out)
	}
}
