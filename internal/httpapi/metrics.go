package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// Metrics are Firebreak's Prometheus metrics, on a registry of their own.
type Metrics struct {
	Registry      *prometheus.Registry
	alerts        *prometheus.CounterVec
	ingestLatency *prometheus.HistogramVec
	batchEvents   prometheus.Histogram
	batchRequests prometheus.Histogram
	stepsStarted  *prometheus.CounterVec
	notifications *prometheus.CounterVec
	breaches      *prometheus.CounterVec
	timeToAck     *prometheus.HistogramVec
	timeToResolve *prometheus.HistogramVec
}

// NewMetrics registers the metrics; open incidents are read from s at
// scrape time.
func NewMetrics(s store.Store) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alerts_received_total",
			Help: "Alerts received, by source and outcome (opened, grouped, repeat, resolved, acknowledged, ignored, rejected, error).",
		}, []string{"source", "outcome"}),
		ingestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_ingest_duration_seconds",
			Help:    "Time from an intake request's arrival to its answer, commit included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source", "outcome"}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_ingest_batch_alerts",
			Help:    "Alerts committed in one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		batchRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_ingest_batch_requests",
			Help:    "Intake requests committed in one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	m.stepsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firebreak_steps_started_total",
		Help: "Playbook steps started, by executor and risk.",
	}, []string{"executor", "risk"})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firebreak_notifications_total",
		Help: "Notification delivery attempts, by channel and outcome (sent, retrying, failed).",
	}, []string{"channel", "outcome"})
	// Labelled by severity and phase only: both are bounded, where a
	// service label would grow with whatever alerts send.
	m.breaches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "firebreak_phase_breaches_total",
		Help: "Phase budgets overrun (SLA breaches), by phase and severity.",
	}, []string{"phase", "severity"})
	responseBuckets := []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400}
	m.timeToAck = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firebreak_time_to_acknowledge_seconds",
		Help:    "Time from an incident's start to its acknowledgement, by severity.",
		Buckets: responseBuckets,
	}, []string{"severity"})
	m.timeToResolve = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "firebreak_time_to_resolve_seconds",
		Help:    "Time from an incident's start to its resolution, by severity.",
		Buckets: responseBuckets,
	}, []string{"severity"})
	m.Registry.MustRegister(m.breaches, m.timeToAck, m.timeToResolve)
	m.Registry.MustRegister(m.stepsStarted, m.notifications, m.alerts, m.ingestLatency, m.batchEvents, m.batchRequests,
		&openIncidents{store: s, desc: prometheus.NewDesc("firebreak_open_incidents",
			"Incidents not yet resolved, by severity.", []string{"severity"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, src := range incident.Sources {
		for _, o := range []string{"opened", "grouped", "repeat", "resolved", "rejected", "error"} {
			m.alerts.WithLabelValues(string(src), o)
		}
	}
	return m
}

// Breach counts a phase budget overrun.
func (m *Metrics) Breach(phase string, inc *incident.Incident) {
	m.breaches.WithLabelValues(phase, string(inc.Severity)).Inc()
}

// Acknowledged observes the time to acknowledge.
func (m *Metrics) Acknowledged(inc *incident.Incident, after time.Duration) {
	m.timeToAck.WithLabelValues(string(inc.Severity)).Observe(after.Seconds())
}

// Resolved observes the time to resolve.
func (m *Metrics) Resolved(inc *incident.Incident, after time.Duration) {
	m.timeToResolve.WithLabelValues(string(inc.Severity)).Observe(after.Seconds())
}

// Notification counts one delivery attempt's outcome on a channel.
func (m *Metrics) Notification(channel, outcome string) {
	m.notifications.WithLabelValues(channel, outcome).Inc()
}

// StepStarted counts a step that began to run.
func (m *Metrics) StepStarted(s *run.Step) {
	m.stepsStarted.WithLabelValues(string(s.Executor), string(s.Risk)).Inc()
}

// WatchAutomation exports the automation kill switch as a gauge.
func (m *Metrics) WatchAutomation(paused func(context.Context) (bool, error)) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "firebreak_automation_paused",
		Help: "1 while the automation kill switch is on: no step runs.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if p, err := paused(ctx); err == nil && p {
			return 1
		}
		return 0
	}))
}

// ObserveBatch records one committed group-commit batch.
func (m *Metrics) ObserveBatch(requests, events int) {
	m.batchRequests.Observe(float64(requests))
	m.batchEvents.Observe(float64(events))
}

func (m *Metrics) observeIngest(src incident.Source, outcome string, d time.Duration) {
	m.ingestLatency.WithLabelValues(string(src), outcome).Observe(d.Seconds())
}

func (m *Metrics) countAlerts(src incident.Source, outcome string, n int) {
	m.alerts.WithLabelValues(string(src), outcome).Add(float64(n))
}

func (m *Metrics) countResults(src incident.Source, results []incident.Result) {
	counts := make(map[incident.Outcome]int, 4)
	for _, r := range results {
		counts[r.Outcome]++
	}
	for o, n := range counts {
		m.alerts.WithLabelValues(string(src), string(o)).Add(float64(n))
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{ErrorLog: nil}).ServeHTTP(w, r)
	return nil
}

type openIncidents struct {
	store store.Store
	desc  *prometheus.Desc
}

func (o *openIncidents) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *openIncidents) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := o.store.CountOpenIncidents(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(o.desc, err)
		return
	}
	for _, sev := range []incident.Severity{incident.SeverityCritical, incident.SeverityWarning, incident.SeverityInfo} {
		n := 0
		for _, bySev := range counts {
			n += bySev[sev]
		}
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(n), string(sev))
	}
}
