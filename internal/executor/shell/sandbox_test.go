package shell

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireLandlock skips a test that needs Landlock where the kernel lacks
// it, except under CI=true, where a missing sandbox is a failure.
func requireLandlock(t *testing.T) {
	t.Helper()
	if _, _, err := landlockABI(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Landlock is required under CI=true: %v", err)
		}
		t.Skipf("Landlock unavailable, shell steps run unconfined here: %v", err)
	}
}

const adminToken = "fb_admin_0123456789abcdef"

// sandboxBundle is a fake Firebreak installation inside a folder that the
// configuration makes readable (and writable for write steps): the data
// directory and the configuration file must stay out of reach anyway.
type sandboxBundle struct {
	base, data, token, config, tools, out, home string
	runner                                      *Runner
}

func setupSandbox(t *testing.T) *sandboxBundle {
	t.Helper()
	base := t.TempDir()
	b := &sandboxBundle{
		base:   base,
		data:   filepath.Join(base, "data"),
		config: filepath.Join(base, "firebreak.yaml"),
		tools:  filepath.Join(base, "tools"),
		out:    filepath.Join(base, "out"),
		home:   filepath.Join(base, "home"),
	}
	b.token = filepath.Join(b.data, "admin-token")
	for _, d := range []string{b.data, b.tools, b.out, b.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		b.token:                               adminToken + "\n",
		b.config:                              "shell:\n  readable_paths: [" + base + "]\n",
		filepath.Join(b.tools, "readme"):      "tools are readable\n",
		filepath.Join(b.data, "firebreak.db"): "SQLite format 3",
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A link to the token from an allowed folder must not open it.
	if err := os.Symlink(b.token, filepath.Join(b.tools, "token-link")); err != nil {
		t.Fatal(err)
	}
	b.runner = &Runner{
		ReadablePaths: []string{base},
		WritablePaths: []string{base},
		DenyPaths:     []string{b.data, b.config},
		Getenv: func(k string) string {
			if k == "HOME" {
				return b.home
			}
			return os.Getenv(k)
		},
	}
	return b
}

// script runs a step and returns its result, failing the test if it did
// not run at all.
func (b *sandboxBundle) script(t *testing.T, r *Runner, write bool, script string) *Result {
	t.Helper()
	res, err := r.Run(context.Background(), Request{Script: script, Write: write, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Run(%q): %v", script, err)
	}
	return res
}

func TestSandboxDeniesDataDirAndConfig(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	for _, script := range []string{
		"cat " + b.token,
		"cat " + filepath.Join(b.tools, "token-link"),
		"ls " + b.data,
		"cat " + filepath.Join(b.data, "firebreak.db"),
		"cat " + b.config,
		"cat " + b.data + "/../data/admin-token",
		"ln " + b.token + " ./stolen && cat ./stolen",
		"cp " + b.token + " ./copy && cat ./copy",
		"cat /proc/$PPID/cwd/" + b.token, // via Firebreak's own view of the filesystem
		"cat /proc/$PPID/root" + b.token,
	} {
		res := b.script(t, b.runner, false, script)
		if res.OK() || strings.Contains(res.Output, adminToken) || strings.Contains(res.Output, "SQLite") {
			t.Errorf("read step %q: exit %d, output %q; want a failure without the secret", script, res.ExitCode, res.Output)
		}
	}
	// The same folders' other entries stay readable.
	res := b.script(t, b.runner, false, "cat "+filepath.Join(b.tools, "readme")+"; ls "+b.tools)
	if !res.OK() || !strings.Contains(res.Output, "tools are readable") || !strings.Contains(res.Output, "token-link") {
		t.Errorf("allowed read: exit %d, output %q", res.ExitCode, res.Output)
	}
	// Firebreak itself is not confined by its steps' sandbox.
	assertServerReads(t, b.token)
}

// TestSandboxGuard shows that the sandbox is what stops the read above:
// the same step, unconfined, reads the token. (Removing the sandbox from
// Run makes TestSandboxDeniesDataDirAndConfig fail; checked by hand.)
func TestSandboxGuard(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	unconfined := *b.runner
	unconfined.noSandbox = true
	res := b.script(t, &unconfined, false, "cat "+b.token)
	if !res.OK() || res.Output != adminToken+"\n" {
		t.Fatalf("unconfined read: exit %d, output %q; want the token", res.ExitCode, res.Output)
	}
}

func TestSandboxWritesOnlyItsFolder(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	outside := filepath.Join(os.TempDir(), fmt.Sprintf("firebreak-sandbox-test-%d", time.Now().UnixNano()))
	defer os.Remove(outside)
	for _, script := range []string{
		"touch " + outside,
		"echo x > $HOME/x",
		"mkdir $HOME/d",
		"touch " + filepath.Join(b.out, "x"), // writable_paths are for write steps
		"echo x >> " + b.token,
		"rm " + b.token,
		"ls /tmp",
		"cp /usr/bin/true ./t && ./t", // nothing written can be run
	} {
		res := b.script(t, b.runner, false, script)
		if res.OK() {
			t.Errorf("read step %q succeeded: %q", script, res.Output)
		}
	}
	for _, p := range []string{outside, filepath.Join(b.home, "x"), filepath.Join(b.home, "d"), filepath.Join(b.out, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	res := b.script(t, b.runner, false, `set -e
echo hello > f; mkdir d; mv f d/g; cat d/g; ln -s d/g l; cat l
t=$(mktemp); echo tmp > "$t"; cat "$t"; [ "$TMPDIR" = "$PWD" ]
seq 1 300000 | sort -S 64K -n -r | head -n1   # sort spills to $TMPDIR
echo quiet > /dev/null; head -c 4 /dev/urandom | wc -c
rm -r d l`)
	if !res.OK() || res.Output != "hello\nhello\ntmp\n300000\n4\n" {
		t.Errorf("own folder: exit %d, output %q", res.ExitCode, res.Output)
	}
	if got := readFile(t, b.token); got != adminToken+"\n" {
		t.Errorf("token changed to %q", got)
	}
}

func TestSandboxWriteStep(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	res := b.script(t, b.runner, true, "echo result > "+filepath.Join(b.out, "x")+" && mkdir "+filepath.Join(b.out, "new"))
	if !res.OK() {
		t.Fatalf("write step in writable_paths: exit %d, output %q", res.ExitCode, res.Output)
	}
	if got := readFile(t, filepath.Join(b.out, "x")); got != "result\n" {
		t.Errorf("written file holds %q", got)
	}
	for _, script := range []string{
		"touch " + filepath.Join(b.data, "x"),
		"echo x >> " + b.token,
		": > " + b.token,
		"rm " + b.token,
		"mv " + b.token + " " + b.out,
		"echo x > " + b.config,
		// base holds denied paths, so it is granted entry by entry and
		// gets no new entries.
		"mkdir " + filepath.Join(b.base, "new"),
		"cat " + b.token,
	} {
		res := b.script(t, b.runner, true, script)
		if res.OK() || strings.Contains(res.Output, adminToken) {
			t.Errorf("write step %q: exit %d, output %q; want a failure", script, res.ExitCode, res.Output)
		}
	}
	if _, err := os.Lstat(filepath.Join(b.data, "x")); err == nil {
		t.Error("write step created a file in the data directory")
	}
	if got := readFile(t, b.token); got != adminToken+"\n" {
		t.Errorf("token changed to %q", got)
	}
}

func TestSandboxRunsTools(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	res := b.script(t, b.runner, false, "echo hi | grep h | sort | head -n1 | wc -l")
	if !res.OK() || res.Output != "1\n" {
		t.Errorf("pipeline: exit %d, output %q", res.ExitCode, res.Output)
	}
	res = b.script(t, b.runner, false, `date -u +%Y >/dev/null && getent hosts localhost >/dev/null && awk 'BEGIN{print 1+1}' && sed -n 1p /etc/hostname >/dev/null && ps -o pid= -p $$ >/dev/null && echo ok`)
	if !res.OK() || res.Output != "2\nok\n" {
		t.Errorf("tools: exit %d, output %q", res.ExitCode, res.Output)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Log("no kubectl on PATH; kubectl check skipped")
		return
	}
	// kubectl reads $KUBECONFIG and, with nowhere to write its cache,
	// carries on.
	kc := filepath.Join(b.home, "kubeconfig")
	os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u, namespace: ns1}}]\ncurrent-context: c\n"), 0o600)
	r := *b.runner
	r.ReadablePaths = nil // only the kubeconfig
	r.Env = map[string]string{"KUBECONFIG": kc}
	res = b.script(t, &r, false, "kubectl version --client >/dev/null && kubectl config view --minify -o jsonpath='{..namespace}'")
	if !res.OK() || res.Output != "ns1" {
		t.Errorf("kubectl: exit %d, output %q", res.ExitCode, res.Output)
	}
}

func TestSandboxIsolatesProcesses(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	// A process outside the step holding a secret in its environment, as
	// Firebreak does with dsn_env targets.
	other := exec.Command("sleep", "60")
	other.Env = []string{"FIREBREAK_DSN=postgres://u:pw-in-env@db/x"}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	pid := other.Process.Pid
	for _, script := range []string{
		fmt.Sprintf("cat /proc/%d/environ", pid),
		fmt.Sprintf("grep -a pw-in-env /proc/%d/environ", pid),
		fmt.Sprintf("readlink /proc/%d/cwd", pid),
		"readlink /proc/$PPID/fd/0",
	} {
		res := b.script(t, b.runner, false, script)
		if res.OK() || strings.Contains(res.Output, "FIREBREAK_DSN") {
			t.Errorf("%q: exit %d, output %q; want a failure", script, res.ExitCode, res.Output)
		}
	}
	if strings.Contains(SandboxStatus(), "signals") {
		for _, script := range []string{fmt.Sprintf("kill -STOP %d", pid), "kill -0 $PPID"} {
			if res := b.script(t, b.runner, false, script); res.OK() {
				t.Errorf("%q: a step signalled a process outside its sandbox", script)
			}
		}
	}
	// Its own processes it may still see and signal.
	res := b.script(t, b.runner, false, `sleep 30 & p=$!; grep -c FB_STEP_DIR /proc/$p/environ; kill $p; wait $p; echo $?`)
	if res.Output != "1\n143\n" {
		t.Errorf("own processes: exit %d, output %q", res.ExitCode, res.Output)
	}
}

func TestSandboxStatus(t *testing.T) {
	t.Parallel()
	status := SandboxStatus()
	abi, _, err := landlockABI()
	if err != nil {
		if !strings.HasPrefix(status, "none: ") {
			t.Errorf("status %q without Landlock (%v)", status, err)
		}
		requireLandlock(t)
	}
	if want := fmt.Sprintf("landlock ABI %d (filesystem", abi); !strings.HasPrefix(status, want) {
		t.Errorf("status %q, want it to start with %q", status, want)
	}
	t.Log(status)
}

// assertServerReads checks that Firebreak's own goroutines can still read
// path after steps ran, and that no thread of this process is left with
// the no_new_privs mark that confined threads carry.
func assertServerReads(t *testing.T, path string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			runtime.Gosched()
			if got, err := os.ReadFile(path); err != nil {
				errs <- err
			} else if string(got) != adminToken+"\n" {
				errs <- fmt.Errorf("read %q", got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("server read after a sandboxed step: %v", err)
	}
	if threadHasNoNewPrivs("self") {
		t.Log("this process runs with no_new_privs; thread check skipped")
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		confined := confinedThreads(t)
		if len(confined) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("threads %v of this process still carry no_new_privs: a confined thread was kept", confined)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func threadHasNoNewPrivs(task string) bool {
	b, err := os.ReadFile("/proc/" + task + "/status")
	return err == nil && strings.Contains(string(b), "NoNewPrivs:\t1")
}

// confinedThreads lists this process's threads that carry no_new_privs
// and are not running a step right now.
func confinedThreads(t *testing.T) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		if threadHasNoNewPrivs("self/task/" + task.Name()) {
			out = append(out, task.Name())
		}
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRulesGrantAroundDeniedPaths(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	for _, p := range []string{"a/b/secret", "a/c/file", "x/y", "link-target"} {
		os.MkdirAll(filepath.Join(base, filepath.Dir(p)), 0o700)
		os.WriteFile(filepath.Join(base, p), nil, 0o600)
	}
	os.Symlink(filepath.Join(base, "a"), filepath.Join(base, "link"))
	deny := []string{filepath.Join(base, "a/b"), filepath.Join(base, "x/not-yet/created")}
	got, err := rules([]grant{{path: base, access: accessRead, strict: true}}, deny)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range got {
		paths = append(paths, strings.TrimPrefix(r.path, base+"/"))
	}
	// Neither base, a nor x is granted whole (x holds a denied path that
	// does not exist yet); the link is left out.
	want := []string{"a/c", "link-target", "x/y"}
	if !slices.Equal(paths, want) {
		t.Errorf("rules = %v, want %v", paths, want)
	}

	tests := []struct {
		name string
		g    grant
		want string // error, or "" for none
	}{
		{"strict grant inside a denied path", grant{path: filepath.Join(base, "a/b/secret"), access: accessRead, strict: true}, "which steps may never access"},
		{"strict grant equal to a denied path", grant{path: filepath.Join(base, "a/b"), access: accessRead, strict: true}, "which steps may never access"},
		{"through a link", grant{path: filepath.Join(base, "link/b"), access: accessRead, strict: true}, "which steps may never access"},
		{"relative", grant{path: "a", access: accessRead, strict: true}, "not an absolute path"},
		{"system path inside a denied path is left out", grant{path: filepath.Join(base, "a/b"), access: accessRead}, ""},
		{"own scratch folder inside a denied path", grant{path: filepath.Join(base, "a/b"), access: accessWrite, strict: true, own: true}, "which steps may never access"},
		{"missing path", grant{path: filepath.Join(base, "nope"), access: accessRead, strict: true}, ""},
	}
	for _, tt := range tests {
		_, err := rules([]grant{tt.g}, deny)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// TMPDIR inside the data directory: the step's own folder is still
	// granted, nothing else is.
	got, err = rules([]grant{{path: filepath.Join(base, "a/b"), access: accessRead}, {path: filepath.Join(base, "x"), access: accessWrite, strict: true, own: true}},
		[]string{base})
	if err != nil || len(got) != 1 || got[0].path != filepath.Join(base, "x") {
		t.Errorf("own folder in a denied path: %v %v", got, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tests := []struct {
		name string
		r    Runner
		want string
	}{
		{"fine", Runner{ReadablePaths: []string{filepath.Dir(data)}, WritablePaths: []string{"/srv/out"}, DenyPaths: []string{data}}, ""},
		{"readable inside data", Runner{ReadablePaths: []string{data + "/sub"}, DenyPaths: []string{data}}, "which steps may never access"},
		{"writable is data", Runner{WritablePaths: []string{data}, DenyPaths: []string{data}}, "which steps may never access"},
		{"relative", Runner{ReadablePaths: []string{"tools"}}, "not an absolute path"},
		{"relative deny", Runner{DenyPaths: []string{"data"}}, "not absolute"},
		{"kubeconfig in data", Runner{Env: map[string]string{"KUBECONFIG": data + "/kc"}, DenyPaths: []string{data}}, "which steps may never access"},
	}
	os.WriteFile(data+"/kc", nil, 0o600)
	for _, tt := range tests {
		err := tt.r.Check()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestRunRefusesDirInDeniedPath(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	b := setupSandbox(t)
	if _, err := b.runner.Run(context.Background(), Request{Script: "ls", Dir: b.data}); err == nil || !strings.Contains(err.Error(), "may never access") {
		t.Errorf("Dir = data dir: err = %v", err)
	}
}
