package playbook

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// urlPrefix is one entry of playbook_urls: alerts whose runbook_url starts
// with prefix link the files under folder.
type urlPrefix struct {
	prefix string // lower case
	folder string // absolute, cleaned
}

// urlPrefixes orders configured prefixes longest first, so the most
// specific one is tried first.
func urlPrefixes(m map[string]string) []urlPrefix {
	var out []urlPrefix
	for p, f := range m {
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = filepath.Clean(f)
		}
		out = append(out, urlPrefix{prefix: strings.ToLower(p), folder: abs})
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].prefix) != len(out[j].prefix) {
			return len(out[i].prefix) > len(out[j].prefix)
		}
		return out[i].prefix < out[j].prefix
	})
	return out
}

// urlIndex finds the document a runbook_url links.
type urlIndex struct {
	prefixes []urlPrefix
	byPath   map[string]*Playbook   // pathKey of the absolute path
	byLast   map[string][]*Playbook // last segment of the relative path, lower case, no extension
}

func newURLIndex(prefixes []urlPrefix, pbs []*Playbook) urlIndex {
	ix := urlIndex{prefixes: prefixes, byPath: map[string]*Playbook{}, byLast: map[string][]*Playbook{}}
	for _, pb := range pbs {
		if len(pb.Procedures) == 0 {
			continue
		}
		if len(prefixes) > 0 {
			if abs, err := filepath.Abs(pb.Path); err == nil {
				ix.byPath[pathKey(abs)] = pb
			}
		}
		if segs := relSegments(pb.Rel); len(segs) > 0 {
			last := segs[len(segs)-1]
			ix.byLast[last] = append(ix.byLast[last], pb)
		}
	}
	return ix
}

// pathKey is a path compared case-insensitively, without a Markdown or
// HTML extension.
func pathKey(p string) string {
	return strings.ToLower(filepath.ToSlash(filepath.Clean(trimDocExt(p))))
}

func trimDocExt(p string) string {
	for _, ext := range []string{".md", ".markdown", ".html", ".htm"} {
		if len(p) > len(ext) && strings.EqualFold(p[len(p)-len(ext):], ext) {
			return p[:len(p)-len(ext)]
		}
	}
	return p
}

// relSegments splits a relative path into lower-case segments, the last
// without its extension.
func relSegments(rel string) []string {
	rel = strings.Trim(trimDocExt(filepath.ToSlash(rel)), "/")
	if rel == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(rel, "/") {
		if s != "" && s != "." {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

// lookup returns the procedure a runbook_url links, and how it was found:
// first through a configured prefix, then by the URL path's last segments
// against documents' relative paths (the longest match wins; a tie goes to
// the first configured path, then the first ID). A fragment names the
// procedure in a document with several; without one, such a document
// gives the procedure whose name is the alertname.
func (ix urlIndex) lookup(raw string, labels map[string]string) (procRef, string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return procRef{}, "", false
	}
	base := strings.TrimSpace(raw)
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	lower := strings.ToLower(base)
	for _, p := range ix.prefixes {
		if !strings.HasPrefix(lower, p.prefix) {
			continue
		}
		rest, err := url.PathUnescape(strings.Trim(base[len(p.prefix):], "/"))
		if err != nil || strings.Contains(rest, "..") {
			continue
		}
		if pb := ix.byPath[pathKey(filepath.Join(p.folder, filepath.FromSlash(rest)))]; pb != nil {
			if r, ok := procedureOf(pb, u.Fragment, labels); ok {
				return r, fmt.Sprintf("runbook_url %s → %s (playbook_urls prefix %s)", raw, pb.Path, p.prefix), true
			}
		}
	}
	var segs []string
	for _, s := range strings.Split(u.Path, "/") {
		if s != "" {
			segs = append(segs, strings.ToLower(s))
		}
	}
	if len(segs) == 0 {
		return procRef{}, "", false
	}
	segs[len(segs)-1] = strings.ToLower(trimDocExt(segs[len(segs)-1]))
	var best *Playbook
	bestLen := 0
	for _, pb := range ix.byLast[segs[len(segs)-1]] {
		rs := relSegments(pb.Rel)
		if len(rs) > len(segs) || !suffixOf(rs, segs) {
			continue
		}
		switch {
		case len(rs) > bestLen,
			len(rs) == bestLen && (pb.priority < best.priority || pb.priority == best.priority && pb.ID < best.ID):
			best, bestLen = pb, len(rs)
		}
	}
	if best == nil {
		return procRef{}, "", false
	}
	r, ok := procedureOf(best, u.Fragment, labels)
	if !ok {
		return procRef{}, "", false
	}
	return r, fmt.Sprintf("runbook_url %s → %s (its last %d path segment(s))", raw, best.Rel, bestLen), true
}

func suffixOf(short, long []string) bool {
	off := len(long) - len(short)
	for i, s := range short {
		if long[off+i] != s {
			return false
		}
	}
	return true
}

// procedureOf picks the procedure of a linked document.
func procedureOf(pb *Playbook, fragment string, labels map[string]string) (procRef, bool) {
	if len(pb.Procedures) == 1 {
		return procRef{pb, pb.Procedures[0], 0}, true
	}
	if fragment != "" {
		for i, pr := range pb.Procedures {
			if pr.Key == slug(fragment) || normalize(pr.Title) == normalize(fragment) {
				return procRef{pb, pr, i}, true
			}
		}
	}
	name := normalize(labels["alertname"])
	for i, pr := range pb.Procedures {
		if name != "" && slices.Contains(pr.matchNames(), name) {
			return procRef{pb, pr, i}, true
		}
	}
	return procRef{}, false
}
