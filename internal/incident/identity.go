package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Fingerprint is the identity of an event: the source's own key when it has
// one, else a hash of the sorted labels. The source is part of it, so that
// Grafana's and Alertmanager's keys never collide.
func Fingerprint(e *Event) string {
	if e.Key != "" {
		return string(e.Source) + ":" + e.Key
	}
	return string(e.Source) + ":" + LabelsHash(e.Labels)
}

// LabelsHash is a stable hash of a label set, independent of map order.
func LabelsHash(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		// Length prefixes keep {"a":"bc"} and {"ab":"c"} apart.
		writeLenPrefixed(h, k)
		writeLenPrefixed(h, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

type byteWriter interface{ Write([]byte) (int, error) }

func writeLenPrefixed(w byteWriter, s string) {
	var n [4]byte
	l := len(s)
	n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	w.Write(n[:])
	w.Write([]byte(s))
}

// Grouping decides which alerts share an incident.
type Grouping struct {
	// By lists the labels whose values form the group key. Empty means the
	// default: alertname plus service, or namespace when there is no service.
	By []string
}

// DefaultGroupBy is documented in the README.
var defaultGroupBy = []string{"alertname", "service|namespace"}

// Key returns the group key of an event and the labels that formed it. An
// entry "a|b" in By takes the first of a, b that is present. An event that
// carries none of the grouping labels groups on its own fingerprint, so that
// unrelated alerts are never lumped together.
func (g Grouping) Key(e *Event, fingerprint string) (string, map[string]string) {
	by := g.By
	if len(by) == 0 {
		by = defaultGroupBy
	}
	var b strings.Builder
	labels := make(map[string]string, len(by))
	for _, spec := range by {
		for _, name := range strings.Split(spec, "|") {
			if v, ok := e.Labels[name]; ok && v != "" {
				labels[name] = v
				break
			}
		}
	}
	if len(labels) == 0 {
		return "fp:" + fingerprint, nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte('\x1f')
	}
	return "g:" + hex.EncodeToString(sha256Sum(b.String())[:16]), labels
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ParseSeverity maps the many spellings sources use onto the three
// severities. ok is false when s names none of them.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "error", "err", "page", "high", "p1", "p2", "disaster", "emergency", "fatal":
		return SeverityCritical, true
	case "warning", "warn", "medium", "average", "p3":
		return SeverityWarning, true
	case "info", "informational", "information", "low", "none", "ok", "p4", "p5", "debug", "notice":
		return SeverityInfo, true
	}
	return "", false
}

// AlertName is the name an event is known by: its alertname label, else
// its summary.
func AlertName(e *Event) string {
	if n := e.Labels["alertname"]; n != "" {
		return n
	}
	return e.Summary
}

// ServiceOf picks the service an event belongs to.
func ServiceOf(e *Event) string {
	for _, k := range []string{"service", "app", "job", "namespace"} {
		if v := e.Labels[k]; v != "" {
			return v
		}
	}
	return ""
}
