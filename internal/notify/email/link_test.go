package email

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignVerifyLink(t *testing.T) {
	t.Parallel()
	secret := []byte("link-secret")
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	exp := now.Add(30 * time.Minute)
	link := SignLink("https://firebreak.example/ack?ref=mail", secret, 42, "ack", "alice@example.test", exp)
	if link == "" {
		t.Fatal("SignLink returned nothing")
	}
	tamper := func(k, v string) string {
		u, _ := url.Parse(link)
		q := u.Query()
		q.Set(k, v)
		u.RawQuery = q.Encode()
		return u.String()
	}
	drop := func(k string) string {
		u, _ := url.Parse(link)
		q := u.Query()
		q.Del(k)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name    string
		link    string
		secret  []byte
		now     time.Time
		wantErr error
	}{
		{"valid", link, secret, now, nil},
		{"valid just before expiry", link, secret, exp.Add(-time.Second), nil},
		{"expired", link, secret, exp, ErrLinkExpired},
		{"long expired", link, secret, exp.Add(24 * time.Hour), ErrLinkExpired},
		{"other incident", tamper("incident", "43"), secret, now, ErrLinkTampered},
		{"other action", tamper("action", "resolve"), secret, now, ErrLinkTampered},
		{"other user", tamper("user", "mallory@example.test"), secret, now, ErrLinkTampered},
		{"later expiry", tamper("expires", "9999999999"), secret, exp.Add(time.Hour), ErrLinkTampered},
		{"bad sig", tamper("sig", strings.Repeat("0", 64)), secret, now, ErrLinkTampered},
		{"sig not hex", tamper("sig", "xyz"), secret, now, ErrLinkTampered},
		{"no sig", drop("sig"), secret, now, ErrLinkTampered},
		{"no user", drop("user"), secret, now, ErrLinkTampered},
		{"repeated param", link + "&incident=43", secret, now, ErrLinkTampered},
		{"wrong secret", link, []byte("other"), now, ErrLinkTampered},
		{"empty secret", link, nil, now, ErrLinkTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.link)
			if err != nil {
				t.Fatal(err)
			}
			id, action, user, err := VerifyLink(u, tt.secret, tt.now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (id != 42 || action != "ack" || user != "alice@example.test") {
				t.Errorf("got %d %q %q", id, action, user)
			}
			if err != nil && (id != 0 || action != "" || user != "") {
				t.Errorf("a failed check returned values %d %q %q", id, action, user)
			}
		})
	}
	if u, _ := url.Parse(link); u.Query().Get("ref") != "mail" || u.Path != "/ack" {
		t.Errorf("base URL not kept: %s", link)
	}
	if SignLink("://bad", secret, 1, "ack", "u", exp) != "" {
		t.Error("SignLink accepted a bad base")
	}
}

func TestVerifyLinkNil(t *testing.T) {
	t.Parallel()
	if _, _, _, err := VerifyLink(nil, []byte("s"), time.Now()); !errors.Is(err, ErrLinkTampered) {
		t.Errorf("err = %v", err)
	}
}
