package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

func TestSecrets(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s, h := auth.NewSecret(auth.TokenPrefix)
		if !strings.HasPrefix(s, "fbt_") || len(s) != 4+52 || seen[s] {
			t.Fatalf("secret %q", s)
		}
		seen[s] = true
		if string(h) != string(auth.Hash(s)) || len(h) != 32 {
			t.Fatal("hash is not the SHA-256 of the secret")
		}
	}
}

func TestCheckCachesAndForgets(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Migrate(ctx)
	secret, hash := auth.NewSecret(auth.IntegrationPrefix)
	tok := &auth.Token{Name: "am", Role: auth.RoleIngest, Source: incident.SourceAlertmanager, Hash: hash, Prefix: "fbi_", CreatedAt: time.Now()}
	if err := st.InTx(ctx, func(tx store.Tx) error { return tx.CreateToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tokens := auth.NewTokens(st, time.Minute, func() time.Time { return now })
	p, err := tokens.Check(ctx, secret)
	if err != nil || p.Name != "am" || p.Role != auth.RoleIngest || p.Source != incident.SourceAlertmanager {
		t.Fatalf("check = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "fbi_wrong", strings.Repeat("x", 500), secret + " "} {
		if _, err := tokens.Check(ctx, bad); incident.ErrorCode(err) != incident.EUNAUTHORIZED {
			t.Errorf("check %.20q: %v, want unauthorized", bad, err)
		}
	}
	st.InTx(ctx, func(tx store.Tx) error { return tx.RevokeToken(ctx, tok.ID, now) })
	if _, err := tokens.Check(ctx, secret); err != nil {
		t.Fatalf("within the cache TTL a revoked token still passes on this instance: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := tokens.Check(ctx, secret); incident.ErrorCode(err) != incident.EUNAUTHORIZED {
		t.Fatalf("after the TTL a revoked token must fail: %v", err)
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		have, need auth.Role
		ok         bool
	}{
		{auth.RoleViewer, auth.RoleViewer, true}, {auth.RoleViewer, auth.RoleResponder, false},
		{auth.RoleResponder, auth.RoleViewer, true}, {auth.RoleResponder, auth.RoleAdmin, false},
		{auth.RoleAdmin, auth.RoleResponder, true}, {auth.RoleAdmin, auth.RoleIngest, false},
		{auth.RoleIngest, auth.RoleViewer, false}, {auth.RoleIngest, auth.RoleIngest, true},
		{"", auth.RoleViewer, false},
	}
	for _, c := range cases {
		if got := c.have.Allows(c.need); got != c.ok {
			t.Errorf("%q allows %q = %v, want %v", c.have, c.need, got, c.ok)
		}
	}
}
