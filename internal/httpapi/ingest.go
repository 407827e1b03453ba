package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/ingest/alertmanager"
	"github.com/firebreak-dev/firebreak/internal/ingest/generic"
	"github.com/firebreak-dev/firebreak/internal/ingest/grafana"
	"github.com/firebreak-dev/firebreak/internal/ingest/pagerduty"
)

// decodeFunc turns a body into events.
type decodeFunc func(body []byte, now time.Time) ([]incident.Event, error)

// allowIngest checks that p may post alerts of source.
func allowIngest(p *auth.Principal, source incident.Source) error {
	switch {
	case p.Role == auth.RoleIngest && p.Source == source:
		return nil
	case p.Role == auth.RoleIngest:
		return incident.Errorf(incident.EFORBIDDEN, "integration key %q is for %s; this endpoint takes %s alerts", p.Name, p.Source, source)
	case p.Role.Allows(auth.RoleResponder):
		return nil
	}
	return incident.Errorf(incident.EFORBIDDEN, "token %q has role %s; posting alerts needs an integration key or a responder token", p.Name, p.Role)
}

func (s *Server) ingestRoute(source incident.Source, decode decodeFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		outcome := "error"
		defer func() { s.Metrics.observeIngest(source, outcome, time.Since(start)) }()
		p, err := s.check(r.Context(), bearer(r))
		if err == nil {
			err = allowIngest(p, source)
		}
		var events []incident.Event
		if err == nil {
			events, err = s.decodeBody(w, r, decode)
		}
		var results []incident.Result
		if err == nil {
			results, err = s.Ingester.Submit(r.Context(), events)
		}
		if err != nil {
			outcome = "rejected"
			if c := incident.ErrorCode(err); c == incident.EINTERNAL || c == incident.EUNAVAILABLE {
				outcome = "error"
			}
			s.Metrics.countAlerts(source, outcome, max(len(events), 1))
			s.fail(w, r, err)
			return
		}
		outcome = "accepted"
		s.Metrics.countResults(source, results)
		writeJSON(w, http.StatusOK, ingestResponse(results))
	})
}

// decodeBody reads and decodes a body, turning a decoder's field error into
// a 400 that names the field.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, decode decodeFunc) ([]incident.Event, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	events, err := decode(body, s.Now())
	if err != nil {
		return nil, invalid(err)
	}
	return events, nil
}

func invalid(err error) error {
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		return incident.Errorf(incident.EINVALID, "%s", err.Error())
	}
	return incident.Errorf(incident.EINVALID, "body: %v", err)
}

type ingestSummary struct {
	Status    string                   `json:"status"`
	Alerts    int                      `json:"alerts"`
	Outcomes  map[incident.Outcome]int `json:"outcomes"`
	Incidents []int64                  `json:"incidents"`
}

// ingestResponse summarises results: an alert storm's answer stays small.
func ingestResponse(results []incident.Result) ingestSummary {
	out := ingestSummary{Status: "success", Alerts: len(results), Outcomes: map[incident.Outcome]int{}, Incidents: []int64{}}
	seen := map[int64]bool{}
	for _, r := range results {
		out.Outcomes[r.Outcome]++
		if r.IncidentID != 0 && !seen[r.IncidentID] {
			seen[r.IncidentID] = true
			out.Incidents = append(out.Incidents, r.IncidentID)
		}
	}
	return out
}

func (s *Server) ingestAlertmanager(body []byte, now time.Time) ([]incident.Event, error) {
	_, events, err := alertmanager.Decode(body, now)
	return events, err
}

func (s *Server) ingestGrafana(body []byte, now time.Time) ([]incident.Event, error) {
	_, events, err := grafana.Decode(body, now)
	return events, err
}

func (s *Server) ingestGeneric(body []byte, now time.Time) ([]incident.Event, error) {
	return generic.Decode(body, now)
}

// ingestPagerDuty speaks the Events API v2: the key is the body's
// routing_key (a Bearer header is accepted too), success is 202 with the
// dedup_key, and errors have PagerDuty's shape. The body is at most
// PagerDuty's own 512 KB, and the key is checked before the body is
// decoded, so a flood of requests with a wrong key costs reads, not
// decodes.
func (s *Server) ingestPagerDuty(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	outcome := "error"
	defer func() { s.Metrics.observeIngest(incident.SourcePagerDuty, outcome, time.Since(start)) }()
	pdError := func(status int, msg string, errs []string) {
		outcome = "rejected"
		if status >= 500 {
			outcome = "error"
			w.Header().Set("Retry-After", "1")
		}
		s.Metrics.countAlerts(incident.SourcePagerDuty, outcome, 1)
		writeJSON(w, status, map[string]any{"status": msg, "message": msg, "errors": errs})
	}
	invalidEvent := func(err error) {
		var ie *pagerduty.InvalidEventError
		if errors.As(err, &ie) {
			outcome = "rejected"
			s.Metrics.countAlerts(incident.SourcePagerDuty, outcome, 1)
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": ie.Messages()})
			return
		}
		pdError(http.StatusBadRequest, "invalid event", []string{err.Error()})
	}
	limit := int64(pagerduty.MaxBodyBytes)
	if s.MaxBodyBytes > 0 && s.MaxBodyBytes < limit {
		limit = s.MaxBodyBytes
	}
	body, err := readLimited(w, r, limit)
	if errors.Is(err, errTooLarge) {
		msg := fmt.Sprintf("body: larger than %d bytes (512 KB), the limit of PagerDuty's Events API v2 for one event", limit)
		if limit < pagerduty.MaxBodyBytes {
			msg = fmt.Sprintf("body: larger than the limit of %d bytes (intake.max_body_bytes)", limit)
		}
		pdError(http.StatusRequestEntityTooLarge, "Request Entity Too Large", []string{msg})
		return
	}
	if err != nil {
		status := statusOf[incident.ErrorCode(err)]
		pdError(status, http.StatusText(status), []string{incident.ErrorMessage(err)})
		return
	}
	key, err := pagerduty.RoutingKey(body)
	if err != nil {
		invalidEvent(err)
		return
	}
	if h := bearer(r); h != "" {
		key = h
	}
	p, err := s.check(r.Context(), key)
	if err == nil {
		err = allowIngest(p, incident.SourcePagerDuty)
	}
	if err != nil {
		status := statusOf[incident.ErrorCode(err)]
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			pdError(status, "invalid routing key", []string{incident.ErrorMessage(err)})
			return
		}
		s.Logger.ErrorContext(r.Context(), "check routing key", "err", err)
		pdError(http.StatusServiceUnavailable, "unavailable", []string{"could not check the routing key; retry"})
		return
	}
	req, err := pagerduty.Decode(body, s.Now())
	if err != nil {
		invalidEvent(err)
		return
	}
	results, err := s.Ingester.Submit(r.Context(), req.Events)
	if err != nil {
		status := statusOf[incident.ErrorCode(err)]
		if status >= 500 {
			s.Logger.ErrorContext(r.Context(), "pagerduty intake", "err", err)
		}
		pdError(status, http.StatusText(status), []string{incident.ErrorMessage(err)})
		return
	}
	outcome = "accepted"
	s.Metrics.countResults(incident.SourcePagerDuty, results)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "success", "message": "Event processed", "dedup_key": req.DedupKey})
}
