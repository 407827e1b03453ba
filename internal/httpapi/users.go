package httpapi

import (
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/people"
)

func (s *Server) userRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/users", s.authed(auth.RoleAdmin, s.listUsers))
	m.Handle("POST /api/v1/users", s.authed(auth.RoleAdmin, s.createUser))
	m.Handle("GET /api/v1/users/{name}", s.authed(auth.RoleAdmin, s.getUser))
	m.Handle("PATCH /api/v1/users/{name}", s.authed(auth.RoleAdmin, s.updateUser))
	m.Handle("DELETE /api/v1/users/{name}", s.authed(auth.RoleAdmin, s.deleteUser))
}

// userView is a user as the API shows it: the Teams webhook is a secret,
// so only whether there is one.
type userView struct {
	Name           string          `json:"name"`
	Role           auth.Role       `json:"role"`
	Source         auth.UserSource `json:"source"`
	Email          string          `json:"email,omitempty"`
	SlackID        string          `json:"slack_id,omitempty"`
	TelegramChatID string          `json:"telegram_chat_id,omitempty"`
	TeamsWebhook   bool            `json:"teams_webhook"`
	Password       bool            `json:"password"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	CreatedBy      string          `json:"created_by,omitempty"`
}

func viewUser(u *auth.User) userView {
	c := u.Contact
	return userView{Name: c.Name, Role: u.Role, Source: u.Source, Email: c.Email, SlackID: c.SlackID, TelegramChatID: c.TelegramChatID,
		TeamsWebhook: c.TeamsWebhook != "", Password: u.HasPassword(), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, CreatedBy: u.CreatedBy}
}

func (s *Server) people() (*people.Directory, error) {
	if s.People == nil {
		return nil, incident.Errorf(incident.EUNAVAILABLE, "this server has no user directory")
	}
	return s.People, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := s.people()
	if err != nil {
		return err
	}
	us, err := d.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(us))
	for i := range us {
		out = append(out, viewUser(&us[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := s.people()
	if err != nil {
		return err
	}
	u, err := d.User(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(u)})
	return nil
}

type createUserBody struct {
	Name           string    `json:"name"`
	Role           auth.Role `json:"role"`
	Email          string    `json:"email"`
	SlackID        string    `json:"slack_id"`
	TelegramChatID string    `json:"telegram_chat_id"`
	TeamsWebhook   string    `json:"teams_webhook"`
	Password       string    `json:"password"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := s.people()
	if err != nil {
		return err
	}
	var b createUserBody
	if err := s.decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == "" {
		return incident.Errorf(incident.EINVALID, "name: is required")
	}
	u, err := d.Create(r.Context(), people.CreateParams{Role: b.Role, Password: b.Password, Contact: oncall.User{Name: b.Name,
		Email: b.Email, SlackID: b.SlackID, TelegramChatID: b.TelegramChatID, TeamsWebhook: b.TeamsWebhook}}, p.Actor(), s.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": viewUser(u)})
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := s.people()
	if err != nil {
		return err
	}
	var b people.UpdateParams
	if err := s.decodeJSON(w, r, &b); err != nil {
		return err
	}
	u, err := d.Update(r.Context(), r.PathValue("name"), b, p.Actor(), s.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(u)})
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := s.people()
	if err != nil {
		return err
	}
	if err := d.Delete(r.Context(), r.PathValue("name"), p.Actor(), s.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
