package redact_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/auth"
	"github.com/firebreak-dev/firebreak/internal/redact"
)

// Output that changed a secret's letter case, such as
// `kubectl exec … cat firebreak-data/admin-token | tr a-z A-Z`, still
// shows none of it.
func TestCaseChangedSecrets(t *testing.T) {
	t.Parallel()
	token, _ := auth.NewSecret(auth.TokenPrefix)
	key, _ := auth.NewSecret(auth.IntegrationPrefix)
	hexToken := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	b64Token := "dGhpc0lzQVdlYmhvb2tUb2tlbg=="
	r := redact.Default().WithSecrets(hexToken, b64Token, "Hunter2Pass")
	mixed := func(s string) string { // every other letter flipped
		b := []byte(s)
		for i, c := range b {
			if i%2 == 0 && 'a' <= c && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		return string(b)
	}
	for _, tt := range []struct{ in, want string }{
		{strings.ToUpper(token) + "\n", "FBT_xxxxx\n"},
		{"admin token " + mixed(token) + " printed", "admin token FbT_xxxxx printed"},
		{"routing_key " + strings.ToUpper(key), "routing_key FBI_xxxxx"},
		{"hook " + strings.ToUpper(hexToken) + " ok", "hook xxxxx ok"},
		{"hook " + strings.ToUpper(b64Token), "hook xxxxx"},
		{"hook " + strings.ToLower(b64Token), "hook xxxxx"},
		{"HUNTER2PASS and hunter2pass", "xxxxx and xxxxx"},
	} {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
	// The log handler too.
	var buf bytes.Buffer
	slog.New(r.Handler(slog.NewTextHandler(&buf, nil))).Info("step output", "out", "TOKEN: "+strings.ToUpper(token))
	if strings.Contains(strings.ToLower(buf.String()), token[4:]) {
		t.Errorf("log shows the token: %s", buf.String())
	}
}
