package sql

import "strings"

// splitStatements cuts a block into its statements at top-level semicolons.
// It knows PostgreSQL's lexical forms that can hide a semicolon: string
// constants ('…' with doubled quotes, E'…' with backslash escapes), quoted
// identifiers ("…"), dollar quotes ($$…$$, $tag$…$tag$), line comments
// (-- …) and nested block comments (/* … */). Statements that hold only
// whitespace and comments are dropped; the rest keep their comments.
//
// It assumes standard_conforming_strings=on (the default since 9.1) and
// does not know SQL-standard function bodies (BEGIN ATOMIC … END), whose
// inner semicolons it would cut at. A wrong cut fails safely: the server
// rejects the fragments as syntax errors.
func splitStatements(sql string) []string {
	var out []string
	start := 0
	hasCode := false
	emit := func(end int) {
		if hasCode {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
		start = end + 1
		hasCode = false
	}
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == '-' && i+1 < n && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = n
			} else {
				i += j + 1
			}
			continue
		case c == '/' && i+1 < n && sql[i+1] == '*':
			i = skipBlockComment(sql, i)
			continue
		case c == ';':
			emit(i)
			i++
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		}
		hasCode = true
		switch {
		case c == '\'':
			backslash := i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !isIdentChar(sql[i-2]))
			i = skipQuoted(sql, i, '\'', backslash)
		case c == '"':
			i = skipQuoted(sql, i, '"', false)
		case c == '$' && (i == 0 || !isIdentChar(sql[i-1])):
			if tag, ok := dollarTag(sql, i); ok {
				j := strings.Index(sql[i+len(tag):], tag)
				if j < 0 {
					i = n
				} else {
					i += len(tag) + j + len(tag)
				}
			} else {
				i++
			}
		default:
			i++
		}
	}
	emit(n)
	return out
}

// skipQuoted returns the index just past the constant or identifier that
// opens at i with quote q. A doubled quote stands for itself; with
// backslash, \x escapes x.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func skipBlockComment(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(s)
}

// dollarTag returns the opening delimiter ($$ or $tag$) at i. $1 is a
// parameter, not a tag: a tag cannot start with a digit.
func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && s[j] != '$' {
		c := s[j]
		if !(c == '_' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > i+1 && '0' <= c && c <= '9') {
			return "", false
		}
		j++
	}
	if j >= len(s) {
		return "", false
	}
	return s[i : j+1], true
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
