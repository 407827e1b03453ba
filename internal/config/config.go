// Package config reads firebreak.yaml and the FIREBREAK_* environment.
// Precedence, lowest first: defaults, the file, the environment, flags.
//
// A relative path in the file (data_dir, db when it is a SQLite path,
// playbooks, a kube target's kubeconfig, a SQL target's dsn_file) is
// relative to the file's folder, as Prometheus resolves its rule files,
// so that a configuration works from any working directory. Paths from
// flags, the environment and the defaults stay relative to the working
// directory. shell.readable_paths and shell.writable_paths must be
// absolute.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/internal/oncall"
)

// Config is the whole of Firebreak's configuration.
type Config struct {
	Listen string `yaml:"listen"`
	// PublicURL is how people reach this server, for links in
	// notifications; default http://LISTEN.
	PublicURL string   `yaml:"public_url"`
	DataDir   string   `yaml:"data_dir"`
	DB        string   `yaml:"db"`
	Playbooks []string `yaml:"playbooks"`
	// PlaybookURLs maps runbook_url prefixes to the folders that hold the
	// linked runbooks: an alert whose runbook_url starts with the prefix
	// gets the file the rest of the URL names. See playbooks.go.
	PlaybookURLs map[string]string `yaml:"playbook_urls"`
	// PlaybookSections adds section titles to the runbook section table,
	// by role (context, diagnosis, mitigation).
	PlaybookSections map[string][]string `yaml:"playbook_sections"`
	Log              Log                 `yaml:"log"`
	Intake           Intake              `yaml:"intake"`
	// Targets are the systems playbook steps run against.
	Targets Targets `yaml:"targets"`
	// Redact lists extra regular expressions scrubbed from outputs and logs.
	Redact     []string   `yaml:"redact"`
	Approvals  Approvals  `yaml:"approvals"`
	Automation Automation `yaml:"automation"`
	Shell      Shell      `yaml:"shell"`
	// Notify names the channels notifications go through; Escalation the
	// policies that page them, level by level of the playbook's matrix.
	Notify     Notify            `yaml:"notify"`
	Escalation map[string]Policy `yaml:"escalation"`
	// Phases configures the phase clocks and the review's due date.
	Phases Phases `yaml:"phases"`
	// Users, Teams and Rotations are the people who get paged and when
	// each is on call.
	oncall.Roster `yaml:",inline"`
	// File is the file this configuration was read from, if any. Shell
	// steps are never allowed to read it.
	File string `yaml:"-"`
}

// Approvals decide who may approve write steps.
type Approvals struct {
	// Roles that may approve; default responder and admin.
	Roles []string `yaml:"roles"`
	// TwoPerson lists procedure keys whose write steps need two approvers.
	TwoPerson []string `yaml:"two_person"`
	// ExpireAfter is how long a write step waits for approval (30m).
	ExpireAfter Duration `yaml:"expire_after"`
}

// Automation configures the step runner.
type Automation struct {
	Workers        int      `yaml:"workers"`
	DefaultTimeout Duration `yaml:"default_timeout"`
	ReadAttempts   int      `yaml:"read_attempts"`
	// Lease is how long a running step's claim lasts without renewal; a
	// step whose instance died is dealt with once it runs out (30s).
	Lease Duration `yaml:"lease"`
}

// Shell configures shell steps.
type Shell struct {
	// Disabled turns shell steps off: they are skipped.
	Disabled bool `yaml:"disabled"`
	// PassEnv names extra environment variables steps may see.
	PassEnv []string `yaml:"pass_env"`
	// Kubectl lets kubectl forms the native executor does not support run
	// through the shell, with the kubectl on PATH.
	Kubectl bool `yaml:"kubectl"`
	// ReadablePaths are extra files and folders (absolute paths) that steps
	// may read and run programs from, beyond the system folders. Steps run
	// under a Landlock sandbox where the kernel has it.
	ReadablePaths []string `yaml:"readable_paths"`
	// WritablePaths are folders (absolute paths) that write steps may also
	// change; every step may write only its own scratch folder.
	WritablePaths []string `yaml:"writable_paths"`
}

// Log configures slog.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// Intake configures alert intake.
type Intake struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// GroupBy lists the labels that group alerts into one incident; "a|b"
	// takes the first of a and b that is present.
	GroupBy     []string `yaml:"group_by"`
	AutoResolve *bool    `yaml:"auto_resolve"`
	MaxBatch    int      `yaml:"max_batch"`
	// Committers is how many group-commit transactions may run at once; 0
	// picks 1 for SQLite and a quarter of the CPUs for PostgreSQL.
	Committers int `yaml:"committers"`
	// RepeatSummaryEvery is how often "+N repeats" timeline entries are
	// written for alerts that keep firing.
	RepeatSummaryEvery Duration `yaml:"repeat_summary_every"`
}

// Targets name the databases and clusters that steps run against.
type Targets struct {
	SQL  map[string]SQLTarget  `yaml:"sql"`
	Kube map[string]KubeTarget `yaml:"kube"`
}

// SQLTarget is a PostgreSQL database. Its DSN comes from an environment
// variable or a file, never from this file's text.
type SQLTarget struct {
	DSNEnv           string   `yaml:"dsn_env"`
	DSNFile          string   `yaml:"dsn_file"`
	Default          bool     `yaml:"default"`
	StatementTimeout Duration `yaml:"statement_timeout"`
	LockTimeout      Duration `yaml:"lock_timeout"`
	MaxRows          int      `yaml:"max_rows"`
}

// KubeTarget is a Kubernetes cluster.
type KubeTarget struct {
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	Namespace  string `yaml:"namespace"`
	Default    bool   `yaml:"default"`
}

// Duration reads "10s", "5m" and the like.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 10s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the zero-config configuration.
func Default() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "firebreak-data",
		Log:     Log{Format: "text", Level: "info"},
		Intake: Intake{
			MaxBodyBytes:       5 << 20,
			MaxBatch:           5000,
			RepeatSummaryEvery: Duration(30 * time.Second),
		},
		Approvals:  Approvals{Roles: []string{"responder", "admin"}, ExpireAfter: Duration(30 * time.Minute)},
		Automation: Automation{Workers: 4, DefaultTimeout: Duration(30 * time.Second), ReadAttempts: 2, Lease: Duration(30 * time.Second)},
	}
}

// Load reads the file at path (when not empty) over the defaults, then the
// environment.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	c.File = path
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		// The default data_dir is relative to the working directory; only
		// one the file sets is relative to the file.
		defaultDataDir := c.DataDir
		c.DataDir = ""
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("%s: %w", path, err)
		}
		c.resolvePaths(filepath.Dir(path))
		if c.DataDir == "" {
			c.DataDir = defaultDataDir
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// resolvePaths makes the file's relative paths relative to dir, the
// file's folder.
func (c *Config) resolvePaths(dir string) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.DataDir = rel(c.DataDir)
	if !IsPostgres(c.DB) {
		c.DB = rel(c.DB)
	}
	for i, p := range c.Playbooks {
		c.Playbooks[i] = rel(p)
	}
	for prefix, folder := range c.PlaybookURLs {
		c.PlaybookURLs[prefix] = rel(folder)
	}
	for name, t := range c.Targets.SQL {
		t.DSNFile = rel(t.DSNFile)
		c.Targets.SQL[name] = t
	}
	for name, t := range c.Targets.Kube {
		t.Kubeconfig = rel(t.Kubeconfig)
		c.Targets.Kube[name] = t
	}
	for name, ch := range c.Notify.Channels {
		ch.TemplateFile = rel(ch.TemplateFile)
		c.Notify.Channels[name] = ch
	}
	for i := range c.Users {
		c.Users[i].TeamsWebhookFile = rel(c.Users[i].TeamsWebhookFile)
	}
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if v := getenv("FIREBREAK_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("FIREBREAK_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("FIREBREAK_DB"); v != "" {
		c.DB = v
	}
	if v := getenv("FIREBREAK_PLAYBOOKS"); v != "" {
		c.Playbooks = filepath.SplitList(v)
	}
	if v := getenv("FIREBREAK_LOG_FORMAT"); v != "" {
		c.Log.Format = v
	}
	if v := getenv("FIREBREAK_LOG_LEVEL"); v != "" {
		c.Log.Level = v
	}
	if v := getenv("FIREBREAK_AUTO_RESOLVE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("FIREBREAK_AUTO_RESOLVE: %q is not true or false", v)
		}
		c.Intake.AutoResolve = &b
	}
	return nil
}

// Validate checks the configuration and names the first wrong field.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: must not be empty (for example 127.0.0.1:8080)")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not text or json", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Intake.MaxBodyBytes <= 0 {
		return fmt.Errorf("intake.max_body_bytes: must be positive, got %d", c.Intake.MaxBodyBytes)
	}
	if c.Intake.Committers < 0 || c.Intake.Committers > 64 {
		return fmt.Errorf("intake.committers: %d is not between 0 (automatic) and 64", c.Intake.Committers)
	}
	if c.Intake.MaxBatch <= 0 {
		return fmt.Errorf("intake.max_batch: must be positive, got %d", c.Intake.MaxBatch)
	}
	if c.Intake.RepeatSummaryEvery <= 0 {
		return errors.New("intake.repeat_summary_every: must be positive")
	}
	for i, g := range c.Intake.GroupBy {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("intake.group_by[%d]: must name a label", i)
		}
	}
	defaults := 0
	for name, t := range c.Targets.SQL {
		if t.DSNEnv == "" && t.DSNFile == "" {
			return fmt.Errorf("targets.sql.%s: set dsn_env (an environment variable holding the DSN) or dsn_file", name)
		}
		if t.DSNEnv != "" && t.DSNFile != "" {
			return fmt.Errorf("targets.sql.%s: set dsn_env or dsn_file, not both", name)
		}
		if t.Default {
			defaults++
		}
	}
	if defaults > 1 {
		return errors.New("targets.sql: more than one target is marked default")
	}
	kdefaults := 0
	for _, t := range c.Targets.Kube {
		if t.Default {
			kdefaults++
		}
	}
	if kdefaults > 1 {
		return errors.New("targets.kube: more than one target is marked default")
	}
	for i, r := range c.Approvals.Roles {
		switch r {
		case "viewer", "responder", "admin":
		default:
			return fmt.Errorf("approvals.roles[%d]: %q is not viewer, responder or admin", i, r)
		}
	}
	if c.Approvals.ExpireAfter <= 0 {
		return errors.New("approvals.expire_after: must be positive, such as 30m")
	}
	if c.Automation.Workers <= 0 || c.Automation.Workers > 64 {
		return fmt.Errorf("automation.workers: %d is not between 1 and 64", c.Automation.Workers)
	}
	if c.Automation.DefaultTimeout <= 0 {
		return errors.New("automation.default_timeout: must be positive, such as 30s")
	}
	if c.Automation.Lease < Duration(3*time.Second) {
		return errors.New("automation.lease: must be at least 3s")
	}
	if c.Automation.ReadAttempts <= 0 {
		return fmt.Errorf("automation.read_attempts: %d is not positive", c.Automation.ReadAttempts)
	}
	if err := c.Shell.validate(c.DataDir); err != nil {
		return err
	}
	if err := c.validateNotify(); err != nil {
		return err
	}
	if err := c.validatePhases(); err != nil {
		return err
	}
	if err := c.validatePlaybooks(); err != nil {
		return err
	}
	return c.Roster.Validate()
}

// validate checks the sandbox paths. A path that contains the data
// directory is accepted (the sandbox grants everything in it except the
// data directory); one inside it is not, since steps never see it.
func (s *Shell) validate(dataDir string) error {
	data, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	for _, f := range []struct {
		name  string
		paths []string
	}{{"shell.readable_paths", s.ReadablePaths}, {"shell.writable_paths", s.WritablePaths}} {
		for i, p := range f.paths {
			if !filepath.IsAbs(p) {
				return fmt.Errorf("%s[%d]: must be an absolute path, got %q", f.name, i, p)
			}
			if rel, err := filepath.Rel(data, filepath.Clean(p)); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				return fmt.Errorf("%s[%d]: %s is inside data_dir %s, which steps may never access", f.name, i, p, data)
			}
		}
	}
	return nil
}

// SQLDSN reads a SQL target's DSN from its environment variable or file.
func (t SQLTarget) SQLDSN(name string, getenv func(string) string) (string, error) {
	if t.DSNEnv != "" {
		v := getenv(t.DSNEnv)
		if v == "" {
			return "", fmt.Errorf("targets.sql.%s: environment variable %s is empty or unset; export it with the database URL", name, t.DSNEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(t.DSNFile)
	if err != nil {
		return "", fmt.Errorf("targets.sql.%s: dsn_file: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// AutoResolve reports whether incidents resolve when their alerts do
// (default true).
func (c *Config) AutoResolve() bool {
	return c.Intake.AutoResolve == nil || *c.Intake.AutoResolve
}

// DatabaseURL is the store to open: the db setting, or firebreak.db in the
// data directory.
func (c *Config) DatabaseURL() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.DataDir, "firebreak.db")
}

// IsPostgres reports whether a database URL names PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}
