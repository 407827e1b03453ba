package playbook

import (
	"reflect"
	"strings"
	"testing"
)

// TestSplitSQL checks where a block is cut into statements: by
// PostgreSQL's own parser, so that what is classified is what runs.
func TestSplitSQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"single", "SELECT 1", []string{"SELECT 1"}},
		{"trailing semicolon", "SELECT 1;\n", []string{"SELECT 1"}},
		{"two", "SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements", ";;SELECT 1;; ;", []string{"SELECT 1"}},
		{"only comments", "-- a comment\n/* block */ ; -- x", nil},
		{"empty", "  \n\t", nil},
		{"surrounding comments dropped", "-- Send notification\nINSERT INTO t VALUES (1); -- done\n/* next */ SELECT 2 -- trailing",
			[]string{"INSERT INTO t VALUES (1)", "SELECT 2"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"doubled quote", "SELECT 'it''s;'; SELECT 2", []string{"SELECT 'it''s;'", "SELECT 2"}},
		{"backslash in standard string", `SELECT 'a\'; SELECT 2`, []string{`SELECT 'a\'`, "SELECT 2"}},
		{"escape string", `SELECT E'a\';b'; SELECT 2`, []string{`SELECT E'a\';b'`, "SELECT 2"}},
		{"escape string lower", `SELECT e'\\'; SELECT 2`, []string{`SELECT e'\\'`, "SELECT 2"}},
		{"quoted identifier", `SELECT 1 AS "a;""b"; SELECT 2`, []string{`SELECT 1 AS "a;""b"`, "SELECT 2"}},
		{"dollar quote", "DO $$ BEGIN PERFORM 1; END $$; SELECT 2", []string{"DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"}},
		{"tagged dollar quote", "SELECT $fn$ a; $$ b; $fn$; SELECT 2", []string{"SELECT $fn$ a; $$ b; $fn$", "SELECT 2"}},
		{"parameters are not dollar quotes", "SELECT $1; SELECT $2", []string{"SELECT $1", "SELECT $2"}},
		{"named parameters", "SELECT $a; SELECT {{b}}", []string{"SELECT $a", "SELECT {{b}}"}},
		{"parameter at the end", "SELECT * FROM t WHERE a = $license_id", []string{"SELECT * FROM t WHERE a = $license_id"}},
		{"identifier with dollar", "SELECT a$b$c; SELECT 2", []string{"SELECT a$b$c", "SELECT 2"}},
		{"line comment with semicolon", "SELECT 1 -- no; split\n; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"nested block comment", "SELECT /* a /* b; */ c; */ 1; SELECT 2", []string{"SELECT /* a /* b; */ c; */ 1", "SELECT 2"}},
		{"begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT f()",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND", "SELECT f()"}},
		{"unparsable is cut at top-level semicolons", "SELEC 1; SELECT 'x;y'", []string{"SELEC 1", "SELECT 'x;y'"}},
		{"unterminated string", "SELECT 'abc; SELECT 2", []string{"SELECT 'abc; SELECT 2"}},
		{"unterminated dollar", "SELECT $$abc; SELECT 2", []string{"SELECT $$abc; SELECT 2"}},
		{"unterminated comment", "SELECT 1 /* x; y", []string{"SELECT 1 /* x; y"}},
		{"NUL byte", "SELECT 1;\x00 DELETE FROM t", []string{"SELECT 1;\x00 DELETE FROM t"}},
		{"division and minus", "SELECT 4/2 - 1; SELECT 2", []string{"SELECT 4/2 - 1", "SELECT 2"}},
		{"multibyte", "SELECT 'ü;ß' AS ä; SELECT 2", []string{"SELECT 'ü;ß' AS ä", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lx := lexSQL(tt.in)
			var got []string
			for _, sp := range lx.Stmts {
				got = append(got, tt.in[sp[0]:sp[1]])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lexSQL(%q) statements\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if lx.HasCode != (len(tt.want) > 0) {
				t.Errorf("HasCode = %v", lx.HasCode)
			}
		})
	}
}

// TestClassifiedIsExecuted checks, for blocks a naive splitter would cut
// differently, that Bind's statements (what the executor sends) are the
// statements the classifier judged, one for one.
func TestClassifiedIsExecuted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sql   string
		risks []Risk
	}{
		{"dollar quotes", "SELECT $fn$ a; $$ b; $fn$ AS d;\nUPDATE jobs SET note = $$x; DELETE FROM jobs$$", []Risk{RiskRead, RiskWrite}},
		{"escape string", "SELECT E'it\\'s; DELETE FROM jobs' AS e;\nSELECT 2", []Risk{RiskRead, RiskRead}},
		{"nested comments", "/* a /* nested; */ DELETE FROM jobs; */ SELECT 'x;y';\nSELECT 1 -- trailing; DELETE FROM jobs", []Risk{RiskRead, RiskRead}},
		{"begin atomic", "CREATE FUNCTION fb_two() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 3", []Risk{RiskWrite, RiskRead}},
		{"read then write", "SELECT 1;\nUPDATE jobs SET status='x'", []Risk{RiskRead, RiskWrite}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := StepFromText("sql", tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			r, err := st.Bind(nil)
			if err != nil {
				t.Fatal(err)
			}
			var judged, sent []string
			var risks []Risk
			for _, c := range st.Commands {
				judged = append(judged, c.Text)
				risks = append(risks, c.Risk)
			}
			for _, s := range r.Statements {
				sent = append(sent, s.SQL)
			}
			if !reflect.DeepEqual(judged, sent) {
				t.Errorf("classified\n%q\nbut would send\n%q", judged, sent)
			}
			if !reflect.DeepEqual(risks, tt.risks) {
				t.Errorf("risks %v, want %v", risks, tt.risks)
			}
		})
	}
}

// TestStepRiskIsTheWorstStatement guards against taking a step's risk from
// its first statement only.
func TestStepRiskIsTheWorstStatement(t *testing.T) {
	t.Parallel()
	for _, sql := range []string{
		"SELECT 1;\nUPDATE jobs SET status='x'",
		"SELECT 1;\nSELECT 2;\nDELETE FROM jobs",
		"SELECT 'a;b';\nUPDATE jobs SET status='x'",
		"SELECT $$;$$;\nUPDATE jobs SET status='x'",
	} {
		st, err := StepFromText("sql", sql)
		if err != nil {
			t.Fatal(err)
		}
		if st.Risk != RiskWrite {
			t.Errorf("StepFromText(%q): risk %s, want write", sql, st.Risk)
		}
		doc := "### WARNING: Jobs\n\n**Immediate Actions:**\n1. **Requeue:**\n   ```sql\n   " +
			strings.ReplaceAll(sql, "\n", "\n   ") + "\n   ```\n"
		pb, err := Parse("guard.md", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var risk Risk
		for _, pr := range pb.Procedures {
			for _, tk := range pr.Tasks() {
				if tk.Step != nil {
					risk = tk.Step.Risk
				}
			}
		}
		if risk != RiskWrite {
			t.Errorf("Parse(%q): risk %q, want write", sql, risk)
		}
		if got, _ := ClassifySQL(sql); got != RiskWrite {
			t.Errorf("ClassifySQL(%q) = %s, want write", sql, got)
		}
	}
}

func TestBindStatementsNumberedPerStatement(t *testing.T) {
	t.Parallel()
	st, err := StepFromText("sql", "UPDATE jobs SET status = $status WHERE id = $job_id;\nSELECT count(*) FROM jobs WHERE id = $job_id")
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Bind(map[string]string{"status": "x; DROP TABLE jobs", "job_id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	want := []BoundSQL{
		{SQL: "UPDATE jobs SET status = $1 WHERE id = $2", Args: []any{"x; DROP TABLE jobs", "7"}, ArgNames: []string{"status", "job_id"}},
		{SQL: "SELECT count(*) FROM jobs WHERE id = $1", Args: []any{"7"}, ArgNames: []string{"job_id"}},
	}
	if !reflect.DeepEqual(r.Statements, want) {
		t.Errorf("statements\n got %+v\nwant %+v", r.Statements, want)
	}
}

// FuzzSplitSQL checks that statement spans are in order, inside the text,
// hold code, and never cut a placeholder.
func FuzzSplitSQL(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT 'a;b'", "DO $x$ ; $x$", "/* /* */ */;", "E'\\';'",
		"SELECT $a; SELECT {{ b }};", "SELECT '{{c}}'", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
		"SELEC 1; SELECT 2", "SELECT 'x", "SELECT 1 \x00; DELETE FROM t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lx := lexSQL(s)
		prev := 0
		for _, sp := range lx.Stmts {
			if sp[0] < prev || sp[1] <= sp[0] || sp[1] > len(s) {
				t.Fatalf("bad span %v (previous end %d) in %q", sp, prev, s)
			}
			prev = sp[1]
			for _, p := range lx.Params {
				if p.Start < sp[1] && p.End > sp[0] && (p.Start < sp[0] || p.End > sp[1]) {
					t.Fatalf("span %v cuts placeholder %+v in %q", sp, p, s)
				}
			}
		}
		if a := analyzeSQL(s); len(a.Stmts) != len(lx.Stmts) {
			t.Fatalf("%d statements classified, %d split", len(a.Stmts), len(lx.Stmts))
		}
	})
}
