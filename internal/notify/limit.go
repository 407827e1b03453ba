package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a documented rate limit of a service: Every between messages
// on average, with bursts of Burst.
type Limit struct {
	Every time.Duration
	Burst int
}

// The limits the services document.
var (
	// Slack: chat.postMessage allows about one message per second per
	// channel, with short bursts.
	SlackPerChannel = Limit{Every: time.Second, Burst: 3}
	// Telegram: one message per second in a chat, twenty per minute in a
	// group, thirty per second for a bot.
	TelegramPerChat  = Limit{Every: time.Second, Burst: 1}
	TelegramPerGroup = Limit{Every: 3 * time.Second, Burst: 20}
	TelegramPerBot   = Limit{Every: time.Second / 30, Burst: 30}
	// Teams: a webhook takes four requests per second.
	TeamsPerWebhook = Limit{Every: time.Second / 4, Burst: 4}
)

// Limiter keeps a token bucket per key (a Slack channel, a Telegram chat, a
// webhook), shared by every notifier of a service, so that Firebreak stays
// inside the limits a service documents instead of learning them from 429s.
// The zero value is not usable; a nil *Limiter limits nothing.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	// MaxWait is the longest a send waits for its turn; past it the send
	// fails as retryable after the wait, and the delivery job comes back.
	MaxWait time.Duration
}

// NewLimiter returns a Limiter that waits at most 10 s.
func NewLimiter() *Limiter {
	return &Limiter{buckets: map[string]*rate.Limiter{}, MaxWait: 10 * time.Second}
}

// maxBuckets bounds the keys kept; past it idle buckets are dropped, which
// forgives at most a burst.
const maxBuckets = 10000

// Wait blocks until key may send under l, or returns a retryable *Error
// saying when to come back.
func (lim *Limiter) Wait(ctx context.Context, key string, l Limit) error {
	if lim == nil || l.Every <= 0 {
		return nil
	}
	lim.mu.Lock()
	b := lim.buckets[key]
	if b == nil {
		if len(lim.buckets) >= maxBuckets {
			now := time.Now()
			for k, v := range lim.buckets {
				if v.TokensAt(now) >= float64(v.Burst()) {
					delete(lim.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(rate.Every(l.Every), max(l.Burst, 1))
		lim.buckets[key] = b
	}
	lim.mu.Unlock()
	r := b.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	if d > lim.MaxWait {
		r.Cancel()
		return &Error{Status: 0, Retry: true, After: d, Err: fmt.Errorf("rate limit of %s: next send in %s", key, d.Round(time.Millisecond))}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return errors.Join(ctx.Err(), &Error{Retry: true, Err: fmt.Errorf("rate limit of %s: gave up waiting", key)})
	}
}
