// Package store is Firebreak's storage seam. The sqlite and postgres
// packages implement it; storetest holds the conformance suite both pass.
package store

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// Store is a database that holds Firebreak's state.
type Store interface {
	// Engine names the implementation: "sqlite" or "postgres".
	Engine() string
	// Migrate brings the schema up to date. It is safe to run concurrently
	// from several instances.
	Migrate(ctx context.Context) error
	// InTx runs fn in a write transaction, retrying it when the database
	// reports a transient conflict. fn must not keep tx after it returns.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error

	GetIncident(ctx context.Context, id int64) (*incident.Incident, error)
	ListIncidents(ctx context.Context, p ListIncidentsParams) ([]incident.Incident, error)
	ListAlerts(ctx context.Context, p ListAlertsParams) ([]incident.Alert, error)
	ListTimeline(ctx context.Context, p ListTimelineParams) ([]incident.TimelineEntry, error)
	// CountTimeline counts the timeline entries of the given kinds of each
	// incident, for reports.
	CountTimeline(ctx context.Context, incidentIDs []int64, kinds []string) (map[int64]map[string]int, error)
	// CountOpenIncidents counts open incidents by status and severity, for
	// metrics and the console's counts.
	CountOpenIncidents(ctx context.Context) (map[incident.Status]map[incident.Severity]int, error)

	// TokenByHash finds a token by the SHA-256 digest of its secret.
	TokenByHash(ctx context.Context, hash []byte) (*auth.Token, error)
	ListTokens(ctx context.Context) ([]auth.Token, error)
	// HasAdmin reports whether any live admin token exists.
	HasAdmin(ctx context.Context) (bool, error)

	// SavePlaybookVersion stores a playbook text under its content hash; a
	// text already stored is left alone.
	SavePlaybookVersion(ctx context.Context, v PlaybookVersion) error
	GetPlaybookVersion(ctx context.Context, hash string) (*PlaybookVersion, error)
	// ListPlaybookVersions returns the versions of the playbook stored
	// under name, newest first, without their content.
	ListPlaybookVersions(ctx context.Context, name string, limit int) ([]PlaybookVersion, error)

	// Runs and steps, read outside a transaction.
	run.Reader

	// ListUsers returns every user, ordered by name.
	ListUsers(ctx context.Context) ([]auth.User, error)
	// UserByName finds a user; ENOTFOUND when there is none.
	UserByName(ctx context.Context, name string) (*auth.User, error)
	// SessionByHash finds a console session that has not expired at now.
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (*auth.Session, error)
	// ListAudit pages the audit log, newest first.
	ListAudit(ctx context.Context, p ListAuditParams) ([]auth.AuditEntry, error)

	ListCommunications(ctx context.Context, incidentID int64) ([]incident.Communication, error)
	GetCommunication(ctx context.Context, id int64) (*incident.Communication, error)
	// PhaseStates returns the phase state of each incident that has one.
	PhaseStates(ctx context.Context, incidentIDs []int64) (map[int64]*PhaseState, error)
	// ListReviews returns every version of an incident's review, oldest
	// first.
	ListReviews(ctx context.Context, incidentID int64) ([]Review, error)

	// WatchChanges calls changed with the IDs of the incidents that a
	// committed transaction touched (the incident, its alerts' counts, its
	// timeline or its steps), until ctx ends; it returns nil then. A nil
	// slice means "anything may have changed": it is sent once watching
	// starts, and on PostgreSQL after the LISTEN connection reconnects,
	// since notifications sent meanwhile are lost. On PostgreSQL a commit
	// on any instance is seen (NOTIFY); on SQLite, a commit in this process.
	WatchChanges(ctx context.Context, changed func(incidentIDs []int64)) error

	// WatchJobs calls wake once it watches, and then whenever another
	// transaction may have committed new jobs, until ctx ends; it returns
	// nil then. On PostgreSQL that is a NOTIFY from any instance, over a
	// LISTEN connection that reconnects (and wakes) after a failure; on
	// SQLite, a commit in this process.
	WatchJobs(ctx context.Context, wake func()) error
}

// Tx is a write transaction.
type Tx interface {
	incident.Tx
	run.Tx
	job.Tx
	CreateToken(ctx context.Context, t *auth.Token) error
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	AppendAudit(ctx context.Context, e *auth.AuditEntry) error

	// SaveUser inserts u, or updates the user of that name, and sets u.ID.
	SaveUser(ctx context.Context, u *auth.User) error
	// DeleteUser removes a user and its sessions; ENOTFOUND when there is
	// none.
	DeleteUser(ctx context.Context, name string) error
	CreateSession(ctx context.Context, s *auth.Session) error
	// DeleteSessions removes the session with the digest hash, or, with
	// hash nil, every session of user.
	DeleteSessions(ctx context.Context, hash []byte, user string) error

	// SaveCommunication inserts c (ID 0, and sets its ID) or updates it.
	SaveCommunication(ctx context.Context, c *incident.Communication) error
	// LockCommunication loads and locks one communication.
	LockCommunication(ctx context.Context, id int64) (*incident.Communication, error)
	// LockPhaseState loads and locks an incident's phase state, or returns
	// nil when it has none yet.
	LockPhaseState(ctx context.Context, incidentID int64) (*PhaseState, error)
	// SavePhaseState inserts or replaces an incident's phase state.
	SavePhaseState(ctx context.Context, s *PhaseState) error
	// AddReview stores a new version of an incident's review and sets its
	// Version (one more than the last).
	AddReview(ctx context.Context, r *Review) error
}

// PhaseState is an incident's phase clocks as the phase package encodes
// them, with when its recovery watch ends (zero: not under watch).
type PhaseState struct {
	IncidentID int64
	State      []byte
	WatchUntil time.Time
	UpdatedAt  time.Time
}

// Review is one version of an incident's post-incident review.
type Review struct {
	IncidentID int64     `json:"incident_id"`
	Version    int       `json:"version"`
	Status     string    `json:"status"`
	Markdown   string    `json:"markdown"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

// ListAuditParams pages the audit log, newest first.
type ListAuditParams struct {
	// BeforeID pages: only entries with a smaller ID. Zero means none.
	BeforeID int64
	Limit    int
}

// ListIncidentsParams filters and pages incidents, newest first.
type ListIncidentsParams struct {
	Status   []incident.Status
	Severity []incident.Severity
	Service  string
	// StartedFrom and StartedTo, when set, keep incidents that started in
	// [StartedFrom, StartedTo).
	StartedFrom, StartedTo time.Time
	// BeforeID pages: only incidents with a smaller ID. Zero means none.
	BeforeID int64
	Limit    int
}

// ListAlertsParams filters and pages an incident's alerts, oldest first.
type ListAlertsParams struct {
	IncidentID int64
	Status     incident.AlertStatus
	AfterID    int64
	Limit      int
}

// ListTimelineParams pages a timeline, oldest first.
type ListTimelineParams struct {
	IncidentID int64
	AfterID    int64
	Limit      int
}

// PlaybookVersion is the exact text of a playbook as it was loaded.
type PlaybookVersion struct {
	Hash     string    `json:"hash"`
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Content  []byte    `json:"-"`
	LoadedAt time.Time `json:"loaded_at"`
}
