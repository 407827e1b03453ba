package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// A block_actions payload shaped like the ones Slack sends.
const payloadJSON = `{
  "type": "block_actions",
  "user": {"id": "U0CA5", "username": "amy.m", "name": "amy.m", "team_id": "T3MDE"},
  "api_app_id": "A0CA5",
  "token": "Shh_its_a_seekrit",
  "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C0CA5", "is_ephemeral": false},
  "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
  "team": {"id": "T3MDE", "domain": "eurekaco"},
  "channel": {"id": "C0CA5", "name": "incidents"},
  "message": {"type": "message", "ts": "1548261231.000200", "text": "DB down"},
  "response_url": "https://hooks.slack.com/actions/T3MDE/547/NaGKCSVmGp3uPb3LNyDw3Jh9",
  "actions": [{
    "action_id": "fb_resolve",
    "block_id": "=qXel",
    "text": {"type": "plain_text", "text": "Resolve", "emoji": true},
    "value": "42",
    "type": "button",
    "action_ts": "1548426417.840180"
  }]
}`

func formBody(payload string) string {
	return url.Values{"payload": {payload}}.Encode()
}

func sign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

func signedRequest(body string, at time.Time) *http.Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, "/slack/actions", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", sign(signingSecret, ts, body))
	return r
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	// slack-go's verifier reads the wall clock: keep now real.
	now := time.Now()
	body := formBody(payloadJSON)
	tests := []struct {
		name string
		req  func() *http.Request
		want error
	}{
		{"valid", func() *http.Request { return signedRequest(body, now.Add(-30*time.Second)) }, nil},
		{"tampered body", func() *http.Request {
			r := signedRequest(body, now)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "fb_resolve", "fb_ack", 1)))
			return r
		}, ErrBadSignature},
		{"old timestamp", func() *http.Request { return signedRequest(body, now.Add(-6*time.Minute)) }, ErrStale},
		{"future timestamp", func() *http.Request { return signedRequest(body, now.Add(6*time.Minute)) }, ErrStale},
		{"missing signature", func() *http.Request {
			r := signedRequest(body, now)
			r.Header.Del("X-Slack-Signature")
			return r
		}, ErrMissingSignature},
		{"missing timestamp", func() *http.Request {
			r := signedRequest(body, now)
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}, ErrMissingSignature},
		{"wrong secret", func() *http.Request {
			r := signedRequest(body, now)
			r.Header.Set("X-Slack-Signature", sign("other", r.Header.Get("X-Slack-Request-Timestamp"), body))
			return r
		}, ErrBadSignature},
		{"timestamp swapped", func() *http.Request {
			r := signedRequest(body, now.Add(-4*time.Minute))
			r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
			return r
		}, ErrBadSignature},
		{"not hex", func() *http.Request {
			r := signedRequest(body, now)
			r.Header.Set("X-Slack-Signature", "v0=zz")
			return r
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.req()
			got, err := VerifyRequest(r, signingSecret, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			if string(got) != body {
				t.Errorf("body = %q", got)
			}
			// The body is put back for the caller.
			if err := r.ParseForm(); err != nil || r.PostForm.Get("payload") != payloadJSON {
				t.Errorf("body not restored: %v", err)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := formBody(payloadJSON)
	replays := NewReplays(0)
	handle := func(r *http.Request, at time.Time) error {
		if _, err := VerifyRequest(r, signingSecret, at); err != nil {
			return err
		}
		return replays.Check(r, at)
	}
	first := signedRequest(body, now)
	again := first.Clone(first.Context())
	again.Body = io.NopCloser(strings.NewReader(body))
	if err := handle(first, now); err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := handle(again, now.Add(time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: err = %v", err)
	}
	// A new press, signed anew, passes.
	if err := handle(signedRequest(body, now.Add(-time.Second)), now); err != nil {
		t.Fatalf("second press: %v", err)
	}
}

func TestReplaysBoundedAndExpiring(t *testing.T) {
	t.Parallel()
	p := NewReplays(3)
	base := time.Unix(1700000000, 0)
	req := func(sig string, at time.Time) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Slack-Signature", sig)
		r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
		return r
	}
	for i := range 5 {
		if err := p.Check(req(fmt.Sprint("s", i), base.Add(time.Duration(i)*time.Second)), base); err != nil {
			t.Fatal(err)
		}
	}
	if p.Len() != 3 {
		t.Errorf("Len = %d, want 3", p.Len())
	}
	if err := p.Check(req("s4", base), base); !errors.Is(err, ErrReplay) {
		t.Errorf("s4 again: %v", err)
	}
	later := base.Add(Window + 10*time.Second)
	if err := p.Check(req("s9", later), later); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Errorf("after the window Len = %d, want 1", p.Len())
	}
}

func TestParseAction(t *testing.T) {
	t.Parallel()
	a, err := ParseAction([]byte(formBody(payloadJSON)))
	if err != nil {
		t.Fatal(err)
	}
	want := Action{
		UserID: "U0CA5", UserName: "amy.m", TeamID: "T3MDE", ActionID: "resolve", IncidentID: 42,
		ResponseURL: "https://hooks.slack.com/actions/T3MDE/547/NaGKCSVmGp3uPb3LNyDw3Jh9",
		Channel:     "C0CA5", MessageTS: "1548261231.000200",
	}
	if a != want {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
	ack := strings.Replace(payloadJSON, "fb_resolve", "fb_ack", 1)
	if a, err := ParseAction([]byte(formBody(ack))); err != nil || a.ActionID != "ack" {
		t.Errorf("ack: %+v, %v", a, err)
	}
}

func TestParseActionRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		ours bool
	}{
		{"no payload", "foo=bar", true},
		{"bad json", formBody("{"), true},
		{"other type", formBody(`{"type":"view_submission"}`), false},
		{"other action", formBody(strings.Replace(payloadJSON, "fb_resolve", "other", 1)), false},
		{"bad id", formBody(strings.Replace(payloadJSON, `"value": "42"`, `"value": "x"`, 1)), true},
		{"zero id", formBody(strings.Replace(payloadJSON, `"value": "42"`, `"value": "0"`, 1)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseAction([]byte(tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, ErrNotOurs) == tt.ours {
				t.Errorf("ErrNotOurs = %v: %v", !tt.ours, err)
			}
		})
	}
}

func FuzzParseAction(f *testing.F) {
	f.Add([]byte(formBody(payloadJSON)))
	f.Add([]byte("payload=%7B%7D"))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAction(body)
		if err == nil && (a.IncidentID <= 0 || (a.ActionID != "ack" && a.ActionID != "resolve")) {
			t.Errorf("accepted %+v", a)
		}
	})
}
