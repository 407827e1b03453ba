package playbook

import (
	"reflect"
	"strings"
	"testing"
)

func TestClassifySQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sql  string
		want Risk
		why  string // substring of the reason
	}{
		// Every statement of the reference document.
		{"ref active connections", `SELECT count(*) FROM pg_stat_activity WHERE state = 'active';`, RiskRead, "SELECT"},
		{"ref pause campaigns", `UPDATE campaigns SET status = 'PAUSED' WHERE success_rate < 0.8;`, RiskWrite, "UPDATE"},
		{"ref failed messages", "SELECT error_type, COUNT(*) FROM message_logs\nWHERE status = 'FAILED' AND created_at > NOW() - INTERVAL '1 hour'\nGROUP BY error_type;", RiskRead, "SELECT"},
		{"ref stuck jobs", "SELECT id, type, status, created_at FROM jobs\nWHERE status = 'RUNNING' AND updated_at < NOW() - INTERVAL '30 minutes';", RiskRead, "SELECT"},
		{"ref job failures", "SELECT type, error_type, COUNT(*) FROM job_executions\nWHERE status = 'FAILED' AND created_at > NOW() - INTERVAL '1 hour'\nGROUP BY type, error_type;", RiskRead, "SELECT"},
		{"ref long-running", "SELECT pid, now() - pg_stat_activity.query_start AS duration, query\nFROM pg_stat_activity\nWHERE state = 'active' AND now() - pg_stat_activity.query_start > interval '1 minute'\nORDER BY duration DESC;", RiskRead, "SELECT"},
		{"ref cancel backend", `SELECT pg_cancel_backend(pid);`, RiskWrite, "pg_cancel_backend"},
		{"ref explain analyze", `EXPLAIN ANALYZE SELECT * FROM slow_table WHERE condition;`, RiskWrite, "EXPLAIN ANALYZE"},
		{"ref notify users", "-- Send notification to users near quota\nINSERT INTO notifications (user_id, type, title, message)\nSELECT user_id, 'SECURITY', 'License Usage Warning',\n'Your license usage is at ' || ROUND(usage_ratio * 100, 1) || '%'\nFROM license_daily_usage_view\nWHERE usage_ratio > 0.9 AND date = CURRENT_DATE;", RiskWrite, "INSERT"},
		{"ref usage patterns", "SELECT action, COUNT(*), SUM(cost) FROM usage_logs\nWHERE license_id = $license_id AND created_at > NOW() - INTERVAL '7 days'\nGROUP BY action ORDER BY count DESC;", RiskRead, "SELECT"},
		{"ref lock accounts", "UPDATE users SET is_active = false\nWHERE id IN (\n  SELECT user_id FROM auth_audit_log\n  WHERE event = 'LOGIN_FAILED' AND created_at > NOW() - INTERVAL '1 hour'\n  GROUP BY user_id HAVING COUNT(*) > 5\n);", RiskWrite, "UPDATE"},
		{"ref attack patterns", "SELECT ip_address, user_agent, COUNT(*) as attempts,\narray_agg(DISTINCT user_id) as target_users\nFROM auth_audit_log\nWHERE event = 'LOGIN_FAILED' AND created_at > NOW() - INTERVAL '1 hour'\nGROUP BY ip_address, user_agent\nORDER BY attempts DESC;", RiskRead, "SELECT"},

		// Tricky ones.
		{"cte with update", `WITH moved AS (UPDATE jobs SET status = 'QUEUED' WHERE status = 'RUNNING' RETURNING id) SELECT count(*) FROM moved;`, RiskWrite, "UPDATE"},
		{"cte with delete", `WITH d AS (DELETE FROM jobs RETURNING *) SELECT * FROM d`, RiskWrite, "DELETE"},
		{"terminate from pg_stat_activity", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction';`, RiskWrite, "pg_terminate_backend"},
		{"qualified terminate", `SELECT pg_catalog.pg_terminate_backend(123)`, RiskWrite, "pg_terminate_backend"},
		{"function in FROM", `SELECT * FROM pg_cancel_backend(42)`, RiskWrite, "pg_cancel_backend"},
		{"multi statement read then write", `SELECT 1; UPDATE t SET a = 1;`, RiskWrite, "UPDATE"},
		{"multi statement reads", `SELECT 1; SHOW work_mem; SELECT now();`, RiskRead, ""},
		{"comment hides nothing", "-- UPDATE users SET admin = true;\nSELECT 1;", RiskRead, "SELECT"},
		{"block comment", "/* DELETE FROM users; */ SELECT 1", RiskRead, "SELECT"},
		{"nested block comment", "/* a /* DELETE FROM users; */ b */ SELECT 1", RiskRead, "SELECT"},
		{"semicolon in string", `SELECT 'a; DROP TABLE users' AS s`, RiskRead, "SELECT"},
		{"explain parenthesised analyze", `EXPLAIN (ANALYZE) SELECT 1`, RiskWrite, "EXPLAIN ANALYZE"},
		{"explain analyze off", `EXPLAIN (ANALYZE false, COSTS) SELECT 1`, RiskRead, "EXPLAIN"},
		{"explain analyse spelling", `EXPLAIN ANALYSE SELECT 1`, RiskWrite, "EXPLAIN ANALYZE"},
		{"explain of update", `EXPLAIN UPDATE t SET a = 1`, RiskRead, "EXPLAIN"},
		{"explain analyze verbose", `EXPLAIN (ANALYZE true, VERBOSE) SELECT 1`, RiskWrite, "EXPLAIN ANALYZE"},
		{"show", `SHOW statement_timeout`, RiskRead, "SHOW"},
		{"select for update", `SELECT * FROM jobs WHERE id = 1 FOR UPDATE`, RiskWrite, "FOR UPDATE"},
		{"select for share skip locked", `SELECT * FROM jobs FOR SHARE SKIP LOCKED`, RiskWrite, "FOR UPDATE"},
		{"select into", `SELECT * INTO backup_jobs FROM jobs`, RiskWrite, "SELECT INTO"},
		{"nextval", `SELECT nextval('jobs_id_seq')`, RiskWrite, "nextval"},
		{"setval", `SELECT setval('jobs_id_seq', 1)`, RiskWrite, "setval"},
		{"set_config", `SELECT set_config('work_mem', '1GB', false)`, RiskWrite, "set_config"},
		{"reload conf", `SELECT pg_reload_conf()`, RiskWrite, "pg_reload_conf"},
		{"advisory lock", `SELECT pg_advisory_lock(1)`, RiskWrite, "pg_advisory_lock"},
		{"advisory xact lock", `SELECT pg_try_advisory_xact_lock(1)`, RiskWrite, "pg_try_advisory_xact_lock"},
		{"stat reset", `SELECT pg_stat_reset()`, RiskWrite, "pg_stat_reset"},
		{"unknown function", `SELECT archive_old_jobs()`, RiskWrite, "unknown"},
		{"user schema function", `SELECT ops.count(*) FROM jobs`, RiskWrite, "unknown"},
		{"subquery function", `SELECT * FROM jobs WHERE id IN (SELECT pg_cancel_backend(pid) FROM pg_stat_activity)`, RiskWrite, "pg_cancel_backend"},
		{"window and builtins", `SELECT date_trunc('hour', created_at), count(*) OVER (), coalesce(a, 0), greatest(1, 2) FROM t`, RiskRead, "SELECT"},
		{"union", `SELECT 1 UNION SELECT 2`, RiskRead, "SELECT"},
		{"set", `SET statement_timeout = '1s'`, RiskWrite, "SET"},
		{"begin", `BEGIN`, RiskWrite, "transaction"},
		{"vacuum", `VACUUM ANALYZE jobs`, RiskWrite, "VACUUM"},
		{"truncate", `TRUNCATE jobs`, RiskWrite, "TRUNCATE"},
		{"copy", `COPY jobs TO STDOUT`, RiskWrite, "COPY"},
		{"do block", `DO $$ BEGIN PERFORM 1; END $$`, RiskWrite, "DO"},
		{"unparsable", `SELEC * FORM jobs`, RiskWrite, "does not parse"},
		{"named parameter", `SELECT * FROM usage_logs WHERE license_id = $license_id`, RiskRead, "SELECT"},
		{"braces parameter", `SELECT * FROM users WHERE email = {{email}}`, RiskRead, "SELECT"},
		{"dollar quoted string", `SELECT $body$ DELETE FROM users; $body$ AS s`, RiskRead, "SELECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := ClassifySQL(tt.sql)
			if got != tt.want {
				t.Fatalf("risk = %s (%s), want %s", got, why, tt.want)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("reason %q does not mention %q", why, tt.why)
			}
		})
	}
}

func TestSQLStatements(t *testing.T) {
	t.Parallel()
	a := analyzeSQL("-- lead comment\nSELECT 1;\n\n/* x; */ UPDATE t SET a = ';';\nSELECT 'it''s'")
	var got []string
	for _, s := range a.Stmts {
		got = append(got, string(s.Risk))
	}
	if want := []string{"read", "write", "read"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %v, want %v", got, want)
	}
	if !a.Lex.HasCode || lexSQL("-- only\n/* comments */").HasCode {
		t.Error("HasCode wrong")
	}
}

func TestFreeIdentifiersAndPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql          string
		free         []string
		placeholders []string
		columns      []string
	}{
		{`SELECT pg_cancel_backend(pid);`, []string{"pid"}, nil, []string{"pg_cancel_backend"}},
		{`SELECT pg_terminate_backend(pid) FROM pg_stat_activity`, nil, nil, []string{"pg_terminate_backend"}},
		{`EXPLAIN ANALYZE SELECT * FROM slow_table WHERE condition;`, nil, []string{"slow_table", "condition"}, []string{"QUERY PLAN"}},
		{`SELECT 1 AS n ORDER BY n`, nil, nil, []string{"n"}},
		{`INSERT INTO t (a) VALUES (user_id)`, []string{"user_id"}, nil, nil},
		{`SELECT a, b AS c FROM your_table`, nil, []string{"your_table"}, []string{"a", "c"}},
		{`SELECT user_id FROM users WHERE name = 'x'`, nil, nil, []string{"user_id"}},
	}
	for _, tt := range tests {
		a := analyzeSQL(tt.sql)
		var free, ph, cols []string
		for _, s := range a.Stmts {
			for _, f := range s.Free {
				free = append(free, f.Name)
				if tt.sql[f.Start:f.End] != f.Name {
					t.Errorf("%s: free span %q", tt.sql, tt.sql[f.Start:f.End])
				}
			}
			ph = append(ph, s.Placeholders...)
			cols = s.Columns
		}
		if !reflect.DeepEqual(free, tt.free) || !sameSet(ph, tt.placeholders) || !reflect.DeepEqual(cols, tt.columns) {
			t.Errorf("%s: free %v placeholders %v columns %v", tt.sql, free, ph, cols)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestPositionalSQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, out string
		names   []string
	}{
		{"SELECT * FROM usage_logs WHERE license_id = $license_id AND x = $license_id", "SELECT * FROM usage_logs WHERE license_id = $1 AND x = $1", []string{"license_id"}},
		{"SELECT $1, $2", "SELECT $1, $2", []string{"$1", "$2"}},
		{"SELECT $2, $who, {{ what }}", "SELECT $2, $3, $4", []string{"$1", "$2", "who", "what"}},
		{"SELECT '$notaparam', \"$col\", $tag$ $x $tag$ -- $y\n", "SELECT '$notaparam', \"$col\", $tag$ $x $tag$ -- $y\n", nil},
		{"SELECT a$b FROM t WHERE n = '{{name}}'", "SELECT a$b FROM t WHERE n = $1", []string{"name"}},
	}
	for _, tt := range tests {
		out, names, err := PositionalSQL(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if out != tt.out || !reflect.DeepEqual(names, tt.names) && !(len(names) == 0 && len(tt.names) == 0) {
			t.Errorf("PositionalSQL(%q) = %q %v, want %q %v", tt.in, out, names, tt.out, tt.names)
		}
	}
}

func TestClassifyShell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line   string
		want   Risk
		native bool
	}{
		// The reference's commands.
		{"kubectl scale deployment telegram-platform --replicas=5", RiskWrite, true},
		{"kubectl rollout restart deployment telegram-platform", RiskWrite, true},
		{"kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR", RiskRead, true},
		{"kubectl scale deployment message-worker --replicas=10", RiskWrite, true},
		{"kubectl scale deployment job-worker --replicas=15", RiskWrite, true},
		{"kubectl scale deployment postgres --replicas=2", RiskWrite, true},
		{"iptables -A INPUT -s SUSPICIOUS_IP -j DROP", RiskWrite, false},
		{"kubectl get pods -l app=telegram-platform", RiskRead, true},
		{"kubectl describe pod <failed-pod>", RiskRead, true},
		{"kubectl top pods", RiskRead, true},
		{"kubectl logs <pod-name> --previous", RiskRead, true},
		// Others.
		{"kubectl -n prod get pods", RiskRead, true},
		{"kubectl get pods -o wide | grep Crash", RiskRead, true},
		{"kubectl get pods | grep -v Running", RiskRead, false},
		{"kubectl get pods | wc -l", RiskRead, false},
		{"kubectl get secrets", RiskRead, false},
		{"kubectl delete pod x", RiskWrite, false},
		{"kubectl exec -it x -- sh", RiskWrite, false},
		{"kubectl apply -f x.yaml", RiskWrite, false},
		{"kubectl scale deployment/api --replicas 3 -n prod", RiskWrite, true},
		{"kubectl rollout restart deployment/api", RiskWrite, true},
		{"kubectl rollout status deployment/api", RiskWrite, false},
		{"kubectl get pods > pods.txt", RiskWrite, false},
		{"kubectl get pods 2>/dev/null", RiskRead, false},
		{"kubectl get pods | grep -e <pattern>", RiskRead, true},
		{"kubectl get pods; rm -rf /", RiskWrite, false},
		{"kubectl get pods && kubectl delete pod x", RiskWrite, false},
		{"kubectl get pods $(whoami)", RiskWrite, false},
		{"kubectl get pods | sh", RiskWrite, false},
		{"curl -s http://localhost/health", RiskWrite, false},
		{"echo hi", RiskWrite, false},
		{"psql -c 'select 1'", RiskWrite, false},
		{"FOO=1 kubectl get pods", RiskWrite, false},
	}
	for _, tt := range tests {
		got, why, k := classifyScript(tt.line)
		if got != tt.want || (k != nil) != tt.native {
			t.Errorf("%q = %s (%s) native=%v, want %s native=%v", tt.line, got, why, k != nil, tt.want, tt.native)
		}
	}
}

func TestNativeKube(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want KubeCommand
	}{
		{"kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR", KubeCommand{Verb: "logs", Resource: "deployment", Name: "telegram-platform", Flags: map[string]string{"follow": "true", "since": "10m"}, Grep: "ERROR", Bounded: true}},
		{"kubectl get pods -l app=telegram-platform", KubeCommand{Verb: "get", Resource: "pods", Selector: "app=telegram-platform"}},
		{"kubectl describe pod <failed-pod>", KubeCommand{Verb: "describe", Resource: "pod", Name: "<failed-pod>"}},
		{"kubectl logs <pod-name> --previous", KubeCommand{Verb: "logs", Resource: "pod", Name: "<pod-name>", Flags: map[string]string{"previous": "true"}}},
		{"kubectl top pods", KubeCommand{Verb: "top", Resource: "pods"}},
		{"kubectl scale deployment telegram-platform --replicas=5", KubeCommand{Verb: "scale", Resource: "deployment", Name: "telegram-platform", Flags: map[string]string{"replicas": "5"}}},
		{"kubectl rollout restart deployment telegram-platform", KubeCommand{Verb: "rollout restart", Resource: "deployment", Name: "telegram-platform"}},
		{"kubectl logs -n payments -c api --tail=100 pod/api-1 | grep 'timeout exceeded'", KubeCommand{Verb: "logs", Resource: "pod", Name: "api-1", Namespace: "payments", Flags: map[string]string{"container": "api", "tail": "100"}, Grep: "timeout exceeded"}},
	}
	for _, tt := range tests {
		_, _, k := classifyScript(tt.line)
		if k == nil {
			t.Errorf("%q: not native", tt.line)
			continue
		}
		tt.want.Raw = tt.line
		if !reflect.DeepEqual(*k, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.line, *k, tt.want)
		}
	}
}

func TestScanShell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script string
		names  []string
		out    string
	}{
		{"iptables -A INPUT -s SUSPICIOUS_IP -j DROP", []string{"SUSPICIOUS_IP"}, `iptables -A INPUT -s "$FB_PARAM_SUSPICIOUS_IP" -j DROP`},
		{"# Add to firewall or BLOCK_LIST\necho $HOME_DIR ${OTHER_VAR} X_Y=1", nil, "# Add to firewall or BLOCK_LIST\necho $HOME_DIR ${OTHER_VAR} X_Y=1"},
		{"kubectl describe pod <failed-pod>", []string{"failed-pod"}, `kubectl describe pod "$FB_PARAM_FAILED_POD"`},
		{`echo "pod <pod>x" '{{ns}}'`, []string{"pod", "ns"}, `echo "pod ${FB_PARAM_POD}x" ''"$FB_PARAM_NS"''`},
		{"curl {{url}}", []string{"url"}, `curl "$FB_PARAM_URL"`},
	}
	for _, tt := range tests {
		phs := scanShell(tt.script)
		var names []string
		for _, p := range phs {
			names = append(names, p.Name)
		}
		if !reflect.DeepEqual(names, tt.names) {
			t.Errorf("%q: names %v, want %v", tt.script, names, tt.names)
		}
		if got := renderShell(tt.script, phs); got != tt.out {
			t.Errorf("%q: rendered %q, want %q", tt.script, got, tt.out)
		}
	}
}
