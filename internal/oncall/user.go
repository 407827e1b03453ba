package oncall

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// User is a person who can be paged. Name is the handle rotations and teams
// refer to.
type User struct {
	Name  string `json:"name" yaml:"name"`
	Email string `json:"email,omitempty" yaml:"email,omitempty"`
	// SlackID is a Slack member ID (U…, W…) or channel ID (C…, G…).
	SlackID string `json:"slack_id,omitempty" yaml:"slack_id,omitempty"`
	// TelegramChatID is a numeric chat ID (negative for groups) or a public
	// channel's @name.
	TelegramChatID string `json:"telegram_chat_id,omitempty" yaml:"telegram_chat_id,omitempty"`
	// TeamsWebhook is a Microsoft Teams incoming-webhook URL. It is a
	// secret: errors never include it.
	TeamsWebhook string `json:"teams_webhook,omitempty" yaml:"teams_webhook,omitempty"`
	// TeamsWebhookFile names a file holding TeamsWebhook; see LoadSecrets.
	TeamsWebhookFile string `json:"teams_webhook_file,omitempty" yaml:"teams_webhook_file,omitempty"`
	// Role is what the user may do when they sign in to the console or
	// press a chat button: viewer, responder (the default) or admin.
	Role string `json:"role,omitempty" yaml:"role,omitempty"`
}

// ContactKind is a way to reach a user.
type ContactKind string

const (
	ContactEmail    ContactKind = "email"
	ContactSlack    ContactKind = "slack"
	ContactTelegram ContactKind = "telegram"
	ContactTeams    ContactKind = "teams"
)

// Contact is one way to reach a user. For ContactTeams, Address is a secret.
type Contact struct {
	Kind    ContactKind `json:"kind"`
	Address string      `json:"address"`
}

// Contacts returns u's contact methods in a fixed order: email, Slack,
// Telegram, Teams. Unset methods are left out.
func (u *User) Contacts() []Contact {
	var out []Contact
	for _, c := range []Contact{
		{ContactEmail, u.Email},
		{ContactSlack, u.SlackID},
		{ContactTelegram, u.TelegramChatID},
		{ContactTeams, u.TeamsWebhook},
	} {
		if c.Address != "" {
			out = append(out, c)
		}
	}
	return out
}

// LoadSecrets fills TeamsWebhook from TeamsWebhookFile when that is set,
// reading through readFile (os.ReadFile in production).
func (u *User) LoadSecrets(readFile func(string) ([]byte, error)) error {
	if u.TeamsWebhookFile == "" {
		return nil
	}
	if u.TeamsWebhook != "" {
		return fieldErrorf("users."+u.Name+".teams_webhook_file", "set teams_webhook or teams_webhook_file, not both")
	}
	b, err := readFile(u.TeamsWebhookFile)
	if err != nil {
		return fmt.Errorf("users.%s.teams_webhook_file: %w", u.Name, err)
	}
	u.TeamsWebhook = strings.TrimSpace(string(b))
	return nil
}

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)
	slackIDRE = regexp.MustCompile(`^[UWCG][A-Z0-9]{2,}$`)
	tgNameRE  = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{4,}$`)
)

// Validate reports the first problem with u, as a *FieldError whose path
// starts "users.<name>.". A user of the configuration must be reachable.
func (u *User) Validate() error {
	if err := u.ValidateFields(); err != nil {
		return err
	}
	if len(u.Contacts()) == 0 && u.TeamsWebhookFile == "" {
		return fieldErrorf("users."+u.Name, "no contact method; set email, slack_id, telegram_chat_id or teams_webhook")
	}
	return nil
}

// ValidateFields checks each field that is set, and allows a user with no
// contact method (one who only signs in to the console).
func (u *User) ValidateFields() error {
	if !nameRE.MatchString(u.Name) {
		return fieldErrorf("users", "%q is not a user name (letters, digits and . _ @ + -)", u.Name)
	}
	path := "users." + u.Name + "."
	if u.Email != "" {
		a, err := mail.ParseAddress(u.Email)
		if err != nil || a.Address != u.Email {
			return fieldErrorf(path+"email", "%q is not an email address such as ana@example.com", u.Email)
		}
	}
	if u.SlackID != "" && !slackIDRE.MatchString(u.SlackID) {
		return fieldErrorf(path+"slack_id", "%q is not a Slack member or channel ID such as U024BE7LH or C024BE91L", u.SlackID)
	}
	if c := u.TelegramChatID; c != "" {
		if _, err := strconv.ParseInt(c, 10, 64); err != nil && !tgNameRE.MatchString(c) {
			return fieldErrorf(path+"telegram_chat_id", "%q is not a numeric chat ID or @channel", c)
		}
	}
	if u.TeamsWebhook != "" && u.TeamsWebhookFile != "" {
		return fieldErrorf(path+"teams_webhook_file", "set teams_webhook or teams_webhook_file, not both")
	}
	if w := u.TeamsWebhook; w != "" {
		if v, err := url.Parse(w); err != nil || v.Scheme != "https" || v.Host == "" {
			return fieldErrorf(path+"teams_webhook", "is not an https URL") // the URL is a secret
		}
	}
	switch u.Role {
	case "", "viewer", "responder", "admin":
	default:
		return fieldErrorf(path+"role", "%q is not viewer, responder or admin", u.Role)
	}
	return nil
}

// Team is a group of users, such as the owners of a service.
type Team struct {
	Name    string   `json:"name" yaml:"name"`
	Members []string `json:"members" yaml:"members"`
}

// Validate checks t on its own; Roster.Validate also checks its members
// exist.
func (t *Team) Validate() error {
	if !nameRE.MatchString(t.Name) {
		return fieldErrorf("teams", "%q is not a team name (letters, digits and . _ @ + -)", t.Name)
	}
	if len(t.Members) == 0 {
		return fieldErrorf("teams."+t.Name+".members", "must name at least one user")
	}
	return nil
}

// Roster is everything on-call: people, teams and rotations. It is the
// shape of the "users", "teams" and "rotations" configuration sections.
type Roster struct {
	Users     []User     `json:"users" yaml:"users"`
	Teams     []Team     `json:"teams" yaml:"teams"`
	Rotations []Rotation `json:"rotations" yaml:"rotations"`
}

// Validate checks every user, team and rotation, that names are unique, and
// that every name a team or rotation refers to is a user.
func (r *Roster) Validate() error {
	users := make(map[string]bool, len(r.Users))
	for i := range r.Users {
		u := &r.Users[i]
		if err := u.Validate(); err != nil {
			return err
		}
		if users[u.Name] {
			return fieldErrorf("users."+u.Name, "defined twice")
		}
		users[u.Name] = true
	}
	unknown := func(path, name string) error {
		if users[name] {
			return nil
		}
		return fieldErrorf(path, "unknown user %q", name)
	}
	teams := map[string]bool{}
	for i := range r.Teams {
		t := &r.Teams[i]
		if err := t.Validate(); err != nil {
			return err
		}
		if teams[t.Name] {
			return fieldErrorf("teams."+t.Name, "defined twice")
		}
		teams[t.Name] = true
		for j, m := range t.Members {
			if err := unknown(fmt.Sprintf("teams.%s.members[%d]", t.Name, j), m); err != nil {
				return err
			}
		}
	}
	rotations := map[string]bool{}
	for i := range r.Rotations {
		rot := &r.Rotations[i]
		if err := rot.Validate(); err != nil {
			return err
		}
		if rotations[rot.Name] {
			return fieldErrorf("rotations."+rot.Name, "defined twice")
		}
		rotations[rot.Name] = true
		for j, p := range rot.Participants {
			if err := unknown(fmt.Sprintf("rotations.%s.participants[%d]", rot.Name, j), p); err != nil {
				return err
			}
		}
		for j, o := range rot.Overrides {
			if err := unknown(fmt.Sprintf("rotations.%s.overrides[%d].user", rot.Name, j), o.User); err != nil {
				return err
			}
		}
	}
	return nil
}

// User returns the user called name.
func (r *Roster) User(name string) (User, bool) {
	for _, u := range r.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}
