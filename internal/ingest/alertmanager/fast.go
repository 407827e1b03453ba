package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/promalert"
	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// The field-by-field decoder names the exact field at fault, which costs
// about 25 µs an alert. Well-formed notifications, nearly all of them,
// take this typed path instead (a few µs an alert). Whatever it is unsure
// of, it leaves to the careful path, which stays the authority on errors:
//   - a body holding null or \u0000 anywhere (null where a string must be,
//     NUL scrubbing);
//   - any decoding error, a bad status or timestamp, an alert without
//     labels, an empty label name.
//
// TestFastPathAgrees checks that both paths give the same events for the
// fixtures and the whole fuzz corpus.

type fastGroup struct {
	Version           string          `json:"version"`
	GroupKey          string          `json:"groupKey"`
	TruncatedAlerts   uint64          `json:"truncatedAlerts"`
	Status            string          `json:"status"`
	Receiver          string          `json:"receiver"`
	GroupLabels       onceMap         `json:"groupLabels"`
	CommonLabels      onceMap         `json:"commonLabels"`
	CommonAnnotations onceMap         `json:"commonAnnotations"`
	ExternalURL       string          `json:"externalURL"`
	Reason            json.RawMessage `json:"notification_reason"`
	RouteLabels       json.RawMessage `json:"routeLabels"`
	Alerts            []fastAlert     `json:"alerts"`
}

type fastAlert struct {
	Status       string  `json:"status"`
	Labels       onceMap `json:"labels"`
	Annotations  onceMap `json:"annotations"`
	StartsAt     string  `json:"startsAt"`
	EndsAt       string  `json:"endsAt"`
	GeneratorURL string  `json:"generatorURL"`
	Fingerprint  string  `json:"fingerprint"`
}

// onceMap refuses a second occurrence of its key in one object:
// encoding/json would merge the two maps, the careful path keeps the last.
type onceMap map[string]string

var errDuplicate = errors.New("duplicate key")

func (m *onceMap) UnmarshalJSON(b []byte) error {
	if *m != nil {
		return errDuplicate
	}
	v := make(map[string]string)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = v
	return nil
}

var (
	jsonNull = []byte("null")
	jsonNUL  = []byte(`\u0000`) // the careful path scrubs NUL from strings
)

// decodeFast returns ok=false whenever the careful path must decide.
func decodeFast(body []byte, now time.Time) (*Notification, []incident.Event, bool) {
	if bytes.Contains(body, jsonNull) || bytes.Contains(body, jsonNUL) || bytes.IndexByte(body, 0) >= 0 || !exactKeys(body) {
		return nil, nil, false
	}
	var g fastGroup
	if err := json.Unmarshal(body, &g); err != nil || len(g.Alerts) == 0 || !validStatus(g.Status) {
		return nil, nil, false
	}
	n := &Notification{
		Version: g.Version, GroupKey: g.GroupKey, TruncatedAlerts: g.TruncatedAlerts, Status: g.Status,
		Receiver: g.Receiver, GroupLabels: g.GroupLabels, CommonLabels: g.CommonLabels,
		CommonAnnotations: g.CommonAnnotations, ExternalURL: g.ExternalURL,
	}
	if len(g.Reason) > 0 {
		json.Unmarshal(g.Reason, &n.NotificationReason) // a wrong type is ignored, as on the careful path
	}
	if len(g.RouteLabels) > 0 {
		var m map[string]string
		if json.Unmarshal(g.RouteLabels, &m) == nil && !hasEmptyName(m) {
			n.RouteLabels = m
		}
	}
	if hasEmptyName(g.GroupLabels) || hasEmptyName(g.CommonLabels) || hasEmptyName(g.CommonAnnotations) {
		return nil, nil, false
	}
	now = now.UTC()
	events := make([]incident.Event, len(g.Alerts))
	for i := range g.Alerts {
		a := &g.Alerts[i]
		if !validStatus(a.Status) || len(a.Labels) == 0 {
			return nil, nil, false
		}
		if hasEmptyName(a.Labels) || hasEmptyName(a.Annotations) {
			return nil, nil, false
		}
		starts, ok1 := fastTime(a.StartsAt)
		ends, ok2 := fastTime(a.EndsAt)
		if !ok1 || !ok2 {
			return nil, nil, false
		}
		e := &events[i]
		e.Source = incident.SourceAlertmanager
		e.Labels, e.Annotations = a.Labels, a.Annotations
		e.StartsAt, e.EndsAt = starts, ends
		if wire.SafeURL(a.GeneratorURL) {
			e.GeneratorURL = a.GeneratorURL
		}
		e.Key = a.Fingerprint
		promalert.Finish(e, a.Status, now)
	}
	return n, events, true
}

// fieldNames are the keys the typed structs read.
var fieldNames = []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
	"commonAnnotations", "externalURL", "notification_reason", "routeLabels", "alerts", "labels", "annotations",
	"startsAt", "endsAt", "generatorURL", "fingerprint"}

// exactKeys reports whether encoding/json's case-insensitive field matching
// cannot differ from the careful path's exact matching on this body: no
// object key is a field name in another case, and no key holds an escape
// (which could spell a field name in disguise) or a non-ASCII letter (ſ
// and K fold to s and k). It scans the body once, without allocating.
func exactKeys(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start, escaped, ascii := i+1, false, true
		j := start
		for ; j < len(body) && body[j] != '"'; j++ {
			switch c := body[j]; {
			case c == '\\':
				escaped = true
				j++
			case c >= 0x80:
				ascii = false
			}
		}
		if j >= len(body) {
			return false // unterminated: the careful path will say where
		}
		k := j + 1
		for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
			k++
		}
		if k < len(body) && body[k] == ':' {
			key := body[start:j]
			if escaped || !ascii {
				return false
			}
			for _, f := range fieldNames {
				if len(key) == len(f) && string(key) != f && bytes.EqualFold(key, []byte(f)) {
					return false
				}
			}
		}
		i = j
	}
	return true
}

func hasEmptyName[M ~map[string]string](m M) bool {
	_, ok := m[""]
	return ok
}

func validStatus(s string) bool {
	return s == "" || s == string(incident.AlertFiring) || s == string(incident.AlertResolved)
}

func fastTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	if t.IsZero() {
		return time.Time{}, true
	}
	return t.UTC(), true
}
