// Package incident holds Firebreak's domain: alerts, incidents, their states,
// deduplication and grouping. It knows nothing of SQL or HTTP.
package incident

import (
	"time"
)

// Source names where an alert came from.
type Source string

const (
	SourceAlertmanager Source = "alertmanager"
	SourcePagerDuty    Source = "pagerduty"
	SourceGrafana      Source = "grafana"
	SourceGeneric      Source = "generic"
)

// Sources lists every intake source, in the order the docs present them.
var Sources = []Source{SourceAlertmanager, SourcePagerDuty, SourceGrafana, SourceGeneric}

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	for _, k := range Sources {
		if s == k {
			return true
		}
	}
	return false
}

// Severity of an alert or incident. The zero value is not a valid severity.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Rank orders severities: critical > warning > info.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Valid reports whether s is one of the three severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// Status of an incident.
type Status string

const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Valid reports whether s is a known incident status.
func (s Status) Valid() bool {
	return s == StatusTriggered || s == StatusAcknowledged || s == StatusResolved
}

// AlertStatus is what a source says of an alert.
type AlertStatus string

const (
	AlertFiring       AlertStatus = "firing"
	AlertResolved     AlertStatus = "resolved"
	AlertAcknowledged AlertStatus = "acknowledged" // PagerDuty's acknowledge event
)

// Link is a URL with a label, as PagerDuty and Alertmanager attach them.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Event is one alert as a source reported it, decoded and normalised but not
// yet stored. Decoders produce events; the engine turns them into alerts and
// incidents.
type Event struct {
	Source Source      `json:"source"`
	Status AlertStatus `json:"status"`
	// Key is the source's identity for the alert: Alertmanager's fingerprint,
	// PagerDuty's dedup_key, Grafana's fingerprint. When empty the identity
	// is a hash of the sorted labels. It is never derived from summary text.
	Key          string            `json:"key,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Severity     Severity          `json:"severity"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at,omitzero"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Links        []Link            `json:"links,omitempty"`
	// Details carries source-specific data worth keeping verbatim, such as
	// PagerDuty's custom_details or Grafana's values, as a JSON object.
	Details []byte `json:"details,omitempty"`
}

// Alert is a stored alert: one firing episode of one identity.
type Alert struct {
	ID           int64             `json:"id"`
	IncidentID   int64             `json:"incident_id"`
	Source       Source            `json:"source"`
	Fingerprint  string            `json:"fingerprint"`
	Status       AlertStatus       `json:"status"`
	Name         string            `json:"name"`
	Summary      string            `json:"summary,omitempty"`
	Severity     Severity          `json:"severity"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Links        []Link            `json:"links,omitempty"`
	Details      []byte            `json:"details,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at,omitzero"`
	// Count is how many times the alert was received, the first included.
	Count      int       `json:"count"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Incident groups alerts that share a group key while it is open.
type Incident struct {
	ID          int64             `json:"id"`
	Title       string            `json:"title"`
	Severity    Severity          `json:"severity"`
	Service     string            `json:"service,omitempty"`
	Status      Status            `json:"status"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	Responder   string            `json:"responder,omitempty"`
	Impact      string            `json:"impact,omitempty"`
	ETA         string            `json:"eta,omitempty"`
	// AlertCount is every alert the incident ever held; FiringCount those
	// still firing. Repeats counts receipts of alerts already firing.
	AlertCount  int `json:"alert_count"`
	FiringCount int `json:"firing_count"`
	Repeats     int `json:"repeats"`
	// AlertsLogged and RepeatsLogged are how many of each the timeline
	// already tells of.
	AlertsLogged   int       `json:"-"`
	RepeatsLogged  int       `json:"-"`
	StartedAt      time.Time `json:"started_at"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Open reports whether the incident is not resolved.
func (i *Incident) Open() bool { return i.Status != StatusResolved }

// EventKind names a timeline entry.
type EventKind string

const (
	KindOpened       EventKind = "incident.opened"
	KindAlertAdded   EventKind = "alert.added"
	KindAlertResolve EventKind = "alert.resolved"
	KindRepeats      EventKind = "alert.repeated"
	KindAcknowledged EventKind = "incident.acknowledged"
	KindResolved     EventKind = "incident.resolved"
	KindReopened     EventKind = "incident.reopened"
	KindAssigned     EventKind = "incident.assigned"
	KindUpdated      EventKind = "incident.updated"
	KindSeverity     EventKind = "incident.severity"
	KindNote         EventKind = "note"
	KindEscalated    EventKind = "incident.escalate_requested"
)

// TimelineEntry is one append-only record of what happened to an incident.
type TimelineEntry struct {
	ID         int64     `json:"id"`
	IncidentID int64     `json:"incident_id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Kind       EventKind `json:"kind"`
	Message    string    `json:"message"`
	// Data is a JSON object with the entry's details, or nil.
	Data []byte `json:"data,omitempty"`
}

// Actor names used for things Firebreak does by itself.
const (
	ActorSystem = "firebreak"
)

// CommStatus is where a customer communication stands.
type CommStatus string

const (
	CommDraft  CommStatus = "draft"
	CommQueued CommStatus = "queued"
	CommSent   CommStatus = "sent"
	CommFailed CommStatus = "failed"
)

// Communication is a message to customers about an incident. Firebreak
// drafts it from the playbook's customer template; only a person sends it.
type Communication struct {
	ID         int64      `json:"id"`
	IncidentID int64      `json:"incident_id"`
	Status     CommStatus `json:"status"`
	// Channel is where it was sent, once a person chose.
	Channel   string    `json:"channel,omitempty"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	SentBy    string    `json:"sent_by,omitempty"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	Error     string    `json:"error,omitempty"`
}
