package alertmanager

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// corpus returns the fixture and the FuzzDecode seed corpus.
func corpus(t testing.TB) [][]byte {
	out := [][]byte{}
	if b, err := os.ReadFile("testdata/webhook.json"); err == nil {
		out = append(out, b)
	}
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

func checkAgree(t *testing.T, body []byte) bool {
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	fn, fe, ok := decodeFast(body, now)
	if !ok {
		return false
	}
	cn, ce, err := decodeCareful(body, now)
	if err != nil {
		t.Fatalf("fast path accepted what the careful path refuses (%v):\n%s", err, body)
	}
	if !reflect.DeepEqual(norm(fe), norm(ce)) || !reflect.DeepEqual(*fn, *cn) {
		t.Fatalf("paths disagree on\n%s\nfast:    %+v %+v\ncareful: %+v %+v", body, fn, fe, cn, ce)
	}
	return true
}

// norm renders events so that nil and empty maps compare equal.
func norm(v any) string { return strings.ReplaceAll(fmt.Sprintf("%+v", v), "map[]", "<nil>") }

func TestFastPathAgrees(t *testing.T) {
	fast := 0
	for _, body := range corpus(t) {
		if checkAgree(t, body) {
			fast++
		}
	}
	if fast == 0 {
		t.Fatal("the fast path took none of the corpus")
	}
	// The big-group body is the shape real traffic has.
	var b bytes.Buffer
	b.WriteString(`{"version":"4","status":"firing","alerts":[`)
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"labels":{"alertname":"A%d","severity":"critical"},"annotations":{"runbook_url":"https://x/r"},"startsAt":"2026-11-26T01:00:00.5Z","fingerprint":"%016x"}`, i, i)
	}
	b.WriteString(`]}`)
	if !checkAgree(t, b.Bytes()) {
		t.Fatal("fast path refused a plain 50-alert group")
	}
}

func FuzzFastPathAgrees(f *testing.F) {
	for _, b := range corpus(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkAgree(t, body) })
}

func BenchmarkDecode100(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"version":"4","groupKey":"x","status":"firing","receiver":"fb","alerts":[`)
	for j := 0; j < 100; j++ {
		if j > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"status":"firing","labels":{"alertname":"Alert%d","service":"svc%d","instance":"i%d","severity":"critical"},"annotations":{"summary":"thing %d"},"startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph","fingerprint":"%016x"}`, j, j, j, j, j)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, ok := decodeFast(body, time.Now()); !ok {
				b.Fatal("fast path refused")
			}
		}
	})
	b.Run("careful", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := decodeCareful(body, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
