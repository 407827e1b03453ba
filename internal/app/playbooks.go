package app

import (
	"context"
	"log/slog"

	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// TEMPORARY until the playbook library lands.
type library struct{}

func loadPlaybooks(ctx context.Context, c *config.Config, st store.Store, log *slog.Logger) (*library, error) {
	return &library{}, nil
}

func watchPlaybooks(ctx context.Context, lib *library, log *slog.Logger) { _ = lib }

func openPostgres(ctx context.Context, url string) (store.Store, error) { return nil, errNoPlaybooks }
