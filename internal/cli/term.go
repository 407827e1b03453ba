package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Alert names, labels, summaries and step output come from outside, and a
// terminal obeys control sequences in what it prints: OSC 52 writes the
// clipboard, others retitle the window, hide text or fake a prompt. So
// every human-readable line the CLI prints passes through escape, which
// shows each such character as its Go escape instead:
//
//   - C0 controls and DEL as \x1b, \x07, \x7f (newline and tab are kept in
//     multi-line text such as step output; a table cell escapes them too);
//   - C1 controls U+0080–U+009F, which some terminals obey like ESC [, as
//     \u009b;
//   - bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069),
//     which reorder what is shown, as \u202e;
//   - bytes that are not UTF-8, which a terminal in a legacy 8-bit mode may
//     read as C1 controls, as \x9b.
//
// A backslash is printed as it is, so a literal `\x1b` in the data looks
// like an escaped ESC; neither reaches the terminal as a control. --json
// output is JSON: encoding/json escapes C0 controls, and jsonOut escapes
// DEL, C1 controls and the bidirectional overrides as \u sequences.

// escape returns s with every control character escaped; multiline keeps
// newlines and tabs. It returns s itself when there is nothing to escape.
func escape(s string, multiline bool) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size, multiline) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !needsEscape(r, size, multiline):
			b.WriteString(s[i : i+size])
		case r == utf8.RuneError || r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune, size int, multiline bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !multiline
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == utf8.RuneError:
		return size == 1
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// cell is escape for one line of a table or a detail row.
func cell(s string) string { return escape(s, false) }

// termWriter escapes everything written to it, line by line, before it
// reaches the terminal: the CLI's human output goes through one, so that
// nothing a printer forgets to escape can reach the terminal raw. Lines are
// cut at '\n', so a UTF-8 sequence is never split.
type termWriter struct {
	w       io.Writer
	pending []byte
}

func (t *termWriter) Write(p []byte) (int, error) {
	t.pending = append(t.pending, p...)
	if i := bytes.LastIndexByte(t.pending, '\n'); i >= 0 {
		err := t.emit(t.pending[:i+1])
		t.pending = append(t.pending[:0], t.pending[i+1:]...)
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is left after the last newline.
func (t *termWriter) Flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	err := t.emit(t.pending)
	t.pending = t.pending[:0]
	return err
}

func (t *termWriter) emit(b []byte) error {
	_, err := io.WriteString(t.w, escape(string(b), true))
	return err
}

// jsonSafe escapes, in encoded JSON, the characters encoding/json leaves
// raw that a terminal may obey: DEL, C1 controls and bidirectional
// overrides. They can only occur inside strings, where \uXXXX means the
// same character, so the document's meaning is unchanged. (encoding/json
// escapes C0 controls itself and writes U+FFFD for invalid UTF-8.)
func jsonSafe(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7f && needsEscape(r, size, true) {
			if out == nil {
				out = make([]byte, 0, len(b)+16)
			}
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + size
		}
		i += size
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}
