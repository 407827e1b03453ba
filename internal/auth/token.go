package auth

import (
	"encoding/json"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Role decides what a token may do.
type Role string

const (
	RoleViewer    Role = "viewer"
	RoleResponder Role = "responder"
	RoleAdmin     Role = "admin"
	// RoleIngest is an integration key's role: it may only post alerts of
	// its own source.
	RoleIngest Role = "ingest"
)

// Allows reports whether a holder of r may act as need. Ingest keys allow
// nothing but ingest, and nothing else allows ingest.
func (r Role) Allows(need Role) bool {
	if r == RoleIngest || need == RoleIngest {
		return r == need
	}
	rank := map[Role]int{RoleViewer: 1, RoleResponder: 2, RoleAdmin: 3}
	return rank[r] >= rank[need] && rank[need] > 0
}

// ValidUserRole reports whether r can be given to a person's token.
func (r Role) ValidUserRole() bool {
	return r == RoleViewer || r == RoleResponder || r == RoleAdmin
}

// Token is an API token or an integration key. Its secret is never stored,
// only its SHA-256 digest.
type Token struct {
	ID        int64           `json:"id"`
	Name      string          `json:"name"`
	Role      Role            `json:"role"`
	Source    incident.Source `json:"source,omitempty"` // integration keys only
	Hash      []byte          `json:"-"`
	Prefix    string          `json:"prefix"` // the first characters, to tell keys apart
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by,omitempty"`
	RevokedAt time.Time       `json:"revoked_at,omitzero"`
}

// AuditEntry records who did what, outside any one incident's timeline.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail []byte    `json:"detail,omitempty"`
}

// NewToken makes an API token or integration key named name, and the audit
// entry of its creation, for the caller to store in one transaction. The
// secret is returned once and never kept.
func NewToken(name string, role Role, source incident.Source, prefix, actor string, now time.Time) (*Token, string, *AuditEntry) {
	secret, hash := NewSecret(prefix)
	tok := &Token{Name: name, Role: role, Source: source, Hash: hash, Prefix: secret[:len(prefix)+6], CreatedAt: now.UTC(), CreatedBy: actor}
	action := "token.create"
	if role == RoleIngest {
		action = "integration.create"
	}
	detail, _ := json.Marshal(map[string]string{"role": string(role), "source": string(source)})
	return tok, secret, &AuditEntry{At: tok.CreatedAt, Actor: actor, Action: action, Target: name, Detail: detail}
}
