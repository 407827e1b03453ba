package playbook

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
)

// A runbook is one Markdown file per alert, the shape of the collection
// kube-prometheus alerts link to in their runbook_url annotation:
//
//	---
//	title: Kube Pod Crash Looping     # Hugo front matter, or none
//	weight: 20
//	---
//	# KubePodCrashLooping
//	## Meaning
//	## Impact
//	## Diagnosis
//	- Check pod events via `kubectl -n $NAMESPACE describe pod $POD`.
//	## Mitigation
//
// Such a file is one procedure, for the alert its H1 (or front-matter
// title, or file name) names. Its sections take their role from the
// section table (sections.go): context sections become the procedure's
// Context; commands in code blocks, console sessions and inline code
// spans become steps; shell-variable placeholders ($NAMESPACE, ${POD})
// become parameters like <pod-name> and {{name}} ones.
//
// How a document's shape is decided:
//
//   - _index.md is a section page (Hugo's), and so is a README without
//     procedures: neither is an alert.
//   - A document whose title names an alert (see namesAlert) and that has
//     a section the table knows, and no playbook markers (a CRITICAL: or
//     WARNING: heading, a firebreak annotation under a heading other than
//     the H1, or an "Alert …" section holding sub-headings that are not
//     runbook sections), is a runbook.
//   - Anything else is read as a playbook; one that yields no procedure
//     but whose title names an alert is then read as a runbook.
type runbookState struct {
	roles []levelRole // roles of the enclosing headings
	// inNote is set while a context section is read: its text goes to the
	// last of the procedure's context notes.
	inNote bool
	prose  []string // paragraphs of the current step section
}

type levelRole struct {
	level int
	role  SectionRole
}

// read decides the document's shape and reads it.
func (p *parser) read(doc ast.Node) {
	base := strings.ToLower(filepath.Base(p.pb.Path))
	stem := docStem(p.pb.Path)
	h1, heading := p.firstH1(doc)
	titled := namesAlert(heading, stem) || namesAlert(p.pb.Meta.Title, stem)
	switch {
	case base == "_index.md":
		p.sectionPage(heading, "a section page (_index.md) describes a folder, not an alert")
		return
	case !isReadme(base) && titled && p.runbookMarkers(doc):
		p.readRunbook(doc, h1, heading)
		return
	}
	p.classic(doc)
	if len(p.pb.Procedures) > 0 {
		return
	}
	switch {
	case isReadme(base):
		p.diags = p.diags[:p.fmDiags]
		p.sectionPage(heading, "a README without alert procedures is a section page")
	case titled:
		p.reset()
		p.readRunbook(doc, h1, heading)
	default:
		p.pb.ID = relID(p.pb.Rel, p.pb.Path, p.pb.Meta.ID)
		p.pb.NoProcedures = "no alert procedure: the title does not name an alert and no heading is a procedure (an \"Alert Response Procedures\" section, a CRITICAL:/WARNING: heading or a firebreak annotation)"
		p.warn(Pos{1, 1}, CodeNoProcedures, "no alert procedures found: a procedure is a heading under an \"Alert Response Procedures\" section, a heading starting with CRITICAL: or WARNING:, or a heading followed by a <!-- firebreak: … --> annotation; a runbook is a file whose H1 names its alert (KubePodCrashLooping)")
	}
}

// reset forgets what a reading as a playbook found, keeping the front
// matter's findings.
func (p *parser) reset() {
	pb := p.pb
	pb.Title, pb.Description = "", ""
	pb.Procedures, pb.Phases, pb.Templates = []*Procedure{}, []*Phase{}, []*Template{}
	pb.Escalation, pb.Resources = []*EscalationLevel{}, []*Resource{}
	p.diags = p.diags[:p.fmDiags]
	p.cont, p.contLevel = contNone, 0
	p.proc, p.section, p.phase, p.tmpl = nil, nil, nil, nil
	p.attrsRead = nil
}

func (p *parser) sectionPage(heading, why string) {
	pb := p.pb
	pb.Shape = ShapeSectionPage
	pb.Title = p.pb.Meta.Title
	if pb.Title == "" {
		pb.Title = heading
	}
	pb.ID = relID(pb.Rel, pb.Path, pb.Meta.ID)
	pb.NoProcedures = why
	p.diag(SeverityInfo, Pos{1, 1}, CodeSectionPage, "%s; it holds no procedure", why)
}

func isReadme(base string) bool {
	name := strings.TrimSuffix(base, filepath.Ext(base))
	return name == "readme" || name == "index"
}

// docStem is the name a file gives its alert: the file name without its
// extension, or its folder's for playbook.md, runbook.md, README.md and
// index.md.
func docStem(path string) string {
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	switch strings.ToLower(name) {
	case "playbook", "readme", "index", "_index", "runbook":
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != "/" && dir != "" {
			return dir
		}
	}
	return name
}

// relID is the ID of a runbook or section page: its relative path, each
// segment a slug, without the extension ("kubernetes/kubepodcrashlooping"),
// so that one alert name in two folders gives two IDs.
func relID(rel, path, explicit string) string {
	if explicit != "" {
		return explicit
	}
	if rel == "" {
		rel = filepath.Base(path)
	}
	rel = filepath.ToSlash(rel)
	rel = strings.TrimSuffix(rel, filepath.Ext(rel))
	var segs []string
	for _, s := range strings.Split(rel, "/") {
		if s = slug(s); s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return playbookID(path, "")
	}
	return strings.Join(segs, "/")
}

var alertNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_:]*$`)

// namesAlert reports whether a title names an alert: it is the file's
// name (KubePodCrashLooping.md, "Kube Pod Crash Looping"), or one
// CamelCase word as alert names are (KubeAPIDown, etcdNoLeader).
func namesAlert(title, stem string) bool {
	t, _, _ := splitHeading(title)
	if t == "" {
		return false
	}
	if n := normalize(t); n != "" && n == normalize(stem) {
		return true
	}
	if !alertNameRe.MatchString(t) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if t[i] >= 'A' && t[i] <= 'Z' && t[i-1] >= 'a' && t[i-1] <= 'z' {
			return true
		}
	}
	return false
}

// firstH1 returns the document's first level-1 heading and its text.
func (p *parser) firstH1(doc ast.Node) (*ast.Heading, string) {
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if h, ok := n.(*ast.Heading); ok && h.Level == 1 {
			return h, p.inlineText(h)
		}
	}
	return nil, ""
}

// runbookMarkers reports whether the headings read as a runbook: a section
// the table knows, and nothing only a playbook has.
func (p *parser) runbookMarkers(doc ast.Node) bool {
	var hs []*ast.Heading
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if h, ok := n.(*ast.Heading); ok && h.Level > 1 {
			hs = append(hs, h)
		}
	}
	roles := false
	for i, h := range hs {
		t := p.inlineText(h)
		if strictSeverity.MatchString(stripDecoration(t)) || annotationFollows(h, p.body) {
			return false
		}
		if _, ok := p.opt.Sections.Role(t); ok {
			roles = true
			continue
		}
		if containerOf(t) != contProcedures {
			continue
		}
		for _, c := range hs[i+1:] {
			if c.Level <= h.Level {
				break
			}
			if _, ok := p.opt.Sections.Role(p.inlineText(c)); c.Level == h.Level+1 && !ok {
				return false // "## Alert Response Procedures" / "### Disk Full"
			}
		}
	}
	return roles
}

// readRunbook reads the document as one procedure.
func (p *parser) readRunbook(doc ast.Node, h1 *ast.Heading, heading string) {
	p.runbook = true
	p.pb.Shape = ShapeRunbook
	p.startRunbook(h1, heading)
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if n == ast.Node(h1) {
			continue
		}
		switch n := n.(type) {
		case *ast.Heading:
			p.runbookHeading(n, p.inlineText(n), n.Level, p.pos(n))
		case *ast.HTMLBlock:
			p.html(n)
		case *ast.List:
			p.runbookList(n)
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			p.runbookCode(n)
		case *ast.Paragraph:
			p.runbookParagraph(n)
		case *ast.Blockquote:
			if p.section == nil {
				p.noteAdd(n, "> "+p.inlineText(n))
			}
		}
	}
	p.flushSection()
	p.endProcedure()
	p.pb.ID = relID(p.pb.Rel, p.pb.Path, p.pb.Meta.ID)
}

func (p *parser) startRunbook(h1 *ast.Heading, heading string) {
	pb := p.pb
	stem := docStem(pb.Path)
	t, cond, sev := splitHeading(heading)
	fmTitle, _, _ := splitHeading(pb.Meta.Title)
	title := pb.Meta.Title
	if title == "" {
		title = t
	}
	if title == "" {
		title = stem
	}
	var names []string
	add := func(n string) {
		n = strings.TrimSpace(n)
		if n == "" || !plausibleAlertName(n) {
			return
		}
		for _, o := range names {
			if normalize(o) == normalize(n) {
				return
			}
		}
		names = append(names, n)
	}
	add(t)
	add(fmTitle)
	if len(names) == 0 {
		add(stem)
	}
	key := slug(title)
	if len(names) > 0 {
		key = slug(names[0])
	}
	if key == "" {
		key = "procedure-1"
	}
	pos := Pos{1, 1}
	if h1 != nil {
		pos = p.pos(h1)
	}
	pb.Title = title
	p.begin(&Procedure{
		Key: key, Title: title, Heading: heading, Condition: cond, Severity: sev,
		Auto: true, Names: names, Sections: []*Section{}, Pos: pos,
	}, 1)
}

// runbookHeading starts a section, or a context note, for a heading (or a
// bold label such as **Diagnosis:**, given level 7).
func (p *parser) runbookHeading(n ast.Node, title string, level int, pos Pos) {
	p.flushSection()
	rs := p.rb.roles
	for len(rs) > 0 && rs[len(rs)-1].level >= level {
		rs = rs[:len(rs)-1]
	}
	role, ok := p.opt.Sections.Role(title)
	if !ok && len(rs) > 0 {
		role, ok = rs[len(rs)-1].role, true
	}
	if !ok {
		role = RoleContext
		if h, isHeading := n.(*ast.Heading); isHeading && p.sectionHasCommands(h) {
			role = RoleOther
			p.diag(SeverityInfo, pos, CodeSectionRole, "section %q is not in the section table, so its steps wait for a responder; name it in playbook_sections to give it a role (context, diagnosis or mitigation)", title)
		}
	}
	p.rb.roles = append(rs, levelRole{level, role})
	p.lastPara = ""
	if role == RoleContext {
		p.section = nil
		p.rb.inNote = true
		p.proc.Context = append(p.proc.Context, ContextNote{Title: title, Pos: pos})
		return
	}
	p.rb.inNote = false
	p.startSection(title, pos)
	p.section.Role = role
}

// flushSection ends the current section. One with prose and no task
// (a Diagnosis that only explains) becomes a context note, so its text
// is still shown; an empty one is dropped.
func (p *parser) flushSection() {
	sec := p.section
	prose := p.rb.prose
	p.rb.prose = nil
	if sec == nil || len(sec.Tasks) > 0 {
		return
	}
	secs := p.proc.Sections
	if len(secs) > 0 && secs[len(secs)-1] == sec {
		p.proc.Sections = secs[:len(secs)-1]
	}
	p.section = nil
	if len(prose) > 0 {
		p.proc.Context = append(p.proc.Context, ContextNote{Title: sec.Title, Text: strings.Join(prose, "\n\n"), Pos: sec.Pos})
	}
}

// noteAdd appends text to the context note being read, or to a Summary
// note for text before the first section.
func (p *parser) noteAdd(n ast.Node, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	ctx := p.proc.Context
	if !p.rb.inNote {
		p.rb.inNote = true
		ctx = append(ctx, ContextNote{Title: "Summary", Pos: p.pos(n)})
	}
	last := &ctx[len(ctx)-1]
	if last.Text != "" {
		last.Text += "\n\n"
	}
	last.Text += text
	p.proc.Context = ctx
}

func (p *parser) runbookParagraph(n *ast.Paragraph) {
	if label, ok := p.sectionLabel(n); ok {
		if _, known := p.opt.Sections.Role(label); known {
			p.runbookHeading(n, label, 7, p.pos(n))
			return
		}
	}
	if p.section == nil {
		p.noteAdd(n, p.inlineText(n))
		return
	}
	text := strings.TrimSpace(p.inlineText(n))
	if spans := p.cliSpans(n); len(spans) > 0 {
		name := p.firstStrong(n)
		if name == "" {
			name = p.spanName(n)
		}
		p.tasksFromBlocks(p.section, name, text, nil, spans, n, false)
		p.lastPara = ""
		return
	}
	p.lastPara = strings.TrimRight(text, ": ")
	p.rb.prose = append(p.rb.prose, text)
}

func (p *parser) runbookList(n *ast.List) {
	if p.section == nil {
		p.noteAdd(n, p.listText(n, ""))
		return
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if li, ok := c.(*ast.ListItem); ok {
			p.item(li, p.section, true)
		}
	}
	p.lastPara = ""
}

func (p *parser) runbookCode(n ast.Node) {
	if p.section == nil {
		p.noteAdd(n, "```"+p.blockLang(n)+"\n"+strings.TrimRight(p.blockText(n), "\n")+"\n```")
		return
	}
	name := p.lastPara
	p.lastPara = ""
	p.tasksFromBlocks(p.section, name, "", nil, []ast.Node{n}, n, name == "")
}

// listText renders a list as Markdown bullets, for a context note.
func (p *parser) listText(n ast.Node, indent string) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if t := p.itemText(c); t != "" {
			b.WriteString(indent + "- " + t + "\n")
		}
		for d := c.FirstChild(); d != nil; d = d.NextSibling() {
			if l, ok := d.(*ast.List); ok {
				b.WriteString(p.listText(l, indent+"  "))
			}
		}
	}
	return b.String()
}

// spanName names a step made of a sentence's command spans: the words
// before the first command ("Check pod events" for "Check pod events via
// `kubectl describe pod $POD`."), else the command as written.
func (p *parser) spanName(para ast.Node) string {
	var b strings.Builder
	var first string
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if cs, ok := c.(*ast.CodeSpan); ok {
				if l, ok := p.spanCommand(cs); ok {
					first = strings.TrimSpace(l.text)
					return true
				}
			}
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(p.body))
				if c.SoftLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.CodeSpan:
				t, _ := p.codeSpanText(c)
				b.WriteString(t)
			default:
				if walk(c) {
					return true
				}
			}
		}
		return false
	}
	walk(para)
	name := strings.Join(strings.Fields(b.String()), " ")
	for {
		trimmed := strings.TrimRight(name, " :,;-–—(")
		for _, w := range []string{"via", "with", "using", "by running", "by", "run", "running", "through", "in", "e.g.", "like"} {
			if strings.HasSuffix(strings.ToLower(trimmed), " "+w) || strings.EqualFold(trimmed, w) {
				trimmed = strings.TrimSpace(trimmed[:len(trimmed)-len(w)])
			}
		}
		if trimmed == name {
			break
		}
		name = trimmed
	}
	if name == "" {
		return first
	}
	return name
}

// sectionHasCommands reports whether the content under a heading, up to
// the next heading of its level or above, holds an executable block or a
// command span.
func (p *parser) sectionHasCommands(h *ast.Heading) bool {
	var has func(n ast.Node) bool
	has = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FencedCodeBlock:
			return executorOf(p.blockLang(n)) != ""
		case *ast.CodeSpan:
			_, ok := p.spanCommand(n)
			return ok
		}
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if has(c) {
				return true
			}
		}
		return false
	}
	for n := h.NextSibling(); n != nil; n = n.NextSibling() {
		if o, ok := n.(*ast.Heading); ok && o.Level <= h.Level {
			break
		}
		if has(n) {
			return true
		}
	}
	return false
}
