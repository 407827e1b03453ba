package wire

import (
	"strings"
	"testing"
)

func TestChild(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, name, want string }{
		{"", "alerts", "alerts"},
		{"alerts[3]", "labels", "alerts[3].labels"},
		{"labels", "app.kubernetes.io/name", `labels["app.kubernetes.io/name"]`},
		{"labels", "", `labels[""]`},
		{"labels", "9lives", `labels["9lives"]`},
		{"labels", "a\nb", `labels["a\nb"]`},
		{"", "k-8_s", "k-8_s"},
	}
	for _, tt := range tests {
		if got := Child(tt.path, tt.name); got != tt.want {
			t.Errorf("Child(%q, %q) = %q, want %q", tt.path, tt.name, got, tt.want)
		}
	}
}

func TestSafeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want bool
	}{
		{"https://grafana.example.com/d/x?orgId=1", true},
		{"http://prometheus-0:9090/graph", true},
		{"HTTPS://EXAMPLE.COM", true},
		{"javascript:alert(1)", false},
		{"data:text/html,<script>", false},
		{"//example.com/x", false},
		{"/relative", false},
		{"https://", false},
		{"https://a b", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := SafeURL(tt.url); got != tt.want {
			t.Errorf("SafeURL(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := Quote("a\nb"); got != `"a\nb"` {
		t.Errorf("got %s", got)
	}
	long := strings.Repeat("é", 100) // 200 bytes; the cut must not split a rune
	got := Quote(long)
	if want := `"` + strings.Repeat("é", 32) + `"…`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEncodeObject(t *testing.T) {
	t.Parallel()
	got := EncodeObject(
		Member{Name: "a", Value: []byte(`{ "x" : [1, 2] }`)},
		Member{Name: "skipped"},
		Member{Name: "b<", Value: JSONString("<b>")},
	)
	if want := `{"a":{"x":[1,2]},"b<":"<b>"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if EncodeObject(Member{Name: "a"}) != nil {
		t.Error("object with no members should be nil")
	}
}

func TestScrubNUL(t *testing.T) {
	t.Parallel()
	v := Value{Path: "x", Raw: []byte(`"a\u0000b"`)}
	if s, _ := v.String(); s != "a\uFFFDb" {
		t.Errorf("String() = %q", s)
	}
	m, err := Value{Path: "labels", Raw: []byte(`{"k\u0000":"v\u0000"}`)}.StringMap()
	if err != nil || m["k\uFFFD"] != "v\uFFFD" {
		t.Errorf("StringMap() = %q, %v", m, err)
	}
	tests := []struct{ in, want string }{
		{`{"a":"x\u0000y"}`, `{"a":"x\ufffdy"}`},
		{`{"a\u0000":[1,"\u0000"]}`, `{"a\ufffd":[1,"\ufffd"]}`},
		// An escaped backslash followed by the text u0000 is not a NUL.
		{`{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{`{"a":"\"\u0000"}`, `{"a":"\"\ufffd"}`},
		{`{"a":"\u00001"}`, `{"a":"\ufffd1"}`},
	}
	for _, tt := range tests {
		if got := string(Compact([]byte(tt.in))); got != tt.want {
			t.Errorf("Compact(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
