package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// PostgreSQL's text cannot hold NUL, and jsonb cannot hold \u0000, but
// alerts carry whatever bytes their source sent and the store keeps values
// verbatim. So strings are stored with two bytes escaped: SOH (0x01) becomes
// SOH SOH and NUL becomes SOH '0'. A string with neither byte, which is
// practically every string, is stored as it is, so equality filters and
// ad-hoc SQL see plain text.
//
// Every text column is written as a text value and scanned into one
// (convert: text(s), (*text)(&s)), and JSON documents this package builds
// escape their strings before marshalling (encodeMap, encodeLinks).
// Documents it only carries are stored as json, which accepts \u0000.

const escByte = 0x01

func escapeText(s string) string {
	if !strings.ContainsAny(s, "\x00\x01") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteByte(escByte)
			b.WriteByte('0')
		case escByte:
			b.WriteByte(escByte)
			b.WriteByte(escByte)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeText reverses escapeText. An SOH that escapeText did not write
// (one put there by hand, say) is kept.
func unescapeText(s string) string {
	if strings.IndexByte(s, escByte) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == escByte && i+1 < len(s) {
			switch s[i+1] {
			case '0':
				c = 0
				i++
			case escByte:
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// text is a string as a text column holds it. pgx sends a TextValuer as it
// is and fills a TextScanner, in either format, so these two methods see
// every value.
type text string

func (s text) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: escapeText(string(s)), Valid: true}, nil
}

func (s *text) ScanText(v pgtype.Text) error {
	if !v.Valid {
		return errors.New("cannot scan NULL into a string")
	}
	*s = text(unescapeText(v.String))
	return nil
}

// texts converts a list for a text[] parameter.
func texts[T ~string](v []T) []text {
	out := make([]text, len(v))
	for i, s := range v {
		out[i] = text(s)
	}
	return out
}

// encodeMap returns m as JSON for a jsonb column, or nil for an empty map.
func encodeMap(m map[string]string) []byte {
	for k, v := range m {
		if escapeText(k) != k || escapeText(v) != v {
			esc := make(map[string]string, len(m))
			for k, v := range m {
				esc[escapeText(k)] = escapeText(v)
			}
			return store.EncodeMap(esc)
		}
	}
	return store.EncodeMap(m)
}

// decodeMap parses JSON written by encodeMap.
func decodeMap(b []byte) (map[string]string, error) {
	m, err := store.DecodeMap(b)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		if uk, uv := unescapeText(k), unescapeText(v); uk != k || uv != v {
			out := make(map[string]string, len(m))
			for k, v := range m {
				out[unescapeText(k)] = unescapeText(v)
			}
			return out, nil
		}
	}
	return m, nil
}

func encodeLinks(links []incident.Link) []byte {
	if len(links) == 0 {
		return nil
	}
	esc := make([]incident.Link, len(links))
	for i, l := range links {
		esc[i] = incident.Link{Href: escapeText(l.Href), Text: escapeText(l.Text)}
	}
	return store.EncodeLinks(esc)
}

func decodeLinks(b []byte) ([]incident.Link, error) {
	links, err := store.DecodeLinks(b)
	for i, l := range links {
		links[i] = incident.Link{Href: unescapeText(l.Href), Text: unescapeText(l.Text)}
	}
	return links, err
}
