package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

func TestLimiterKeepsToTheLimit(t *testing.T) {
	lim := notify.NewLimiter()
	lim.MaxWait = time.Millisecond
	hourly := notify.Limit{Every: time.Hour, Burst: 2}
	ctx := context.Background()
	for i := range 2 {
		if err := lim.Wait(ctx, "chat-1", hourly); err != nil {
			t.Fatalf("send %d within the burst: %v", i+1, err)
		}
	}
	err := lim.Wait(ctx, "chat-1", hourly)
	retry, after := notify.Retryable(err)
	if err == nil || !retry || after < 59*time.Minute {
		t.Fatalf("third send in an hour: err %v, retry %v after %s; want a retry in about an hour", err, retry, after)
	}
	if err := lim.Wait(ctx, "chat-2", hourly); err != nil {
		t.Fatalf("another key has a bucket of its own: %v", err)
	}
	var none *notify.Limiter
	for range 100 {
		if err := none.Wait(ctx, "x", hourly); err != nil {
			t.Fatalf("a nil limiter limits nothing: %v", err)
		}
	}
}

func TestLimiterWaitsForShortTurns(t *testing.T) {
	lim := notify.NewLimiter()
	fast := notify.Limit{Every: 20 * time.Millisecond, Burst: 1}
	ctx := context.Background()
	start := time.Now()
	for range 3 {
		if err := lim.Wait(ctx, "k", fast); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 35*time.Millisecond {
		t.Fatalf("three sends at one per 20ms took %s; the limiter did not wait", took)
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	slow := notify.Limit{Every: time.Second, Burst: 1}
	lim.Wait(context.Background(), "c", slow)
	if err := lim.Wait(ctx, "c", slow); err == nil {
		t.Fatal("a cancelled wait returned nil")
	}
}
