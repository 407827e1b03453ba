package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
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
}

// Policy is an escalation policy: which channels each level of the
// playbook's escalation matrix pages, for which incidents.
type Policy struct {
	// Levels maps a level number of the matrix to channel names.
	Levels map[int][]string `yaml:"levels"`
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
				if _, ok := c.Notify.Channels[ch]; !ok {
					return fmt.Errorf("%s.levels.%d[%d]: no channel %q under notify.channels (configured: %s)", at, level, i, ch, strings.Join(names, ", "))
				}
			}
		}
		if p.Repeat < 0 || p.Repeat > 100 {
			return fmt.Errorf("%s.repeat: %d is not between 0 and 100", at, p.Repeat)
		}
		for i, s := range p.Severities {
			switch s {
			case "critical", "warning", "info":
			default:
				return fmt.Errorf("%s.severities[%d]: %q is not critical, warning or info", at, i, s)
			}
		}
	}
	return nil
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
