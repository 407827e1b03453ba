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

	mu    sync.Mutex
	steps map[stepKey]*playbook.Step
}

type stepKey struct{ lang, text string }

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

// classify returns the playbook step for a stored step's text, parsing it
// once per distinct text.
func (x *Executors) classify(s *run.Step) (*playbook.Step, error) {
	k := stepKey{s.Language, s.Text}
	x.mu.Lock()
	st := x.steps[k]
	x.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := playbook.StepFromText(s.Language, s.Text)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.steps == nil || len(x.steps) > 1000 {
		x.steps = make(map[stepKey]*playbook.Step)
	}
	x.steps[k] = st
	x.mu.Unlock()
	return st, nil
}

// Exec runs a step. A failure of the step itself (an error from
// PostgreSQL, a non-zero exit) comes back as a run.Result with err set; retry
// says whether trying again may help.
func (x *Executors) Exec(ctx context.Context, s *run.Step, onProc func(run.Proc)) (res *run.Result, retry bool, err error) {
	st, err := x.classify(s)
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
	start := time.Now()
	defer func() {
		if res != nil {
			res.Duration = time.Since(start).Round(time.Millisecond).String()
		}
	}()
	switch st.Executor {
	case playbook.ExecSQL:
		if x.SQL == nil {
			return nil, false, errors.New("no SQL target is configured")
		}
		// The statements the classifier judged, exactly: the executor
		// sends each as it is and splits nothing.
		stmts := make([]sqlexec.Statement, len(r.Statements))
		for i, b := range r.Statements {
			stmts[i] = sqlexec.Statement{SQL: b.SQL, Args: b.Args}
		}
		out, err := x.SQL.Run(ctx, sqlexec.Request{
			Target: x.sqlTarget(s.Target), Statements: stmts,
			ReadOnly: s.Risk == playbook.RiskRead, Timeout: s.Timeout,
		})
		if err != nil {
			return &run.Result{}, sqlexec.IsRetryable(err), err
		}
		return &run.Result{Columns: out.Columns, Rows: out.Rows, RowsAffected: out.RowsAffected, Command: out.Command, Truncated: out.Truncated}, false, nil
	case playbook.ExecKube:
		if x.Kube == nil {
			return nil, false, errors.New("no Kubernetes target is configured")
		}
		var unsupported error
		for _, c := range r.Kube {
			if err := kube.Supported(c); err != nil {
				unsupported = err
			}
		}
		if unsupported == nil {
			return x.execKube(ctx, s, r.Kube)
		}
		if !x.KubectlShell || x.Shell == nil {
			return nil, false, unsupported
		}
		fallthrough
	case playbook.ExecShell:
		if x.Shell == nil {
			return nil, false, errors.New("shell steps are disabled")
		}
		req := shell.Request{Script: r.Script, Env: r.Env, Timeout: s.Timeout, Write: s.Risk == playbook.RiskWrite}
		if onProc != nil {
			req.OnStart = func(pgid int, dir string) { onProc(run.Proc{PGID: pgid, Dir: dir}) }
		}
		out, err := x.Shell.Run(ctx, req)
		if err != nil {
			return nil, false, err
		}
		code := out.ExitCode
		res := &run.Result{Output: out.Output, ExitCode: &code, Truncated: out.Truncated}
		switch {
		case out.TimedOut:
			return res, false, fmt.Errorf("timed out after %s; the process group was killed", s.Timeout)
		case out.Canceled:
			return res, false, errors.New("cancelled")
		case !out.OK():
			return res, false, fmt.Errorf("exited with status %d%s", out.ExitCode, signalNote(out.Signal))
		}
		return res, false, nil
	}
	return nil, false, fmt.Errorf("executor %q is unknown", st.Executor)
}

func signalNote(sig string) string {
	if sig == "" {
		return ""
	}
	return " (" + sig + ")"
}

func (x *Executors) execKube(ctx context.Context, s *run.Step, cmds []playbook.KubeCommand) (*run.Result, bool, error) {
	res := &run.Result{}
	var outs []string
	for _, c := range cmds {
		out, err := x.Kube.Run(ctx, kube.Request{Target: s.Target, Command: c, Timeout: s.Timeout})
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
			return res, kube.IsRetryable(err), err
		}
	}
	res.Output = strings.Join(outs, "\n")
	return res, false, nil
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
	st, err := x.classify(s)
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
