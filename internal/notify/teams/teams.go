// Package teams posts notifications to a Microsoft Teams channel through a
// Workflows ("When a Teams webhook request is received") or legacy incoming
// webhook URL, as a message carrying one Adaptive Card.
//
// Workflows accept only Adaptive Cards, wrapped as
// {"type":"message","attachments":[{"contentType":
// "application/vnd.microsoft.card.adaptive","content":{…card…}}]}.
// TextBlocks render a subset of Markdown, so alert text is escaped before it
// goes into one.
package teams

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// Config is a resolved `{type: teams, url_env}` target.
type Config struct {
	// URL is the value of url_env. It embeds a signature granting the
	// right to post, so it never appears in errors.
	URL string
	// Client defaults to a client with a 10s timeout.
	Client *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
	// Limiter, shared by every Teams notifier, keeps posts within four a
	// second per webhook; nil limits nothing.
	Limiter *notify.Limiter
}

// Notifier posts messages to one Teams webhook.
type Notifier struct {
	url     string
	limiter *notify.Limiter
	// key names the webhook for the limiter without its secret.
	key    string
	client *http.Client
	now    func() time.Time
}

// New checks cfg and returns its notifier.
func New(cfg Config) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("teams: url must be an absolute https URL")
	}
	sum := sha256.Sum256([]byte(cfg.URL))
	n := &Notifier{url: cfg.URL, client: cfg.Client, now: cfg.Now, limiter: cfg.Limiter, key: "teams/" + hex.EncodeToString(sum[:8])}
	if n.client == nil {
		n.client = &http.Client{Timeout: 10 * time.Second}
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// Wire shapes of a Teams webhook message.
type (
	Envelope struct {
		Type        string       `json:"type"`
		Attachments []Attachment `json:"attachments"`
	}
	Attachment struct {
		ContentType string `json:"contentType"`
		Content     Card   `json:"content"`
	}
	Card struct {
		Schema  string    `json:"$schema"`
		Type    string    `json:"type"`
		Version string    `json:"version"`
		Body    []Element `json:"body"`
		Actions []Action  `json:"actions,omitempty"`
		MSTeams *MSTeams  `json:"msteams,omitempty"`
	}
	// Element is a TextBlock or a FactSet.
	Element struct {
		Type    string `json:"type"`
		Text    string `json:"text,omitempty"`
		Size    string `json:"size,omitempty"`
		Weight  string `json:"weight,omitempty"`
		Color   string `json:"color,omitempty"`
		Wrap    bool   `json:"wrap,omitempty"`
		Spacing string `json:"spacing,omitempty"`
		Facts   []Fact `json:"facts,omitempty"`
	}
	Fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	Action struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		URL   string `json:"url"`
	}
	MSTeams struct {
		Width string `json:"width,omitempty"`
	}
)

const (
	cardContentType = "application/vnd.microsoft.card.adaptive"
	cardSchema      = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion     = "1.4"
)

// NewEnvelope builds the message for m.
func NewEnvelope(m notify.Message) Envelope {
	inc := m.Incident
	title := m.Title
	if title == "" {
		title = inc.Title
	}
	heading := Element{Type: "TextBlock", Size: "Medium", Weight: "Bolder", Wrap: true,
		Text: Escape(strings.TrimSpace(fmt.Sprintf("%s %s", severityTag(inc.Severity), notify.Truncate(title, 300))))}
	if c := severityColor(inc.Severity, m.Event); c != "" {
		heading.Color = c
	}
	facts := []Fact{}
	add := func(k, v string) {
		if v != "" {
			facts = append(facts, Fact{Title: k, Value: Escape(notify.Truncate(v, 200))})
		}
	}
	if inc.ID != 0 {
		add("Incident", "#"+strconv.FormatInt(inc.ID, 10))
	}
	add("Event", string(m.Event))
	add("Severity", inc.Severity)
	add("Status", inc.Status)
	add("Service", inc.Service)
	if m.Level > 0 {
		add("Escalation level", strconv.Itoa(m.Level))
	}
	add("Responder", inc.Responder)
	if !inc.StartedAt.IsZero() {
		add("Started", inc.StartedAt.UTC().Format("2006-01-02 15:04 MST"))
	}
	body := []Element{heading}
	if len(facts) > 0 {
		body = append(body, Element{Type: "FactSet", Facts: facts})
	}
	if text := notify.Truncate(m.Text, notify.MaxText); strings.TrimSpace(text) != "" {
		// One TextBlock per line: Teams joins single newlines inside a
		// TextBlock, and a block per line keeps the template's layout.
		for i, line := range strings.Split(text, "\n") {
			e := Element{Type: "TextBlock", Text: Escape(line), Wrap: true, Spacing: "None"}
			if i == 0 {
				e.Spacing = "Medium"
			}
			if e.Text == "" {
				e.Text = " "
			}
			body = append(body, e)
		}
	}
	var actions []Action
	if inc.URL != "" {
		actions = append(actions, Action{Type: "Action.OpenUrl", Title: "Open incident", URL: inc.URL})
	}
	if m.AckURL != "" {
		actions = append(actions, Action{Type: "Action.OpenUrl", Title: "Acknowledge", URL: m.AckURL})
	}
	return Envelope{
		Type: "message",
		Attachments: []Attachment{{
			ContentType: cardContentType,
			Content: Card{
				Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion,
				Body: body, Actions: actions, MSTeams: &MSTeams{Width: "Full"},
			},
		}},
	}
}

// Notify posts m. A failed delivery is a *notify.Error saying whether to
// retry. Teams webhooks return no message handle, so m.Ref is ignored and
// every message is new.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Result, error) {
	body, err := json.Marshal(NewEnvelope(m))
	if err != nil {
		return notify.Result{}, &notify.Error{Err: fmt.Errorf("teams: encode: %w", err)}
	}
	if err := n.limiter.Wait(ctx, n.key, notify.TeamsPerWebhook); err != nil {
		return notify.Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return notify.Result{}, &notify.Error{Err: errors.New("teams: cannot build request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Firebreak-Teams/1")
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err) // the URL is a credential
		}
		return notify.Result{}, &notify.Error{Retry: true, Err: fmt.Errorf("teams: post: %w", err)}
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err := notify.FromResponse(resp, string(excerpt), n.now()); err != nil {
		return notify.Result{}, fmt.Errorf("teams: %w", err)
	}
	return notify.Result{}, nil
}

// Escape neutralises the Markdown a TextBlock renders (emphasis, links,
// headings, lists, code) with backslashes, so alert text shows as written
// and cannot forge links. It also breaks "{{" so Adaptive Card date/time
// functions such as {{DATE(…)}} are not evaluated.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	lineStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '*', '_', '[', ']', '(', ')', '`', '~', '<', '>', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '-', '+', '#':
			// A list item or heading only at the start of a line and
			// before a space ("#42" is no heading).
			if lineStart && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t' || s[i+1] == c) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '.':
			// "1. item" is an ordered list: escape the dot after leading digits.
			if onlyDigitsBefore(s, i) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '{':
			b.WriteByte(c)
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteString("\u200b")
			}
		case '\r':
			// dropped: a bare CR would start a new line in some clients
		default:
			b.WriteByte(c)
		}
		if c == '\n' {
			lineStart = true
		} else if c != ' ' && c != '\t' {
			lineStart = false
		}
	}
	return b.String()
}

// onlyDigitsBefore reports whether s[i] follows one or more digits that
// start a line (after optional spaces).
func onlyDigitsBefore(s string, i int) bool {
	j := i
	for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
		j--
	}
	if j == i {
		return false
	}
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return j == 0 || s[j-1] == '\n'
}

func severityTag(sev string) string {
	if sev == "" {
		return ""
	}
	return "[" + strings.ToUpper(sev) + "]"
}

func severityColor(sev string, ev notify.Event) string {
	if ev == notify.EventResolved {
		return "Good"
	}
	switch strings.ToLower(sev) {
	case "critical":
		return "Attention"
	case "warning":
		return "Warning"
	}
	return ""
}
