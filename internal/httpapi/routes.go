package httpapi

import (
	"net/http"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

func (s *Server) routes() {
	m := s.mux
	// Health needs no token: load balancers and orchestrators probe it.
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.authed(auth.RoleViewer, s.metrics))

	// Intake: integration keys of the matching source, or a responder's
	// token (for `firebreak alert send` and manual tests).
	m.Handle("POST /api/v1/ingest/alertmanager", s.ingestRoute(incident.SourceAlertmanager, s.ingestAlertmanager))
	m.Handle("POST /api/v1/ingest/grafana", s.ingestRoute(incident.SourceGrafana, s.ingestGrafana))
	m.Handle("POST /api/v1/ingest/generic", s.ingestRoute(incident.SourceGeneric, s.ingestGeneric))
	m.HandleFunc("POST /api/v1/ingest/pagerduty", s.ingestPagerDuty)
	m.HandleFunc("POST /v2/enqueue", s.ingestPagerDuty)

	m.Handle("GET /api/v1/incidents", s.authed(auth.RoleViewer, s.listIncidents))
	m.Handle("GET /api/v1/incidents/{id}", s.authed(auth.RoleViewer, s.getIncident))
	m.Handle("GET /api/v1/incidents/{id}/alerts", s.authed(auth.RoleViewer, s.listAlerts))
	m.Handle("GET /api/v1/incidents/{id}/timeline", s.authed(auth.RoleViewer, s.timeline))
	m.Handle("POST /api/v1/incidents/{id}/ack", s.authed(auth.RoleResponder, s.action(incident.ActionAck)))
	m.Handle("POST /api/v1/incidents/{id}/resolve", s.authed(auth.RoleResponder, s.action(incident.ActionResolve)))
	m.Handle("POST /api/v1/incidents/{id}/reopen", s.authed(auth.RoleResponder, s.action(incident.ActionReopen)))
	m.Handle("POST /api/v1/incidents/{id}/assign", s.authed(auth.RoleResponder, s.action(incident.ActionAssign)))
	m.Handle("POST /api/v1/incidents/{id}/notes", s.authed(auth.RoleResponder, s.action(incident.ActionNote)))
	m.Handle("PATCH /api/v1/incidents/{id}", s.authed(auth.RoleResponder, s.action(incident.ActionUpdate)))
	m.Handle("POST /api/v1/incidents/{id}/escalate", s.authed(auth.RoleResponder, s.action(incident.ActionEscalate)))

	m.Handle("GET /api/v1/tokens", s.authed(auth.RoleAdmin, s.listTokens))
	m.Handle("POST /api/v1/tokens", s.authed(auth.RoleAdmin, s.createToken))
	m.Handle("DELETE /api/v1/tokens/{id}", s.authed(auth.RoleAdmin, s.revokeToken))
	m.Handle("GET /api/v1/integrations", s.authed(auth.RoleAdmin, s.listIntegrations))
	m.Handle("POST /api/v1/integrations", s.authed(auth.RoleAdmin, s.createIntegration))
	m.Handle("DELETE /api/v1/integrations/{id}", s.authed(auth.RoleAdmin, s.revokeIntegration))
	m.Handle("GET /api/v1/whoami", s.authed(auth.RoleViewer, s.whoami))

	s.userRoutes()
	s.commsRoutes()
	s.responseRoutes()
	s.playbookRoutes()
	s.stepRoutes()
	if s.Chat != nil {
		s.Chat.Routes(m)
	}

	m.Handle("GET /api/v1/openapi.json", s.authed(auth.RoleViewer, s.openapi))
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, incident.Errorf(incident.ENOTFOUND, "no route for %s %s; see /api/v1/openapi.json", r.Method, r.URL.Path))
	}
	if s.Console != nil {
		// The console takes the GETs no route above takes, but an unknown
		// API path still answers in JSON.
		s.Console.Routes(m)
		m.HandleFunc("GET /api/", notFound)
	}
	m.HandleFunc("/", notFound)
}
