package notify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFromResponse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		status int
		header string
		ok     bool
		retry  bool
		after  time.Duration
	}{
		{200, "", true, false, 0},
		{204, "", true, false, 0},
		{400, "", false, false, 0},
		{401, "", false, false, 0},
		{404, "", false, false, 0},
		{429, "2", false, true, 2 * time.Second},
		{429, now.Add(7 * time.Second).Format(http.TimeFormat), false, true, 7 * time.Second},
		{500, "", false, true, 0},
		{503, "30", false, true, 30 * time.Second},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{}}
		if c.header != "" {
			resp.Header.Set("Retry-After", c.header)
		}
		err := FromResponse(resp, "body", now)
		if (err == nil) != c.ok {
			t.Errorf("%d: err = %v", c.status, err)
			continue
		}
		if err == nil {
			continue
		}
		retry, after := Retryable(err)
		if retry != c.retry || after != c.after {
			t.Errorf("%d %q: retry %v after %v; want %v %v", c.status, c.header, retry, after, c.retry, c.after)
		}
	}
	if retry, _ := Retryable(errors.New("connection refused")); !retry {
		t.Error("a network error is not retried")
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("é", 600000) // 1.2 MB
	got := Truncate(big, MaxText)
	if len(got) > MaxText || !utf8.ValidString(got) || !strings.Contains(got, "bytes cut]") {
		t.Fatalf("truncated to %d bytes, valid %v: ...%q", len(got), utf8.ValidString(got), got[len(got)-30:])
	}
	if Truncate("short", MaxText) != "short" {
		t.Fatal("short text changed")
	}
}
