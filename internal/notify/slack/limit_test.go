package slack

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// Posts to one channel stay within Slack's one a second (bursts of three):
// past the burst a post waits its turn, or comes back retryable when the
// wait is longer than the limiter allows; a DM to a member and a reply in
// a thread use the bucket of where they go.
func TestPostsKeepSlacksRateLimit(t *testing.T) {
	b := setup(t)
	lim := notify.NewLimiter()
	lim.MaxWait = time.Millisecond
	n, err := New(Config{Token: testToken, Channel: "#incidents", APIURL: b.srv.URL, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range notify.SlackPerChannel.Burst {
		if _, err := n.Notify(ctx, message()); err != nil {
			t.Fatalf("post %d within the burst: %v", i+1, err)
		}
	}
	_, err = n.Notify(ctx, message())
	if retry, after := notify.Retryable(err); err == nil || !retry || after <= 0 {
		t.Fatalf("a post past the burst: %v (retry %v after %s), want a retryable wait", err, retry, after)
	}
	m := message()
	m.To = "U0ALICE"
	if _, err := n.Notify(ctx, m); err != nil {
		t.Fatalf("a DM has a bucket of its own: %v", err)
	}
	b.mu.Lock()
	got := len(b.reqs)
	dm := b.reqs[len(b.reqs)-1].Form.Get("channel")
	b.mu.Unlock()
	if got != notify.SlackPerChannel.Burst+1 || dm != "U0ALICE" {
		t.Fatalf("%d requests (last to %q); want the burst and the DM", got, dm)
	}
}
