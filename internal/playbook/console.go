package playbook

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"mvdan.cc/sh/v3/syntax"
)

// knownCLIs are the programs whose commands, written in an inline code
// span of a runbook (`kubectl -n $NAMESPACE describe pod $POD`), become
// steps. Each is classified like any other command.
var knownCLIs = wordSet(`kubectl oc psql curl promtool etcdctl systemctl journalctl`)

// cliCommand reports whether text is a command of a known CLI: the
// program and at least one argument.
func cliCommand(text string) bool {
	f := strings.Fields(text)
	return len(f) >= 2 && knownCLIs[f[0]]
}

// codeSpanText returns a code span's text and the document offset of its
// first byte.
func (p *parser) codeSpanText(cs *ast.CodeSpan) (string, int) {
	var b strings.Builder
	off := -1
	for c := cs.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			if off < 0 {
				off = t.Segment.Start
			}
			b.Write(t.Segment.Value(p.body))
		}
	}
	return strings.ReplaceAll(b.String(), "\n", " "), off
}

// spanCommand returns the command of a code span, without a "$ " prompt,
// when it is one of a known CLI.
func (p *parser) spanCommand(cs *ast.CodeSpan) (srcLine, bool) {
	text, off := p.codeSpanText(cs)
	if off < 0 {
		return srcLine{}, false
	}
	trimmed := strings.TrimLeft(text, " ")
	off += len(text) - len(trimmed)
	if strings.HasPrefix(trimmed, "$ ") {
		rest := strings.TrimLeft(trimmed[2:], " ")
		off += len(trimmed) - len(rest)
		trimmed = rest
	}
	trimmed = strings.TrimRight(trimmed, " ")
	if !cliCommand(trimmed) {
		return srcLine{}, false
	}
	return srcLine{text: trimmed + "\n", docOff: off}, true
}

// spanUnit is a code span's command as a step unit.
func (p *parser) spanUnit(cs *ast.CodeSpan) (unit, bool) {
	l, ok := p.spanCommand(cs)
	if !ok {
		return unit{}, false
	}
	return unit{node: cs, lang: "sh", exec: ExecShell, lines: []srcLine{l}}, true
}

// cliSpans returns the code spans of a paragraph (also inside emphasis
// and links) that hold a known CLI's command.
func (p *parser) cliSpans(para ast.Node) []ast.Node {
	var out []ast.Node
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if cs, ok := c.(*ast.CodeSpan); ok {
				if _, ok := p.spanCommand(cs); ok {
					out = append(out, cs)
				}
				continue
			}
			walk(c)
		}
	}
	walk(para)
	return out
}

// userPrompt is a prompt with user and host, or a bracketed one:
// "ana@bastion:~$ ", "[root@node-1 ~]# ".
var userPrompt = regexp.MustCompile(`^(?:\[[^\]\n]*\]|[A-Za-z0-9._-]+@[A-Za-z0-9._:~/-]+)[$#] `)

// promptLen returns the length of the prompt that starts a console line,
// or 0 for a line of output. "$ " and "> " are prompts; "# " is one when a
// known CLI follows (else it is a comment); so is "user@host:~$ ".
func promptLen(line string) int {
	switch {
	case strings.HasPrefix(line, "$ "), strings.HasPrefix(line, "> "):
		return 2
	case strings.HasPrefix(line, "# "):
		if f := strings.Fields(line[2:]); len(f) > 0 && knownCLIs[f[0]] {
			return 2
		}
		return 0
	}
	if m := userPrompt.FindString(line); m != "" {
		return len(m)
	}
	return 0
}

// consoleLangs are the fence languages of a shell session as shown in a
// terminal: commands after a prompt, followed by what they printed.
var consoleLangs = wordSet(`console shell-session terminal`)

// sessionUnits splits a console block into its commands: a line after a
// prompt ("$ ", "# ", "> ") is a command, with its continuation lines (a
// trailing backslash or an open quote); every other line is output and
// is dropped. A bash or sh block whose first line starts with "$ " is
// read the same way. ok is false when the block is a script: no prompt
// in it, or an edit being classified (Options.script).
func (p *parser) sessionUnits(b ast.Node, lang string) ([]unit, bool) {
	if p.opt.script {
		return nil, false
	}
	lines := b.Lines()
	if !consoleLangs[lang] {
		first := ""
		for i := 0; i < lines.Len() && first == ""; i++ {
			s := lines.At(i)
			first = strings.TrimSpace(string(s.Value(p.body)))
		}
		if !strings.HasPrefix(first, "$ ") {
			return nil, false
		}
	}
	var units []unit
	cont := false
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		v := string(s.Value(p.body))
		t := strings.TrimLeft(v, " \t")
		k := len(v) - len(t)
		if cont {
			if strings.HasPrefix(t, "> ") {
				k += 2
			}
			u := &units[len(units)-1]
			u.lines = append(u.lines, srcLine{text: v[k:], docOff: s.Start + max(k-s.Padding, 0)})
			cont = continues(u.lines)
			continue
		}
		n := promptLen(strings.TrimRight(t, "\r\n"))
		if n == 0 || strings.TrimSpace(t[n:]) == "" {
			continue // output, a comment or an empty prompt
		}
		k += n
		units = append(units, unit{node: b, lang: "console", exec: ExecShell,
			lines: []srcLine{{text: v[k:], docOff: s.Start + max(k-s.Padding, 0)}}})
		cont = continues(units[len(units)-1].lines)
	}
	if len(units) == 0 {
		return nil, false
	}
	for i := range units {
		if last := &units[i].lines[len(units[i].lines)-1]; !strings.HasSuffix(last.text, "\n") {
			last.text += "\n"
		}
	}
	return units, true
}

// continues reports whether a command goes on to the next line: its text
// ends with a backslash, or leaves a quote open.
func continues(lines []srcLine) bool {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	s := strings.TrimRight(b.String(), "\r\n")
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'':
			if c == '\'' {
				q = 0
			}
		case c == '\\':
			if i+1 == len(s) {
				return true
			}
			i++
		case q == '"':
			if c == '"' {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		}
	}
	return q != 0
}

// envNames are environment variables a shell provides: a runbook's $HOME
// or $KUBECONFIG is the shell's, not a placeholder.
var envNames = wordSet(`HOME PATH USER LOGNAME PWD OLDPWD SHELL TERM LANG LC_ALL HOSTNAME TMPDIR
	KUBECONFIG EDITOR PAGER UID EUID PPID RANDOM SECONDS LINENO IFS BASHPID BASH_SOURCE PS1 PS2 PS4
	DISPLAY XDG_RUNTIME_DIR XDG_CONFIG_HOME`)

// assigned finds variables a script sets itself: NAME=, for NAME in,
// read NAME, export/local/declare/readonly NAME.
var assigned = regexp.MustCompile(`(?:^|[\s;&|(])(?:(?:export|local|declare|readonly|typeset)\s+(?:-\w+\s+)*)?([A-Za-z_][A-Za-z0-9_]*)=|\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b|\bread\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_]*)`)

// canonicalPlaceholders rewrites a runbook's placeholders into the
// explicit {{name}} form, with one name per label-like word, so that
// "$NAMESPACE", "${NAMESPACE}", "<namespace>", "{{ $labels.namespace }}"
// and "{{ .Labels.namespace }}" are all the parameter "namespace" and
// "$POD_NAME" and "<pod-name>" are both "pod_name". Shell variables
// ($NAME in upper case) count as placeholders unless the script sets them,
// the shell provides them (HOME, KUBECONFIG, …) or they sit in single
// quotes, where bash would not expand them either. The rest of the
// pipeline — classification, binding into environment variables, edits —
// then sees only {{name}} placeholders. It returns the new text and where
// it changed.
func canonicalPlaceholders(s string) (string, []textEdit) {
	skip := map[string]bool{}
	for _, m := range assigned.FindAllStringSubmatch(s, -1) {
		for _, g := range m[1:] {
			if g != "" {
				skip[g] = true
			}
		}
	}
	phs := scanShellWith(s, skip)
	if len(phs) == 0 {
		return s, nil
	}
	var b strings.Builder
	var edits []textEdit
	last := 0
	for _, ph := range phs {
		b.WriteString(s[last:ph.Start])
		rep := "{{" + canonicalName(ph.Name) + "}}"
		if old := s[ph.Start:ph.End]; old != rep {
			edits = append(edits, textEdit{at: b.Len(), oldLen: len(old), newLen: len(rep)})
		}
		b.WriteString(rep)
		last = ph.End
	}
	b.WriteString(s[last:])
	return b.String(), edits
}

// canonicalName is a placeholder's name in lower snake case.
func canonicalName(name string) string {
	w := splitWords(name)
	if len(w) == 0 {
		return name
	}
	return strings.Join(w, "_")
}

// dollarVar reads a $NAME or ${NAME} placeholder at s[i] (a '$'): NAME
// in upper case, not in skip.
func dollarVar(s string, i int, skip map[string]bool) (shellPlaceholder, bool) {
	j := i + 1
	braced := j < len(s) && s[j] == '{'
	if braced {
		j++
	}
	start := j
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	name := s[start:j]
	if braced {
		if j >= len(s) || s[j] != '}' {
			return shellPlaceholder{}, false
		}
		j++
	}
	if name == "" || name[0] < 'A' || name[0] > 'Z' || strings.ToUpper(name) != name || skip[name] || envNames[name] {
		return shellPlaceholder{}, false
	}
	return shellPlaceholder{Start: i, End: j, Name: name, Form: FormBraces}, true
}

// convertPsql turns a runbook's `psql … -c "SQL"` into a sql step: the SQL
// is classified by PostgreSQL's parser and runs through the SQL executor
// (a read in a READ ONLY transaction) on the target named by -d, the
// database operand or -h, else the default target. Values reach it as
// bind parameters, not inside the -c string. A psql command of any other
// form stays a shell command, which the classifier calls a write.
func (p *parser) convertPsql(u unit) unit {
	if !p.runbook || u.exec != ExecShell {
		return u
	}
	var b strings.Builder
	for _, l := range u.lines {
		b.WriteString(l.text)
	}
	text, _ := canonicalPlaceholders(strings.TrimRight(b.String(), "\n"))
	if !strings.HasPrefix(strings.TrimSpace(text), "psql ") {
		return u
	}
	phs := scanShell(text)
	f, err := parseShell(text, phs)
	if err != nil || len(f.Stmts) != 1 {
		return u
	}
	st := f.Stmts[0]
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(st.Redirs) > 0 || st.Negated || st.Background || len(c.Assigns) > 0 {
		return u
	}
	a := &shellAnalyzer{src: text, phs: phs, k8s: map[string]bool{}}
	var words []string
	for _, w := range c.Args {
		v, ok := a.literal(w)
		if !ok {
			return u
		}
		words = append(words, v)
	}
	if words[0] != "psql" {
		return u
	}
	sql, db, host := "", "", ""
	var operands []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		name, val, attached := strings.Cut(w, "=")
		if !strings.HasPrefix(w, "--") {
			name, val, attached = w, "", false
			if len(w) > 2 && w[0] == '-' && w[1] != '-' && strings.Contains("cdhpU", w[1:2]) {
				name, val, attached = w[:2], w[2:], true
			}
		}
		value := func() (string, bool) {
			if attached {
				return val, true
			}
			if i+1 < len(words) {
				i++
				return words[i], true
			}
			return "", false
		}
		switch name {
		case "-c", "--command":
			v, ok := value()
			if !ok || sql != "" {
				return u
			}
			sql = v
		case "-d", "--dbname":
			if db, ok = value(); !ok {
				return u
			}
		case "-h", "--host":
			if host, ok = value(); !ok {
				return u
			}
		case "-p", "--port", "-U", "--username":
			if _, ok := value(); !ok {
				return u
			}
		case "-X", "--no-psqlrc", "-A", "--no-align", "-t", "--tuples-only", "-q", "--quiet", "-w", "--no-password", "--csv", "-x", "--expanded":
		default:
			if strings.HasPrefix(w, "-") {
				return u
			}
			operands = append(operands, w)
		}
	}
	if strings.TrimSpace(sql) == "" || len(operands) > 2 {
		return u
	}
	target := db
	if target == "" && len(operands) > 0 {
		target = operands[0]
	}
	if target == "" {
		target = host
	}
	if strings.Contains(target, "{{") || strings.Contains(target, "<") {
		return u
	}
	out := unit{node: u.node, lang: "sql", exec: ExecSQL, target: target}
	for _, l := range strings.SplitAfter(strings.TrimSpace(sql), "\n") {
		out.lines = append(out.lines, srcLine{text: l, docOff: u.lines[0].docOff})
	}
	if last := &out.lines[len(out.lines)-1]; !strings.HasSuffix(last.text, "\n") {
		last.text += "\n"
	}
	return out
}
