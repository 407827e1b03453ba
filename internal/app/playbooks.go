package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// loadPlaybooks loads the configured playbooks, or the bundled example
// when none are configured, and stores each version's text.
func loadPlaybooks(ctx context.Context, c *config.Config, st store.Store, log *slog.Logger) (*playbook.Library, error) {
	opt, err := LibraryOptions(c)
	if err != nil {
		return nil, err
	}
	lib, err := playbook.NewLibraryWith(log, opt, c.Playbooks...)
	if err != nil {
		if len(lib.Playbooks()) == 0 {
			return nil, fmt.Errorf("playbooks: none loaded: %w", err)
		}
		// Serve what did load; the broken document is named in the log and
		// by `firebreak playbook lint`.
		log.Error("some playbooks did not load", "err", err)
	}
	v := &versions{st: st, log: log, saved: map[string]bool{}}
	if err := v.save(ctx, lib); err != nil {
		return nil, err
	}
	return lib, nil
}

// LibraryOptions are the playbook library's settings from the
// configuration: the runbook_url prefixes and the runbook section table.
func LibraryOptions(c *config.Config) (playbook.LibraryOptions, error) {
	sections, err := playbook.NewSectionTable(c.PlaybookSections)
	if err != nil {
		return playbook.LibraryOptions{}, err
	}
	return playbook.LibraryOptions{URLs: c.PlaybookURLs, Sections: sections}, nil
}

// versions stores each playbook text once, under its content hash, so an
// incident can always show the exact text it ran.
type versions struct {
	st    store.Store
	log   *slog.Logger
	saved map[string]bool
}

func (v *versions) save(ctx context.Context, lib *playbook.Library) error {
	var errs []error
	for _, pb := range lib.Playbooks() {
		if v.saved[pb.Hash] {
			continue
		}
		err := v.st.SavePlaybookVersion(ctx, store.PlaybookVersion{Hash: pb.Hash, Name: pb.ID, Path: pb.Path, Content: pb.Source, LoadedAt: time.Now().UTC()})
		if err != nil {
			errs = append(errs, fmt.Errorf("store playbook %s version %s: %w", pb.ID, pb.Hash[:12], err))
			continue
		}
		v.saved[pb.Hash] = true
	}
	return errors.Join(errs...)
}

// watchPlaybooks reloads on SIGHUP and on file change until ctx ends, and
// stores every new version that goes live.
func watchPlaybooks(ctx context.Context, lib *playbook.Library, st store.Store, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		if err := lib.Watch(ctx); err != nil && ctx.Err() == nil {
			log.Warn("playbook file watch stopped; SIGHUP still reloads", "err", err)
		}
	}()
	v := &versions{st: st, log: log, saved: map[string]bool{}}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading playbooks")
			if err := lib.Reload(); err != nil {
				log.Error("playbook reload: the previous version of each failing document stays live", "err", err)
			}
		case <-tick.C:
		}
		if err := v.save(ctx, lib); err != nil && ctx.Err() == nil {
			log.Warn("store playbook versions", "err", err)
		}
	}
}
