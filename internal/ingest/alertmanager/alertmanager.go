// Package alertmanager decodes Prometheus Alertmanager's webhook (version 4)
// into events.
//
// Every alert of a group becomes one event: a large group is never refused
// for its size (the HTTP handler caps the body instead), because
// Alertmanager does not retry a 4xx and the alerts would be lost. Unknown
// fields are ignored.
package alertmanager

import (
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
	Version  string
	GroupKey string
	// TruncatedAlerts is how many alerts Alertmanager left out of the
	// request because of the receiver's max_alerts.
	TruncatedAlerts   uint64
	Status            string // firing or resolved
	Receiver          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	// NotificationReason and RouteLabels come from newer Alertmanager
	// releases. They feed no event, so a value of an unexpected type is
	// ignored rather than failing the whole group.
	NotificationReason string
	RouteLabels        map[string]string
}

// Decode decodes a webhook body. now stands in for a missing startsAt and
// for the end of a resolved alert that has no endsAt. Every error is a
// *ingest.FieldError naming the field at fault.
func Decode(body []byte, now time.Time) (*Notification, []incident.Event, error) {
	if n, events, ok := decodeFast(body, now); ok {
		return n, events, nil
	}
	return decodeCareful(body, now)
}

func decodeCareful(body []byte, now time.Time) (*Notification, []incident.Event, error) {
	o, err := wire.ParseBody(body)
	if err != nil {
		return nil, nil, err
	}
	g, err := promalert.DecodeGroup(o)
	if err != nil {
		return nil, nil, err
	}
	n := &Notification{
		Version:           g.Version,
		GroupKey:          g.GroupKey,
		TruncatedAlerts:   g.TruncatedAlerts,
		Status:            g.Status,
		Receiver:          g.Receiver,
		GroupLabels:       g.GroupLabels,
		CommonLabels:      g.CommonLabels,
		CommonAnnotations: g.CommonAnnotations,
		ExternalURL:       g.ExternalURL,
	}
	if s, err := o.Get("notification_reason").String(); err == nil {
		n.NotificationReason = s
	}
	if m, err := o.Get("routeLabels").StringMap(); err == nil {
		n.RouteLabels = m
	}
	events := make([]incident.Event, 0, len(g.Alerts))
	for _, a := range g.Alerts {
		e, err := promalert.DecodeAlert(a, incident.SourceAlertmanager, now)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, e)
	}
	return n, events, nil
}
