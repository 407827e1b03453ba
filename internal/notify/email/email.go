// Package email sends notifications as mail over SMTP with go-mail:
// STARTTLS (mandatory unless configured opportunistic), a plain-text part
// and an HTML part escaped by html/template, and, when the message carries
// one, a signed Acknowledge link (SignLink, VerifyLink) in both parts.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// TLSPolicy says whether the SMTP session must be upgraded with STARTTLS.
type TLSPolicy string

const (
	// TLSMandatory refuses to send when the server offers no STARTTLS.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSOpportunistic upgrades when the server offers STARTTLS and sends
	// in clear text otherwise.
	TLSOpportunistic TLSPolicy = "opportunistic"
)

// Config is a resolved `{type: email, smtp: "host:587", from, to: [...]}`
// target.
type Config struct {
	// SMTP is host:port of the submission server.
	SMTP string
	From string
	To   []string
	// Username and Password authenticate when set (PLAIN/LOGIN, chosen
	// from what the server offers, only over TLS).
	Username string
	Password string
	// StartTLS defaults to TLSMandatory.
	StartTLS TLSPolicy
	// TLSConfig verifies the server; nil uses the system roots. Its
	// ServerName defaults to the SMTP host.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command; default 15s.
	Timeout time.Duration
	// Location formats times in the mail; nil means UTC.
	Location *time.Location
	// Now defaults to time.Now.
	Now func() time.Time
}

// Notifier sends messages to one list of recipients.
type Notifier struct {
	cfg  Config
	host string
	port int
	from *mail.Address
	to   []*mail.Address
}

// New checks cfg and returns its notifier.
func New(cfg Config) (*Notifier, error) {
	host, portStr, err := net.SplitHostPort(cfg.SMTP)
	if err != nil || host == "" {
		return nil, fmt.Errorf("email: smtp %q: want host:port", cfg.SMTP)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("email: smtp %q: bad port", cfg.SMTP)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q: %w", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		return nil, errors.New("email: to: at least one recipient is needed")
	}
	n := &Notifier{cfg: cfg, host: host, port: port, from: from}
	for _, t := range cfg.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("email: to %q: %w", t, err)
		}
		n.to = append(n.to, a)
	}
	switch cfg.StartTLS {
	case "":
		n.cfg.StartTLS = TLSMandatory
	case TLSMandatory, TLSOpportunistic:
	default:
		return nil, fmt.Errorf("email: starttls %q: want mandatory or opportunistic", cfg.StartTLS)
	}
	if n.cfg.Timeout <= 0 {
		n.cfg.Timeout = 15 * time.Second
	}
	if n.cfg.Location == nil {
		n.cfg.Location = time.UTC
	}
	if n.cfg.Now == nil {
		n.cfg.Now = time.Now
	}
	return n, nil
}

// Notify sends m. The Result's Ref is the mail's Message-ID; a message
// with Ref set is sent as a reply to that one, so mail clients thread
// the updates of one incident.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Result, error) {
	msg, err := n.Build(m)
	if err != nil {
		return notify.Result{}, &notify.Error{Err: err}
	}
	// The port is always given, so go-mail's port-25 fallback never
	// applies: opportunistic means "upgrade if offered" on this port.
	policy := gomail.TLSMandatory
	if n.cfg.StartTLS == TLSOpportunistic {
		policy = gomail.TLSOpportunistic
	}
	opts := []gomail.Option{
		gomail.WithPort(n.port),
		gomail.WithTimeout(n.cfg.Timeout),
		gomail.WithTLSPolicy(policy),
	}
	tc := &tls.Config{ServerName: n.host, MinVersion: tls.VersionTLS12}
	if n.cfg.TLSConfig != nil {
		tc = n.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = n.host
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if n.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(n.cfg.Username), gomail.WithPassword(n.cfg.Password))
	}
	c, err := gomail.NewClient(n.host, opts...)
	if err != nil {
		return notify.Result{}, &notify.Error{Err: fmt.Errorf("email: client: %w", err)}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return notify.Result{}, classify(err)
	}
	return notify.Result{Ref: strings.Trim(msg.GetMessageID(), "<>")}, nil
}

// classify turns an SMTP failure into a *notify.Error: 4xx replies and
// network failures are worth another attempt, 5xx replies are not.
func classify(err error) error {
	e := &notify.Error{Retry: true, Err: fmt.Errorf("email: send: %w", err)}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch code := se.ErrorCode(); {
		case code >= 500:
			e.Retry = false
		case code >= 400:
			e.Retry = true
		default:
			e.Retry = se.IsTemp() || se.Reason == gomail.ErrConnCheck || se.Reason == gomail.ErrSMTPReset
		}
	}
	return e
}

// Build returns the mail for m, ready to send.
func (n *Notifier) Build(m notify.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, n.from)
	to := n.to
	if m.To != "" {
		a, err := mail.ParseAddress(m.To)
		if err != nil {
			return nil, fmt.Errorf("email: to %q: %w", m.To, err)
		}
		to = []*mail.Address{a}
	}
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to...)
	msg.Subject(Subject(m))
	msg.SetDateWithValue(n.cfg.Now())
	msg.SetMessageIDWithValue(n.messageID(m))
	if m.Ref != "" {
		ref := "<" + strings.Trim(m.Ref, "<>") + ">"
		msg.SetGenHeader(gomail.HeaderInReplyTo, ref)
		msg.SetGenHeader(gomail.HeaderReferences, ref)
	}
	// Tell vacation responders and ticket systems this is automatic.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if strings.EqualFold(m.Incident.Severity, "critical") && m.Event != notify.EventResolved {
		msg.SetImportance(gomail.ImportanceHigh)
	}
	msg.SetUserAgent("Firebreak")

	d := n.view(m)
	msg.SetBodyString(gomail.TypeTextPlain, textBody(d))
	var html bytes.Buffer
	if err := htmlTmpl.Execute(&html, d); err != nil {
		return nil, fmt.Errorf("email: render html: %w", err)
	}
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return msg, nil
}

// Subject is one line: the severity, the title and the incident number.
func Subject(m notify.Message) string {
	title := m.Title
	if title == "" {
		title = m.Incident.Title
	}
	title = strings.Join(strings.Fields(title), " ")
	var b strings.Builder
	switch {
	case m.Event == notify.EventResolved:
		b.WriteString("[RESOLVED] ")
	case m.Incident.Severity != "":
		b.WriteString("[" + strings.ToUpper(m.Incident.Severity) + "] ")
	}
	b.WriteString(notify.Truncate(title, 200))
	if m.Incident.ID != 0 {
		fmt.Fprintf(&b, " (#%d)", m.Incident.ID)
	}
	return b.String()
}

// messageID is derived from the idempotency key, so every attempt of one
// delivery carries the same Message-ID and a receiver can drop repeats.
func (n *Notifier) messageID(m notify.Message) string {
	domain := n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
	key := m.IdempotencyKey
	if key == "" {
		key = fmt.Sprintf("%d/%s/%d/%d", m.Incident.ID, m.Event, m.Level, n.cfg.Now().UnixNano())
	}
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("firebreak.%d.%s@%s", m.Incident.ID, hex.EncodeToString(sum[:12]), domain)
}

// view is what both parts show.
type view struct {
	Title, Text                      string
	ID                               int64
	Event, Severity, Status, Service string
	Responder, Started, URL, AckURL  string
	Level                            int
}

func (n *Notifier) view(m notify.Message) view {
	v := view{
		Title: Subject(m), Text: notify.Truncate(m.Text, notify.MaxText),
		ID: m.Incident.ID, Event: string(m.Event), Severity: m.Incident.Severity,
		Status: m.Incident.Status, Service: m.Incident.Service, Responder: m.Incident.Responder,
		URL: m.Incident.URL, AckURL: m.AckURL, Level: m.Level,
	}
	if !m.Incident.StartedAt.IsZero() {
		v.Started = m.Incident.StartedAt.In(n.cfg.Location).Format("2006-01-02 15:04 MST")
	}
	return v
}

func textBody(d view) string {
	var b strings.Builder
	b.WriteString(d.Title + "\n\n")
	if strings.TrimSpace(d.Text) != "" {
		b.WriteString(d.Text + "\n\n")
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-10s %s\n", k+":", v)
		}
	}
	if d.ID != 0 {
		line("Incident", "#"+strconv.FormatInt(d.ID, 10))
	}
	line("Event", d.Event)
	line("Severity", d.Severity)
	line("Status", d.Status)
	line("Service", d.Service)
	if d.Level > 0 {
		line("Level", strconv.Itoa(d.Level))
	}
	line("Responder", d.Responder)
	line("Started", d.Started)
	if d.URL != "" || d.AckURL != "" {
		b.WriteString("\n")
	}
	if d.URL != "" {
		fmt.Fprintf(&b, "Open the incident: %s\n", d.URL)
	}
	if d.AckURL != "" {
		fmt.Fprintf(&b, "Acknowledge: %s\n", d.AckURL)
	}
	return b.String()
}

var htmlTmpl = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">
<h2 style="margin:0 0 12px">{{.Title}}</h2>
{{- if .Text}}
<pre style="white-space:pre-wrap;font-family:inherit;background:#f6f8fa;padding:8px">{{.Text}}</pre>
{{- end}}
<table cellpadding="2">
{{- if .ID}}<tr><th align="left">Incident</th><td>#{{.ID}}</td></tr>{{end}}
{{- if .Event}}<tr><th align="left">Event</th><td>{{.Event}}</td></tr>{{end}}
{{- if .Severity}}<tr><th align="left">Severity</th><td>{{.Severity}}</td></tr>{{end}}
{{- if .Status}}<tr><th align="left">Status</th><td>{{.Status}}</td></tr>{{end}}
{{- if .Service}}<tr><th align="left">Service</th><td>{{.Service}}</td></tr>{{end}}
{{- if .Level}}<tr><th align="left">Level</th><td>{{.Level}}</td></tr>{{end}}
{{- if .Responder}}<tr><th align="left">Responder</th><td>{{.Responder}}</td></tr>{{end}}
{{- if .Started}}<tr><th align="left">Started</th><td>{{.Started}}</td></tr>{{end}}
</table>
<p>
{{- if .URL}}<a href="{{.URL}}">Open the incident</a>{{end}}
{{- if and .URL .AckURL}} &middot; {{end}}
{{- if .AckURL}}<a href="{{.AckURL}}" style="font-weight:bold">Acknowledge</a>{{end}}
</p>
</body></html>
`))
