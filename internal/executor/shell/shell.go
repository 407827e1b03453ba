// Package shell runs a playbook's bash step safely.
//
// The script is the step's own text; by the time it gets here the playbook
// package has replaced every placeholder with a quoted environment reference
// such as "$FB_PARAM_SUSPICIOUS_IP", and the values travel in Request.Env.
// Alert data is therefore never part of the script text, and bash does not
// re-evaluate the contents of a variable, so `$(…)`, backticks and `;` in a
// value are inert data.
//
// Each run gets:
//   - its own process group, killed whole (SIGTERM, then SIGKILL after a
//     grace period) on timeout, on cancellation, and when the script exits
//     while background processes it started are still running: a step's
//     processes never outlive the step;
//   - a clean environment: only an allowlist of the parent's variables plus
//     the step's FB_* parameters;
//   - stdout and stderr combined through one pipe, so their lines interleave
//     in the order they were written, capped at MaxOutput; past the cap the
//     output is read and discarded so the child never blocks on a full pipe;
//   - stdin from /dev/null and, unless Dir is set, a private scratch working
//     directory firebreak-step-* under os.TempDir(), removed afterwards; it
//     is also the step's $TMPDIR, and $FB_STEP_DIR names it (see Reap);
//   - a Landlock sandbox, where the kernel has Landlock (SandboxStatus).
//
// # Sandbox
//
// Landlock confines the step's whole process tree, never Firebreak: the
// ruleset is applied (with no_new_privs) to the one locked OS thread that
// forks the shell, children inherit it, and that thread is never unlocked,
// so the Go runtime ends it with its goroutine rather than reuse it for the
// server. Under the sandbox a step may:
//   - read and run programs from /usr, /bin, /sbin, /lib*, /opt; read /etc,
//     /proc, /dev/{null,zero,full,random,urandom} (and write the first
//     three), the kubeconfig kubectl would read ($KUBECONFIG, else
//     ~/.kube/config) and Runner.ReadablePaths;
//   - write only its working directory (no program written there can be
//     run), plus Runner.WritablePaths for write steps (Request.Write);
//   - not signal processes or reach abstract UNIX sockets outside its own
//     tree (Landlock ABI 6 and later), nor ptrace them or read their /proc
//     secrets (environ, fds); run as root, it also loses the capabilities
//     that get past that or past Landlock (droppedCaps).
//
// Runner.DenyPaths (Firebreak's data directory, configuration file, secret
// files) are never granted, wherever they are: a granted folder containing
// one is granted entry by entry around it (see rules), so the step cannot
// list that folder or create entries directly in it; a configured path
// inside one is an error, which Runner.Check reports at start. Hard links
// and bind mounts of a denied file elsewhere are not detected. /proc is
// readable, so the process list and command lines are visible. Network
// access is not restricted (kubectl needs it), and $HOME (but for
// ~/.kube/config) is neither readable nor writable, so tools that keep
// credentials there need Runner.ReadablePaths. setuid programs (sudo) do not gain privileges.
// Without Landlock, steps run unconfined and SandboxStatus says why.
//
// Processes that leave the group on purpose (setsid, double fork into a new
// session) escape the group kill; confining those needs a cgroup, which is
// outside this package. The package is Linux-only.
package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/firebreak-dev/firebreak/internal/redact"
)

// Defaults for a Request's zero fields.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxOutput = 64 << 10
	DefaultGrace     = 2 * time.Second
)

// ParamPrefix starts the name of every variable a Request may set.
const ParamPrefix = "FB_"

// StepDirVar is set to the step's working directory in its environment.
// Reap looks for it to tell a step's process group from an unrelated one
// that reuses the number.
const StepDirVar = "FB_STEP_DIR"

// DefaultPassEnv lists the parent's variables a step sees.
var DefaultPassEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "KUBECONFIG"}

// Request is one step to run.
type Request struct {
	// Script is the bash source, passed to `bash -c`.
	Script string
	// Env holds the step's parameters. Every name must start with
	// ParamPrefix ("FB_") and be a valid shell identifier, so step data can
	// never set PATH, BASH_ENV, LD_PRELOAD or the like. Values must not
	// contain NUL bytes.
	Env map[string]string
	// Timeout bounds the whole run; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxOutput caps the captured output in bytes; 0 means DefaultMaxOutput.
	MaxOutput int
	// Dir is the working directory. Empty means a fresh private directory
	// that is removed after the run.
	Dir string
	// Write marks a step that changes things: under the sandbox it may
	// also write Runner.WritablePaths.
	Write bool
	// OnStart, if set, is called once the shell has started and before
	// the run is waited for, with its process group and working directory,
	// so that the caller can record them durably and Reap them after a
	// crash. It runs on the caller's side, unconfined.
	OnStart func(pgid int, dir string)
}

// Result is what a run produced. A script that ran and failed (non-zero
// exit, timeout) is a Result, not an error.
type Result struct {
	// Output is stdout and stderr combined, in the order written, capped at
	// MaxOutput bytes (cut at a UTF-8 boundary), with invalid UTF-8 replaced
	// and secrets redacted.
	Output string
	// ExitCode is the script's exit status; -1 when a signal ended it.
	ExitCode int
	// Signal names the signal that ended the script ("killed",
	// "terminated"), if one did.
	Signal string
	// Truncated is set when output past MaxOutput was discarded.
	Truncated bool
	// TimedOut is set when the run hit its Timeout and was killed.
	TimedOut bool
	// Canceled is set when the caller's context ended the run.
	Canceled bool
	Duration time.Duration
}

// OK reports whether the script ran to completion and exited 0.
func (r *Result) OK() bool {
	return r.ExitCode == 0 && !r.TimedOut && !r.Canceled
}

// Runner holds the settings that come from configuration, shared by every
// step. The zero value is ready to use.
type Runner struct {
	// Shell is the path of bash. Empty means /bin/bash, or bash on PATH.
	Shell string
	// PassEnv names the parent's variables the step sees. Nil means
	// DefaultPassEnv; extras from configuration are appended to it by the
	// caller.
	PassEnv []string
	// Env holds fixed variables from configuration (for example KUBECONFIG
	// for one cluster). They are trusted, unlike Request.Env, and override
	// passed-through variables; Request.Env cannot override them.
	Env map[string]string
	// Grace is how long the process group has between SIGTERM and SIGKILL.
	// 0 means DefaultGrace.
	Grace time.Duration
	// Redactor scrubs the output. Nil means redact.Default().
	Redactor *redact.Redactor
	// Getenv reads the parent's environment; nil means os.Getenv. Tests
	// inject it.
	Getenv func(string) string
	// ReadablePaths are absolute files and folders steps may read and run
	// programs from, beyond the system folders.
	ReadablePaths []string
	// WritablePaths are absolute folders write steps may also change.
	WritablePaths []string
	// DenyPaths are absolute paths no step may read or write, even inside
	// an allowed folder: Firebreak's data directory, configuration file
	// and secret files. Paths that do not exist yet are denied too.
	DenyPaths []string

	// noSandbox runs steps without Landlock; tests use it to show that
	// the sandbox is what stops them.
	noSandbox bool
}

// Run runs req with a zero Runner.
func Run(ctx context.Context, req Request) (*Result, error) {
	var r Runner
	return r.Run(ctx, req)
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports the first problem with req, naming the field.
func (req *Request) Validate() error {
	if strings.TrimSpace(req.Script) == "" {
		return errors.New("shell: script: empty")
	}
	if strings.IndexByte(req.Script, 0) >= 0 {
		return errors.New("shell: script: contains a NUL byte")
	}
	if req.Timeout < 0 {
		return fmt.Errorf("shell: timeout: %v is negative", req.Timeout)
	}
	if req.MaxOutput < 0 {
		return fmt.Errorf("shell: max_output: %d is negative", req.MaxOutput)
	}
	for _, k := range sortedKeys(req.Env) {
		if !strings.HasPrefix(k, ParamPrefix) || !identRE.MatchString(k) {
			return fmt.Errorf("shell: env[%q]: a step variable must be a shell identifier starting with %s", k, ParamPrefix)
		}
		if k == StepDirVar {
			return fmt.Errorf("shell: env[%q]: reserved for the step's working directory", k)
		}
		if strings.IndexByte(req.Env[k], 0) >= 0 {
			return fmt.Errorf("shell: env[%q]: value contains a NUL byte", k)
		}
	}
	return nil
}

// Run executes req. The error is non-nil only when the script could not be
// started (invalid request, no bash, bad Dir) or when ctx was canceled; in
// the latter case the partial Result is returned too, with Canceled set.
func (r *Runner) Run(ctx context.Context, req Request) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	maxOut := req.MaxOutput
	if maxOut == 0 {
		maxOut = DefaultMaxOutput
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	red := r.Redactor
	if red == nil {
		red = redact.Default()
	}

	bash, err := r.shellPath()
	if err != nil {
		return nil, err
	}
	dir := req.Dir
	own := dir == ""
	if own {
		dir, err = os.MkdirTemp("", stepDirPrefix)
		if err != nil {
			return nil, fmt.Errorf("shell: create working directory: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("shell: dir: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("shell: dir: %s is not a directory", dir)
	}

	env := r.environ(req.Env, dir)
	ruleset := -1
	if abi, errata, err := landlockABI(); err == nil && !r.noSandbox {
		rs, err := rules(r.grants(&req, bash, dir, own, env), r.DenyPaths)
		if err != nil {
			return nil, err
		}
		if ruleset, err = newRuleset(abi, errata, rs); err != nil {
			return nil, err
		}
		defer unix.Close(ruleset)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("shell: create output pipe: %w", err)
	}
	defer pr.Close()

	// --noprofile/--norc are belt and braces: a non-interactive bash reads
	// no startup file except $BASH_ENV, which the clean environment lacks.
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c", req.Script)
	cmd.Args[0] = "bash" // $0, so messages read "bash: line 1: …"
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = pw // one *os.File for both: the child writes to it directly
	cmd.Stderr = pw
	// Pdeathsig kills the shell if Firebreak dies (kill -9, OOM): a step
	// must not live on unsupervised. Linux sends it when the forking
	// *thread* exits (go.dev/issue/27505), so the child is started and
	// waited for on one locked OS thread that lives as long as it does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	start := time.Now()
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go launch(cmd, ruleset, started, waited)
	if err := <-started; err != nil {
		pw.Close()
		return nil, fmt.Errorf("shell: start %s: %w", bash, err)
	}
	pw.Close() // only the children hold the write end now
	pgid := cmd.Process.Pid
	if req.OnStart != nil {
		req.OnStart(pgid, dir)
	}

	capture := &capWriter{max: maxOut + redactSlack}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(capture, pr)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	res := &Result{}
	select {
	case <-waited:
	case <-timer.C:
		res.TimedOut = true
		stopGroup(pgid, grace, waited)
	case <-ctx.Done():
		res.Canceled = true
		stopGroup(pgid, grace, waited)
	}
	res.Duration = time.Since(start)
	// The script is done; anything it left running in its group goes too.
	killGroup(pgid, grace)

	// All writers in the group are gone, so the pipe reaches EOF at once.
	// A process that escaped the group may still hold it open: stop waiting
	// after a moment and close our end.
	select {
	case <-copied:
	case <-time.After(drainDelay):
		pr.Close()
		<-copied
	}

	res.ExitCode, res.Signal = exitStatus(cmd.ProcessState)
	res.Output, res.Truncated = finishOutput(capture, maxOut, red)

	if res.Canceled {
		return res, fmt.Errorf("shell: run canceled after %v: %w", res.Duration.Round(time.Millisecond), context.Cause(ctx))
	}
	return res, nil
}

// launch starts cmd, confined by ruleset unless it is -1, and waits for
// it, all on one locked OS thread: Pdeathsig is tied to the forking thread,
// and the Landlock domain is put on it.
func launch(cmd *exec.Cmd, ruleset int, started, waited chan<- error) {
	runtime.LockOSThread()
	switch {
	case ruleset < 0:
		defer runtime.UnlockOSThread()
	case unix.Gettid() == unix.Getpid():
		// The main thread is parked for good rather than ended when its
		// goroutine exits locked. Hold it so that the confined thread is
		// a different one, which the runtime can end.
		done := make(chan struct{})
		go func() {
			defer close(done)
			launch(cmd, ruleset, started, waited)
		}()
		<-done
		runtime.UnlockOSThread()
		return
	default:
		// From here on the thread may carry the step's sandbox: it is
		// never unlocked, so the runtime ends it when this goroutine
		// returns instead of running Firebreak code on it.
		if err := confineThread(ruleset); err != nil {
			started <- fmt.Errorf("sandbox: %w", err)
			return
		}
	}
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	waited <- cmd.Wait()
}

// drainDelay bounds the wait for the output pipe to close after the process
// group is gone.
const drainDelay = 500 * time.Millisecond

// redactSlack is captured beyond MaxOutput so that a secret straddling the
// cap is still recognised and scrubbed before the output is cut.
const redactSlack = 4 << 10

func (r *Runner) shellPath() (string, error) {
	if r.Shell != "" {
		return r.Shell, nil
	}
	if fi, err := os.Stat("/bin/bash"); err == nil && !fi.IsDir() {
		return "/bin/bash", nil
	}
	p, err := exec.LookPath("bash")
	if err != nil {
		return "", fmt.Errorf("shell: bash not found in /bin or on PATH: %w", err)
	}
	return p, nil
}

// environ builds the step's environment. dir, when set, is the working
// directory: it becomes $FB_STEP_DIR and, unless configuration sets one,
// $TMPDIR, the one place a sandboxed step can write temporary files.
func (r *Runner) environ(params map[string]string, dir string) []string {
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	pass := r.PassEnv
	if pass == nil {
		pass = DefaultPassEnv
	}
	env := map[string]string{}
	for _, k := range pass {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	for k, v := range r.Env {
		env[k] = v
	}
	for k, v := range params {
		if _, fixed := r.Env[k]; !fixed {
			env[k] = v
		}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	if dir != "" {
		env[StepDirVar] = dir
		if _, fixed := r.Env["TMPDIR"]; !fixed {
			env["TMPDIR"] = dir
		}
	}
	out := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// stopGroup sends SIGTERM to the group, waits up to grace for the script to
// exit, then sends SIGKILL and waits for it.
func stopGroup(pgid int, grace time.Duration, waited <-chan error) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-waited:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-waited
	}
}

// killGroup ends whatever is left in the group: SIGTERM, a grace period
// while any member lives, then SIGKILL.
func killGroup(pgid int, grace time.Duration) {
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		return // ESRCH: the group is empty
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if groupGone(pgid) {
			return
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// groupGone reports whether no live process is left in the group. Zombies
// count as gone: they hold no pipe and run no code, and their reaping is up
// to init.
func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || !e.IsDir() {
			continue
		}
		state, gid, ok := parseStat(stat)
		if ok && gid == pgid && state != 'Z' && state != 'X' {
			return false
		}
	}
	return true
}

// parseStat reads the state and process group from /proc/PID/stat. The
// command name is in parentheses and may contain spaces and ')', so fields
// are counted from the last ')'.
func parseStat(b []byte) (state byte, pgid int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// state ppid pgrp ...
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	var n int
	if _, err := fmt.Sscanf(f[2], "%d", &n); err != nil {
		return 0, 0, false
	}
	return f[0][0], n, true
}

func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return ps.ExitCode(), ""
}

// capWriter keeps the first max bytes and counts the rest.
type capWriter struct {
	max     int
	buf     []byte
	dropped int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.buf); room > 0 {
		if len(p) <= room {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.buf = append(w.buf, p[:room]...)
		w.dropped += int64(len(p) - room)
		return len(p), nil
	}
	w.dropped += int64(len(p))
	return len(p), nil
}

// finishOutput redacts the capture, cuts it to max bytes at a rune
// boundary and makes it valid UTF-8.
func finishOutput(w *capWriter, max int, red *redact.Redactor) (string, bool) {
	truncated := w.dropped > 0 || len(w.buf) > max
	out := red.Bytes(w.buf)
	if len(out) > max {
		truncated = true
		cut := max
		for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), truncated
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
