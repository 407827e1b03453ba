package oncall

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const webhook = "https://example.webhook.office.com/webhookb2/secret-token"

func TestContacts(t *testing.T) {
	t.Parallel()
	u := User{Name: "ana", Email: "ana@example.com", SlackID: "C024BE91L", TelegramChatID: "-100123", TeamsWebhook: webhook}
	want := []Contact{
		{ContactEmail, "ana@example.com"},
		{ContactSlack, "C024BE91L"},
		{ContactTelegram, "-100123"},
		{ContactTeams, webhook},
	}
	if got := u.Contacts(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := (&User{Name: "bo", SlackID: "U024BE7LH"}).Contacts(); !reflect.DeepEqual(got, []Contact{{ContactSlack, "U024BE7LH"}}) {
		t.Errorf("got %v", got)
	}
}

func TestUserValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		user User
		want string
	}{
		{"valid", User{Name: "ana", Email: "ana@example.com", TelegramChatID: "@oncall_sre"}, ""},
		{"only a webhook file", User{Name: "ana", TeamsWebhookFile: "/run/secrets/teams"}, ""},
		{"bad name", User{Name: "ana b", Email: "ana@example.com"}, `users: "ana b" is not a user name (letters, digits and . _ @ + -)`},
		{"bad email", User{Name: "ana", Email: "Ana <ana@example.com>"}, `users.ana.email: "Ana <ana@example.com>" is not an email address such as ana@example.com`},
		{"bad slack id", User{Name: "ana", SlackID: "#general"}, `users.ana.slack_id: "#general" is not a Slack member or channel ID such as U024BE7LH or C024BE91L`},
		{"bad telegram chat", User{Name: "ana", TelegramChatID: "ana"}, `users.ana.telegram_chat_id: "ana" is not a numeric chat ID or @channel`},
		{"webhook not https", User{Name: "ana", TeamsWebhook: strings.Replace(webhook, "https", "http", 1)}, `users.ana.teams_webhook: is not an https URL`},
		{"webhook twice", User{Name: "ana", TeamsWebhook: webhook, TeamsWebhookFile: "/f"}, `users.ana.teams_webhook_file: set teams_webhook or teams_webhook_file, not both`},
		{"no contact", User{Name: "ana"}, `users.ana: no contact method; set email, slack_id, telegram_chat_id or teams_webhook`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.user.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error leaks the webhook: %v", err)
			}
		})
	}
}

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	files := map[string]string{"/run/secrets/teams": webhook + "\n"}
	read := func(name string) ([]byte, error) {
		if v, ok := files[name]; ok {
			return []byte(v), nil
		}
		return nil, errors.New("no such file")
	}
	u := User{Name: "ana", TeamsWebhookFile: "/run/secrets/teams"}
	if err := u.LoadSecrets(read); err != nil {
		t.Fatal(err)
	}
	if u.TeamsWebhook != webhook {
		t.Errorf("got %q", u.TeamsWebhook)
	}
	if err := u.Validate(); err == nil {
		t.Error("both teams_webhook and the file are set after loading, want an error")
	}
	missing := User{Name: "bo", TeamsWebhookFile: "/nope"}
	if err := missing.LoadSecrets(read); err == nil || !strings.HasPrefix(err.Error(), "users.bo.teams_webhook_file: ") {
		t.Errorf("got %v", err)
	}
}

const rosterYAML = `
users:
  - name: ana
    email: ana@example.com
  - name: bo
    slack_id: U024BE7LH
teams:
  - name: sre
    members: [ana, bo]
rotations:
  - name: primary
    type: weekly
    start: 2026-01-05
    handoff_time: "09:00"
    handoff_day: monday
    time_zone: Europe/Berlin
    participants: [ana, bo]
    overrides:
      - start: 2026-03-10T12:00:00+01:00
        end: 2026-03-10T18:00:00+01:00
        user: ana
        replaces: bo
`

func TestRosterDecodeAndValidate(t *testing.T) {
	t.Parallel()
	var fromYAML Roster
	if err := yaml.Unmarshal([]byte(rosterYAML), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := fromYAML.Validate(); err != nil {
		t.Fatal(err)
	}
	rot := &fromYAML.Rotations[0]
	if rot.Start != "2026-01-05" {
		t.Errorf("start decoded as %q", rot.Start)
	}
	at := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	if s := rot.OnCall(at); s.User != "ana" || !s.Override {
		t.Errorf("OnCall = %+v, want ana's override", s)
	}

	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON Roster
	if err := json.Unmarshal(b, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !sameShift(fromJSON.Rotations[0].OnCall(at), rot.OnCall(at)) {
		t.Errorf("JSON round trip changed the schedule: %s", b)
	}
	if u, ok := fromJSON.User("bo"); !ok || u.SlackID != "U024BE7LH" {
		t.Errorf("User(bo) = %+v, %v", u, ok)
	}
}

func TestRosterValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(r *Roster)
		want string
	}{
		{"duplicate user", func(r *Roster) { r.Users = append(r.Users, r.Users[0]) }, `users.ana: defined twice`},
		{"unknown team member", func(r *Roster) { r.Teams[0].Members[1] = "cy" }, `teams.sre.members[1]: unknown user "cy"`},
		{"empty team", func(r *Roster) { r.Teams[0].Members = nil }, `teams.sre.members: must name at least one user`},
		{"unknown participant", func(r *Roster) { r.Rotations[0].Participants = []string{"bo", "cy"} }, `rotations.primary.participants[1]: unknown user "cy"`},
		{"unknown override user", func(r *Roster) { r.Rotations[0].Overrides[0].User = "cy" }, `rotations.primary.overrides[0].user: unknown user "cy"`},
		{"rotation error", func(r *Roster) { r.Rotations[0].TimeZone = "Mars/Olympus" }, `rotations.primary.time_zone: unknown time zone "Mars/Olympus"`},
		{"duplicate rotation", func(r *Roster) { r.Rotations = append(r.Rotations, r.Rotations[0]) }, `rotations.primary: defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Roster
			if err := yaml.Unmarshal([]byte(rosterYAML), &r); err != nil {
				t.Fatal(err)
			}
			tt.edit(&r)
			if err := r.Validate(); err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}
