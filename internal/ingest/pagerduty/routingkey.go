package pagerduty

import (
	"bytes"
	"encoding/json"

	"github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"
)

// MaxBodyBytes is the largest request accepted: PagerDuty's Events API v2
// refuses events over 512 KB, and so does Firebreak.
const MaxBodyBytes = 512 << 10

// RoutingKey returns a request's routing_key without decoding the rest of
// the body, so that a request with a wrong key costs one scan of its bytes
// and no allocation beyond the key: the handler checks the key before it
// calls Decode. Its errors are *InvalidEventError values holding the errors
// Decode reports for the body as a whole or for routing_key.
//
// Like Decode (encoding/json into a map), it takes the last of duplicate
// routing_key members and matches a name written with escapes
// ("routing\u005fkey").
func RoutingKey(orig []byte) (string, error) {
	body := bytes.TrimPrefix(orig, []byte("\xef\xbb\xbf"))
	start := skipSpace(body, 0)
	if !json.Valid(body) || start == len(body) || body[start] != '{' {
		// Not a JSON object: ParseBody names the fault exactly as Decode
		// would. encoding/json validates before it decodes, so an invalid
		// body is refused without being materialised.
		_, err := wire.ParseBody(orig)
		if err == nil {
			err = wire.Errorf("body", "must be a JSON object")
		}
		return "", &InvalidEventError{Fields: []*wire.FieldError{asFieldError(err)}}
	}
	var raw []byte // nil while absent, as wire.Value expects
	// body is a valid JSON object from here on, so the scan needs no
	// error handling: it only finds where each member's name and value end.
	i := start + 1
	for {
		i = skipSpace(body, i)
		if body[i] == '}' {
			break
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		nameEnd := stringEnd(body, i)
		name := body[i:nameEnd]
		i = skipSpace(body, nameEnd) + 1 // the colon
		i = skipSpace(body, i)
		end := valueEnd(body, i)
		if isRoutingKey(name) {
			raw = body[i:end]
		}
		i = end
	}
	d := decoder{}
	key := d.required(wire.Value{Path: wire.Child("", "routing_key"), Raw: raw})
	if len(d.errs) > 0 {
		return "", &InvalidEventError{Fields: d.errs}
	}
	return key, nil
}

func isRoutingKey(quoted []byte) bool {
	if string(quoted) == `"routing_key"` {
		return true
	}
	if bytes.IndexByte(quoted, '\\') < 0 || len(quoted) > 200 {
		return false // no escapes: not the name; longer: escapes cannot make it short enough
	}
	var name string
	return json.Unmarshal(quoted, &name) == nil && name == "routing_key"
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
