package playbook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark/ast"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Keys of the per-procedure annotation <!-- firebreak: … -->.
var annotationKeys = []string{"alertname", "severity", "match", "auto", "two_person"}

// Keys of the fence info attributes.
var attrKeys = []string{"name", "target", "risk", "timeout", "auto"}

// Keys of the front matter that are Firebreak's. Others belong to Hugo,
// Jekyll, MkDocs and the like and are ignored.
var frontMatterKeys = []string{"id", "title", "service", "targets", "defaults", "group_by", "labels"}

var annotationRe = regexp.MustCompile(`(?s)^\s*<!--\s*firebreak\s*:(.*?)-->\s*$`)

// annotationBody returns the key=value text of a firebreak comment.
func annotationBody(raw string) (string, bool) {
	m := annotationRe.FindStringSubmatch(raw)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// annotationToken is one key=value pair with its offset in the body.
type annotationToken struct {
	text string
	off  int
}

// splitAnnotation splits on white space outside double quotes and removes
// the quotes.
func splitAnnotation(s string) ([]annotationToken, error) {
	var out []annotationToken
	var b strings.Builder
	start := -1
	inQ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQ = !inQ
			if start < 0 {
				start = i
			}
		case c == '\\' && inQ && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case !inQ && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			if start >= 0 {
				out = append(out, annotationToken{b.String(), start})
				b.Reset()
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
			b.WriteByte(c)
		}
	}
	if inQ {
		return out, fmt.Errorf("unterminated quote")
	}
	if start >= 0 {
		out = append(out, annotationToken{b.String(), start})
	}
	return out, nil
}

var (
	labelNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	matcherRe   = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$`)
)

// parseAnnotation applies a procedure annotation; posAt maps an offset in
// body to a document position.
func (p *parser) parseAnnotation(body string, posAt func(int) Pos) {
	toks, err := splitAnnotation(body)
	if err != nil {
		p.errorf(posAt(len(body)), CodeAnnotation, "firebreak annotation: %v", err)
	}
	seen := map[string]bool{}
	for _, t := range toks {
		pos := posAt(t.off)
		key, val, ok := strings.Cut(t.text, "=")
		if !ok {
			p.errorf(pos, CodeAnnotation, "firebreak annotation: %q is not key=value (keys: %s)", t.text, strings.Join(annotationKeys, ", "))
			continue
		}
		if seen[key] && key != "match" {
			p.errorf(pos, CodeAnnotation, "firebreak annotation: key %q given twice", key)
			continue
		}
		seen[key] = true
		switch key {
		case "alertname":
			for _, a := range strings.Split(val, ",") {
				a = strings.TrimSpace(a)
				if a == "" {
					p.errorf(pos, CodeAnnotation, "firebreak annotation: alertname has an empty name in %q", val)
					continue
				}
				p.proc.AlertNames = append(p.proc.AlertNames, a)
			}
		case "severity":
			sev := incident.Severity(strings.ToLower(val))
			if !sev.Valid() {
				p.errorf(pos, CodeAnnotation, "firebreak annotation: severity %q is not critical, warning or info", val)
				continue
			}
			p.proc.Severity = sev
		case "match":
			m := matcherRe.FindStringSubmatch(val)
			if m == nil {
				p.errorf(pos, CodeAnnotation, "firebreak annotation: match %q is not a label matcher such as match=env=prod, match=team!=db or match=instance=~\"db-.*\"", val)
				continue
			}
			mt := Matcher{Label: m[1], Op: m[2], Value: m[3]}
			if mt.Op == "=~" || mt.Op == "!~" {
				re, err := regexp.Compile("^(?:" + mt.Value + ")$")
				if err != nil {
					p.errorf(pos, CodeAnnotation, "firebreak annotation: match %q: bad regular expression: %v", val, err)
					continue
				}
				mt.re = re
			}
			if mt.Label == "alertname" && mt.Op == "=" {
				p.proc.AlertNames = append(p.proc.AlertNames, mt.Value)
				continue
			}
			p.proc.Matchers = append(p.proc.Matchers, mt)
		case "auto", "two_person":
			b, err := strconv.ParseBool(val)
			if err != nil {
				p.errorf(pos, CodeAnnotation, "firebreak annotation: %s=%q is not true or false", key, val)
				continue
			}
			if key == "auto" {
				p.proc.Auto = b
			} else {
				p.proc.TwoPerson = b
			}
		default:
			p.errorf(pos, CodeAnnotation, "firebreak annotation: unknown key %q (known keys: %s)", key, strings.Join(annotationKeys, ", "))
		}
	}
}

// fenceAttrs reads Runme-style attributes after the fence language:
// ```sql {"name":"x","risk":"read"}. A { key=value } form is accepted too.
func (p *parser) fenceAttrs(n ast.Node, st *Step) {
	f, ok := n.(*ast.FencedCodeBlock)
	if !ok || f.Info == nil {
		return
	}
	info := f.Info.Segment.Value(p.body)
	lang := f.Language(p.body)
	rest := bytes.TrimSpace(info[len(lang):])
	if len(rest) == 0 {
		return
	}
	pos := p.li.pos(f.Info.Segment.Start + len(info) - len(bytes.TrimLeft(info[len(lang):], " \t")))
	if rest[0] != '{' {
		p.warn(pos, CodeFenceAttrs, "fence info %q after the language is not a {…} attribute object and is ignored", string(rest))
		return
	}
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(rest))
	if err := dec.Decode(&raw); err != nil {
		kv, kerr := keyValueAttrs(string(rest))
		if kerr != nil {
			p.errorf(pos, CodeFenceAttrs, "fence attributes: %v; write them as JSON, e.g. {\"name\":\"check-db\",\"risk\":\"read\"}", err)
			return
		}
		raw = kv
	} else if dec.More() {
		p.errorf(pos, CodeFenceAttrs, "fence attributes: text after the closing }")
		return
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a := &st.Attrs
	for _, k := range keys {
		v := raw[k]
		var err error
		switch k {
		case "name":
			err = json.Unmarshal(v, &a.Name)
			if err == nil && (a.Name == "" || slug(a.Name) != a.Name) {
				err = fmt.Errorf("must be a lower-case slug such as \"check-db\", got %q", a.Name)
				a.Name = ""
			}
		case "target":
			err = json.Unmarshal(v, &a.Target)
		case "risk":
			var r string
			err = json.Unmarshal(v, &r)
			if err == nil {
				if r != string(RiskRead) && r != string(RiskWrite) {
					err = fmt.Errorf("must be \"read\" or \"write\", got %q", r)
				} else {
					a.Risk = Risk(r)
				}
			}
		case "timeout":
			var d Duration
			err = d.UnmarshalJSON(v)
			if err == nil && d <= 0 {
				err = fmt.Errorf("must be positive")
			}
			a.Timeout = d
		case "auto":
			var b bool
			err = json.Unmarshal(v, &b)
			if err == nil {
				a.Auto = &b
			}
		default:
			p.errorf(pos, CodeFenceAttrs, "fence attributes: unknown key %q (known keys: %s)", k, strings.Join(attrKeys, ", "))
			continue
		}
		if err != nil {
			p.errorf(pos, CodeFenceAttrs, "fence attribute %q: %v", k, err)
		}
	}
}

// keyValueAttrs reads { key=value key2="v 2" }.
func keyValueAttrs(s string) (map[string]json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("missing closing }")
	}
	toks, err := splitAnnotation(s[1 : len(s)-1])
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for _, t := range toks {
		k, v, ok := strings.Cut(t.text, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", t.text)
		}
		var b []byte
		if bv, err := strconv.ParseBool(v); err == nil && k == "auto" {
			b, _ = json.Marshal(bv)
		} else {
			b, _ = json.Marshal(v)
		}
		out[k] = b
	}
	return out, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseFrontMatter validates the YAML front matter; firstLine is the
// 0-based document line of the opening ---.
func (p *parser) parseFrontMatter(src []byte, firstLine int) {
	at := func(n *yaml.Node) Pos {
		return Pos{Line: n.Line + firstLine, Col: max(n.Column, 1)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		pos := Pos{Line: firstLine + 1, Col: 1}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			l, _ := strconv.Atoi(m[1])
			pos.Line = l + firstLine
		}
		p.errorf(pos, CodeFrontMatter, "front matter is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(at(root), CodeFrontMatter, "front matter must be a mapping of keys (%s)", strings.Join(frontMatterKeys, ", "))
		return
	}
	fm := &p.pb.Meta
	str := func(key, v *yaml.Node) (string, bool) {
		if v.Kind != yaml.ScalarNode {
			p.errorf(at(v), CodeFrontMatter, "front matter %s must be a string", key.Value)
			return "", false
		}
		return v.Value, true
	}
	list := func(key, v *yaml.Node) []string {
		switch v.Kind {
		case yaml.ScalarNode:
			return []string{v.Value}
		case yaml.SequenceNode:
			var out []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					p.errorf(at(it), CodeFrontMatter, "front matter %s must be a list of names", key.Value)
					continue
				}
				out = append(out, it.Value)
			}
			return out
		}
		p.errorf(at(v), CodeFrontMatter, "front matter %s must be a list of names", key.Value)
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			p.errorf(at(k), CodeFrontMatter, "front matter key %q given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "id":
			if s, ok := str(k, v); ok {
				if slug(s) != s || s == "" {
					p.errorf(at(v), CodeFrontMatter, "front matter id %q must be a lower-case slug such as \"payments-api\"", s)
				} else {
					fm.ID = s
				}
			}
		case "title":
			if s, ok := str(k, v); ok {
				fm.Title = strings.TrimSpace(s)
			}
		case "service":
			fm.Service, _ = str(k, v)
		case "targets":
			if v.Kind != yaml.MappingNode {
				p.errorf(at(v), CodeFrontMatter, "front matter targets must map an executor (sql, kube, shell) to a target name")
				continue
			}
			fm.Targets = map[Executor]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				tk, tv := v.Content[j], v.Content[j+1]
				ex := Executor(tk.Value)
				if ex != ExecSQL && ex != ExecKube && ex != ExecShell {
					p.errorf(at(tk), CodeFrontMatter, "front matter targets: unknown executor %q (known: sql, kube, shell)", tk.Value)
					continue
				}
				if s, ok := str(tk, tv); ok {
					fm.Targets[ex] = s
				}
			}
		case "defaults":
			if v.Kind != yaml.MappingNode {
				p.errorf(at(v), CodeFrontMatter, "front matter defaults must be a mapping with timeout and auto")
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				dk, dv := v.Content[j], v.Content[j+1]
				switch dk.Value {
				case "timeout":
					d, err := time.ParseDuration(dv.Value)
					if err != nil || d <= 0 || dv.Kind != yaml.ScalarNode {
						p.errorf(at(dv), CodeFrontMatter, "front matter defaults.timeout %q is not a positive duration such as 10s", dv.Value)
						continue
					}
					fm.Defaults.Timeout = Duration(d)
				case "auto":
					b, err := strconv.ParseBool(dv.Value)
					if err != nil || dv.Kind != yaml.ScalarNode {
						p.errorf(at(dv), CodeFrontMatter, "front matter defaults.auto %q is not true or false", dv.Value)
						continue
					}
					fm.Defaults.Auto = &b
				default:
					p.errorf(at(dk), CodeFrontMatter, "front matter defaults: unknown key %q (known: timeout, auto)", dk.Value)
				}
			}
		case "group_by":
			fm.GroupBy = list(k, v)
			for _, l := range fm.GroupBy {
				if !labelNameRe.MatchString(l) {
					p.errorf(at(v), CodeFrontMatter, "front matter group_by: %q is not a label name", l)
				}
			}
		case "labels":
			fm.Labels = list(k, v)
		default:
			p.foreignKey(at(k), k.Value)
		}
	}
}

// foreignKey notes a front-matter key Firebreak does not read. Site
// generators own most of them (weight, bookHidden, layout, nav_order);
// one a letter or two from a Firebreak key is probably that key
// misspelt, and a warning says so.
func (p *parser) foreignKey(pos Pos, key string) {
	for _, k := range frontMatterKeys {
		if key != k && editDistance(strings.ToLower(key), k) <= 2 && len(key) > 2 {
			p.warn(pos, CodeForeignKey, "front matter key %q is not Firebreak's and is ignored; did you mean %q?", key, k)
			return
		}
	}
	p.diag(SeverityInfo, pos, CodeForeignKey, "front matter key %q is not Firebreak's (Firebreak reads %s) and is ignored", key, strings.Join(frontMatterKeys, ", "))
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tomlFrontMatter reads what Firebreak needs of a Hugo TOML front matter
// (+++ … +++): the title. Every other key is noted as foreign; Firebreak's
// own keys are read only from YAML front matter.
func (p *parser) tomlFrontMatter(src []byte, firstLine int) {
	for i, line := range strings.Split(string(src), "\n") {
		m := tomlKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pos := Pos{Line: firstLine + i + 1, Col: 1}
		switch {
		case m[1] == "title":
			if v, err := strconv.Unquote(strings.TrimSpace(m[2])); err == nil {
				p.pb.Meta.Title = strings.TrimSpace(v)
			} else {
				p.pb.Meta.Title = strings.Trim(strings.TrimSpace(m[2]), `"'`)
			}
		case slices.Contains(frontMatterKeys, m[1]):
			p.warn(pos, CodeFrontMatter, "front matter key %q is read only from YAML front matter (--- … ---); in TOML it is ignored", m[1])
		default:
			p.diag(SeverityInfo, pos, CodeForeignKey, "front matter key %q is not Firebreak's and is ignored", m[1])
		}
	}
}

var tomlKey = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*)$`)
