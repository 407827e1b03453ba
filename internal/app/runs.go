package app

import (
	"k8s.io/client-go/kubernetes"

	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/executor/shell"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/redact"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// NewExecutors builds the step executors the configuration names.
func NewExecutors(c *config.Config, getenv func(string) string, red *redact.Redactor, opts ...Option) (*automation.Executors, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	x := &automation.Executors{KubectlShell: c.Shell.Kubectl}
	var sqlTargets []sqlexec.Target
	names := make([]string, 0, len(c.Targets.SQL))
	for n := range c.Targets.SQL {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := c.Targets.SQL[name]
		dsn, err := t.SQLDSN(name, getenv)
		if err != nil {
			return nil, err
		}
		sqlTargets = append(sqlTargets, sqlexec.Target{Name: name, DSN: dsn,
			StatementTimeout: time.Duration(t.StatementTimeout), LockTimeout: time.Duration(t.LockTimeout), MaxRows: t.MaxRows})
		if t.Default || len(names) == 1 {
			x.DefaultSQL = name
		}
	}
	if len(sqlTargets) > 0 {
		targets, err := sqlexec.NewTargets(sqlTargets, red)
		if err != nil {
			return nil, fmt.Errorf("targets.sql: %w", err)
		}
		x.SQL = targets
	}
	if len(c.Targets.Kube) > 0 && o.kube != nil {
		var clusters []kube.Cluster
		for name, t := range c.Targets.Kube {
			cs := o.kube[name]
			if cs == nil {
				return nil, fmt.Errorf("targets.kube.%s: no client given for it", name)
			}
			clusters = append(clusters, kube.Cluster{Name: name, Namespace: t.Namespace, Kube: cs})
		}
		sort.Slice(clusters, func(i, j int) bool { return clusters[i].Name < clusters[j].Name })
		k, err := kube.NewWithClients(clusters, kube.Options{})
		if err != nil {
			return nil, fmt.Errorf("targets.kube: %w", err)
		}
		x.Kube = k
	} else if len(c.Targets.Kube) > 0 {
		var kt []kube.Target
		for name, t := range c.Targets.Kube {
			kt = append(kt, kube.Target{Name: name, Kubeconfig: t.Kubeconfig, Context: t.Context, Namespace: t.Namespace})
		}
		sort.Slice(kt, func(i, j int) bool { return kt[i].Name < kt[j].Name })
		k, err := kube.New(kt, kube.Options{})
		if err != nil {
			return nil, fmt.Errorf("targets.kube: %w", err)
		}
		x.Kube = k
	}
	if !c.Shell.Disabled {
		sh, err := newShellRunner(c, getenv, red)
		if err != nil {
			return nil, err
		}
		x.Shell = sh
	}
	return x, nil
}

// newShellRunner builds the runner for shell steps. Their sandbox never
// grants Firebreak's data directory, configuration file, SQLite database
// or DSN files, and lets them read the Kubernetes targets' kubeconfigs.
func newShellRunner(c *config.Config, getenv func(string) string, red *redact.Redactor) (*shell.Runner, error) {
	deny := []string{c.DataDir}
	if c.File != "" {
		deny = append(deny, c.File)
	}
	if url := c.DatabaseURL(); !config.IsPostgres(url) {
		db := strings.TrimPrefix(url, "sqlite:")
		deny = append(deny, db, db+"-wal", db+"-shm", db+"-journal")
	}
	for _, t := range c.Targets.SQL {
		if t.DSNFile != "" {
			deny = append(deny, t.DSNFile)
		}
	}
	for i, p := range deny {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("shell sandbox: %w", err)
		}
		deny[i] = abs
	}
	readable := slices.Clone(c.Shell.ReadablePaths)
	for _, t := range c.Targets.Kube {
		if t.Kubeconfig == "" {
			continue
		}
		abs, err := filepath.Abs(t.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("shell sandbox: %w", err)
		}
		// One kept in the data directory stays hidden from steps with it.
		if rel, err := filepath.Rel(deny[0], abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			continue
		}
		readable = append(readable, abs)
	}
	r := &shell.Runner{
		PassEnv:  append(append([]string(nil), shell.DefaultPassEnv...), c.Shell.PassEnv...),
		Redactor: red, Getenv: getenv,
		ReadablePaths: readable, WritablePaths: c.Shell.WritablePaths, DenyPaths: deny,
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// newQueue makes the one durable job queue of this instance: step runs
// today, notifications and timers next.
func newQueue(c *config.Config, st store.Store, log *slog.Logger, now func() time.Time) *job.Queue[store.Tx] {
	return job.New(job.Config[store.Tx]{
		InTx: st.InTx, Watch: st.WatchJobs, Now: now, Logger: log,
		Workers:      c.Automation.Workers,
		Lease:        time.Duration(c.Automation.Lease),
		SoleInstance: st.Engine() == "sqlite",
	})
}

func newEngine(c *config.Config, st store.Store, q *job.Queue[store.Tx], lib *playbook.Library, x *automation.Executors, log *slog.Logger, now func() time.Time, onStart func(*run.Step), decided func(context.Context, store.Tx, *run.Step, *incident.Incident, string, string) error) (*automation.Engine, error) {
	return automation.New(automation.Config{
		Store: st, Queue: q, Playbooks: lib, Exec: x, Logger: log, Now: now, Instance: q.Instance(),
		ApprovalTTL:    time.Duration(c.Approvals.ExpireAfter),
		TwoPerson:      c.Approvals.TwoPerson,
		DefaultTimeout: time.Duration(c.Automation.DefaultTimeout),
		ReadAttempts:   c.Automation.ReadAttempts,
		OnStart:        onStart,
		Decided:        decided,
		Lease:          time.Duration(c.Automation.Lease),
		SoleInstance:   st.Engine() == "sqlite",
		Reap:           func(p run.Proc) error { return shell.Reap(p.PGID, p.Dir) },
	}), nil
}

// Option changes how Serve builds a part.
type Option func(*options)

type options struct {
	kube map[string]kubernetes.Interface
}

// WithKubeClients runs the kube targets of the configuration on the given
// clients, by target name, instead of connecting with their kubeconfig.
// Tests give client-go's fake clientset, as no cluster runs beside them.
func WithKubeClients(clients map[string]kubernetes.Interface) Option {
	return func(o *options) { o.kube = clients }
}
