package kube

import (
	"bytes"
	"unicode/utf8"
)

// cappedBuffer keeps the first max bytes written to it and notes that more
// was dropped. It cuts after the last whole line that fits, or, when not
// even one line fits, at a rune boundary, so the kept text never ends in
// half a line or half a character.
type cappedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func newCappedBuffer(max int) *cappedBuffer { return &cappedBuffer{max: max} }

// Write never fails, so it can sit under a tabwriter or fmt.Fprintf.
func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.truncated {
		return len(p), nil
	}
	room := b.max - b.buf.Len()
	if len(p) <= room {
		b.buf.Write(p)
		return len(p), nil
	}
	b.truncated = true
	b.buf.Write(p[:room])
	kept := b.buf.Bytes()
	if i := bytes.LastIndexByte(kept, '\n'); i >= 0 {
		b.buf.Truncate(i + 1)
	} else {
		b.buf.Truncate(len(dropPartialRune(kept)))
	}
	return len(p), nil
}

// Full reports that nothing more will be kept.
func (b *cappedBuffer) Full() bool { return b.truncated }

func (b *cappedBuffer) Truncated() bool { return b.truncated }

func (b *cappedBuffer) String() string { return b.buf.String() }

// dropPartialRune removes a multi-byte character cut off at the end of b.
func dropPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}
