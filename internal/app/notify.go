package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/chat"
	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/escalation"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/notify/email"
	"github.com/firebreak-dev/firebreak/internal/notify/slack"
	"github.com/firebreak-dev/firebreak/internal/notify/teams"
	"github.com/firebreak-dev/firebreak/internal/notify/telegram"
	"github.com/firebreak-dev/firebreak/internal/notify/template"
	"github.com/firebreak-dev/firebreak/internal/notify/webhook"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
)

// secret reads a channel's secret from the environment variable its
// configuration names, or says which variable to set.
func secret(getenv func(string) string, at, field, name, what string) (string, error) {
	if name == "" {
		return "", nil
	}
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s.%s: environment variable %s is empty or unset; export it with %s", at, field, name, what)
	}
	return v, nil
}

// NewNotifiers builds one notifier per configured channel. lim, shared by
// all, keeps each service's documented rate limits.
func NewNotifiers(c *config.Config, getenv func(string) string, now func() time.Time, lim *notify.Limiter) (map[string]notify.Notifier, error) {
	out := make(map[string]notify.Notifier, len(c.Notify.Channels))
	for name, ch := range c.Notify.Channels {
		at := "notify.channels." + name
		var (
			n   notify.Notifier
			err error
		)
		switch ch.Type {
		case "webhook":
			var s string
			if s, err = secret(getenv, at, "secret_env", ch.SecretEnv, "the HMAC secret receivers verify"); err == nil {
				n, err = webhook.New(webhook.Config{URL: ch.URL, Secret: []byte(s), Now: now})
			}
		case "teams":
			url := ch.URL
			if ch.URLEnv != "" {
				url, err = secret(getenv, at, "url_env", ch.URLEnv, "the Teams workflow webhook URL")
			}
			if err == nil {
				n, err = teams.New(teams.Config{URL: url, Now: now, Limiter: lim})
			}
		case "email":
			var pw string
			if pw, err = secret(getenv, at, "password_env", ch.PasswordEnv, "the SMTP password"); err == nil {
				tls := email.TLSMandatory
				if ch.TLS == "opportunistic" {
					tls = email.TLSOpportunistic
				}
				n, err = email.New(email.Config{SMTP: ch.SMTP, From: ch.From, To: ch.To, Username: ch.Username, Password: pw, StartTLS: tls})
			}
		case "slack":
			cfg := slack.Config{Channel: ch.Channel, APIURL: ch.APIURL, WebhookURL: ch.WebhookURL, Now: now, Limiter: lim}
			if ch.WebhookURLEnv != "" {
				cfg.WebhookURL, err = secret(getenv, at, "webhook_url_env", ch.WebhookURLEnv, "the Slack incoming webhook URL")
			}
			if err == nil && ch.TokenEnv != "" {
				cfg.Token, err = secret(getenv, at, "token_env", ch.TokenEnv, "the Slack bot token (xoxb-…)")
			}
			if err == nil {
				n, err = slack.New(cfg)
			}
		case "telegram":
			var tok string
			if tok, err = secret(getenv, at, "bot_token_env", ch.BotTokenEnv, "the bot token from @BotFather"); err == nil {
				n, err = telegram.New(telegram.Config{Token: tok, ChatID: ch.ChatID, APIURL: ch.APIURL, Now: now, Limiter: lim})
			}
		default:
			err = fmt.Errorf("%s.type: %q is not webhook, telegram, slack, email or teams", at, ch.Type)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), at) {
				err = fmt.Errorf("%s: %w", at, err)
			}
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

// CustomerChannels are the channels customer communication may go
// through: notify.customer, else every email and webhook channel.
func CustomerChannels(c *config.Config, notifiers map[string]notify.Notifier) map[string]notify.Notifier {
	out := map[string]notify.Notifier{}
	if len(c.Notify.Customer) > 0 {
		for _, name := range c.Notify.Customer {
			out[name] = notifiers[name]
		}
		return out
	}
	for name, ch := range c.Notify.Channels {
		if ch.Type == "email" || ch.Type == "webhook" {
			out[name] = notifiers[name]
		}
	}
	return out
}

// Policies turns the configured escalation policies into the engine's,
// named ones first and "default" last, so that a policy for a service or
// severity wins over the default.
func Policies(c *config.Config) []escalation.Policy {
	names := make([]string, 0, len(c.Escalation))
	for name := range c.Escalation {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "default") != (names[j] == "default") {
			return names[j] == "default"
		}
		return names[i] < names[j]
	})
	var out []escalation.Policy
	for _, name := range names {
		p := c.Escalation[name]
		var on []notify.Event
		for _, ev := range p.NotifyOn {
			on = append(on, notify.Event(ev))
		}
		out = append(out, escalation.Policy{Name: name, Levels: p.Levels, Repeat: p.Repeat, Severities: p.Severities, Services: p.Services,
			NotifyOn: on})
	}
	return out
}

// Templates reads the channels' own templates (template, template_file),
// which replace the playbook's for that channel.
func Templates(c *config.Config, readFile func(string) ([]byte, error)) (map[string]*playbook.Template, error) {
	out := map[string]*playbook.Template{}
	for name, ch := range c.Notify.Channels {
		body := ch.Template
		if ch.TemplateFile != "" {
			b, err := readFile(ch.TemplateFile)
			if err != nil {
				return nil, fmt.Errorf("notify.channels.%s.template_file: %w", name, err)
			}
			body = string(b)
		}
		if strings.TrimSpace(body) != "" {
			out[name] = playbook.ParseTemplate(name, body)
		}
	}
	return out, nil
}

// internalTemplate is the playbook's internal alert template: the first
// whose name says "internal", else the first that is not for customers.
func internalTemplate(lib *playbook.Library) *playbook.Template {
	var tpl *playbook.Template
	for _, pb := range lib.Playbooks() {
		for _, t := range pb.Templates {
			name := strings.ToLower(t.Name)
			if strings.Contains(name, "internal") {
				return t
			}
			if tpl == nil && !strings.Contains(name, "customer") {
				tpl = t
			}
		}
		if tpl != nil {
			return tpl
		}
	}
	return nil
}

// TemplateValues are what an incident fills a template with.
func TemplateValues(inc *incident.Incident, url string) template.Values {
	return template.Values{
		AlertName: inc.Title, Severity: string(inc.Severity), Service: inc.Service, Status: string(inc.Status),
		StartedAt: inc.StartedAt, Responder: inc.Responder, ETA: inc.ETA, Impact: inc.Impact, IncidentURL: url,
	}
}

// TemplateRenderer renders a message with the channel's own template, else
// the playbook's internal alert template, else a plain summary. Customer
// communication is never sent by the engine.
func TemplateRenderer(lib *playbook.Library, own map[string]*playbook.Template) func(channel string, m *notify.Message, inc *incident.Incident) string {
	return func(channel string, m *notify.Message, inc *incident.Incident) string {
		tpl := own[channel]
		if tpl == nil {
			tpl = internalTemplate(lib)
		}
		if tpl == nil {
			return fmt.Sprintf("%s\nSeverity: %s\nService: %s\nStatus: %s\n%s", inc.Title, inc.Severity, inc.Service, inc.Status, m.Incident.URL)
		}
		return template.Render(tpl, TemplateValues(inc, m.Incident.URL))
	}
}

// Contacts returns how pages reach a person's own contact methods: through
// the carrier channel of each kind (notify.contacts, else the first channel
// of that type by name), and Teams through the person's own webhook.
func Contacts(c *config.Config, notifiers map[string]notify.Notifier, now func() time.Time, lim *notify.Limiter) func(oncall.ContactKind, string) (escalation.Contact, error) {
	carrier := map[oncall.ContactKind]string{}
	names := slices.Sorted(maps.Keys(c.Notify.Channels))
	for _, kind := range []oncall.ContactKind{oncall.ContactEmail, oncall.ContactSlack, oncall.ContactTelegram} {
		if name, ok := c.Notify.Contacts[string(kind)]; ok {
			carrier[kind] = name
			continue
		}
		for _, name := range names {
			ch := c.Notify.Channels[name]
			if ch.Type == string(kind) && (kind != oncall.ContactSlack || ch.TokenEnv != "") {
				carrier[kind] = name
				break
			}
		}
	}
	return func(kind oncall.ContactKind, address string) (escalation.Contact, error) {
		if kind == oncall.ContactTeams {
			n, err := teams.New(teams.Config{URL: address, Now: now, Limiter: lim})
			if err != nil {
				return escalation.Contact{}, errors.New("the user's teams_webhook is not a usable URL")
			}
			return escalation.Contact{Notifier: n}, nil
		}
		name, ok := carrier[kind]
		if !ok {
			return escalation.Contact{}, fmt.Errorf("no %s channel is configured to carry it; add one under notify.channels (or name one in notify.contacts.%s)", kind, kind)
		}
		return escalation.Contact{Notifier: notifiers[name], To: address, Channel: name}, nil
	}
}

// NewChat builds the handler of chat buttons: the Slack channels' signing
// secrets and the Telegram bots, with the users whose chat accounts are
// linked. Telegram channels that poll get a poller each, run until ctx ends.
// The Telegram clients are the notifiers NewNotifiers built.
func NewChat(ctx context.Context, c *config.Config, getenv func(string) string, notifiers map[string]notify.Notifier, lifecycle *respond.Service, users chat.Users, linkSecret []byte, log *slog.Logger) (*chat.Handler, error) {
	cfg := chat.Config{Respond: lifecycle, Users: users, SlackSecrets: map[string]string{}, Telegram: map[string]chat.Telegram{},
		LinkSecret: linkSecret, Logger: log}
	var pollers []*telegram.Poller
	for name, ch := range c.Notify.Channels {
		at := "notify.channels." + name
		switch ch.Type {
		case "slack":
			if ch.SigningSecretEnv == "" {
				continue
			}
			s, err := secret(getenv, at, "signing_secret_env", ch.SigningSecretEnv, "the Slack app's signing secret")
			if err != nil {
				return nil, err
			}
			cfg.SlackSecrets[name] = s
		case "telegram":
			client, ok := notifiers[name].(*telegram.Client)
			if !ok {
				return nil, fmt.Errorf("%s: no Telegram client was built for it", at)
			}
			bot := chat.Telegram{Client: client}
			var err error
			if ch.Updates == "webhook" {
				if bot.SecretToken, err = secret(getenv, at, "webhook_secret_env", ch.WebhookSecretEnv, "the webhook's secret token"); err != nil {
					return nil, err
				}
			}
			cfg.Telegram[name] = bot
			if ch.Updates == "poll" {
				pollers = append(pollers, &telegram.Poller{Client: client, Logger: log})
			}
		}
	}
	h := chat.New(cfg)
	for _, p := range pollers {
		bot := chat.Telegram{Client: p.Client}
		p.Handle = func(ctx context.Context, u telegram.Update) error { return h.HandleTelegram(ctx, bot, u) }
		go func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "poll Telegram for button presses", "err", err)
			}
		}()
	}
	return h, nil
}

// AckLinks gives email pages a signed Acknowledge link, valid for a day,
// naming the mailbox it goes to: the person's address for a page to a
// person, else the channel's recipients.
func AckLinks(c *config.Config, publicURL string, secret []byte, now func() time.Time) func(channel, to string, incidentID int64) string {
	return func(channel, to string, incidentID int64) string {
		ch, ok := c.Notify.Channels[channel]
		if !ok || ch.Type != "email" || len(secret) == 0 {
			return ""
		}
		if to == "" {
			to = strings.Join(ch.To, ",")
		}
		return email.SignLink(strings.TrimSuffix(publicURL, "/")+chat.EmailLinkPath, secret, incidentID, "ack", to, now().Add(24*time.Hour))
	}
}

// LinkSecret reads the key that signs links in mail from DATA_DIR/link-secret,
// creating it (0600) on first start.
func LinkSecret(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, "link-secret")
	if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return bytes.TrimSpace(b), nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(raw[:]))
	if err := os.WriteFile(p, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", p, err)
	}
	return secret, nil
}
