package postgres

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

func FuzzEscapeText(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00", "\x01", "\x010", "\x01\x01", "a\x00b\x01c", "\x00nul", "🔴\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escapeText(s)
		if strings.IndexByte(e, 0) >= 0 {
			t.Fatalf("escapeText(%q) = %q holds NUL", s, e)
		}
		if got := unescapeText(e); got != s {
			t.Fatalf("unescapeText(escapeText(%q)) = %q", s, got)
		}
		if !strings.ContainsAny(s, "\x00\x01") && e != s {
			t.Fatalf("escapeText(%q) = %q, want it unchanged", s, e)
		}
	})
}

func TestMapsAndLinksRoundTrip(t *testing.T) {
	m := map[string]string{"\x00k": "v\x01", "plain": "x"}
	got, err := decodeMap(encodeMap(m))
	if err != nil || len(got) != 2 || got["\x00k"] != "v\x01" || got["plain"] != "x" {
		t.Fatalf("map round trip = %q, %v", got, err)
	}
	if b := encodeMap(m); strings.Contains(string(b), `\u0000`) {
		t.Fatalf("encodeMap = %s: jsonb rejects \\u0000", b)
	}
	links := []incident.Link{{Href: "http://x/\x00", Text: "\x01"}}
	gotLinks, err := decodeLinks(encodeLinks(links))
	if err != nil || len(gotLinks) != 1 || gotLinks[0] != links[0] {
		t.Fatalf("links round trip = %q, %v", gotLinks, err)
	}
}
