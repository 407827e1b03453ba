package playbook

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/examples"
)

const docA = "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql\n   SELECT 1;\n   ```\n"

type libBundle struct {
	dir string
	log *bytes.Buffer
	lib *Library
}

func setupLibrary(t *testing.T, files map[string]string) *libBundle {
	t.Helper()
	b := &libBundle{dir: t.TempDir(), log: &bytes.Buffer{}}
	for name, body := range files {
		b.write(t, name, body)
	}
	lib, err := NewLibrary(slog.New(slog.NewTextHandler(&syncWriter{w: b.log}, nil)), b.dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	b.lib = lib
	return b
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (b *libBundle) write(t *testing.T, name, body string) {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLibraryBundled(t *testing.T) {
	t.Parallel()
	lib := referenceLibrary(t)
	pbs := lib.Playbooks()
	if len(pbs) != 1 || pbs[0].ID != "telegram-platform" || pbs[0].Path != examples.TelegramPlatformPlaybookPath {
		t.Fatalf("bundled = %+v", pbs)
	}
	if !bytes.Equal(pbs[0].Source, examples.TelegramPlatformPlaybook) || len(pbs[0].Hash) != 64 {
		t.Error("source or hash wrong")
	}
	if lib.Playbook("telegram-platform") == nil || lib.Playbook("nope") != nil {
		t.Error("Playbook lookup")
	}
}

func TestLibraryReloadKeepsPreviousVersion(t *testing.T) {
	t.Parallel()
	b := setupLibrary(t, map[string]string{"disk/playbook.md": docA, "notes/.hidden/x.md": "## Alerts\n### Hidden\n- c\n"})
	pb := b.lib.Playbook("disk")
	if pb == nil || len(b.lib.Playbooks()) != 1 {
		t.Fatalf("playbooks %v", b.lib.Playbooks())
	}
	v1 := pb.Hash

	// A broken edit keeps version 1 live.
	b.write(t, "disk/playbook.md", docA+"<!-- firebreak: colour=red -->\n")
	err := b.lib.Reload()
	if err == nil || !strings.Contains(err.Error(), `unknown key "colour"`) {
		t.Fatalf("reload err = %v", err)
	}
	if got := b.lib.Playbook("disk"); got == nil || got.Hash != v1 {
		t.Fatal("previous version not kept")
	}
	if !strings.Contains(b.log.String(), "keeping the previous version") {
		t.Errorf("log: %s", b.log.String())
	}

	// A good edit replaces it; a new file appears.
	b.write(t, "disk/playbook.md", strings.Replace(docA, "SELECT 1", "SELECT 2", 1))
	b.write(t, "queue.md", "## Alerts\n### High Queue Depth\n- c\n")
	if err := b.lib.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := b.lib.Playbook("disk"); got.Hash == v1 {
		t.Error("new version not loaded")
	}
	if m, ok := b.lib.Match(map[string]string{"alertname": "HighQueueDepth"}); !ok || m.Playbook.ID != "queue" {
		t.Error("new file not matched")
	}

	// A removed file is dropped.
	if err := os.Remove(filepath.Join(b.dir, "queue.md")); err != nil {
		t.Fatal(err)
	}
	if err := b.lib.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.lib.Match(map[string]string{"alertname": "HighQueueDepth"}); ok {
		t.Error("removed file still matches")
	}
}

func TestLibraryDuplicateIDAndCrossAmbiguity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	must := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("a.md", "---\nid: same\n---\n## Alerts\n### Disk Full\n- c\n")
	must("b.md", "---\nid: same\n---\n## Alerts\n### Queue Full\n- c\n")
	must("c.md", "## Alerts\n### Disk Full\n- c\n")
	lib, err := NewLibrary(nil, dir)
	if err == nil || !strings.Contains(err.Error(), `playbook ID "same" is already used`) {
		t.Fatalf("err = %v", err)
	}
	if len(lib.Playbooks()) != 2 {
		t.Errorf("playbooks: %d", len(lib.Playbooks()))
	}
	var amb bool
	for _, d := range lib.Lint() {
		amb = amb || d.Code == CodeAmbiguous && strings.Contains(d.Message, "c.md") && d.File == filepath.Join(dir, "a.md")
	}
	if !amb {
		t.Errorf("cross-file ambiguity not reported: %v", lib.Lint())
	}
	m, ok := lib.Match(map[string]string{"alertname": "DiskFull"})
	if !ok || len(m.Others) != 1 || m.Playbook.ID != "c" {
		t.Errorf("match = %+v", m)
	}
}

// TestLibraryWatch saves a playbook as editors do (truncate, then write in
// pieces with pauses longer than the quiet period) and as tools do (write
// a temp file, rename it over), and checks that the watcher loads each
// final version and never a state in between, although each of those
// parses.
func TestLibraryWatch(t *testing.T) {
	t.Parallel()
	b := setupLibrary(t, map[string]string{"disk.md": docA})
	d := b.lib.debounce
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.lib.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(within time.Duration, ok func() bool) bool {
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if ok() {
				return true
			}
		}
		return false
	}
	// The watcher is up once it picks up a new file in a new folder.
	queued := func() bool {
		_, ok := b.lib.Match(map[string]string{"alertname": "HighQueueDepth"})
		return ok
	}
	for i := 0; !queued(); i++ {
		if i == 10 {
			t.Fatal("watch did not load a new file")
		}
		b.write(t, "sub/queue.md", "## Alerts\n### High Queue Depth\n- c\n")
		waitFor(4*d+time.Second, queued)
	}

	// Record every version of disk.md that is ever live.
	var mu sync.Mutex
	seen := map[string]bool{}
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if pb := b.lib.Playbook("disk"); pb != nil {
				mu.Lock()
				seen[string(pb.Source)] = true
				mu.Unlock()
			}
		}
	}()

	version := func(n int) (full, half string) {
		proc := func(title string) string {
			return fmt.Sprintf("### %s\n1. **Check:**\n   ```sql\n   SELECT %d;\n   ```\n", title, n)
		}
		half = "## Alerts\n" + proc("Disk Full")
		return half + proc("Disk Slow"), half
	}
	path := filepath.Join(b.dir, "disk.md")
	pause := d * 3 / 2
	// overran is set when a pause lasted so long that the state before it
	// was stable by the watcher's own rule (a machine under heavy load).
	overran := false
	sleep := func() {
		start := time.Now()
		time.Sleep(pause)
		if time.Since(start) > d*9/5 {
			overran = true
		}
	}
	live := func(want string) func() bool {
		return func() bool { pb := b.lib.Playbook("disk"); return pb != nil && string(pb.Source) == want }
	}
	allowed := map[string]bool{docA: true}

	// An editor's save in place: truncate, then write in two pieces.
	v1, half1 := version(11)
	if pb, err := Parse(path, []byte(half1)); err != nil || len(pb.Procedures) != 1 {
		t.Fatalf("a cut-short save must parse for this test to mean anything: %v", err)
	}
	allowed[v1] = true
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sleep()
	if _, err := f.WriteString(half1); err != nil {
		t.Fatal(err)
	}
	sleep()
	if _, err := f.WriteString(v1[len(half1):]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, live(v1)) {
		t.Fatal("the editor's save was not loaded")
	}

	// A tool's save: a temp file written in pieces, then renamed over.
	v2, half2 := version(12)
	allowed[v2] = true
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(half2), 0o644); err != nil {
		t.Fatal(err)
	}
	sleep()
	f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(v2[len(half2):]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, live(v2)) {
		t.Fatal("the renamed save was not loaded")
	}

	close(stop)
	<-polled
	if overran {
		t.Log("a pause overran the watcher's quiet periods; not checking intermediate states")
		return
	}
	for src := range seen {
		if !allowed[src] {
			t.Errorf("an intermediate state was live:\n%q", src)
		}
	}
}

func TestLibraryConcurrentMatchAndReload(t *testing.T) {
	t.Parallel()
	b := setupLibrary(t, map[string]string{"disk.md": docA})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := b.lib.Match(map[string]string{"alertname": "DiskFull"}); !ok {
					t.Error("match lost during reload")
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		b.write(t, "disk.md", docA+strings.Repeat("\n", i%3))
		if err := b.lib.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	lib := referenceLibrary(t)
	res, err := DryRun(lib, map[string]string{"alertname": "ServiceDown", "pod": "telegram-platform-abc"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Matched || res.Procedure != "service-down" || res.Playbook != "telegram-platform" {
		t.Fatalf("result %+v", res)
	}
	byKey := map[string]DryRunTask{}
	for _, tk := range res.Tasks {
		byKey[tk.Key] = tk
	}
	pods := byKey["immediate-actions/1"]
	if pods.RunsAt != "immediately" || pods.Params[0].Value != "telegram-platform-abc" || pods.Params[0].From != "label pod" || pods.Rendered.Kube[1].Name != "telegram-platform-abc" {
		t.Errorf("pods %+v", pods)
	}
	logs := byKey["investigation/1"]
	if logs.Rendered.Kube[0].Name != "telegram-platform-abc" || logs.RunsAt != "immediately" {
		t.Errorf("logs %+v", logs)
	}
	if byKey["immediate-actions/2"].RunsAt != "approval" || byKey["recovery/1"].RunsAt != "checklist" {
		t.Errorf("restart %+v", byKey["immediate-actions/2"])
	}

	res, _ = DryRun(lib, map[string]string{"alertname": "HighDatabaseCPU"}, nil)
	for _, tk := range res.Tasks {
		switch tk.Key {
		case "immediate-actions/2":
			if tk.Params[0].From != "step immediate-actions/1 column pid (at run time)" || !tk.Params[0].Missing {
				t.Errorf("pid %+v", tk.Params[0])
			}
		case "investigation/1":
			if tk.RunsAt != "edit" {
				t.Errorf("explain %+v", tk)
			}
		}
	}

	// An invalid label value is not bound.
	res, err = DryRun(lib, map[string]string{"alertname": "ServiceDown", "pod": "Bad Pod"}, nil)
	if err != nil || !res.Tasks[3].Params[0].Missing {
		t.Errorf("invalid pod: %v %+v", err, res.Tasks[3])
	}

	res, _ = DryRun(lib, map[string]string{"alertname": "Nothing"}, nil)
	if res.Matched {
		t.Error("matched nothing")
	}
}
