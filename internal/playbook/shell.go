package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shellQuote is the quoting context of a position in a shell script.
type shellQuote int

const (
	quoteNone shellQuote = iota
	quoteDouble
	quoteSingle
)

// shellPlaceholder is a parameter placeholder in a shell script.
type shellPlaceholder struct {
	Start, End int
	Name       string
	Form       ParamForm
	Quote      shellQuote
}

var (
	angleName = regexp.MustCompile(`^<([A-Za-z][A-Za-z0-9_-]*)>`)
	capsName  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$`)
)

// scanShell finds the placeholders of a script: <name>, {{name}} and
// ALL_CAPS_WITH_UNDERSCORE words that are not $VAR references or
// assignments. Comments are skipped.
func scanShell(s string) []shellPlaceholder { return scanShellWith(s, nil) }

// scanShellWith is scanShell that, with skip not nil, also takes $NAME
// and ${NAME} in upper case for placeholders (a runbook's), unless in
// single quotes or named in skip (see canonicalPlaceholders).
func scanShellWith(s string, skip map[string]bool) []shellPlaceholder {
	var out []shellPlaceholder
	q := quoteNone
	n := len(s)
	wordStart := true // at the start of a word, where # opens a comment
	for i := 0; i < n; {
		c := s[i]
		switch q {
		case quoteSingle:
			if c == '\'' {
				q = quoteNone
				i++
				continue
			}
		case quoteDouble:
			if c == '\\' {
				i += 2
				continue
			}
			if c == '"' {
				q = quoteNone
				i++
				continue
			}
		case quoteNone:
			switch {
			case c == '\\':
				i += 2
				wordStart = false
				continue
			case c == '\'':
				q = quoteSingle
				i++
				wordStart = false
				continue
			case c == '"':
				q = quoteDouble
				i++
				wordStart = false
				continue
			case c == '#' && wordStart:
				for i < n && s[i] != '\n' {
					i++
				}
				continue
			}
		}
		// Placeholders, in any quoting context.
		if c == '<' {
			if m := angleName.FindStringSubmatch(s[i:]); m != nil {
				out = append(out, shellPlaceholder{Start: i, End: i + len(m[0]), Name: m[1], Form: FormAngle, Quote: q})
				i += len(m[0])
				wordStart = false
				continue
			}
		}
		if c == '{' && i+1 < n && s[i+1] == '{' {
			if m := bracesName.FindStringSubmatch(s[i:]); m != nil {
				out = append(out, shellPlaceholder{Start: i, End: i + len(m[0]), Name: m[1], Form: FormBraces, Quote: q})
				i += len(m[0])
				wordStart = false
				continue
			}
		}
		if c == '$' {
			if skip != nil && q != quoteSingle {
				if ph, ok := dollarVar(s, i, skip); ok {
					ph.Quote = q
					out = append(out, ph)
					i = ph.End
					wordStart = false
					continue
				}
			}
			// $VAR and ${VAR} are the script's own variables.
			j := i + 1
			if j < n && s[j] == '{' {
				j++
			}
			for j < n && (isIdentChar(s[j]) && s[j] != '$') {
				j++
			}
			i = j
			wordStart = false
			continue
		}
		if c >= 'A' && c <= 'Z' && (i == 0 || !isWordByte(s[i-1])) {
			j := i
			for j < n && isWordByte(s[j]) {
				j++
			}
			w := s[i:j]
			if capsName.MatchString(w) && (j >= n || s[j] != '=') {
				out = append(out, shellPlaceholder{Start: i, End: j, Name: w, Form: FormCaps, Quote: q})
			}
			i = j
			wordStart = false
			continue
		}
		wordStart = q == quoteNone && (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '|' || c == '&' || c == '(')
		i++
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// EnvName is the environment variable that carries a parameter's value
// into a shell script: FB_PARAM_ and the name in upper snake case.
func EnvName(param string) string {
	var b strings.Builder
	b.WriteString("FB_PARAM_")
	for i := 0; i < len(param); i++ {
		c := param[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// renderShell replaces each placeholder by a quoted reference to its
// environment variable. Values never enter the text.
func renderShell(s string, phs []shellPlaceholder) string {
	var b strings.Builder
	last := 0
	for _, p := range phs {
		b.WriteString(s[last:p.Start])
		env := EnvName(p.Name)
		switch p.Quote {
		case quoteDouble:
			b.WriteString("${" + env + "}")
		case quoteSingle:
			b.WriteString(`'"$` + env + `"'`)
		default:
			b.WriteString(`"$` + env + `"`)
		}
		last = p.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// shellComments returns the text of a script's comment lines.
func shellComments(s string, prefix string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, prefix) {
			t = strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(t, prefix), "#-!/ "))
			if t != "" {
				parts = append(parts, t)
			}
		}
	}
	return strings.Join(parts, "\n")
}

// shellCommentOnly reports whether a script holds nothing but comments and
// blank lines, as bash parses it. A script that does not parse holds code.
func shellCommentOnly(s string) bool {
	f, err := parseShell(s, scanShell(s))
	return err == nil && len(f.Stmts) == 0
}

// parseShell parses a whole script as bash. <name> and {{name}}
// placeholders are not valid bash as written (<name> is a redirection), so
// each is first masked by a word of the same length: offsets, and so every
// position the parser reports, stay those of the script as written.
// ALL_CAPS placeholders are already plain words.
func parseShell(s string, phs []shellPlaceholder) (*syntax.File, error) {
	b := []byte(s)
	for _, p := range phs {
		if p.Form == FormCaps {
			continue
		}
		for i := p.Start; i < p.End; i++ {
			b[i] = 'P'
		}
	}
	return syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(b), "")
}

// shellAnalysis is what the classifier learns from a whole script.
type shellAnalysis struct {
	// Stmts are the script's top-level statements, as bash parses them. A
	// script that does not parse is one write statement spanning it.
	Stmts []shellStmt
	// Placeholders are the script's parameter placeholders (scanShell).
	Placeholders []shellPlaceholder
	// Interpreted lists the placeholders that sit in text another
	// interpreter parses: sh -c, ssh, eval, kubectl exec, ...
	Interpreted []interpretedSite
	// K8sNames are placeholders accepted as kubectl operands, where a
	// value starting with "-" would be read as a flag: they must take the
	// k8s_name type, which Bind checks.
	K8sNames map[string]bool
}

// shellStmt is one top-level statement of a script.
type shellStmt struct {
	Start, End int // byte offsets of its text in the script
	Risk       Risk
	// Reason says why; a write reason starts with the line:col, within the
	// script, of the construct it names.
	Reason string
	Kube   *KubeCommand
}

// interpretedSite is a placeholder inside text another interpreter
// parses: its value would be read as code, not as data.
type interpretedSite struct {
	Name  string
	Start int    // offset of the placeholder in the script
	By    string // the interpreter: "sh -c", "ssh", "eval", "kubectl exec", ...
}

// analyzeShell classifies a whole script on bash's own parse of it. A
// statement is read only if every command in it, at any depth, is on the
// read allowlist with allowed flags and operands, and it holds no
// redirection to or from a file, here-document, command or process
// substitution, arithmetic, indirect expansion or non-literal command
// name. Everything else is write, with the first reason found.
func analyzeShell(script string) shellAnalysis {
	phs := scanShell(script)
	out := shellAnalysis{Placeholders: phs, K8sNames: map[string]bool{}}
	f, err := parseShell(script, phs)
	if err != nil {
		trimmed := strings.TrimSpace(script)
		start := strings.Index(script, trimmed)
		out.Stmts = []shellStmt{{Start: start, End: start + len(trimmed), Risk: RiskWrite, Reason: parseErrorReason(err)}}
		return out
	}
	a := &shellAnalyzer{src: script, phs: phs, k8s: out.K8sNames}
	for _, s := range f.Stmts {
		a.hard, a.soft, a.readWhy = nil, nil, ""
		a.hardPass(s)
		a.stmt(s, false)
		st := shellStmt{Start: offset(s.Pos()), End: offset(s.End()), Risk: RiskRead}
		switch {
		case a.hard != nil:
			st.Risk, st.Reason = RiskWrite, a.hard.String()
		case a.soft != nil:
			st.Risk, st.Reason = RiskWrite, a.soft.String()
		case a.readWhy != "":
			st.Reason = a.readWhy
		default:
			st.Reason = "only reads"
		}
		if a.hard == nil {
			st.Kube = a.native(s)
		}
		out.Stmts = append(out.Stmts, st)
	}
	a.interpretedPass(f)
	out.Interpreted = a.sites
	return out
}

func parseErrorReason(err error) string {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: does not parse: %s", pe.Pos, pe.Text)
	}
	var le syntax.LangError
	if errors.As(err, &le) {
		return fmt.Sprintf("%s: does not parse as bash: %s", le.Pos, strings.TrimPrefix(le.Error(), le.Pos.String()+": "))
	}
	return "does not parse: " + err.Error()
}

func offset(p syntax.Pos) int { return int(p.Offset()) }

// shellFinding is one reason a statement is write.
type shellFinding struct {
	pos syntax.Pos
	msg string
}

func (f *shellFinding) String() string {
	return fmt.Sprintf("%d:%d: %s", f.pos.Line(), f.pos.Col(), f.msg)
}

// shellAnalyzer walks one parsed script. Findings are kept per statement:
// hard ones (constructs that run or write whatever the command, such as a
// command substitution or a redirection) win over soft ones (a command or
// flag off the allowlist); within each kind the first in the text wins.
type shellAnalyzer struct {
	src     string
	phs     []shellPlaceholder
	k8s     map[string]bool
	hard    *shellFinding
	soft    *shellFinding
	readWhy string
	sites   []interpretedSite
}

func (a *shellAnalyzer) note(dst **shellFinding, p syntax.Pos, format string, args ...any) {
	if *dst == nil || p.Offset() < (*dst).pos.Offset() {
		*dst = &shellFinding{pos: p, msg: fmt.Sprintf(format, args...)}
	}
}

func (a *shellAnalyzer) hardf(p syntax.Pos, format string, args ...any) {
	a.note(&a.hard, p, format, args...)
}

func (a *shellAnalyzer) softf(p syntax.Pos, format string, args ...any) {
	a.note(&a.soft, p, format, args...)
}

// text returns a node's source, on one line and shortened for a reason.
func (a *shellAnalyzer) text(n syntax.Node) string {
	s := strings.Join(strings.Fields(a.src[offset(n.Pos()):offset(n.End())]), " ")
	if r := []rune(s); len(r) > 40 {
		s = string(r[:39]) + "…"
	}
	return s
}

// hardPass finds, anywhere in a statement (inside quotes, assignments,
// redirections and nested commands too), the constructs that make it
// write whatever command they belong to.
func (a *shellAnalyzer) hardPass(s *syntax.Stmt) {
	syntax.Walk(s, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CmdSubst:
			a.hardf(n.Pos(), "command substitution %s runs a command", a.text(n))
		case *syntax.ProcSubst:
			a.hardf(n.Pos(), "process substitution %s runs a command", a.text(n))
		case *syntax.ArithmExp:
			// Bash evaluates variables in arithmetic as expressions, and an
			// array subscript in one can hold a command substitution.
			a.hardf(n.Pos(), "arithmetic expansion %s can run code held in variables", a.text(n))
		case *syntax.Redirect:
			a.redirect(n)
		case *syntax.ParamExp:
			a.paramExp(n)
		}
		return true
	})
}

func (a *shellAnalyzer) redirect(r *syntax.Redirect) {
	what := a.text(r)
	if r.Word != nil {
		what = r.Op.String() + " " + a.text(r.Word)
		if r.N != nil {
			what = r.N.Value + what
		}
	}
	if r.N != nil && !isDigits(r.N.Value) {
		a.hardf(r.Pos(), "redirection with a variable file descriptor (%s)", what)
		return
	}
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.AppClob, syntax.RdrAll, syntax.RdrAllClob, syntax.AppAll, syntax.AppAllClob:
		if !a.isDevNull(r.Word) {
			a.hardf(r.Pos(), "redirection to a file (%s)", what)
		}
	case syntax.RdrIn:
		if !a.isDevNull(r.Word) {
			a.hardf(r.Pos(), "redirection from a file (%s)", what)
		}
	case syntax.DplIn, syntax.DplOut:
		// >&2, 2>&1 and >&- duplicate or close descriptors; >&word with a
		// file name writes the file.
		if v, ok := a.literal(r.Word); !ok || !isDigits(v) && v != "-" {
			a.hardf(r.Pos(), "redirection to a file (%s)", what)
		}
	case syntax.Hdoc, syntax.DashHdoc:
		a.hardf(r.Pos(), "here-document (%s) feeds text to a command", r.Op.String()+a.text(r.Word))
	case syntax.WordHdoc:
		a.hardf(r.Pos(), "here-string (%s) feeds text to a command", what)
	default:
		a.hardf(r.Pos(), "redirection %s", what)
	}
}

func (a *shellAnalyzer) isDevNull(w *syntax.Word) bool {
	v, ok := a.literal(w)
	return ok && v == "/dev/null"
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Parameter expansion operators without side effects: defaults,
// alternatives, prefix and suffix removal, case changes.
var safeParamOps = map[syntax.ParExpOperator]bool{
	syntax.AlternateUnset: true, syntax.AlternateUnsetOrNull: true,
	syntax.DefaultUnset: true, syntax.DefaultUnsetOrNull: true,
	syntax.RemSmallSuffix: true, syntax.RemLargeSuffix: true,
	syntax.RemSmallPrefix: true, syntax.RemLargePrefix: true,
	syntax.UpperFirst: true, syntax.UpperAll: true, syntax.LowerFirst: true, syntax.LowerAll: true,
}

func (a *shellAnalyzer) paramExp(p *syntax.ParamExp) {
	switch {
	case p.Excl:
		// ${!x} expands the variable x names; with a subscript in that
		// name it evaluates arithmetic, which can run commands.
		a.hardf(p.Pos(), "indirect expansion %s", a.text(p))
	case p.Index != nil, p.Slice != nil:
		a.hardf(p.Pos(), "expansion %s evaluates arithmetic, which can run code held in variables", a.text(p))
	case p.Exp != nil && !safeParamOps[p.Exp.Op]:
		// := and = assign, ? and :? exit, @P and friends re-expand.
		a.hardf(p.Pos(), "parameter expansion %s has side effects", a.text(p))
	case p.Flags != nil, p.NestedParam != nil, len(p.Modifiers) > 0, p.Width, p.IsSet:
		a.hardf(p.Pos(), "parameter expansion %s is not bash", a.text(p))
	}
}

func (a *shellAnalyzer) stmts(ss []*syntax.Stmt, afterPipe bool) {
	for _, s := range ss {
		a.stmt(s, afterPipe)
	}
}

// stmt checks a statement's commands against the allowlist. afterPipe
// tells whether its standard input is the output of a pipe.
func (a *shellAnalyzer) stmt(s *syntax.Stmt, afterPipe bool) {
	if s.Coprocess || s.Disown {
		a.softf(s.Pos(), "background job %s is not bash", a.text(s))
	}
	if s.Cmd != nil {
		a.command(s.Cmd, afterPipe)
	}
}

func (a *shellAnalyzer) command(c syntax.Command, afterPipe bool) {
	switch c := c.(type) {
	case *syntax.CallExpr:
		a.call(c, afterPipe)
	case *syntax.BinaryCmd:
		a.stmt(c.X, afterPipe)
		a.stmt(c.Y, afterPipe || c.Op == syntax.Pipe || c.Op == syntax.PipeAll)
	case *syntax.Subshell:
		a.stmts(c.Stmts, afterPipe)
	case *syntax.Block:
		a.stmts(c.Stmts, afterPipe)
	case *syntax.IfClause:
		for ; c != nil; c = c.Else {
			a.stmts(c.Cond, afterPipe)
			a.stmts(c.Then, afterPipe)
		}
	case *syntax.WhileClause:
		a.stmts(c.Cond, afterPipe)
		a.stmts(c.Do, afterPipe)
	case *syntax.ForClause:
		if _, ok := c.Loop.(*syntax.CStyleLoop); ok {
			a.softf(c.Pos(), "arithmetic for loop %s can run code held in variables", a.text(c.Loop))
		}
		a.stmts(c.Do, afterPipe)
	case *syntax.CaseClause:
		for _, it := range c.Items {
			a.stmts(it.Stmts, afterPipe)
		}
	case *syntax.TimeClause:
		if c.Stmt != nil {
			a.stmt(c.Stmt, afterPipe)
		}
	case *syntax.FuncDecl:
		// A function can shadow an allowlisted command; read steps need none.
		name := "function"
		if c.Name != nil {
			name = c.Name.Value
		}
		a.softf(c.Pos(), "function definition %s()", name)
	case *syntax.ArithmCmd:
		a.softf(c.Pos(), "arithmetic command %s can run code held in variables", a.text(c))
	case *syntax.LetClause:
		a.softf(c.Pos(), "let evaluates arithmetic, which can run code held in variables")
	case *syntax.TestClause:
		a.softf(c.Pos(), "test %s is not a read command (it can evaluate arithmetic)", a.text(c))
	case *syntax.DeclClause:
		a.softf(c.Pos(), "%s changes shell variables", c.Variant.Value)
	case *syntax.CoprocClause:
		a.softf(c.Pos(), "coproc runs a command in the background")
	default:
		a.softf(c.Pos(), "%s is not on the read allowlist", a.text(c))
	}
}

// Why commands that are not on the read allowlist are not; a command
// missing here is simply not known to be read only.
var shellWriteWhy = map[string]string{
	"eval":    "runs its arguments as shell code",
	"source":  "runs a script",
	".":       "runs a script",
	"exec":    "replaces the shell with another program",
	"command": "runs the command it names",
	"builtin": "runs the builtin it names",
	"env":     "runs a program with a changed environment",
	"xargs":   "runs a command with arguments read from its input",
	"find":    "can run commands and write files (-exec, -execdir, -delete, -fprint)",
	"sed":     "can write files and run commands (its w and e commands)",
	"tee":     "writes to files",
	"alias":   "changes what later commands run",
	"trap":    "runs code on a signal or at exit",
	"sudo":    "runs a command as another user",
	"su":      "runs a command as another user",
	"ssh":     "runs a command on another host",
	"watch":   "runs a command through sh -c",
	"timeout": "runs the command it names",
	"nice":    "runs the command it names",
	"nohup":   "runs the command it names",
	"curl":    "talks to the network and can write files",
	"wget":    "talks to the network and writes files",
	"psql":    "runs SQL, which may write",
}

func shellWriteReason(name string) string {
	if why := shellWriteWhy[name]; why != "" {
		return name + " " + why
	}
	if interpreterNames[name] || strings.HasPrefix(name, "python") {
		return name + " runs a program"
	}
	return name + " is not a known read-only command"
}

var interpreterNames = wordSet(`sh bash zsh dash ksh mksh ash busybox fish csh tcsh python perl ruby node nodejs awk gawk mawk nawk php lua`)

// call checks a simple command.
func (a *shellAnalyzer) call(c *syntax.CallExpr, afterPipe bool) {
	if len(c.Assigns) > 0 {
		as := c.Assigns[0]
		if len(c.Args) == 0 {
			a.softf(as.Pos(), "assignment %s changes shell variables", a.text(as))
		} else {
			// PATH=, KUBECONFIG=, LD_PRELOAD= change what runs.
			a.softf(as.Pos(), "assignment %s changes the environment of %s", a.text(as), a.text(c.Args[0]))
		}
		return
	}
	if len(c.Args) == 0 {
		return
	}
	w := c.Args[0]
	in := a.word(w)
	switch {
	case in.ph >= 0 || a.holdsPlaceholder(w):
		a.softf(w.Pos(), "command name %s is a parameter placeholder", a.text(w))
		return
	case in.exp:
		a.softf(w.Pos(), "command name %s is not a literal word", a.text(w))
		return
	}
	name := in.val
	switch spec := filterSpecs[name]; {
	case name == "kubectl" || name == "oc":
		a.kube(name, c.Args)
	case toolSpecs[name] != nil:
		a.tool(name, toolSpecs[name], c)
	case spec != nil:
		if !afterPipe {
			a.softf(w.Pos(), "%s is allowed only after a | (it filters what a read command prints)", name)
			return
		}
		a.filter(name, spec, c.Args[1:])
	default:
		a.softf(w.Pos(), "%s", shellWriteReason(name))
	}
}

// flagSpec is the allowlist of a command's options. A flag not in it makes
// the command write.
type flagSpec struct {
	bools  map[string]bool   // flags without a value: -i, --count
	values map[string]bool   // flags that take a value: -n 5, --lines=5, -n5
	pairs  map[string]bool   // flags that take two values: jq --arg NAME VALUE
	digits bool              // -5 is a count (head, tail) or a context (grep)
	why    map[string]string // refused flags with the reason
	// check, when set, refuses some literal values of a flag with a reason.
	check func(flag, value string) string
}

func newFlagSpec(bools, values string, why map[string]string) *flagSpec {
	return &flagSpec{bools: wordSet(bools), values: wordSet(values), why: why}
}

var (
	grepSpec = &flagSpec{
		bools: wordSet(`-i -y -v -w -x -c -o -q -s -n -h -H -b -a -E -F -G -P -z -U -T -Z -l -L
			--ignore-case --no-ignore-case --invert-match --word-regexp --line-regexp --count
			--only-matching --quiet --silent --no-messages --line-number --no-filename --with-filename
			--byte-offset --text --extended-regexp --fixed-strings --basic-regexp --perl-regexp
			--null-data --binary --initial-tab --null --line-buffered --color --colour
			--files-with-matches --files-without-match`),
		values: wordSet(`-e --regexp -m --max-count -A --after-context -B --before-context -C --context --label --binary-files`),
		digits: true,
		why: map[string]string{
			"-f": "reads patterns from a file", "--file": "reads patterns from a file",
			"-r": "reads files", "-R": "reads files", "--recursive": "reads files", "--dereference-recursive": "reads files",
			"-d": "chooses how to read directories", "--directories": "chooses how to read directories",
			"--exclude-from": "reads a file", "--include": "reads files", "--exclude": "reads files",
		},
	}
	headSpec = &flagSpec{
		bools:  wordSet(`-q -v -z --quiet --silent --verbose --zero-terminated`),
		values: wordSet(`-n --lines -c --bytes`),
		digits: true,
	}
	tailSpec = &flagSpec{
		bools:  wordSet(`-q -v -z --quiet --silent --verbose --zero-terminated`),
		values: wordSet(`-n --lines -c --bytes`),
		digits: true,
		why:    map[string]string{"-f": "follows files", "-F": "follows files", "--follow": "follows files"},
	}
	sortSpec = newFlagSpec(`-b -d -f -g -i -M -h -n -R -r -V -s -u -z -c -C -m
		--ignore-leading-blanks --dictionary-order --ignore-case --general-numeric-sort
		--ignore-nonprinting --month-sort --human-numeric-sort --numeric-sort --random-sort
		--reverse --version-sort --stable --unique --zero-terminated --check --merge --debug`,
		`-k --key -t --field-separator -S --buffer-size --parallel --sort`,
		map[string]string{
			"-o": "writes to a file", "--output": "writes to a file",
			"-T": "writes temporary files to a directory", "--temporary-directory": "writes temporary files to a directory",
			"--compress-program": "runs a program", "--files0-from": "reads files", "--random-source": "reads a file",
		})
	uniqSpec = newFlagSpec(`-c -d -D -i -u -z --count --repeated --ignore-case --unique --zero-terminated --all-repeated --group`,
		`-f --skip-fields -s --skip-chars -w --check-chars`, nil)
	cutSpec = newFlagSpec(`-s -n -z --complement --only-delimited --zero-terminated`,
		`-b -c -f -d --bytes --characters --fields --delimiter --output-delimiter`, nil)
	wcSpec = newFlagSpec(`-c -m -l -w -L --bytes --chars --lines --words --max-line-length`, `--total`,
		map[string]string{"--files0-from": "reads files"})
	jqSpec = &flagSpec{
		bools: wordSet(`-r -j -a -c -n -e -s -S -C -M -R --raw-output --join-output --ascii-output
			--compact-output --null-input --exit-status --slurp --sort-keys --color-output
			--monochrome-output --tab --raw-input --seq --stream --stream-errors --raw-output0 --unbuffered`),
		values: wordSet(`--indent`),
		pairs:  wordSet(`--arg --argjson`),
		why: map[string]string{
			"-f": "reads the program from a file", "--from-file": "reads the program from a file",
			"--rawfile": "reads a file", "--slurpfile": "reads a file",
			"-L": "loads modules from a directory", "--library-path": "loads modules from a directory",
			"--args": "takes its operands as values", "--jsonargs": "takes its operands as values",
		},
	}
	trSpec     = newFlagSpec(`-c -C -d -s -t --complement --delete --squeeze-repeats --truncate-set1`, ``, nil)
	columnSpec = newFlagSpec(`-t -x --table --fillrows`,
		`-s --separator -o --output-separator -c --output-width -N --table-columns -R --table-right`, nil)

	// filterSpecs are the commands allowed after a |, reading standard
	// input only.
	filterSpecs = map[string]*flagSpec{
		"grep": grepSpec, "egrep": grepSpec, "fgrep": grepSpec,
		"head": headSpec, "tail": tailSpec, "wc": wcSpec, "sort": sortSpec, "uniq": uniqSpec,
		"cut": cutSpec, "jq": jqSpec, "tr": trSpec, "column": columnSpec,
	}
)

// shellOperand is a non-option argument.
type shellOperand struct {
	w        *syntax.Word
	in       wordInfo
	afterEnd bool // after --, so never read as an option
}

// scanArgs splits arguments into options and operands the way getopt_long
// and pflag do: options anywhere before --, short options clustered (-in,
// -n5), long options exact (an abbreviation is not on the list), values
// attached (--lines=5) or in the next word. It notes the first option
// off the allowlist and returns ok false.
func (a *shellAnalyzer) scanArgs(cmd string, args []*syntax.Word, spec *flagSpec) (ops []shellOperand, seen map[string]bool, ok bool) {
	seen = map[string]bool{}
	end := false
	// checkValue checks the value of flag f, in word w.
	checkValue := func(w *syntax.Word, f, v string) bool {
		if spec.check == nil {
			return true
		}
		if why := spec.check(f, v); why != "" {
			a.softf(w.Pos(), "%s option %s %s %s", cmd, f, strings.ReplaceAll(v, "\x00", "$…"), why)
			return false
		}
		return true
	}
	value := func(i int, f string) bool { // args[i] is the value of flag f
		if i < len(args) {
			in := a.word(args[i])
			if in.split != nil {
				a.softf(in.split.Pos(), "unquoted expansion %s may split into several arguments", a.text(in.split))
				return false
			}
			return checkValue(args[i], f, in.val)
		}
		return true
	}
	for i := 0; i < len(args); i++ {
		w := args[i]
		in := a.word(w)
		if in.split != nil {
			a.softf(in.split.Pos(), "unquoted expansion %s may split into several arguments", a.text(in.split))
			return nil, nil, false
		}
		v := in.val
		if end || in.lead || !strings.HasPrefix(v, "-") || v == "-" {
			ops = append(ops, shellOperand{w: w, in: in, afterEnd: end})
			continue
		}
		if v == "--" {
			end = true
			continue
		}
		if strings.HasPrefix(v, "--") {
			name, val, attached := strings.Cut(v, "=")
			shown := strings.ReplaceAll(name, "\x00", "$…")
			switch {
			case spec.why[name] != "":
				a.softf(w.Pos(), "%s option %s %s", cmd, shown, spec.why[name])
				return nil, nil, false
			case spec.bools[name]:
			case spec.values[name]:
				if attached && !checkValue(w, name, val) {
					return nil, nil, false
				}
				if !attached {
					i++
					if !value(i, name) {
						return nil, nil, false
					}
				}
			case spec.pairs[name] && !attached:
				i += 2
				if !value(i-1, "") || !value(i, "") {
					return nil, nil, false
				}
			default:
				a.softf(w.Pos(), "%s option %s is not on the read allowlist", cmd, shown)
				return nil, nil, false
			}
			seen[name] = true
			continue
		}
		for k := 1; k < len(v); k++ {
			f := "-" + string(v[k])
			switch {
			case spec.digits && v[k] >= '0' && v[k] <= '9':
				continue
			case spec.why[f] != "":
				a.softf(w.Pos(), "%s option %s %s", cmd, f, spec.why[f])
				return nil, nil, false
			case spec.bools[f]:
				seen[f] = true
				continue
			case spec.values[f]:
				seen[f] = true
				if k == len(v)-1 {
					i++
					if !value(i, f) {
						return nil, nil, false
					}
				} else if !checkValue(w, f, strings.TrimPrefix(v[k+1:], "=")) {
					return nil, nil, false
				}
				k = len(v)
			default:
				a.softf(w.Pos(), "%s option %s is not on the read allowlist", cmd, strings.ReplaceAll(f, "\x00", "$…"))
				return nil, nil, false
			}
		}
	}
	return ops, seen, true
}

// filter checks a command that reads standard input only: allowed flags,
// and no operand but grep's pattern, jq's filter and tr's sets.
func (a *shellAnalyzer) filter(name string, spec *flagSpec, args []*syntax.Word) {
	ops, seen, ok := a.scanArgs(name, args, spec)
	if !ok {
		return
	}
	allowed, hint := 0, "put -- before it"
	switch name {
	case "grep", "egrep", "fgrep":
		hint = "write " + name + " -e PATTERN"
		if !seen["-e"] && !seen["--regexp"] {
			allowed = 1
		}
	case "jq":
		allowed, hint = 1, "pass the value with --arg NAME VALUE"
	case "tr":
		allowed = 2
	}
	for i, op := range ops {
		if i >= allowed {
			a.softf(op.w.Pos(), "%s operand %s names a file (filters may read only standard input)", name, a.text(op.w))
			return
		}
		if name == "jq" && jqOutside.MatchString(op.in.val) {
			a.softf(op.w.Pos(), "jq filter %s reads the environment or loads modules", a.text(op.w))
			return
		}
		a.operand(name, op, hint, false)
	}
}

// jqOutside finds what lets a jq filter read beyond its input: the
// environment ($ENV, env) and modules (import, include).
var jqOutside = regexp.MustCompile(`\$ENV|(^|[^.\w$])(env|import|include)\b`)

// operand checks one operand of an allowlisted command: it must not
// expand to file names, and must not start with a value that could be
// read as an option.
func (a *shellAnalyzer) operand(cmd string, op shellOperand, hint string, kube bool) {
	if op.in.glob {
		a.softf(op.w.Pos(), "unquoted pattern %s may expand to file names; quote it", a.text(op.w))
		return
	}
	if !op.in.lead || op.afterEnd {
		return
	}
	if op.in.ph < 0 {
		a.softf(op.w.Pos(), "%s operand %s starts with an expansion and could be read as an option", cmd, a.text(op.w))
		return
	}
	name := a.phs[op.in.ph].Name
	switch inferType(name) {
	case TypeK8sName, TypeIP, TypeInt:
		return // Bind refuses a value starting with -
	}
	if kube {
		a.k8s[name] = true
		return
	}
	a.softf(op.w.Pos(), "placeholder %s could be read as a %s option; %s", a.text(op.w), cmd, hint)
}

var (
	// kubectl flags accepted with any verb. Flags that change credentials,
	// the server or TLS checks, or write local files are refused.
	kubeGlobalBools  = `--match-server-version`
	kubeGlobalValues = `-n --namespace --context --cluster --user --request-timeout -v --v`
	kubeRefused      = map[string]string{
		"--kubeconfig":               "reads credentials from a file the text chooses (an exec plugin in it runs a program)",
		"-s":                         "sends the credentials to another API server",
		"--server":                   "sends the credentials to another API server",
		"--token":                    "changes the credentials",
		"--as":                       "changes the identity",
		"--as-group":                 "changes the identity",
		"--as-uid":                   "changes the identity",
		"--username":                 "changes the credentials",
		"--password":                 "changes the credentials",
		"--client-certificate":       "changes the credentials",
		"--client-key":               "changes the credentials",
		"--certificate-authority":    "changes the TLS checks",
		"--insecure-skip-tls-verify": "turns off the TLS checks",
		"--tls-server-name":          "changes the TLS checks",
		"--cache-dir":                "writes local files",
		"--log-file":                 "writes local files",
		"--log-dir":                  "writes local files",
		"--profile":                  "writes local files",
		"--profile-output":           "writes local files",
		"-f":                         "reads objects from local files or URLs",
		"--filename":                 "reads objects from local files or URLs",
		"-k":                         "reads objects from local files",
		"--kustomize":                "reads objects from local files",
		"-R":                         "reads objects from local files",
		"--recursive":                "reads objects from local files",
	}
	// kubeReadSpecs are the read verbs and their harmless flags.
	kubeReadSpecs = map[string]*flagSpec{
		"get": kubeSpec(`-A --all-namespaces --show-labels --show-kind --no-headers --ignore-not-found -w --watch
			--watch-only --output-watch-events --server-print --show-managed-fields`,
			`-o --output -l --selector --field-selector -L --label-columns --sort-by --chunk-size --subresource`),
		"describe": kubeSpec(`-A --all-namespaces --show-events`, `-l --selector --chunk-size`),
		"logs": kubeSpec(`-f --follow -p --previous --timestamps --all-containers --prefix --ignore-errors --all-pods`,
			`-c --container --since --since-time --tail --limit-bytes -l --selector --max-log-requests --pod-running-timeout`),
		"top": kubeSpec(`-A --all-namespaces --containers --no-headers --use-protocol-buffers --sum --show-capacity`,
			`-l --selector --sort-by --field-selector`),
	}
	// kubeGlobalSpec finds the verb behind leading global flags.
	kubeGlobalSpec = kubeSpec(``, ``)
)

func kubeSpec(bools, values string) *flagSpec {
	s := newFlagSpec(kubeGlobalBools+" "+bools, kubeGlobalValues+" "+values, map[string]string{})
	s.check = kubeOutputCheck
	for f, why := range kubeRefused {
		if !s.bools[f] && !s.values[f] {
			s.why[f] = why
		}
	}
	return s
}

// kubeOutputCheck refuses output formats that read a local template file
// (-o jsonpath-file=PATH, go-template-file, template-file).
func kubeOutputCheck(flag, value string) string {
	if (flag == "-o" || flag == "--output") && strings.Contains(strings.SplitN(value, "=", 2)[0], "-file") {
		return "reads a local file"
	}
	return ""
}

func kubeVerbWhy(verb string) string {
	switch verb {
	case "exec", "attach", "debug":
		return "runs a command in a container"
	case "cp":
		return "copies files to or from a container"
	case "port-forward", "proxy":
		return "opens a connection into the cluster"
	}
	return "changes the cluster"
}

// kube checks a kubectl (or oc) command: a read verb with harmless flags.
func (a *shellAnalyzer) kube(name string, args []*syntax.Word) {
	verb := -1
	for i := 1; i < len(args) && verb < 0; i++ {
		in := a.word(args[i])
		switch {
		case in.lead || !strings.HasPrefix(in.val, "-"):
			verb = i
		case in.val == "--":
			i = len(args)
		default:
			// Only global flags can come before the verb.
			f, _, attached := strings.Cut(in.val, "=")
			switch {
			case kubeGlobalSpec.values[f]:
				if !attached {
					i++
				}
			case kubeGlobalSpec.bools[f]:
			case kubeGlobalSpec.why[f] != "":
				a.softf(args[i].Pos(), "%s option %s %s", name, f, kubeGlobalSpec.why[f])
				return
			default:
				if len(f) > 2 && f[1] != '-' && kubeGlobalSpec.values[f[:2]] {
					continue // -nprod
				}
				a.softf(args[i].Pos(), "%s option %s before the verb is not on the read allowlist", name, strings.ReplaceAll(f, "\x00", "$…"))
				return
			}
		}
	}
	if verb < 0 {
		a.softf(args[0].Pos(), "%s without a recognised verb", name)
		return
	}
	vw := args[verb]
	in := a.word(vw)
	if in.exp || a.holdsPlaceholder(vw) {
		a.softf(vw.Pos(), "%s verb %s is not a literal word", name, a.text(vw))
		return
	}
	spec := kubeReadSpecs[in.val]
	if spec == nil {
		full := in.val
		switch full {
		case "rollout", "set", "config", "auth":
			if verb+1 < len(args) {
				if next, ok := a.literal(args[verb+1]); ok && !strings.HasPrefix(next, "-") {
					full += " " + next
				}
			}
		}
		a.softf(vw.Pos(), "%s %s %s", name, full, kubeVerbWhy(in.val))
		return
	}
	rest := make([]*syntax.Word, 0, len(args))
	rest = append(rest, args[1:verb]...)
	rest = append(rest, args[verb+1:]...)
	ops, _, ok := a.scanArgs(name+" "+in.val, rest, spec)
	if !ok {
		return
	}
	for _, op := range ops {
		a.operand(name+" "+in.val, op, "", true)
	}
	if a.readWhy == "" {
		a.readWhy = name + " " + in.val + " only reads"
	}
}

// wordInfo is what a word holds, as bash would expand it.
type wordInfo struct {
	// val is the word's value with quotes removed; each expansion is a NUL
	// byte and each placeholder is as written.
	val string
	// exp is set when the word holds a parameter, command, arithmetic or
	// process expansion.
	exp bool
	// lead is set when the value starts with a placeholder or an
	// expansion, so could start with "-".
	lead bool
	// ph is the index of the placeholder the value starts with, or -1.
	ph int
	// split is the first unquoted expansion (or quoted "$@"), which word
	// splitting may turn into several words.
	split syntax.Node
	// glob is set for unquoted *, ?, [ or a brace expansion.
	glob bool
}

func (a *shellAnalyzer) word(w *syntax.Word) wordInfo {
	in := wordInfo{ph: -1}
	var b strings.Builder
	a.parts(w.Parts, false, &in, &b)
	in.val = b.String()
	return in
}

// literal returns a word's value when it holds no expansion.
func (a *shellAnalyzer) literal(w *syntax.Word) (string, bool) {
	if w == nil {
		return "", false
	}
	in := a.word(w)
	return in.val, !in.exp
}

func (a *shellAnalyzer) parts(ps []syntax.WordPart, quoted bool, in *wordInfo, b *strings.Builder) {
	for _, p := range ps {
		switch p := p.(type) {
		case *syntax.Lit:
			start := offset(p.Pos())
			text := a.src[start:offset(p.End())]
			a.start(start, in, b)
			if !quoted && hasGlob(text) {
				in.glob = true
			}
			b.WriteString(unescapeShell(text, quoted))
		case *syntax.SglQuoted:
			start := offset(p.Left) + 1
			if p.Dollar {
				start++
			}
			text := a.src[start:offset(p.Right)]
			if p.Dollar && strings.Contains(text, `\`) {
				a.expansion(p, quoted, in, b) // $'\x2d' escapes are not decoded here
				continue
			}
			a.start(start, in, b)
			b.WriteString(text)
		case *syntax.DblQuoted:
			a.parts(p.Parts, true, in, b)
		case *syntax.ExtGlob:
			in.glob = true
			a.start(offset(p.Pos()), in, b)
			b.WriteString(a.src[offset(p.Pos()):offset(p.End())])
		case *syntax.ParamExp:
			a.expansion(p, quoted && !(p.Param != nil && p.Param.Value == "@"), in, b)
		default:
			a.expansion(p, quoted, in, b)
		}
	}
}

func (a *shellAnalyzer) expansion(p syntax.Node, quoted bool, in *wordInfo, b *strings.Builder) {
	if b.Len() == 0 {
		in.lead = true
	}
	in.exp = true
	if !quoted && in.split == nil {
		in.split = p
	}
	b.WriteByte(0)
}

// start notes a placeholder at the start of the value.
func (a *shellAnalyzer) start(off int, in *wordInfo, b *strings.Builder) {
	if b.Len() > 0 || in.lead {
		return
	}
	for i, p := range a.phs {
		if p.Start == off {
			in.lead, in.ph = true, i
			return
		}
	}
}

func (a *shellAnalyzer) holdsPlaceholder(w *syntax.Word) bool {
	return len(a.placeholdersIn(w)) > 0
}

func (a *shellAnalyzer) placeholdersIn(w *syntax.Word) []shellPlaceholder {
	var out []shellPlaceholder
	start, end := offset(w.Pos()), offset(w.End())
	for _, p := range a.phs {
		if p.Start >= start && p.Start < end {
			out = append(out, p)
		}
	}
	return out
}

// unescapeShell removes the backslashes bash removes: any in unquoted
// text, and before $ ` " \ and newline inside double quotes.
func unescapeShell(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		c := s[i+1]
		if quoted && !strings.ContainsRune("$`\"\\\n", rune(c)) {
			b.WriteByte('\\')
			continue
		}
		i++
		if c != '\n' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// hasGlob reports unescaped pattern characters or a brace expansion in
// unquoted text.
func hasGlob(s string) bool {
	brace := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		case '{':
			brace = true
		case ',':
			if brace {
				return true
			}
		case '.':
			if brace && i+1 < len(s) && s[i+1] == '.' {
				return true
			}
		}
	}
	return false
}

// native returns the structured kube command of a statement that is
// "kubectl <form>" optionally piped into "grep PATTERN", made of literal
// words (placeholders allowed), else nil.
func (a *shellAnalyzer) native(s *syntax.Stmt) *KubeCommand {
	plain := func(s *syntax.Stmt) []string {
		if s == nil || len(s.Redirs) > 0 || s.Negated || s.Background || s.Coprocess || s.Disown {
			return nil
		}
		c, ok := s.Cmd.(*syntax.CallExpr)
		if !ok || len(c.Assigns) > 0 {
			return nil
		}
		var words []string
		for _, w := range c.Args {
			v, ok := a.literal(w)
			if !ok {
				return nil
			}
			words = append(words, v)
		}
		return words
	}
	var words []string
	grep := ""
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		words = plain(s)
	case *syntax.BinaryCmd:
		if c.Op != syntax.Pipe || len(s.Redirs) > 0 || s.Negated || s.Background {
			return nil
		}
		words = plain(c.X)
		g := plain(c.Y)
		switch {
		case len(g) == 2 && g[0] == "grep" && !strings.HasPrefix(g[1], "-"):
			grep = g[1]
		case len(g) == 3 && g[0] == "grep" && (g[1] == "-e" || g[1] == "--"):
			grep = g[2]
		default:
			return nil
		}
	}
	if words == nil {
		return nil
	}
	return nativeKube(a.src[offset(s.Pos()):offset(s.End())], words, grep)
}

// interpretedPass finds placeholders inside text another interpreter
// parses, in every command of the script.
func (a *shellAnalyzer) interpretedPass(f *syntax.File) {
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			a.interp(c.Args, 0)
		}
		return true
	})
}

func (a *shellAnalyzer) mark(w *syntax.Word, by string) {
	for _, p := range a.placeholdersIn(w) {
		dup := false
		for _, s := range a.sites {
			dup = dup || s.Start == p.Start
		}
		if !dup {
			a.sites = append(a.sites, interpretedSite{Name: p.Name, Start: p.Start, By: by})
		}
	}
}

func (a *shellAnalyzer) markAll(ws []*syntax.Word, by string) {
	for _, w := range ws {
		a.mark(w, by)
	}
}

// skipOptions returns the arguments after a command's leading options;
// values lists the flags whose value is the next word.
func (a *shellAnalyzer) skipOptions(args []*syntax.Word, values string) []*syntax.Word {
	vals := wordSet(values)
	for i := 0; i < len(args); i++ {
		v, ok := a.literal(args[i])
		if !ok || !strings.HasPrefix(v, "-") || v == "-" {
			return args[i:]
		}
		if v == "--" {
			return args[i+1:]
		}
		if vals[v] {
			i++
		}
	}
	return nil
}

// codeFlag returns the index of the word holding the code passed with one
// of flags (-c CODE, -cCODE, -xc CODE, --command=CODE), or -1.
func (a *shellAnalyzer) codeFlag(args []*syntax.Word, flags ...string) int {
	for i, w := range args {
		v, ok := a.literal(w)
		if !ok {
			continue
		}
		if v == "--" {
			return -1
		}
		for _, f := range flags {
			switch {
			case v == f:
				return i + 1
			case strings.HasPrefix(f, "--") && strings.HasPrefix(v, f+"="):
				return i
			case len(f) == 2 && !strings.HasPrefix(v, "--") && len(v) > 2 && v[0] == '-':
				// A cluster: -lc CODE (the flag last) or -cCODE (attached).
				if strings.HasSuffix(v, f[1:]) && isLetters(v[1:]) {
					return i + 1
				}
				if strings.HasPrefix(v, f) && !isLetters(v[2:]) {
					return i
				}
			}
		}
	}
	return -1
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return s != ""
}

// interp marks placeholders in the arguments a command hands to another
// interpreter, and follows commands that run other commands (timeout,
// sudo, xargs, find -exec, ...).
func (a *shellAnalyzer) interp(args []*syntax.Word, depth int) {
	if len(args) == 0 || depth > 8 {
		return
	}
	name, ok := a.literal(args[0])
	if !ok || a.holdsPlaceholder(args[0]) {
		return
	}
	name = path.Base(name)
	rest := args[1:]
	at := func(i int, by string) {
		if i >= 0 && i < len(rest) {
			a.mark(rest[i], by)
		}
	}
	switch {
	case shellNames[name]:
		a.shellC(name, rest)
	case strings.HasPrefix(name, "python"):
		at(a.codeFlag(rest, "-c"), name+" -c")
	case name == "perl":
		at(a.codeFlag(rest, "-e", "-E"), name+" -e")
	case name == "ruby":
		at(a.codeFlag(rest, "-e"), name+" -e")
	case name == "node" || name == "nodejs":
		at(a.codeFlag(rest, "-e", "--eval", "-p", "--print"), name+" -e")
	case name == "psql":
		at(a.codeFlag(rest, "-c", "--command"), "psql -c")
	case name == "su" || name == "runuser":
		at(a.codeFlag(rest, "-c", "--command", "--session-command"), name+" -c")
	case name == "eval":
		a.markAll(rest, "eval")
	case name == "alias":
		a.markAll(rest, "alias")
	case name == "trap":
		if ops := a.skipOptions(rest, ``); len(ops) > 0 {
			a.mark(ops[0], "trap")
		}
	case awkNames[name], name == "sed":
		a.program(name, rest)
	case name == "ssh":
		for i, w := range rest {
			if v, ok := a.literal(w); ok && strings.HasPrefix(v, "-o") {
				a.mark(w, "ssh -o")
				if v == "-o" && i+1 < len(rest) {
					a.mark(rest[i+1], "ssh -o")
				}
			}
		}
		if ops := a.skipOptions(rest, `-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w`); len(ops) > 1 {
			a.markAll(ops[1:], "ssh")
		}
	case name == "kubectl" || name == "oc":
		for i, w := range rest {
			if v, ok := a.literal(w); ok && v == "--" {
				if verb := a.kubeVerbOf(rest[:i]); verb == "exec" || verb == "debug" || verb == "run" || verb == "rsh" {
					a.markAll(rest[i+1:], name+" "+verb)
				}
				break
			}
		}
	case name == "watch":
		ops := a.skipOptions(rest, `-n --interval -q --equexit`)
		if a.codeFlag(rest[:len(rest)-len(ops)], "-x", "--exec") >= 0 {
			a.interp(ops, depth+1)
		} else {
			a.markAll(ops, "watch")
		}
	case name == "env":
		if i := a.codeFlag(rest, "-S", "--split-string"); i >= 0 {
			at(i, "env -S")
		}
		ops := a.skipOptions(rest, `-u --unset -C --chdir -S --split-string`)
		for len(ops) > 0 {
			if v, ok := a.literal(ops[0]); !ok || !strings.Contains(v, "=") {
				break
			}
			ops = ops[1:]
		}
		a.interp(ops, depth+1)
	case name == "sudo" || name == "doas":
		ops := a.skipOptions(rest, `-u -g -h -p -C -r -t -U -D -R -T --user --group --host --prompt --close-from --role --type --other-user --chdir --chroot --command-timeout`)
		for len(ops) > 0 {
			if v, ok := a.literal(ops[0]); !ok || !strings.Contains(v, "=") {
				break
			}
			ops = ops[1:]
		}
		a.interp(ops, depth+1)
	case name == "timeout":
		if ops := a.skipOptions(rest, `-s --signal -k --kill-after`); len(ops) > 0 {
			a.interp(ops[1:], depth+1)
		}
	case name == "xargs":
		a.interp(a.skipOptions(rest, `-I -L -n -P -s -d -E -a --arg-file --delimiter --max-args --max-procs --max-lines --max-chars --eof --process-slot-var`), depth+1)
	case name == "nice":
		a.interp(a.skipOptions(rest, `-n --adjustment`), depth+1)
	case name == "stdbuf":
		a.interp(a.skipOptions(rest, `-i -o -e --input --output --error`), depth+1)
	case name == "ionice":
		a.interp(a.skipOptions(rest, `-c -n -p -P -u --class --classdata --pid --pgid --uid`), depth+1)
	case name == "exec":
		a.interp(a.skipOptions(rest, `-a`), depth+1)
	case name == "nohup", name == "setsid", name == "command", name == "builtin", name == "time":
		a.interp(a.skipOptions(rest, `-f -o --format --output`), depth+1)
	case name == "find":
		for i := 0; i < len(rest); i++ {
			v, _ := a.literal(rest[i])
			if v != "-exec" && v != "-execdir" && v != "-ok" && v != "-okdir" {
				continue
			}
			j := i + 1
			for j < len(rest) {
				if e, _ := a.literal(rest[j]); e == ";" || e == "+" {
					break
				}
				j++
			}
			a.interp(rest[i+1:j], depth+1)
			i = j
		}
	}
}

var (
	shellNames = wordSet(`sh bash zsh dash ksh mksh ash busybox`)
	awkNames   = wordSet(`awk gawk mawk nawk`)
)

// shellC marks the command string of sh -c STRING (options may be
// clustered: -ec, -lc). Later arguments are $0, $1, ...: data, the safe
// way to pass a value.
func (a *shellAnalyzer) shellC(name string, args []*syntax.Word) {
	hasC := false
	for i := 0; i < len(args); i++ {
		v, ok := a.literal(args[i])
		switch {
		case !ok || !strings.HasPrefix(v, "-") && !strings.HasPrefix(v, "+") || v == "-" || v == "+":
			if hasC {
				a.mark(args[i], name+" -c")
			}
			return
		case v == "--":
			if hasC && i+1 < len(args) {
				a.mark(args[i+1], name+" -c")
			}
			return
		case v == "--rcfile" || v == "--init-file":
			i++
		case strings.HasPrefix(v, "--"):
		default:
			if v[0] == '-' && strings.Contains(v[1:], "c") {
				hasC = true
			}
			if strings.ContainsAny(v[1:], "oO") {
				i++ // -o pipefail
			}
		}
	}
}

// program marks the program text of awk and sed: -e PROGRAM (or
// --source, --expression), else the first operand unless -f names a file.
func (a *shellAnalyzer) program(name string, args []*syntax.Word) {
	by := name + " program"
	file := false
	for i := 0; i < len(args); i++ {
		v, ok := a.literal(args[i])
		switch {
		case !ok || !strings.HasPrefix(v, "-") || v == "-":
			if !file {
				a.mark(args[i], by)
			}
			return
		case v == "--":
			if !file && i+1 < len(args) {
				a.mark(args[i+1], by)
			}
			return
		case v == "-e" || v == "--source" || v == "--expression":
			if i+1 < len(args) {
				a.mark(args[i+1], by)
			}
			file = true // the program was given; operands are files
			i++
		case strings.HasPrefix(v, "--source=") || strings.HasPrefix(v, "--expression=") || strings.HasPrefix(v, "-e"):
			a.mark(args[i], by)
			file = true
		case v == "-f" || v == "--file":
			file = true
			i++
		case v == "-F" || v == "-v" || v == "-l" || v == "--assign" || v == "--field-separator":
			i++
		}
	}
}

// kubeVerbOf returns the verb of kubectl arguments (without the command
// name), skipping global flags.
func (a *shellAnalyzer) kubeVerbOf(args []*syntax.Word) string {
	for i := 0; i < len(args); i++ {
		v, ok := a.literal(args[i])
		if !ok {
			return ""
		}
		if !strings.HasPrefix(v, "-") {
			return v
		}
		if f, _, attached := strings.Cut(v, "="); kubeGlobalSpec.values[f] && !attached {
			i++
		}
	}
	return ""
}

// nativeKube returns the structured form of a kubectl command, given as
// its literal words and the pattern of a trailing "| grep PATTERN", when it
// is one of the forms the kube executor runs natively, else nil.
func nativeKube(raw string, words []string, grep string) *KubeCommand {
	if len(words) < 2 || words[0] != "kubectl" && words[0] != "oc" {
		return nil // oc is kubectl-compatible for these forms
	}
	k := &KubeCommand{Raw: raw, Grep: grep, Flags: map[string]string{}}
	var pos []string
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		long := a[:2] == "--"
		if !long && len(name) > 1 && !hasVal {
			return nil // combined short flags are not understood
		}
		needVal := func() bool {
			if hasVal {
				return true
			}
			if i+1 < len(args) {
				i++
				val = args[i]
				return true
			}
			return false
		}
		switch name {
		case "n", "namespace":
			if !needVal() {
				return nil
			}
			k.Namespace = val
		case "l", "selector":
			if !needVal() {
				return nil
			}
			k.Selector = val
		case "f", "follow":
			if hasVal {
				return nil
			}
			k.Flags["follow"] = "true"
			k.Bounded = true
		case "p", "previous":
			if hasVal {
				return nil
			}
			k.Flags["previous"] = "true"
		case "c", "container", "since", "tail", "replicas", "o", "output", "field-selector":
			if !needVal() {
				return nil
			}
			key := map[string]string{"c": "container", "o": "output"}[name]
			if key == "" {
				key = name
			}
			k.Flags[key] = val
		case "A", "all-namespaces", "timestamps", "all-containers", "containers":
			if hasVal {
				return nil
			}
			key := name
			if name == "A" {
				key = "all-namespaces"
			}
			k.Flags[key] = "true"
		default:
			return nil
		}
	}
	if len(pos) == 0 {
		return nil
	}
	k.Verb = pos[0]
	rest := pos[1:]
	resource := func(r string) string {
		switch r {
		case "po", "pod", "pods":
			return "pod"
		case "deploy", "deployment", "deployments":
			return "deployment"
		}
		return ""
	}
	typed := func(s string) (string, string) { // deployment/x → deployment, x
		r, name, ok := strings.Cut(s, "/")
		if !ok {
			return "", ""
		}
		return resource(r), name
	}
	allowed := func(flags ...string) bool {
		ok := wordSet(strings.Join(flags, " "))
		for f := range k.Flags {
			if !ok[f] {
				return false
			}
		}
		return true
	}
	switch k.Verb {
	case "get", "top":
		if len(rest) < 1 || len(rest) > 2 || resource(rest[0]) != "pod" {
			return nil
		}
		k.Resource = "pods"
		if len(rest) == 2 {
			k.Name = rest[1]
		}
		if k.Verb == "get" && !allowed("output", "all-namespaces", "field-selector") {
			return nil
		}
		if k.Verb == "top" && !allowed("containers", "all-namespaces") {
			return nil
		}
	case "describe":
		if len(rest) == 1 {
			if r, name := typed(rest[0]); r == "pod" {
				k.Resource, k.Name = r, name
				break
			}
		}
		if len(rest) < 1 || len(rest) > 2 || resource(rest[0]) != "pod" {
			return nil
		}
		k.Resource = "pod"
		if len(rest) == 2 {
			k.Name = rest[1]
		}
		if k.Name == "" && k.Selector == "" || !allowed() {
			return nil
		}
	case "logs":
		if len(rest) > 1 {
			return nil
		}
		if len(rest) == 1 {
			if r, name := typed(rest[0]); r != "" {
				k.Resource, k.Name = r, name
			} else if strings.Contains(rest[0], "/") {
				return nil
			} else {
				k.Resource, k.Name = "pod", rest[0]
			}
		} else if k.Selector != "" {
			k.Resource = "pod"
		} else {
			return nil
		}
		if !allowed("follow", "previous", "container", "since", "tail", "timestamps", "all-containers") {
			return nil
		}
	case "scale":
		switch len(rest) {
		case 1:
			k.Resource, k.Name = typed(rest[0])
		case 2:
			k.Resource, k.Name = resource(rest[0]), rest[1]
		}
		if k.Resource != "deployment" || k.Name == "" || k.Flags["replicas"] == "" || !allowed("replicas") || k.Selector != "" {
			return nil
		}
	case "rollout":
		if len(rest) < 2 || rest[0] != "restart" {
			return nil
		}
		k.Verb = "rollout restart"
		switch len(rest) {
		case 2:
			k.Resource, k.Name = typed(rest[1])
		case 3:
			k.Resource, k.Name = resource(rest[1]), rest[2]
		}
		if k.Resource != "deployment" || k.Name == "" || !allowed() || k.Selector != "" {
			return nil
		}
	default:
		return nil
	}
	if k.Grep != "" && k.Verb != "logs" && k.Verb != "get" && k.Verb != "top" && k.Verb != "describe" {
		return nil
	}
	if len(k.Flags) == 0 {
		k.Flags = nil
	}
	return k
}
