package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/intake"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/respond"
	"github.com/firebreak-dev/firebreak/internal/store"
	"github.com/firebreak-dev/firebreak/internal/store/sqlite"
)

type bundle struct {
	t       *testing.T
	srv     *httptest.Server
	store   store.Store
	engine  *automation.Engine
	keys    map[string]string // name → secret
	dbPath  string
	handler http.Handler
}

const maxBody = 4 << 20

// options configure the playbook engine of a test server.
type options struct {
	exec          *automation.Executors
	approverRoles []string
	twoPerson     []string
	approvalTTL   time.Duration
	now           func() time.Time
	playbooks     []string
	// tokenStore, when set, wraps the store that token lookups read.
	tokenStore func(store.Store) store.Store
	// ready replaces the store's Ping as the readiness check.
	ready   func(context.Context) error
	sandbox func() string
}

func setup(t *testing.T) *bundle { return setupWith(t, options{}) }

func setupWith(t *testing.T, o options) *bundle {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "fb.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	lib, err := playbook.NewLibrary(log, o.playbooks...)
	if err != nil {
		t.Fatal(err)
	}
	for _, pb := range lib.Playbooks() { // as the app does when it loads them
		if err := st.SavePlaybookVersion(ctx, store.PlaybookVersion{Hash: pb.Hash, Name: pb.ID, Path: pb.Path, Content: pb.Source, LoadedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	metrics := httpapi.NewMetrics(st)
	if o.exec == nil {
		o.exec = &automation.Executors{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	engine := automation.New(automation.Config{Store: st, Playbooks: lib, Exec: o.exec, Logger: log, Now: o.now,
		TwoPerson: o.twoPerson, ApprovalTTL: o.approvalTTL, Sweep: 50 * time.Millisecond, OnStart: metrics.StepStarted})
	metrics.WatchAutomation(engine.Paused)
	lifecycle := respond.New(respond.Config{Store: st, Now: o.now, Hooks: []respond.Hook{engine}, Automation: engine})
	in := intake.New(intake.Config{Store: st, Logger: log, AutoResolve: true, Observe: metrics.ObserveBatch, Now: o.now,
		OnCommit:    lifecycle.Ingested,
		AfterCommit: engine.Poke,
	})
	in.Start()
	runCtx, stopRuns := context.WithCancel(ctx)
	engine.Start(runCtx)
	var tokenStore store.Store = st
	if o.tokenStore != nil {
		tokenStore = o.tokenStore(st)
	}
	if o.ready == nil {
		o.ready = st.Ping
	}
	h := httpapi.NewServer(httpapi.Deps{
		Store: st, Ingester: in, Tokens: auth.NewTokens(tokenStore, time.Second, time.Now), Playbooks: lib, Runs: engine, Respond: lifecycle,
		ApproverRoles: o.approverRoles, Metrics: metrics, Logger: log, MaxBodyBytes: maxBody, Ready: o.ready, Now: o.now,
		SandboxStatus: o.sandbox,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		in.Stop()
		stopRuns()
		engine.Wait()
		st.Close()
	})
	b := &bundle{t: t, srv: srv, store: st, keys: map[string]string{}, engine: engine, dbPath: dbPath, handler: h}
	for _, tok := range []struct {
		name   string
		role   auth.Role
		source incident.Source
	}{
		{"admin", auth.RoleAdmin, ""}, {"viewer", auth.RoleViewer, ""}, {"responder", auth.RoleResponder, ""},
		{"am", auth.RoleIngest, incident.SourceAlertmanager}, {"pd", auth.RoleIngest, incident.SourcePagerDuty},
		{"gf", auth.RoleIngest, incident.SourceGrafana}, {"gen", auth.RoleIngest, incident.SourceGeneric},
	} {
		prefix := auth.TokenPrefix
		if tok.role == auth.RoleIngest {
			prefix = auth.IntegrationPrefix
		}
		secret, hash := auth.NewSecret(prefix)
		err := st.InTx(ctx, func(tx store.Tx) error {
			return tx.CreateToken(ctx, &auth.Token{Name: tok.name, Role: tok.role, Source: tok.source, Hash: hash, Prefix: secret[:8], CreatedAt: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		b.keys[tok.name] = secret
	}
	return b
}

// do sends a request as the named token ("" for none) and returns the
// status and body.
func (b *bundle) do(method, path, as string, body any) (int, []byte) {
	b.t.Helper()
	status, _, data := b.request(method, path, as, body)
	return status, data
}

// request is do that also returns the answer's header.
func (b *bundle) request(method, path, as string, body any) (int, http.Header, []byte) {
	b.t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(v)
	case string:
		r = strings.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+b.keys[as])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (b *bundle) json(method, path, as string, body any, want int, out any) {
	b.t.Helper()
	status, data := b.do(method, path, as, body)
	if status != want {
		b.t.Fatalf("%s %s as %q: status %d, want %d: %s", method, path, as, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func amBody(status string, alerts ...string) string {
	var parts []string
	for _, a := range alerts {
		name, fp, _ := strings.Cut(a, "/")
		parts = append(parts, fmt.Sprintf(`{"status":%q,"labels":{"alertname":%q,"service":"job-worker","severity":"critical"},
			"annotations":{"summary":"Queue depth 1500"},"startsAt":"2026-11-26T03:00:00Z","endsAt":"0001-01-01T00:00:00Z",
			"generatorURL":"http://prometheus/graph","fingerprint":%q}`, status, name, fp))
	}
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"x\"}","truncatedAlerts":0,"status":%q,"receiver":"firebreak",
		"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","notification_reason":"new",
		"routeLabels":{"team":"platform"},"alerts":[%s]}`, status, strings.Join(parts, ","))
}

type errBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

func (b *bundle) wantError(method, path, as string, body any, status int, code, msgPart string) {
	b.t.Helper()
	var e errBody
	b.json(method, path, as, body, status, &e)
	if e.Error.Code != code || !strings.Contains(e.Error.Message, msgPart) {
		b.t.Fatalf("%s %s: error %+v, want code %s and a message containing %q", method, path, e.Error, code, msgPart)
	}
}

func TestHealthNeedsNoTokenEverythingElseDoes(t *testing.T) {
	b := setup(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, body := b.do("GET", p, "", nil); status != 200 {
			t.Errorf("GET %s = %d %s", p, status, body)
		}
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/metrics"}, {"GET", "/api/v1/incidents"}, {"GET", "/api/v1/incidents/1"}, {"GET", "/api/v1/playbooks"},
		{"GET", "/api/v1/openapi.json"}, {"POST", "/api/v1/ingest/alertmanager"}, {"POST", "/api/v1/ingest/generic"},
		{"POST", "/api/v1/incidents/1/ack"}, {"POST", "/api/v1/tokens"}, {"GET", "/api/v1/integrations"},
	} {
		b.wantError(r.method, r.path, "", nil, 401, incident.EUNAUTHORIZED, "missing token")
	}
	b.keys["bogus"] = "fbt_notarealtoken"
	b.wantError("GET", "/api/v1/incidents", "bogus", nil, 401, incident.EUNAUTHORIZED, "invalid")
}

func TestRoles(t *testing.T) {
	b := setup(t)
	b.json("POST", "/api/v1/ingest/alertmanager", "am", amBody("firing", "HighQueueDepth/aaaa"), 200, nil)
	// An integration key may only ingest, and only its own source.
	b.wantError("GET", "/api/v1/incidents", "am", nil, 403, incident.EFORBIDDEN, "ingest")
	b.wantError("POST", "/api/v1/ingest/grafana", "am", `{}`, 403, incident.EFORBIDDEN, "is for alertmanager")
	// A viewer reads but does not act; a responder acts but does not administer.
	b.json("GET", "/api/v1/incidents", "viewer", nil, 200, nil)
	b.wantError("POST", "/api/v1/incidents/1/ack", "viewer", nil, 403, incident.EFORBIDDEN, "needs responder")
	b.wantError("POST", "/api/v1/ingest/generic", "viewer", `{"name":"x"}`, 403, incident.EFORBIDDEN, "responder")
	b.json("POST", "/api/v1/incidents/1/ack", "responder", nil, 200, nil)
	b.wantError("POST", "/api/v1/tokens", "responder", map[string]string{"name": "x", "role": "viewer"}, 403, incident.EFORBIDDEN, "needs admin")

	// Tokens are created by admins, shown once, stored hashed, and revocable.
	var created struct {
		ID  int64  `json:"id"`
		Key string `json:"key"`
	}
	b.json("POST", "/api/v1/tokens", "admin", map[string]string{"name": "alice", "role": "responder"}, 201, &created)
	if !strings.HasPrefix(created.Key, auth.TokenPrefix) || len(created.Key) < 40 {
		t.Fatalf("created key %q", created.Key)
	}
	toks, err := b.store.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if bytes.Contains(tok.Hash, []byte(created.Key)) || string(tok.Hash) == created.Key || len(tok.Hash) != 32 {
			t.Fatalf("token %s stored as %x: want a SHA-256 digest only", tok.Name, tok.Hash)
		}
	}
	b.keys["alice"] = created.Key
	b.json("POST", "/api/v1/incidents/1/notes", "alice", map[string]string{"text": "on it"}, 201, nil)
	b.wantError("POST", "/api/v1/tokens", "admin", map[string]string{"name": "bob", "role": "root"}, 400, incident.EINVALID, "role:")
	b.wantError("POST", "/api/v1/tokens", "admin", map[string]string{"name": "alice", "role": "viewer"}, 409, incident.ECONFLICT, "name:")
	b.json("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.ID), "admin", nil, 204, nil)
	time.Sleep(1100 * time.Millisecond) // the token cache's TTL in this setup
	b.wantError("GET", "/api/v1/incidents", "alice", nil, 401, incident.EUNAUTHORIZED, "revoked")

	// The timeline and audit log name who did what.
	var tl struct{ Timeline []incident.TimelineEntry }
	b.json("GET", "/api/v1/incidents/1/timeline", "viewer", nil, 200, &tl)
	var actors []string
	for _, e := range tl.Timeline {
		actors = append(actors, e.Actor)
	}
	if got := strings.Join(actors, ","); got != "firebreak,firebreak,responder,alice" {
		t.Fatalf("timeline actors = %s", got)
	}
}

func TestAlertmanagerRetriesAreRepeats(t *testing.T) {
	b := setup(t)
	body := amBody("firing", "HighQueueDepth/3f2a9c1d0b7e4a55")
	for i := 0; i < 5; i++ {
		var res struct {
			Outcomes  map[string]int
			Incidents []int64
		}
		b.json("POST", "/api/v1/ingest/alertmanager", "am", body, 200, &res)
		want := "repeat"
		if i == 0 {
			want = "opened"
		}
		if res.Outcomes[want] != 1 || len(res.Incidents) != 1 || res.Incidents[0] != 1 {
			t.Fatalf("send %d: %+v, want one %s in incident 1", i, res, want)
		}
	}
	var list struct{ Incidents []incident.Incident }
	b.json("GET", "/api/v1/incidents", "viewer", nil, 200, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].AlertCount != 1 || list.Incidents[0].Repeats != 4 {
		t.Fatalf("incidents = %+v", list.Incidents)
	}
	var detail struct{ Alerts []incident.Alert }
	b.json("GET", "/api/v1/incidents/1", "viewer", nil, 200, &detail)
	if len(detail.Alerts) != 1 || detail.Alerts[0].Count != 5 || detail.Alerts[0].Fingerprint != "alertmanager:3f2a9c1d0b7e4a55" {
		t.Fatalf("alerts = %+v, want one received 5 times", detail.Alerts)
	}
	// Its resolve resolves the incident.
	b.json("POST", "/api/v1/ingest/alertmanager", "am", amBody("resolved", "HighQueueDepth/3f2a9c1d0b7e4a55"), 200, nil)
	var one struct{ Incident incident.Incident }
	b.json("GET", "/api/v1/incidents/1", "viewer", nil, 200, &one)
	if one.Incident.Status != incident.StatusResolved {
		t.Fatalf("status after resolve = %s", one.Incident.Status)
	}
}

func TestBadInput(t *testing.T) {
	b := setup(t)
	b.wantError("POST", "/api/v1/ingest/alertmanager", "am", `{"alerts":[{"labels":{"a":1}}]}`, 400, incident.EINVALID, "alerts[0].labels")
	b.wantError("POST", "/api/v1/ingest/alertmanager", "am", `{"alerts":`, 400, incident.EINVALID, "body")
	b.wantError("POST", "/api/v1/ingest/generic", "gen", `{"severity":"loud"}`, 400, incident.EINVALID, "name")
	b.wantError("POST", "/api/v1/ingest/alertmanager", "am", strings.Repeat(" ", maxBody+1), 413, incident.ETOOLARGE, "limit")
	b.wantError("GET", "/api/v1/incidents?status=sleeping", "viewer", nil, 400, incident.EINVALID, "status")
	b.wantError("GET", "/api/v1/incidents?limit=0", "viewer", nil, 400, incident.EINVALID, "limit")
	b.wantError("GET", "/api/v1/incidents?cursor=zzz", "viewer", nil, 400, incident.EINVALID, "cursor")
	b.wantError("GET", "/api/v1/incidents/abc", "viewer", nil, 400, incident.EINVALID, "id")
	b.wantError("GET", "/api/v1/incidents/42", "viewer", nil, 404, incident.ENOTFOUND, "incident 42")
	b.wantError("POST", "/api/v1/incidents/42/notes", "responder", `{"text":"x","color":"red"}`, 400, incident.EINVALID, "color")
	b.wantError("POST", "/api/v1/incidents/42/notes", "responder", `{"text":5}`, 400, incident.EINVALID, "text")
	b.wantError("POST", "/api/v1/integrations", "admin", map[string]string{"name": "x", "source": "nagios"}, 400, incident.EINVALID, "source")
	// Nothing bad was stored, and the server still answers.
	var list struct{ Incidents []incident.Incident }
	b.json("GET", "/api/v1/incidents", "viewer", nil, 200, &list)
	if len(list.Incidents) != 0 {
		t.Fatalf("bad input created %d incidents", len(list.Incidents))
	}
}

func TestPagerDuty(t *testing.T) {
	b := setup(t)
	trigger := map[string]any{
		"routing_key": b.keys["pd"], "event_action": "trigger",
		"payload": map[string]any{"summary": "DB CPU 93%", "source": "db-1", "severity": "warning", "component": "postgres",
			"class": "HighDatabaseCPU", "custom_details": map[string]any{"cpu": 93}},
		"links": []map[string]string{{"href": "https://grafana/d/db", "text": "Dashboard"}},
	}
	var ok struct {
		Status, Message string
		DedupKey        string `json:"dedup_key"`
	}
	for _, path := range []string{"/v2/enqueue", "/api/v1/ingest/pagerduty"} {
		status, data := b.do("POST", path, "", trigger)
		if status != 202 || json.Unmarshal(data, &ok) != nil || ok.Status != "success" || ok.Message != "Event processed" || len(ok.DedupKey) != 32 {
			t.Fatalf("POST %s: %d %s", path, status, data)
		}
	}
	trigger["dedup_key"] = "db-cpu"
	b.do("POST", "/v2/enqueue", "", trigger)
	status, data := b.do("POST", "/v2/enqueue", "", map[string]any{"routing_key": b.keys["pd"], "event_action": "acknowledge", "dedup_key": "db-cpu"})
	if status != 202 {
		t.Fatalf("acknowledge: %d %s", status, data)
	}
	var list struct{ Incidents []incident.Incident }
	b.json("GET", "/api/v1/incidents?status=acknowledged", "viewer", nil, 200, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].Severity != incident.SeverityWarning {
		t.Fatalf("acknowledged incidents = %+v", list.Incidents)
	}
	var pdErr struct {
		Status, Message string
		Errors          []string
	}
	status, data = b.do("POST", "/v2/enqueue", "", map[string]any{"routing_key": b.keys["pd"], "event_action": "trigger", "payload": map[string]any{"source": "x", "severity": "info"}})
	if status != 400 || json.Unmarshal(data, &pdErr) != nil || pdErr.Status != "invalid event" || pdErr.Message != "Event object is invalid" ||
		len(pdErr.Errors) != 1 || pdErr.Errors[0] != "'payload.summary' is missing or blank" {
		t.Fatalf("invalid event: %d %s", status, data)
	}
	trigger["routing_key"] = "fbi_wrong"
	if status, data := b.do("POST", "/v2/enqueue", "", trigger); status != 401 || !strings.Contains(string(data), "invalid routing key") {
		t.Fatalf("wrong routing key: %d %s", status, data)
	}
	trigger["routing_key"] = b.keys["am"]
	if status, data := b.do("POST", "/v2/enqueue", "", trigger); status != 403 {
		t.Fatalf("alertmanager key as routing key: %d %s", status, data)
	}
}

func TestGrafanaAndGenericAndGrouping(t *testing.T) {
	b := setup(t)
	grafana := `{"receiver":"fb","status":"firing","orgId":1,"title":"[FIRING:1] ServiceDown","state":"alerting","message":"down",
		"alerts":[{"status":"firing","labels":{"alertname":"ServiceDown","namespace":"telegram-platform","severity":"warning"},
		"annotations":{"summary":"telegram-platform is down"},"startsAt":"2026-11-26T03:00:00Z","endsAt":"0001-01-01T00:00:00Z",
		"values":{"A":0},"fingerprint":"abc123","dashboardURL":"http://grafana/d/x","panelURL":"http://grafana/d/x?viewPanel=2",
		"silenceURL":"http://grafana/alerting/silence/new"}],"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://grafana"}`
	b.json("POST", "/api/v1/ingest/grafana", "gf", grafana, 200, nil)
	// A second alert of the same name and namespace joins the incident.
	b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": "ServiceDown", "severity": "CRITICAL",
		"labels": map[string]string{"namespace": "telegram-platform", "pod": "tp-1"}}, 200, nil)
	var detail struct {
		Incident incident.Incident
		Alerts   []incident.Alert
	}
	b.json("GET", "/api/v1/incidents/1", "viewer", nil, 200, &detail)
	if detail.Incident.AlertCount != 2 || detail.Incident.Severity != incident.SeverityCritical {
		t.Fatalf("incident = %+v, want 2 alerts raised to critical", detail.Incident)
	}
	if len(detail.Alerts[0].Links) == 0 || !strings.Contains(string(detail.Alerts[0].Details), "viewPanel") {
		t.Fatalf("grafana alert lost its links or details: %+v", detail.Alerts[0])
	}
}

func TestStormBecomesOneIncident(t *testing.T) {
	b := setup(t)
	const n, per = 10000, 1000
	for i := 0; i < n; i += per {
		var alerts []string
		for j := i; j < i+per; j++ {
			alerts = append(alerts, fmt.Sprintf("HighAPIErrorRate/%016x", j))
		}
		var res struct{ Alerts int }
		b.json("POST", "/api/v1/ingest/alertmanager", "am", amBody("firing", alerts...), 200, &res)
		if res.Alerts != per {
			t.Fatalf("batch %d: %d alerts", i/per, res.Alerts)
		}
	}
	var list struct{ Incidents []incident.Incident }
	b.json("GET", "/api/v1/incidents", "viewer", nil, 200, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].AlertCount != n {
		t.Fatalf("incidents = %+v, want one holding %d alerts", list.Incidents, n)
	}
	// Page through all of them.
	seen, cursor := 0, ""
	for {
		var page struct {
			Alerts     []incident.Alert
			NextCursor string `json:"next_cursor"`
		}
		b.json("GET", "/api/v1/incidents/1/alerts?limit=500&cursor="+cursor, "viewer", nil, 200, &page)
		seen += len(page.Alerts)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if seen != n {
		t.Fatalf("paged %d alerts, want %d", seen, n)
	}
}

func TestHostilePayloadsStayData(t *testing.T) {
	b := setup(t)
	hostile := []string{"'; DROP TABLE alerts; --", "$(touch /tmp/pwned)", "`id`", "a\nb", "%s%n", "<script>alert(1)</script>", strings.Repeat("x", 20000)}
	for i, h := range hostile {
		b.json("POST", "/api/v1/ingest/generic", "gen", map[string]any{"name": fmt.Sprintf("Hostile%d", i), "summary": h,
			"labels": map[string]string{"payload": h}, "annotations": map[string]string{"description": h}}, 200, nil)
	}
	var list struct{ Incidents []incident.Incident }
	b.json("GET", "/api/v1/incidents?limit=100", "viewer", nil, 200, &list)
	if len(list.Incidents) != len(hostile) {
		t.Fatalf("%d incidents, want %d", len(list.Incidents), len(hostile))
	}
	for _, inc := range list.Incidents {
		var d struct{ Alerts []incident.Alert }
		b.json("GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), "viewer", nil, 200, &d)
		i := 0
		fmt.Sscanf(d.Alerts[0].Name, "Hostile%d", &i)
		if d.Alerts[0].Labels["payload"] != hostile[i] || d.Alerts[0].Summary != hostile[i] {
			t.Fatalf("hostile %d stored as %q", i, d.Alerts[0].Labels["payload"])
		}
	}
}

func TestMetricsAndOpenAPI(t *testing.T) {
	b := setup(t)
	b.json("POST", "/api/v1/ingest/alertmanager", "am", amBody("firing", "A/1", "B/2"), 200, nil)
	b.do("POST", "/api/v1/ingest/alertmanager", "am", `not json`)
	_, data := b.do("GET", "/metrics", "viewer", nil)
	for _, want := range []string{
		`firebreak_alerts_received_total{outcome="opened",source="alertmanager"} 2`,
		`firebreak_alerts_received_total{outcome="rejected",source="alertmanager"} 1`,
		`firebreak_open_incidents{severity="critical"} 2`,
		`firebreak_ingest_duration_seconds_count{outcome="accepted",source="alertmanager"} 1`,
		`firebreak_ingest_batch_alerts_count 1`,
		`firebreak_ingest_batch_requests_sum 1`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	b.json("GET", "/api/v1/openapi.json", "viewer", nil, 200, &doc)
	// Every documented operation is served: none falls through to "no route".
	for path, ops := range doc.Paths {
		for method := range ops {
			p := strings.ReplaceAll(strings.ReplaceAll(path, "{id}", "1"), "telegram-platform", "x")
			status, body := b.do(strings.ToUpper(method), p, "admin", nil)
			if strings.Contains(string(body), "no route for") {
				t.Errorf("%s %s is documented but not served (%d)", method, path, status)
			}
		}
	}
	if doc.OpenAPI == "" || len(doc.Paths) < 20 {
		t.Fatalf("openapi document has %d paths", len(doc.Paths))
	}
}

func TestPlaybooks(t *testing.T) {
	b := setup(t)
	var list struct {
		Playbooks []struct {
			ID         string
			Procedures []struct{ Title string }
		}
	}
	b.json("GET", "/api/v1/playbooks", "viewer", nil, 200, &list)
	if len(list.Playbooks) != 1 || list.Playbooks[0].ID != "telegram-platform" || len(list.Playbooks[0].Procedures) != 7 {
		t.Fatalf("playbooks = %+v", list.Playbooks)
	}
	var one struct{ Playbook playbook.Playbook }
	b.json("GET", "/api/v1/playbooks/telegram-platform", "viewer", nil, 200, &one)
	if len(one.Playbook.Phases) != 5 || len(one.Playbook.Escalation) != 4 || len(one.Playbook.Templates) != 2 {
		t.Fatalf("playbook has %d phases, %d levels, %d templates", len(one.Playbook.Phases), len(one.Playbook.Escalation), len(one.Playbook.Templates))
	}
	b.wantError("GET", "/api/v1/playbooks/nope", "viewer", nil, 404, incident.ENOTFOUND, "nope")
}
