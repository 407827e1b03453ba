// Package redact scrubs secrets from text before it leaves Firebreak: step
// outputs, error messages and log records.
//
// A Redactor combines three kinds of rules:
//
//   - exact secret values (a DSN password, a webhook token) that are replaced
//     wherever they occur, together with their URL-escaped forms;
//   - built-in patterns for credentials that have a recognisable shape:
//     passwords in URLs, key=value and JSON/YAML "password: …" pairs, bearer
//     and basic authorization headers, Firebreak API tokens (fbt_…) and
//     integration keys (fbi_…), and PEM private key blocks;
//   - regular expressions from configuration.
//
// Secrets and token formats match in any letter case: output that went
// through `tr a-z A-Z` or a hex dump in capitals still shows no secret.
//
// Every match is replaced by [Mask]. A Redactor is immutable and safe for
// concurrent use; text in which nothing matches is returned as is, without
// allocating.
package redact

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unsafe"
)

// Mask replaces every secret.
const Mask = "xxxxx"

// MinSecretLen is the shortest exact secret that is scrubbed. Shorter values
// ("pw", "1") occur everywhere in ordinary output; scrubbing them would
// destroy the output without protecting anything a guess would not reveal.
// Such secrets are skipped; the shape-based patterns still cover them in
// URLs and key=value pairs.
const MinSecretLen = 4

// Config configures a Redactor beyond the built-in patterns.
type Config struct {
	// Patterns are extra regular expressions (RE2 syntax). When a pattern has
	// a group named "secret", only that group is masked; otherwise, when it
	// has capturing groups, only the first group is masked; otherwise the
	// whole match is.
	Patterns []string
	// Secrets are exact values to scrub wherever they appear.
	Secrets []string
}

// Redactor scrubs secrets from strings, byte slices and log records.
// The zero value is not usable; use [New] or [Default].
type Redactor struct {
	rules []rule
	// lowered holds the secrets with ASCII letters in lower case, for the
	// cheap check that one may occur; secretRE then finds them in any case.
	lowered  []string
	secrets  []string // longest first
	secretRE *regexp.Regexp
}

// rule is one pattern. Each submatch listed in groups is masked when it
// took part in the match; groups == nil masks the whole match.
type rule struct {
	re     *regexp.Regexp
	groups []int
	// hints are lower-case substrings of which at least one must occur in
	// the text (case-insensitively) for the rule to be able to match. They
	// keep the common no-secret case cheap. Empty means always run.
	hints []string
	// keep is how many bytes of a whole match to keep before the mask (a
	// token format's prefix, which tells the reader what was there).
	keep int
}

// quotedOrBare matches the value of a key=value pair and captures it in one
// of three groups: double-quoted, single-quoted or bare.
const quotedOrBare = `(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^\s"',;&}\]]+))`

func builtinRules() []rule {
	return []rule{
		{
			// scheme://user:PASSWORD@host. The password stops at characters
			// that cannot appear raw in a URL's userinfo.
			re:     regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@?#"'<>]*:([^\s@/?#"'<>]+)@`),
			groups: []int{1},
			hints:  []string{"://"},
		},
		{
			// password=SECRET, "password": "SECRET", PGPASSWORD=SECRET,
			// access_token: SECRET, sslpassword='SECRET' (libpq key/value DSN).
			re:     regexp.MustCompile(`(?i)[a-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|private[_\-]?key)["']?\s*[=:]\s*` + quotedOrBare),
			groups: []int{1, 2, 3},
			hints:  []string{"pass", "secret", "token", "key"},
		},
		{
			re:     regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)`),
			groups: []int{1},
			hints:  []string{"bearer"},
		},
		{
			// Authorization: Basic dXNlcjpwYXNz (and Token/Digest schemes).
			re:     regexp.MustCompile(`(?i)\bauthorization["']?\s*[=:]\s*["']?(?:basic|token|digest)\s+([^\s"',;]+)`),
			groups: []int{1},
			hints:  []string{"authorization"},
		},
		{
			// Firebreak API tokens and integration keys (fbt_ or fbi_ and
			// 52 base32 letters), in any case.
			re:    regexp.MustCompile(`(?i)\bfb[ti]_[a-z0-9_\-]{6,}`),
			keep:  len("fbt_"),
			hints: []string{"fbt_", "fbi_"},
		},
		{
			re:    regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`),
			hints: []string{"private key-----"},
		},
	}
}

// New builds a Redactor from the built-in patterns and cfg. An invalid
// pattern is an error that names its index.
func New(cfg Config) (*Redactor, error) {
	r := &Redactor{rules: builtinRules()}
	for i, p := range cfg.Patterns {
		if p == "" {
			return nil, fmt.Errorf("redact: patterns[%d]: empty pattern", i)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact: patterns[%d] %q: %w", i, p, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("redact: patterns[%d] %q: matches the empty string, so it would mask between every character", i, p)
		}
		ru := rule{re: re}
		if g := re.SubexpIndex("secret"); g > 0 {
			ru.groups = []int{g}
		} else if re.NumSubexp() > 0 {
			ru.groups = []int{1}
		}
		r.rules = append(r.rules, ru)
	}
	r.setSecrets(cfg.Secrets)
	return r, nil
}

// Default returns a Redactor with only the built-in patterns.
func Default() *Redactor {
	r, err := New(Config{})
	if err != nil {
		panic(err) // the built-in patterns compile
	}
	return r
}

// WithSecrets returns a copy of r that also scrubs the given exact values.
// r itself is unchanged. A nil r starts from [Default].
func (r *Redactor) WithSecrets(secrets ...string) *Redactor {
	if r == nil {
		r = Default()
	}
	c := &Redactor{rules: r.rules}
	c.setSecrets(append(slices.Clone(r.secrets), secrets...))
	return c
}

func (r *Redactor) setSecrets(in []string) {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= MinSecretLen && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range in {
		add(s)
		// A password usually travels inside a URL, escaped.
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(url.UserPassword("", s).String()[1:])
	}
	// Longest first, so a secret that contains another is scrubbed whole:
	// the alternation takes the first that matches.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	r.secrets = out
	r.lowered = nil
	r.secretRE = nil
	if len(out) > 0 {
		quoted := make([]string, len(out))
		for i, s := range out {
			quoted[i] = regexp.QuoteMeta(s)
			r.lowered = append(r.lowered, lowerASCII(s))
		}
		r.secretRE = regexp.MustCompile(`(?i)(?:` + strings.Join(quoted, "|") + `)`)
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// String returns s with every secret replaced by [Mask]. When nothing
// matches, s itself is returned.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.secretRE != nil && containsAnyFold(s, r.lowered) {
		s = r.secretRE.ReplaceAllLiteralString(s, Mask)
	}
	for i := range r.rules {
		ru := &r.rules[i]
		if len(ru.hints) > 0 && !containsAnyFold(s, ru.hints) {
			continue
		}
		if out, changed := ru.apply(s); changed {
			s = out
		}
	}
	return s
}

// Bytes is String for byte slices. When nothing matches, b itself is
// returned; otherwise a new slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(b) == 0 {
		return b
	}
	// The string view is only read during the call and never escapes: String
	// returns either its input (then b is returned) or a freshly built string.
	view := unsafe.String(unsafe.SliceData(b), len(b))
	out := r.String(view)
	if unsafe.StringData(out) == unsafe.StringData(view) && len(out) == len(view) {
		return b
	}
	return []byte(out)
}

// apply masks every match of the rule in s.
func (ru *rule) apply(s string) (string, bool) {
	matches := ru.re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		if ru.groups == nil {
			b.WriteString(s[last : m[0]+min(ru.keep, m[1]-m[0])])
			b.WriteString(Mask)
			last = m[1]
			continue
		}
		for _, g := range ru.groups {
			start, end := m[2*g], m[2*g+1]
			if start < 0 || start < last {
				continue
			}
			b.WriteString(s[last:start])
			b.WriteString(Mask)
			last = end
		}
	}
	b.WriteString(s[last:])
	out := b.String()
	return out, out != s
}

// containsAnyFold reports whether s contains one of the subs, whose ASCII
// letters are lower case, ignoring ASCII case, without allocating.
func containsAnyFold(s string, subs []string) bool {
	for _, sub := range subs {
		if indexFold(s, sub) >= 0 {
			return true
		}
	}
	return false
}

// indexFold finds the lower-case ASCII sub in s ignoring ASCII case. It
// jumps between candidate first bytes with strings.IndexByte, which keeps
// the common no-match scan fast.
func indexFold(s, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	lo := sub[0]
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - ('a' - 'A')
	}
	nextLo, nextUp := -2, -2 // -2: not searched yet
	for i := 0; i+n <= len(s); {
		if nextLo != -1 && nextLo < i {
			if nextLo = strings.IndexByte(s[i:], lo); nextLo >= 0 {
				nextLo += i
			}
		}
		if up != lo && nextUp != -1 && nextUp < i {
			if nextUp = strings.IndexByte(s[i:], up); nextUp >= 0 {
				nextUp += i
			}
		}
		c := nextLo
		if up != lo && nextUp >= 0 && (c < 0 || nextUp < c) {
			c = nextUp
		}
		if c < 0 || c+n > len(s) {
			return -1
		}
		if equalFoldASCII(s[c:c+n], sub) {
			return c
		}
		i = c + 1
	}
	return -1
}

func equalFoldASCII(s, lower string) bool {
	for j := 0; j < len(lower); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[j] {
			return false
		}
	}
	return true
}
