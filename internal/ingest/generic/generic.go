// Package generic decodes Firebreak's own alert format, for senders that are
// neither Alertmanager, PagerDuty nor Grafana. The README's section "Generic JSON alerts" documents it.
package generic

import (
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// MaxKeyLen caps fingerprint and dedup_key, as PagerDuty caps its dedup_key:
// the key is an indexed identity, not a place for data.
const MaxKeyLen = 255

// Decode decodes a body that is either {"alerts":[…]} or one alert object.
// now stands in for a missing starts_at and ends a resolved alert that has
// no ends_at. Every error is a *ingest.FieldError naming the field at fault.
func Decode(body []byte, now time.Time) ([]incident.Event, error) {
	o, err := wire.ParseBody(body)
	if err != nil {
		return nil, err
	}
	if !o.Has("alerts") {
		e, err := decodeAlert(o, now)
		if err != nil {
			return nil, err
		}
		return []incident.Event{e}, nil
	}
	av := o.Get("alerts")
	alerts, err := av.Array()
	if err != nil {
		return nil, err
	}
	if len(alerts) == 0 {
		return nil, wire.Errorf(av.Path, "must not be empty")
	}
	events := make([]incident.Event, 0, len(alerts))
	for _, a := range alerts {
		ao, ok, err := a.Object()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, wire.Errorf(a.Path, "must be an object, got null")
		}
		e, err := decodeAlert(ao, now)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

func decodeAlert(o wire.Obj, now time.Time) (incident.Event, error) {
	now = now.UTC()
	e := incident.Event{Source: incident.SourceGeneric}
	var err error

	nv := o.Get("name")
	name, err := nv.String()
	if err != nil {
		return e, err
	}
	if strings.TrimSpace(name) == "" {
		return e, wire.Errorf(nv.Path, "is required")
	}

	sv := o.Get("status")
	st, err := sv.String()
	if err != nil {
		return e, err
	}
	switch strings.ToLower(strings.TrimSpace(st)) {
	case "", "firing":
		e.Status = incident.AlertFiring
	case "resolved":
		e.Status = incident.AlertResolved
	default:
		return e, wire.Errorf(sv.Path, `must be "firing" or "resolved", got %s`, wire.Quote(st))
	}

	sevv := o.Get("severity")
	sev, err := sevv.String()
	if err != nil {
		return e, err
	}
	e.Severity = incident.SeverityWarning
	if strings.TrimSpace(sev) != "" {
		s, ok := incident.ParseSeverity(sev)
		if !ok {
			return e, wire.Errorf(sevv.Path, `must be "critical", "warning" or "info", got %s`, wire.Quote(sev))
		}
		e.Severity = s
	}

	summary, err := o.Get("summary").String()
	if err != nil {
		return e, err
	}
	description, err := o.Get("description").String()
	if err != nil {
		return e, err
	}
	service, err := o.Get("service").String()
	if err != nil {
		return e, err
	}

	lv := o.Get("labels")
	labels, err := lv.StringMap()
	if err != nil {
		return e, err
	}
	if labels == nil {
		labels = make(map[string]string, 2)
	}
	if err := setLabel(labels, lv.Path, "alertname", name, "name"); err != nil {
		return e, err
	}
	if service != "" {
		if err := setLabel(labels, lv.Path, "service", service, "service"); err != nil {
			return e, err
		}
	}
	e.Labels = labels

	if e.Annotations, err = o.Get("annotations").StringMap(); err != nil {
		return e, err
	}
	for k, v := range map[string]string{"summary": summary, "description": description} {
		if v == "" {
			continue
		}
		if e.Annotations == nil {
			e.Annotations = make(map[string]string, 2)
		}
		e.Annotations[k] = v
	}
	e.Summary = firstNonEmpty(e.Annotations["summary"], e.Annotations["description"], name)

	if e.Key, err = key(o); err != nil {
		return e, err
	}
	if e.StartsAt, err = o.Get("starts_at").Time(); err != nil {
		return e, err
	}
	if e.EndsAt, err = o.Get("ends_at").Time(); err != nil {
		return e, err
	}
	if e.StartsAt.IsZero() {
		e.StartsAt = now
	}
	if e.Status == incident.AlertResolved && e.EndsAt.IsZero() {
		e.EndsAt = now
	}
	if e.Links, err = links(o.Get("links")); err != nil {
		return e, err
	}

	dv := o.Get("details")
	if !dv.Missing() {
		if dv.Kind() != wire.Object {
			return e, wire.Errorf(dv.Path, "must be an object, got %s", dv.Kind())
		}
		e.Details = wire.Compact(dv.Raw)
	}
	return e, nil
}

// setLabel sets a label from a top-level field, refusing a labels entry of
// the same name with another value: they would disagree about identity.
func setLabel(labels map[string]string, labelsPath, label, value, field string) error {
	if old, ok := labels[label]; ok && old != value {
		return wire.Errorf(wire.Child(labelsPath, label), "is %s but %s is %s; set one of them", wire.Quote(old), field, wire.Quote(value))
	}
	labels[label] = value
	return nil
}

func key(o wire.Obj) (string, error) {
	var key, from string
	for _, f := range []string{"fingerprint", "dedup_key"} {
		v := o.Get(f)
		s, err := v.String()
		if err != nil {
			return "", err
		}
		if s == "" {
			continue
		}
		if len(s) > MaxKeyLen {
			return "", wire.Errorf(v.Path, "must be at most %d bytes, got %d", MaxKeyLen, len(s))
		}
		if key != "" && s != key {
			return "", wire.Errorf(v.Path, "differs from %s; give one of them", from)
		}
		key, from = s, f
	}
	return key, nil
}

func links(v wire.Value) ([]incident.Link, error) {
	elems, err := v.Array()
	if err != nil || len(elems) == 0 {
		return nil, err
	}
	out := make([]incident.Link, 0, len(elems))
	for _, ev := range elems {
		lo, ok, err := ev.Object()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, wire.Errorf(ev.Path, "must be an object, got null")
		}
		hv := lo.Get("href")
		href, err := hv.String()
		if err != nil {
			return nil, err
		}
		if href == "" {
			return nil, wire.Errorf(hv.Path, "is required")
		}
		if !wire.SafeURL(href) {
			return nil, wire.Errorf(hv.Path, "must be an absolute http or https URL, got %s", wire.Quote(href))
		}
		text, err := lo.Get("text").String()
		if err != nil {
			return nil, err
		}
		out = append(out, incident.Link{Href: href, Text: text})
	}
	return out, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
