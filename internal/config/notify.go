package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Notify configures the channels notifications go through. Secrets come
// from environment variables (the *_env fields), never from this file.
type Notify struct {
	Channels map[string]Channel `yaml:"channels"`
	// Storm bundles openings per channel: past Threshold incidents opened
	// within Window (default 5 per 1m), the rest of the window's go out as
	// one summary when it ends.
	Storm struct {
		Threshold int      `yaml:"threshold"`
		Window    Duration `yaml:"window"`
	} `yaml:"storm"`
	// Contacts name the channel whose credentials carry a page to a
	// person's own contact method, by kind (email, slack, telegram): the
	// Slack bot that writes to a member, the Telegram bot that writes to a
	// user's chat, the SMTP server that mails them. Unset kinds use the
	// first configured channel of that type, by name. Teams contacts are
	// webhooks of their own and need no carrier.
	Contacts map[string]string `yaml:"contacts"`
	// Customer names the channels a responder may send customer
	// communication through (by hand, never automatically); default every
	// email and webhook channel.
	Customer []string `yaml:"customer"`
}

// Channel is one place notifications go: a chat, a mailbox, a webhook.
// Which fields apply depends on Type.
type Channel struct {
	// Type is webhook, telegram, slack, email or teams.
	Type string `yaml:"type"`
	// webhook: URL and the HMAC secret's variable. teams: URL or URLEnv.
	// slack: WebhookURL or WebhookURLEnv for the plain incoming-webhook mode.
	URL       string `yaml:"url"`
	URLEnv    string `yaml:"url_env"`
	SecretEnv string `yaml:"secret_env"`
	// telegram: the bot token's variable and the chat; slack: the bot
	// token's variable, the channel and the signing secret's variable.
	BotTokenEnv      string `yaml:"bot_token_env"`
	ChatID           string `yaml:"chat_id"`
	TokenEnv         string `yaml:"token_env"`
	Channel          string `yaml:"channel"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	WebhookURL       string `yaml:"webhook_url"`
	WebhookURLEnv    string `yaml:"webhook_url_env"`
	// APIURL stands in for the service's API (a test server, a proxy):
	// https://slack.com/api and https://api.telegram.org by default.
	APIURL string `yaml:"api_url"`
	// Updates, for telegram, is how button presses arrive: webhook (with
	// the secret token in WebhookSecretEnv) or poll (getUpdates).
	Updates          string `yaml:"updates"`
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	// email: the SMTP server as host:port, the sender and recipients, and
	// optional credentials.
	SMTP        string   `yaml:"smtp"`
	From        string   `yaml:"from"`
	To          []string `yaml:"to"`
	Username    string   `yaml:"username"`
	PasswordEnv string   `yaml:"password_env"`
	// TLS is mandatory (STARTTLS required, the default) or opportunistic.
	TLS string `yaml:"tls"`
	// Template, or TemplateFile, replaces the playbook's Internal Alert
	// Notification for this channel: the same [Placeholder] syntax, filled
	// with the same incident fields.
	Template     string `yaml:"template"`
	TemplateFile string `yaml:"template_file"`
}

// Policy is an escalation policy: which channels each level of the
// playbook's escalation matrix pages, for which incidents.
type Policy struct {
	// Levels maps a level number of the matrix to its targets: channel
	// names, and people as "user:NAME", "team:NAME" (every member) or
	// "rotation:NAME" (whoever is on call when the level is paged), each
	// reached through their own contact methods.
	Levels map[int][]string `yaml:"levels"`
	// NotifyOn lists the events the policy sends: opened, escalated,
	// acknowledged, resolved, approval_needed, sla_breach. Empty means all.
	NotifyOn []string `yaml:"notify_on"`
	// Repeat is how often the last level is paged again when nobody
	// acknowledges (0: once).
	Repeat int `yaml:"repeat"`
	// Severities and Services choose the incidents the policy covers;
	// empty means all. The policy named "default" covers what no other
	// does.
	Severities []string `yaml:"severities"`
	Services   []string `yaml:"services"`
}

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validate checks the notify channels and the escalation policies, and
// names the first wrong field.
func (c *Config) validateNotify() error {
	if c.Notify.Storm.Threshold < 0 {
		return fmt.Errorf("notify.storm.threshold: %d is negative", c.Notify.Storm.Threshold)
	}
	if c.Notify.Storm.Window < 0 {
		return fmt.Errorf("notify.storm.window: must not be negative")
	}
	names := make([]string, 0, len(c.Notify.Channels))
	for name := range c.Notify.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.Notify.Channels[name].validate("notify.channels." + name); err != nil {
			return err
		}
		if !channelName.MatchString(name) {
			return fmt.Errorf("notify.channels.%s: a channel name is letters, digits, '.', '_' and '-'", name)
		}
	}
	policies := make([]string, 0, len(c.Escalation))
	for name := range c.Escalation {
		policies = append(policies, name)
	}
	sort.Strings(policies)
	for _, name := range policies {
		p := c.Escalation[name]
		at := "escalation." + name
		if len(p.Levels) == 0 {
			return fmt.Errorf("%s.levels: a policy pages at least one level", at)
		}
		for level, chans := range p.Levels {
			if level < 1 {
				return fmt.Errorf("%s.levels.%d: levels count from 1, as in the playbook's escalation matrix", at, level)
			}
			if len(chans) == 0 {
				return fmt.Errorf("%s.levels.%d: names no channel", at, level)
			}
			for i, ch := range chans {
				if err := c.validateTarget(fmt.Sprintf("%s.levels.%d[%d]", at, level, i), ch, names); err != nil {
					return err
				}
			}
		}
		if p.Repeat < 0 || p.Repeat > 100 {
			return fmt.Errorf("%s.repeat: %d is not between 0 and 100", at, p.Repeat)
		}
		for i, ev := range p.NotifyOn {
			if !slices.Contains(Events, ev) {
				return fmt.Errorf("%s.notify_on[%d]: %q is not one of %s", at, i, ev, strings.Join(Events, ", "))
			}
		}
		for i, s := range p.Severities {
			switch s {
			case "critical", "warning", "info":
			default:
				return fmt.Errorf("%s.severities[%d]: %q is not critical, warning or info", at, i, s)
			}
		}
	}
	kinds := slices.Sorted(maps.Keys(c.Notify.Contacts))
	for _, kind := range kinds {
		name := c.Notify.Contacts[kind]
		at := "notify.contacts." + kind
		want := map[string]string{"email": "email", "slack": "slack", "telegram": "telegram"}[kind]
		if want == "" {
			return fmt.Errorf("%s: %q is not a contact kind with a carrier: email, slack or telegram", at, kind)
		}
		ch, ok := c.Notify.Channels[name]
		if !ok {
			return fmt.Errorf("%s: no channel %q under notify.channels", at, name)
		}
		if ch.Type != want {
			return fmt.Errorf("%s: channel %q is a %s channel, not %s", at, name, ch.Type, want)
		}
		if kind == "slack" && ch.TokenEnv == "" {
			return fmt.Errorf("%s: channel %q has no token_env; writing to a member needs the Web API, not a webhook", at, name)
		}
	}
	for i, name := range c.Notify.Customer {
		if _, ok := c.Notify.Channels[name]; !ok {
			return fmt.Errorf("notify.customer[%d]: no channel %q under notify.channels", i, name)
		}
	}
	return nil
}

// EscalationTargets returns every target of every policy's levels, by the
// field it is at ("escalation.default.levels.2[0]").
func (c *Config) EscalationTargets() map[string]string {
	out := map[string]string{}
	for name, p := range c.Escalation {
		for level, targets := range p.Levels {
			for i, t := range targets {
				out[fmt.Sprintf("escalation.%s.levels.%d[%d]", name, level, i)] = t
			}
		}
	}
	return out
}

// Events are the notification events a policy can choose with notify_on.
var Events = []string{"opened", "escalated", "acknowledged", "resolved", "approval_needed", "sla_breach"}

// validateTarget checks one target of an escalation level: a channel, or a
// user, team or rotation. A user may also be one made with `firebreak user
// create`, which only the database knows; serve checks those at start.
func (c *Config) validateTarget(at, target string, channels []string) error {
	kind, name, person := strings.Cut(target, ":")
	if !person {
		if _, ok := c.Notify.Channels[target]; !ok {
			return fmt.Errorf("%s: no channel %q under notify.channels (configured: %s); people are user:NAME, team:NAME or rotation:NAME",
				at, target, strings.Join(channels, ", "))
		}
		return nil
	}
	if name == "" {
		return fmt.Errorf("%s: %q names no %s", at, target, kind)
	}
	switch kind {
	case "user":
		return nil
	case "team":
		for _, t := range c.Teams {
			if t.Name == name {
				return nil
			}
		}
		return fmt.Errorf("%s: no team %q under teams:", at, name)
	case "rotation":
		for _, r := range c.Rotations {
			if r.Name == name {
				return nil
			}
		}
		return fmt.Errorf("%s: no rotation %q under rotations:", at, name)
	}
	return fmt.Errorf("%s: %q is not a channel, user:NAME, team:NAME or rotation:NAME", at, target)
}

func (ch Channel) validate(at string) error {
	need := func(field, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s.%s: required for a %s channel", at, field, ch.Type)
		}
		return nil
	}
	httpURL := func(field, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s.%s: %q is not an absolute http or https URL", at, field, v)
		}
		return nil
	}
	if err := httpURL("api_url", ch.APIURL); err != nil {
		return err
	}
	if ch.Template != "" && ch.TemplateFile != "" {
		return fmt.Errorf("%s.template_file: set template or template_file, not both", at)
	}
	switch ch.Type {
	case "webhook":
		if err := need("url", ch.URL); err != nil {
			return err
		}
		if err := httpURL("url", ch.URL); err != nil {
			return err
		}
		return need("secret_env", ch.SecretEnv)
	case "telegram":
		if err := need("bot_token_env", ch.BotTokenEnv); err != nil {
			return err
		}
		if err := need("chat_id", ch.ChatID); err != nil {
			return err
		}
		switch ch.Updates {
		case "", "poll":
		case "webhook":
			return need("webhook_secret_env", ch.WebhookSecretEnv)
		default:
			return fmt.Errorf("%s.updates: %q is not webhook or poll", at, ch.Updates)
		}
		return nil
	case "slack":
		if ch.WebhookURL != "" || ch.WebhookURLEnv != "" {
			return httpURL("webhook_url", ch.WebhookURL)
		}
		if err := need("token_env", ch.TokenEnv); err != nil {
			return fmt.Errorf("%w (or webhook_url for plain messages without buttons)", err)
		}
		return need("channel", ch.Channel)
	case "email":
		if err := need("smtp", ch.SMTP); err != nil {
			return err
		}
		if _, port, err := net.SplitHostPort(ch.SMTP); err != nil || port == "" {
			return fmt.Errorf("%s.smtp: %q is not host:port, such as smtp.example:587", at, ch.SMTP)
		}
		if err := need("from", ch.From); err != nil {
			return err
		}
		if len(ch.To) == 0 {
			return fmt.Errorf("%s.to: an email channel needs at least one recipient", at)
		}
		switch ch.TLS {
		case "", "mandatory", "opportunistic":
		default:
			return fmt.Errorf("%s.tls: %q is not mandatory or opportunistic", at, ch.TLS)
		}
		return nil
	case "teams":
		if ch.URL == "" && ch.URLEnv == "" {
			return fmt.Errorf("%s.url_env: required for a teams channel (or url)", at)
		}
		return httpURL("url", ch.URL)
	case "":
		return fmt.Errorf("%s.type: required: webhook, telegram, slack, email or teams", at)
	}
	return fmt.Errorf("%s.type: %q is not webhook, telegram, slack, email or teams", at, ch.Type)
}
