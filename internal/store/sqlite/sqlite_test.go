package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
	"github.com/firebreak-dev/firebreak/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	// SQLite is embedded: one instance owns the file, so there is no second
	// handle to race against.
	storetest.Run(t, open, nil)
}
