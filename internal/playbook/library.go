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
	opt      LibraryOptions
	urls     []urlPrefix
	debounce time.Duration

	mu   sync.Mutex // serialises reloads
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	playbooks []*Playbook // by ID
	refs      []procRef
	explicit  []procRef // refs selected by an annotation
	byTitle   map[string][]procRef
	urls      urlIndex
	diags     []Diagnostic // cross-playbook findings
}

// LibraryOptions configure a Library beyond its paths.
type LibraryOptions struct {
	// URLs maps runbook_url prefixes to the folders that hold the linked
	// files (config playbook_urls): with "https://runbooks.example.com/"
	// → "runbooks/", an alert linking
	// https://runbooks.example.com/kubernetes/kubepodcrashlooping gets
	// runbooks/kubernetes/KubePodCrashLooping.md. Without a prefix, the
	// last segments of the URL's path are matched against documents'
	// relative paths.
	URLs map[string]string
	// Sections is the runbook section table; nil: the built-in one.
	Sections *SectionTable
}

// NewLibrary loads the playbooks at paths: Markdown files, or folders
// searched recursively for *.md. With no paths it loads the bundled
// example playbook. The Library is returned even when err != nil; it then
// holds every document that did load, and err says which did not and why.
func NewLibrary(log *slog.Logger, paths ...string) (*Library, error) {
	return NewLibraryWith(log, LibraryOptions{}, paths...)
}

// NewLibraryWith is NewLibrary with options.
func NewLibraryWith(log *slog.Logger, opt LibraryOptions, paths ...string) (*Library, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Library{log: log, paths: append([]string(nil), paths...), opt: opt, urls: urlPrefixes(opt.URLs), debounce: 200 * time.Millisecond}
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
// annotation first, else the procedure whose normalised title (or
// runbook name) equals the normalised alertname label. See MatchAlert.
func (l *Library) Match(labels map[string]string) (*Match, bool) {
	return l.MatchAlert(labels, nil)
}

// MatchAlert returns the procedure for an alert. A runbook_url annotation
// that links a loaded document wins; otherwise an explicit annotation
// beats a match by name, more label conditions beat fewer, then the
// configured order of the playbook paths and the playbook ID decide. The
// Match says which rule chose it over the others.
func (l *Library) MatchAlert(labels, annotations map[string]string) (*Match, bool) {
	s := l.snap.Load()
	cs := candidates(s.explicit, s.byTitle, labels)
	if u := annotations["runbook_url"]; u != "" {
		if r, reason, ok := s.urls.lookup(u, labels); ok {
			m := &Match{Playbook: r.pb, Procedure: r.pr, By: "runbook_url", Reason: reason}
			for _, c := range cs {
				if c.ref.pr != r.pr {
					m.Others = append(m.Others, c.ref.String())
				}
			}
			if len(m.Others) > 0 {
				m.Why = fmt.Sprintf("the alert's runbook_url links %s, which wins over a match by name or annotation (%s)", r, strings.Join(m.Others, ", "))
			}
			return m, true
		}
	}
	return chooseMatch(cs)
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
	docs     map[string]docFile
	src      map[string][]byte
	readErrs map[string]error
	pathErrs []error
}

func (l *Library) scan() *scan {
	docs, errs := expandPaths(l.paths)
	sc := &scan{docs: map[string]docFile{}, src: map[string][]byte{}, readErrs: map[string]error{}, pathErrs: errs}
	for _, d := range docs {
		sc.files = append(sc.files, d.path)
		sc.docs[d.path] = d
	}
	for _, f := range sc.files {
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
		pb, err := l.parse(examples.TelegramPlatformPlaybookPath, examples.TelegramPlatformPlaybook, docFile{}, prev)
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
			pb, err := l.parse(f, sc.src[f], sc.docs[f], prev)
			if err != nil {
				keep(f, err)
				continue
			}
			loaded = append(loaded, pb)
		}
	}
	s, rejected := buildSnapshot(loaded, prev)
	s.urls = newURLIndex(l.urls, s.playbooks)
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
func (l *Library) parse(path string, src []byte, d docFile, prev map[string]*Playbook) (*Playbook, error) {
	if old := prev[path]; old != nil && string(old.Source) == string(src) {
		return old, nil
	}
	return ParseWith(path, src, Options{Rel: d.rel, Priority: d.prio, Sections: l.opt.Sections})
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
	for _, r := range s.refs {
		if r.pr.Explicit() {
			s.explicit = append(s.explicit, r)
		}
	}
	s.byTitle = titleIndex(s.refs)
	// Ambiguity within one document is already among its diagnostics.
	s.diags = append(s.diags, ambiguity(kept, true)...)
	s.diags = append(s.diags, sharedAlerts(s.byTitle)...)
	s.diags = append(s.diags, rejected...)
	return s, rejected
}

// sharedAlerts warns where runbooks in several files answer to one alert
// name: both load, and the rule of rankBefore picks one for an alert that
// does not link either by runbook_url.
func sharedAlerts(byTitle map[string][]procRef) []Diagnostic {
	var out []Diagnostic
	for name, group := range byTitle {
		if len(group) < 2 {
			continue
		}
		runbook := false
		for _, r := range group {
			runbook = runbook || len(r.pr.Names) > 0
		}
		if !runbook {
			continue // playbook procedures: an ambiguity error
		}
		cs := make([]candidate, len(group))
		for i, r := range group {
			cs[i] = candidate{ref: r, spec: len(r.pr.Matchers)}
		}
		sort.SliceStable(cs, func(i, j int) bool { return rankBefore(cs[i], cs[j]) })
		for _, c := range cs[1:] {
			out = append(out, Diagnostic{
				File: c.ref.pb.Path, Pos: c.ref.pr.Pos, Severity: SeverityWarning, Code: CodeSharedAlert,
				Message: fmt.Sprintf("alert %q also has the runbook %s; an alert of that name that links neither by runbook_url gets %s, because %s",
					name, cs[0].ref.pb.Path, cs[0].ref, whyFirst(cs[0], c)),
			})
		}
	}
	return out
}

// LoadFiles parses every document at paths (files, or folders searched
// recursively for *.md), whatever their diagnostics. The error reports
// paths that could not be read.
func LoadFiles(paths ...string) ([]*Playbook, error) {
	return LoadFilesWith(nil, paths...)
}

// LoadFilesWith is LoadFiles with a runbook section table (nil: the
// built-in one).
func LoadFilesWith(sections *SectionTable, paths ...string) ([]*Playbook, error) {
	docs, errs := expandPaths(paths)
	var out []*Playbook
	for _, d := range docs {
		src, err := os.ReadFile(d.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read playbook: %w", err))
			continue
		}
		pb, _ := ParseWith(d.path, src, Options{Rel: d.rel, Priority: d.prio, Sections: sections})
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

// docFile is a Markdown file found at a library path.
type docFile struct {
	path string
	// rel is the path relative to the folder given (the file's name for
	// a file given on its own), with forward slashes.
	rel string
	// prio is the index of the path it was found under: the first
	// configured path wins a tie between two procedures.
	prio int
}

// expandPaths lists the Markdown files at paths, sorted by path and
// without duplicates (a file under two paths belongs to the first).
// Hidden folders are skipped.
func expandPaths(paths []string) ([]docFile, []error) {
	seen := map[string]bool{}
	var files []docFile
	var errs []error
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("playbook path: %w", err))
			continue
		}
		if !fi.IsDir() {
			if !seen[p] {
				seen[p] = true
				files = append(files, docFile{path: p, rel: filepath.Base(p), prio: i})
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
				rel, err := filepath.Rel(p, path)
				if err != nil {
					rel = filepath.Base(path)
				}
				files = append(files, docFile{path: path, rel: filepath.ToSlash(rel), prio: i})
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
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
