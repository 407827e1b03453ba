package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Tx is what the engine needs of a storage transaction. Methods that return
// incidents lock them for the rest of the transaction where the engine
// supports row locks, so concurrent instances never lose an update.
type Tx interface {
	// FiringAlerts returns the firing alert of each fingerprint that has one.
	FiringAlerts(ctx context.Context, fingerprints []string) (map[string]*Alert, error)
	// IncidentsByID loads and locks incidents.
	IncidentsByID(ctx context.Context, ids []int64) (map[int64]*Incident, error)
	// OpenIncidentsByGroup loads and locks the open incident of each group key
	// that has one.
	OpenIncidentsByGroup(ctx context.Context, groupKeys []string) (map[string]*Incident, error)
	// CreateIncident inserts inc and sets its ID. When another transaction
	// opened an incident for the same group key first, it loads that one
	// into inc instead and reports created=false.
	CreateIncident(ctx context.Context, inc *Incident) (created bool, err error)
	// UpdateIncidents writes the mutable fields of each incident.
	UpdateIncidents(ctx context.Context, incs []*Incident) error
	// InsertAlerts inserts alerts and sets their IDs.
	InsertAlerts(ctx context.Context, alerts []*Alert) error
	// UpdateAlerts writes the mutable fields of each alert.
	UpdateAlerts(ctx context.Context, alerts []*Alert) error
	// ResolveFiringAlerts marks every firing alert of an incident resolved.
	ResolveFiringAlerts(ctx context.Context, incidentID int64, at time.Time) (int, error)
	// AppendTimeline appends entries and sets their IDs.
	AppendTimeline(ctx context.Context, entries []*TimelineEntry) error
	// WatchedByGroup returns, for each group key that has one, the resolved
	// incident of that group whose recovery watch lasts past now, locked:
	// an alert of the group that fires again reopens it.
	WatchedByGroup(ctx context.Context, groupKeys []string, now time.Time) (map[string]*Incident, error)
	// IncidentsWithPendingSummaries returns up to limit incidents whose
	// joined alerts or repeats are not yet summarised on their timeline,
	// locked.
	IncidentsWithPendingSummaries(ctx context.Context, limit int) ([]*Incident, error)
}

// Outcome says what an event did.
type Outcome string

const (
	OutcomeOpened       Outcome = "opened"       // opened a new incident
	OutcomeGrouped      Outcome = "grouped"      // a new alert joined an open incident
	OutcomeRepeat       Outcome = "repeat"       // a repeat of a firing alert
	OutcomeResolved     Outcome = "resolved"     // resolved a firing alert
	OutcomeAcknowledged Outcome = "acknowledged" // acknowledged the alert's incident
	OutcomeIgnored      Outcome = "ignored"      // resolve or acknowledge of no firing alert
	OutcomeReopened     Outcome = "reopened"     // re-fired inside a resolved incident's recovery watch
)

// Result is what happened to one event.
type Result struct {
	Fingerprint string  `json:"fingerprint"`
	IncidentID  int64   `json:"incident_id,omitempty"`
	Outcome     Outcome `json:"outcome"`
}

// Options steer Apply.
type Options struct {
	Grouping Grouping
	// AutoResolve resolves an incident once all its alerts are resolved.
	AutoResolve bool
	Now         time.Time
}

// Apply turns events into alerts and incidents inside tx. Events are applied
// in order, so a batch may fire and resolve the same alert. It returns one
// result per event, and the incidents it opened.
func Apply(ctx context.Context, tx Tx, events []Event, opt Options) ([]Result, []*Incident, error) {
	b, err := ApplyBatch(ctx, tx, events, opt)
	if err != nil {
		return nil, nil, err
	}
	return b.Results, b.Opened, nil
}

// Batch is what ApplyBatch did.
type Batch struct {
	Results []Result
	// Opened are the incidents the batch opened; Resolved the IDs of those
	// it resolved automatically; Reopened those an alert brought back while
	// they were under recovery watch.
	Opened   []*Incident
	Resolved []int64
	Reopened []*Incident
}

// ApplyBatch is Apply, telling also which incidents the batch resolved.
func ApplyBatch(ctx context.Context, tx Tx, events []Event, opt Options) (*Batch, error) {
	a := applier{tx: tx, opt: opt, now: opt.Now.UTC()}
	res, opened, err := a.apply(ctx, events)
	if err != nil {
		return nil, err
	}
	return &Batch{Results: res, Opened: opened, Resolved: a.resolved, Reopened: a.reopened}, nil
}

type applier struct {
	tx  Tx
	opt Options
	now time.Time

	firing    map[string]*Alert
	incidents map[int64]*Incident
	byGroup   map[string]*Incident
	// closedGroups holds incidents this batch auto-resolved, by group key.
	closedGroups map[string]*Incident
	// watched holds resolved incidents under recovery watch, by group key,
	// for groups with no open incident: a firing alert reopens them.
	watched  map[string]*Incident
	reopened []*Incident

	newAlerts   []*Alert
	dirtyAlerts map[*Alert]bool // existing alerts changed by this batch
	dirtyIncs   map[int64]bool
	opened      []*Incident
	resolved    []int64
	notes       map[int64]*batchNotes
}

// batchNotes collects what a batch did to one incident, so the timeline gets
// one summarising entry per kind instead of one per alert.
type batchNotes struct {
	resolved    []string
	acked       string
	severityWas Severity
	resolve     bool
	// reopenedAfter is how long after it resolved the incident re-fired,
	// when this batch reopened it.
	reopenedAfter time.Duration
	reopened      bool
}

func (a *applier) apply(ctx context.Context, events []Event) ([]Result, []*Incident, error) {
	fps := make([]string, len(events))
	for i := range events {
		fps[i] = Fingerprint(&events[i])
	}
	var err error
	a.firing, err = a.tx.FiringAlerts(ctx, uniqueStrings(fps))
	if err != nil {
		return nil, nil, fmt.Errorf("load firing alerts: %w", err)
	}
	ids := make([]int64, 0, len(a.firing))
	for _, al := range a.firing {
		ids = append(ids, al.IncidentID)
	}
	a.incidents, err = a.tx.IncidentsByID(ctx, uniqueInts(ids))
	if err != nil {
		return nil, nil, fmt.Errorf("load incidents: %w", err)
	}
	groupKeys := make([]string, len(events))
	var wanted []string
	for i := range events {
		if events[i].Status == AlertFiring && a.firing[fps[i]] == nil {
			groupKeys[i], _ = a.opt.Grouping.Key(&events[i], fps[i])
			wanted = append(wanted, groupKeys[i])
		}
	}
	a.byGroup, err = a.tx.OpenIncidentsByGroup(ctx, uniqueStrings(wanted))
	if err != nil {
		return nil, nil, fmt.Errorf("load open incidents: %w", err)
	}
	for _, inc := range a.byGroup {
		if cur, ok := a.incidents[inc.ID]; ok {
			a.byGroup[inc.GroupKey] = cur
		} else {
			a.incidents[inc.ID] = inc
		}
	}
	var unopened []string
	for _, k := range uniqueStrings(wanted) {
		if a.byGroup[k] == nil {
			unopened = append(unopened, k)
		}
	}
	a.watched, err = a.tx.WatchedByGroup(ctx, unopened, a.now)
	if err != nil {
		return nil, nil, fmt.Errorf("load incidents under recovery watch: %w", err)
	}
	a.dirtyAlerts = make(map[*Alert]bool)
	a.closedGroups = make(map[string]*Incident)
	a.dirtyIncs = make(map[int64]bool)
	a.notes = make(map[int64]*batchNotes)

	results := make([]Result, len(events))
	for i := range events {
		r, err := a.event(ctx, &events[i], fps[i], groupKeys[i])
		if err != nil {
			return nil, nil, err
		}
		results[i] = r
	}
	if err := a.flush(ctx); err != nil {
		return nil, nil, err
	}
	return results, a.opened, nil
}

func (a *applier) note(id int64) *batchNotes {
	n := a.notes[id]
	if n == nil {
		n = &batchNotes{}
		a.notes[id] = n
	}
	return n
}

func (a *applier) event(ctx context.Context, e *Event, fp, groupKey string) (Result, error) {
	res := Result{Fingerprint: fp}
	al := a.firing[fp]
	switch e.Status {
	case AlertFiring:
		if al != nil {
			inc := a.incidents[al.IncidentID]
			al.Count++
			al.LastSeenAt = a.now
			refreshAlert(al, e)
			a.touchAlert(al)
			if inc != nil {
				inc.Repeats++
				a.raiseSeverity(inc, al.Severity)
				a.dirtyIncs[inc.ID] = true
			}
			res.IncidentID, res.Outcome = al.IncidentID, OutcomeRepeat
			return res, nil
		}
		inc := a.byGroup[groupKey]
		res.Outcome = OutcomeGrouped
		if inc == nil && a.watched[groupKey] != nil {
			inc = a.reopen(a.watched[groupKey])
			res.Outcome = OutcomeReopened
		}
		if inc == nil {
			var err error
			inc, err = a.open(ctx, e, fp, groupKey)
			if err != nil {
				return res, err
			}
			res.Outcome = OutcomeOpened
		}
		al = newAlert(e, fp, inc.ID, a.now)
		a.newAlerts = append(a.newAlerts, al)
		a.firing[fp] = al
		inc.AlertCount++
		inc.FiringCount++
		a.raiseSeverity(inc, al.Severity)
		a.dirtyIncs[inc.ID] = true
		res.IncidentID = inc.ID
		return res, nil

	case AlertResolved:
		if al == nil {
			res.Outcome = OutcomeIgnored
			return res, nil
		}
		al.Status = AlertResolved
		al.ResolvedAt = a.now
		al.LastSeenAt = a.now
		al.EndsAt = e.EndsAt
		if al.EndsAt.IsZero() {
			al.EndsAt = a.now
		}
		a.touchAlert(al)
		delete(a.firing, fp)
		if inc := a.incidents[al.IncidentID]; inc != nil {
			if inc.FiringCount > 0 {
				inc.FiringCount--
			}
			a.dirtyIncs[inc.ID] = true
			n := a.note(inc.ID)
			n.resolved = append(n.resolved, al.Name)
			if inc.FiringCount == 0 && a.opt.AutoResolve && inc.Open() {
				// Resolve at once, so a refire later in this batch opens a
				// new incident, as it would in the next batch.
				inc.Status = StatusResolved
				inc.ResolvedAt = a.now
				n.resolve = true
				a.resolved = append(a.resolved, inc.ID)
				if a.byGroup[inc.GroupKey] == inc {
					delete(a.byGroup, inc.GroupKey)
					a.closedGroups[inc.GroupKey] = inc
				}
			}
		}
		res.IncidentID, res.Outcome = al.IncidentID, OutcomeResolved
		return res, nil

	case AlertAcknowledged:
		if al == nil {
			res.Outcome = OutcomeIgnored
			return res, nil
		}
		res.IncidentID, res.Outcome = al.IncidentID, OutcomeAcknowledged
		if inc := a.incidents[al.IncidentID]; inc != nil && inc.Status == StatusTriggered {
			inc.Status = StatusAcknowledged
			inc.AcknowledgedAt = a.now
			a.dirtyIncs[inc.ID] = true
			a.note(inc.ID).acked = string(e.Source)
		}
		return res, nil
	}
	return res, Errorf(EINVALID, "status: %q is not firing, resolved or acknowledged", e.Status)
}

func (a *applier) touchAlert(al *Alert) {
	if al.ID != 0 {
		a.dirtyAlerts[al] = true
	}
}

func (a *applier) raiseSeverity(inc *Incident, s Severity) {
	if s.Rank() > inc.Severity.Rank() {
		n := a.note(inc.ID)
		if n.severityWas == "" {
			n.severityWas = inc.Severity
		}
		inc.Severity = s
	}
}

// reopen brings back a resolved incident under recovery watch: the fix did
// not hold, and the alert joins the incident it belongs to instead of
// opening a new one.
func (a *applier) reopen(inc *Incident) *Incident {
	delete(a.watched, inc.GroupKey)
	if cur, ok := a.incidents[inc.ID]; ok {
		inc = cur
	} else {
		a.incidents[inc.ID] = inc
	}
	n := a.note(inc.ID)
	n.reopened, n.reopenedAfter = true, a.now.Sub(inc.ResolvedAt)
	inc.Status = StatusTriggered
	inc.ResolvedAt, inc.AcknowledgedAt = time.Time{}, time.Time{}
	a.byGroup[inc.GroupKey] = inc
	a.dirtyIncs[inc.ID] = true
	a.reopened = append(a.reopened, inc)
	return inc
}

func (a *applier) open(ctx context.Context, e *Event, fp, groupKey string) (*Incident, error) {
	if prev := a.closedGroups[groupKey]; prev != nil {
		// This batch resolved the group's incident; store that before the
		// new one takes the group.
		if err := a.tx.UpdateIncidents(ctx, []*Incident{prev}); err != nil {
			return nil, fmt.Errorf("resolve incident %d: %w", prev.ID, err)
		}
		delete(a.closedGroups, groupKey)
	}
	_, groupLabels := a.opt.Grouping.Key(e, fp)
	inc := &Incident{
		Title:       Title(e),
		Severity:    e.Severity,
		Service:     ServiceOf(e),
		Status:      StatusTriggered,
		GroupKey:    groupKey,
		GroupLabels: groupLabels,
		StartedAt:   a.now,
		UpdatedAt:   a.now,
	}
	if !inc.Severity.Valid() {
		inc.Severity = SeverityWarning
	}
	created, err := a.tx.CreateIncident(ctx, inc)
	if err != nil {
		return nil, fmt.Errorf("open incident for %s: %w", groupKey, err)
	}
	if cur, ok := a.incidents[inc.ID]; ok {
		inc = cur
	} else {
		a.incidents[inc.ID] = inc
	}
	a.byGroup[groupKey] = inc
	if created {
		a.opened = append(a.opened, inc)
	}
	return inc, nil
}

// Title is how an incident opened by e is named: the alert name, and its
// summary when that says more.
func Title(e *Event) string {
	name := AlertName(e)
	switch {
	case name == "":
		return "Untitled alert"
	case e.Summary != "" && e.Summary != name:
		return truncate(name+": "+e.Summary, 300)
	}
	return truncate(name, 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func newAlert(e *Event, fp string, incidentID int64, now time.Time) *Alert {
	al := &Alert{
		IncidentID:   incidentID,
		Source:       e.Source,
		Fingerprint:  fp,
		Status:       AlertFiring,
		Name:         AlertName(e),
		Count:        1,
		LastSeenAt:   now,
		StartsAt:     e.StartsAt,
		GeneratorURL: e.GeneratorURL,
	}
	if al.StartsAt.IsZero() {
		al.StartsAt = now
	}
	refreshAlert(al, e)
	return al
}

// refreshAlert copies what a repeat may change: annotations, summary,
// severity, links and details.
func refreshAlert(al *Alert, e *Event) {
	al.Labels = e.Labels
	al.Annotations = e.Annotations
	al.Summary = e.Summary
	al.Severity = e.Severity
	if !al.Severity.Valid() {
		al.Severity = SeverityWarning
	}
	al.Links = e.Links
	al.Details = e.Details
	if e.GeneratorURL != "" {
		al.GeneratorURL = e.GeneratorURL
	}
	if !e.EndsAt.IsZero() {
		al.EndsAt = e.EndsAt
	}
}

func (a *applier) flush(ctx context.Context) error {
	// Updates first: an alert this batch resolved must leave the firing
	// index before a new episode of its fingerprint is inserted.
	if len(a.dirtyAlerts) > 0 {
		alerts := make([]*Alert, 0, len(a.dirtyAlerts))
		for al := range a.dirtyAlerts {
			alerts = append(alerts, al)
		}
		sort.Slice(alerts, func(i, j int) bool { return alerts[i].ID < alerts[j].ID })
		if err := a.tx.UpdateAlerts(ctx, alerts); err != nil {
			return fmt.Errorf("update %d alerts: %w", len(alerts), err)
		}
	}
	if len(a.newAlerts) > 0 {
		if err := a.tx.InsertAlerts(ctx, a.newAlerts); err != nil {
			return fmt.Errorf("insert %d alerts: %w", len(a.newAlerts), err)
		}
	}
	ids := make([]int64, 0, len(a.dirtyIncs))
	for id := range a.dirtyIncs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	var entries []*TimelineEntry
	incs := make([]*Incident, 0, len(ids))
	for _, id := range ids {
		inc := a.incidents[id]
		inc.UpdatedAt = a.now
		n := a.notes[id]
		entries = append(entries, a.timeline(inc, n)...)
		incs = append(incs, inc)
	}
	if err := a.tx.UpdateIncidents(ctx, incs); err != nil {
		return fmt.Errorf("update %d incidents: %w", len(incs), err)
	}
	if len(entries) > 0 {
		if err := a.tx.AppendTimeline(ctx, entries); err != nil {
			return fmt.Errorf("append timeline: %w", err)
		}
	}
	return nil
}

// timeline builds one batch's entries for an incident. Joined alerts and
// repeats are not written one by one: they are summarised ("+37 repeats")
// before the incident's next entry, or by FlushSummaries.
func (a *applier) timeline(inc *Incident, n *batchNotes) []*TimelineEntry {
	isNew := false
	for _, o := range a.opened {
		if o.ID == inc.ID {
			isNew = true
		}
	}
	if n == nil && !isNew {
		return nil
	}
	if n == nil {
		n = &batchNotes{}
	}
	var out []*TimelineEntry
	add := func(kind EventKind, actor, msg string, data any) {
		out = append(out, &TimelineEntry{IncidentID: inc.ID, At: a.now, Actor: actor, Kind: kind, Message: msg, Data: mustJSON(data)})
	}
	if isNew {
		msg := fmt.Sprintf("Incident opened: %s (%s)", inc.Title, inc.Severity)
		if inc.AlertCount > 1 {
			msg += fmt.Sprintf(", %d alerts", inc.AlertCount)
		}
		add(KindOpened, ActorSystem, msg, map[string]any{"severity": inc.Severity, "group_labels": inc.GroupLabels, "alerts": inc.AlertCount})
		inc.AlertsLogged, inc.RepeatsLogged = inc.AlertCount, inc.Repeats
	} else {
		out = append(out, PendingSummaries(inc, a.now)...)
	}
	if n.reopened {
		add(KindReopened, ActorSystem, fmt.Sprintf("Reopened: an alert of this incident fired again %s after it resolved, during its recovery watch",
			n.reopenedAfter.Round(time.Second)), map[string]any{"after_seconds": int64(n.reopenedAfter / time.Second), "recovery_watch": true})
	}
	if n.severityWas != "" && !isNew {
		add(KindSeverity, ActorSystem, fmt.Sprintf("Severity raised from %s to %s", n.severityWas, inc.Severity),
			map[string]any{"from": n.severityWas, "to": inc.Severity})
	}
	if len(n.resolved) > 0 {
		add(KindAlertResolve, ActorSystem, countMsg(n.resolved, "alert resolved", "alerts resolved"),
			map[string]any{"count": len(n.resolved), "firing": inc.FiringCount})
	}
	if n.acked != "" {
		add(KindAcknowledged, n.acked, "Acknowledged by "+n.acked, nil)
	}
	if n.resolve {
		add(KindResolved, ActorSystem, "Resolved automatically: all alerts resolved", map[string]any{"auto": true})
	}
	return out
}

// PendingSummaries returns "+N alerts joined" and "+N repeats" entries for
// what is not yet on the timeline, and marks it logged.
func PendingSummaries(inc *Incident, now time.Time) []*TimelineEntry {
	var out []*TimelineEntry
	if n := inc.AlertCount - inc.AlertsLogged; n > 0 {
		inc.AlertsLogged = inc.AlertCount
		out = append(out, &TimelineEntry{
			IncidentID: inc.ID, At: now, Actor: ActorSystem, Kind: KindAlertAdded,
			Message: fmt.Sprintf("+%d %s joined", n, plural(n, "alert", "alerts")),
			Data:    mustJSON(map[string]int{"count": n, "total": inc.AlertCount}),
		})
	}
	if n := inc.Repeats - inc.RepeatsLogged; n > 0 {
		inc.RepeatsLogged = inc.Repeats
		out = append(out, &TimelineEntry{
			IncidentID: inc.ID, At: now, Actor: ActorSystem, Kind: KindRepeats,
			Message: fmt.Sprintf("+%d %s", n, plural(n, "repeat", "repeats")),
			Data:    mustJSON(map[string]int{"count": n, "total": inc.Repeats}),
		})
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// FlushSummaries writes pending summaries of up to limit incidents and
// returns how many incidents it summarised.
func FlushSummaries(ctx context.Context, tx Tx, now time.Time, limit int) (int, error) {
	incs, err := tx.IncidentsWithPendingSummaries(ctx, limit)
	if err != nil || len(incs) == 0 {
		return 0, err
	}
	var entries []*TimelineEntry
	for _, inc := range incs {
		entries = append(entries, PendingSummaries(inc, now)...)
	}
	if err := tx.UpdateIncidents(ctx, incs); err != nil {
		return 0, err
	}
	return len(incs), tx.AppendTimeline(ctx, entries)
}

func countMsg(names []string, one, many string) string {
	if len(names) == 1 {
		return "1 " + one + ": " + names[0]
	}
	uniq := uniqueStrings(names)
	sort.Strings(uniq)
	if len(uniq) > 5 {
		uniq = append(uniq[:5], "…")
	}
	return fmt.Sprintf("%d %s: %s", len(names), many, strings.Join(uniq, ", "))
}

func mustJSON(v any) []byte {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("incident: marshal timeline data: %v", err)) // only our own maps get here
	}
	return b
}

func uniqueStrings(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

func uniqueInts(in []int64) []int64 {
	seen := make(map[int64]struct{}, len(in))
	out := make([]int64, 0, len(in))
	for _, s := range in {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
