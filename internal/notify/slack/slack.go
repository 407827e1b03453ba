// Package slack sends incident messages to Slack, either through the Web
// API (chat.postMessage, then chat.update on the same message) with
// Acknowledge and Resolve buttons, or through a plain incoming webhook. It
// also verifies and decodes the interactivity requests Slack sends when a
// button is pressed.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// DefaultAPIURL is the Web API base when Config.APIURL is empty.
const DefaultAPIURL = "https://slack.com/api"

// Action ids of the buttons; ParseAction maps them back to "ack" and
// "resolve".
const (
	ActionAck     = "fb_ack"
	ActionResolve = "fb_resolve"
)

// Slack's limits on block text, in characters; we count bytes, which is
// stricter.
const (
	maxHeader  = 150
	maxSection = 3000
	maxField   = 2000
)

// Config is a resolved Slack target: secrets already read from the
// environment.
type Config struct {
	// Token and Channel select the Web API mode.
	Token   string
	Channel string
	// APIURL is the Web API base, without a trailing slash.
	APIURL string
	// WebhookURL selects the incoming-webhook mode: text only, no
	// buttons, no updates in place.
	WebhookURL string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
	// Limiter, shared by every Slack notifier, keeps posts within Slack's
	// one message per second per channel; nil limits nothing.
	Limiter *notify.Limiter
}

// Notifier delivers messages to one Slack channel or webhook.
type Notifier struct {
	cfg  Config
	api  *slackapi.Client
	http *http.Client
	now  func() time.Time
}

var _ notify.InPlace = (*Notifier)(nil)

// UpdatesInPlace marks the Web API mode's chat.update.
func (n *Notifier) UpdatesInPlace() {}

// New checks cfg and builds a Notifier.
func New(cfg Config) (*Notifier, error) {
	if cfg.WebhookURL == "" && (cfg.Token == "" || cfg.Channel == "") {
		return nil, errors.New("slack: need a webhook URL, or a token and a channel")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	n := &Notifier{cfg: cfg, http: cfg.HTTPClient, now: cfg.Now}
	if n.http == nil {
		n.http = &http.Client{Timeout: 10 * time.Second}
	}
	if n.now == nil {
		n.now = time.Now
	}
	if cfg.WebhookURL == "" {
		n.api = slackapi.New(cfg.Token,
			slackapi.OptionAPIURL(cfg.APIURL+"/"),
			slackapi.OptionHTTPClient(headerCapture{n.http}),
		)
	}
	return n, nil
}

// Notify posts m, or updates the message m.Ref names. Result.Ref is
// "channel:ts" in the Web API mode and empty in the webhook mode.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Result, error) {
	if n.api == nil {
		return notify.Result{}, n.webhook(ctx, m)
	}
	got := &captured{}
	ctx = context.WithValue(ctx, captureKey{}, got)
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(fallback(m), false),
		slackapi.MsgOptionBlocks(Blocks(m)...),
	}
	var (
		channel, ts string
		err         error
		method      = "chat.postMessage"
	)
	target := n.cfg.Channel
	if m.To != "" {
		target = m.To
	}
	if m.Thread != "" {
		threadChannel, threadTS, ok := strings.Cut(m.Thread, ":")
		if !ok || threadChannel == "" || threadTS == "" {
			return notify.Result{}, &notify.Error{Err: fmt.Errorf("slack: bad thread ref %q", m.Thread)}
		}
		target = threadChannel
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	if m.Ref != "" {
		method = "chat.update"
		refChannel, refTS, ok := strings.Cut(m.Ref, ":")
		if !ok || refChannel == "" || refTS == "" {
			return notify.Result{}, &notify.Error{Err: fmt.Errorf("slack: bad message ref %q", m.Ref)}
		}
		if err := n.cfg.Limiter.Wait(ctx, "slack/"+refChannel, notify.SlackPerChannel); err != nil {
			return notify.Result{}, err
		}
		channel, ts, _, err = n.api.UpdateMessageContext(ctx, refChannel, refTS, opts...)
		if err == nil && channel == "" {
			channel = refChannel
		}
		if err == nil && ts == "" {
			ts = refTS
		}
	} else {
		if err := n.cfg.Limiter.Wait(ctx, "slack/"+target, notify.SlackPerChannel); err != nil {
			return notify.Result{}, err
		}
		channel, ts, err = n.api.PostMessageContext(ctx, target, opts...)
	}
	if err != nil {
		return notify.Result{}, classify(method, err, got, n.now())
	}
	return notify.Result{Ref: channel + ":" + ts}, nil
}

func (n *Notifier) webhook(ctx context.Context, m notify.Message) error {
	text := "*" + Escape(m.Title) + "*\n" + fitEscaped(m.Text, notify.MaxText)
	if m.AckURL != "" {
		text += "\n<" + Escape(m.AckURL) + "|Acknowledge>"
	}
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return &notify.Error{Err: fmt.Errorf("slack webhook: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		// The URL carries the webhook's secret: never print it.
		return &notify.Error{Err: errors.New("slack webhook: bad webhook URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("slack webhook: %w", redactURL(err))
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return notify.FromResponse(resp, string(excerpt), n.now())
}

// redactURL drops the URL from a transport error: a webhook URL is a
// secret.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// transient are the ok:false codes a later attempt may get past; every
// other code (invalid_auth, not_authed, channel_not_found, …) is permanent.
var transient = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
}

// classify turns a slack-go error into a notify.Error. Slack answers API
// errors as HTTP 200 with ok:false and a code; rate limits as 429 with
// Retry-After (sometimes as ok:false "ratelimited" with the header).
func classify(method string, err error, got *captured, now time.Time) error {
	after := notify.RetryAfter(got.header.Get("Retry-After"), now)
	var (
		apiErr  slackapi.SlackErrorResponse
		rateErr *slackapi.RateLimitedError
		codeErr slackapi.StatusCodeError
	)
	switch {
	case errors.As(err, &apiErr):
		return &notify.Error{Status: got.status, Retry: transient[apiErr.Err], After: after,
			Err: fmt.Errorf("slack %s: %s", method, apiErr.Err)}
	case errors.As(err, &rateErr):
		if after == 0 {
			after = rateErr.RetryAfter
		}
		return &notify.Error{Status: http.StatusTooManyRequests, Retry: true, After: after,
			Err: fmt.Errorf("slack %s: rate limited", method)}
	case errors.As(err, &codeErr):
		retry := codeErr.Code >= 500 || codeErr.Code == http.StatusTooManyRequests
		if !retry {
			after = 0
		}
		return &notify.Error{Status: codeErr.Code, Retry: retry, After: after,
			Err: fmt.Errorf("slack %s: %s", method, codeErr.Status)}
	case got.status == http.StatusTooManyRequests:
		// slack-go fails to parse a Retry-After that is an HTTP date.
		return &notify.Error{Status: got.status, Retry: true, After: after,
			Err: fmt.Errorf("slack %s: rate limited", method)}
	case got.status == http.StatusOK:
		// An answer that did not decode: a proxy's page, not Slack.
		return &notify.Error{Status: got.status, Retry: true, Err: fmt.Errorf("slack %s: %w", method, err)}
	}
	// No answer: network or context error; notify.Retryable retries it.
	return fmt.Errorf("slack %s: %w", method, err)
}

// headerCapture records the status and headers of the answer into the
// request's context, so that Retry-After can be honoured on answers
// slack-go turns into errors without it.
type headerCapture struct{ c *http.Client }

type captureKey struct{}

type captured struct {
	status int
	header http.Header
}

func (h headerCapture) Do(req *http.Request) (*http.Response, error) {
	resp, err := h.c.Do(req)
	if resp != nil {
		if c, ok := req.Context().Value(captureKey{}).(*captured); ok {
			c.status, c.header = resp.StatusCode, resp.Header.Clone()
		}
	}
	return resp, err
}

// Blocks renders m as Block Kit: a header, the text, the incident's
// fields, and when m.Actions the Acknowledge and Resolve buttons.
func Blocks(m notify.Message) []slackapi.Block {
	inc := m.Incident
	title := m.Title
	if title == "" {
		title = inc.Title
	}
	if inc.Severity != "" {
		title = "[" + inc.Severity + "] " + title
	}
	blocks := []slackapi.Block{
		// plain_text is shown as is: no escaping.
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, notify.Truncate(title, maxHeader), false, false)),
	}
	if strings.TrimSpace(m.Text) != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(
			slackapi.NewTextBlockObject(slackapi.MarkdownType, fitEscaped(m.Text, maxSection), false, true), nil, nil))
	}
	var fields []*slackapi.TextBlockObject
	for _, f := range []struct{ name, value string }{
		{"Service", inc.Service},
		{"Severity", inc.Severity},
		{"Status", inc.Status},
		{"Responder", inc.Responder},
	} {
		if f.value == "" {
			continue
		}
		fields = append(fields, slackapi.NewTextBlockObject(slackapi.MarkdownType,
			"*"+f.name+":*\n"+fitEscaped(f.value, maxField-len(f.name)-5), false, true))
	}
	if inc.URL != "" {
		fields = append(fields, slackapi.NewTextBlockObject(slackapi.MarkdownType,
			"*Incident:*\n<"+Escape(inc.URL)+"|#"+strconv.FormatInt(inc.ID, 10)+">", false, true))
	}
	if len(fields) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
	}
	if m.Actions {
		id := strconv.FormatInt(inc.ID, 10)
		ack := slackapi.NewButtonBlockElement(ActionAck, id,
			slackapi.NewTextBlockObject(slackapi.PlainTextType, "Acknowledge", false, false)).WithStyle(slackapi.StylePrimary)
		resolve := slackapi.NewButtonBlockElement(ActionResolve, id,
			slackapi.NewTextBlockObject(slackapi.PlainTextType, "Resolve", false, false))
		blocks = append(blocks, slackapi.NewActionBlock("", ack, resolve))
	}
	return blocks
}

// fallback is the top-level text, shown in notifications and by clients
// that cannot render blocks.
func fallback(m notify.Message) string {
	title := m.Title
	if title == "" {
		title = m.Incident.Title
	}
	return fitEscaped(title, maxSection)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s safe in mrkdwn: Slack gives &, < and > control meaning
// (links, mentions) and asks for exactly these three to be escaped.
func Escape(s string) string { return escaper.Replace(s) }

// fitEscaped truncates s so that its escaped form fits max bytes; the cut
// is made before escaping so an entity is never split.
func fitEscaped(s string, max int) string {
	budget := max
	for {
		e := Escape(notify.Truncate(s, budget))
		if len(e) <= max || budget <= 0 {
			return e
		}
		budget -= len(e) - max
	}
}
