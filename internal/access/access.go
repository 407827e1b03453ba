// Package access issues and revokes API tokens and integration keys, each
// with its audit entry in the same transaction. The HTTP API and the web
// console both call it.
package access

import (
	"context"
	"encoding/json"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Issue creates a token (or, with role auth.RoleIngest, an integration
// key of source) and returns it with its secret, shown once.
func Issue(ctx context.Context, st store.Store, name string, role auth.Role, source incident.Source, actor string, now time.Time) (*auth.Token, string, error) {
	prefix := auth.TokenPrefix
	if role == auth.RoleIngest {
		prefix = auth.IntegrationPrefix
	}
	tok, secret, audit := auth.NewToken(name, role, source, prefix, actor, now)
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, tok); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit)
	})
	if err != nil {
		return nil, "", err
	}
	return tok, secret, nil
}

// Revoke revokes an API token or, with integration set, an integration
// key; an id of the other kind is not found, so that neither caller can
// revoke what the other manages. self is the caller's own token id, which
// it may not revoke.
func Revoke(ctx context.Context, st store.Store, id int64, integration bool, actor string, self int64, now time.Time) (*auth.Token, error) {
	kind, action := "token", "token.revoke"
	if integration {
		kind, action = "integration key", "integration.revoke"
	}
	// A token's role is fixed when it is created, so its kind read here
	// still holds in the transaction below.
	all, err := st.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	var tok *auth.Token
	for i := range all {
		if all[i].ID == id && (all[i].Role == auth.RoleIngest) == integration {
			tok = &all[i]
		}
	}
	switch {
	case tok == nil:
		return nil, incident.Errorf(incident.ENOTFOUND, "%s %d not found", kind, id)
	case !tok.RevokedAt.IsZero():
		return nil, incident.Errorf(incident.ENOTFOUND, "%s %d is already revoked", kind, id)
	case id == self:
		return nil, incident.Errorf(incident.ECONFLICT, "id: a token cannot revoke itself; use another admin token")
	}
	detail, _ := json.Marshal(map[string]any{"id": id, "role": tok.Role, "source": tok.Source})
	now = now.UTC()
	err = st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeToken(ctx, id, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: now, Actor: actor, Action: action, Target: tok.Name, Detail: detail})
	})
	return tok, err
}
