// Package telegram sends incident messages to a Telegram chat through the
// Bot API, with Acknowledge and Resolve buttons, edits them in place as the
// incident moves on, and receives the button presses either by webhook
// (VerifyWebhook, ParseUpdate) or by long polling (Poller).
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// DefaultAPIURL is the Bot API base when Config.APIURL is empty.
const DefaultAPIURL = "https://api.telegram.org"

// callTimeout bounds one Bot API call other than a long poll.
const callTimeout = 10 * time.Second

// maxCallbackData is Telegram's limit on a button's callback_data.
const maxCallbackData = 64

// Config is a resolved Telegram target: the token already read from the
// environment.
type Config struct {
	Token string
	// ChatID is the numeric chat id ("-1001234567890") or a channel's
	// "@username".
	ChatID string
	// APIURL is the Bot API base, without a trailing slash.
	APIURL string
	// HTTPClient must not set a Timeout shorter than a long poll; every
	// call sets its own deadline. Defaults to a client without one.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
	// Limiter, shared by every Telegram client, keeps sends within the Bot
	// API's limits (one a second per chat, twenty a minute per group,
	// thirty a second per bot); nil limits nothing.
	Limiter *notify.Limiter
}

// Client is a small typed client of the Bot API bound to one chat. It
// implements notify.Notifier.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

var _ notify.InPlace = (*Client)(nil)

// UpdatesInPlace marks editMessageText.
func (c *Client) UpdatesInPlace() {}

// ChatID is the chat the client pages.
func (c *Client) ChatID() string { return c.cfg.ChatID }

// wait takes a turn for chat under the per-chat (or per-group) and
// per-bot limits.
func (c *Client) wait(ctx context.Context, chat string) error {
	per := notify.TelegramPerChat
	if strings.HasPrefix(chat, "-") || strings.HasPrefix(chat, "@") {
		per = notify.TelegramPerGroup
	}
	bot, _, _ := strings.Cut(c.cfg.Token, ":") // the bot's id, not its secret
	if err := c.cfg.Limiter.Wait(ctx, "telegram/"+bot+"/"+chat, per); err != nil {
		return err
	}
	return c.cfg.Limiter.Wait(ctx, "telegram/"+bot, notify.TelegramPerBot)
}

// New checks cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" || cfg.ChatID == "" {
		return nil, errors.New("telegram: need a bot token and a chat id")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	c := &Client{cfg: cfg, http: cfg.HTTPClient, now: cfg.Now}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Notify sends m to the chat, or edits the message m.Ref names
// ("chat_id:message_id"). Result.Ref names the message sent.
func (c *Client) Notify(ctx context.Context, m notify.Message) (notify.Result, error) {
	text := Format(m)
	var markup *InlineKeyboardMarkup
	if m.Actions {
		markup = Keyboard(m.Incident.ID)
	}
	if m.Ref != "" {
		chat, msgID, err := parseRef(m.Ref)
		if err != nil {
			return notify.Result{}, err
		}
		if err := c.wait(ctx, string(chat)); err != nil {
			return notify.Result{}, err
		}
		if markup == nil {
			// An edit without reply_markup keeps the old buttons; an
			// empty keyboard removes them.
			markup = &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{}}
		}
		_, err = c.EditMessageText(ctx, EditMessageText{ChatID: chat, MessageID: msgID, Text: text,
			ParseMode: "HTML", ReplyMarkup: markup})
		if err != nil {
			return notify.Result{}, err
		}
		return notify.Result{Ref: m.Ref}, nil
	}
	to := chatID(c.cfg.ChatID)
	if m.To != "" {
		to = chatID(m.To)
	}
	send := SendMessage{ChatID: to, Text: text, ParseMode: "HTML", ReplyMarkup: markup, LinkPreviewOptions: &LinkPreviewOptions{IsDisabled: true}}
	if m.Thread != "" {
		chat, msgID, err := parseRef(m.Thread)
		if err != nil {
			return notify.Result{}, err
		}
		send.ChatID = chat
		send.ReplyParameters = &ReplyParameters{MessageID: msgID, AllowSendingWithoutReply: true}
	}
	if err := c.wait(ctx, string(send.ChatID)); err != nil {
		return notify.Result{}, err
	}
	msg, err := c.SendMessage(ctx, send)
	if err != nil {
		return notify.Result{}, err
	}
	return notify.Result{Ref: strconv.FormatInt(msg.Chat.ID, 10) + ":" + strconv.FormatInt(msg.MessageID, 10)}, nil
}

func parseRef(ref string) (json.RawMessage, int64, error) {
	i := strings.LastIndexByte(ref, ':')
	if i <= 0 {
		return nil, 0, &notify.Error{Err: fmt.Errorf("telegram: bad message ref %q", ref)}
	}
	id, err := strconv.ParseInt(ref[i+1:], 10, 64)
	if err != nil || id <= 0 {
		return nil, 0, &notify.Error{Err: fmt.Errorf("telegram: bad message ref %q", ref)}
	}
	return chatID(ref[:i]), id, nil
}

// chatID encodes a chat id as the Bot API wants it: a number when it is
// one, else a string ("@channel").
func chatID(s string) json.RawMessage {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// Wire types of the Bot API, limited to the fields used here.
type (
	SendMessage struct {
		ChatID             json.RawMessage       `json:"chat_id"`
		Text               string                `json:"text"`
		ParseMode          string                `json:"parse_mode,omitempty"`
		ReplyMarkup        *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
		LinkPreviewOptions *LinkPreviewOptions   `json:"link_preview_options,omitempty"`
		ReplyParameters    *ReplyParameters      `json:"reply_parameters,omitempty"`
	}
	ReplyParameters struct {
		MessageID                int64 `json:"message_id"`
		AllowSendingWithoutReply bool  `json:"allow_sending_without_reply,omitempty"`
	}
	EditMessageText struct {
		ChatID      json.RawMessage       `json:"chat_id"`
		MessageID   int64                 `json:"message_id"`
		Text        string                `json:"text"`
		ParseMode   string                `json:"parse_mode,omitempty"`
		ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	}
	LinkPreviewOptions struct {
		IsDisabled bool `json:"is_disabled"`
	}
	InlineKeyboardMarkup struct {
		InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
	}
	InlineKeyboardButton struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data,omitempty"`
		URL          string `json:"url,omitempty"`
	}
	Message struct {
		MessageID int64  `json:"message_id"`
		Chat      Chat   `json:"chat"`
		Date      int64  `json:"date"`
		Text      string `json:"text,omitempty"`
	}
	Chat struct {
		ID    int64  `json:"id"`
		Type  string `json:"type,omitempty"`
		Title string `json:"title,omitempty"`
	}
	User struct {
		ID        int64  `json:"id"`
		IsBot     bool   `json:"is_bot"`
		FirstName string `json:"first_name,omitempty"`
		Username  string `json:"username,omitempty"`
	}
	CallbackQuery struct {
		ID      string   `json:"id"`
		From    User     `json:"from"`
		Message *Message `json:"message,omitempty"`
		Data    string   `json:"data,omitempty"`
	}
)

// SendMessage calls sendMessage.
func (c *Client) SendMessage(ctx context.Context, p SendMessage) (Message, error) {
	var msg Message
	err := c.call(ctx, "sendMessage", p, &msg, callTimeout)
	return msg, err
}

// EditMessageText calls editMessageText. An edit that changes nothing is
// not an error.
func (c *Client) EditMessageText(ctx context.Context, p EditMessageText) (Message, error) {
	var msg Message
	err := c.call(ctx, "editMessageText", p, &msg, callTimeout)
	var ne *notify.Error
	if errors.As(err, &ne) && ne.Status == http.StatusBadRequest &&
		strings.Contains(ne.Err.Error(), "message is not modified") {
		return msg, nil
	}
	return msg, err
}

// AnswerCallbackQuery stops the button's spinner and shows text to the
// user who pressed it.
func (c *Client) AnswerCallbackQuery(ctx context.Context, callbackQueryID, text string) error {
	return c.call(ctx, "answerCallbackQuery", struct {
		ID   string `json:"callback_query_id"`
		Text string `json:"text,omitempty"`
	}{callbackQueryID, notify.Truncate(text, 200)}, nil, callTimeout)
}

// SetWebhook registers url for updates; Telegram then sends secretToken
// in X-Telegram-Bot-Api-Secret-Token with each one.
func (c *Client) SetWebhook(ctx context.Context, webhookURL, secretToken string) error {
	return c.call(ctx, "setWebhook", struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token,omitempty"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{webhookURL, secretToken, []string{"callback_query"}}, nil, callTimeout)
}

// GetUpdates long-polls for updates from offset, waiting at most timeout
// (whole seconds) for one to arrive.
func (c *Client) GetUpdates(ctx context.Context, offset int64, timeout time.Duration) ([]Update, error) {
	var raw []json.RawMessage
	err := c.call(ctx, "getUpdates", struct {
		Offset         int64    `json:"offset,omitempty"`
		Timeout        int      `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, int(timeout / time.Second), []string{"callback_query"}}, &raw, timeout+callTimeout)
	if err != nil {
		return nil, err
	}
	ups := make([]Update, 0, len(raw))
	for _, r := range raw {
		u, err := ParseUpdate(r)
		if err != nil {
			return nil, err
		}
		ups = append(ups, u)
	}
	return ups, nil
}

// Allowed reports whether u comes from the configured chat: presses from
// any other chat the bot is in are refused.
func (c *Client) Allowed(u Update) bool {
	q := u.CallbackQuery
	if q == nil || q.Message == nil {
		return false
	}
	return strconv.FormatInt(q.Message.Chat.ID, 10) == c.cfg.ChatID
}

// response is the Bot API's envelope.
type response struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// call posts params as JSON to method and decodes the result into out.
// Errors are *notify.Error when Telegram answered, and never contain the
// token (it is in the URL).
func (c *Client) call(ctx context.Context, method string, params, out any, timeout time.Duration) error {
	body, err := json.Marshal(params)
	if err != nil {
		return &notify.Error{Err: fmt.Errorf("telegram %s: %w", method, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/bot"+c.cfg.Token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return &notify.Error{Err: fmt.Errorf("telegram %s: bad API URL", method)}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("telegram %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %w", method, err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		// Not the Bot API talking (a proxy's page): go by the status.
		if err := notify.FromResponse(resp, string(raw), c.now()); err != nil {
			return err
		}
		return &notify.Error{Status: resp.StatusCode, Retry: true, Err: fmt.Errorf("telegram %s: undecodable answer", method)}
	}
	if !r.OK {
		return classify(method, resp, r, c.now())
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return &notify.Error{Status: resp.StatusCode, Err: fmt.Errorf("telegram %s: decode result: %w", method, err)}
		}
	}
	return nil
}

// classify turns ok:false into a notify.Error by error_code: 429 and 5xx
// retry (after parameters.retry_after when given), other codes never do.
func classify(method string, resp *http.Response, r response, now time.Time) error {
	code := r.ErrorCode
	if code == 0 {
		code = resp.StatusCode
	}
	desc := strings.TrimSpace(notify.Truncate(r.Description, 300))
	e := &notify.Error{Status: code, Err: fmt.Errorf("telegram %s: %s", method, desc)}
	if code == http.StatusTooManyRequests || code >= 500 {
		e.Retry = true
		if r.Parameters != nil && r.Parameters.RetryAfter > 0 {
			e.After = time.Duration(r.Parameters.RetryAfter) * time.Second
		} else {
			e.After = notify.RetryAfter(resp.Header.Get("Retry-After"), now)
		}
	}
	if r.Parameters != nil && r.Parameters.MigrateToChatID != 0 {
		e.Err = fmt.Errorf("%w (the group is now chat %d: update chat_id)", e.Err, r.Parameters.MigrateToChatID)
	}
	return e
}

// Keyboard is the inline keyboard of a message about incident id.
func Keyboard(id int64) *InlineKeyboardMarkup {
	ids := strconv.FormatInt(id, 10)
	return &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{{
		{Text: "Acknowledge", CallbackData: "ack:" + ids},
		{Text: "Resolve", CallbackData: "resolve:" + ids},
	}}}
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// Escape makes s plain text in Telegram's HTML parse mode. Telegram
// knows only the named entities &lt; &gt; &amp; &quot; and numeric ones,
// so the apostrophe is &#39;.
func Escape(s string) string { return escaper.Replace(s) }

// Format renders m as Telegram HTML. Every piece of m is escaped; the
// only tags are ours. Text is cut before escaping so that no entity is
// split, and the whole stays under Telegram's 4096 characters.
func Format(m notify.Message) string {
	inc := m.Incident
	title := m.Title
	if title == "" {
		title = inc.Title
	}
	if inc.Severity != "" {
		title = "[" + inc.Severity + "] " + title
	}
	var b strings.Builder
	b.WriteString("<b>" + Escape(notify.Truncate(title, 256)) + "</b>")
	if t := strings.TrimSpace(m.Text); t != "" {
		b.WriteString("\n\n" + Escape(notify.Truncate(m.Text, notify.MaxText)))
	}
	var fields []string
	for _, f := range []struct{ name, value string }{
		{"Service", inc.Service},
		{"Status", inc.Status},
		{"Responder", inc.Responder},
	} {
		if f.value != "" {
			fields = append(fields, "<b>"+f.name+":</b> "+Escape(notify.Truncate(f.value, 100)))
		}
	}
	if len(fields) > 0 {
		b.WriteString("\n\n" + strings.Join(fields, "\n"))
	}
	if link(inc.URL) {
		fmt.Fprintf(&b, "\n<a href=\"%s\">Incident #%d</a>", Escape(inc.URL), inc.ID)
	}
	if !m.Actions && link(m.AckURL) {
		fmt.Fprintf(&b, "\n<a href=\"%s\">Acknowledge</a>", Escape(m.AckURL))
	}
	return b.String()
}

// link reports whether s is fit for an href: http(s) only, no
// javascript: or tg: links from a template, and short.
func link(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && len(s) <= 300
}
