// Package app is the composition root: it builds Firebreak's parts from a
// configuration and runs them.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/console"
	"github.com/firebreak-dev/firebreak/internal/escalation"
	"github.com/firebreak-dev/firebreak/internal/executor/shell"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/people"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/redact"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/review"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/postgres"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

// NewLogger builds the slog logger the configuration asks for.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenStore opens and migrates the configured database.
func OpenStore(ctx context.Context, c *config.Config) (store.Store, error) {
	url := c.DatabaseURL()
	var (
		s   store.Store
		err error
	)
	if config.IsPostgres(url) {
		s, err = postgres.Open(ctx, url)
	} else {
		s, err = sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite:"))
	}
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s database: %w", s.Engine(), err)
	}
	return s, nil
}

// Serve runs the server until ctx ends or SIGTERM/SIGINT arrives, then shuts
// down gracefully: it stops accepting, lets in-flight requests finish,
// commits what intake holds, lets running steps finish and closes the
// store.
func Serve(ctx context.Context, c config.Config, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer, opts ...Option) error {
	if now == nil {
		now = time.Now
	}
	if err := c.Validate(); err != nil {
		return err
	}
	red, err := redact.New(redact.Config{Patterns: c.Redact})
	if err != nil {
		return fmt.Errorf("redact: %w", err)
	}
	log := slog.New(red.Handler(NewLogger(c.Log, stderr).Handler()))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: create %s: %w", c.DataDir, err)
	}
	if err := protectDataDir(ctx, log, &c); err != nil {
		return err
	}
	st, err := OpenStore(ctx, &c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bootstrapAdmin(ctx, st, c.DataDir, now, stdout); err != nil {
		return err
	}
	lib, err := loadPlaybooks(ctx, &c, st, log)
	if err != nil {
		return err
	}
	execs, err := NewExecutors(&c, getenv, red, opts...)
	if err != nil {
		return err
	}
	if execs.Shell != nil {
		if sandbox := shell.SandboxStatus(); strings.HasPrefix(sandbox, "none") {
			log.WarnContext(ctx, "shell steps run without a sandbox", "sandbox", sandbox)
		} else {
			log.InfoContext(ctx, "shell steps run sandboxed", "sandbox", sandbox)
		}
	}
	if execs.SQL != nil {
		defer execs.SQL.Close()
	}
	metrics := httpapi.NewMetrics(st)
	queue := newQueue(&c, st, log, now)
	// The phase clocks tell those paged of SLA breaches, and ask for the
	// review draft; both are built below, so the clocks reach them through
	// these.
	var (
		pager   *escalation.Engine
		reviews *review.Service
	)
	calendar, err := phase.NewCalendar(c.Phases.Calendar.TimeZone, c.Phases.Calendar.Weekdays, c.Phases.Calendar.Holidays, c.Phases.Calendar.ReviewDue)
	if err != nil {
		return err
	}
	clocks := phase.New(phase.Config{Store: st, Queue: queue, Playbooks: lib, Calendar: calendar,
		DefaultWatch: time.Duration(c.Phases.RecoveryWatch), Metrics: metrics, Now: now, Logger: log,
		Tell: func(ctx context.Context, tx store.Tx, id int64, ev notify.Event, by time.Time) ([]string, error) {
			return pager.Tell(ctx, tx, id, ev, by)
		},
		PagesDue: func(ctx context.Context, tx store.Tx, id int64, at time.Time) (bool, error) {
			return pager.Unpaged(ctx, tx, id, at)
		},
		Review: func(ctx context.Context, tx store.Tx, id int64, why string) error {
			return reviews.Schedule(ctx, tx, id, why)
		},
	})
	reviews = review.New(review.Config{Store: st, Queue: queue, Playbooks: lib, Phases: clocks, Redact: red.String, Now: now, Logger: log})
	engine, err := newEngine(&c, st, queue, lib, execs, log, now, metrics.StepStarted, clocks.OnDecided)
	if err != nil {
		return err
	}
	metrics.WatchAutomation(engine.Paused)
	// The lifecycle: every change to an incident goes through it, and its
	// hooks run in the change's transaction, in this order.
	limiter := notify.NewLimiter()
	notifiers, err := NewNotifiers(&c, getenv, now, limiter)
	if err != nil {
		return err
	}
	templates, err := Templates(&c, os.ReadFile)
	if err != nil {
		return err
	}
	// The people directory: the configuration's users are written to the
	// store, beside those made with firebreak user create.
	directory := people.New(st, c.Roster)
	if err := directory.Sync(ctx, now()); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := directory.CheckTargets(ctx, c.EscalationTargets()); err != nil {
		return err
	}
	// Listen before anything links to this server, so that links carry
	// the port actually bound (listen: 127.0.0.1:0 picks one).
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	publicURL := c.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	linkSecret, err := LinkSecret(c.DataDir)
	if err != nil {
		return err
	}
	pager = escalation.New(escalation.Config{Store: st, Queue: queue, Playbooks: lib, Policies: Policies(&c), Channels: notifiers,
		People: directory, Contact: Contacts(&c, notifiers, now, limiter),
		Render: TemplateRenderer(lib, templates), BaseURL: publicURL, Now: now, Logger: log, Observe: metrics.Notification,
		AckLink: AckLinks(&c, publicURL, linkSecret, now),
		Storm:   escalation.Storm{Threshold: c.Notify.Storm.Threshold, Window: time.Duration(c.Notify.Storm.Window)}})
	customer := comms.New(comms.Config{Store: st, Queue: queue, Playbooks: lib, Channels: CustomerChannels(&c, notifiers),
		BaseURL: publicURL, Now: now, Logger: log})
	lifecycle := respond.New(respond.Config{Store: st, Now: now, Hooks: []respond.Hook{engine, pager, clocks}, Automation: engine})
	// Chat buttons act through the lifecycle as the linked user; Telegram
	// pollers run until Serve returns.
	chatCtx, stopChat := context.WithCancel(context.Background())
	defer stopChat()
	chatHandler, err := NewChat(chatCtx, &c, getenv, notifiers, lifecycle, directory, linkSecret, log)
	if err != nil {
		return err
	}

	committers := c.Intake.Committers
	if committers == 0 {
		// SQLite has one writer. PostgreSQL takes concurrent writers, but
		// each transaction costs round trips: on a small machine fewer,
		// larger group commits win (measured in docs/performance.md).
		committers = 1
		if st.Engine() == "postgres" {
			committers = max(1, runtime.GOMAXPROCS(0)/4)
		}
	}
	in := intake.New(intake.Config{
		Store: st, Logger: log, Now: now,
		Grouping:    incident.Grouping{By: c.Intake.GroupBy},
		AutoResolve: c.AutoResolve(),
		MaxBatch:    c.Intake.MaxBatch,
		Committers:  committers,
		Observe:     metrics.ObserveBatch,
		OnCommit:    lifecycle.Ingested,
		AfterCommit: engine.Poke,
	})
	in.Start()

	tokens := auth.NewTokens(st, 10*time.Second, now)
	// The console's change feed and event streams end when shutdown begins,
	// so that open pages do not hold it up.
	consoleCtx, stopConsole := context.WithCancel(context.Background())
	defer stopConsole()
	web, err := console.New(consoleCtx, console.Deps{Store: st, Respond: lifecycle, Runs: engine, Playbooks: lib, People: directory,
		Phases: clocks, Reviews: reviews, Comms: customer, Tokens: tokens, ApproverRoles: c.Approvals.Roles,
		PublicURL: publicURL, Now: now, Logger: log})
	if err != nil {
		return err
	}
	handler := httpapi.NewServer(httpapi.Deps{
		Store: st, Ingester: in, Tokens: tokens, Console: web,
		Playbooks: lib, Runs: engine, Respond: lifecycle, Chat: chatHandler, People: directory, Comms: customer, Phases: clocks, Reviews: reviews, PublicURL: publicURL, ApproverRoles: c.Approvals.Roles,
		Metrics: metrics, Logger: log, Now: now, MaxBodyBytes: c.Intake.MaxBodyBytes,
		Ready: st.Ping, SandboxStatus: shell.SandboxStatus,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(stopConsole)
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	go intake.FlushSummaries(bg, st, time.Duration(c.Intake.RepeatSummaryEvery), now, log)
	go watchPlaybooks(bg, lib, st, log)
	engine.Start(bg)
	if err := queue.Start(bg); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "Firebreak listening on http://%s (database: %s, %s)\n", ln.Addr(), st.Engine(), redactURL(c.DatabaseURL()))
	log.Info("serving", "addr", ln.Addr().String(), "engine", st.Engine(), "instance", engine.Instance())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		in.Stop()
		cancelBG()
		engine.Wait()
		queue.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	in.Stop()
	cancelBG()
	engine.Wait()
	queue.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// bootstrapAdmin creates the first admin token when there is none, prints
// it once and writes it to data_dir/admin-token with mode 0600.
func bootstrapAdmin(ctx context.Context, st store.Store, dataDir string, now func() time.Time, stdout io.Writer) error {
	ok, err := st.HasAdmin(ctx)
	if err != nil || ok {
		return err
	}
	secret, hash := auth.NewSecret(auth.TokenPrefix)
	tok := &auth.Token{Name: "admin", Role: auth.RoleAdmin, Hash: hash, Prefix: secret[:10], CreatedAt: now().UTC(), CreatedBy: "bootstrap"}
	err = st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, tok); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &auth.AuditEntry{At: tok.CreatedAt, Actor: "bootstrap", Action: "token.create", Target: "admin"})
	})
	if incident.ErrorCode(err) == incident.ECONFLICT {
		// Another instance bootstrapped at the same moment.
		return nil
	}
	if err != nil {
		return fmt.Errorf("create bootstrap admin token: %w", err)
	}
	path := filepath.Join(dataDir, "admin-token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "Bootstrap admin token (shown once, also saved to %s):\n  %s\n", path, secret)
	return nil
}

func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u, "@"); at > i {
			if colon := strings.Index(u[i+3:at], ":"); colon >= 0 {
				return u[:i+3+colon+1] + "xxxxx" + u[at:]
			}
		}
	}
	return u
}

// protectDataDir keeps the data directory 0700, and the admin token and a
// SQLite database 0600, tightening what an older version, a copy or a
// restore left open to other users. A data directory that cannot be
// changed (a volume this user does not own) or that is shared by design (a
// sticky directory such as /tmp) is left as it is with a warning: the files
// in it are private either way.
func protectDataDir(ctx context.Context, log *slog.Logger, c *config.Config) error {
	tighten := func(path string, mode os.FileMode) (os.FileMode, error) {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			return 0, err
		}
		if fi.IsDir() && fi.Mode()&os.ModeSticky != 0 {
			return 0, fmt.Errorf("%s is a shared directory (mode %s)", path, fi.Mode())
		}
		return fi.Mode().Perm(), os.Chmod(path, mode)
	}
	logTightened := func(path string, from, to os.FileMode) {
		log.InfoContext(ctx, "tightened file mode", "path", path, "from", fmt.Sprintf("%04o", from), "to", fmt.Sprintf("%04o", to))
	}
	if from, err := tighten(c.DataDir, 0o700); err != nil {
		log.WarnContext(ctx, "data_dir is open to other users and stays so", "path", c.DataDir, "err", err)
	} else if from != 0 {
		logTightened(c.DataDir, from, 0o700)
	}
	token := filepath.Join(c.DataDir, "admin-token")
	if from, err := tighten(token, 0o600); err != nil {
		return fmt.Errorf("data_dir: restrict %s to mode 0600: %w", token, err)
	} else if from != 0 {
		logTightened(token, from, 0o600)
	}
	if url := c.DatabaseURL(); !config.IsPostgres(url) {
		changed, err := sqlite.Protect(strings.TrimPrefix(url, "sqlite:"))
		if err != nil {
			return fmt.Errorf("db: %w", err)
		}
		for _, path := range slices.Sorted(maps.Keys(changed)) {
			logTightened(path, changed[path], sqlite.FileMode)
		}
	}
	return nil
}
