// Package webhook delivers notifications as signed JSON POSTs to a
// receiver the team runs. The body is signed with HMAC-SHA256 so the
// receiver can tell a Firebreak message from a forged one; Sign and Verify
// are exported for receivers written in Go and for tests.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// Header names a receiver reads.
const (
	SignatureHeader   = "X-Firebreak-Signature"
	IdempotencyHeader = "Idempotency-Key"
	// UserAgent identifies Firebreak to the receiver.
	UserAgent = "Firebreak-Webhook/1"
)

// Config is a resolved `{type: webhook, url, secret_env}` target.
type Config struct {
	URL string
	// Secret is the value of secret_env. Empty sends no signature header;
	// receivers should then not trust the body.
	Secret []byte
	// Client defaults to a client with a 10s timeout.
	Client *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// Notifier posts messages to one webhook URL.
type Notifier struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// New checks cfg and returns its notifier.
func New(cfg Config) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may carry a token: do not repeat it.
		return nil, errors.New("webhook: url must be an absolute http or https URL")
	}
	n := &Notifier{url: cfg.URL, secret: cfg.Secret, client: cfg.Client, now: cfg.Now}
	if n.client == nil {
		n.client = &http.Client{Timeout: 10 * time.Second}
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// Payload is the JSON body a receiver gets.
type Payload struct {
	Event    notify.Event    `json:"event"`
	Incident notify.Incident `json:"incident"`
	Level    int             `json:"level"`
	Title    string          `json:"title"`
	// Text is the rendered template, cut to notify.MaxText bytes.
	Text           string    `json:"text"`
	AckURL         string    `json:"ack_url,omitempty"`
	IdempotencyKey string    `json:"idempotency_key"`
	SentAt         time.Time `json:"sent_at"`
}

// NewPayload builds the body for m as sent at now.
func NewPayload(m notify.Message, now time.Time) Payload {
	return Payload{
		Event:          m.Event,
		Incident:       m.Incident,
		Level:          m.Level,
		Title:          m.Title,
		Text:           notify.Truncate(m.Text, notify.MaxText),
		AckURL:         m.AckURL,
		IdempotencyKey: m.IdempotencyKey,
		SentAt:         now.UTC(),
	}
}

// Notify posts m. A failed delivery is a *notify.Error saying whether to
// retry.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Result, error) {
	now := n.now()
	body, err := json.Marshal(NewPayload(m, now))
	if err != nil {
		return notify.Result{}, &notify.Error{Err: fmt.Errorf("webhook: encode: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return notify.Result{}, &notify.Error{Err: errors.New("webhook: cannot build request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	if m.IdempotencyKey != "" {
		req.Header.Set(IdempotencyHeader, m.IdempotencyKey)
	}
	if len(n.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(n.secret, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return notify.Result{}, &notify.Error{Retry: true, Err: fmt.Errorf("webhook: post: %w", stripURL(err))}
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if err := notify.FromResponse(resp, string(excerpt), n.now()); err != nil {
		return notify.Result{}, fmt.Errorf("webhook: %w", err)
	}
	return notify.Result{}, nil
}

// Sign returns the X-Firebreak-Signature value for body:
// "sha256=" and the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is body's signature under secret. The
// comparison takes the same time wherever the values differ.
func Verify(secret, body []byte, header string) bool {
	hexsig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(hexsig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// stripURL drops the request URL from a transport error: webhook URLs
// often carry a token, and errors end up in logs and the UI.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
