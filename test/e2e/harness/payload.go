package harness

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Alert is one alert as both Alertmanager APIs carry it.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time // zero while firing
	GeneratorURL string
	// Fingerprint is sent in webhook bodies; Fingerprint(Labels) when empty.
	Fingerprint string
}

// Fingerprint is Alertmanager's fingerprint of a label set: FNV-1a 64 over
// the label names and values in name order, each followed by 0xff, printed as
// 16 hex digits (prometheus/common model.LabelSet.Fingerprint). Using the same
// function means a test can predict what a real Alertmanager sends.
func Fingerprint(labels map[string]string) string {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
		sep      = 0xff
	)
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	h := uint64(offset64)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h ^= sep
		h *= prime64
	}
	for _, k := range names {
		add(k)
		add(labels[k])
	}
	return fmt.Sprintf("%016x", h)
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

// WebhookV4 encodes alerts as the body Alertmanager's webhook receiver sends:
// grouped by alertname, with the group and common labels filled in as
// Alertmanager fills them.
func WebhookV4(receiver string, alerts []Alert) ([]byte, error) {
	m := webhookMessage{
		Version:           "4",
		Status:            "resolved",
		Receiver:          receiver,
		GroupLabels:       map[string]string{},
		CommonLabels:      map[string]string{},
		CommonAnnotations: map[string]string{},
		ExternalURL:       "http://alertmanager.invalid",
		Alerts:            make([]webhookAlert, len(alerts)),
	}
	for i, a := range alerts {
		wa := webhookAlert{
			Status:       "firing",
			Labels:       nonNil(a.Labels),
			Annotations:  nonNil(a.Annotations),
			StartsAt:     a.StartsAt.UTC(),
			EndsAt:       a.EndsAt.UTC(),
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint,
		}
		if !a.EndsAt.IsZero() && !a.EndsAt.After(time.Now()) {
			wa.Status = "resolved"
		} else {
			m.Status = "firing"
		}
		if wa.Fingerprint == "" {
			wa.Fingerprint = Fingerprint(a.Labels)
		}
		m.Alerts[i] = wa
	}
	if len(alerts) > 0 {
		m.CommonLabels = common(alerts, func(a Alert) map[string]string { return a.Labels })
		m.CommonAnnotations = common(alerts, func(a Alert) map[string]string { return a.Annotations })
		if n, ok := m.CommonLabels["alertname"]; ok {
			m.GroupLabels["alertname"] = n
		}
	}
	m.GroupKey = fmt.Sprintf("{}:{alertname=%q}", m.GroupLabels["alertname"])
	return json.Marshal(m)
}

type v2Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// AlertmanagerV2 encodes alerts as the body of Alertmanager's own intake,
// POST /api/v2/alerts, which is what Prometheus sends.
func AlertmanagerV2(alerts []Alert) ([]byte, error) {
	out := make([]v2Alert, len(alerts))
	for i, a := range alerts {
		out[i] = v2Alert{
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			StartsAt:     a.StartsAt.UTC(),
			GeneratorURL: a.GeneratorURL,
		}
		if !a.EndsAt.IsZero() {
			e := a.EndsAt.UTC()
			out[i].EndsAt = &e
		}
	}
	return json.Marshal(out)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func common(alerts []Alert, get func(Alert) map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range get(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		m := get(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}
