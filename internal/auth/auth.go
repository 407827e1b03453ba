// Package auth issues and checks API tokens and integration keys. Both are
// random 256-bit secrets, so a SHA-256 digest is a safe way to store them
// and costs nothing per request; passwords, were there any, would need a
// slow hash instead.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Prefixes tell a token from an integration key at a glance, and let secret
// scanners and the redactor find them.
const (
	TokenPrefix       = "fbt_"
	IntegrationPrefix = "fbi_"
)

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh secret with the given prefix and its digest.
func NewSecret(prefix string) (secret string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing is safe
	}
	secret = prefix + strings.ToLower(encoding.EncodeToString(b[:]))
	return secret, Hash(secret)
}

// Hash is the stored digest of a secret.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Principal is who a request acts as.
type Principal struct {
	TokenID int64
	Name    string
	Role    Role
	Source  incident.Source
}

// Actor is the name the timeline and audit log record.
func (p *Principal) Actor() string { return p.Name }

// Tokens looks tokens up by digest, remembering hits for a short while so a
// busy intake costs no database read per request. A revoked token stops
// working within the cache's TTL.
type Tokens struct {
	store TokenFinder
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p       Principal
	expires time.Time
}

// TokenFinder finds a token by the SHA-256 digest of its secret; the
// store is one.
type TokenFinder interface {
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
}

// NewTokens returns a checker over s with the given cache TTL.
func NewTokens(s TokenFinder, ttl time.Duration, now func() time.Time) *Tokens {
	return &Tokens{store: s, ttl: ttl, now: now, cache: make(map[[32]byte]cached)}
}

const maxCached = 10000

// Check returns the principal a secret belongs to, or an EUNAUTHORIZED error.
func (t *Tokens) Check(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "missing token: send Authorization: Bearer <token>")
	}
	if len(secret) > 200 {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "invalid token")
	}
	var key [32]byte
	copy(key[:], Hash(secret))
	now := t.now()
	t.mu.Lock()
	c, ok := t.cache[key]
	t.mu.Unlock()
	if ok && now.Before(c.expires) {
		p := c.p
		return &p, nil
	}
	tok, err := t.store.TokenByHash(ctx, key[:])
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "invalid or revoked token")
	}
	if err != nil {
		return nil, err
	}
	// The index found the row by digest; compare it once more in constant
	// time so no code path ever compares secrets byte by byte.
	if subtle.ConstantTimeCompare(tok.Hash, key[:]) != 1 {
		return nil, incident.Errorf(incident.EUNAUTHORIZED, "invalid or revoked token")
	}
	p := Principal{TokenID: tok.ID, Name: tok.Name, Role: tok.Role, Source: tok.Source}
	t.mu.Lock()
	if len(t.cache) >= maxCached {
		clear(t.cache)
	}
	t.cache[key] = cached{p: p, expires: now.Add(t.ttl)}
	t.mu.Unlock()
	return &p, nil
}

// Forget drops every cached token, as after a revocation on this instance.
func (t *Tokens) Forget() {
	t.mu.Lock()
	clear(t.cache)
	t.mu.Unlock()
}
