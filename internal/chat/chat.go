// Package chat takes Acknowledge and Resolve from chat buttons: Slack's
// interactive callbacks and Telegram's callback queries. Each request is
// verified as its service documents (Slack's signing secret with a
// five-minute window and replay protection; Telegram's secret-token header
// and the configured chat), the chat account is mapped to the Firebreak
// user linked to it, and the action goes through the incident lifecycle
// like any other. An unlinked account gets a polite refusal and nothing
// changes.
package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/notify/email"
	"github.com/firebreak-dev/firebreak/internal/notify/slack"
	"github.com/firebreak-dev/firebreak/internal/notify/telegram"
	"github.com/firebreak-dev/firebreak/internal/oncall"
	"github.com/firebreak-dev/firebreak/internal/respond"
)

// Telegram is one configured bot: its client (to answer callbacks and to
// check the chat) and the webhook's secret token.
type Telegram struct {
	Client      *telegram.Client
	SecretToken string
}

// Config sets up a Handler.
type Config struct {
	Respond *respond.Service
	// Users finds the Firebreak user whose chat account or mailbox pressed
	// (slack_id, telegram_chat_id, email): the people directory.
	Users Users
	// SlackSecrets are the signing secrets of the Slack apps, by channel
	// name: a callback verified by any of them is taken.
	SlackSecrets map[string]string
	// Telegram are the bots by channel name.
	Telegram map[string]Telegram
	// LinkSecret signs the Acknowledge links in mail (email.SignLink).
	LinkSecret []byte
	// Now is the wall clock for Slack's timestamp window (it must be real
	// time: Slack signs with it).
	Now    func() time.Time
	Client *http.Client
	Logger *slog.Logger
}

// Users is the directory of people, as the chat handler needs it.
type Users interface {
	Find(ctx context.Context, match func(*oncall.User) bool) (*auth.User, error)
}

// Handler serves the chat callbacks.
type Handler struct {
	cfg     Config
	replays *slack.Replays
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, replays: slack.NewReplays(10000)}
}

// Routes registers the callback endpoints. They take no API token: the
// services sign their requests instead.
func (h *Handler) Routes(m *http.ServeMux) {
	m.HandleFunc("POST /api/v1/chat/slack/actions", h.slackActions)
	m.HandleFunc("POST /api/v1/chat/telegram/{channel}", h.telegramWebhook)
	m.HandleFunc("GET /api/v1/chat/email/ack", h.emailLink)
}

// EmailLinkPath is where Acknowledge links in mail point, under the public
// URL.
const EmailLinkPath = "/api/v1/chat/email/ack"

// emailLink takes a signed Acknowledge link from a mail. The link names
// the mailbox it was sent to; when that is one address and it is a user's
// email, the incident is acknowledged as that user.
func (h *Handler) emailLink(w http.ResponseWriter, r *http.Request) {
	id, action, to, err := email.VerifyLink(r.URL, h.cfg.LinkSecret, h.cfg.Now())
	switch {
	case errors.Is(err, email.ErrLinkExpired):
		page(w, http.StatusGone, "This link has expired", "Acknowledge links are valid for a limited time. Open the incident in Firebreak, or use the buttons in Slack or Telegram.")
		return
	case err != nil || (action != "ack" && action != "resolve"):
		page(w, http.StatusForbidden, "This link is not valid", "It was changed or is not one Firebreak sent. Nothing changed.")
		return
	}
	u, err := h.userBy(r.Context(), func(u *oncall.User) bool { return u.Email != "" && strings.EqualFold(u.Email, to) })
	if err != nil {
		page(w, http.StatusServiceUnavailable, "Try again", "Firebreak could not look the link up just now. Nothing changed.")
		return
	}
	if u == nil {
		page(w, http.StatusForbidden, "Not linked to a Firebreak user",
			fmt.Sprintf("This mail went to %s, which is not the email of a Firebreak user, so nothing changed. Ask an admin to add it to your user (firebreak user update NAME --email %s, or in firebreak.yaml).", to, to))
		return
	}
	page(w, http.StatusOK, "Incident "+strconv.FormatInt(id, 10), h.act(r.Context(), u, action, id, "email"))
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>`))

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}

// act applies an ack or resolve as the linked user and says what happened,
// in words fit for the person who pressed the button.
func (h *Handler) act(ctx context.Context, user *auth.User, action string, incidentID int64, via string) string {
	if !user.Role.Allows(auth.RoleResponder) {
		return fmt.Sprintf("%s has the role %s, which may look but not act, so nothing changed. Ask an admin for the responder role.", user.Name(), user.Role)
	}
	kind := incident.ActionAck
	verb := "acknowledged"
	if action == "resolve" {
		kind, verb = incident.ActionResolve, "resolved"
	}
	_, err := h.cfg.Respond.Act(ctx, incidentID, incident.Action{Kind: kind}, user.Name())
	var de *incident.Error
	switch {
	case err == nil:
		h.cfg.Logger.InfoContext(ctx, "incident changed from chat", "incident", incidentID, "action", action, "user", user.Name(), "via", via)
		return fmt.Sprintf("Incident %d %s by %s.", incidentID, verb, user.Name())
	case errors.As(err, &de) && (de.Code == incident.ECONFLICT || de.Code == incident.ENOTFOUND):
		return fmt.Sprintf("Nothing changed: %s.", de.Message)
	default:
		h.cfg.Logger.ErrorContext(ctx, "incident action from chat failed", "incident", incidentID, "err", err)
		return "Firebreak could not record that just now; try again, or use the web console or CLI."
	}
}

func (h *Handler) userBy(ctx context.Context, match func(u *oncall.User) bool) (*auth.User, error) {
	if h.cfg.Users == nil {
		return nil, nil
	}
	return h.cfg.Users.Find(ctx, match)
}

func (h *Handler) slackActions(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	var body []byte
	verified := false
	for _, secret := range h.cfg.SlackSecrets {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if b, err := slack.VerifyRequest(r, secret, h.cfg.Now()); err == nil {
			body, verified = b, true
			break
		}
	}
	if !verified || h.replays.Check(r, h.cfg.Now()) != nil {
		http.Error(w, "signature, timestamp or replay check failed", http.StatusUnauthorized)
		return
	}
	a, err := slack.ParseAction(body)
	if errors.Is(err, slack.ErrNotOurs) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var reply string
	u, err := h.userBy(r.Context(), func(u *oncall.User) bool { return u.SlackID != "" && u.SlackID == a.UserID })
	switch {
	case err != nil:
		reply = "Firebreak could not look your account up just now; nothing changed. Try again."
	case u == nil:
		reply = fmt.Sprintf("Your Slack account (%s) is not linked to a Firebreak user, so nothing changed. Ask an admin to run: firebreak user link-slack YOUR_NAME %s", a.UserID, a.UserID)
	default:
		reply = h.act(r.Context(), u, a.ActionID, a.IncidentID, "slack")
	}
	if a.ResponseURL != "" {
		h.slackReply(r.Context(), a.ResponseURL, reply)
	}
	w.WriteHeader(http.StatusOK)
}

// slackReply posts an ephemeral answer to the person who pressed.
func (h *Handler) slackReply(ctx context.Context, responseURL, text string) {
	b, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "answer a Slack action", "err", err)
		return
	}
	resp.Body.Close()
}

func (h *Handler) telegramWebhook(w http.ResponseWriter, r *http.Request) {
	bot, ok := h.cfg.Telegram[r.PathValue("channel")]
	if !ok || bot.SecretToken == "" || telegram.VerifyWebhook(r, bot.SecretToken) != nil {
		http.Error(w, "secret token check failed", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	u, err := telegram.ParseUpdate(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.HandleTelegram(r.Context(), bot, u); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// HandleTelegram takes one update, from the webhook or from polling.
func (h *Handler) HandleTelegram(ctx context.Context, bot Telegram, u telegram.Update) error {
	if u.Action == "" || u.CallbackQuery == nil {
		return nil
	}
	q := u.CallbackQuery
	from := strconv.FormatInt(q.From.ID, 10)
	usr, err := h.userBy(ctx, func(x *oncall.User) bool { return x.TelegramChatID != "" && x.TelegramChatID == from })
	if err != nil {
		_ = bot.Client.AnswerCallbackQuery(ctx, q.ID, "Firebreak could not look your account up just now; nothing changed. Try again.")
		return fmt.Errorf("telegram: look up user %s: %w", from, err)
	}
	// A press counts from the chat Firebreak pages, or from the private
	// chat of the linked user it pages directly.
	private := q.Message != nil && usr != nil && strconv.FormatInt(q.Message.Chat.ID, 10) == usr.Contact.TelegramChatID
	if !bot.Client.Allowed(u) && !private {
		_ = bot.Client.AnswerCallbackQuery(ctx, q.ID, "This chat is not the one Firebreak pages; nothing changed.")
		return errors.New("telegram: callback from a chat that is not configured")
	}
	var reply string
	if usr == nil {
		reply = fmt.Sprintf("Your Telegram account (%s) is not linked to a Firebreak user, so nothing changed. Ask an admin to run: firebreak user link-telegram YOUR_NAME %s", from, from)
	} else {
		reply = h.act(ctx, usr, u.Action, u.IncidentID, "telegram")
	}
	return bot.Client.AnswerCallbackQuery(ctx, q.ID, reply)
}
