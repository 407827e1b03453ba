// Package notify is what every notification channel shares: the message a
// channel sends, the Notifier interface each channel package implements,
// and the rules for retrying a failed delivery. Each channel (slack,
// telegram, email, webhook, teams) is a package below this one that formats
// for its medium and escapes for it; none of them knows about incidents'
// storage, the lifecycle or the job queue.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event names what a message is about.
type Event string

const (
	EventOpened         Event = "opened"
	EventEscalated      Event = "escalated"
	EventAcknowledged   Event = "acknowledged"
	EventResolved       Event = "resolved"
	EventApprovalNeeded Event = "approval_needed"
	EventSLABreach      Event = "sla_breach"
)

// Incident is what a message says of its incident.
type Incident struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	Status    string    `json:"status"`
	Service   string    `json:"service"`
	URL       string    `json:"url"`
	Responder string    `json:"responder,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// Message is one notification to one target.
type Message struct {
	Event    Event
	Incident Incident
	// Level is the escalation level that sends it; 0 when none.
	Level int
	// Title is one line for subjects and headers; Text is the rendered
	// template, plain text, lines separated by \n. Channels escape both for
	// their medium.
	Title string
	Text  string
	// IdempotencyKey is the same for every attempt of one delivery.
	IdempotencyKey string
	// Actions offers Acknowledge and Resolve where the medium has buttons
	// or links; AckURL is the signed link for media without buttons.
	Actions bool
	AckURL  string
	// Ref, when set, is the channel's handle of an earlier message about
	// this incident (a Slack ts, a Telegram message id): the channel
	// updates that message in place instead of sending a new one. Mail
	// cannot change what it sent, so it sends a reply to that message.
	Ref string
	// Thread, when set, is the handle of an earlier message that this new
	// one answers: a reply in its Slack thread, a Telegram reply.
	Thread string
	// To, when set, sends to one person instead of the channel's
	// configured destination: a Slack member ID, a Telegram chat ID, an
	// email address. Channels without such an address ignore it.
	To string
}

// InPlace is a Notifier that changes the messages it sent when Ref is
// set (Slack's chat.update, Telegram's editMessageText) and answers one
// when Thread is set.
type InPlace interface {
	Notifier
	UpdatesInPlace()
}

// Result is what a delivery produced.
type Result struct {
	// Ref is the channel's handle of the message, for later updates.
	Ref string
}

// Notifier sends messages through one configured channel.
type Notifier interface {
	Notify(ctx context.Context, m Message) (Result, error)
}

// MaxText bounds the text a message carries; longer text is cut with a
// marker, never sent whole.
const MaxText = 3000

// Truncate cuts s to at most max bytes on a rune boundary, with a marker
// saying how much was left out.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	marker := fmt.Sprintf("… [%d bytes cut]", len(s))
	cut := max - len(marker)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// Error is a failed delivery, saying whether trying again may help.
type Error struct {
	// Status is the HTTP status, or 0 when the request got no answer.
	Status int
	// Retry says whether a later attempt may succeed: timeouts, 5xx and
	// 429. Other 4xx never succeed by repetition.
	Retry bool
	// After is how long the service asked to wait (Retry-After), or 0.
	After time.Duration
	Err   error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another attempt, and after how
// long the service asked for one (0: the caller's backoff decides).
func Retryable(err error) (bool, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Retry, e.After
	}
	// Not classified: a network or context error, worth a retry.
	return err != nil, 0
}

// FromResponse classifies an HTTP answer: nil for 2xx, else an *Error
// with Retry set for 5xx and 429 (with Retry-After honoured) and clear for
// other statuses. body is a short excerpt of the answer, for the message.
func FromResponse(resp *http.Response, body string, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &Error{Status: resp.StatusCode, Err: errors.New(strings.TrimSpace(Truncate(body, 300)))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Retry = true
		e.After = RetryAfter(resp.Header.Get("Retry-After"), now)
	case resp.StatusCode >= 500:
		e.Retry = true
		e.After = RetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return e
}

// RetryAfter parses a Retry-After header: seconds, or an HTTP date.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
