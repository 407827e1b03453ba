package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest/pagerduty"
	"github.com/firebreak-dev/firebreak/internal/store"
)

type pdAnswer struct {
	Status, Message string
	Errors          []string
}

func (b *bundle) pagerDuty(path string, body []byte, chunked bool) (int, pdAnswer) {
	b.t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: sent chunked
	}
	resp, err := http.Post(b.srv.URL+path, "application/json", r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a pdAnswer
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &a); err != nil {
		b.t.Fatalf("POST %s: %d %s: %v", path, resp.StatusCode, data, err)
	}
	return resp.StatusCode, a
}

// pdEvent is a valid trigger of about size bytes whose routing_key comes
// last, after the large payload.
func pdEvent(key string, size int) []byte {
	head := `{"event_action":"trigger","payload":{"summary":"disk full","source":"db-1","severity":"info","custom_details":{"pad":"`
	tail := fmt.Sprintf(`"}},"routing_key":%q}`, key)
	return []byte(head + strings.Repeat("x", max(0, size-len(head)-len(tail))) + tail)
}

func TestPagerDutyBodyLimit(t *testing.T) {
	b := setup(t)
	for _, path := range []string{"/v2/enqueue", "/api/v1/ingest/pagerduty"} {
		for _, chunked := range []bool{false, true} {
			// PagerDuty's own limit, though the intake's is 4 MiB here.
			status, a := b.pagerDuty(path, pdEvent(b.keys["pd"], pagerduty.MaxBodyBytes+1), chunked)
			if status != 413 || a.Status != "Request Entity Too Large" || len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "512 KB") {
				t.Errorf("POST %s of 512 KB + 1 (chunked %v): %d %+v", path, chunked, status, a)
			}
			if status, a := b.pagerDuty(path, pdEvent(b.keys["pd"], pagerduty.MaxBodyBytes), chunked); status != 202 {
				t.Errorf("POST %s of 512 KB (chunked %v): %d %+v", path, chunked, status, a)
			}
		}
	}
}

func TestPagerDutyChecksTheKeyBeforeDecoding(t *testing.T) {
	b := setup(t)
	// An event that is invalid past its key: a wrong key is what is
	// reported, as the rest is never decoded.
	invalid := `{"routing_key":%q,"event_action":"explode","payload":7}`
	if status, a := b.pagerDuty("/v2/enqueue", fmt.Appendf(nil, invalid, "fbi_wrong"), false); status != 401 || a.Message != "invalid routing key" {
		t.Errorf("wrong key, invalid event: %d %+v", status, a)
	}
	if status, a := b.pagerDuty("/v2/enqueue", fmt.Appendf(nil, invalid, b.keys["am"]), false); status != 403 || a.Message != "invalid routing key" {
		t.Errorf("alertmanager key, invalid event: %d %+v", status, a)
	}
	// With the right key the event's own errors are reported.
	status, a := b.pagerDuty("/v2/enqueue", fmt.Appendf(nil, invalid, b.keys["pd"]), false)
	if status != 400 || a.Status != "invalid event" || len(a.Errors) != 1 || !strings.HasPrefix(a.Errors[0], "'event_action' is invalid") {
		t.Errorf("right key, invalid event: %d %+v", status, a)
	}
	for body, want := range map[string]string{
		`{"event_action":"trigger"}`:       "'routing_key' is missing or blank",
		`{"routing_key":5}`:                "'routing_key' must be a string, got number",
		`{"routing_key":"k","payload":{]}`: "body: invalid JSON at offset 30",
	} {
		status, a := b.pagerDuty("/v2/enqueue", []byte(body), false)
		if status != 400 || a.Status != "invalid event" || len(a.Errors) != 1 || !strings.HasPrefix(a.Errors[0], want) {
			t.Errorf("%s: %d %+v, want 400 %q", body, status, a, want)
		}
	}

	// A wrong key in a large event costs the body's bytes, not a decode
	// (which copies every value, and reading without a known length grows
	// a buffer by doubling).
	body := pdEvent("fbi_wrong", 500<<10)
	const n = 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		req := httptest.NewRequest("POST", "/v2/enqueue", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("wrong key: %d %s", rec.Code, rec.Body)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > uint64(len(body))*5/4 {
		t.Errorf("a wrong key in a %d-byte event allocated %d bytes", len(body), per)
	}
}

// lostTokens is a database whose token lookups fail, as when it is down.
type lostTokens struct{ store.Store }

func (lostTokens) TokenByHash(context.Context, []byte) (*auth.Token, error) {
	return nil, errors.New("failed to connect to `user=firebreak database=firebreak`: 10.0.0.7:5432: connection refused")
}

func TestTokenLookupFaultIsRetryable(t *testing.T) {
	b := setupWith(t, options{tokenStore: func(s store.Store) store.Store { return lostTokens{s} }})
	doc, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range spec.Paths {
		if path == "/healthz" || path == "/readyz" {
			continue
		}
		for method, op := range ops {
			var body any
			if op.Security != nil { // the PagerDuty paths: the key is in the body
				body = pdEvent(b.keys["pd"], 100)
			}
			p := strings.NewReplacer("{id}", "1", "{hash}", "abc").Replace(path)
			status, h, data := b.request(strings.ToUpper(method), p, "admin", body)
			if status != 503 || h.Get("Retry-After") == "" || strings.Contains(string(data), "10.0.0.7") {
				t.Errorf("%s %s with the database down: %d, Retry-After %q: %s", method, path, status, h.Get("Retry-After"), data)
			}
			n++
		}
	}
	if n < 30 {
		t.Fatalf("checked %d operations", n)
	}
	// A bad token still is a 401 when the database answers.
	b = setup(t)
	b.keys["bogus"] = "fbt_bogus"
	b.wantError("GET", "/api/v1/incidents", "bogus", nil, 401, incident.EUNAUTHORIZED, "invalid")
}

func TestReadyzSaysLittleWithoutAToken(t *testing.T) {
	dbErr := errors.New("failed to connect to `user=postgres database=prod`: 10.1.2.3:5432 (postgres://postgres:hunter22@10.1.2.3:5432/prod): dial error")
	var down bool
	b := setupWith(t, options{
		ready: func(context.Context) error {
			if down {
				return dbErr
			}
			return nil
		},
		sandbox: func() string { return "bubblewrap 0.9.0, network off" },
	})
	b.keys["bogus"] = "fbt_bogus"
	for _, c := range []struct {
		down   bool
		as     string
		status int
		want   string
	}{
		{false, "", 200, `{"status":"ready"}`},
		{true, "", 503, `{"status":"not ready"}`},
		{true, "bogus", 503, `{"status":"not ready"}`},
		{false, "viewer", 200, `{"checks":{"database":"ok","sandbox":"bubblewrap 0.9.0, network off"},"status":"ready"}`},
		{true, "am", 503, `{"checks":{"database":"error: failed to connect to ` + "`user=postgres database=prod`" +
			`: 10.1.2.3:5432 (postgres://postgres:xxxxx@10.1.2.3:5432/prod): dial error","sandbox":"bubblewrap 0.9.0, network off"},"status":"not ready"}`},
	} {
		down = c.down
		status, data := b.do("GET", "/readyz", c.as, nil)
		if status != c.status || strings.TrimSpace(string(data)) != c.want {
			t.Errorf("database down %v, token %q: %d %s\nwant %d %s", c.down, c.as, status, data, c.status, c.want)
		}
	}
}

func TestRevokeOnlyItsOwnKind(t *testing.T) {
	b := setup(t)
	var tok, key struct{ ID int64 }
	b.json("POST", "/api/v1/tokens", "admin", map[string]string{"name": "alice", "role": "viewer"}, 201, &tok)
	b.json("POST", "/api/v1/integrations", "admin", map[string]string{"name": "prod-am", "source": "alertmanager"}, 201, &key)

	b.wantError("DELETE", fmt.Sprintf("/api/v1/integrations/%d", tok.ID), "admin", nil, 404, incident.ENOTFOUND, "integration key")
	b.wantError("DELETE", fmt.Sprintf("/api/v1/tokens/%d", key.ID), "admin", nil, 404, incident.ENOTFOUND, "token")
	live := func() map[int64]bool {
		toks, err := b.store.ListTokens(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		m := map[int64]bool{}
		for _, t := range toks {
			m[t.ID] = t.RevokedAt.IsZero()
		}
		return m
	}
	if l := live(); !l[tok.ID] || !l[key.ID] {
		t.Fatalf("a revocation through the other kind's route went through: %v", l)
	}

	b.json("DELETE", fmt.Sprintf("/api/v1/integrations/%d", key.ID), "admin", nil, 204, nil)
	b.json("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tok.ID), "admin", nil, 204, nil)
	b.wantError("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tok.ID), "admin", nil, 404, incident.ENOTFOUND, "already revoked")
	if l := live(); l[tok.ID] || l[key.ID] {
		t.Fatalf("not revoked: %v", l)
	}

	db, err := sql.Open("sqlite", b.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, target, detail FROM audit_log WHERE action LIKE '%.revoke' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, action, target, detail string
		if err := rows.Scan(&actor, &action, &target, &detail); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{actor, action, target, detail}, " "))
	}
	want := []string{
		fmt.Sprintf(`admin integration.revoke prod-am {"id":%d,"role":"ingest","source":"alertmanager"}`, key.ID),
		fmt.Sprintf(`admin token.revoke alice {"id":%d,"role":"viewer","source":""}`, tok.ID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
