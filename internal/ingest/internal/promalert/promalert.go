// Package promalert decodes the alert shape that Alertmanager's webhook
// defined and Grafana's webhook reuses: a group notification whose alerts
// carry labels, annotations, startsAt/endsAt, generatorURL and fingerprint.
package promalert

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// MaxKeyLen is the longest fingerprint kept as it is.
const MaxKeyLen = 255

// Group is the notification envelope both sources send.
type Group struct {
	Version           string
	GroupKey          string
	TruncatedAlerts   uint64
	Status            string
	Receiver          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	Alerts            []wire.Obj
}

// DecodeGroup decodes the envelope and checks that alerts is a non-empty
// array of objects; the alerts themselves are decoded by DecodeAlert.
func DecodeGroup(o wire.Obj) (Group, error) {
	var g Group
	var err error
	if g.Version, err = o.Get("version").String(); err != nil {
		return g, err
	}
	if g.GroupKey, err = o.Get("groupKey").String(); err != nil {
		return g, err
	}
	if g.TruncatedAlerts, err = o.Get("truncatedAlerts").Uint(); err != nil {
		return g, err
	}
	if g.Status, err = status(o.Get("status")); err != nil {
		return g, err
	}
	if g.Receiver, err = o.Get("receiver").String(); err != nil {
		return g, err
	}
	if g.GroupLabels, err = o.Get("groupLabels").StringMap(); err != nil {
		return g, err
	}
	if g.CommonLabels, err = o.Get("commonLabels").StringMap(); err != nil {
		return g, err
	}
	if g.CommonAnnotations, err = o.Get("commonAnnotations").StringMap(); err != nil {
		return g, err
	}
	if g.ExternalURL, err = o.Get("externalURL").String(); err != nil {
		return g, err
	}
	av := o.Get("alerts")
	if av.Missing() {
		return g, wire.Errorf(av.Path, "is required")
	}
	alerts, err := av.Array()
	if err != nil {
		return g, err
	}
	if len(alerts) == 0 {
		return g, wire.Errorf(av.Path, "must not be empty")
	}
	g.Alerts = make([]wire.Obj, len(alerts))
	for i, a := range alerts {
		ao, ok, err := a.Object()
		if err != nil {
			return g, err
		}
		if !ok {
			return g, wire.Errorf(a.Path, "must be an object, got null")
		}
		g.Alerts[i] = ao
	}
	return g, nil
}

func status(v wire.Value) (string, error) {
	s, err := v.String()
	if err != nil {
		return "", err
	}
	switch s {
	case "", string(incident.AlertFiring), string(incident.AlertResolved):
		return s, nil
	}
	return "", wire.Errorf(v.Path, `must be "firing" or "resolved", got %s`, wire.Quote(s))
}

// DecodeAlert decodes one alert into an event. It sets the event's Source,
// Status, Key, Labels, Annotations, Summary, Severity, StartsAt, EndsAt,
// GeneratorURL and a Runbook link; the caller adds source-specific extras.
//
//   - Key is the fingerprint; without one the identity is the label hash.
//   - labels must hold at least one label, as both sources guarantee, so
//     that label-less alerts do not all share one identity.
//   - Status defaults, as Alertmanager computes it, to resolved when endsAt
//     is set and not after now, else firing.
//   - Severity comes from the severity label through
//     incident.ParseSeverity; absent or unrecognised means warning, so that
//     an alert without the label still pages but does not wake everyone.
//   - Summary is the summary annotation, else description, else alertname.
//   - StartsAt defaults to now; a resolved alert without endsAt ends now.
func DecodeAlert(o wire.Obj, src incident.Source, now time.Time) (incident.Event, error) {
	now = now.UTC()
	e := incident.Event{Source: src}
	var err error
	st, err := status(o.Get("status"))
	if err != nil {
		return e, err
	}
	lv := o.Get("labels")
	if e.Labels, err = lv.StringMap(); err != nil {
		return e, err
	}
	if len(e.Labels) == 0 {
		return e, wire.Errorf(lv.Path, "must hold at least one label")
	}
	if e.Annotations, err = o.Get("annotations").StringMap(); err != nil {
		return e, err
	}
	if e.StartsAt, err = o.Get("startsAt").Time(); err != nil {
		return e, err
	}
	if e.EndsAt, err = o.Get("endsAt").Time(); err != nil {
		return e, err
	}
	if e.GeneratorURL, err = o.Get("generatorURL").String(); err != nil {
		return e, err
	}
	if !wire.SafeURL(e.GeneratorURL) {
		e.GeneratorURL = ""
	}
	if e.Key, err = o.Get("fingerprint").String(); err != nil {
		return e, err
	}
	Finish(&e, st, now)
	return e, nil
}

// Finish completes an event whose Labels, Annotations, StartsAt, EndsAt,
// GeneratorURL and Key are read: it caps the key, settles the status and
// times, and derives severity, summary and the runbook link. st is the
// alert's status field, possibly empty.
func Finish(e *incident.Event, st string, now time.Time) {
	if len(e.Key) > MaxKeyLen {
		// Real fingerprints are 16 hex digits. A longer one is kept as a
		// stable hash rather than refused: the sender does not retry a 4xx,
		// and an identity this long would not fit a database index.
		sum := sha256.Sum256([]byte(e.Key))
		e.Key = "sha256:" + hex.EncodeToString(sum[:])
	}
	switch {
	case st != "":
		e.Status = incident.AlertStatus(st)
	case !e.EndsAt.IsZero() && !e.EndsAt.After(now):
		e.Status = incident.AlertResolved
	default:
		e.Status = incident.AlertFiring
	}
	if e.StartsAt.IsZero() {
		e.StartsAt = now
	}
	if e.Status == incident.AlertResolved && e.EndsAt.IsZero() {
		e.EndsAt = now
	}
	e.Severity = Severity(e.Labels)
	e.Summary = Summary(e.Labels, e.Annotations)
	if u := e.Annotations["runbook_url"]; wire.SafeURL(u) {
		e.Links = append(e.Links, incident.Link{Href: u, Text: "Runbook"})
	}
}

// Severity reads the severity label; absent or unrecognised is warning.
func Severity(labels map[string]string) incident.Severity {
	if s, ok := incident.ParseSeverity(labels["severity"]); ok {
		return s
	}
	return incident.SeverityWarning
}

// Summary is the summary annotation, else description, else alertname.
func Summary(labels, annotations map[string]string) string {
	for _, s := range []string{annotations["summary"], annotations["description"]} {
		if s != "" {
			return s
		}
	}
	return labels["alertname"]
}
