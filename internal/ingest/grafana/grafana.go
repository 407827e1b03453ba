// Package grafana decodes Grafana's unified-alerting webhook into events.
//
// The webhook is Alertmanager's with extras: per alert, the query values
// and links to the dashboard, panel, image and silence form. The values
// (and valueString) are kept verbatim in the event's Details; the URLs go
// both into Links, for people, and into Details, for templates. Like the
// Alertmanager decoder it accepts groups of any size and ignores unknown
// fields.
package grafana

import (
	"encoding/json"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/promalert"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// MaxKeyLen is the longest fingerprint kept as sent; a longer one becomes
// "sha256:" and its hex SHA-256, a stable identity that fits an index.
const MaxKeyLen = promalert.MaxKeyLen

// Notification is the webhook's envelope, for the caller's logs and metrics.
type Notification struct {
	Receiver          string
	Status            string // firing or resolved
	OrgID             int64
	GroupKey          string
	TruncatedAlerts   uint64
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	Version           string
	// Title, State and Message are Grafana's rendered notification; State
	// is the legacy "alerting" or "ok".
	Title   string
	State   string
	Message string
}

// Details is the JSON object stored in an event's Details. Values maps a
// query's refID to its number (or null) exactly as Grafana sent it.
type Details struct {
	Values       map[string]json.RawMessage `json:"values,omitempty"`
	ValueString  string                     `json:"valueString,omitempty"`
	DashboardURL string                     `json:"dashboardURL,omitempty"`
	PanelURL     string                     `json:"panelURL,omitempty"`
	SilenceURL   string                     `json:"silenceURL,omitempty"`
	ImageURL     string                     `json:"imageURL,omitempty"`
}

// Decode decodes a webhook body; now stands in for a missing startsAt and
// ends a resolved alert that has no endsAt. See promalert.DecodeAlert for
// how labels become severity and summary. Every error is a
// *ingest.FieldError naming the field at fault.
func Decode(body []byte, now time.Time) (*Notification, []incident.Event, error) {
	o, err := wire.ParseBody(body)
	if err != nil {
		return nil, nil, err
	}
	g, err := promalert.DecodeGroup(o)
	if err != nil {
		return nil, nil, err
	}
	n := &Notification{
		Receiver:          g.Receiver,
		Status:            g.Status,
		GroupKey:          g.GroupKey,
		TruncatedAlerts:   g.TruncatedAlerts,
		GroupLabels:       g.GroupLabels,
		CommonLabels:      g.CommonLabels,
		CommonAnnotations: g.CommonAnnotations,
		ExternalURL:       g.ExternalURL,
		Version:           g.Version,
	}
	if n.OrgID, err = o.Get("orgId").Int(); err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"title", &n.Title}, {"state", &n.State}, {"message", &n.Message}} {
		if *f.dst, err = o.Get(f.name).String(); err != nil {
			return nil, nil, err
		}
	}
	events := make([]incident.Event, 0, len(g.Alerts))
	for _, a := range g.Alerts {
		e, err := promalert.DecodeAlert(a, incident.SourceGrafana, now)
		if err != nil {
			return nil, nil, err
		}
		if err := extras(a, &e); err != nil {
			return nil, nil, err
		}
		events = append(events, e)
	}
	return n, events, nil
}

func extras(a wire.Obj, e *incident.Event) error {
	var d Details
	var err error
	if d.Values, err = values(a.Get("values")); err != nil {
		return err
	}
	if d.ValueString, err = a.Get("valueString").String(); err != nil {
		return err
	}
	for _, f := range []struct {
		name, text string
		dst        *string
	}{
		{"dashboardURL", "Dashboard", &d.DashboardURL},
		{"panelURL", "Panel", &d.PanelURL},
		{"imageURL", "Image", &d.ImageURL},
		{"silenceURL", "Silence", &d.SilenceURL},
	} {
		if *f.dst, err = a.Get(f.name).String(); err != nil {
			return err
		}
		if wire.SafeURL(*f.dst) {
			e.Links = append(e.Links, incident.Link{Href: *f.dst, Text: f.text})
		}
	}
	if len(d.Values) > 0 || d.ValueString != "" || d.DashboardURL != "" || d.PanelURL != "" ||
		d.SilenceURL != "" || d.ImageURL != "" {
		e.Details = wire.Marshal(d)
	}
	return nil
}

// values checks that values maps refIDs to numbers. Grafana sends null for
// a query that produced no number; it is kept as null.
func values(v wire.Value) (map[string]json.RawMessage, error) {
	o, ok, err := v.Object()
	if err != nil || !ok {
		return nil, err
	}
	out := make(map[string]json.RawMessage, o.Len())
	for _, ref := range o.Keys() {
		rv := o.Get(ref)
		switch rv.Kind() {
		case wire.Number, wire.Null:
			out[wire.ScrubNUL(ref)] = rv.Raw
		default:
			return nil, wire.Errorf(rv.Path, "must be a number or null, got %s", rv.Kind())
		}
	}
	return out, nil
}
