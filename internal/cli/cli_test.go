package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/apptest"
	"github.com/firebreak-dev/firebreak/internal/cli"
)

type server struct {
	url, dataDir   string
	stop           func() error
	stdout, stderr *apptest.SyncBuffer
}

// serve runs `firebreak serve` in process on a free port with its own data
// directory and waits until it is ready.
func serve(t *testing.T) *server {
	t.Helper()
	return serveAt(t, filepath.Join(t.TempDir(), "data"))
}

// serveAt is serve on the given data directory.
func serveAt(t *testing.T, dataDir string) *server {
	t.Helper()
	return serveWith(t, dataDir, nil, nil)
}

// serveWith is serveAt with extra serve arguments, environment and clock.
func serveWith(t *testing.T, dataDir string, getenv func(string) string, now func() time.Time, extra ...string) *server {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	out, errOut := &apptest.SyncBuffer{}, &apptest.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = cli.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...),
			&cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: getenv, Now: now})
	}()
	re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			resp, err := http.Get(m[1] + "/readyz")
			if err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				s := &server{url: m[1], dataDir: dataDir, stdout: out, stderr: errOut}
				s.stop = func() error { cancel(); <-done; return serveErr }
				t.Cleanup(func() { cancel(); <-done })
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("serve exited: %v\n%s", serveErr, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 20s:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs one CLI command against s and returns its stdout.
func (s *server) run(t *testing.T, wantErr bool, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"FIREBREAK_URL": s.url, "FIREBREAK_DATA_DIR": s.dataDir}
	err := cli.Run(context.Background(), args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] }})
	if (err != nil) != wantErr {
		t.Fatalf("firebreak %s: err = %v (stderr %s)", strings.Join(args, " "), err, errOut.String())
	}
	if err != nil {
		return err.Error()
	}
	return out.String()
}

func TestServeAndDriveItFromTheCLI(t *testing.T) {
	s := serve(t)
	// The bootstrap token is printed once and kept 0600.
	tok, err := os.ReadFile(filepath.Join(s.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.stdout.String(), strings.TrimSpace(string(tok))) {
		t.Fatal("bootstrap token was not printed")
	}
	if fi, _ := os.Stat(filepath.Join(s.dataDir, "admin-token")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token mode %v", fi.Mode().Perm())
	}

	out := s.run(t, false, "alert", "send", "--name", "HighQueueDepth", "--severity", "critical", "--label", "service=job-worker")
	if !strings.Contains(out, "opened incident 1") {
		t.Fatalf("alert send: %q", out)
	}
	out = s.run(t, false, "incidents", "list")
	if !regexp.MustCompile(`(?m)^1\s+triggered\s+critical\s+job-worker\s+1/1`).MatchString(out) {
		t.Fatalf("incidents list:\n%s", out)
	}
	var list struct {
		Incidents []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(s.run(t, false, "incidents", "list", "--json")), &list); err != nil || len(list.Incidents) != 1 {
		t.Fatalf("incidents list --json: %+v %v", list, err)
	}
	s.run(t, false, "incidents", "ack", "1")
	if out := s.run(t, false, "incidents", "note", "1", "scaled", "job-worker"); out != "Noted on incident 1.\n" {
		t.Fatalf("incidents note: %q", out)
	}
	var noted struct {
		Incident struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"incident"`
	}
	if err := json.Unmarshal([]byte(s.run(t, false, "incidents", "note", "--json", "1", "paged", "db", "team")), &noted); err != nil ||
		noted.Incident.ID != 1 || noted.Incident.Status != "acknowledged" {
		t.Fatalf("incidents note --json: %+v %v", noted, err)
	}
	out = s.run(t, false, "incidents", "show", "1")
	for _, want := range []string{`Status\s+acknowledged`, "Acknowledged by admin", "scaled job-worker", `Playbook "telegram-platform"`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("incidents show lacks %q:\n%s", want, out)
		}
	}
	out = s.run(t, false, "steps", "list", "1")
	if !strings.Contains(out, "Scale job workers") || !strings.Contains(out, "awaiting_approval") {
		t.Fatalf("steps list:\n%s", out)
	}
	// Without a Kubernetes target the approval says why it cannot run.
	if msg := s.run(t, true, "steps", "approve", "4"); !strings.Contains(msg, "no Kubernetes target") {
		t.Fatalf("approve without a cluster: %q", msg)
	}
	s.run(t, false, "steps", "done", "1")
	if out := s.run(t, false, "automation", "pause"); !strings.Contains(out, "paused") {
		t.Fatalf("pause: %q", out)
	}
	s.run(t, false, "automation", "resume")

	// Tokens: a viewer may read but not act; the CLI says what to check.
	out = s.run(t, false, "token", "create", "--name", "vic", "--role", "viewer", "--json")
	var created struct{ Key string }
	json.Unmarshal([]byte(out), &created)
	viewer := map[string]string{"FIREBREAK_URL": s.url, "FIREBREAK_TOKEN": created.Key}
	var vout, verr bytes.Buffer
	err = cli.Run(context.Background(), []string{"incidents", "resolve", "1"}, &cli.Env{Stdin: strings.NewReader(""), Stdout: &vout, Stderr: &verr,
		Getenv: func(k string) string { return viewer[k] }})
	if err == nil || !strings.Contains(err.Error(), "role does not allow it") {
		t.Fatalf("viewer resolve: %v", err)
	}
	out = s.run(t, false, "integration", "create", "--source", "alertmanager", "--name", "prod-am")
	if !strings.Contains(out, "/api/v1/ingest/alertmanager") || !strings.Contains(out, "fbi_") {
		t.Fatalf("integration create: %q", out)
	}
	if msg := s.run(t, true, "incidents", "show", "abc"); !strings.Contains(msg, "not an incident id") {
		t.Fatalf("bad id: %q", msg)
	}
	s.run(t, false, "incidents", "resolve", "1")

	// SIGTERM's path: the server stops cleanly and a restart keeps data.
	if err := s.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestPlaybookCommands(t *testing.T) {
	ref := "../../examples/telegram-platform/playbook.md"
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if err := cli.Run(context.Background(), []string{"playbook", "show", ref, "--json"}, env); err != nil {
		t.Fatal(err)
	}
	var pb struct {
		Procedures []json.RawMessage `json:"procedures"`
		Phases     []json.RawMessage `json:"phases"`
		Escalation []json.RawMessage `json:"escalation"`
		Templates  []json.RawMessage `json:"templates"`
	}
	if err := json.Unmarshal(out.Bytes(), &pb); err != nil {
		t.Fatalf("show --json: %v\n%.300s", err, out.String())
	}
	if len(pb.Procedures) != 7 || len(pb.Phases) != 5 || len(pb.Escalation) != 4 || len(pb.Templates) != 2 {
		t.Fatalf("show: %d procedures, %d phases, %d levels, %d templates", len(pb.Procedures), len(pb.Phases), len(pb.Escalation), len(pb.Templates))
	}
	alert := filepath.Join(t.TempDir(), "alert.json")
	os.WriteFile(alert, []byte(`{"version":"4","status":"firing","receiver":"fb","alerts":[{"status":"firing",
		"labels":{"alertname":"HighQueueDepth","severity":"critical"},"startsAt":"2026-11-26T03:00:00Z","fingerprint":"abc"}]}`), 0o600)
	out.Reset()
	if err := cli.Run(context.Background(), []string{"playbook", "dry-run", ref, "--alert", alert, "--json"}, env); err != nil {
		t.Fatal(err)
	}
	var res struct {
		DryRun struct {
			Procedure string `json:"procedure"`
			Tasks     []struct {
				Key, Kind, Executor, Risk string
			} `json:"tasks"`
		} `json:"dry_run"`
	}
	dry := &res.DryRun
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || dry.Procedure != "high-queue-depth" || len(dry.Tasks) != 14 {
		t.Fatalf("dry-run: %v %+v", err, dry)
	}
	for _, task := range dry.Tasks {
		if task.Kind == "step" && (task.Executor == "" || task.Risk == "") {
			t.Errorf("task %s is not classified: %+v", task.Key, task)
		}
	}
	// Lint lists each write verdict with its reason and document position.
	out.Reset()
	if err := cli.Run(context.Background(), []string{"playbook", "lint", "../../examples/telegram-platform/playbook.md"}, env); err != nil {
		t.Fatalf("lint of the reference: %v", err)
	}
	for _, want := range []string{
		`playbook.md:18:12: info: write step "Scale up resources" (immediate-actions/1): kubectl scale changes the cluster`,
		`playbook.md:237:4: info: write step "Enable rate limiting" (immediate-actions/1): iptables is not a known read-only command`,
		`playbook.md:65:4: info: write step "Pause failing campaigns" (immediate-actions/1): UPDATE is not a read-only statement`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), ": info: write step"); n != 12 {
		t.Errorf("%d write verdicts, want the reference's 12", n)
	}
	// Lint fails on a broken document, naming the place.
	bad := filepath.Join(t.TempDir(), "bad.md")
	os.WriteFile(bad, []byte("## Alert Response Procedures\n\n### 🔴 CRITICAL: Broken\n<!-- firebreak: colour=blue -->\n"), 0o600)
	out.Reset()
	err := cli.Run(context.Background(), []string{"playbook", "lint", bad}, env)
	if err == nil || !regexp.MustCompile(`bad\.md:\d+:\d+: error:`).MatchString(out.String()+errOut.String()) {
		t.Fatalf("lint of a broken playbook: %v\n%s%s", err, out.String(), errOut.String())
	}
}

// Alert text that a terminal would obey reaches it escaped: OSC 52 would
// write the clipboard, the others move the cursor, recolour or reorder.
func TestHostileAlertTextIsEscaped(t *testing.T) {
	s := serve(t)
	const evil = "\x1b]52;c;SGVsbG8=\x07evil\u009b2J\u202e\x7f"
	s.run(t, false, "alert", "send", "--name", evil, "--summary", evil+"\nline two", "--service", evil, "--label", "pod="+evil)
	// The license procedure binds license_id from the alert into its SQL.
	s.run(t, false, "alert", "send", "--name", "HighLicenseUsage", "--label", "license_id="+evil, "--summary", evil)
	var steps struct {
		Steps []struct {
			ID      int64  `json:"id"`
			TaskKey string `json:"task_key"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(s.run(t, false, "steps", "list", "2", "--json")), &steps); err != nil {
		t.Fatal(err)
	}
	var analyze string
	for _, st := range steps.Steps {
		if st.TaskKey == "investigation/1" {
			analyze = strconv.FormatInt(st.ID, 10)
		}
	}
	if analyze == "" {
		t.Fatalf("incident 2 has no investigation/1 step: %+v", steps)
	}
	for _, args := range [][]string{
		{"incidents", "list"}, {"incidents", "show", "1"}, {"incidents", "show", "2"},
		{"steps", "list", "2"}, {"steps", "show", analyze},
		{"incidents", "list", "--json"}, {"incidents", "show", "1", "--json"}, {"steps", "show", analyze, "--json"},
	} {
		out := s.run(t, false, args...)
		if i := strings.IndexAny(out, "\x1b\x07\x7f\u009b\u202e"); i >= 0 {
			t.Errorf("firebreak %s prints a raw %q:\n%s", strings.Join(args, " "), []rune(out[i:])[0], out)
		}
		want := `\x1b]52;c;SGVsbG8=\x07evil`
		if args[len(args)-1] == "--json" {
			want = `\u001b]52;c;SGVsbG8=\u0007evil\u009b2J\u202e\u007f`
		}
		if args[0] == "steps" && args[1] == "list" { // a step list shows no alert text
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("firebreak %s does not show the text escaped as %s:\n%s", strings.Join(args, " "), want, out)
		}
	}
}

// The data directory is private: 0700, and its files 0600, whether serve
// creates them or finds them open to others (from an older version, a copy
// or a restore).
func TestDataFilesArePrivate(t *testing.T) {
	modes := func(s *server) map[string]os.FileMode {
		got := map[string]os.FileMode{}
		for _, name := range []string{"", "admin-token", "firebreak.db", "firebreak.db-wal", "firebreak.db-shm"} {
			fi, err := os.Stat(filepath.Join(s.dataDir, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got[name] = fi.Mode().Perm()
		}
		return got
	}
	want := map[string]os.FileMode{"": 0o700, "admin-token": 0o600, "firebreak.db": 0o600, "firebreak.db-wal": 0o600, "firebreak.db-shm": 0o600}

	fresh := serve(t)
	if got := modes(fresh); !reflect.DeepEqual(got, want) {
		t.Errorf("modes of a new data directory: %v, want %v", got, want)
	}
	fresh.stop()

	dir := filepath.Join(t.TempDir(), "firebreak-data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin-token", "firebreak.db"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755) // whatever the umask
	os.Chmod(filepath.Join(dir, "admin-token"), 0o644)
	os.Chmod(filepath.Join(dir, "firebreak.db"), 0o644)
	s := serveAt(t, dir)
	if got := modes(s); !reflect.DeepEqual(got, want) {
		t.Errorf("modes of a data directory that was open to others: %v, want %v", got, want)
	}
	for _, name := range []string{"firebreak-data", "admin-token", "firebreak.db"} {
		if !regexp.MustCompile(`level=INFO msg="tightened file mode" path=\S*` + name + ` from=0(644|755) to=0[67]00`).MatchString(s.stderr.String()) {
			t.Errorf("no INFO line says %s was tightened:\n%s", name, s.stderr.String())
		}
	}
}
