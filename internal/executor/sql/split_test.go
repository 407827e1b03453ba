package sql

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
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
		{"leading comment kept", "-- Send notification\nINSERT INTO t VALUES (1);",
			[]string{"-- Send notification\nINSERT INTO t VALUES (1)"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"doubled quote", "SELECT 'it''s;'; SELECT 2", []string{"SELECT 'it''s;'", "SELECT 2"}},
		{"backslash in standard string", `SELECT 'a\'; SELECT 2`, []string{`SELECT 'a\'`, "SELECT 2"}},
		{"escape string", `SELECT E'a\';b'; SELECT 2`, []string{`SELECT E'a\';b'`, "SELECT 2"}},
		{"escape string lower", `SELECT e'\\'; SELECT 2`, []string{`SELECT e'\\'`, "SELECT 2"}},
		{"identifier ending in e", `SELECT some'x;'`, []string{`SELECT some'x;'`}},
		{"quoted identifier", `SELECT 1 AS "a;""b"; SELECT 2`, []string{`SELECT 1 AS "a;""b"`, "SELECT 2"}},
		{"dollar quote", "DO $$ BEGIN PERFORM 1; END $$; SELECT 2", []string{"DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"}},
		{"tagged dollar quote", "SELECT $fn$ a; $$ b; $fn$; SELECT 2", []string{"SELECT $fn$ a; $$ b; $fn$", "SELECT 2"}},
		{"parameters are not dollar quotes", "SELECT $1; SELECT $2", []string{"SELECT $1", "SELECT $2"}},
		{"identifier with dollar", "SELECT a$b$c; SELECT 2", []string{"SELECT a$b$c", "SELECT 2"}},
		{"line comment with semicolon", "SELECT 1 -- no; split\n; SELECT 2", []string{"SELECT 1 -- no; split", "SELECT 2"}},
		{"nested block comment", "SELECT /* a /* b; */ c; */ 1; SELECT 2", []string{"SELECT /* a /* b; */ c; */ 1", "SELECT 2"}},
		{"unterminated string", "SELECT 'abc; SELECT 2", []string{"SELECT 'abc; SELECT 2"}},
		{"unterminated dollar", "SELECT $$abc; SELECT 2", []string{"SELECT $$abc; SELECT 2"}},
		{"unterminated comment", "SELECT 1 /* x; y", []string{"SELECT 1 /* x; y"}},
		{"division and minus", "SELECT 4/2 - 1; SELECT 2", []string{"SELECT 4/2 - 1", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := splitStatements(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitStatements(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLeadingWords(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, w1, w2 string }{
		{"SELECT 1", "select", ""},
		{"-- c\n/* d */ Rollback TO sp", "rollback", "to"},
		{"  commit", "commit", ""},
		{"PREPARE TRANSACTION 'x'", "prepare", "transaction"},
		{"(SELECT 1)", "", ""},
		{"-- only", "", ""},
	}
	for _, tt := range tests {
		if w1, w2 := leadingWords(tt.in); w1 != tt.w1 || w2 != tt.w2 {
			t.Errorf("leadingWords(%q) = %q %q, want %q %q", tt.in, w1, w2, tt.w1, tt.w2)
		}
	}
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT 'a;b'", "DO $x$ ; $x$", "/* /* */ */;", "E'\\';'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, st := range splitStatements(s) {
			if st == "" {
				t.Fatalf("empty statement from %q", s)
			}
		}
		leadingWords(s)
	})
}
