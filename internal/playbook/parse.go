package playbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Parse reads one playbook document. It always returns a Playbook, with
// every finding in its Diagnostics; the error is a *DiagnosticsError when
// any of them is an error. path names the document in diagnostics and
// gives the playbook its ID.
func Parse(path string, src []byte) (*Playbook, error) {
	return ParseWith(path, src, Options{})
}

// Options steer ParseWith.
type Options struct {
	// Rel is the document's path relative to the folder it was loaded
	// from. A runbook's ID is made of it ("kubernetes/kubepodcrashlooping"),
	// and runbook_url annotations are matched against it.
	Rel string
	// Priority is the index of the configured path the document came
	// from: of two procedures that match an alert equally, the one from
	// the earlier path wins.
	Priority int
	// Sections is the table that gives runbook sections their roles; nil
	// is the built-in one.
	Sections *SectionTable

	// script makes every shell block a script, never a console session
	// (StepFromText: an edit is the text that runs).
	script bool
}

// ParseWith reads one document, as Parse, with options. A document is
// read as one of two shapes: a playbook of alert procedures (the
// reference's shape), or a runbook, one file per alert whose H1 or
// front-matter title names the alert and whose sections (Meaning, Impact,
// Diagnosis, Mitigation, …) map to roles through the section table.
// runbook.go says how the shape is decided.
func ParseWith(path string, src []byte, opt Options) (*Playbook, error) {
	sum := sha256.Sum256(src)
	pb := &Playbook{
		Path:       path,
		Hash:       hex.EncodeToString(sum[:]),
		Source:     src,
		Rel:        filepath.ToSlash(opt.Rel),
		Procedures: []*Procedure{}, Phases: []*Phase{}, Templates: []*Template{},
		Escalation: []*EscalationLevel{}, Resources: []*Resource{},
		priority: opt.Priority,
	}
	if opt.Sections == nil {
		opt.Sections = builtinSections
	}
	p := &parser{pb: pb, src: src, li: newLineIndex(src), opt: opt}
	p.body = p.frontMatter()
	p.fmDiags = len(p.diags)
	doc := goldmark.New().Parser().Parse(text.NewReader(p.body))
	p.read(doc)
	p.diags = append(p.diags, ambiguity([]*Playbook{pb}, false)...)
	sortDiagnostics(p.diags)
	pb.Diagnostics = p.diags
	return pb, errorsOf(pb.Diagnostics)
}

// classic reads the document as a playbook of alert procedures.
func (p *parser) classic(doc ast.Node) {
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		p.block(n)
	}
	p.endProcedure()
	p.pb.ID = playbookID(p.pb.Path, p.pb.Meta.ID)
	if p.pb.Meta.Title != "" {
		p.pb.Title = p.pb.Meta.Title
	}
}

// containerKind is what a level-1/2 heading introduces.
type containerKind int

const (
	contNone containerKind = iota
	contOverview
	contProcedures
	contPhases
	contTemplates
	contEscalation
	contResources
)

type parser struct {
	pb    *Playbook
	src   []byte // the document as given
	body  []byte // the document with front matter blanked out
	li    *lineIndex
	opt   Options
	diags []Diagnostic
	// fmDiags is how many diagnostics the front matter gave: a document
	// read again as a runbook keeps those and drops the rest.
	fmDiags int

	// runbook is set while reading a runbook (runbook.go).
	runbook bool
	rb      runbookState
	// attrsRead marks fenced blocks whose attributes were read, so a
	// console block split into several commands reports them once.
	attrsRead map[ast.Node]bool

	cont      containerKind
	contLevel int

	proc       *Procedure
	procLevel  int
	procAnnot  bool // an annotation was seen for proc
	section    *Section
	taskKeys   map[string]Pos
	phase      *Phase
	tmpl       *Template
	lastPara   string // text of the previous top-level paragraph in a procedure
	steps      []*Task
	procParams map[*Step][]paramSite
	stepPos    map[*Step]Pos // the step's fence
}

// paramSite remembers where a parameter occurs, for diagnostics.
type paramSite struct {
	name string
	pos  Pos
}

func (p *parser) diag(sev DiagSeverity, pos Pos, code, format string, args ...any) {
	if pos.Line < 1 {
		pos = Pos{1, 1}
	}
	p.diags = append(p.diags, Diagnostic{File: p.pb.Path, Pos: pos, Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) errorf(pos Pos, code, format string, args ...any) {
	p.diag(SeverityError, pos, code, format, args...)
}

func (p *parser) warn(pos Pos, code, format string, args ...any) {
	p.diag(SeverityWarning, pos, code, format, args...)
}

// offset returns a source offset for a node: its block start, its first
// line, or its first child's.
func nodeOffset(n ast.Node) int {
	if t, ok := n.(*ast.Text); ok {
		return t.Segment.Start
	}
	if n.Pos() >= 0 {
		return n.Pos()
	}
	if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
		return n.Lines().At(0).Start
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if o := nodeOffset(c); o >= 0 {
			return o
		}
	}
	return -1
}

func (p *parser) pos(n ast.Node) Pos {
	for ; n != nil; n = n.Parent() {
		if o := nodeOffset(n); o >= 0 {
			return p.li.pos(o)
		}
	}
	return Pos{1, 1}
}

// inlineText flattens a node's inline content to plain text.
func (p *parser) inlineText(n ast.Node) string {
	var b strings.Builder
	p.writeInline(&b, n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (p *parser) writeInline(b *strings.Builder, n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(p.body))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.AutoLink:
			b.Write(c.Label(p.body))
		case *ast.RawHTML:
			// Inline HTML is markup, not text.
		default:
			p.writeInline(b, c)
		}
	}
}

// blockText returns the raw lines of a block (code, HTML), as written.
func (p *parser) blockText(n ast.Node) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		b.Write(s.Value(p.body))
	}
	return b.String()
}

// firstStrong returns the text of the first bold span directly inside a
// paragraph, without a trailing colon.
func (p *parser) firstStrong(para ast.Node) string {
	for c := para.FirstChild(); c != nil; c = c.NextSibling() {
		if e, ok := c.(*ast.Emphasis); ok && e.Level == 2 {
			return strings.TrimSpace(strings.TrimRight(p.inlineText(e), ": "))
		}
	}
	return ""
}

// sectionLabel returns the section title when a paragraph is only a bold
// label such as "**Assessment:**".
func (p *parser) sectionLabel(para ast.Node) (string, bool) {
	var label string
	seen := false
	for c := para.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Emphasis:
			if c.Level != 2 || seen {
				return "", false
			}
			seen = true
			label = p.inlineText(c)
		case *ast.Text:
			if t := strings.TrimSpace(string(c.Segment.Value(p.body))); t != "" && t != ":" {
				return "", false
			}
		default:
			return "", false
		}
	}
	label = strings.TrimSpace(strings.TrimRight(label, ": "))
	if !seen || label == "" || utf8.RuneCountInString(label) > 60 {
		return "", false
	}
	return label, true
}

func (p *parser) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Heading:
		p.heading(n)
	case *ast.HTMLBlock:
		p.html(n)
	case *ast.List:
		p.list(n)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		p.codeBlock(n)
	case *ast.Paragraph:
		p.paragraph(n)
	}
}

var (
	severityPrefix = regexp.MustCompile(`(?i)^(CRITICAL|WARNING|WARN|INFO)\b\s*[:\-–—]?\s*`)
	severityWord   = regexp.MustCompile(`\b(CRITICAL|WARNING)\b`)
	strictSeverity = regexp.MustCompile(`^(CRITICAL|WARNING)\s*[:\-–—]`)
	trailingCond   = regexp.MustCompile(`\s*(?:\(([^()]*)\)|\[([^\[\]]*)\])\s*$`)
	phaseHeading   = regexp.MustCompile(`(?i)^phase\s+(\d+)\s*[:.\-–—]?\s*(.*)$`)
)

// isDecoration reports whether a word is an emoji, a symbol or mojibake
// (such as "ðŸ”´", a 🔴 decoded twice) rather than part of a title.
func isDecoration(w string) bool {
	for _, r := range w {
		switch {
		case r < 0x80:
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return false
			}
		case r <= 0x2FF, r >= 0x2000 && r <= 0x2BFF, r >= 0x1F000, r == 0xFE0F, r == 0x200D:
			// Latin-1 and spacing modifiers (mojibake), punctuation,
			// symbols and emoji.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return false
		}
	}
	return true
}

func stripDecoration(s string) string {
	words := strings.Fields(s)
	for len(words) > 0 && isDecoration(words[0]) {
		words = words[1:]
	}
	for len(words) > 0 && isDecoration(words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// splitHeading takes a procedure heading apart: severity, title and the
// bracketed condition.
func splitHeading(h string) (title, cond string, sev incident.Severity) {
	t := stripDecoration(h)
	if m := severityPrefix.FindStringSubmatch(t); m != nil {
		sev = severityOf(m[1])
		t = stripDecoration(t[len(m[0]):])
	} else if m := severityWord.FindStringSubmatch(t); m != nil {
		sev = severityOf(m[1])
	}
	if m := trailingCond.FindStringSubmatchIndex(t); m != nil {
		c := t[m[0]:]
		c = strings.TrimSpace(c)
		cond = strings.TrimSpace(c[1 : len(c)-1])
		t = stripDecoration(t[:m[0]])
		if severityOf(cond) != "" && sev == "" {
			sev = severityOf(cond)
		}
	}
	return t, cond, sev
}

func severityOf(w string) incident.Severity {
	switch strings.ToUpper(w) {
	case "CRITICAL":
		return incident.SeverityCritical
	case "WARNING", "WARN":
		return incident.SeverityWarning
	case "INFO":
		return incident.SeverityInfo
	}
	return ""
}

func containerOf(title string) containerKind {
	t := strings.ToLower(title)
	switch {
	case strings.Contains(t, "overview"):
		return contOverview
	case strings.Contains(t, "escalation"):
		return contEscalation
	case strings.Contains(t, "template") || strings.Contains(t, "communication"):
		return contTemplates
	case strings.Contains(t, "phase") || strings.Contains(t, "process"):
		return contPhases
	case strings.Contains(t, "tool") || strings.Contains(t, "resource"):
		return contResources
	case strings.Contains(t, "alert") || strings.Contains(t, "procedure") || strings.Contains(t, "runbook"):
		return contProcedures
	}
	return contNone
}

func (p *parser) heading(h *ast.Heading) {
	title := p.inlineText(h)
	level := h.Level
	if p.proc != nil && level > p.procLevel {
		p.startSection(title, p.pos(h))
		return
	}
	if level == 1 && p.pb.Title == "" {
		p.pb.Title = title
		return
	}
	isProc := false
	switch p.cont {
	case contNone, contOverview, contProcedures:
		// "CRITICAL: …" outside the other known sections; a template
		// called "Critical incident notice" is not a procedure.
		isProc = strictSeverity.MatchString(stripDecoration(title))
	}
	if annotationFollows(h, p.body) {
		isProc = true
	}
	if p.cont == contProcedures && level == p.contLevel+1 {
		isProc = true
	}
	p.endProcedure()
	p.phase, p.tmpl = nil, nil
	if isProc {
		p.startProcedure(h, title)
		return
	}
	if level <= 2 || p.contLevel == 0 || level <= p.contLevel {
		p.cont = containerOf(title)
		p.contLevel = level
		return
	}
	switch {
	case p.cont == contPhases && level == p.contLevel+1:
		p.startPhase(h, title)
	case p.cont == contTemplates && level == p.contLevel+1:
		p.tmpl = &Template{Key: slug(title), Name: title, Fields: []Field{}, Pos: p.pos(h)}
		p.pb.Templates = append(p.pb.Templates, p.tmpl)
	}
}

func annotationFollows(h ast.Node, src []byte) bool {
	next := h.NextSibling()
	hb, ok := next.(*ast.HTMLBlock)
	if !ok {
		return false
	}
	_, ok = annotationBody(rawHTML(hb, src))
	return ok
}

func rawHTML(hb *ast.HTMLBlock, src []byte) string {
	var b strings.Builder
	for i := 0; i < hb.Lines().Len(); i++ {
		s := hb.Lines().At(i)
		b.Write(s.Value(src))
	}
	if hb.HasClosure() {
		b.Write(hb.ClosureLine.Value(src))
	}
	return b.String()
}

func (p *parser) startProcedure(h *ast.Heading, heading string) {
	title, cond, sev := splitHeading(heading)
	pos := p.pos(h)
	if title == "" {
		title = heading
	}
	key := slug(title)
	if key == "" {
		key = "procedure-" + strconv.Itoa(len(p.pb.Procedures)+1)
	}
	for _, other := range p.pb.Procedures {
		if other.Key == key {
			p.errorf(pos, CodeDuplicateKey, "procedure %q has the same key %q as the procedure at line %d; give one a different title", title, key, other.Pos.Line)
			key = key + "-" + strconv.Itoa(len(p.pb.Procedures)+1)
		}
	}
	p.begin(&Procedure{
		Key: key, Title: title, Heading: heading, Condition: cond, Severity: sev,
		Auto: true, Sections: []*Section{}, Pos: pos,
	}, h.Level)
}

// begin makes proc the procedure being read, under a heading of level,
// with the per-procedure state fresh, and adds it to the playbook.
func (p *parser) begin(proc *Procedure, level int) {
	p.proc = proc
	p.procLevel = level
	p.procAnnot = false
	p.section = nil
	p.taskKeys = map[string]Pos{}
	p.lastPara = ""
	p.steps = nil
	p.procParams = map[*Step][]paramSite{}
	p.stepPos = map[*Step]Pos{}
	p.rb = runbookState{}
	p.pb.Procedures = append(p.pb.Procedures, proc)
}

func (p *parser) startSection(title string, pos Pos) {
	key := slug(title)
	if key == "" {
		key = "section-" + strconv.Itoa(len(p.proc.Sections)+1)
	}
	for _, s := range p.proc.Sections {
		if s.Key == key {
			key = key + "-" + strconv.Itoa(len(p.proc.Sections)+1)
		}
	}
	p.section = &Section{Key: key, Title: title, Tasks: []*Task{}, Pos: pos}
	p.proc.Sections = append(p.proc.Sections, p.section)
	p.lastPara = ""
}

// ensureSection gives tasks before any section label a section of their
// own.
func (p *parser) ensureSection(pos Pos) *Section {
	if p.section == nil {
		p.startSection("Steps", pos)
	}
	return p.section
}

func (p *parser) endProcedure() {
	pr := p.proc
	if pr == nil {
		return
	}
	p.proc = nil
	for _, s := range pr.Sections {
		if len(s.Tasks) == 0 {
			p.warn(s.Pos, CodeEmptySection, "section %q of procedure %q has no tasks", s.Title, pr.Title)
		}
	}
	switch {
	case len(pr.Sections) == 0 && p.runbook:
		p.diag(SeverityInfo, pr.Pos, CodeEmptySection, "runbook %q has no steps or checklist items; its text is shown with the incident", pr.Title)
	case len(pr.Sections) == 0:
		p.warn(pr.Pos, CodeEmptySection, "procedure %q has no sections or tasks", pr.Title)
	}
	p.resolveSources(pr)
	if p.runbook && len(pr.Names) == 0 && !pr.Explicit() {
		p.warn(pr.Pos, CodeUnmatchable, "runbook %q has no title that reads as an alert name, so no alert will match it by name; name the alert in its H1 (# KubePodCrashLooping), or link it from the alert's runbook_url", pr.Title)
	} else if !p.runbook && !pr.Explicit() && !plausibleAlertName(pr.Title) {
		p.warn(pr.Pos, CodeUnmatchable, "procedure %q has no firebreak annotation and its title does not read as an alert name (%q), so no alert will match it; add <!-- firebreak: alertname=… -->", pr.Title, normalize(pr.Title))
	}
}

func (p *parser) startPhase(h *ast.Heading, title string) {
	ph := &Phase{Number: len(p.pb.Phases) + 1, Checklist: []ChecklistItem{}, Pos: p.pos(h)}
	name := title
	if m := phaseHeading.FindStringSubmatch(title); m != nil {
		ph.Number, _ = strconv.Atoi(m[1])
		name = m[2]
	}
	if m := trailingCond.FindStringSubmatchIndex(name); m != nil {
		inner := strings.TrimSpace(name[m[0]:])
		inner = strings.TrimSpace(inner[1 : len(inner)-1])
		if w, ok := parseWindow(inner); ok {
			ph.Window = w
			name = strings.TrimSpace(name[:m[0]])
		}
	}
	if ph.Window.IsZero() {
		p.warn(ph.Pos, CodeStructure, "phase %q has no time window such as \"(0-5 minutes)\"", name)
	}
	ph.Name = name
	ph.Key = slug(name)
	if ph.Key == "" {
		ph.Key = "phase-" + strconv.Itoa(ph.Number)
	}
	p.phase = ph
	p.pb.Phases = append(p.pb.Phases, ph)
}

func (p *parser) paragraph(n *ast.Paragraph) {
	if p.proc != nil {
		if label, ok := p.sectionLabel(n); ok {
			p.startSection(label, p.pos(n))
			return
		}
		p.lastPara = strings.TrimRight(p.inlineText(n), ": ")
		return
	}
	if p.cont == contOverview {
		t := p.inlineText(n)
		if p.pb.Description != "" {
			p.pb.Description += "\n\n"
		}
		p.pb.Description += t
	}
}

func (p *parser) html(n *ast.HTMLBlock) {
	raw := rawHTML(n, p.body)
	body, ok := annotationBody(raw)
	if !ok {
		return
	}
	pos := p.pos(n)
	if p.proc == nil {
		p.warn(pos, CodeStray, "firebreak annotation is not under a procedure heading and is ignored")
		return
	}
	if p.procAnnot {
		p.errorf(pos, CodeAnnotation, "procedure %q has a second firebreak annotation; put every key in one comment", p.proc.Title)
		return
	}
	p.procAnnot = true
	base := nodeOffset(n)
	idx := strings.Index(raw, body)
	p.parseAnnotation(body, func(off int) Pos {
		if base < 0 || idx < 0 {
			return pos
		}
		return p.li.pos(base + idx + off)
	})
}

func (p *parser) list(n *ast.List) {
	switch {
	case p.proc != nil:
		sec := p.ensureSection(p.pos(n))
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if li, ok := c.(*ast.ListItem); ok {
				p.item(li, sec, false)
			}
		}
		p.lastPara = ""
	case p.cont == contPhases && p.phase != nil:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			t := p.itemText(c)
			if t == "" {
				continue
			}
			p.phase.Checklist = append(p.phase.Checklist, ChecklistItem{
				Key: p.phase.Key + "/" + strconv.Itoa(len(p.phase.Checklist)+1), Text: t, Pos: p.pos(c),
			})
		}
	case p.cont == contEscalation:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			p.escalationItem(c)
		}
	case p.cont == contResources:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			p.resourceItem(c)
		}
	}
}

// itemText is the text of a list item's first paragraph.
func (p *parser) itemText(li ast.Node) string {
	for c := li.FirstChild(); c != nil; c = c.NextSibling() {
		switch c.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			return p.inlineText(c)
		}
	}
	return ""
}

func firstPara(li ast.Node) ast.Node {
	for c := li.FirstChild(); c != nil; c = c.NextSibling() {
		switch c.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			return c
		}
	}
	return nil
}

var (
	levelItem = regexp.MustCompile(`(?i)^(?:level|tier|l)\s*(\d+)\s*[:\-–—]?\s*(.*)$`)
)

func (p *parser) escalationItem(li ast.Node) {
	t := p.itemText(li)
	m := levelItem.FindStringSubmatch(t)
	if m == nil {
		p.warn(p.pos(li), CodeStructure, "escalation item %q does not start with \"Level N\"", t)
		return
	}
	lvl, _ := strconv.Atoi(m[1])
	e := &EscalationLevel{Level: lvl, Role: strings.TrimSpace(m[2]), Pos: p.pos(li)}
	if cm := trailingCond.FindStringSubmatchIndex(e.Role); cm != nil {
		inner := strings.TrimSpace(e.Role[cm[0]:])
		inner = strings.TrimSpace(inner[1 : len(inner)-1])
		if w, ok := parseWindow(inner); ok {
			e.Window = w
			e.Role = strings.TrimSpace(e.Role[:cm[0]])
		}
	}
	p.pb.Escalation = append(p.pb.Escalation, e)
}

func (p *parser) resourceItem(li ast.Node) {
	para := firstPara(li)
	if para == nil {
		return
	}
	t := p.inlineText(para)
	name := p.firstStrong(para)
	rest := t
	if name != "" {
		rest = strings.TrimSpace(strings.TrimPrefix(t, name))
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ":"))
	} else if a, b, ok := strings.Cut(t, ":"); ok {
		name, rest = strings.TrimSpace(a), strings.TrimSpace(b)
	} else {
		name, rest = t, ""
	}
	r := &Resource{Name: name, Text: rest, Pos: p.pos(li)}
	for _, it := range strings.Split(rest, ",") {
		if it = strings.TrimSpace(it); it != "" {
			r.Items = append(r.Items, it)
		}
	}
	p.pb.Resources = append(p.pb.Resources, r)
}

// codeBlock handles a block outside any list: a step of its own in a
// procedure, or a template body.
func (p *parser) codeBlock(n ast.Node) {
	switch {
	case p.proc != nil:
		sec := p.ensureSection(p.pos(n))
		name := p.lastPara
		p.lastPara = ""
		p.tasksFromBlocks(sec, name, "", nil, []ast.Node{n}, n, name == "")
	case p.tmpl != nil && p.tmpl.Body == "":
		p.templateBody(n)
	}
}

// blockLang returns the language of a code block, lower case.
func (p *parser) blockLang(n ast.Node) string {
	if f, ok := n.(*ast.FencedCodeBlock); ok {
		return strings.ToLower(string(f.Language(p.body)))
	}
	return ""
}

func executorOf(lang string) Executor {
	switch lang {
	case "sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql":
		return ExecSQL
	case "bash", "sh", "shell", "zsh", "console", "shell-session":
		return ExecShell
	}
	return ""
}

// item turns one list item of a section into tasks: its code blocks make
// steps (and, with spans, as in a runbook, so do the command spans of its
// sentences, in document order, nested items' included); an item without
// any is a checklist task, or a manual one when it has a bold name.
func (p *parser) item(li *ast.ListItem, sec *Section, spans bool) {
	para := firstPara(li)
	name, text := "", ""
	if para != nil {
		text = p.inlineText(para)
		name = p.firstStrong(para)
	}
	named := name != ""
	if !named {
		name = strings.TrimSpace(strings.TrimRight(text, ": "))
	}
	var parts []ast.Node
	var items []string
	var collect func(n ast.Node)
	collect = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Paragraph, *ast.TextBlock:
				if spans {
					parts = append(parts, p.cliSpans(c)...)
				}
			case *ast.FencedCodeBlock, *ast.CodeBlock:
				parts = append(parts, c)
			case *ast.List:
				for it := c.FirstChild(); it != nil; it = it.NextSibling() {
					if t := p.itemText(it); t != "" {
						items = append(items, t)
					}
					collect(it)
				}
			case *ast.Blockquote:
				collect(c)
			}
		}
	}
	collect(li)
	if len(parts) > 0 {
		if spans && !named && para != nil && len(p.cliSpans(para)) > 0 {
			name = p.spanName(para)
		}
		p.tasksFromBlocks(sec, name, text, items, parts, li, false)
		return
	}
	kind := KindChecklist
	if named {
		kind = KindManual
	}
	p.addTask(sec, &Task{Kind: kind, Name: name, Text: text, Items: items, Pos: p.pos(li)}, "")
}

func (p *parser) addTask(sec *Section, t *Task, explicitKey string) {
	n := strconv.Itoa(len(sec.Tasks) + 1)
	t.Key = sec.Key + "/" + n
	if explicitKey != "" {
		t.Key = sec.Key + "/" + explicitKey
	}
	if prev, dup := p.taskKeys[t.Key]; dup {
		p.errorf(t.Pos, CodeDuplicateKey, "task key %q is already used at line %d; fence names must be unique within a section", t.Key, prev.Line)
		t.Key = sec.Key + "/" + n
	}
	p.taskKeys[t.Key] = t.Pos
	sec.Tasks = append(sec.Tasks, t)
}

// tasksFromBlocks builds the tasks of an item (or a lone block) from its
// code blocks: consecutive executable blocks of one executor make one
// step; comment-only blocks alone make a manual task. In a runbook, parts
// may also be inline code spans that hold a command.
func (p *parser) tasksFromBlocks(sec *Section, name, text string, items []string, blocks []ast.Node, at ast.Node, unnamed bool) {
	type group struct {
		exec   Executor
		target string
		units  []unit
	}
	var groups []group
	var comments []string
	var plain []string
	add := func(u unit) {
		if n := len(groups); n > 0 && groups[n-1].exec == u.exec && groups[n-1].target == u.target {
			groups[n-1].units = append(groups[n-1].units, u)
			return
		}
		groups = append(groups, group{exec: u.exec, target: u.target, units: []unit{u}})
	}
	for _, b := range blocks {
		if cs, ok := b.(*ast.CodeSpan); ok {
			if u, ok := p.spanUnit(cs); ok {
				add(p.convertPsql(u))
			}
			continue
		}
		lang := p.blockLang(b)
		exec := executorOf(lang)
		content := p.blockText(b)
		if exec == "" {
			if lang == "" {
				p.warn(p.pos(b), CodeNotExecutable, "code block without a language is shown as a manual task; mark it ```bash or ```sql to make it a step")
			} else {
				p.warn(p.pos(b), CodeNotExecutable, "code block language %q is not executable (use bash, sh or sql); it is shown as a manual task", lang)
			}
			plain = append(plain, strings.TrimRight(content, "\n"))
			continue
		}
		if exec == ExecShell {
			if cmds, ok := p.sessionUnits(b, lang); ok {
				for _, u := range cmds {
					add(p.convertPsql(u))
				}
				continue
			}
		}
		if exec == ExecShell && shellCommentOnly(content) {
			comments = append(comments, shellComments(content, "#"))
			continue
		}
		if exec == ExecSQL && !lexSQL(content).HasCode {
			comments = append(comments, sqlComments(content))
			continue
		}
		add(p.blockUnit(b, lang, exec))
	}
	if len(groups) == 0 {
		t := &Task{Kind: KindManual, Name: name, Text: text, Items: items, Pos: p.pos(at)}
		if len(comments) > 0 {
			t.Text = strings.Join(comments, "\n")
		}
		if len(plain) > 0 {
			t.Text = strings.TrimSpace(t.Text + "\n" + strings.Join(plain, "\n"))
		}
		if t.Name == "" {
			t.Name = firstLine(t.Text)
		}
		p.addTask(sec, t, "")
		return
	}
	for i, g := range groups {
		st := p.buildStep(g.exec, g.units)
		stepName := name
		if len(groups) > 1 {
			stepName = fmt.Sprintf("%s (%d)", name, i+1)
		}
		if st.Attrs.Name != "" && (unnamed || stepName == "") {
			stepName = st.Attrs.Name
		}
		if stepName == "" && p.runbook && len(st.Commands) > 0 {
			stepName = firstLine(st.Commands[0].Text)
		}
		if stepName == "" {
			stepName = fmt.Sprintf("%s step", st.Language)
		}
		st.Name = stepName
		t := &Task{Kind: KindStep, Name: stepName, Text: text, Items: items, Step: st, Pos: p.pos(at)}
		p.addTask(sec, t, st.Attrs.Name)
		p.steps = append(p.steps, t)
	}
}

// unit is one piece of a step's text: a code block, one command of a
// console session, or a command in an inline code span.
type unit struct {
	// node is where it comes from: the fenced block (for its attributes
	// and position) or the code span.
	node  ast.Node
	lang  string
	exec  Executor
	lines []srcLine
	// target is the database a psql command names, for a sql step made
	// of it.
	target string
}

// srcLine is a line of step text with where it starts in the document.
type srcLine struct {
	text   string // with its newline
	docOff int    // document offset of text[pad]
	pad    int    // leading bytes of text that are not in the document
}

// blockUnit is a whole code block.
func (p *parser) blockUnit(n ast.Node, lang string, exec Executor) unit {
	u := unit{node: n, lang: lang, exec: exec}
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		u.lines = append(u.lines, srcLine{text: string(s.Value(p.body)), docOff: s.Start, pad: s.Padding})
	}
	return u
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// sqlComments returns the text of SQL comments.
func sqlComments(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		t = strings.TrimPrefix(t, "--")
		t = strings.TrimPrefix(t, "/*")
		t = strings.TrimSuffix(t, "*/")
		t = strings.TrimSpace(strings.TrimLeft(t, "-* "))
		if t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n")
}

// joined is the text of several blocks with, per line, its document line.
type joined struct {
	text   string
	lines  []int // document line of each line of text
	starts []int // offset in text of each line
	docOff []int // document offset of each line's first byte after padding
	pads   []int // padding (stripped indentation) of each line
	li     *lineIndex
	// edits are the placeholders a runbook's text had rewritten into
	// {{name}} (see canonicalPlaceholders), in order: offsets in text are
	// mapped back through them.
	edits []textEdit
}

// textEdit is a span of text that replaced oldLen bytes of the original.
type textEdit struct {
	at, oldLen, newLen int // at: offset in the rewritten text
}

// orig maps an offset in the (rewritten) text to the original text.
func (j *joined) orig(off int) int {
	d := 0
	for _, e := range j.edits {
		switch {
		case off >= e.at+e.newLen:
			d += e.newLen - e.oldLen
		case off >= e.at:
			return e.at - d
		default:
			return off - d
		}
	}
	return off - d
}

// posAt maps an offset in the joined text to a document position.
func (j *joined) posAt(off int) Pos {
	off = j.orig(off)
	l := j.lineOf(off)
	if l < 0 || l >= len(j.starts) {
		return Pos{Line: j.lineAtOrig(off), Col: 1}
	}
	in := off - j.starts[l] - j.pads[l]
	if in < 0 {
		in = 0
	}
	return j.li.pos(j.docOff[l] + in)
}

// reasonPos maps the line:col a shell reason starts with (within the
// script) to the document; a reason without one points at the command.
func (j *joined) reasonPos(reason string, cmdStart int) Pos {
	m := reasonLineCol.FindStringSubmatch(reason)
	if m == nil {
		return j.posAt(cmdStart)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(j.text[off:], '\n')
		if i < 0 {
			return j.posAt(cmdStart)
		}
		off += i + 1
	}
	return j.posAt(min(off+col-1, len(j.text)))
}

var reasonLineCol = regexp.MustCompile(`^(\d+):(\d+): `)

// lineOf returns the index of the joined line holding off.
func (j *joined) lineOf(off int) int {
	return sort.Search(len(j.starts), func(i int) bool { return j.starts[i] > off }) - 1
}

func (j *joined) lineAt(off int) int { return j.lineAtOrig(j.orig(off)) }

func (j *joined) lineAtOrig(off int) int {
	l := max(j.lineOf(off), 0)
	if l < len(j.lines) {
		return j.lines[l]
	}
	if len(j.lines) > 0 {
		return j.lines[len(j.lines)-1]
	}
	return 1
}

func (p *parser) joinUnits(units []unit, exec Executor) joined {
	var j joined
	text := ""
	for bi, u := range units {
		if bi > 0 {
			// Each block ends on its own line; an unterminated statement
			// is closed so it cannot run into the next block.
			text = strings.TrimSuffix(text, "\n")
			if exec == ExecSQL && needsTerminator(text) {
				text += ";"
			}
			text += "\n"
		}
		for _, l := range u.lines {
			j.starts = append(j.starts, len(text))
			j.docOff = append(j.docOff, l.docOff)
			j.pads = append(j.pads, l.pad)
			text += l.text
			j.lines = append(j.lines, p.li.pos(l.docOff).Line)
		}
	}
	j.text = strings.TrimRight(text, "\n")
	j.li = p.li
	return j
}

// needsTerminator reports whether SQL text ends inside an unterminated
// statement.
func needsTerminator(s string) bool {
	lx := lexSQL(s)
	if len(lx.Stmts) == 0 {
		return false
	}
	end := lx.Stmts[len(lx.Stmts)-1][1]
	rest := s[end:]
	return !strings.Contains(stripSQLComments(rest), ";")
}

func stripSQLComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l)
	}
	return b.String()
}

// buildStep classifies a group of units of one executor.
func (p *parser) buildStep(exec Executor, units []unit) *Step {
	first := units[0].node
	st := &Step{Language: units[0].lang, Executor: exec, Line: p.pos(first).Line, Commands: []Command{}}
	for _, u := range units {
		if p.attrsRead[u.node] {
			continue
		}
		if p.attrsRead == nil {
			p.attrsRead = map[ast.Node]bool{}
		}
		p.attrsRead[u.node] = true
		p.fenceAttrs(u.node, st)
	}
	j := p.joinUnits(units, exec)
	if p.runbook && exec == ExecShell {
		j.text, j.edits = canonicalPlaceholders(j.text)
	}
	var sites []paramSite
	switch exec {
	case ExecSQL:
		st.SQL = j.text
		a := analyzeSQL(j.text)
		var edit []string
		for _, s := range a.Stmts {
			st.Commands = append(st.Commands, Command{
				Text: strings.TrimSpace(j.text[s.Start:s.End]), Risk: s.Risk, Reason: s.Reason, Line: j.lineAt(s.Start),
			})
			if len(s.Columns) > 0 {
				st.Columns = s.Columns
			}
			if s.ParseErr != "" {
				edit = append(edit, "does not parse: "+s.ParseErr)
			}
			for _, ph := range s.Placeholders {
				edit = append(edit, fmt.Sprintf("%q looks like a placeholder", ph))
			}
		}
		if len(edit) > 0 {
			st.NeedsEditing = true
			st.EditReason = strings.Join(edit, "; ")
		}
		for _, t := range a.Lex.Params {
			sites = append(sites, paramSite{name: t.Name, pos: j.posAt(t.Start)})
			st.addParam(t.Name, t.Form, "")
		}
		for _, s := range a.Stmts {
			for _, f := range s.Free {
				sites = append(sites, paramSite{name: f.Name, pos: j.posAt(f.Start)})
				st.addParam(f.Name, FormIdentifier, "")
			}
		}
		st.binding = sqlBinding(a, st.Params)
	default:
		st.Script = j.text
		an := analyzeShell(j.text)
		allKube := len(an.Stmts) > 0
		for _, s := range an.Stmts {
			st.Commands = append(st.Commands, Command{
				Text: j.text[s.Start:s.End], Risk: s.Risk, Reason: s.Reason, Kube: s.Kube, Line: j.lineAt(s.Start),
			})
			if p.runbook && s.Risk == RiskWrite {
				st.Commands[len(st.Commands)-1].ReasonPos = j.reasonPos(s.Reason, s.Start)
			}
			if s.Kube == nil {
				allKube = false
			}
		}
		if allKube {
			st.Executor = ExecKube
		}
		kubeNames := an.K8sNames
		for _, c := range st.Commands {
			if c.Kube != nil {
				for _, ph := range scanShell(c.Kube.Name + " " + c.Kube.Namespace) {
					kubeNames[ph.Name] = true
				}
			}
		}
		st.binding = &Binding{Shell: an.Placeholders}
		for _, ph := range an.Placeholders {
			sites = append(sites, paramSite{name: ph.Name, pos: j.posAt(ph.Start)})
			typ := ParamType("")
			if kubeNames[ph.Name] {
				typ = TypeK8sName
			}
			st.addParam(ph.Name, ph.Form, typ)
		}
		for _, in := range an.Interpreted {
			st.Param(in.Name).Interpreted = true
			pos := j.posAt(in.Start)
			p.errorf(pos, CodeInterpreted, "parameter %q at %d:%d sits in text that %s parses as code, so an alert could make its value run as a command; %s",
				in.Name, pos.Line, pos.Col, in.By, interpretedFix(in.By))
		}
	}
	for _, c := range st.Commands {
		st.Risk = maxRisk(st.Risk, c.Risk)
	}
	if st.Risk == "" {
		st.Risk = RiskRead
	}
	p.applyAttrs(st, first)
	if t := units[0].target; t != "" && st.Attrs.Target == "" {
		st.Target = t
	}
	p.procParams[st] = sites
	p.stepPos[st] = p.pos(first)
	return st
}

// interpretedFix says how to get a placeholder out of interpreted text.
func interpretedFix(by string) string {
	cmd, flag, _ := strings.Cut(by, " ")
	switch {
	case shellNames[cmd] && flag == "-c":
		return fmt.Sprintf("pass it as an argument after the -c string (%s -c '... \"$1\" ...' %s VALUE) or move it out of the -c string", cmd, cmd)
	case cmd == "psql":
		return "pass it with psql -v name=VALUE and write :'name' in the SQL, or make it a sql step"
	case strings.HasPrefix(flag, "-"):
		return fmt.Sprintf("pass it as an argument or an environment variable instead, or move it out of the %s text", flag)
	}
	return "pass it as a separate argument or an environment variable the command reads, outside the text " + by + " parses"
}

// applyAttrs resolves the step's effective risk, target, timeout and auto
// flag from its attributes and the front matter.
func (p *parser) applyAttrs(st *Step, at ast.Node) {
	pos := p.pos(at)
	switch st.Attrs.Risk {
	case RiskWrite:
		st.Risk = RiskWrite
	case RiskRead:
		if st.Risk == RiskWrite {
			reason := ""
			for _, c := range st.Commands {
				if c.Risk == RiskWrite {
					reason = c.Reason
					break
				}
			}
			p.errorf(pos, CodeRiskDowngrade, "step declares risk \"read\" but it writes (%s); a declared risk may raise the classification, never lower it", reason)
		}
	}
	st.Target = st.Attrs.Target
	if st.Target == "" {
		st.Target = p.pb.Meta.Targets[st.Executor]
		if st.Target == "" && st.Executor == ExecKube {
			st.Target = p.pb.Meta.Targets[ExecShell]
		}
	}
	st.Timeout = st.Attrs.Timeout
	if st.Timeout == 0 {
		st.Timeout = p.pb.Meta.Defaults.Timeout
	}
	auto := true
	if p.pb.Meta.Defaults.Auto != nil {
		auto = *p.pb.Meta.Defaults.Auto
	}
	if st.Attrs.Auto != nil {
		auto = *st.Attrs.Auto
		if auto && st.Risk == RiskWrite {
			p.errorf(pos, CodeAutoWrite, "step declares auto:true but it is a write step; write steps always wait for approval")
		}
	}
	st.Auto = auto && st.Risk == RiskRead && p.proc.Auto && !st.NeedsEditing
	// In a runbook only the diagnosis sections run by themselves: a
	// mitigation's reads check a fix not yet made.
	if p.section != nil && p.section.Role != "" && p.section.Role != RoleDiagnosis && (st.Attrs.Auto == nil || !*st.Attrs.Auto) {
		st.Auto = false
	}
}

func (s *Step) addParam(name string, form ParamForm, typ ParamType) {
	for i := range s.Params {
		if s.Params[i].Name == name {
			if typ != "" {
				s.Params[i].Type = typ
			}
			return
		}
	}
	if typ == "" {
		typ = inferType(name)
	}
	s.Params = append(s.Params, Param{Name: name, Type: typ, Form: form})
}

func (p *parser) templateBody(n ast.Node) {
	t := p.tmpl
	t.Body = strings.TrimRight(p.blockText(n), "\n")
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		line := string(s.Value(p.body))
		base := s.Start - s.Padding
		for _, f := range templateFields(line) {
			f.Pos = p.li.pos(base + f.Pos.Col)
			if !hasField(t.Fields, f) {
				t.Fields = append(t.Fields, f)
			}
		}
	}
}

func hasField(fs []Field, f Field) bool {
	for _, g := range fs {
		if g.Kind == f.Kind && g.Name == f.Name && g.Placeholder == f.Placeholder {
			return true
		}
	}
	return false
}

var (
	bracketField = regexp.MustCompile(`\[([^\[\]\n]+)\]`)
	fixedLine    = regexp.MustCompile(`^\s*(?:[-*]\s+)?([A-Z][A-Za-z]*(?: [A-Za-z]+){0,2}):\s+(\S.*?)\s*$`)
)

// templateFields finds the fields of one template line. Pos.Col carries
// the byte offset within the line.
func templateFields(line string) []Field {
	var out []Field
	label := ""
	if i := strings.Index(line, ":"); i >= 0 {
		label = stripDecoration(strings.TrimLeft(line[:i], " -*\t"))
		if strings.Contains(label, "[") || utf8.RuneCountInString(label) > 40 {
			label = ""
		}
	}
	ms := bracketField.FindAllStringSubmatchIndex(line, -1)
	if len(ms) == 0 {
		if m := fixedLine.FindStringSubmatchIndex(line); m != nil {
			out = append(out, Field{Name: line[m[2]:m[3]], Kind: FieldFixed, Label: line[m[2]:m[3]], Value: strings.TrimRight(line[m[4]:m[5]], "\r\n"), Pos: Pos{Col: m[2]}})
		}
		return out
	}
	for _, m := range ms {
		inner := strings.TrimSpace(line[m[2]:m[3]])
		f := Field{Name: inner, Kind: FieldText, Placeholder: line[m[0]:m[1]], Pos: Pos{Col: m[0]}}
		if labelBefore(line, m[0]) {
			f.Label = label
		}
		if strings.Contains(inner, "/") {
			f.Kind = FieldChoice
			for _, c := range strings.Split(inner, "/") {
				if c = strings.TrimSpace(c); c != "" {
					f.Choices = append(f.Choices, c)
				}
			}
			if f.Label != "" {
				f.Name = f.Label
			}
		}
		out = append(out, f)
	}
	return out
}

// labelBefore reports whether the line's colon comes before offset.
func labelBefore(line string, off int) bool {
	i := strings.Index(line, ":")
	return i >= 0 && i < off
}

// slug makes a lower-case, hyphen-separated key of a title.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r >= 0x80 && unicode.IsLetter(r) && !isMojibakeRune(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

func isMojibakeRune(r rune) bool { return r <= 0x2FF }

// playbookID derives the stable ID of a document from its path, unless
// the front matter gives one.
func playbookID(path, explicit string) string {
	if explicit != "" {
		return explicit
	}
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	switch strings.ToLower(name) {
	case "playbook", "readme", "index", "runbook", "playbook.md":
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != "/" && dir != "" {
			name = dir
		}
	}
	if s := slug(name); s != "" {
		return s
	}
	return "playbook"
}

var windowUnits = map[string]int64{
	"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
	"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
	"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
	"d": 86400, "day": 86400, "days": 86400,
	"w": 604800, "week": 604800, "weeks": 604800,
}

var (
	windowRange = regexp.MustCompile(`^(\d+)\s*([a-z]*)\s*(?:-|–|—|to)\s*(\d+)\s*([a-z]+)$`)
	windowOpen  = regexp.MustCompile(`^(\d+)\s*(?:\+\s*([a-z]+)|([a-z]+)\s*\+)$`)
	windowUpTo  = regexp.MustCompile(`^(?:<|under|up to|within)?\s*(\d+)\s*([a-z]+)$`)
)

// parseWindow reads a time window: "0-5 minutes", "1-4 hours", "30+
// minutes", "15 min", "Next business day". A trailing "response" is
// ignored.
func parseWindow(s string) (Window, bool) {
	text := strings.TrimSpace(s)
	t := strings.ToLower(text)
	for _, suffix := range []string{" response time", " response", " to respond"} {
		if strings.HasSuffix(t, suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, suffix))
			text = strings.TrimSpace(text[:len(t)])
		}
	}
	sec := func(n string, unit string) (Duration, bool) {
		u, ok := windowUnits[unit]
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || v > 1e6 {
			return 0, false
		}
		return Duration(v * u * 1e9), true
	}
	w := Window{Text: text}
	switch {
	case t == "next business day" || t == "next working day":
		w.NextBusinessDay = true
		return w, true
	case windowRange.MatchString(t):
		m := windowRange.FindStringSubmatch(t)
		u1 := m[2]
		if u1 == "" {
			u1 = m[4]
		}
		from, ok1 := sec(m[1], u1)
		to, ok2 := sec(m[3], m[4])
		if !ok1 || !ok2 || to < from {
			return Window{}, false
		}
		w.From, w.To = from, to
		return w, true
	case windowOpen.MatchString(t):
		m := windowOpen.FindStringSubmatch(t)
		unit := m[2] + m[3]
		from, ok := sec(m[1], unit)
		if !ok {
			return Window{}, false
		}
		w.From, w.OpenEnded = from, true
		return w, true
	case windowUpTo.MatchString(t):
		m := windowUpTo.FindStringSubmatch(t)
		to, ok := sec(m[1], m[2])
		if !ok {
			return Window{}, false
		}
		w.To = to
		return w, true
	}
	return Window{}, false
}

// frontMatter parses a leading YAML block (--- … ---), or a Hugo TOML
// block (+++ … +++), and returns the body with it blanked out, so that
// positions stay those of the source.
func (p *parser) frontMatter() []byte {
	src := p.src
	fence := ""
	switch {
	case bytes.HasPrefix(src, []byte("---\n")) || bytes.HasPrefix(src, []byte("---\r\n")):
		fence = "---"
	case bytes.HasPrefix(src, []byte("+++\n")) || bytes.HasPrefix(src, []byte("+++\r\n")):
		fence = "+++"
	default:
		return src
	}
	start := bytes.IndexByte(src, '\n') + 1
	off := start
	end := -1
	for off < len(src) {
		nl := bytes.IndexByte(src[off:], '\n')
		line := src[off:]
		next := len(src)
		if nl >= 0 {
			line = src[off : off+nl]
			next = off + nl + 1
		}
		if t := string(bytes.TrimRight(line, " \t\r")); t == fence || fence == "---" && t == "..." {
			end = off
			off = next
			break
		}
		off = next
	}
	if end < 0 {
		return src
	}
	if fence == "+++" {
		p.tomlFrontMatter(src[start:end], 1)
	} else {
		p.parseFrontMatter(src[start:end], 1)
	}
	body := make([]byte, len(src))
	copy(body, src)
	for i := 0; i < off; i++ {
		if body[i] != '\n' && body[i] != '\r' {
			body[i] = ' '
		}
	}
	return body
}
