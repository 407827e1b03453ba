// Package ingest holds what the intake decoders share: the field error they
// return and Detect, which works out which source a payload came from.
// Each source has its own package: alertmanager, pagerduty, grafana and
// generic.
package ingest

import (
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/alertmanager"
	"github.com/firebreak-dev/firebreak/internal/ingest/generic"
	"github.com/firebreak-dev/firebreak/internal/ingest/grafana"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
	"github.com/firebreak-dev/firebreak/internal/ingest/pagerduty"
)

// Sniff says which source's format a payload is in, from its top-level
// fields alone:
//
//   - PagerDuty Events API v2: event_action or routing_key.
//   - Grafana: orgId or state (Grafana's webhook is otherwise
//     Alertmanager's, so it is tested first).
//   - Alertmanager: alerts together with version, groupKey or receiver.
//   - anything else is the generic format.
//
// The error is a *FieldError when the body is not a JSON object.
func Sniff(body []byte) (incident.Source, error) {
	o, err := wire.ParseBody(body)
	if err != nil {
		return "", err
	}
	switch {
	case o.Has("event_action") || o.Has("routing_key"):
		return incident.SourcePagerDuty, nil
	case o.Has("orgId") || o.Has("state"):
		return incident.SourceGrafana, nil
	case o.Has("alerts") && (o.Has("version") || o.Has("groupKey") || o.Has("receiver")):
		return incident.SourceAlertmanager, nil
	}
	return incident.SourceGeneric, nil
}

// Detect decodes a payload of any supported format, as Sniff identifies it.
// It serves `firebreak playbook dry-run --alert file.json`; the HTTP intake
// knows its source from the URL and calls the source's decoder directly.
// Errors are *FieldError, or for PagerDuty a *pagerduty.InvalidEventError
// that wraps them.
func Detect(body []byte, now time.Time) ([]incident.Event, error) {
	src, err := Sniff(body)
	if err != nil {
		return nil, err
	}
	switch src {
	case incident.SourcePagerDuty:
		req, err := pagerduty.Decode(body, now)
		if err != nil {
			return nil, err
		}
		return req.Events, nil
	case incident.SourceGrafana:
		_, events, err := grafana.Decode(body, now)
		return events, err
	case incident.SourceAlertmanager:
		_, events, err := alertmanager.Decode(body, now)
		return events, err
	}
	return generic.Decode(body, now)
}
