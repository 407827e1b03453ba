package playbook

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/examples"
)

// FuzzParse checks that no Markdown makes the parser panic, that every
// diagnostic has a position inside the document, and that the result
// marshals and every step binds.
func FuzzParse(f *testing.F) {
	f.Add(examples.TelegramPlatformPlaybook)
	f.Add([]byte(docA))
	f.Fuzz(func(t *testing.T, src []byte) {
		pb, err := Parse("fuzz.md", src)
		if pb == nil {
			t.Fatal("nil playbook")
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, d := range pb.Diagnostics {
			if d.Pos.Line < 1 || d.Pos.Col < 1 || d.Pos.Line > lines {
				t.Errorf("diagnostic without a valid position: %+v (document has %d lines)", d, lines)
			}
			if d.File != "fuzz.md" || d.Message == "" || d.Code == "" {
				t.Errorf("incomplete diagnostic %+v", d)
			}
		}
		if err != nil && len(AsDiagnostics(err)) == 0 {
			t.Errorf("error without diagnostics: %v", err)
		}
		if _, err := json.Marshal(pb); err != nil {
			t.Errorf("marshal: %v", err)
		}
		for _, pr := range pb.Procedures {
			for _, tk := range pr.Tasks() {
				if tk.Step == nil {
					continue
				}
				vals := map[string]string{}
				for _, p := range tk.Step.Params {
					vals[p.Name] = "1"
				}
				if _, err := tk.Step.Bind(vals); err != nil && !strings.Contains(err.Error(), "parameter") {
					t.Errorf("bind %s: %v", tk.Key, err)
				}
			}
		}
	})
}

// TestFuzzSeedCorpusPresent guards the checked-in seed corpus, which runs
// as part of every go test.
func TestFuzzSeedCorpusPresent(t *testing.T) {
	t.Parallel()
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzParse"))
	if err != nil || len(ents) < 5 {
		t.Fatalf("seed corpus: %d files, %v", len(ents), err)
	}
}

func genLibrary(t testing.TB, dir string, files, perFile int) {
	t.Helper()
	for f := 0; f < files; f++ {
		var b strings.Builder
		fmt.Fprintf(&b, "# Service %d\n\n## Alert Response Procedures\n\n", f)
		for p := 0; p < perFile; p++ {
			fmt.Fprintf(&b, "### 🔴 CRITICAL: Service %d Problem %d (>%d%%)\n\n**Assessment:**\n- Check dashboard %d\n\n**Immediate Actions:**\n", f, p, p, p)
			fmt.Fprintf(&b, "1. **Check rows:**\n   ```sql\n   SELECT id, status FROM jobs_%d WHERE status = 'FAILED' AND tenant = $tenant_id;\n   ```\n\n", p)
			fmt.Fprintf(&b, "2. **Check pods:**\n   ```bash\n   kubectl get pods -l app=svc-%d\n   kubectl logs <pod-name> --since=5m | grep ERROR\n   ```\n\n", f)
			fmt.Fprintf(&b, "3. **Scale:**\n   ```bash\n   kubectl scale deployment svc-%d --replicas=4\n   ```\n\n**Recovery:**\n1. Verify\n\n", f)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc-%03d.md", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGeneratedLibrary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genLibrary(t, dir, 5, 10)
	lib, err := NewLibrary(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := lib.Match(map[string]string{"alertname": "Service3Problem7"})
	if !ok || m.Playbook.ID != "svc-003" || m.Procedure.Key != "service-3-problem-7" {
		t.Fatalf("match %+v", m)
	}
}

func BenchmarkParseReference(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(examples.TelegramPlatformPlaybookPath, examples.TelegramPlatformPlaybook); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadLibrary1000 loads 50 files of 20 procedures each: 1,000
// procedures with 3,000 steps.
func BenchmarkLoadLibrary1000(b *testing.B) {
	dir := b.TempDir()
	genLibrary(b, dir, 50, 20)
	b.ReportAllocs()
	for b.Loop() {
		lib, err := NewLibrary(nil, dir)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(lib.Playbooks()); n != 50 {
			b.Fatalf("%d playbooks", n)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	dir := b.TempDir()
	genLibrary(b, dir, 50, 20)
	lib, err := NewLibrary(nil, dir)
	if err != nil {
		b.Fatal(err)
	}
	labels := map[string]string{"alertname": "Service42Problem17", "severity": "critical"}
	for b.Loop() {
		if _, ok := lib.Match(labels); !ok {
			b.Fatal("no match")
		}
	}
}
