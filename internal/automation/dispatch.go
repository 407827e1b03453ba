package automation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/executor/shell"
	sqlexec "github.com/firebreak-dev/firebreak/internal/executor/sql"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// Executors runs rendered steps. Each field may be nil when that kind of
// step is not configured.
type Executors struct {
	SQL   *sqlexec.Targets
	Shell *shell.Runner
	Kube  *kube.Executor
	// DefaultSQL names the SQL target of steps that name none.
	DefaultSQL string
	// KubectlShell lets kubectl forms the kube executor does not support
	// run through the shell, where a kubectl binary is configured.
	KubectlShell bool

	mu     sync.Mutex
	byKind map[run.Executor]Executor
}

// Available reports why a step of this executor and target cannot run
// here, or nil when it can.
func (x *Executors) Available(exec playbook.Executor, target string) error {
	switch exec {
	case playbook.ExecSQL:
		if x.SQL == nil || len(x.SQL.Names()) == 0 {
			return errors.New("no SQL target is configured (targets.sql in firebreak.yaml)")
		}
		name := x.sqlTarget(target)
		for _, n := range x.SQL.Names() {
			if n == name {
				return nil
			}
		}
		return fmt.Errorf("SQL target %q is not configured; configured: %s", name, strings.Join(x.SQL.Names(), ", "))
	case playbook.ExecKube:
		if x.Kube == nil {
			return errors.New("no Kubernetes target is configured (targets.kube in firebreak.yaml)")
		}
		return nil
	case playbook.ExecShell:
		if x.Shell == nil {
			return errors.New("shell steps are disabled")
		}
		return nil
	}
	return fmt.Errorf("executor %q is unknown", exec)
}

func (x *Executors) sqlTarget(name string) string {
	if name == "" {
		return x.DefaultSQL
	}
	return name
}

// Executor runs one kind of step: SQL, shell or kube. Executors holds one
// per kind, and a test or a new kind can Register its own.
type Executor interface {
	Exec(ctx context.Context, req Request) (*run.Result, error)
}

// Request is a step bound to its values, ready for an executor.
type Request struct {
	Step     *run.Step
	Rendered *playbook.Rendered
	// OnProc, when not nil, is told where a shell step's processes run.
	OnProc func(run.Proc)
}

// retryable marks an error that trying the step again may cure.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// Retryable marks err as worth another attempt for a read step.
func Retryable(err error) error { return retryable{err} }

// IsRetryable reports whether err was marked by Retryable.
func IsRetryable(err error) bool {
	var r retryable
	return errors.As(err, &r)
}

// Register makes e run the steps of kind, in place of the built-in one.
func (x *Executors) Register(kind run.Executor, e Executor) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byKind == nil {
		x.byKind = map[run.Executor]Executor{}
	}
	x.byKind[kind] = e
}

// executor returns the executor of a kind: a registered one, else the
// built-in one for the configured target.
func (x *Executors) executor(kind run.Executor) (Executor, error) {
	x.mu.Lock()
	e := x.byKind[kind]
	x.mu.Unlock()
	if e != nil {
		return e, nil
	}
	switch kind {
	case playbook.ExecSQL:
		if x.SQL == nil {
			return nil, errors.New("no SQL target is configured")
		}
		return sqlExecutor{x.SQL, x.DefaultSQL}, nil
	case playbook.ExecShell:
		if x.Shell == nil {
			return nil, errors.New("shell steps are disabled")
		}
		return shellExecutor{x.Shell}, nil
	case playbook.ExecKube:
		if x.Kube == nil {
			return nil, errors.New("no Kubernetes target is configured")
		}
		k := kubeExecutor{kube: x.Kube}
		if x.KubectlShell && x.Shell != nil {
			k.fallback = shellExecutor{x.Shell}
		}
		return k, nil
	}
	return nil, fmt.Errorf("executor %q is unknown", kind)
}

// parsed returns the playbook step a run step runs: the parsed form kept
// with it, which runs without parsing again. A step kept before parsed
// forms were (an older database) is parsed from its text once.
func (x *Executors) parsed(s *run.Step) (*playbook.Step, error) {
	if len(s.Parsed) == 0 {
		return playbook.StepFromText(s.Language, s.Text)
	}
	st, err := playbook.UnmarshalStored(s.Parsed)
	if err != nil {
		return nil, err
	}
	// What was approved is the text; what runs must be that text.
	if text := st.SQL + st.Script; text != s.Text {
		return nil, errors.New("the step's parsed form does not match its text; it was changed outside Firebreak")
	}
	return st, nil
}

// Exec runs a step. A failure of the step itself (an error from
// PostgreSQL, a non-zero exit) comes back as a run.Result with err set; retry
// says whether trying again may help.
func (x *Executors) Exec(ctx context.Context, s *run.Step, onProc func(run.Proc)) (res *run.Result, retry bool, err error) {
	st, err := x.parsed(s)
	if err != nil {
		return nil, false, err
	}
	r, err := st.Bind(values(s.Params))
	if err != nil {
		return nil, false, err
	}
	if len(r.Missing) > 0 {
		return nil, false, fmt.Errorf("parameters without a value: %s", strings.Join(r.Missing, ", "))
	}
	e, err := x.executor(st.Executor)
	if err != nil {
		return nil, false, err
	}
	start := time.Now()
	res, err = e.Exec(ctx, Request{Step: s, Rendered: r, OnProc: onProc})
	if res != nil {
		res.Duration = time.Since(start).Round(time.Millisecond).String()
	}
	return res, err != nil && IsRetryable(err), err
}

// sqlExecutor runs SQL steps on the configured targets.
type sqlExecutor struct {
	targets *sqlexec.Targets
	def     string
}

func (e sqlExecutor) Exec(ctx context.Context, req Request) (*run.Result, error) {
	s, r := req.Step, req.Rendered
	target := s.Target
	if target == "" {
		target = e.def
	}
	// The statements the classifier judged, exactly: the executor sends
	// each as it is and splits nothing.
	stmts := make([]sqlexec.Statement, len(r.Statements))
	for i, b := range r.Statements {
		stmts[i] = sqlexec.Statement{SQL: b.SQL, Args: b.Args}
	}
	out, err := e.targets.Run(ctx, sqlexec.Request{
		Target: target, Statements: stmts,
		ReadOnly: s.Risk == playbook.RiskRead, Timeout: s.Timeout,
	})
	if err != nil {
		if sqlexec.IsRetryable(err) {
			err = Retryable(err)
		}
		return &run.Result{}, err
	}
	return &run.Result{Columns: out.Columns, Rows: out.Rows, RowsAffected: out.RowsAffected, Command: out.Command, Truncated: out.Truncated}, nil
}

// shellExecutor runs bash steps in the sandbox.
type shellExecutor struct{ runner *shell.Runner }

func (e shellExecutor) Exec(ctx context.Context, req Request) (*run.Result, error) {
	s, r := req.Step, req.Rendered
	sr := shell.Request{Script: r.Script, Env: r.Env, Timeout: s.Timeout, Write: s.Risk == playbook.RiskWrite}
	if req.OnProc != nil {
		sr.OnStart = func(pgid int, dir string) { req.OnProc(run.Proc{PGID: pgid, Dir: dir}) }
	}
	out, err := e.runner.Run(ctx, sr)
	if err != nil {
		return nil, err
	}
	code := out.ExitCode
	res := &run.Result{Output: out.Output, ExitCode: &code, Truncated: out.Truncated}
	switch {
	case out.TimedOut:
		return res, fmt.Errorf("timed out after %s; the process group was killed", s.Timeout)
	case out.Canceled:
		return res, errors.New("cancelled")
	case !out.OK():
		return res, fmt.Errorf("exited with status %d%s", out.ExitCode, signalNote(out.Signal))
	}
	return res, nil
}

// kubeExecutor runs kube steps through client-go, and forms it does not
// support through the shell's kubectl when configured.
type kubeExecutor struct {
	kube     *kube.Executor
	fallback Executor
}

func (e kubeExecutor) Exec(ctx context.Context, req Request) (*run.Result, error) {
	var unsupported error
	for _, c := range req.Rendered.Kube {
		if err := kube.Supported(c); err != nil {
			unsupported = err
		}
	}
	if unsupported != nil {
		if e.fallback == nil {
			return nil, unsupported
		}
		return e.fallback.Exec(ctx, req)
	}
	s, cmds := req.Step, req.Rendered.Kube
	res := &run.Result{}
	var outs []string
	for _, c := range cmds {
		out, err := e.kube.Run(ctx, kube.Request{Target: s.Target, Command: c, Timeout: s.Timeout})
		if out != nil {
			if len(cmds) > 1 {
				outs = append(outs, "$ "+c.Raw)
			}
			outs = append(outs, out.Output)
			res.Truncated = res.Truncated || out.Truncated
			if out.Before != "" || out.After != "" {
				res.Before, res.After = out.Before, out.After
			}
			if out.Undo != nil {
				res.Undo = undoText(*out.Undo)
			}
		}
		if err != nil {
			res.Output = strings.Join(outs, "\n")
			if kube.IsRetryable(err) {
				err = Retryable(err)
			}
			return res, err
		}
	}
	res.Output = strings.Join(outs, "\n")
	return res, nil
}

func signalNote(sig string) string {
	if sig == "" {
		return ""
	}
	return " (" + sig + ")"
}

// undoText renders an undo command as the kubectl line a person would type.
func undoText(c playbook.KubeCommand) string {
	if c.Raw != "" {
		return c.Raw
	}
	parts := []string{"kubectl", c.Verb}
	if c.Resource != "" {
		parts = append(parts, c.Resource)
	}
	if c.Name != "" {
		parts = append(parts, c.Name)
	}
	if c.Namespace != "" {
		parts = append(parts, "-n", c.Namespace)
	}
	for k, v := range c.Flags {
		parts = append(parts, "--"+k+"="+v)
	}
	return strings.Join(parts, " ")
}

// Preview is a step as it would run now: its text with the bound values
// shown alongside, and where it runs.
type Preview struct {
	Executor  playbook.Executor  `json:"executor"`
	Risk      playbook.Risk      `json:"risk"`
	Target    string             `json:"target,omitempty"`
	Namespace string             `json:"namespace,omitempty"`
	Rendered  *playbook.Rendered `json:"rendered,omitempty"`
	Bound     map[string]string  `json:"bound,omitempty"`
	Missing   []string           `json:"missing,omitempty"`
	Error     string             `json:"error,omitempty"`
}

// Preview renders a step for an approver. It runs nothing.
func (x *Executors) Preview(s *run.Step) *Preview {
	p := &Preview{Executor: s.Executor, Risk: s.Risk, Target: s.Target, Namespace: s.Namespace, Bound: values(s.Params)}
	if s.Executor == playbook.ExecSQL && p.Target == "" {
		p.Target = x.DefaultSQL
	}
	if s.Kind != playbook.KindStep {
		return p
	}
	st, err := x.parsed(s)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	r, err := st.Bind(values(s.Params))
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.Rendered, p.Missing = r, r.Missing
	return p
}
