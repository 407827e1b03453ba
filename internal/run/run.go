// Package run turns a matched playbook procedure into a run: one step per
// task, in document order. Read steps run at once; write steps wait for a
// named approver; checklist and manual tasks wait for a person to tick
// them. Each step row is its own durable job: claiming it is a
// conditional update from pending to running, so no step runs twice, on
// one instance or many.
package run

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Status of a step.
type Status string

const (
	StatusPending          Status = "pending"
	StatusRunning          Status = "running"
	StatusSucceeded        Status = "succeeded"
	StatusFailed           Status = "failed"
	StatusAwaitingApproval Status = "awaiting_approval"
	StatusNeedsInput       Status = "needs_input"
	StatusInterrupted      Status = "interrupted"
	StatusCancelled        Status = "cancelled"
	StatusSkipped          Status = "skipped"
)

// Final reports whether a step in status s is finished for good.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusInterrupted, StatusCancelled, StatusSkipped:
		return true
	}
	return false
}

// Run is one execution of a procedure for an incident.
type Run struct {
	ID             int64     `json:"id"`
	IncidentID     int64     `json:"incident_id"`
	PlaybookID     string    `json:"playbook_id"`
	PlaybookHash   string    `json:"playbook_hash"`
	ProcedureKey   string    `json:"procedure_key"`
	ProcedureTitle string    `json:"procedure_title"`
	MatchReason    string    `json:"match_reason,omitempty"`
	TwoPerson      bool      `json:"two_person,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Step is one task of a run, with everything needed to run it again after
// a restart: the task's text as it will run, its parameters and state.
type Step struct {
	ID         int64    `json:"id"`
	RunID      int64    `json:"run_id"`
	IncidentID int64    `json:"incident_id"`
	Position   int      `json:"position"`
	TaskKey    string   `json:"task_key"`
	Section    string   `json:"section"`
	Name       string   `json:"name"`
	Kind       TaskKind `json:"kind"`
	Executor   Executor `json:"executor,omitempty"`
	Risk       Risk     `json:"risk,omitempty"`
	Status     Status   `json:"status"`
	// Reason says why the step is in its status: what input it needs, why
	// it was skipped or cancelled.
	Reason string `json:"reason,omitempty"`
	// Auto marks a step that runs without a person; Queued one a worker
	// may claim now.
	Auto   bool `json:"auto"`
	Queued bool `json:"-"`
	// Language and Text are the fenced block as it will run: the playbook's
	// text, or an approver's edit of it.
	Language string `json:"language,omitempty"`
	Text     string `json:"text,omitempty"`
	Edited   bool   `json:"edited,omitempty"`
	// Target names the SQL database or cluster; Namespace the Kubernetes
	// namespace when the step names one.
	Target    string `json:"target,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Params are the step's parameters with their values so far.
	Params       []Param    `json:"params,omitempty"`
	NeedsEditing string     `json:"needs_editing,omitempty"`
	Approvals    []Approval `json:"approvals,omitempty"`
	// Approvers is how many distinct people must approve the step as it
	// stands before it may run; 0 for a step that runs without approval (a
	// read step of the playbook's own text, or edited SQL that classifies
	// as read, which PostgreSQL's READ ONLY transaction holds to it).
	Approvers int `json:"approvers_needed,omitempty"`
	// ApproversRule is what the procedure asks of any step that needs
	// approval: 1, or 2 for a two-person procedure. An edit that makes a
	// step need approval sets Approvers to it.
	ApproversRule int           `json:"approvers_rule,omitempty"`
	ExpiresAt     time.Time     `json:"approval_expires_at,omitzero"`
	Attempts      int           `json:"attempts"`
	MaxAttempts   int           `json:"max_attempts"`
	Timeout       time.Duration `json:"-"` // "timeout" in JSON, as text such as "30s"

	Result     *Result   `json:"result,omitempty"`
	Error      string    `json:"error,omitempty"`
	Actor      string    `json:"actor,omitempty"` // who ticked, ran or last decided
	ClaimedBy  string    `json:"claimed_by,omitempty"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Proc records the process group a shell step runs in, so that
	// recovery after a crash can kill what is left of it.
	Proc *Proc `json:"proc,omitempty"`
	// Parsed is the step as the playbook parser left it, with where its
	// placeholders are (playbook.Step.MarshalStored): the step runs from it
	// without parsing Markdown, SQL or shell again. It is set when the run
	// is planned and when a person edits the text.
	Parsed []byte `json:"-"`
}

// Proc is where a shell step's processes run: enough to find and kill
// them after the server that started them died.
type Proc struct {
	// Host and BootID name the machine and its boot: a process group is
	// only meaningful there, and only until it reboots.
	Host   string `json:"host"`
	BootID string `json:"boot_id"`
	PGID   int    `json:"pgid"`
	// Dir is the step's private temp folder.
	Dir string `json:"dir"`
}

// Param is a step parameter and the value it has so far.
type Param struct {
	Name  string    `json:"name"`
	Type  ParamType `json:"type"`
	Value *string   `json:"value,omitempty"`
	// From says where the value came from: label:pod, annotation:x,
	// step:immediate-actions/1.pid, or a person's name.
	From string `json:"from,omitempty"`
	// Sources are where a value may come from, as the playbook says.
	Sources []Source `json:"sources,omitempty"`
	// Choices are values offered from an earlier step's output column.
	Choices []string `json:"choices,omitempty"`
	// Interpreted marks a parameter whose placeholder sits in text another
	// interpreter parses (sh -c, ssh, eval, psql -c): its value becomes
	// code, so it is taken only from a person, never from an alert.
	Interpreted bool `json:"interpreted,omitempty"`
}

// Approval is one approver's decision. It binds to exactly what the
// approver saw: Digest is the step's RequestDigest at that moment, and the
// step runs only while its digest is still the same.
type Approval struct {
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Digest string    `json:"digest"`
}

// Result is what a step produced.
type Result struct {
	// SQL steps: a table.
	Columns      []string `json:"columns,omitempty"`
	Rows         [][]any  `json:"rows,omitempty"`
	RowsAffected int64    `json:"rows_affected,omitempty"`
	Command      string   `json:"command,omitempty"`
	// Shell and kube steps: text.
	Output   string `json:"output,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	// Truncated marks output cut at the row or byte cap.
	Truncated bool `json:"truncated,omitempty"`
	// Before and After record what a write changed, e.g. "replicas: 3"
	// and "replicas: 5"; Undo offers the way back.
	Before   string `json:"before,omitempty"`
	After    string `json:"after,omitempty"`
	Undo     string `json:"undo,omitempty"`
	Duration string `json:"duration"`
}

// Tx is what runs need of a storage transaction.
type Tx interface {
	incident.Tx
	InsertRun(ctx context.Context, r *Run) error
	InsertSteps(ctx context.Context, steps []*Step) error
	// LockStep loads and locks one step.
	LockStep(ctx context.Context, id int64) (*Step, error)
	UpdateSteps(ctx context.Context, steps []*Step) error
	// OpenSteps loads and locks an incident's steps that wait: neither
	// final nor running. (Running steps are their workers' to lock.)
	OpenSteps(ctx context.Context, incidentID int64) ([]*Step, error)
	// ClaimStep marks step id running for instance and returns it, when it
	// is pending and queued; else it returns nil. Two instances never claim
	// the same step.
	ClaimStep(ctx context.Context, id int64, instance string, now, leaseUntil time.Time) (*Step, error)
	// QueuedSteps returns pending, queued steps, earliest position first.
	QueuedSteps(ctx context.Context, limit int) ([]*Step, error)
	// ExtendLease pushes the lease of a step this instance runs.
	ExtendLease(ctx context.Context, id int64, instance string, until time.Time) error
	// StaleSteps returns running steps whose lease ran out, locked.
	StaleSteps(ctx context.Context, now time.Time, limit int) ([]*Step, error)
	// ExpiredApprovals returns steps awaiting approval past their expiry,
	// locked.
	ExpiredApprovals(ctx context.Context, now time.Time, limit int) ([]*Step, error)
	GetSetting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
}

// Reader reads runs outside a transaction.
type Reader interface {
	RunsOfIncident(ctx context.Context, incidentID int64) ([]Run, error)
	StepsOfIncident(ctx context.Context, incidentID int64) ([]Step, error)
	GetStep(ctx context.Context, id int64) (*Step, error)
	ReadSetting(ctx context.Context, key string) (string, error)
}

type plainStep Step

// MarshalJSON renders Timeout readably.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainStep
		Timeout string `json:"timeout"`
	}{plainStep(s), s.Timeout.String()})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Step) UnmarshalJSON(b []byte) error {
	aux := struct {
		*plainStep
		Timeout string `json:"timeout"`
	}{plainStep: (*plainStep)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if aux.Timeout != "" {
		d, err := time.ParseDuration(aux.Timeout)
		if err != nil {
			return fmt.Errorf("timeout: %w", err)
		}
		s.Timeout = d
	}
	return nil
}
