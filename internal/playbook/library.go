package playbook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/firebreak-dev/firebreak/examples"
)

// Library is the set of loaded playbooks. It is safe for concurrent use:
// readers see an immutable snapshot that Reload replaces atomically.
type Library struct {
	log      *slog.Logger
	paths    []string
	debounce time.Duration

	mu   sync.Mutex // serialises reloads
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	playbooks []*Playbook // by ID
	refs      []procRef
	byTitle   map[string][]procRef
	diags     []Diagnostic // cross-playbook findings
}

// NewLibrary loads the playbooks at paths: Markdown files, or folders
// searched recursively for *.md. With no paths it loads the bundled
// example playbook. The Library is returned even when err != nil; it then
// holds every document that did load, and err says which did not and why.
func NewLibrary(log *slog.Logger, paths ...string) (*Library, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Library{log: log, paths: append([]string(nil), paths...), debounce: 200 * time.Millisecond}
	l.snap.Store(&snapshot{byTitle: map[string][]procRef{}})
	err := l.Reload()
	return l, err
}

// Paths returns the paths the library loads from.
func (l *Library) Paths() []string { return append([]string(nil), l.paths...) }

// Playbooks returns the loaded playbooks, ordered by ID.
func (l *Library) Playbooks() []*Playbook {
	return append([]*Playbook(nil), l.snap.Load().playbooks...)
}

// Playbook returns the loaded playbook with the given ID, or nil.
func (l *Library) Playbook(id string) *Playbook {
	for _, pb := range l.snap.Load().playbooks {
		if pb.ID == id {
			return pb
		}
	}
	return nil
}

// Match returns the procedure for an alert's labels: an explicit
// annotation first, else the procedure whose normalised title equals the
// normalised alertname label.
func (l *Library) Match(labels map[string]string) (*Match, bool) {
	s := l.snap.Load()
	return matchIn(s.refs, s.byTitle, labels)
}

// Lint returns the diagnostics of every loaded playbook and those found
// across playbooks (shared IDs, ambiguous matches).
func (l *Library) Lint() []Diagnostic {
	s := l.snap.Load()
	var out []Diagnostic
	for _, pb := range s.playbooks {
		out = append(out, pb.Diagnostics...)
	}
	out = append(out, s.diags...)
	sortDiagnostics(out)
	return out
}

// Reload re-reads every document. A document that cannot be read or has
// errors keeps its previous version live; the error and the log say why.
// Documents whose files are gone are dropped.
func (l *Library) Reload() error {
	var sc *scan
	if len(l.paths) > 0 {
		sc = l.scan()
	}
	return l.load(sc)
}

// scan is what the files at a library's paths held when read.
type scan struct {
	files    []string
	src      map[string][]byte
	readErrs map[string]error
	pathErrs []error
}

func (l *Library) scan() *scan {
	files, errs := expandPaths(l.paths)
	sc := &scan{files: files, src: map[string][]byte{}, readErrs: map[string]error{}, pathErrs: errs}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			sc.readErrs[f] = fmt.Errorf("read playbook: %w", err)
			continue
		}
		sc.src[f] = src
	}
	return sc
}

// same reports whether two scans found the same files with the same bytes.
func (sc *scan) same(o *scan) bool {
	if !slices.Equal(sc.files, o.files) || len(sc.readErrs) != len(o.readErrs) || len(sc.pathErrs) != len(o.pathErrs) {
		return false
	}
	for f, src := range sc.src {
		if other, ok := o.src[f]; !ok || !bytes.Equal(src, other) {
			return false
		}
	}
	return true
}

// load makes sc's documents live, or the bundled playbook when sc is nil.
func (l *Library) load(sc *scan) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := map[string]*Playbook{}
	for _, pb := range l.snap.Load().playbooks {
		prev[pb.Path] = pb
	}
	var errs []error
	var loaded []*Playbook
	keep := func(path string, err error) {
		errs = append(errs, err)
		if old := prev[path]; old != nil {
			l.log.Error("playbook not reloaded; keeping the previous version", "path", path, "version", old.Hash[:12], "err", err)
			loaded = append(loaded, old)
		} else {
			l.log.Error("playbook not loaded", "path", path, "err", err)
		}
	}
	if sc == nil {
		pb, err := l.parse(examples.TelegramPlatformPlaybookPath, examples.TelegramPlatformPlaybook, prev)
		if err != nil {
			keep(examples.TelegramPlatformPlaybookPath, err)
		} else {
			loaded = append(loaded, pb)
		}
	} else {
		errs = append(errs, sc.pathErrs...)
		for _, e := range sc.pathErrs {
			l.log.Error("playbook path", "err", e)
		}
		for _, f := range sc.files {
			if err := sc.readErrs[f]; err != nil {
				keep(f, err)
				continue
			}
			pb, err := l.parse(f, sc.src[f], prev)
			if err != nil {
				keep(f, err)
				continue
			}
			loaded = append(loaded, pb)
		}
	}
	s, rejected := buildSnapshot(loaded, prev)
	for _, d := range rejected {
		errs = append(errs, errors.New(d.String()))
		l.log.Error("playbook rejected", "diagnostic", d.String())
	}
	for _, d := range s.diags {
		if d.Code == CodeAmbiguous {
			l.log.Warn("ambiguous playbook match", "diagnostic", d.String())
		}
	}
	for _, pb := range s.playbooks {
		old := prev[pb.Path]
		if old != nil && old.Hash == pb.Hash {
			continue
		}
		l.log.Info("playbook loaded", "id", pb.ID, "path", pb.Path, "version", pb.Hash[:12], "procedures", len(pb.Procedures))
		if old != nil && len(pb.Procedures) < len(old.Procedures) {
			// A save cut short parses too; say so rather than lose
			// procedures without a word.
			l.log.Warn("playbook reloaded with fewer procedures than before", "path", pb.Path,
				"version", pb.Hash[:12], "procedures", len(pb.Procedures), "previous", old.Hash[:12], "previous_procedures", len(old.Procedures))
		}
	}
	l.snap.Store(s)
	return errors.Join(errs...)
}

// parse reuses the previous version when the bytes are unchanged.
func (l *Library) parse(path string, src []byte, prev map[string]*Playbook) (*Playbook, error) {
	if old := prev[path]; old != nil && string(old.Source) == string(src) {
		return old, nil
	}
	return Parse(path, src)
}

// buildSnapshot indexes playbooks. Of two documents with one ID, the one
// already live (else the first by path) stays and the other is rejected.
func buildSnapshot(pbs []*Playbook, prev map[string]*Playbook) (*snapshot, []Diagnostic) {
	sort.SliceStable(pbs, func(i, j int) bool {
		if pbs[i].ID != pbs[j].ID {
			return pbs[i].ID < pbs[j].ID
		}
		pi, pj := prev[pbs[i].Path] != nil, prev[pbs[j].Path] != nil
		if pi != pj {
			return pi
		}
		return pbs[i].Path < pbs[j].Path
	})
	var kept []*Playbook
	var rejected []Diagnostic
	for _, pb := range pbs {
		if n := len(kept); n > 0 && kept[n-1].ID == pb.ID {
			rejected = append(rejected, Diagnostic{
				File: pb.Path, Pos: Pos{1, 1}, Severity: SeverityError, Code: CodeDuplicateID,
				Message: fmt.Sprintf("playbook ID %q is already used by %s; set a distinct id: in the front matter", pb.ID, kept[n-1].Path),
			})
			continue
		}
		kept = append(kept, pb)
	}
	s := &snapshot{playbooks: kept, refs: refsOf(kept)}
	s.byTitle = titleIndex(s.refs)
	// Ambiguity within one document is already among its diagnostics.
	s.diags = append(s.diags, ambiguity(kept, true)...)
	s.diags = append(s.diags, rejected...)
	return s, rejected
}

// LoadFiles parses every document at paths (files, or folders searched
// recursively for *.md), whatever their diagnostics. The error reports
// paths that could not be read.
func LoadFiles(paths ...string) ([]*Playbook, error) {
	files, errs := expandPaths(paths)
	var out []*Playbook
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read playbook: %w", err))
			continue
		}
		pb, _ := Parse(f, src)
		out = append(out, pb)
	}
	return out, errors.Join(errs...)
}

// Lint returns the diagnostics of the playbooks and those across them:
// shared IDs and alerts that two procedures could match.
func Lint(pbs []*Playbook) []Diagnostic {
	var out []Diagnostic
	for _, pb := range pbs {
		out = append(out, pb.Diagnostics...)
	}
	s, _ := buildSnapshot(append([]*Playbook(nil), pbs...), nil)
	out = append(out, s.diags...)
	sortDiagnostics(out)
	return out
}

// expandPaths lists the Markdown files at paths, sorted and without
// duplicates. Hidden folders are skipped.
func expandPaths(paths []string) ([]string, []error) {
	seen := map[string]bool{}
	var files []string
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("playbook path: %w", err))
			continue
		}
		if !fi.IsDir() {
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("playbook path: %w", err))
				return nil
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.EqualFold(filepath.Ext(path), ".md") && !seen[path] {
				seen[path] = true
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.Strings(files)
	return files, errs
}

// Watch reloads the library when a watched Markdown file changes. A save
// is not atomic for every editor (truncate, then write, perhaps in
// pieces), and a file cut short may still parse, so a change is loaded
// only once it is stable: after a quiet period with no file event the
// files are read, and after a second quiet period they are read again;
// only when both reads are the same are those bytes loaded. Any event in
// between starts over. A document that then fails to parse keeps its
// previous version live, as with Reload. It returns when ctx is done.
// With no paths (the bundled playbook) it only waits.
func (l *Library) Watch(ctx context.Context) error {
	if len(l.paths) == 0 {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch playbooks: %w", err)
	}
	defer w.Close()
	files := map[string]bool{}
	dirs := map[string]bool{}
	addDir := func(d string) {
		if dirs[d] {
			return
		}
		if err := w.Add(d); err != nil {
			l.log.WarnContext(ctx, "cannot watch playbook folder", "path", d, "err", err)
			return
		}
		dirs[d] = true
	}
	for _, p := range l.paths {
		fi, err := os.Stat(p)
		if err != nil {
			// Watch the parent so that the file is picked up once created.
			files[filepath.Clean(p)] = true
			addDir(filepath.Dir(p))
			continue
		}
		if !fi.IsDir() {
			files[filepath.Clean(p)] = true
			addDir(filepath.Dir(p))
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				addDir(path)
			}
			return nil
		})
	}
	relevant := func(name string) bool {
		name = filepath.Clean(name)
		if files[name] {
			return true
		}
		if !strings.EqualFold(filepath.Ext(name), ".md") {
			return false
		}
		for _, p := range l.paths {
			if rel, err := filepath.Rel(p, name); err == nil && !strings.HasPrefix(rel, "..") && dirs[filepath.Dir(name)] {
				return true
			}
		}
		return false
	}
	timer := time.NewTimer(l.debounce)
	timer.Stop()
	defer timer.Stop()
	var fire <-chan time.Time
	quiet := func() {
		timer.Reset(l.debounce)
		fire = timer.C
	}
	// candidate is what the files held at the end of the last quiet
	// period; it is loaded if they hold the same after the next one.
	var candidate *scan
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					for _, p := range l.paths {
						if rel, err := filepath.Rel(p, ev.Name); err == nil && !strings.HasPrefix(rel, "..") {
							addDir(ev.Name)
						}
					}
				}
			}
			if !relevant(ev.Name) {
				continue
			}
			candidate = nil
			quiet()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			l.log.WarnContext(ctx, "playbook watcher", "err", err)
		case <-fire:
			fire = nil
			sc := l.scan()
			if candidate == nil || !candidate.same(sc) {
				candidate = sc
				quiet()
				continue
			}
			candidate = nil
			if err := l.load(sc); err != nil {
				l.log.WarnContext(ctx, "playbook reload had errors", "err", err)
			}
		}
	}
}
