package config_test

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/config"
)

// The contract of issue 9, word for word, loads and validates.
const notifyContract = `
notify:
  channels:
    ops-hook:     {type: webhook, url: "https://hooks.example/fb", secret_env: FB_HOOK_SECRET}
    ops-telegram: {type: telegram, bot_token_env: TG_BOT_TOKEN, chat_id: "-100123", api_url: "https://api.telegram.org"}
    ops-slack:    {type: slack, token_env: SLACK_BOT_TOKEN, channel: "#ops", signing_secret_env: SLACK_SIGNING_SECRET, api_url: "https://slack.com/api"}
    ops-mail:     {type: email, smtp: "smtp.example:587", from: "firebreak@example", to: ["oncall@example"]}
    ops-teams:    {type: teams, url_env: TEAMS_WEBHOOK_URL}
escalation:
  default:                       # policy name; per-service/severity policies beside it
    levels:                      # level numbers and windows come from the playbook's matrix
      1: [ops-hook, ops-telegram]
      2: [ops-slack]
      3: [ops-mail]
    repeat: 1
`

func TestNotifyContract(t *testing.T) {
	c, err := config.Load(write(t, notifyContract), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Notify.Channels) != 5 || c.Notify.Channels["ops-telegram"].ChatID != "-100123" {
		t.Fatalf("channels = %+v", c.Notify.Channels)
	}
	p := c.Escalation["default"]
	if p.Repeat != 1 || len(p.Levels[1]) != 2 || p.Levels[3][0] != "ops-mail" {
		t.Fatalf("policy = %+v", p)
	}
}

func TestNotifyErrorsNameTheField(t *testing.T) {
	cases := []struct{ body, want string }{
		{"notify:\n  channels:\n    x: {type: pager}\n", `notify.channels.x.type: "pager" is not webhook, telegram, slack, email or teams`},
		{"notify:\n  channels:\n    x: {type: webhook, secret_env: S}\n", "notify.channels.x.url: required for a webhook channel"},
		{"notify:\n  channels:\n    x: {type: webhook, url: 'ftp://h', secret_env: S}\n", `notify.channels.x.url: "ftp://h" is not an absolute http or https URL`},
		{"notify:\n  channels:\n    x: {type: telegram, bot_token_env: T}\n", "notify.channels.x.chat_id: required for a telegram channel"},
		{"notify:\n  channels:\n    x: {type: telegram, bot_token_env: T, chat_id: '1', updates: push}\n", `notify.channels.x.updates: "push" is not webhook or poll`},
		{"notify:\n  channels:\n    x: {type: slack, channel: '#ops'}\n", "notify.channels.x.token_env: required for a slack channel"},
		{"notify:\n  channels:\n    x: {type: email, smtp: smtp.example, from: a@b, to: [c@d]}\n", `notify.channels.x.smtp: "smtp.example" is not host:port`},
		{"notify:\n  channels:\n    x: {type: email, smtp: 'h:25', from: a@b}\n", "notify.channels.x.to: an email channel needs at least one recipient"},
		{"notify:\n  channels:\n    x: {type: teams}\n", "notify.channels.x.url_env: required for a teams channel"},
		{"notify:\n  channels:\n    x: {type: telegram, bot_token_env: T, chat_id: '1', api_url: 'localhost:8080'}\n", `notify.channels.x.api_url: "localhost:8080" is not an absolute http or https URL`},
		{"escalation:\n  default:\n    levels:\n      1: [nope]\n", `escalation.default.levels.1[0]: no channel "nope" under notify.channels`},
		{"notify:\n  channels:\n    h: {type: teams, url_env: U}\nescalation:\n  default:\n    levels:\n      0: [h]\n", "escalation.default.levels.0: levels count from 1"},
		{"notify:\n  channels:\n    h: {type: teams, url_env: U}\nescalation:\n  p:\n    levels:\n      1: [h]\n    severities: [urgent]\n", `escalation.p.severities[0]: "urgent" is not critical, warning or info`},
		{"escalation:\n  default:\n    levels: {}\n", "escalation.default.levels: a policy pages at least one level"},
		{"notify:\n  channels:\n    x: {type: webhook, url: 'https://h', secret_env: S, colour: blue}\n", "colour"},
	}
	for _, c := range cases {
		cfg, err := config.Load(write(t, c.body), env(nil))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n  err = %v\n  want %q", c.body, err, c.want)
		}
	}
}
