package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Migration is one embedded schema change: migrations/NNNN_name.sql.
type Migration struct {
	Version string
	SQL     string
}

// Migrate applies, in version order, each *.sql file in fsys's migrations
// folder with apply. Each engine's apply runs one migration in a
// transaction and records its version, skipping a version already
// recorded, so that Migrate is safe to run again and from several
// instances.
func Migrate(ctx context.Context, fsys fs.FS, apply func(ctx context.Context, m Migration) error) error {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		m := Migration{Version: strings.TrimSuffix(path.Base(name), ".sql"), SQL: string(body)}
		if err := apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Version, err)
		}
	}
	return nil
}
