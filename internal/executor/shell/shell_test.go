package shell

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/redact"
)

func run(t *testing.T, r *Runner, req Request) *Result {
	t.Helper()
	res, err := r.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestExitAndOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		wantOut    string
		wantCode   int
		wantSignal string
	}{
		{"ok", "echo hello", "hello\n", 0, ""},
		{"stdout and stderr in order", "echo a; echo b >&2; echo c; echo d >&2", "a\nb\nc\nd\n", 0, ""},
		{"non-zero exit is a result", "echo failing >&2; exit 3", "failing\n", 3, ""},
		{"command not found", "no-such-command-xyz", "bash: line 1: no-such-command-xyz: command not found\n", 127, ""},
		{"killed by signal", "echo before; kill -KILL $$", "before\n", -1, "killed"},
		{"no stdin", "cat; echo rc=$?", "rc=0\n", 0, ""},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, &r, Request{Script: tt.script, Timeout: 10 * time.Second})
			if res.Output != tt.wantOut || res.ExitCode != tt.wantCode || res.Signal != tt.wantSignal {
				t.Errorf("got output %q exit %d signal %q, want %q %d %q",
					res.Output, res.ExitCode, res.Signal, tt.wantOut, tt.wantCode, tt.wantSignal)
			}
			if res.TimedOut || res.Truncated || res.Canceled {
				t.Errorf("unexpected flags: %+v", res)
			}
			if res.OK() != (tt.wantCode == 0) {
				t.Errorf("OK() = %v", res.OK())
			}
		})
	}
}

// pidsFrom reads the pid files a script wrote into dir.
func pidsFrom(t *testing.T, dir string, names ...string) []int {
	t.Helper()
	var pids []int
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("pid file %s: %v", n, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid file %s: %q: %v", n, b, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether pid runs; a zombie awaiting its reaper is dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	state, _, ok := parseStat(b)
	return ok && state != 'Z' && state != 'X'
}

func assertAllGone(t *testing.T, pids []int) {
	t.Helper()
	// Killed processes are reaped by init asynchronously; allow a moment.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d is still running", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func TestTimeoutKillsWholeGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A subshell with a background sleep, a nested bash, a direct
	// background sleep and one that ignores SIGTERM (the ignore survives
	// exec), all writing their pids; the script then blocks.
	script := `
(sleep 300 & echo $! > p1; wait) &
bash -c 'sleep 300 & echo $! > p2; wait' &
sleep 300 & echo $! > p3
(trap '' TERM; sleep 300 & echo $! > p4; wait) &
while [ ! -s p1 ] || [ ! -s p2 ] || [ ! -s p4 ]; do sleep 0.01; done
echo started
sleep 300
`
	r := Runner{Grace: 200 * time.Millisecond}
	start := time.Now()
	res := run(t, &r, Request{Script: script, Dir: dir, Timeout: time.Second})
	elapsed := time.Since(start)
	if !res.TimedOut || res.OK() {
		t.Errorf("TimedOut = %v, OK = %v, want a timed-out failure", res.TimedOut, res.OK())
	}
	if res.Output != "started\n" {
		t.Errorf("output %q", res.Output)
	}
	if res.ExitCode != -1 || res.Signal == "" {
		t.Errorf("exit %d signal %q, want -1 and a signal", res.ExitCode, res.Signal)
	}
	// 1s timeout + up to two grace periods + drain, with room for a loaded
	// CI machine; what matters is that it is far below the 300 s sleeps.
	if elapsed > 10*time.Second {
		t.Errorf("Run took %v", elapsed)
	}
	assertAllGone(t, pidsFrom(t, dir, "p1", "p2", "p3", "p4"))
}

func TestBackgroundLeftoversAreKilledAndDoNotBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The background sleep inherits the output pipe; Run must neither wait
	// 300 s for it nor leave it behind.
	start := time.Now()
	res := run(t, &Runner{Grace: 200 * time.Millisecond}, Request{
		Script: `sleep 300 & echo $! > p1; (trap '' TERM; exec sleep 300) & echo $! > p2; echo done`,
		Dir:    dir,
	})
	if !res.OK() || res.Output != "done\n" {
		t.Errorf("result %+v", res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v", d)
	}
	assertAllGone(t, pidsFrom(t, dir, "p1", "p2"))
}

func TestCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel once the script is under way
		for {
			if b, _ := os.ReadFile(filepath.Join(dir, "p1")); len(b) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	var r Runner
	res, err := r.Run(ctx, Request{Script: "echo waiting; sleep 300 & echo $! > p1; wait", Dir: dir, Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res == nil || !res.Canceled || res.TimedOut || res.Output != "waiting\n" {
		t.Fatalf("result %+v", res)
	}
	assertAllGone(t, pidsFrom(t, dir, "p1"))
}

func TestOutputCap(t *testing.T) {
	t.Parallel()
	var r Runner
	start := time.Now()
	res := run(t, &r, Request{Script: "yes | head -c 10M; echo tail-marker", Timeout: 20 * time.Second})
	if !res.OK() {
		t.Fatalf("result exit %d timedout %v", res.ExitCode, res.TimedOut)
	}
	if !res.Truncated || len(res.Output) != DefaultMaxOutput {
		t.Errorf("Truncated %v, len %d; want true, %d", res.Truncated, len(res.Output), DefaultMaxOutput)
	}
	if !strings.HasPrefix(res.Output, "y\ny\n") || strings.Contains(res.Output, "tail-marker") {
		t.Errorf("output is not the head of the stream")
	}
	t.Logf("10 MiB drained in %v", time.Since(start))

	res = run(t, &r, Request{Script: "printf 'aaaa\\xe2\\x82\\xac'", MaxOutput: 5})
	if res.Output != "aaaa" || !res.Truncated {
		t.Errorf("rune cut: got %q truncated %v, want %q true", res.Output, res.Truncated, "aaaa")
	}
	res = run(t, &r, Request{Script: "printf 'ab\\xffcd'"})
	if res.Output != "ab\uFFFDcd" || res.Truncated {
		t.Errorf("invalid UTF-8: got %q", res.Output)
	}
	res = run(t, &r, Request{Script: "printf 12345", MaxOutput: 5})
	if res.Output != "12345" || res.Truncated {
		t.Errorf("exactly at cap: got %q truncated %v", res.Output, res.Truncated)
	}
}

func TestCleanEnvironment(t *testing.T) {
	// Not parallel: it sets variables in this process.
	t.Setenv("FIREBREAK_TEST_SECRET", "parent-secret-value-42")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-99")
	t.Setenv("LD_PRELOAD", "/tmp/evil.so")
	t.Setenv("BASH_ENV", "/tmp/evil-bash-env")
	t.Setenv("EXTRA_ALLOWED", "extra-value")
	t.Setenv("KUBECONFIG", "/parent/kubeconfig")

	r := Runner{
		PassEnv: append(append([]string(nil), DefaultPassEnv...), "EXTRA_ALLOWED"),
		Env:     map[string]string{"KUBECONFIG": "/etc/firebreak/kubeconfig", "FB_FIXED": "fixed"},
	}
	res := run(t, &r, Request{
		Script: "env; echo PWD_IS=$(pwd)",
		Env:    map[string]string{"FB_PARAM_X": "x-value", "FB_FIXED": "from-step"},
	})
	if !res.OK() {
		t.Fatalf("env failed: %+v", res)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.Output), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	for _, leak := range []string{"parent-secret-value-42", "aws-secret-99", "/tmp/evil"} {
		if strings.Contains(res.Output, leak) {
			t.Errorf("child environment leaks %q:\n%s", leak, res.Output)
		}
	}
	if !strings.HasPrefix(got["PWD_IS"], filepath.Join(os.TempDir(), "firebreak-step-")) {
		t.Errorf("working directory %q is not a scratch folder", got["PWD_IS"])
	}
	want := map[string]string{
		StepDirVar:      got["PWD_IS"], // for Reap
		"TMPDIR":        got["PWD_IS"], // the one place a sandboxed step may write
		"FB_PARAM_X":    "x-value",
		"EXTRA_ALLOWED": "extra-value",
		"KUBECONFIG":    "/etc/firebreak/kubeconfig", // configuration beats the parent
		"FB_FIXED":      "fixed",                     // and the step cannot override it
		"PATH":          os.Getenv("PATH"),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	allowed := map[string]bool{"PWD": true, "SHLVL": true, "_": true, "PWD_IS": true, StepDirVar: true} // set by bash itself, the test and Run
	for _, k := range r.PassEnv {
		allowed[k] = true
	}
	for k := range r.Env {
		allowed[k] = true
	}
	allowed["FB_PARAM_X"] = true
	for k := range got {
		if !allowed[k] {
			t.Errorf("unexpected variable %s in the child", k)
		}
	}
}

func TestHostileParametersAreData(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	token := make([]byte, 6)
	_, _ = rand.Read(token)
	pwned := filepath.Join(tmp, "pwned-"+hex.EncodeToString(token))
	values := []string{
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"; touch " + pwned + "; rm -rf /",
		"x\ntouch " + pwned + "\n",
		"' \" ; | & > " + pwned,
		"${IFS}$(id)${PATH}",
		"10.0.0.1; iptables -F",
		"%s %n %x",
		"*",
		"\\x41\\n",
		strings.Repeat("A", 100<<10),
	}
	var r Runner
	for i, v := range values {
		for _, script := range []string{`echo "$FB_PARAM_X"`, `printf '%s\n' "$FB_PARAM_X"`} {
			res := run(t, &r, Request{
				Script:    script,
				Env:       map[string]string{"FB_PARAM_X": v},
				MaxOutput: 1 << 20,
				Dir:       tmp,
			})
			if !res.OK() || res.Output != v+"\n" {
				t.Errorf("value %d with %s: exit %d, output %.80q, want %.80q", i, script, res.ExitCode, res.Output, v+"\n")
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Fatalf("value %d with %s executed: %s exists", i, script, pwned)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"empty script", Request{Script: "  \n"}, "script: empty"},
		{"nul in script", Request{Script: "echo a\x00b"}, "script: contains a NUL"},
		{"negative timeout", Request{Script: "true", Timeout: -1}, "timeout"},
		{"negative max output", Request{Script: "true", MaxOutput: -1}, "max_output"},
		{"PATH", Request{Script: "true", Env: map[string]string{"PATH": "/tmp"}}, `env["PATH"]`},
		{"BASH_ENV", Request{Script: "true", Env: map[string]string{"BASH_ENV": "/tmp/x"}}, `env["BASH_ENV"]`},
		{"LD_PRELOAD", Request{Script: "true", Env: map[string]string{"LD_PRELOAD": "x"}}, `env["LD_PRELOAD"]`},
		{"function import", Request{Script: "true", Env: map[string]string{"BASH_FUNC_x%%": "() { id; }"}}, "BASH_FUNC"},
		{"not identifier", Request{Script: "true", Env: map[string]string{"FB_A-B": "x"}}, `env["FB_A-B"]`},
		{"nul in value", Request{Script: "true", Env: map[string]string{"FB_X": "a\x00b"}}, "NUL"},
		{"step dir marker", Request{Script: "true", Env: map[string]string{StepDirVar: "/"}}, `env["FB_STEP_DIR"]: reserved`},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := r.Run(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) || res != nil {
				t.Errorf("err = %v, res = %v; want an error containing %q", err, res, tt.want)
			}
		})
	}
	if _, err := r.Run(context.Background(), Request{Script: "true", Dir: "/nonexistent/dir"}); err == nil || !strings.Contains(err.Error(), "dir") {
		t.Errorf("bad dir: err = %v", err)
	}
	bad := Runner{Shell: "/nonexistent/bash"}
	if _, err := bad.Run(context.Background(), Request{Script: "true"}); err == nil || !strings.Contains(err.Error(), "start") {
		t.Errorf("bad shell: err = %v", err)
	}
}

func TestScratchDirRemoved(t *testing.T) {
	t.Parallel()
	res := run(t, &Runner{}, Request{Script: "pwd; touch scratch-file"})
	dir := strings.TrimSpace(res.Output)
	if !res.OK() || !strings.Contains(dir, "firebreak-step-") {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("scratch dir %s still exists (err %v)", dir, err)
	}
}

func TestOutputRedacted(t *testing.T) {
	t.Parallel()
	r := Runner{Redactor: redact.Default().WithSecrets("kube-token-123456")}
	res := run(t, &r, Request{Script: `echo "postgres://app:hunter2@db/x"; echo "token kube-token-123456"`})
	want := "postgres://app:xxxxx@db/x\ntoken xxxxx\n"
	if res.Output != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
}

func TestPackageRunAndDefaults(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Request{Script: `echo "$FB_PARAM_A"`, Env: map[string]string{"FB_PARAM_A": "a"}})
	if err != nil || res.Output != "a\n" || res.Duration <= 0 {
		t.Errorf("Run = %+v, %v", res, err)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	state, pgid, ok := parseStat([]byte("123 (we ird) name)) S 1 456 456 0 -1"))
	if !ok || state != 'S' || pgid != 456 {
		t.Errorf("parseStat = %c %d %v", state, pgid, ok)
	}
	if _, _, ok := parseStat([]byte("garbage")); ok {
		t.Error("parseStat accepted garbage")
	}
}
