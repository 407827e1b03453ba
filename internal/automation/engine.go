package automation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Runner runs steps; *Executors is the real one.
type Runner interface {
	Available(exec playbook.Executor, target string) error
	// Exec runs s. onProc, when not nil, is told where a shell step's
	// processes run as soon as they start.
	Exec(ctx context.Context, s *run.Step, onProc func(run.Proc)) (*run.Result, bool, error)
	Preview(s *run.Step) *Preview
}

// Config sets up an Engine.
type Config struct {
	Store     store.Store
	Playbooks *playbook.Library
	Exec      Runner
	Logger    *slog.Logger
	Now       func() time.Time
	// Queue is the durable job queue that runs steps: a queued step is a
	// job of kind StepJob. Nil: the engine makes its own on Store, with
	// Workers workers, and starts it with the engine.
	Queue *job.Queue[store.Tx]
	// Instance names this process in claims; empty picks a random one.
	Instance string
	// Workers is how many steps run at once, for a queue the engine makes
	// (default 4).
	Workers int
	// ApprovalTTL is how long a write step waits for approval (default 30m).
	ApprovalTTL time.Duration
	// TwoPerson lists procedure keys whose write steps need two approvers.
	TwoPerson []string
	// DefaultTimeout bounds a step without a timeout of its own (default 30s).
	DefaultTimeout time.Duration
	// ReadAttempts is how often a read step is tried (default 2).
	ReadAttempts int
	// Lease is how long a claim holds without renewal (default 30s).
	Lease time.Duration
	// Sweep is how often stale claims and expired approvals are looked for
	// (default 5s).
	Sweep time.Duration
	// OnStart is told when a step starts running, for metrics.
	OnStart func(s *run.Step)
	// Reap kills what is left of a shell step's processes and removes its
	// temp folder, after the server that ran it died. nil: nothing to reap.
	Reap func(p run.Proc) error
	// Decided, when set, is told of each person's decision on a step
	// (kind is its timeline entry's: step.approved, step.rejected,
	// step.queued, …), in the decision's transaction: the phase clocks
	// start Containment at the first approved write.
	Decided func(ctx context.Context, tx store.Tx, s *run.Step, inc *incident.Incident, kind, actor string) error
	// SoleInstance says no other instance shares the store (SQLite): a
	// step found running at start-up was orphaned by a crash, and is dealt
	// with at once instead of after its lease.
	SoleInstance bool
}

// StepJob is the job kind that runs one queued step.
const StepJob = "step.run"

// Engine plans runs, runs their steps and records approvals.
type Engine struct {
	cfg      Config
	ownQueue bool
	wg       sync.WaitGroup
}

// New returns an Engine; Start runs its workers.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Instance == "" {
		var b [6]byte
		rand.Read(b[:])
		cfg.Instance = "fb-" + hex.EncodeToString(b[:])
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.ApprovalTTL <= 0 {
		cfg.ApprovalTTL = 30 * time.Minute
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 30 * time.Second
	}
	if cfg.ReadAttempts <= 0 {
		cfg.ReadAttempts = 2
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg}
	if e.cfg.Queue == nil {
		st := cfg.Store
		e.cfg.Queue = job.New(job.Config[store.Tx]{
			InTx: st.InTx, Watch: st.WatchJobs, Now: cfg.Now, Logger: cfg.Logger, Instance: cfg.Instance,
			Workers: cfg.Workers, Lease: cfg.Lease, SoleInstance: cfg.SoleInstance,
		})
		e.ownQueue = true
	}
	e.cfg.Queue.HandleClaim(StepJob, e.claimStep, e.runStep)
	return e
}

// Instance is the name this engine claims steps under.
func (e *Engine) Instance() string { return e.cfg.Instance }

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

// Poke wakes the queue's workers after a commit that queued steps. The
// store's watcher wakes them too (LISTEN/NOTIFY on PostgreSQL, a commit
// hook on SQLite); Poke makes it immediate in process.
func (e *Engine) Poke() { e.cfg.Queue.Poke() }

// save writes steps and, in the same transaction, a job for each that is
// queued: a step runs when a worker of any instance takes its job. The key
// holds the attempt, so a step queued again while its last job finishes
// gets a job of its own; the same step is never queued twice for one
// attempt.
func (e *Engine) save(ctx context.Context, tx store.Tx, steps ...*run.Step) error {
	if err := tx.UpdateSteps(ctx, steps); err != nil {
		return err
	}
	return e.enqueue(ctx, tx, steps...)
}

func (e *Engine) enqueue(ctx context.Context, tx store.Tx, steps ...*run.Step) error {
	var jobs []job.NewJob
	for _, s := range steps {
		if !s.Queued || s.Status != run.StatusPending {
			continue
		}
		payload, err := json.Marshal(stepJob{StepID: s.ID})
		if err != nil {
			return err
		}
		jobs = append(jobs, job.NewJob{Kind: StepJob, Key: fmt.Sprintf("step:%d:%d", s.ID, s.Attempts), Payload: payload,
			Priority: s.Position, MaxAttempts: 5})
	}
	if len(jobs) == 0 {
		return nil
	}
	_, err := e.cfg.Queue.Insert(ctx, tx, jobs...)
	return err
}

// stepJob is the payload of a StepJob.
type stepJob struct {
	StepID int64 `json:"step_id"`
}

// OnChange is the engine's lifecycle hook, called inside the transaction
// that opened or resolved incidents: it plans runs for the opened ones, so
// their steps are enqueued atomically with the incident, and cancels what
// was waiting on the resolved ones, by alert or by hand alike, so that no
// fix ever runs against a healthy system. The caller pokes the engine
// after commit.
func (e *Engine) OnChange(ctx context.Context, tx store.Tx, c *respond.Change) error {
	for _, inc := range c.Opened {
		ev := c.FirstAlerts[inc.ID]
		if ev == nil || e.cfg.Playbooks == nil {
			continue
		}
		m, ok := e.cfg.Playbooks.MatchAlert(ev.Labels, ev.Annotations)
		if !ok {
			continue
		}
		if err := e.planRun(ctx, tx, inc.ID, m, ev.Labels, ev.Annotations); err != nil {
			return fmt.Errorf("plan run for incident %d: %w", inc.ID, err)
		}
	}
	actor := c.Actor
	if actor == "" {
		actor = incident.ActorSystem
	}
	for _, id := range c.Resolved {
		if err := e.CancelOpen(ctx, tx, id, c.Why(), actor); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) planRun(ctx context.Context, tx store.Tx, incidentID int64, m *playbook.Match, labels, annotations map[string]string) error {
	now := e.now()
	twoPerson := false
	for _, k := range e.cfg.TwoPerson {
		if k == m.Procedure.Key {
			twoPerson = true
		}
	}
	r, steps := Plan(incidentID, m, PlanOptions{
		Now: now, Labels: labels, Annotations: annotations, Available: e.cfg.Exec.Available,
		TwoPerson: twoPerson, ApprovalTTL: e.cfg.ApprovalTTL, DefaultTimeout: e.cfg.DefaultTimeout, ReadAttempts: e.cfg.ReadAttempts,
	})
	if err := tx.InsertRun(ctx, r); err != nil {
		return err
	}
	for _, s := range steps {
		s.RunID = r.ID
	}
	if err := tx.InsertSteps(ctx, steps); err != nil {
		return err
	}
	if err := e.enqueue(ctx, tx, steps...); err != nil {
		return err
	}
	auto, waiting := 0, 0
	for _, s := range steps {
		if s.Queued {
			auto++
		}
		if s.Status == run.StatusAwaitingApproval {
			waiting++
		}
	}
	msg := fmt.Sprintf("Playbook %q, procedure %q: %d tasks; %d diagnostics running now, %d steps await approval",
		m.Playbook.ID, m.Procedure.Title, len(steps), auto, waiting)
	if paused, err := tx.GetSetting(ctx, settingPaused); err == nil && paused == "true" && auto > 0 {
		msg = fmt.Sprintf("Playbook %q, procedure %q: %d tasks; automation is paused, so %d diagnostics wait for `firebreak automation resume`; %d steps await approval",
			m.Playbook.ID, m.Procedure.Title, len(steps), auto, waiting)
	}
	// Which procedure and why, when the alert's runbook_url chose it or
	// several matched; a runbook's Meaning and Impact come with it.
	if m.By == "runbook_url" {
		msg += "; chosen by " + m.Reason
	}
	if m.Why != "" {
		msg += "; " + m.Why
	}
	for _, c := range m.Procedure.Context {
		if c.Text != "" {
			msg += "\n\n" + c.Title + ": " + c.Text
		}
	}
	data := map[string]any{"run_id": r.ID, "playbook": m.Playbook.ID, "version": m.Playbook.Hash,
		"procedure": m.Procedure.Key, "match": m.Reason, "by": m.By}
	if len(m.Others) > 0 {
		data["others"], data["why"] = m.Others, m.Why
	}
	if len(m.Procedure.Context) > 0 {
		data["context"] = m.Procedure.Context
	}
	return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{
		IncidentID: incidentID, At: now, Actor: incident.ActorSystem, Kind: "run.planned", Message: msg,
		Data: mustJSON(data),
	}})
}

// CancelOpen cancels every step of an incident that has not finished and
// is not running.
func (e *Engine) CancelOpen(ctx context.Context, tx store.Tx, incidentID int64, why, actor string) error {
	steps, err := tx.OpenSteps(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("load steps of incident %d: %w", incidentID, err)
	}
	now := e.now()
	var changed []*run.Step
	var names []string
	for _, s := range steps {
		if s.Status == run.StatusRunning || s.Kind != playbook.KindStep {
			continue
		}
		s.Status, s.Reason, s.Queued, s.UpdatedAt, s.FinishedAt = run.StatusCancelled, "cancelled: "+why, false, now, now
		changed = append(changed, s)
		names = append(names, s.Name)
	}
	if len(changed) == 0 {
		return nil
	}
	if err := tx.UpdateSteps(ctx, changed); err != nil {
		return err
	}
	return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{
		IncidentID: incidentID, At: now, Actor: actor, Kind: "steps.cancelled",
		Message: fmt.Sprintf("Cancelled %d waiting steps because %s: %s", len(changed), why, strings.Join(names, "; ")),
	}})
}

// Start runs the sweeper, and the queue when the engine made its own,
// until ctx ends; Wait waits for them. Steps that are queued without a job
// (queued while paused, or by an older version) get one.
func (e *Engine) Start(ctx context.Context) {
	if e.cfg.SoleInstance {
		// Before any worker claims anything: every step still running was
		// orphaned by the process that ran it.
		if err := e.sweep(ctx, e.now().AddDate(100, 0, 0)); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("recover steps orphaned by a crash", "err", err)
		}
	}
	if err := e.requeue(ctx); err != nil && ctx.Err() == nil {
		e.cfg.Logger.Warn("queue waiting steps", "err", err)
	}
	if e.ownQueue {
		if err := e.cfg.Queue.Start(ctx); err != nil {
			e.cfg.Logger.Error("start the step queue", "err", err)
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.sweeper(ctx)
	}()
}

// Wait waits for the sweeper, and for the steps still running when the
// engine owns its queue, after ctx ended.
func (e *Engine) Wait() {
	e.wg.Wait()
	if e.ownQueue {
		e.cfg.Queue.Wait()
	}
}

// requeue gives every queued step a job; the unique key makes it a no-op
// for steps that have one.
func (e *Engine) requeue(ctx context.Context) error {
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		steps, err := tx.QueuedSteps(ctx, 10000)
		if err != nil {
			return err
		}
		return e.enqueue(ctx, tx, steps...)
	})
	if err == nil {
		e.Poke()
	}
	return err
}

// Paused reports whether the automation kill switch is on.
func (e *Engine) Paused(ctx context.Context) (bool, error) {
	v, err := e.cfg.Store.ReadSetting(ctx, settingPaused)
	return v == "true", err
}

const settingPaused = "automation.paused"

// SetPausedIn turns the kill switch on or off inside tx; the caller audits
// who did, and pokes the engine after commit. Resuming gives the steps
// that waited their jobs again.
func (e *Engine) SetPausedIn(ctx context.Context, tx store.Tx, paused bool) error {
	if err := tx.SetSetting(ctx, settingPaused, fmt.Sprint(paused)); err != nil || paused {
		return err
	}
	steps, err := tx.QueuedSteps(ctx, 10000)
	if err != nil {
		return err
	}
	return e.enqueue(ctx, tx, steps...)
}

// claimStep runs in the transaction that claims a StepJob: it claims the
// job's step in the same commit and leaves it in j.Value for runStep. A
// step that is no longer queued (cancelled, run by an earlier job) has
// nothing to do; while automation is paused the job ends and the step
// stays queued, and resuming gives it a new job. A step that is not
// approved as it stands is refused here, whatever queued it.
func (e *Engine) claimStep(ctx context.Context, tx store.Tx, j *job.Job) (bool, error) {
	var p stepJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.StepID == 0 {
		e.cfg.Logger.Error("step job with a bad payload", "job", j.ID, "payload", string(j.Payload))
		return false, nil
	}
	if paused, err := tx.GetSetting(ctx, settingPaused); err != nil || paused == "true" {
		return false, err
	}
	now := e.now()
	s, err := tx.ClaimStep(ctx, p.StepID, e.cfg.Instance, now, now.Add(e.cfg.Lease))
	if err != nil || s == nil {
		return false, err
	}
	// The last gate: whatever queued it, a step runs only as approved.
	if why := run.Runnable(s); why != "" {
		s.Status, s.Queued, s.ClaimedBy, s.FinishedAt, s.UpdatedAt = run.StatusFailed, false, "", now, now
		s.Error, s.Reason = "refused to run: "+why, ""
		if err := tx.UpdateSteps(ctx, []*run.Step{s}); err != nil {
			return false, err
		}
		e.cfg.Logger.Warn("refused to run a step that is not approved as it stands", "step", s.ID, "reason", why)
		return false, tx.AppendTimeline(ctx, []*incident.TimelineEntry{stepEntry(s, now, "step.refused", "Refused to run "+s.Name+": "+why)})
	}
	j.Value = s
	return true, nil
}

// runStep is the handler of StepJob: it runs the step claimStep took and
// records its outcome, and the job's, in one transaction.
func (e *Engine) runStep(ctx context.Context, j *job.Job) error {
	s, ok := j.Value.(*run.Step)
	if !ok {
		return job.Permanent(fmt.Errorf("step job %d ran without a claimed step", j.ID))
	}
	if e.cfg.OnStart != nil {
		e.cfg.OnStart(s)
	}
	e.execute(ctx, s, j)
	return job.ErrRecorded
}

// execute runs a claimed step and records its outcome. The step's own
// context outlives a shutdown signal by the step's timeout at most: a
// running fix is not abandoned half way because the server is stopping.
func (e *Engine) execute(ctx context.Context, s *run.Step, j *job.Job) {
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Timeout+5*time.Second)
	defer cancel()
	stopLease := e.keepLease(runCtx, s.ID)
	res, retry, execErr := e.cfg.Exec.Exec(runCtx, s, func(p run.Proc) { e.recordProc(runCtx, s.ID, p) })
	stopLease()

	// The outcome is recorded even while the server shuts down: a step left
	// "running" would be taken for one whose runner died.
	ctx = context.WithoutCancel(ctx)
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockStep(ctx, s.ID)
		if err != nil {
			return err
		}
		if j != nil {
			// The job ends with the step's outcome, in one commit.
			if _, err := tx.FinishJob(ctx, job.FinishParams{Claim: j.Claim(), State: job.StateSucceeded, Now: e.now()}); err != nil {
				return err
			}
		}
		if cur.Status != run.StatusRunning || cur.ClaimedBy != e.cfg.Instance {
			// Our lease lapsed and the sweeper dealt with the step.
			return nil
		}
		now := e.now()
		cur.Result, cur.UpdatedAt, cur.FinishedAt, cur.ClaimedBy = res, now, now, ""
		var entry *incident.TimelineEntry
		switch {
		case execErr == nil:
			cur.Status, cur.Reason, cur.Error = run.StatusSucceeded, "", ""
			entry = stepEntry(cur, now, "step.succeeded", "Step succeeded: "+cur.Name+summarize(res))
		case retry && cur.Risk == playbook.RiskRead && cur.Attempts < cur.MaxAttempts:
			cur.Status, cur.Queued, cur.Error = run.StatusPending, true, execErr.Error()
			cur.Reason = fmt.Sprintf("attempt %d of %d failed; retrying", cur.Attempts, cur.MaxAttempts)
			cur.FinishedAt = time.Time{}
		default:
			cur.Status, cur.Error, cur.Reason = run.StatusFailed, execErr.Error(), ""
			entry = stepEntry(cur, now, "step.failed", "Step failed: "+cur.Name+": "+execErr.Error())
		}
		updates := []*run.Step{cur}
		if cur.Status == run.StatusSucceeded && res != nil && len(res.Columns) > 0 {
			later, err := e.offerChoices(ctx, tx, cur)
			if err != nil {
				return err
			}
			updates = append(updates, later...)
		}
		if err := e.save(ctx, tx, updates...); err != nil {
			return err
		}
		if entry != nil {
			return tx.AppendTimeline(ctx, []*incident.TimelineEntry{entry})
		}
		return nil
	})
	if err != nil {
		e.cfg.Logger.Error("record step outcome", "step", s.ID, "err", err)
	}
}

// recordProc stores where a running step's processes are, so that
// recovery after a crash can kill them.
func (e *Engine) recordProc(ctx context.Context, id int64, p run.Proc) {
	p.Host, p.BootID = thisMachine()
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockStep(ctx, id)
		if err != nil || cur.Status != run.StatusRunning || cur.ClaimedBy != e.cfg.Instance {
			return err
		}
		cur.Proc = &p
		return tx.UpdateSteps(ctx, []*run.Step{cur})
	})
	if err != nil && ctx.Err() == nil {
		e.cfg.Logger.Warn("record a step's process group", "step", id, "pgid", p.PGID, "err", err)
	}
}

// reap kills what is left of an orphaned step's processes, when they ran
// on this machine in this boot. It returns a note for the step's reason.
func (e *Engine) reap(s *run.Step) string {
	p := s.Proc
	if p == nil || e.cfg.Reap == nil {
		return ""
	}
	host, boot := thisMachine()
	if p.Host != host || p.BootID != boot {
		return fmt.Sprintf(" Its processes ran on %s; check there that none is left.", p.Host)
	}
	if err := e.cfg.Reap(*p); err != nil {
		e.cfg.Logger.Warn("kill an orphaned step's processes", "step", s.ID, "pgid", p.PGID, "err", err)
		return fmt.Sprintf(" Killing what was left of its process group %d failed: %v.", p.PGID, err)
	}
	return fmt.Sprintf(" What was left of its process group %d was killed.", p.PGID)
}

// keepLease renews the claim on a running step until stopped.
func (e *Engine) keepLease(ctx context.Context, id int64) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
					return tx.ExtendLease(ctx, id, e.cfg.Instance, e.now().Add(e.cfg.Lease))
				})
				if err != nil && ctx.Err() == nil {
					e.cfg.Logger.Warn("renew step lease", "step", id, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// offerChoices fills the choices of later steps' parameters that draw on a
// column of s's output, such as pid for pg_cancel_backend(pid).
func (e *Engine) offerChoices(ctx context.Context, tx run.Tx, s *run.Step) ([]*run.Step, error) {
	open, err := tx.OpenSteps(ctx, s.IncidentID)
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, c := range s.Result.Columns {
		col[c] = i
	}
	var out []*run.Step
	for _, o := range open {
		if o.RunID != s.RunID || o.ID == s.ID {
			continue
		}
		changed := false
		for i := range o.Params {
			p := &o.Params[i]
			for _, src := range p.Sources {
				ci, ok := col[src.Column]
				if src.Kind != playbook.SourceStep || src.Step != s.TaskKey || !ok {
					continue
				}
				seen := map[string]bool{}
				p.Choices = nil
				for _, row := range s.Result.Rows {
					v := fmt.Sprint(row[ci])
					if row[ci] != nil && !seen[v] && len(p.Choices) < 50 {
						seen[v] = true
						p.Choices = append(p.Choices, v)
					}
				}
				changed = true
			}
		}
		if changed {
			out = append(out, o)
		}
	}
	return out, nil
}

func summarize(r *run.Result) string {
	switch {
	case r == nil:
		return ""
	case r.Columns != nil:
		n := fmt.Sprintf(" (%d rows", len(r.Rows))
		if r.Truncated {
			n += ", truncated"
		}
		return n + ")"
	case r.Before != "" || r.After != "":
		return fmt.Sprintf(" (%s → %s)", r.Before, r.After)
	case r.RowsAffected > 0:
		return fmt.Sprintf(" (%d rows affected)", r.RowsAffected)
	}
	return ""
}

// timelineRows caps the rows a timeline entry carries; the step keeps all.
const timelineRows = 50

func stepEntry(s *run.Step, now time.Time, kind incident.EventKind, msg string) *incident.TimelineEntry {
	data := map[string]any{"step_id": s.ID, "task": s.TaskKey, "status": s.Status}
	if r := s.Result; r != nil {
		if r.Columns != nil {
			rows := r.Rows
			if len(rows) > timelineRows {
				rows = rows[:timelineRows]
			}
			data["table"] = map[string]any{"columns": r.Columns, "rows": rows, "truncated": r.Truncated || len(r.Rows) > timelineRows}
		}
		if r.Output != "" {
			out := r.Output
			if len(out) > 4000 {
				out = out[:4000] + "…"
			}
			data["output"] = out
		}
		for k, v := range map[string]string{"before": r.Before, "after": r.After, "undo": r.Undo, "duration": r.Duration} {
			if v != "" {
				data[k] = v
			}
		}
	}
	if s.Error != "" {
		data["error"] = s.Error
	}
	return &incident.TimelineEntry{IncidentID: s.IncidentID, At: now, Actor: incident.ActorSystem, Kind: kind, Message: msg, Data: mustJSON(data)}
}

func (e *Engine) sweeper(ctx context.Context) {
	t := time.NewTicker(e.cfg.Sweep)
	defer t.Stop()
	for {
		if err := e.Sweep(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("sweep steps", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deals with steps whose runner vanished and approvals that
// expired. A read step whose instance died is queued again; a write step
// is marked interrupted and never re-run silently.
func (e *Engine) Sweep(ctx context.Context) error { return e.sweep(ctx, e.now()) }

// sweep treats steps whose lease ends before staleBefore as orphaned.
func (e *Engine) sweep(ctx context.Context, staleBefore time.Time) error {
	requeued := false
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		now := e.now()
		stale, err := tx.StaleSteps(ctx, staleBefore, 100)
		if err != nil {
			return err
		}
		var entries []*incident.TimelineEntry
		for _, s := range stale {
			s.ClaimedBy, s.UpdatedAt = "", now
			reaped := e.reap(s)
			if s.Risk == playbook.RiskRead && s.Attempts < s.MaxAttempts {
				s.Status, s.Queued, s.Reason = run.StatusPending, true, "the instance running it stopped; retrying."+reaped
				requeued = true
				continue
			}
			s.Status, s.FinishedAt = run.StatusInterrupted, now
			s.Reason = "the server running it stopped mid-step; it was not re-run." + reaped + " Check the system's state, then run it again if still needed"
			entries = append(entries, stepEntry(s, now, "step.interrupted", "Step interrupted: "+s.Name+": the server running it stopped; not re-run"))
		}
		expired, err := tx.ExpiredApprovals(ctx, now, 100)
		if err != nil {
			return err
		}
		for _, s := range expired {
			s.Status, s.Queued, s.UpdatedAt, s.FinishedAt = run.StatusCancelled, false, now, now
			s.Reason = fmt.Sprintf("approval expired at %s; run it again to ask anew", s.ExpiresAt.Format(time.RFC3339))
			entries = append(entries, stepEntry(s, now, "step.expired", "Approval expired: "+s.Name))
		}
		if err := e.save(ctx, tx, append(stale, expired...)...); err != nil {
			return err
		}
		if len(entries) > 0 {
			return tx.AppendTimeline(ctx, entries)
		}
		return nil
	})
	if requeued {
		e.Poke()
	}
	return err
}

// Decision is a person's call on a step.
type Decision struct {
	Actor string
	// Params fills or overrides parameter values.
	Params map[string]string
	// Text, when not empty, replaces the step's text; it is re-classified.
	Text   string
	Reason string
}

// conflict and invalid make domain errors with a code, which the HTTP
// layer turns into 409 and 400.
func conflict(format string, args ...any) error {
	return incident.Errorf(incident.ECONFLICT, format, args...)
}

func invalid(format string, args ...any) error {
	return incident.Errorf(incident.EINVALID, format, args...)
}

// Approve records an approval of the step exactly as it stands after the
// decision. A change that comes with it (text, parameter values) voids
// every earlier approval: the step then needs its full set of approvals
// again, each for the new digest. With all approvals in, the step is
// queued; the claim checks the digest once more before it runs.
func (e *Engine) Approve(ctx context.Context, id int64, d Decision) (*run.Step, error) {
	return e.decideOn(ctx, id, func(s *run.Step, inc *incident.Incident) ([]*incident.TimelineEntry, error) {
		if inc.Status == incident.StatusResolved {
			return nil, conflict("step %d: incident %d is resolved; a fix never runs against a healthy system", id, inc.ID)
		}
		if s.Status != run.StatusAwaitingApproval {
			return nil, conflict("step %d is %s, not awaiting approval", id, s.Status)
		}
		now := e.now()
		if !s.ExpiresAt.IsZero() && now.After(s.ExpiresAt) {
			return nil, conflict("step %d: the approval request expired at %s; run it again to ask anew", id, s.ExpiresAt.Format(time.RFC3339))
		}
		entries, err := e.decide(s, d, now)
		if err != nil {
			return nil, err
		}
		for _, a := range s.Approvals {
			if a.Actor == d.Actor {
				return nil, conflict("step %d: %s already approved it as it stands; it needs a different second approver", id, d.Actor)
			}
		}
		if miss := missingParams(s.Params); len(miss) > 0 {
			return nil, invalid("params: step %d needs a value for %s", id, strings.Join(miss, ", "))
		}
		if err := e.cfg.Exec.Available(s.Executor, s.Target); err != nil {
			return nil, conflict("step %d cannot run here: %v", id, err)
		}
		s.Approvals = append(s.Approvals, run.Approval{Actor: d.Actor, At: now, Digest: run.RequestDigest(s)})
		s.Actor, s.UpdatedAt = d.Actor, now
		required := max(s.Approvers, 1)
		msg := fmt.Sprintf("Approved by %s: %s", d.Actor, s.Name)
		if n := run.ValidApprovals(s); n >= required {
			s.Status, s.Queued, s.Reason = run.StatusPending, true, "approved; queued to run"
			if s.Risk == playbook.RiskRead {
				s.MaxAttempts = e.cfg.ReadAttempts
			}
		} else {
			s.Reason = fmt.Sprintf("approved by %d of %d", n, required)
			msg += fmt.Sprintf(" (%d of %d approvals)", n, required)
		}
		entries = append(entries, approvalEntry(s, now, d.Actor, "step.approved", msg))
		return entries, nil
	})
}

// Reject cancels a step waiting for approval or input.
func (e *Engine) Reject(ctx context.Context, id int64, d Decision) (*run.Step, error) {
	return e.decideOn(ctx, id, func(s *run.Step, _ *incident.Incident) ([]*incident.TimelineEntry, error) {
		if s.Status != run.StatusAwaitingApproval && s.Status != run.StatusNeedsInput && s.Status != run.StatusPending {
			return nil, conflict("step %d is %s; only a waiting step can be rejected", id, s.Status)
		}
		now := e.now()
		s.Status, s.Queued, s.Actor, s.UpdatedAt, s.FinishedAt = run.StatusCancelled, false, d.Actor, now, now
		s.Reason = "rejected by " + d.Actor
		if d.Reason != "" {
			s.Reason += ": " + d.Reason
		}
		return []*incident.TimelineEntry{approvalEntry(s, now, d.Actor, "step.rejected", "Rejected by "+d.Actor+": "+s.Name+reasonSuffix(d.Reason))}, nil
	})
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// RunNow runs a step a person asks for: a read step that waits for a
// person or input, or a failed one again. A step that needs approval (a
// write, edited shell or kube text, a parameter another interpreter
// parses) goes (back) to awaiting approval instead: asking to run it is
// not approving it.
func (e *Engine) RunNow(ctx context.Context, id int64, d Decision) (*run.Step, error) {
	return e.decideOn(ctx, id, func(s *run.Step, inc *incident.Incident) ([]*incident.TimelineEntry, error) {
		if s.Kind != playbook.KindStep {
			return nil, conflict("step %d is a %s task: tick it with POST /api/v1/steps/%d/done", id, s.Kind, id)
		}
		switch s.Status {
		case run.StatusRunning:
			return nil, conflict("step %d is already running", id)
		case run.StatusSucceeded:
			if s.Risk == playbook.RiskWrite {
				return nil, conflict("step %d already ran; a write is not repeated by a click: run it again as a new approval with POST /api/v1/steps/%d/run after checking the system", id, id)
			}
		case run.StatusSkipped:
			return nil, conflict("step %d was skipped: %s", id, s.Reason)
		}
		if inc.Status == incident.StatusResolved {
			return nil, conflict("step %d: incident %d is resolved; reopen it first", id, inc.ID)
		}
		now := e.now()
		entries, err := e.decide(s, d, now)
		if err != nil {
			return nil, err
		}
		s.Actor, s.UpdatedAt, s.FinishedAt, s.Error, s.Result = d.Actor, now, time.Time{}, "", nil
		if need, why := run.NeedsApproval(s); need {
			if s.Status != run.StatusAwaitingApproval {
				s.Approvals = nil
			}
			s.Status, s.Queued, s.ExpiresAt = run.StatusAwaitingApproval, false, now.Add(e.cfg.ApprovalTTL)
			s.Approvers = max(s.Approvers, s.ApproversRule, 1)
			s.Reason = why + ": waits for approval"
			entries = append(entries, approvalEntry(s, now, d.Actor, "step.requested", fmt.Sprintf("%s asked to run %s: it waits for approval (%s)", d.Actor, s.Name, why)))
		} else {
			if miss := missingParams(s.Params); len(miss) > 0 {
				return nil, invalid("params: step %d needs a value for %s", id, strings.Join(miss, ", "))
			}
			s.Status, s.Queued, s.Reason, s.Attempts, s.MaxAttempts = run.StatusPending, true, "queued by "+d.Actor, 0, e.cfg.ReadAttempts
			s.Approvals, s.Approvers = nil, 0
			entries = append(entries, approvalEntry(s, now, d.Actor, "step.queued", fmt.Sprintf("%s ran %s", d.Actor, s.Name)))
		}
		return entries, nil
	})
}

// Tick marks a checklist or manual task done (or skipped) by a person.
func (e *Engine) Tick(ctx context.Context, id int64, d Decision, skip bool) (*run.Step, error) {
	return e.decideOn(ctx, id, func(s *run.Step, _ *incident.Incident) ([]*incident.TimelineEntry, error) {
		if s.Kind == playbook.KindStep && !skip {
			return nil, conflict("step %d runs a %s block; approve or run it instead of ticking it", id, s.Executor)
		}
		if s.Status.Final() || s.Status == run.StatusRunning {
			return nil, conflict("step %d is already %s", id, s.Status)
		}
		now := e.now()
		s.Actor, s.UpdatedAt, s.FinishedAt, s.Queued = d.Actor, now, now, false
		kind, verb := incident.EventKind("task.done"), "Done"
		s.Status, s.Reason = run.StatusSucceeded, "done by "+d.Actor
		if skip {
			kind, verb = "task.skipped", "Skipped"
			s.Status, s.Reason = run.StatusSkipped, "skipped by "+d.Actor
		}
		if d.Reason != "" {
			s.Reason += ": " + d.Reason
		}
		return []*incident.TimelineEntry{approvalEntry(s, now, d.Actor, kind, fmt.Sprintf("%s by %s: %s%s", verb, d.Actor, s.Name, reasonSuffix(d.Reason)))}, nil
	})
}

// decideOn applies a person's decision to one step in a transaction:
// decide changes the locked step and returns the timeline entries that
// record it; the step is saved with them, and the workers are woken after
// commit when the decision queued the step.
func (e *Engine) decideOn(ctx context.Context, id int64, decide func(s *run.Step, inc *incident.Incident) ([]*incident.TimelineEntry, error)) (*run.Step, error) {
	var out *run.Step
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		s, inc, err := e.lockWithIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		entries, err := decide(s, inc)
		if err != nil {
			return err
		}
		if err := e.save(ctx, tx, s); err != nil {
			return err
		}
		out = s
		if err := tx.AppendTimeline(ctx, entries); err != nil {
			return err
		}
		if e.cfg.Decided != nil && len(entries) > 0 {
			last := entries[len(entries)-1]
			return e.cfg.Decided(ctx, tx, s, inc, string(last.Kind), last.Actor)
		}
		return nil
	})
	if err == nil && out.Queued {
		e.Poke()
	}
	return out, err
}

func (e *Engine) lockWithIncident(ctx context.Context, tx run.Tx, id int64) (*run.Step, *incident.Incident, error) {
	s, err := tx.LockStep(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	incs, err := tx.IncidentsByID(ctx, []int64{s.IncidentID})
	if err != nil {
		return nil, nil, err
	}
	inc := incs[s.IncidentID]
	if inc == nil {
		return nil, nil, incident.Errorf(incident.ENOTFOUND, "incident %d of step %d not found", s.IncidentID, id)
	}
	return s, inc, nil
}

// decide applies what a person sent with a decision: an edit of the text
// (re-classified, with its diff for the timeline) and parameter values.
// When that changes what would run, earlier approvals no longer hold: they
// are cleared, and the clearing is on the timeline with its actor. The
// step must then be runnable as it stands.
func (e *Engine) decide(s *run.Step, d Decision, now time.Time) ([]*incident.TimelineEntry, error) {
	var entries []*incident.TimelineEntry
	before := run.RequestDigest(s)
	oldParams := values(s.Params)
	if d.Text != "" && d.Text != s.Text {
		entry, err := e.edit(s, d.Text, d.Actor, now)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry)
	}
	if err := fill(s, d.Params, d.Actor); err != nil {
		return nil, err
	}
	if s.NeedsEditing != "" {
		return nil, invalid("text: step %d needs editing before it can run (%s); send the edited text", s.ID, s.NeedsEditing)
	}
	if run.RequestDigest(s) == before {
		return entries, nil
	}
	changes := paramChanges(oldParams, values(s.Params))
	if need, _ := run.NeedsApproval(s); need {
		s.Approvers = max(s.Approvers, s.ApproversRule, 1)
	}
	if len(s.Approvals) > 0 {
		var who []string
		for _, a := range s.Approvals {
			who = append(who, a.Actor)
		}
		s.Approvals = nil
		what := "the text"
		if len(changes) > 0 {
			what = "parameters (" + strings.Join(changes, "; ") + ")"
			if d.Text != "" {
				what = "the text and " + what
			}
		}
		entries = append(entries, &incident.TimelineEntry{IncidentID: s.IncidentID, At: now, Actor: d.Actor, Kind: "step.approvals_cleared",
			Message: fmt.Sprintf("%s changed %s of %s after approval by %s: those approvals no longer hold, and it needs %d approval(s) of the new version",
				d.Actor, what, s.Name, strings.Join(who, ", "), max(s.Approvers, 1)),
			Data: mustJSON(map[string]any{"step_id": s.ID, "cleared": who, "params": changes, "digest_before": before, "digest_after": run.RequestDigest(s)})})
	}
	return entries, nil
}

// paramChanges lists the values that differ between two parameter sets,
// as "name: old → new".
func paramChanges(before, after map[string]string) []string {
	var out []string
	for n, v := range after {
		if old, ok := before[n]; !ok || old != v {
			out = append(out, fmt.Sprintf("%s: %q → %q", n, before[n], v))
		}
	}
	for n, old := range before {
		if _, ok := after[n]; !ok {
			out = append(out, fmt.Sprintf("%s: %q → (none)", n, old))
		}
	}
	sort.Strings(out)
	return out
}

// MaxEditBytes caps the text of an edited step: a step is a few lines,
// and the diff recorded on the timeline must stay small.
const MaxEditBytes = 64 << 10

// edit replaces a step's text, re-classifies it, and returns the timeline
// entry that records the diff and the editor.
func (e *Engine) edit(s *run.Step, text, actor string, now time.Time) (*incident.TimelineEntry, error) {
	if len(text) > MaxEditBytes {
		return nil, invalid("text: the edit is %d bytes; a step may be at most %d bytes", len(text), MaxEditBytes)
	}
	st, err := playbook.StepFromText(s.Language, text)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if st.Executor != s.Executor && !(st.Executor == playbook.ExecShell && s.Executor == playbook.ExecKube) && !(st.Executor == playbook.ExecKube && s.Executor == playbook.ExecShell) {
		return nil, invalid("text: the edit turns a %s step into a %s step", s.Executor, st.Executor)
	}
	parsed, err := st.MarshalStored()
	if err != nil {
		return nil, fmt.Errorf("keep edited step %d: %w", s.ID, err)
	}
	old := s.Text
	oldRisk := s.Risk
	// The text as parsed is what is approved and what runs.
	text = st.SQL + st.Script
	s.Text, s.Parsed, s.Edited, s.Executor, s.Risk = text, parsed, true, st.Executor, st.Risk
	s.NeedsEditing = ""
	if st.NeedsEditing {
		s.NeedsEditing = st.EditReason
	}
	prev := map[string]run.Param{}
	for _, p := range s.Params {
		prev[p.Name] = p
	}
	s.Params = nil
	for _, p := range st.Params {
		np := run.Param{Name: p.Name, Type: p.Type, Sources: p.Sources, Interpreted: p.Interpreted}
		if o, ok := prev[p.Name]; ok {
			np.Choices = o.Choices
			// A value an alert gave may not move into text that another
			// interpreter parses.
			if !np.Interpreted || run.FromPerson(o.From) {
				np.Value, np.From = o.Value, o.From
			}
		}
		s.Params = append(s.Params, np)
	}
	if need, _ := run.NeedsApproval(s); need && s.Status != run.StatusAwaitingApproval {
		s.Status, s.Queued, s.Approvals = run.StatusAwaitingApproval, false, nil
		s.Approvers = max(s.Approvers, s.ApproversRule, 1)
		s.ExpiresAt = now.Add(e.cfg.ApprovalTTL)
	}
	msg := fmt.Sprintf("%s edited %s (re-classified %s %s → %s)", actor, s.Name, s.Executor, oldRisk, s.Risk)
	return &incident.TimelineEntry{IncidentID: s.IncidentID, At: now, Actor: actor, Kind: "step.edited", Message: msg,
		Data: mustJSON(map[string]any{"step_id": s.ID, "diff": Diff(old, text), "risk_before": oldRisk, "risk_after": s.Risk})}, nil
}

// fill sets parameter values given by a person, checking their types.
func fill(s *run.Step, params map[string]string, actor string) error {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := params[n]
		found := false
		for i := range s.Params {
			p := &s.Params[i]
			if p.Name != n {
				continue
			}
			found = true
			pp := playbook.Param{Name: p.Name, Type: p.Type}
			if err := pp.Validate(v); err != nil {
				return invalid("params.%s: %v", n, err)
			}
			val := v
			p.Value, p.From = &val, actor
		}
		if !found {
			var known []string
			for _, p := range s.Params {
				known = append(known, p.Name)
			}
			return invalid("params.%s: step %d has no such parameter (it has: %s)", n, s.ID, strings.Join(known, ", "))
		}
	}
	if miss := missingParams(s.Params); len(miss) == 0 && s.Status == run.StatusNeedsInput && s.NeedsEditing == "" {
		s.Reason = ""
	}
	return nil
}

func approvalEntry(s *run.Step, now time.Time, actor string, kind incident.EventKind, msg string) *incident.TimelineEntry {
	params := map[string]string{}
	for _, p := range s.Params {
		if p.Value != nil {
			params[p.Name] = *p.Value
		}
	}
	return &incident.TimelineEntry{IncidentID: s.IncidentID, At: now, Actor: actor, Kind: kind, Message: msg,
		Data: mustJSON(map[string]any{"step_id": s.ID, "task": s.TaskKey, "text": s.Text, "params": params, "target": s.Target, "status": s.Status})}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("run: marshal timeline data: %v", err))
	}
	return b
}

// Diff is a line diff of two texts: "-" lines removed, "+" lines added,
// "  " lines kept. It takes linear space (go-udiff's bounded LCS), and
// callers cap the texts (MaxEditBytes) before asking.
func Diff(a, b string) string {
	withNL := func(s string) string { return strings.TrimSuffix(s, "\n") + "\n" }
	a, b = withNL(a), withNL(b)
	var out []string
	if a == b {
		for _, l := range strings.Split(strings.TrimSuffix(a, "\n"), "\n") {
			out = append(out, "  "+l)
		}
		return strings.Join(out, "\n")
	}
	// Context as long as both texts: one hunk holding every line.
	ctxLines := strings.Count(a, "\n") + strings.Count(b, "\n")
	u, err := udiff.ToUnifiedDiff("before", "after", a, udiff.Lines(a, b), ctxLines)
	if err != nil {
		return "- " + strings.ReplaceAll(strings.TrimSuffix(a, "\n"), "\n", "\n- ") + "\n+ " + strings.ReplaceAll(strings.TrimSuffix(b, "\n"), "\n", "\n+ ")
	}
	for _, h := range u.Hunks {
		for _, l := range h.Lines {
			prefix := "  "
			switch l.Kind {
			case udiff.Delete:
				prefix = "- "
			case udiff.Insert:
				prefix = "+ "
			}
			out = append(out, prefix+strings.TrimSuffix(l.Content, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// Preview renders a step for an approver.
func (e *Engine) Preview(s *run.Step) *Preview { return e.cfg.Exec.Preview(s) }

// Store returns the engine's store, for reads.
func (e *Engine) Store() store.Store { return e.cfg.Store }
