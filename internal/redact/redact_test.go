package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestStringBuiltins(t *testing.T) {
	t.Parallel()
	r := Default()
	tests := []struct {
		name, in, want string
	}{
		{"postgres url", "dial postgres://user:SECRET@db:5432/app failed",
			"dial postgres://user:xxxxx@db:5432/app failed"},
		{"url with escaped password", "postgresql://app:p%40ss%2Fw0rd@10.0.0.1/db?sslmode=disable",
			"postgresql://app:xxxxx@10.0.0.1/db?sslmode=disable"},
		{"url without user", "redis://:hunter22@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"url without password untouched", "https://example.com:8443/a?b=c", "https://example.com:8443/a?b=c"},
		{"url user only untouched", "ssh://git@github.com/x", "ssh://git@github.com/x"},
		{"two urls", "a=http://u:one@h b=http://v:two@k", "a=http://u:xxxxx@h b=http://v:xxxxx@k"},
		{"libpq key value", "host=db user=app password=SECRET dbname=x",
			"host=db user=app password=xxxxx dbname=x"},
		{"libpq quoted", "host=db password='se cr\\'et' dbname=x", "host=db password='xxxxx' dbname=x"},
		{"json", `{"user":"a","password":"SECRET","n":1}`, `{"user":"a","password":"xxxxx","n":1}`},
		{"json spaced", `{"password" : "SEC RET"}`, `{"password" : "xxxxx"}`},
		{"yaml", "  db_password: SECRET\n  host: x", "  db_password: xxxxx\n  host: x"},
		{"env", "PGPASSWORD=SECRET psql", "PGPASSWORD=xxxxx psql"},
		{"token env", "FIREBREAK_TOKEN=abc123def", "FIREBREAK_TOKEN=xxxxx"},
		{"api key", "api_key=AKIA1234&x=1", "api_key=xxxxx&x=1"},
		{"client secret", "client_secret: 's3cr3t'", "client_secret: 'xxxxx'"},
		{"bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.abc", "Authorization: Bearer xxxxx"},
		{"bearer lower", "curl -H 'authorization: bearer abcdefgh12345678'", "curl -H 'authorization: bearer xxxxx'"},
		{"bearer prose untouched", "a bearer token is required", "a bearer token is required"},
		{"basic", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic xxxxx"},
		{"api token", "token fbt_AbCdEf0123456789_-xyz used", "token fbt_xxxxx used"},
		{"integration key", "key=fbi_9f8e7d6c5b4a", "key=fbi_xxxxx"},
		{"integration key bare", "routing fbi_9f8e7d6c5b4a now", "routing fbi_xxxxx now"},
		{"short prefix untouched", "fbt_ab", "fbt_ab"},
		{"private key", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\ny",
			"x\nxxxxx\ny"},
		{"plain", "SELECT count(*) FROM jobs WHERE status = 'PENDING'", "SELECT count(*) FROM jobs WHERE status = 'PENDING'"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Secrets: []string{"p@ss/word!", "hunter2hunter2", "pw", ""}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"the password is p@ss/word! ok", "the password is xxxxx ok"},
		{"escaped p%40ss%2Fword%21 in a url", "escaped xxxxx in a url"},
		{"userinfo p%40ss%2Fword%21@", "userinfo xxxxx@"},
		{"hunter2hunter2hunter2hunter2", "xxxxxxxxxx"},
		// "pw" is shorter than MinSecretLen and left alone.
		{"pwd is pw", "pwd is pw"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	// WithSecrets adds to a copy.
	r2 := r.WithSecrets("another-secret")
	if got := r2.String("another-secret and hunter2hunter2"); got != "xxxxx and xxxxx" {
		t.Errorf("WithSecrets: got %q", got)
	}
	if got := r.String("another-secret"); got != "another-secret" {
		t.Errorf("WithSecrets changed the original: %q", got)
	}
	var nilR *Redactor
	if got := nilR.WithSecrets("nil-start-secret").String("x nil-start-secret postgres://a:b@c"); got != "x xxxxx postgres://a:xxxxx@c" {
		t.Errorf("nil WithSecrets: %q", got)
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Patterns: []string{
		`AKIA[0-9A-Z]{16}`,                 // whole match
		`session=([0-9a-f]{8})`,            // first group
		`(user)=(?P<secret>[a-z]+)@corp\b`, // named group
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"key AKIAABCDEFGHIJKLMNOP end", "key xxxxx end"},
		{"cookie session=deadbeef; path=/", "cookie session=xxxxx; path=/"},
		{"user=alice@corp logged in", "user=xxxxx@corp logged in"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		patterns []string
		want     string
	}{
		{[]string{"ok", "("}, "patterns[1]"},
		{[]string{""}, "patterns[0]: empty pattern"},
		{[]string{"a*"}, "matches the empty string"},
	}
	for _, tt := range tests {
		_, err := New(Config{Patterns: tt.patterns})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) error = %v, want it to contain %q", tt.patterns, err, tt.want)
		}
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	r := Default().WithSecrets("topsecret")
	in := []byte("nothing to see here")
	if out := r.Bytes(in); &out[0] != &in[0] {
		t.Error("Bytes allocated although nothing matched")
	}
	in = []byte("a topsecret b")
	out := r.Bytes(in)
	if string(out) != "a xxxxx b" {
		t.Errorf("Bytes = %q", out)
	}
	if string(in) != "a topsecret b" {
		t.Errorf("Bytes modified its input: %q", in)
	}
	if r.Bytes(nil) != nil {
		t.Error("Bytes(nil) != nil")
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	r := Default().WithSecrets("s3cr3t-value")
	in := strings.Repeat("SELECT id, type, status FROM jobs WHERE status = 'RUNNING'; ", 20)
	allocs := testing.AllocsPerRun(100, func() {
		if r.String(in) != in {
			t.Fatal("changed")
		}
	})
	if allocs != 0 {
		t.Errorf("String allocated %.0f times on text without secrets", allocs)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := Default().WithSecrets("dsn-pass-123")
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, nil)))

	type cfg struct{ DSN string }
	log = log.With("dsn", "postgres://u:dsn-pass-123@h/db", "token", "abc")
	log.Info("connect to postgres://u:dsn-pass-123@h/db failed",
		"err", errors.New("auth with password=hunter2 failed"),
		"count", 3,
		"api_token", "fbt_abcdefghijkl",
		"empty_password", "",
		slog.Group("req", "authorization", "Basic Zm9vOmJhcg==", "path", "/x"),
		"cfg", cfg{DSN: "postgres://u:dsn-pass-123@h"},
		"raw", []byte("Bearer abcdefghijklmn"),
		"plain", cfg{DSN: "host=x"},
	)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	out := buf.String()
	for _, leak := range []string{"dsn-pass-123", "hunter2", "abcdefghijkl", "Zm9vOmJhcg", "abcdefghijklmn"} {
		if strings.Contains(out, leak) {
			t.Errorf("log output leaks %q: %s", leak, out)
		}
	}
	want := map[string]any{
		"msg":            "connect to postgres://u:xxxxx@h/db failed",
		"dsn":            "postgres://u:xxxxx@h/db",
		"token":          "xxxxx",
		"err":            "auth with password=xxxxx failed",
		"count":          float64(3),
		"api_token":      "xxxxx",
		"empty_password": "",
		"cfg":            "{DSN:postgres://u:xxxxx@h}",
		"raw":            "Bearer xxxxx",
		"plain":          map[string]any{"DSN": "host=x"},
	}
	for k, w := range want {
		g := got[k]
		if gm, ok := g.(map[string]any); ok {
			wm, _ := w.(map[string]any)
			if len(gm) != len(wm) || gm["DSN"] != wm["DSN"] {
				t.Errorf("%s = %v, want %v", k, g, w)
			}
			continue
		}
		if g != w {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
	req, _ := got["req"].(map[string]any)
	if req["authorization"] != "xxxxx" || req["path"] != "/x" {
		t.Errorf("req group = %v", req)
	}

	// WithGroup passes through and still redacts.
	buf.Reset()
	slog.New(r.Handler(slog.NewTextHandler(&buf, nil))).WithGroup("g").Info("m", "v", "password=abc")
	if !strings.Contains(buf.String(), `g.v="password=xxxxx"`) {
		t.Errorf("grouped output: %s", buf.String())
	}
}

func BenchmarkStringNoMatch(b *testing.B) {
	r := Default().WithSecrets("s3cr3t-value")
	in := strings.Repeat("kubectl get pods -l app=telegram-platform -o wide\n", 100)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = r.String(in)
	}
}

func TestIndexFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s, sub string
		want   int
	}{
		{"", "a", -1},
		{"abc", "", 0},
		{"xxBeArEr y", "bearer", 2},
		{"tokTOKEN", "token", 3},
		{"tok", "token", -1},
		{"a://b", "://", 1},
		{"PASPASS", "pass", 3},
		{"Pas", "pass", -1},
	}
	for _, tt := range tests {
		if got := indexFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("indexFold(%q, %q) = %d, want %d", tt.s, tt.sub, got, tt.want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{
		"postgres://u:p@h", "password=x", `{"token":"y"}`, "Bearer abcdefghij", "fbt_0123456789",
		"-----BEGIN PRIVATE KEY-----\nx", "plain text", "the-secret-value",
	} {
		f.Add(s)
	}
	r := Default().WithSecrets("the-secret-value")
	f.Fuzz(func(t *testing.T, s string) {
		out := r.String(s)
		if strings.Contains(out, "the-secret-value") {
			t.Fatalf("secret survived: %q -> %q", s, out)
		}
		if got := string(r.Bytes([]byte(s))); got != out {
			t.Fatalf("Bytes and String disagree on %q: %q vs %q", s, got, out)
		}
	})
}
