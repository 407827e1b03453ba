// Package pagerduty decodes PagerDuty Events API v2 requests
// (POST /v2/enqueue) into events, so that anything that can page PagerDuty
// can open a Firebreak incident.
//
// A request is one event object. trigger becomes a firing event,
// acknowledge an acknowledged one and resolve a resolved one; all three are
// identified by dedup_key. Like PagerDuty, acknowledge and resolve ignore
// the payload, and a trigger without a dedup_key gets a generated one that
// the response must return.
package pagerduty

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// Limits PagerDuty documents.
const (
	// MaxSummaryLen is the longest payload.summary kept, in characters.
	// PagerDuty truncates longer summaries rather than refusing the event,
	// and so does Firebreak.
	MaxSummaryLen = 1024
	// MaxDedupKeyLen is the longest dedup_key accepted, in characters.
	MaxDedupKeyLen = 255
)

// Event actions.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// Request is a decoded request. The handler answers it with
// {"status":"success","message":"Event processed","dedup_key":DedupKey}.
type Request struct {
	RoutingKey string
	Action     string
	// DedupKey is the event's dedup_key, generated (32 hex digits) for a
	// trigger that had none.
	DedupKey string
	// Events holds the one event of the request.
	Events []incident.Event
}

// InvalidEventError lists everything wrong with a request, as PagerDuty
// reports it: the handler answers 400 with
// {"status":"invalid event","message":"Event object is invalid","errors":Messages()}.
// It unwraps to the *ingest.FieldError values it holds.
type InvalidEventError struct {
	Fields []*wire.FieldError
}

func (e *InvalidEventError) Error() string {
	return "invalid event: " + strings.Join(e.Messages(), "; ")
}

// Messages renders each field error in PagerDuty's style, such as
// "'payload.summary' is missing or blank".
func (e *InvalidEventError) Messages() []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == "body" {
			out[i] = f.Error()
			continue
		}
		out[i] = "'" + f.Field + "' " + f.Reason
	}
	return out
}

func (e *InvalidEventError) Unwrap() []error {
	out := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f
	}
	return out
}

// Decode decodes one Events API v2 event. now is the start of a trigger
// without payload.timestamp, and the time of an acknowledge or resolve.
// Every error is an *InvalidEventError.
//
// A trigger's labels are source, component, group, class and severity
// (PagerDuty's word, e.g. "error"), each when present; alertname is class,
// else component, else source; service is component. The summary never
// names the alert: it only becomes Event.Summary. custom_details, images,
// client and client_url are kept verbatim in Details; links, and
// client_url, become Links.
func Decode(body []byte, now time.Time) (*Request, error) {
	now = now.UTC()
	o, err := wire.ParseBody(body)
	if err != nil {
		return nil, &InvalidEventError{Fields: []*wire.FieldError{asFieldError(err)}}
	}
	d := decoder{now: now}
	req := d.decode(o)
	if len(d.errs) > 0 {
		return nil, &InvalidEventError{Fields: d.errs}
	}
	return req, nil
}

// decoder collects every error of a request, as PagerDuty does, instead of
// stopping at the first.
type decoder struct {
	now  time.Time
	errs []*wire.FieldError
}

func (d *decoder) fail(err error) { d.errs = append(d.errs, asFieldError(err)) }

func asFieldError(err error) *wire.FieldError {
	var fe *wire.FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return &wire.FieldError{Field: "body", Reason: err.Error()}
}

// str decodes an optional string, recording a type error.
func (d *decoder) str(v wire.Value) string {
	s, err := v.String()
	if err != nil {
		d.fail(err)
	}
	return s
}

// required decodes a string that must not be blank.
func (d *decoder) required(v wire.Value) string {
	s, err := v.String()
	if err != nil {
		d.fail(err)
		return ""
	}
	if strings.TrimSpace(s) == "" {
		d.fail(wire.Errorf(v.Path, "is missing or blank"))
	}
	return s
}

func (d *decoder) decode(o wire.Obj) *Request {
	req := &Request{
		RoutingKey: d.required(o.Get("routing_key")),
	}
	av := o.Get("event_action")
	req.Action = d.required(av)
	switch req.Action {
	case ActionTrigger, ActionAcknowledge, ActionResolve, "":
	default:
		d.fail(wire.Errorf(av.Path, "is invalid (must be one of trigger, acknowledge, resolve)"))
	}

	kv := o.Get("dedup_key")
	req.DedupKey = d.str(kv)
	if n := utf8.RuneCountInString(req.DedupKey); n > MaxDedupKeyLen {
		d.fail(wire.Errorf(kv.Path, "is too long (maximum is %d characters, got %d)", MaxDedupKeyLen, n))
	}

	e := incident.Event{
		Source:   incident.SourcePagerDuty,
		Labels:   map[string]string{},
		StartsAt: d.now,
	}
	switch req.Action {
	case ActionTrigger:
		e.Status = incident.AlertFiring
		d.trigger(o, &e)
	case ActionAcknowledge, ActionResolve:
		// A dedup_key of the wrong type has already been reported.
		if strings.TrimSpace(req.DedupKey) == "" && (kv.Missing() || kv.Kind() == wire.String) {
			d.fail(wire.Errorf(kv.Path, "is missing or blank (required to %s)", req.Action))
		}
		e.Status = incident.AlertAcknowledged
		if req.Action == ActionResolve {
			e.Status = incident.AlertResolved
			e.EndsAt = d.now
		}
	}
	if len(d.errs) > 0 {
		return nil
	}
	if strings.TrimSpace(req.DedupKey) == "" {
		req.DedupKey = newDedupKey()
	}
	e.Key = req.DedupKey
	req.Events = []incident.Event{e}
	return req
}

func (d *decoder) trigger(o wire.Obj, e *incident.Event) {
	pv := o.Get("payload")
	p, ok, err := pv.Object()
	if err != nil {
		d.fail(err)
	} else if !ok {
		d.fail(wire.Errorf(pv.Path, "is missing (required to trigger)"))
	}
	// With no payload object every lookup below is absent, so each
	// required field reports itself too, as PagerDuty lists them all.

	e.Summary = truncate(d.required(p.Get("summary")), MaxSummaryLen)
	source := d.required(p.Get("source"))

	sv := p.Get("severity")
	sev := d.required(sv)
	switch sev {
	case "critical", "error":
		e.Severity = incident.SeverityCritical
	case "warning":
		e.Severity = incident.SeverityWarning
	case "info":
		e.Severity = incident.SeverityInfo
	case "":
	default:
		d.fail(wire.Errorf(sv.Path, "is invalid (must be one of critical, error, warning, info)"))
	}

	tv := p.Get("timestamp")
	if ts, err := tv.Time(); err != nil {
		if tv.Kind() == wire.String {
			err = wire.Errorf(tv.Path, "is invalid (must be an ISO 8601 timestamp such as \"2024-05-01T12:00:00Z\")")
		}
		d.fail(err)
	} else if !ts.IsZero() {
		e.StartsAt = ts
	}

	component := d.str(p.Get("component"))
	group := d.str(p.Get("group"))
	class := d.str(p.Get("class"))
	for _, l := range []struct{ name, value string }{
		{"source", source}, {"component", component}, {"group", group},
		{"class", class}, {"severity", sev},
		{"alertname", firstNonEmpty(class, component, source)},
		{"service", component},
	} {
		if l.value != "" {
			e.Labels[l.name] = l.value
		}
	}

	e.Links = d.links(o.Get("links"))
	images := d.images(o.Get("images"))
	client := d.str(o.Get("client"))
	clientURL := d.str(o.Get("client_url"))
	if wire.SafeURL(clientURL) {
		e.Links = append(e.Links, incident.Link{Href: clientURL, Text: firstNonEmpty(client, "Client")})
	}

	var custom []byte
	if cv := p.Get("custom_details"); !cv.Missing() {
		custom = cv.Raw
	}
	e.Details = wire.EncodeObject(
		wire.Member{Name: "custom_details", Value: custom},
		wire.Member{Name: "images", Value: images},
		wire.Member{Name: "client", Value: wire.JSONString(client)},
		wire.Member{Name: "client_url", Value: wire.JSONString(clientURL)},
	)
}

// links decodes links[]; an href that is not an absolute http(s) URL is
// dropped rather than refused, as PagerDuty would accept it.
func (d *decoder) links(v wire.Value) []incident.Link {
	elems, err := v.Array()
	if err != nil {
		d.fail(err)
		return nil
	}
	var out []incident.Link
	for _, ev := range elems {
		lo, ok := d.object(ev)
		if !ok {
			continue
		}
		href := d.required(lo.Get("href"))
		text := d.str(lo.Get("text"))
		if wire.SafeURL(href) {
			out = append(out, incident.Link{Href: href, Text: text})
		}
	}
	return out
}

// images checks images[] and returns it verbatim for Details.
func (d *decoder) images(v wire.Value) []byte {
	elems, err := v.Array()
	if err != nil {
		d.fail(err)
		return nil
	}
	for _, ev := range elems {
		img, ok := d.object(ev)
		if !ok {
			continue
		}
		d.required(img.Get("src"))
		d.str(img.Get("href"))
		d.str(img.Get("alt"))
	}
	if len(elems) == 0 {
		return nil
	}
	return v.Raw
}

func (d *decoder) object(v wire.Value) (wire.Obj, bool) {
	o, ok, err := v.Object()
	if err != nil {
		d.fail(err)
		return o, false
	}
	if !ok {
		d.fail(wire.Errorf(v.Path, "must be an object, got null"))
	}
	return o, ok
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

func newDedupKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
