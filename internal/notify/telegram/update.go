package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// Update is one Bot API update. Only callback queries are asked for;
// Action and IncidentID are set when the query is a press of our buttons.
type Update struct {
	UpdateID      int64          `json:"update_id"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`

	// Action is "ack" or "resolve"; empty for any other update.
	Action     string `json:"-"`
	IncidentID int64  `json:"-"`
}

// ParseUpdate decodes an update, from a webhook body or getUpdates. A
// well-formed update that is not a press of our buttons is returned with
// an empty Action, not an error: the caller acknowledges and drops it.
func ParseUpdate(body []byte) (Update, error) {
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return Update{}, fmt.Errorf("telegram: decode update: %w", err)
	}
	if u.UpdateID <= 0 {
		return Update{}, errors.New("telegram: update without update_id")
	}
	if q := u.CallbackQuery; q != nil && q.Message != nil && q.ID != "" {
		action, id, ok := strings.Cut(q.Data, ":")
		n, err := strconv.ParseInt(id, 10, 64)
		if ok && err == nil && n > 0 && (action == "ack" || action == "resolve") {
			u.Action, u.IncidentID = action, n
		}
	}
	return u, nil
}

// ErrWebhookSecret means a webhook request without the secret token
// given to setWebhook: answer 401 and drop it.
var ErrWebhookSecret = errors.New("telegram: missing or wrong webhook secret token")

// VerifyWebhook checks the X-Telegram-Bot-Api-Secret-Token header of a
// webhook request against secretToken, in constant time.
func VerifyWebhook(r *http.Request, secretToken string) error {
	if secretToken == "" {
		return errors.New("telegram: no webhook secret token configured")
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(secretToken)) != 1 {
		return ErrWebhookSecret
	}
	return nil
}

// Poller receives updates by getUpdates long polling and hands each to
// Handle, in order. It is the alternative to a webhook for hosts Telegram
// cannot reach.
type Poller struct {
	Client *Client
	// Handle is called once per update. An error is logged; the update
	// is still consumed, so one bad update cannot stall the rest.
	Handle func(context.Context, Update) error
	// Timeout is the long-poll wait; default 30 s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed poll;
	// default 1 s and 1 min. A retry_after from Telegram wins.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger

	offset int64
}

// Offset is the update id the next poll starts from.
func (p *Poller) Offset() int64 { return p.offset }

// Run polls until ctx ends, then returns ctx's error.
func (p *Poller) Run(ctx context.Context) error {
	timeout, minB, maxB := p.Timeout, p.MinBackoff, p.MaxBackoff
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if minB <= 0 {
		minB = time.Second
	}
	if maxB < minB {
		maxB = max(minB, time.Minute)
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := minB
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ups, err := p.Client.GetUpdates(ctx, p.offset, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := backoff
			if _, after := notify.Retryable(err); after > wait {
				wait = after
			}
			log.WarnContext(ctx, "telegram getUpdates failed", "err", err, "retry_in", wait)
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			backoff = min(backoff*2, maxB)
			continue
		}
		backoff = minB
		for _, u := range ups {
			if u.UpdateID >= p.offset {
				p.offset = u.UpdateID + 1
			}
			if err := p.Handle(ctx, u); err != nil {
				log.WarnContext(ctx, "telegram update not handled", "update_id", u.UpdateID, "err", err)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
