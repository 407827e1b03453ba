package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Window is how far a request's timestamp may be from now, and how long
// Replays remembers a signature.
const Window = 5 * time.Minute

// maxBody bounds an interactivity request; Slack's are a few kB.
const maxBody = 1 << 20

// Errors of VerifyRequest and Replays; all mean 401 to the caller.
var (
	ErrMissingSignature = errors.New("slack: missing signature headers")
	ErrStale            = errors.New("slack: request timestamp outside the 5 minute window")
	ErrBadSignature     = errors.New("slack: bad request signature")
	ErrReplay           = errors.New("slack: request already seen")
	ErrTooLarge         = errors.New("slack: request body too large")
)

const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
)

// VerifyRequest reads r's body and checks Slack's v0 signature over
// "v0:timestamp:body" with signingSecret, refusing a timestamp more than
// Window from now. It returns the body and puts it back in r.Body.
// slack-go's verifier also checks the timestamp against the wall clock,
// so now must be the real time outside tests of the window itself.
// Replays is the caller's next step.
func VerifyRequest(r *http.Request, signingSecret string, now time.Time) ([]byte, error) {
	if signingSecret == "" {
		return nil, errors.New("slack: no signing secret configured")
	}
	sig, ts := r.Header.Get(headerSignature), r.Header.Get(headerTimestamp)
	if sig == "" || ts == "" {
		return nil, ErrMissingSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Window || d < -Window {
		return nil, ErrStale
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("slack: read request: %w", err)
	}
	if len(body) > maxBody {
		return nil, ErrTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	v, err := slackapi.NewSecretsVerifier(r.Header, signingSecret)
	switch {
	case errors.Is(err, slackapi.ErrExpiredTimestamp):
		return nil, ErrStale
	case err != nil:
		return nil, ErrBadSignature
	}
	if _, err := v.Write(body); err != nil {
		return nil, ErrBadSignature
	}
	if err := v.Ensure(); err != nil {
		return nil, ErrBadSignature
	}
	return body, nil
}

// Replays remembers the signatures of verified requests for Window, so
// that a captured request cannot be sent again inside its timestamp
// window. It holds at most a fixed number; past that the oldest go first.
// It is safe for concurrent use.
type Replays struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time
}

// NewReplays returns a set holding at most max signatures (10000 when
// max <= 0).
func NewReplays(max int) *Replays {
	if max <= 0 {
		max = 10000
	}
	return &Replays{max: max, seen: make(map[string]time.Time)}
}

// Check records r's signature and timestamp, and returns ErrReplay when
// the signature was seen within Window of now. Call it after
// VerifyRequest succeeded.
func (p *Replays) Check(r *http.Request, now time.Time) error {
	sig := r.Header.Get(headerSignature)
	if sig == "" {
		return ErrMissingSignature
	}
	sec, err := strconv.ParseInt(r.Header.Get(headerTimestamp), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	ts := time.Unix(sec, 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	for s, t := range p.seen {
		if now.Sub(t) > Window {
			delete(p.seen, s)
		}
	}
	if _, ok := p.seen[sig]; ok {
		return ErrReplay
	}
	for len(p.seen) >= p.max {
		var oldest string
		var at time.Time
		for s, t := range p.seen {
			if oldest == "" || t.Before(at) {
				oldest, at = s, t
			}
		}
		delete(p.seen, oldest)
	}
	p.seen[sig] = ts
	return nil
}

// Len is the number of signatures remembered.
func (p *Replays) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// Action is a button press on one of our messages.
type Action struct {
	UserID   string
	UserName string
	TeamID   string
	// ActionID is "ack" or "resolve".
	ActionID    string
	IncidentID  int64
	ResponseURL string
	Channel     string
	MessageTS   string
}

// ErrNotOurs means a well-formed payload that is not a press of our
// buttons; the caller answers 200 and ignores it.
var ErrNotOurs = errors.New("slack: not a firebreak action")

// ParseAction decodes the form field "payload" of a verified
// interactivity request (type block_actions).
func ParseAction(body []byte) (Action, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Action{}, fmt.Errorf("slack: decode form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return Action{}, errors.New("slack: no payload field")
	}
	var ic slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		return Action{}, fmt.Errorf("slack: decode payload: %w", err)
	}
	if ic.Type != slackapi.InteractionTypeBlockActions {
		return Action{}, fmt.Errorf("%w: type %q", ErrNotOurs, ic.Type)
	}
	for _, ba := range ic.ActionCallback.BlockActions {
		var name string
		switch ba.ActionID {
		case ActionAck:
			name = "ack"
		case ActionResolve:
			name = "resolve"
		default:
			continue
		}
		id, err := strconv.ParseInt(ba.Value, 10, 64)
		if err != nil || id <= 0 {
			return Action{}, fmt.Errorf("slack: bad incident id %q", ba.Value)
		}
		a := Action{
			UserID:      ic.User.ID,
			UserName:    ic.User.Name,
			TeamID:      ic.Team.ID,
			ActionID:    name,
			IncidentID:  id,
			ResponseURL: ic.ResponseURL,
			Channel:     ic.Container.ChannelID,
			MessageTS:   ic.Container.MessageTs,
		}
		if a.Channel == "" {
			a.Channel = ic.Channel.ID
		}
		if a.MessageTS == "" {
			a.MessageTS = ic.Message.Timestamp
		}
		if a.UserName == "" {
			a.UserName = ic.User.Username
		}
		return a, nil
	}
	return Action{}, ErrNotOurs
}
