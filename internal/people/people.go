// Package people is Firebreak's directory of users: those of the
// configuration and those made with `firebreak user create`, all kept in
// the store, with the configuration's teams and rotations. It answers who
// a chat account belongs to, and whom an escalation target reaches at a
// moment.
//
// A user of the configuration keeps its contact methods and role in
// firebreak.yaml; Sync writes them to the store at start, and the store
// adds what only it holds (a console password). Users made with the CLI
// live in the store alone. Names are unique across both.
package people

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Directory is the user directory.
type Directory struct {
	store  store.Store
	roster oncall.Roster
	// ReadFile reads the files a user's secrets come from; os.ReadFile by
	// default.
	ReadFile func(string) ([]byte, error)
}

// New returns a Directory over st, with the configuration's roster.
func New(st store.Store, roster oncall.Roster) *Directory {
	return &Directory{store: st, roster: roster, ReadFile: os.ReadFile}
}

// Roster returns the configuration's users, teams and rotations.
func (d *Directory) Roster() oncall.Roster { return d.roster }

// DefaultRole is the role of a user that names none.
const DefaultRole = auth.RoleResponder

// Sync writes the configuration's users to the store, keeping what only the
// store holds (passwords), and removes users that came from the
// configuration and are no longer in it. It runs at start; the audit log
// records what it changed.
func (d *Directory) Sync(ctx context.Context, now time.Time) error {
	now = now.UTC()
	existing, err := d.store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	byName := map[string]auth.User{}
	for _, u := range existing {
		byName[u.Name()] = u
	}
	inConfig := map[string]bool{}
	return d.store.InTx(ctx, func(tx store.Tx) error {
		for _, cu := range d.roster.Users {
			if err := cu.LoadSecrets(d.ReadFile); err != nil {
				return err
			}
			inConfig[cu.Name] = true
			role := auth.Role(cu.Role)
			if role == "" {
				role = DefaultRole
			}
			contact := cu
			contact.TeamsWebhookFile, contact.Role = "", ""
			u := auth.User{Contact: contact, Role: role, Source: auth.UserFromConfig, CreatedAt: now, UpdatedAt: now, CreatedBy: "config"}
			old, ok := byName[cu.Name]
			if ok {
				if old.Contact == u.Contact && old.Role == u.Role && old.Source == u.Source {
					continue
				}
				u.PasswordHash, u.CreatedAt, u.CreatedBy = old.PasswordHash, old.CreatedAt, old.CreatedBy
			}
			if err := tx.SaveUser(ctx, &u); err != nil {
				return fmt.Errorf("save user %s: %w", cu.Name, err)
			}
			action := "user.create"
			if ok {
				action = "user.update"
			}
			if err := tx.AppendAudit(ctx, &auth.AuditEntry{At: now, Actor: "config", Action: action, Target: cu.Name,
				Detail: mustJSON(map[string]any{"role": role, "contacts": kinds(&u.Contact)})}); err != nil {
				return err
			}
		}
		for _, u := range existing {
			if u.Source != auth.UserFromConfig || inConfig[u.Name()] {
				continue
			}
			if err := tx.DeleteUser(ctx, u.Name()); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, &auth.AuditEntry{At: now, Actor: "config", Action: "user.delete", Target: u.Name(),
				Detail: mustJSON(map[string]string{"why": "no longer in the configuration"})}); err != nil {
				return err
			}
		}
		return nil
	})
}

func kinds(u *oncall.User) []oncall.ContactKind {
	var out []oncall.ContactKind
	for _, c := range u.Contacts() {
		out = append(out, c.Kind)
	}
	return out
}

// Users returns every user.
func (d *Directory) Users(ctx context.Context) ([]auth.User, error) { return d.store.ListUsers(ctx) }

// User returns one user.
func (d *Directory) User(ctx context.Context, name string) (*auth.User, error) {
	return d.store.UserByName(ctx, name)
}

// Find returns the first user for whom match holds, or nil.
func (d *Directory) Find(ctx context.Context, match func(*oncall.User) bool) (*auth.User, error) {
	us, err := d.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for i := range us {
		if match(&us[i].Contact) {
			return &us[i], nil
		}
	}
	return nil, nil
}

// Person is one person a target reaches, and why.
type Person struct {
	User oncall.User
	// Via says how the target reached them: "user", "team sre",
	// "rotation primary (until 09:00 UTC)".
	Via string
}

// Reach returns the people a level's person target ("user:NAME",
// "team:NAME", "rotation:NAME") reaches at the instant at.
func (d *Directory) Reach(ctx context.Context, target string, at time.Time) ([]Person, error) {
	kind, name, _ := strings.Cut(target, ":")
	one := func(n, via string) (Person, error) {
		u, err := d.store.UserByName(ctx, n)
		if err != nil {
			if incident.ErrorCode(err) == incident.ENOTFOUND {
				return Person{}, fmt.Errorf("%s: no user %q; add it under users: or with firebreak user create", target, n)
			}
			return Person{}, err
		}
		return Person{User: u.Contact, Via: via}, nil
	}
	switch kind {
	case "user":
		p, err := one(name, "user")
		if err != nil {
			return nil, err
		}
		return []Person{p}, nil
	case "team":
		for _, t := range d.roster.Teams {
			if t.Name != name {
				continue
			}
			var out []Person
			for _, m := range t.Members {
				p, err := one(m, "team "+name)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
			}
			return out, nil
		}
		return nil, fmt.Errorf("%s: no team %q", target, name)
	case "rotation":
		for i := range d.roster.Rotations {
			r := &d.roster.Rotations[i]
			if r.Name != name {
				continue
			}
			s := r.OnCall(at)
			if s.User == "" {
				return nil, fmt.Errorf("%s: nobody is on call at %s", target, at.UTC().Format(time.RFC3339))
			}
			via := fmt.Sprintf("rotation %s (on call until %s)", name, s.End.UTC().Format("2006-01-02 15:04 UTC"))
			if s.Override {
				via = fmt.Sprintf("rotation %s (override until %s)", name, s.End.UTC().Format("2006-01-02 15:04 UTC"))
			}
			p, err := one(s.User, via)
			if err != nil {
				return nil, err
			}
			return []Person{p}, nil
		}
		return nil, fmt.Errorf("%s: no rotation %q", target, name)
	}
	return nil, fmt.Errorf("%q is not user:NAME, team:NAME or rotation:NAME", target)
}

// CheckTargets reports the first "user:NAME" target that names nobody, with
// the field it is at, so that serve refuses a policy that would page no
// one.
func (d *Directory) CheckTargets(ctx context.Context, targets map[string]string) error {
	fields := make([]string, 0, len(targets))
	for f := range targets {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		kind, name, _ := strings.Cut(targets[f], ":")
		if kind != "user" {
			continue
		}
		if _, err := d.store.UserByName(ctx, name); err != nil {
			if incident.ErrorCode(err) == incident.ENOTFOUND {
				return fmt.Errorf("%s: no user %q; add it under users: in the configuration or run firebreak user create %s", f, name, name)
			}
			return err
		}
	}
	return nil
}

// CreateParams are a new user made outside the configuration.
type CreateParams struct {
	Contact  oncall.User
	Role     auth.Role
	Password string
}

// Create adds a user, as actor.
func (d *Directory) Create(ctx context.Context, p CreateParams, actor string, now time.Time) (*auth.User, error) {
	if p.Role == "" {
		p.Role = DefaultRole
	}
	if !p.Role.ValidUserRole() {
		return nil, incident.Errorf(incident.EINVALID, "role: %q is not viewer, responder or admin", p.Role)
	}
	p.Contact.Role, p.Contact.TeamsWebhookFile = "", ""
	if err := p.Contact.ValidateFields(); err != nil {
		return nil, invalid(err)
	}
	if d.inConfig(p.Contact.Name) {
		return nil, incident.Errorf(incident.ECONFLICT, "user %q is defined in the configuration; change it there", p.Contact.Name)
	}
	u := &auth.User{Contact: p.Contact, Role: p.Role, Source: auth.UserFromCLI, CreatedAt: now.UTC(), UpdatedAt: now.UTC(), CreatedBy: actor}
	if p.Password != "" {
		h, err := auth.HashPassword(p.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	err := d.store.InTx(ctx, func(tx store.Tx) error {
		if _, err := d.store.UserByName(ctx, u.Name()); err == nil {
			return incident.Errorf(incident.ECONFLICT, "user %q exists; change it with firebreak user update", u.Name())
		}
		if err := tx.SaveUser(ctx, u); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: u.CreatedAt, Actor: actor, Action: "user.create", Target: u.Name(),
			Detail: mustJSON(map[string]any{"role": u.Role, "contacts": kinds(&u.Contact), "password": u.HasPassword()})})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateParams change a user; nil leaves a field as it is, "" clears it.
type UpdateParams struct {
	Role           *auth.Role `json:"role,omitempty"`
	Email          *string    `json:"email,omitempty"`
	SlackID        *string    `json:"slack_id,omitempty"`
	TelegramChatID *string    `json:"telegram_chat_id,omitempty"`
	TeamsWebhook   *string    `json:"teams_webhook,omitempty"`
	// Password sets a console password; "" removes it.
	Password *string `json:"password,omitempty"`
}

// Update changes a user, as actor. A user of the configuration takes only a
// password here: its contact methods and role are the configuration's.
func (d *Directory) Update(ctx context.Context, name string, p UpdateParams, actor string, now time.Time) (*auth.User, error) {
	var out *auth.User
	err := d.store.InTx(ctx, func(tx store.Tx) error {
		u, err := d.store.UserByName(ctx, name)
		if err != nil {
			return err
		}
		contactChange := p.Role != nil || p.Email != nil || p.SlackID != nil || p.TelegramChatID != nil || p.TeamsWebhook != nil
		if u.Source == auth.UserFromConfig && contactChange {
			return incident.Errorf(incident.ECONFLICT, "user %q is defined in the configuration: change its role and contact methods in firebreak.yaml (a password can be set here)", name)
		}
		var changed []string
		set := func(field string, dst *string, v *string) {
			if v != nil && *dst != *v {
				*dst = strings.TrimSpace(*v)
				changed = append(changed, field)
			}
		}
		set("email", &u.Contact.Email, p.Email)
		set("slack_id", &u.Contact.SlackID, p.SlackID)
		set("telegram_chat_id", &u.Contact.TelegramChatID, p.TelegramChatID)
		set("teams_webhook", &u.Contact.TeamsWebhook, p.TeamsWebhook)
		if p.Role != nil && *p.Role != u.Role {
			if !p.Role.ValidUserRole() {
				return incident.Errorf(incident.EINVALID, "role: %q is not viewer, responder or admin", *p.Role)
			}
			u.Role = *p.Role
			changed = append(changed, "role")
		}
		if err := u.Contact.ValidateFields(); err != nil {
			return invalid(err)
		}
		if p.Password != nil {
			u.PasswordHash = ""
			if *p.Password != "" {
				if u.PasswordHash, err = auth.HashPassword(*p.Password); err != nil {
					return err
				}
			}
			changed = append(changed, "password")
		}
		if len(changed) == 0 {
			out = u
			return nil
		}
		u.UpdatedAt = now.UTC()
		if err := tx.SaveUser(ctx, u); err != nil {
			return err
		}
		if slices.Contains(changed, "password") || slices.Contains(changed, "role") {
			// A changed password or role ends the sessions opened before.
			if err := tx.DeleteSessions(ctx, nil, name); err != nil {
				return err
			}
		}
		out = u
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: u.UpdatedAt, Actor: actor, Action: "user.update", Target: name,
			Detail: mustJSON(map[string]any{"changed": changed})})
	})
	return out, err
}

// Delete removes a user made with the CLI, as actor.
func (d *Directory) Delete(ctx context.Context, name, actor string, now time.Time) error {
	if d.inConfig(name) {
		return incident.Errorf(incident.ECONFLICT, "user %q is defined in the configuration; remove it there", name)
	}
	return d.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteUser(ctx, name); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: now.UTC(), Actor: actor, Action: "user.delete", Target: name})
	})
}

// Login checks a user name and password and returns the user.
func (d *Directory) Login(ctx context.Context, name, password string) (*auth.User, error) {
	u, err := d.store.UserByName(ctx, name)
	if err != nil {
		if incident.ErrorCode(err) == incident.ENOTFOUND {
			// Spend the same time as a wrong password, so that a probe
			// cannot tell names apart by timing.
			auth.VerifyPassword(dummyHash(), password)
			return nil, auth.ErrBadPassword
		}
		return nil, err
	}
	if !u.HasPassword() {
		auth.VerifyPassword(dummyHash(), password)
		return nil, auth.ErrBadPassword
	}
	if err := auth.VerifyPassword(u.PasswordHash, password); err != nil {
		return nil, err
	}
	return u, nil
}

// dummyHash is a valid hash of no one's password, made once when first
// needed.
var dummyHash = sync.OnceValue(func() string {
	h, err := auth.HashPassword("not anyone's password at all")
	if err != nil {
		panic(err)
	}
	return h
})

func (d *Directory) inConfig(name string) bool {
	_, ok := d.roster.User(name)
	return ok
}

func invalid(err error) error {
	var fe *oncall.FieldError
	if errors.As(err, &fe) {
		// "users.ana.email: …" reads as the field of a request here.
		field := fe.Field
		if i := strings.LastIndexByte(field, '.'); i >= 0 && strings.HasPrefix(field, "users.") {
			field = field[i+1:]
		}
		return incident.Errorf(incident.EINVALID, "%s: %s", field, fe.Msg)
	}
	return incident.Errorf(incident.EINVALID, "%v", err)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("people: marshal audit detail: %v", err))
	}
	return b
}
