package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/config"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "firebreak.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.DatabaseURL() != filepath.Join("firebreak-data", "firebreak.db") || !c.AutoResolve() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	p := write(t, "listen: 127.0.0.1:9000\ndb: /tmp/x.db\nintake:\n  auto_resolve: false\n  group_by: [alertname, cluster]\napprovals:\n  expire_after: 10m\n")
	c, err := config.Load(p, env(map[string]string{"FIREBREAK_LISTEN": "127.0.0.1:9100", "FIREBREAK_PLAYBOOKS": "a.md:b"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" || c.DB != "/tmp/x.db" || c.AutoResolve() || strings.Join(c.Playbooks, ",") != "a.md,b" ||
		strings.Join(c.Intake.GroupBy, ",") != "alertname,cluster" || time.Duration(c.Approvals.ExpireAfter) != 10*time.Minute {
		t.Fatalf("config = %+v", c)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := []struct{ body, want string }{
		{"listn: x\n", "field listn not found"},
		{"intake:\n  repeat_summary_every: soon\n", `"soon" is not a duration`},
		{"log:\n  format: xml\n", "log.format"},
		{"targets:\n  sql:\n    main: {}\n", "targets.sql.main: set dsn_env"},
		{"approvals:\n  roles: [root]\n", "approvals.roles[0]"},
		{"automation:\n  workers: 0\n", "automation.workers"},
		{"intake:\n  max_body_bytes: -1\n", "intake.max_body_bytes"},
	}
	for _, c := range cases {
		cfg, err := config.Load(write(t, c.body), env(nil))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to mention %q", c.body, err, c.want)
		}
	}
	if _, err := config.Load("", env(map[string]string{"FIREBREAK_AUTO_RESOLVE": "maybe"})); err == nil || !strings.Contains(err.Error(), "FIREBREAK_AUTO_RESOLVE") {
		t.Errorf("bad env: %v", err)
	}
}

func TestSQLTargetDSN(t *testing.T) {
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(dsnFile, []byte("postgres://u:secret@db/x\n"), 0o600)
	fromFile := config.SQLTarget{DSNFile: dsnFile}
	if v, err := fromFile.SQLDSN("main", env(nil)); err != nil || v != "postgres://u:secret@db/x" {
		t.Fatalf("from file: %q %v", v, err)
	}
	fromEnv := config.SQLTarget{DSNEnv: "TELEGRAM_PLATFORM_DSN"}
	if _, err := fromEnv.SQLDSN("main", env(nil)); err == nil || !strings.Contains(err.Error(), "TELEGRAM_PLATFORM_DSN is empty or unset") {
		t.Fatalf("unset env: %v", err)
	}
	if v, err := fromEnv.SQLDSN("main", env(map[string]string{"TELEGRAM_PLATFORM_DSN": "postgres://x"})); err != nil || v != "postgres://x" {
		t.Fatalf("from env: %q %v", v, err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := config.Load("../../examples/telegram-platform/firebreak.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Targets.SQL["telegram-platform"].DSNEnv != "TELEGRAM_PLATFORM_DSN" {
		t.Fatalf("example targets = %+v", c.Targets)
	}
	// The README walkthrough runs it from the repository root: its paths
	// must name files that are there.
	if len(c.Playbooks) == 0 {
		t.Fatal("example names no playbook")
	}
	for _, p := range c.Playbooks {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("example playbook %q: %v", p, err)
		}
	}
}

func TestShellSandboxPaths(t *testing.T) {
	data := t.TempDir()
	cases := []struct{ body, want string }{
		{"shell:\n  readable_paths: [/srv/tools, relative/x]\n", "shell.readable_paths[1]: must be an absolute path"},
		{"shell:\n  writable_paths: [/srv/out, '']\n", "shell.writable_paths[1]: must be an absolute path"},
		{"shell:\n  writable_paths: [" + data + "/sub]\n", "shell.writable_paths[0]: " + data + "/sub is inside data_dir"},
		{"shell:\n  readable_paths: [" + data + "]\n", "shell.readable_paths[0]: " + data + " is inside data_dir"},
	}
	for _, c := range cases {
		cfg, err := config.Load(write(t, "data_dir: "+data+"\n"+c.body), env(nil))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to mention %q", c.body, err, c.want)
		}
	}

	// A folder that contains the data directory is fine: the sandbox
	// grants all of it but the data directory.
	p := write(t, "data_dir: "+data+"\nshell:\n  readable_paths: [/srv/tools, "+filepath.Dir(data)+"]\n  writable_paths: [/srv/out]\n")
	cfg, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.File != p || strings.Join(cfg.Shell.ReadablePaths, ",") != "/srv/tools,"+filepath.Dir(data) || strings.Join(cfg.Shell.WritablePaths, ",") != "/srv/out" {
		t.Fatalf("shell = %+v, file %q", cfg.Shell, cfg.File)
	}
}

// Relative paths in the file are relative to its folder, whatever the
// working directory; those from the environment and the defaults stay
// relative to the working directory.
func TestRelativePathsFollowTheFile(t *testing.T) {
	etc := filepath.Join(t.TempDir(), "etc", "firebreak")
	if err := os.MkdirAll(filepath.Join(etc, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "secrets", "dsn"), []byte("postgres://u:pw@db/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(etc, "firebreak.yaml")
	body := `data_dir: data
db: state/fb.db
playbooks: [playbooks, ./more/pb.md, /srv/playbooks]
targets:
  sql:
    main: {dsn_file: secrets/dsn}
    other: {dsn_env: OTHER_DSN}
    abs: {dsn_file: /run/secrets/dsn}
  kube:
    prod: {kubeconfig: kube/config}
    abs: {kubeconfig: /etc/kubeconfig}
    incluster: {namespace: default}
shell:
  readable_paths: [/srv/tools]
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())

	c, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	at := func(rel string) string { return filepath.Join(etc, rel) }
	for _, g := range []struct{ name, got, want string }{
		{"data_dir", c.DataDir, at("data")},
		{"db", c.DB, at("state/fb.db")},
		{"playbooks", strings.Join(c.Playbooks, ","), at("playbooks") + "," + at("more/pb.md") + ",/srv/playbooks"},
		{"targets.sql.main.dsn_file", c.Targets.SQL["main"].DSNFile, at("secrets/dsn")},
		{"targets.sql.other.dsn_file", c.Targets.SQL["other"].DSNFile, ""},
		{"targets.sql.abs.dsn_file", c.Targets.SQL["abs"].DSNFile, "/run/secrets/dsn"},
		{"targets.kube.prod.kubeconfig", c.Targets.Kube["prod"].Kubeconfig, at("kube/config")},
		{"targets.kube.abs.kubeconfig", c.Targets.Kube["abs"].Kubeconfig, "/etc/kubeconfig"},
		{"targets.kube.incluster.kubeconfig", c.Targets.Kube["incluster"].Kubeconfig, ""},
		{"shell.readable_paths", strings.Join(c.Shell.ReadablePaths, ","), "/srv/tools"},
		{"file", c.File, p},
	} {
		if g.got != g.want {
			t.Errorf("%s = %q, want %q", g.name, g.got, g.want)
		}
	}
	if dsn, err := c.Targets.SQL["main"].SQLDSN("main", env(nil)); err != nil || dsn != "postgres://u:pw@db/x" {
		t.Errorf("dsn_file from another working directory: %q %v", dsn, err)
	}

	// A data_dir from the file places the default SQLite database; a
	// PostgreSQL URL is not a path.
	if err := os.WriteFile(p, []byte("data_dir: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load(p, env(nil)); err != nil || c.DatabaseURL() != at("data/firebreak.db") {
		t.Errorf("database = %q, %v", c.DatabaseURL(), err)
	}
	if err := os.WriteFile(p, []byte("db: postgres://fb@db:5432/fb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load(p, env(nil)); err != nil || c.DB != "postgres://fb@db:5432/fb" || c.DataDir != "firebreak-data" {
		t.Errorf("db = %q, data_dir = %q, %v", c.DB, c.DataDir, err)
	}

	// The environment overrides the file with paths relative to the
	// working directory.
	c, err = config.Load(p, env(map[string]string{"FIREBREAK_DATA_DIR": "here", "FIREBREAK_DB": "here.db", "FIREBREAK_PLAYBOOKS": "a.md:b"}))
	if err != nil || c.DataDir != "here" || c.DB != "here.db" || strings.Join(c.Playbooks, ",") != "a.md,b" {
		t.Errorf("environment: data_dir %q, db %q, playbooks %q, %v", c.DataDir, c.DB, c.Playbooks, err)
	}

	// Sandbox paths must still be absolute.
	if err := os.WriteFile(p, []byte("shell:\n  readable_paths: [tools]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(p, env(nil))
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "shell.readable_paths[0]: must be an absolute path") {
		t.Errorf("relative readable path: %v", err)
	}
}
