package playbook

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// sqlToken is a placeholder found by the SQL lexer, at [Start, End) of the
// text.
type sqlToken struct {
	Start, End int
	Name       string
	Form       ParamForm
	Positional int // for FormPositional
}

// sqlLex is what is known of a SQL text before its statements are
// classified.
type sqlLex struct {
	Params []sqlToken
	// Stmts are the [start, end) spans of the statements as PostgreSQL's
	// own parser splits the text (see splitSQL), each trimmed of the
	// whitespace and comments around it. They are the statements that are
	// classified and, one per call, executed.
	Stmts [][2]int
	// HasCode is false when the text holds only comments, whitespace and
	// semicolons.
	HasCode bool
}

// bracesName reads a {{name}} placeholder; Prometheus' and Alertmanager's
// template forms {{ $labels.pod }} and {{ .Labels.pod }} name the label.
var bracesName = regexp.MustCompile(`^\{\{\s*(?:\$labels\.|\.Labels\.)?([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}`)

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// lexSQL finds a SQL text's placeholders and splits it into statements.
// Placeholders are masked before PostgreSQL's parser sees the text, so that
// $license_id or {{name}} cannot change where it splits.
func lexSQL(s string) sqlLex {
	params := scanPlaceholders(s)
	stmts := splitSQL(masked(s, params))
	for i := range stmts {
		// A masked placeholder ends in padding the split trims: a statement
		// must hold the whole placeholder.
		for _, t := range params {
			if t.Start >= stmts[i][0] && t.Start < stmts[i][1] && t.End > stmts[i][1] {
				stmts[i][1] = t.End
			}
		}
	}
	return sqlLex{Params: params, Stmts: stmts, HasCode: len(stmts) > 0}
}

// splitSQL returns the statement spans of m, a text whose placeholders are
// masked, as PostgreSQL's parser splits it: a semicolon inside a string,
// a dollar quote, a comment or a BEGIN ATOMIC … END body does not end a
// statement. When the text does not parse, it is cut at the scanner's
// top-level semicolons (which still knows strings, quotes and comments) so
// that each piece can be judged, and refused, on its own. When it cannot
// even be scanned (an unterminated string or comment), or holds a NUL
// byte, which PostgreSQL's parser would take for the end of the text, it
// is one statement: one that does not parse.
func splitSQL(m string) [][2]int {
	whole := func() [][2]int {
		start := len(m) - len(strings.TrimLeft(m, " \t\n\r\f\v"))
		end := len(strings.TrimRight(m, " \t\n\r\f\v"))
		if start >= end {
			return nil
		}
		return [][2]int{{start, end}}
	}
	if strings.IndexByte(m, 0) >= 0 {
		return whole()
	}
	scan, err := pg.Scan(m)
	if err != nil {
		return whole()
	}
	var bounds [][2]int
	if tree, err := pg.Parse(m); err == nil {
		for _, rs := range tree.Stmts {
			start, end := int(rs.StmtLocation), int(rs.StmtLocation+rs.StmtLen)
			if rs.StmtLen == 0 { // the last statement runs to the end
				end = len(m)
			}
			bounds = append(bounds, [2]int{start, end})
		}
	} else {
		start := 0
		for _, tk := range scan.Tokens {
			if tk.Token == pg.Token_ASCII_59 {
				bounds = append(bounds, [2]int{start, int(tk.Start)})
				start = int(tk.End)
			}
		}
		bounds = append(bounds, [2]int{start, len(m)})
	}
	var spans [][2]int
	k := 0
	for _, b := range bounds {
		first, last := -1, -1
		for ; k < len(scan.Tokens) && int(scan.Tokens[k].Start) < b[1]; k++ {
			tk := scan.Tokens[k]
			if int(tk.Start) < b[0] {
				continue
			}
			switch tk.Token {
			case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT, pg.Token_ASCII_59:
				continue
			}
			if first < 0 {
				first = int(tk.Start)
			}
			last = int(tk.End)
		}
		if first >= 0 {
			spans = append(spans, [2]int{first, last})
		}
	}
	return spans
}

// scanPlaceholders finds the placeholders of a PostgreSQL text, skipping
// string literals, quoted identifiers, comments and dollar-quoted bodies.
// It never fails: an unterminated literal runs to the end. It does not
// split statements: PostgreSQL's parser does (splitSQL).
func scanPlaceholders(s string) []sqlToken {
	var params []sqlToken
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < n && s[i+1] == '-':
			for i < n && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && s[i+1] == '*':
			depth := 0
			for i < n {
				if s[i] == '/' && i+1 < n && s[i+1] == '*' {
					depth++
					i += 2
				} else if s[i] == '*' && i+1 < n && s[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'':
			start := i
			escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2]))
			i++
			for i < n {
				if escapes && s[i] == '\\' {
					i += 2
					continue
				}
				if s[i] == '\'' {
					if i+1 < n && s[i+1] == '\'' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			if i > n {
				i = n
			}
			// A literal that is exactly '{{name}}' is a parameter: the
			// whole literal becomes a bind parameter.
			if lit := s[start:i]; len(lit) >= 2 && lit[len(lit)-1] == '\'' {
				if m := bracesName.FindStringSubmatch(lit[1 : len(lit)-1]); m != nil && len(m[0]) == len(lit)-2 {
					params = append(params, sqlToken{Start: start, End: i, Name: m[1], Form: FormBraces})
				}
			}
		case c == '"':
			i++
			for i < n {
				if s[i] == '"' {
					if i+1 < n && s[i+1] == '"' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
		case c == '{' && i+1 < n && s[i+1] == '{':
			if m := bracesName.FindStringSubmatch(s[i:]); m != nil {
				params = append(params, sqlToken{Start: i, End: i + len(m[0]), Name: m[1], Form: FormBraces})
				i += len(m[0])
			} else {
				i++
			}
		case c == '$' && (i == 0 || !isIdentChar(s[i-1])):
			j := i + 1
			switch {
			case j < n && s[j] >= '0' && s[j] <= '9':
				for j < n && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				num, _ := strconv.Atoi(s[i+1 : j])
				params = append(params, sqlToken{Start: i, End: j, Name: "$" + s[i+1:j], Form: FormPositional, Positional: num})
				i = j
			case j < n && (s[j] == '$' || isIdentStart(s[j])):
				for j < n && s[j] != '$' && isIdentChar(s[j]) {
					j++
				}
				if j < n && s[j] == '$' {
					// Dollar quote: $tag$ … $tag$.
					tag := s[i : j+1]
					end := strings.Index(s[j+1:], tag)
					if end < 0 {
						i = n
					} else {
						i = j + 1 + end + len(tag)
					}
				} else {
					params = append(params, sqlToken{Start: i, End: j, Name: s[i+1 : j], Form: FormDollar})
					i = j
				}
			default:
				i++
			}
		default:
			if isIdentStart(c) || c >= '0' && c <= '9' {
				for i < n && isIdentChar(s[i]) {
					i++
				}
			} else {
				i++
			}
		}
	}
	return params
}

// PositionalSQL rewrites named placeholders ($license_id, {{name}}) into
// PostgreSQL's positional form and returns the rewritten text with the
// ordered parameter names: names[i] is bound to $(i+1). Existing $1-style
// placeholders keep their numbers and are named "$1", "$2", …; named ones
// are numbered after them in order of first appearance, a name used twice
// getting one number. Values are never put into the text.
func PositionalSQL(sql string) (string, []string, error) {
	return positional(sql, scanPlaceholders(sql), nil)
}

// positional rewrites the tokens and the extra identifier spans (bare
// identifiers bound as parameters) of sql.
func positional(sql string, toks []sqlToken, idents []sqlToken) (string, []string, error) {
	all := make([]sqlToken, 0, len(toks)+len(idents))
	all = append(all, toks...)
	all = append(all, idents...)
	sortTokens(all)
	maxPos := 0
	for _, t := range all {
		if t.Form == FormPositional && t.Positional > maxPos {
			maxPos = t.Positional
		}
	}
	if maxPos > 65535 {
		return "", nil, fmt.Errorf("positional parameter $%d is out of range", maxPos)
	}
	names := make([]string, maxPos)
	for i := range names {
		names[i] = "$" + strconv.Itoa(i+1)
	}
	number := map[string]int{}
	var b strings.Builder
	last := 0
	for _, t := range all {
		if t.Start < last {
			return "", nil, fmt.Errorf("overlapping parameters at offset %d", t.Start)
		}
		b.WriteString(sql[last:t.Start])
		if t.Form == FormPositional {
			b.WriteString(sql[t.Start:t.End])
		} else {
			k, ok := number[t.Name]
			if !ok {
				names = append(names, t.Name)
				k = len(names)
				number[t.Name] = k
			}
			b.WriteString("$" + strconv.Itoa(k))
		}
		last = t.End
	}
	b.WriteString(sql[last:])
	return b.String(), names, nil
}

func sortTokens(ts []sqlToken) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Start < ts[j-1].Start; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// masked returns sql with every placeholder replaced by "$1" padded with
// spaces, so that PostgreSQL's parser accepts it and its byte offsets
// stay those of the original text.
func masked(sql string, toks []sqlToken) string {
	if len(toks) == 0 {
		return sql
	}
	b := []byte(sql)
	for _, t := range toks {
		if t.Form == FormPositional {
			continue
		}
		b[t.Start] = '$'
		b[t.Start+1] = '1'
		for k := t.Start + 2; k < t.End; k++ {
			b[k] = ' '
		}
	}
	return string(b)
}

// sqlStmt is the classification of one statement.
type sqlStmt struct {
	Start, End int
	Risk       Risk
	Reason     string
	// Free are bare identifiers outside any FROM scope: parameters.
	Free []sqlToken
	// Placeholders are identifiers that look like template text.
	Placeholders []string
	Columns      []string
	ParseErr     string
}

// sqlAnalysis is the classification of a SQL block.
type sqlAnalysis struct {
	Lex   sqlLex
	Stmts []sqlStmt
}

func (a *sqlAnalysis) risk() Risk {
	r := Risk("")
	for _, s := range a.Stmts {
		r = maxRisk(r, s.Risk)
	}
	return r
}

// analyzeSQL splits a SQL block into statements and classifies each from
// its own text: the text Bind numbers and the executor sends.
func analyzeSQL(sql string) *sqlAnalysis {
	a := &sqlAnalysis{Lex: lexSQL(sql)}
	m := masked(sql, a.Lex.Params)
	for _, span := range a.Lex.Stmts {
		st := classifyStatement(m[span[0]:span[1]], sql[span[0]:span[1]])
		st.Start, st.End = span[0], span[1]
		for i := range st.Free {
			st.Free[i].Start += span[0]
			st.Free[i].End += span[0]
		}
		a.Stmts = append(a.Stmts, st)
	}
	return a
}

// ClassifySQL reports the risk of a SQL text and why: read only when every
// statement is a SELECT, SHOW or EXPLAIN (without ANALYZE) that calls no
// function with side effects, locks no rows and creates nothing. Text that
// does not parse is write.
//
// It goes the way a step's text goes in production, through StepFromText
// and so through Parse: a test of ClassifySQL is a test of what decides
// whether a step runs unattended.
func ClassifySQL(sql string) (Risk, string) {
	if strings.TrimSpace(sql) == "" {
		return RiskRead, "no statements"
	}
	st, err := StepFromText("sql", sql)
	if err != nil {
		if strings.Contains(err.Error(), "only comments") {
			return RiskRead, "no statements"
		}
		return RiskWrite, err.Error()
	}
	// The step's own risk is the verdict; the reason is its first command
	// of that risk.
	for _, c := range st.Commands {
		if c.Risk == st.Risk {
			return st.Risk, c.Reason
		}
	}
	return st.Risk, "no statements"
}

// classifyStatement parses one statement (m, masked; orig, as written) with
// PostgreSQL's parser and walks the tree.
func classifyStatement(m, orig string) sqlStmt {
	st := sqlStmt{}
	if strings.IndexByte(m, 0) >= 0 {
		// The parser reads a C string: it would judge only the text
		// before the NUL.
		st.Risk, st.ParseErr = RiskWrite, "the text contains a NUL byte"
		st.Reason = "does not parse as PostgreSQL: " + st.ParseErr
		return st
	}
	tree, err := pg.Parse(m)
	if err != nil {
		st.Risk = RiskWrite
		st.ParseErr = err.Error()
		st.Reason = "does not parse as PostgreSQL: " + err.Error()
		return st
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt == nil {
		st.Risk = RiskWrite
		st.Reason = "not a single statement"
		return st
	}
	w := &sqlWalker{src: orig, aliases: map[string]bool{}}
	node := tree.Stmts[0].Stmt
	switch n := node.Node.(type) {
	case *pg.Node_SelectStmt:
		st.Risk, st.Reason = RiskRead, "SELECT reads data"
		w.walk(n.SelectStmt, false)
		// A UNION is named by its first branch.
		sel := n.SelectStmt
		for sel.Larg != nil && len(sel.TargetList) == 0 {
			sel = sel.Larg
		}
		st.Columns = targetColumns(sel.TargetList)
	case *pg.Node_VariableShowStmt:
		st.Risk, st.Reason = RiskRead, "SHOW reads a setting"
		st.Columns = []string{strings.ToLower(n.VariableShowStmt.Name)}
	case *pg.Node_ExplainStmt:
		if explainAnalyze(n.ExplainStmt.Options) {
			st.Risk, st.Reason = RiskWrite, "EXPLAIN ANALYZE executes the statement"
		} else {
			st.Risk, st.Reason = RiskRead, "EXPLAIN without ANALYZE only plans the statement"
			w.ignoreRisk = true
		}
		w.walk(n.ExplainStmt, false)
		st.Columns = []string{"QUERY PLAN"}
	default:
		st.Risk = RiskWrite
		st.Reason = stmtName(node) + " is not a read-only statement"
		w.walk(nodeMessage(node), false)
		switch n := node.Node.(type) {
		case *pg.Node_InsertStmt:
			st.Columns = targetColumns(n.InsertStmt.ReturningList)
		case *pg.Node_UpdateStmt:
			st.Columns = targetColumns(n.UpdateStmt.ReturningList)
		case *pg.Node_DeleteStmt:
			st.Columns = targetColumns(n.DeleteStmt.ReturningList)
		}
	}
	if w.write != "" && st.Risk == RiskRead {
		st.Risk, st.Reason = RiskWrite, w.write
	}
	for _, f := range w.free {
		if !w.aliases[f.Name] {
			st.Free = append(st.Free, f)
		}
	}
	sortTokens(st.Free)
	st.Placeholders = w.placeholders
	return st
}

// nodeMessage unwraps a Node's oneof into the statement it holds.
func nodeMessage(n *pg.Node) proto.Message {
	m := n.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("node")
	if od == nil {
		return n
	}
	fd := m.WhichOneof(od)
	if fd == nil || fd.Message() == nil {
		return n
	}
	return m.Get(fd).Message().Interface()
}

var stmtNames = map[string]string{
	"InsertStmt":         "INSERT",
	"UpdateStmt":         "UPDATE",
	"DeleteStmt":         "DELETE",
	"MergeStmt":          "MERGE",
	"CreateStmt":         "CREATE TABLE",
	"CreateTableAsStmt":  "CREATE TABLE AS",
	"DropStmt":           "DROP",
	"TruncateStmt":       "TRUNCATE",
	"VariableSetStmt":    "SET",
	"TransactionStmt":    "A transaction statement",
	"CopyStmt":           "COPY",
	"VacuumStmt":         "VACUUM/ANALYZE",
	"CallStmt":           "CALL",
	"DoStmt":             "DO",
	"IndexStmt":          "CREATE INDEX",
	"AlterTableStmt":     "ALTER TABLE",
	"LockStmt":           "LOCK",
	"GrantStmt":          "GRANT",
	"ReindexStmt":        "REINDEX",
	"ClusterStmt":        "CLUSTER",
	"RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
	"NotifyStmt":         "NOTIFY",
	"ExecuteStmt":        "EXECUTE",
	"PrepareStmt":        "PREPARE",
}

func stmtName(n *pg.Node) string {
	name := string(nodeMessage(n).ProtoReflect().Descriptor().Name())
	if s, ok := stmtNames[name]; ok {
		return s
	}
	return strings.TrimSuffix(name, "Stmt")
}

// explainAnalyze reports whether EXPLAIN's options turn ANALYZE on.
func explainAnalyze(opts []*pg.Node) bool {
	on := false
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || (d.Defname != "analyze" && d.Defname != "analyse") {
			continue
		}
		on = true
		if d.Arg == nil {
			continue
		}
		switch a := d.Arg.Node.(type) {
		case *pg.Node_String_:
			switch strings.ToLower(a.String_.Sval) {
			case "false", "off", "0", "no":
				on = false
			}
		case *pg.Node_Boolean:
			on = a.Boolean.Boolval
		case *pg.Node_Integer:
			on = a.Integer.Ival != 0
		}
	}
	return on
}

func targetColumns(list []*pg.Node) []string {
	var cols []string
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			continue
		}
		if rt.Name != "" {
			cols = append(cols, rt.Name)
			continue
		}
		if c := exprColumnName(rt.Val); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

func exprColumnName(n *pg.Node) string {
	if n == nil {
		return ""
	}
	switch v := n.Node.(type) {
	case *pg.Node_ColumnRef:
		f := v.ColumnRef.Fields
		if len(f) > 0 {
			if s := f[len(f)-1].GetString_(); s != nil {
				return s.Sval
			}
		}
	case *pg.Node_FuncCall:
		f := v.FuncCall.Funcname
		if len(f) > 0 {
			if s := f[len(f)-1].GetString_(); s != nil {
				return s.Sval
			}
		}
	case *pg.Node_TypeCast:
		return exprColumnName(v.TypeCast.Arg)
	}
	return ""
}

// sqlWalker walks a parse tree for side effects, free identifiers and
// template placeholders.
type sqlWalker struct {
	src          string
	write        string // first reason the statement writes, if any
	ignoreRisk   bool   // inside EXPLAIN without ANALYZE nothing executes
	free         []sqlToken
	aliases      map[string]bool
	placeholders []string
}

func (w *sqlWalker) setWrite(reason string) {
	if w.write == "" && !w.ignoreRisk {
		w.write = reason
	}
}

func (w *sqlWalker) walk(msg proto.Message, hasFrom bool) {
	switch n := msg.(type) {
	case *pg.Node:
		// A Node is a oneof of some 250 kinds: go straight to the one set.
		if inner := nodeMessage(n); inner != proto.Message(n) {
			w.walk(inner, hasFrom)
		}
		return
	case *pg.SelectStmt:
		if n.IntoClause != nil {
			w.setWrite("SELECT INTO creates a table")
		}
		if len(n.LockingClause) > 0 {
			w.setWrite("SELECT … FOR UPDATE/SHARE takes row locks")
		}
		hasFrom = hasFrom || len(n.FromClause) > 0
		for _, t := range n.TargetList {
			if rt := t.GetResTarget(); rt != nil && rt.Name != "" {
				w.aliases[rt.Name] = true
			}
		}
	case *pg.InsertStmt:
		w.setWrite("INSERT modifies data")
		w.placeholder(n.Relation)
	case *pg.UpdateStmt:
		w.setWrite("UPDATE modifies data")
		hasFrom = true
	case *pg.DeleteStmt:
		w.setWrite("DELETE modifies data")
		hasFrom = true
	case *pg.MergeStmt:
		w.setWrite("MERGE modifies data")
		hasFrom = true
	case *pg.FuncCall:
		if r := funcRisk(n.Funcname); r != "" {
			w.setWrite(r)
		}
	case *pg.RangeVar:
		w.placeholder(n)
	case *pg.ColumnRef:
		if len(n.Fields) == 1 {
			if s := n.Fields[0].GetString_(); s != nil {
				if isPlaceholderWord(s.Sval) {
					w.placeholders = appendUnique(w.placeholders, s.Sval)
				}
				if !hasFrom {
					w.free = append(w.free, sqlToken{
						Start: int(n.Location),
						End:   int(n.Location) + identLen(w.src, int(n.Location)),
						Name:  s.Sval,
						Form:  FormIdentifier,
					})
				}
			}
		}
		return
	}
	// Fields are visited in declaration order (Range's order is not
	// defined), so that reasons and parameters come out the same each time.
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message() == nil || fd.IsMap() || !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for j := 0; j < l.Len(); j++ {
				w.walk(l.Get(j).Message().Interface(), hasFrom)
			}
			continue
		}
		w.walk(v.Message().Interface(), hasFrom)
	}
}

func (w *sqlWalker) placeholder(rv *pg.RangeVar) {
	if rv != nil && isPlaceholderWord(rv.Relname) {
		w.placeholders = appendUnique(w.placeholders, rv.Relname)
	}
}

// identLen is the length of the identifier at off in src, quoted or not.
func identLen(src string, off int) int {
	if off < 0 || off >= len(src) {
		return 0
	}
	if src[off] == '"' {
		for i := off + 1; i < len(src); i++ {
			if src[i] == '"' {
				if i+1 < len(src) && src[i+1] == '"' {
					i++
					continue
				}
				return i + 1 - off
			}
		}
		return len(src) - off
	}
	i := off
	for i < len(src) && isIdentChar(src[i]) && src[i] != '$' {
		i++
	}
	return i - off
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Placeholder vocabulary: an identifier made only of these words, at least
// one of them a "key" word, reads as template text ("slow_table",
// "condition", "your_column") rather than a real name.
var (
	placeholderWords = map[string]bool{
		"slow": true, "table": true, "condition": true, "column": true, "col": true,
		"value": true, "your": true, "my": true, "some": true, "example": true,
		"foo": true, "bar": true, "baz": true, "xxx": true, "placeholder": true,
		"name": true, "tbl": true, "field": true, "expr": true, "expression": true,
		"the": true, "target": true, "big": true, "large": true, "problem": true,
		"problematic": true, "todo": true, "replace": true, "me": true, "this": true,
	}
	placeholderKeys = map[string]bool{
		"table": true, "condition": true, "column": true, "col": true, "placeholder": true,
		"tbl": true, "field": true, "expr": true, "expression": true, "foo": true,
		"bar": true, "baz": true, "xxx": true, "todo": true,
	}
)

func isPlaceholderWord(id string) bool {
	words := strings.Split(strings.ToLower(id), "_")
	key := false
	for _, w := range words {
		if !placeholderWords[w] {
			return false
		}
		key = key || placeholderKeys[w]
	}
	return key
}

// Functions with side effects outside the transaction, or whose effect is
// the point (cancelling a backend). A READ ONLY transaction does not stop
// them, so they make a statement write.
var sideEffectFuncs = map[string]bool{
	"pg_cancel_backend": true, "pg_terminate_backend": true, "pg_reload_conf": true,
	"set_config": true, "nextval": true, "setval": true, "pg_rotate_logfile": true,
	"pg_switch_wal": true, "pg_create_restore_point": true, "pg_promote": true,
	"pg_wal_replay_pause": true, "pg_wal_replay_resume": true, "pg_notify": true,
	"pg_create_physical_replication_slot": true, "pg_create_logical_replication_slot": true,
	"pg_drop_replication_slot": true, "pg_replication_slot_advance": true,
	"pg_copy_physical_replication_slot": true, "pg_copy_logical_replication_slot": true,
	"pg_logical_slot_get_changes": true, "pg_logical_slot_get_binary_changes": true,
	"pg_logical_emit_message": true, "pg_stat_statements_reset": true,
	"pg_log_backend_memory_contexts": true, "pg_file_write": true, "pg_file_unlink": true,
	"pg_file_rename": true, "lo_import": true, "lo_export": true, "lo_unlink": true,
	"lo_create": true, "lo_creat": true, "lo_put": true, "lo_truncate": true,
	"lo_from_bytea": true, "dblink": true, "dblink_exec": true, "dblink_connect": true,
	"query_to_xml": true, "query_to_xml_and_xmlschema": true, "cursor_to_xml": true,
	"txid_current": true, "pg_current_xact_id": true, "pg_import_system_collations": true,
	"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true,
}

var sideEffectPrefixes = []string{"pg_advisory_", "pg_try_advisory_", "pg_stat_reset", "pg_replication_origin_"}

// Built-in functions known to have no side effects.
var readFuncs = wordSet(`
count sum avg min max array_agg string_agg json_agg jsonb_agg json_object_agg jsonb_object_agg
bool_and bool_or every bit_and bit_or stddev stddev_pop stddev_samp variance var_pop var_samp
percentile_cont percentile_disc mode rank dense_rank row_number percent_rank cume_dist ntile
lag lead first_value last_value nth_value corr covar_pop covar_samp
now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part
extract age to_timestamp to_char to_date to_number make_interval make_date make_time
make_timestamp make_timestamptz justify_interval justify_days justify_hours date_bin timezone
isfinite abs ceil ceiling floor round trunc sqrt cbrt power pow exp ln log log10 mod sign pi
width_bucket div degrees radians random greatest least length char_length character_length
octet_length bit_length lower upper initcap substr substring position strpos replace split_part
concat concat_ws left right lpad rpad ltrim rtrim btrim trim md5 sha224 sha256 sha384 sha512
encode decode format regexp_replace regexp_match regexp_matches regexp_split_to_array
regexp_split_to_table regexp_like regexp_count regexp_substr regexp_instr repeat reverse
starts_with translate quote_ident quote_literal quote_nullable to_hex ascii chr overlay
string_to_array array_to_string array_length array_upper array_lower array_ndims array_dims
cardinality unnest array_position array_positions array_remove array_append array_prepend
array_cat array_replace generate_series generate_subscripts
json_build_object jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb
json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text
json_each jsonb_each json_each_text jsonb_each_text json_typeof jsonb_typeof
json_array_length jsonb_array_length json_extract_path jsonb_extract_path
json_extract_path_text jsonb_extract_path_text row_to_json jsonb_pretty json_object_keys
jsonb_object_keys jsonb_set jsonb_insert jsonb_strip_nulls jsonb_path_query jsonb_path_exists
pg_size_pretty pg_size_bytes pg_relation_size pg_total_relation_size pg_table_size
pg_indexes_size pg_database_size pg_tablespace_size pg_column_size pg_backend_pid
pg_blocking_pids pg_safe_snapshot_blocking_pids pg_is_in_recovery
pg_last_xact_replay_timestamp pg_current_wal_lsn pg_current_wal_insert_lsn
pg_current_wal_flush_lsn pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_wal_lsn_diff
pg_walfile_name pg_postmaster_start_time pg_conf_load_time version current_setting current_query
current_database current_schema current_schemas pg_typeof pg_relation_filenode
pg_relation_filepath pg_get_viewdef pg_get_indexdef pg_get_constraintdef pg_get_functiondef
pg_get_triggerdef pg_get_userbyid pg_get_expr pg_get_serial_sequence has_table_privilege
has_column_privilege has_database_privilege has_schema_privilege has_function_privilege
has_sequence_privilege pg_has_role obj_description col_description shobj_description
format_type pg_table_is_visible pg_is_other_temp_schema to_regclass to_regproc to_regtype
pg_sleep pg_current_snapshot pg_snapshot_xmin pg_snapshot_xmax txid_current_snapshot
txid_snapshot_xmin txid_snapshot_xmax age mxid_age pg_xact_commit_timestamp
inet_client_addr inet_client_port inet_server_addr inet_server_port host hostmask netmask
network masklen family abbrev broadcast text
pg_stat_get_activity pg_stat_get_backend_pid pg_stat_get_db_numbackends
pg_control_checkpoint pg_control_system pg_partition_tree pg_partition_root
pg_visible_in_snapshot currval lastval bool int2 int4 int8 float4 float8 numeric
nullif coalesce
`)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// funcRisk returns why a call makes a statement write, or "" when the
// function is a known read-only built-in.
func funcRisk(name []*pg.Node) string {
	var parts []string
	for _, n := range name {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	if len(parts) == 0 {
		return "calls a function it cannot name"
	}
	fn := strings.ToLower(parts[len(parts)-1])
	schema := ""
	if len(parts) > 1 {
		schema = strings.ToLower(parts[len(parts)-2])
	}
	full := strings.Join(parts, ".")
	if sideEffectFuncs[fn] {
		return "calls " + full + ", which has side effects"
	}
	for _, p := range sideEffectPrefixes {
		if strings.HasPrefix(fn, p) {
			return "calls " + full + ", which has side effects"
		}
	}
	if schema != "" && schema != "pg_catalog" {
		return "calls " + full + ", whose side effects are unknown"
	}
	if readFuncs[fn] || strings.HasPrefix(fn, "pg_stat_get_") {
		return ""
	}
	return "calls " + full + ", whose side effects are unknown"
}
