// Package wire walks a decoded JSON document field by field, so that every
// intake decoder reports errors with the exact path of the offending field
// (alerts[3].labels.severity) and matches field names exactly, where
// encoding/json alone would match them case-insensitively and lose array
// indexes from its error paths.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError says which field of a request body is wrong and why. Field is a
// path such as alerts[3].labels; "body" names the request body as a whole.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Errorf returns a *FieldError for field.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Kind is the JSON type of a value.
type Kind int

const (
	Absent Kind = iota
	Null
	String
	Number
	Bool
	Object
	Array
)

func (k Kind) String() string {
	switch k {
	case Absent:
		return "nothing"
	case Null:
		return "null"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "boolean"
	case Object:
		return "object"
	case Array:
		return "array"
	}
	return "unknown"
}

// Value is one JSON value and where it sits in the document. Raw is nil when
// the field is absent.
type Value struct {
	Path string
	Raw  json.RawMessage
}

// Obj is a JSON object whose members have not been decoded yet.
type Obj struct {
	Path   string
	fields map[string]json.RawMessage
}

// ParseBody decodes a request body that must be a JSON object. A leading
// UTF-8 byte order mark, which some Windows tools write, is skipped.
func ParseBody(body []byte) (Obj, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(body)) == 0 {
		return Obj{}, &FieldError{Field: "body", Reason: "is empty; expected a JSON object"}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Obj{}, bodyError(body, err)
	}
	if fields == nil { // the body was the literal null
		return Obj{}, &FieldError{Field: "body", Reason: "must be a JSON object, got null"}
	}
	return Obj{fields: fields}, nil
}

func bodyError(body []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		// Offset counts the bytes read, the bad one included; report the
		// bad byte's own 0-based offset, which is what an editor shows.
		off := syn.Offset
		if strings.HasPrefix(syn.Error(), "invalid character") && off > 0 {
			off--
		}
		return Errorf("body", "invalid JSON at offset %d: %s", off, syn.Error())
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return Errorf("body", "must be a JSON object, got %s", kindOf(bytes.TrimSpace(body)))
	}
	return Errorf("body", "invalid JSON: %s", err.Error())
}

// kindOf reads the kind of a syntactically valid JSON value from its first byte.
func kindOf(raw []byte) Kind {
	if len(raw) == 0 {
		return Absent
	}
	switch raw[0] {
	case 'n':
		return Null
	case '"':
		return String
	case 't', 'f':
		return Bool
	case '{':
		return Object
	case '[':
		return Array
	}
	return Number
}

// Child is the path of member name inside path. Names that are not plain
// identifiers are quoted, so that a label called "a.b" stays one segment.
func Child(path, name string) string {
	if !plainName(name) {
		return path + "[" + strconv.Quote(name) + "]"
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// Index is the path of element i of the array at path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Quote renders a user-supplied string for an error message: quoted, with
// control characters escaped, and cut short so that a 1 MB value does not
// become a 1 MB error.
func Quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// Has reports whether the object has member name with a non-null value.
func (o Obj) Has(name string) bool {
	k := kindOf(o.fields[name])
	return k != Absent && k != Null
}

// Get returns member name; its Raw is nil when absent.
func (o Obj) Get(name string) Value {
	return Value{Path: Child(o.Path, name), Raw: o.fields[name]}
}

// Len is the number of members.
func (o Obj) Len() int { return len(o.fields) }

// Keys returns the member names in sorted order, so that the first error
// reported for a bad object does not depend on map iteration.
func (o Obj) Keys() []string {
	keys := make([]string, 0, len(o.fields))
	for k := range o.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Kind is the value's JSON type.
func (v Value) Kind() Kind { return kindOf(v.Raw) }

// Missing reports whether the value is absent or null. Firebreak treats the
// two alike for optional fields.
func (v Value) Missing() bool {
	k := v.Kind()
	return k == Absent || k == Null
}

func (v Value) typeError(want string) *FieldError {
	return Errorf(v.Path, "must be %s, got %s", want, v.Kind())
}

// String decodes a string. An absent or null value gives "".
func (v Value) String() (string, error) {
	if v.Missing() {
		return "", nil
	}
	if v.Kind() != String {
		return "", v.typeError("a string")
	}
	var s string
	if err := json.Unmarshal(v.Raw, &s); err != nil {
		return "", Errorf(v.Path, "must be a string: %s", err.Error())
	}
	return ScrubNUL(s), nil
}

// ScrubNUL replaces NUL characters with U+FFFD, as JSON decoding already
// does with invalid UTF-8. PostgreSQL's text and jsonb cannot hold NUL: left
// in, it would fail the insert with an error the intake must answer 5xx,
// and Alertmanager would retry the same request forever.
func ScrubNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// scrubNULEscapes rewrites the escape \u0000 inside the strings of a valid
// JSON document to \ufffd, for the reason ScrubNUL gives. A raw NUL cannot
// occur in valid JSON; only the escape can.
func scrubNULEscapes(b []byte) []byte {
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case !in:
			in = b[i] == '"'
		case b[i] == '"':
			in = false
		case b[i] == '\\':
			if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
				copy(b[i+2:i+6], "fffd")
			}
			i++ // skip the escaped character; a \" does not end the string
		}
	}
	return b
}

// Object decodes an object. ok is false when the value is absent or null.
func (v Value) Object() (o Obj, ok bool, err error) {
	if v.Missing() {
		return Obj{Path: v.Path}, false, nil
	}
	if v.Kind() != Object {
		return Obj{Path: v.Path}, false, v.typeError("an object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v.Raw, &fields); err != nil {
		return Obj{Path: v.Path}, false, Errorf(v.Path, "must be an object: %s", err.Error())
	}
	return Obj{Path: v.Path, fields: fields}, true, nil
}

// Array decodes an array into its elements. An absent or null value gives nil.
func (v Value) Array() ([]Value, error) {
	if v.Missing() {
		return nil, nil
	}
	if v.Kind() != Array {
		return nil, v.typeError("an array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(v.Raw, &elems); err != nil {
		return nil, Errorf(v.Path, "must be an array: %s", err.Error())
	}
	out := make([]Value, len(elems))
	for i, e := range elems {
		out[i] = Value{Path: Index(v.Path, i), Raw: e}
	}
	return out, nil
}

// StringMap decodes an object whose members are all strings, as labels and
// annotations are. Names must not be empty. An absent or null value gives
// nil.
func (v Value) StringMap() (map[string]string, error) {
	if v.Missing() {
		return nil, nil
	}
	if v.Kind() != Object {
		return nil, Errorf(v.Path, "must be an object of strings, got %s", v.Kind())
	}
	o, _, err := v.Object()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(o.fields))
	for _, name := range o.Keys() {
		if name == "" {
			return nil, Errorf(v.Path, "has an empty name; names must not be empty")
		}
		s, err := o.Get(name).StrictString()
		if err != nil {
			return nil, err
		}
		m[ScrubNUL(name)] = s
	}
	return m, nil
}

// StrictString decodes a value that must be a string: null is an error too.
func (v Value) StrictString() (string, error) {
	if v.Kind() != String {
		return "", v.typeError("a string")
	}
	return v.String()
}

// Time decodes an RFC 3339 timestamp and returns it in UTC. An absent, null
// or empty value, and Go's zero time "0001-01-01T00:00:00Z" that
// Alertmanager and Grafana send for "unset", give the zero time.
func (v Value) Time() (time.Time, error) {
	s, err := v.String()
	if err != nil {
		return time.Time{}, err
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Errorf(v.Path, "must be an RFC 3339 timestamp such as \"2024-05-01T12:00:00Z\", got %s", Quote(s))
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// Uint decodes a non-negative integer. An absent or null value gives 0.
func (v Value) Uint() (uint64, error) {
	if v.Missing() {
		return 0, nil
	}
	if v.Kind() != Number {
		return 0, v.typeError("a non-negative integer")
	}
	n, err := strconv.ParseUint(string(v.Raw), 10, 64)
	if err != nil {
		return 0, Errorf(v.Path, "must be a non-negative integer, got %s", Quote(string(v.Raw)))
	}
	return n, nil
}

// Int decodes an integer. An absent or null value gives 0.
func (v Value) Int() (int64, error) {
	if v.Missing() {
		return 0, nil
	}
	if v.Kind() != Number {
		return 0, v.typeError("an integer")
	}
	n, err := strconv.ParseInt(string(v.Raw), 10, 64)
	if err != nil {
		return 0, Errorf(v.Path, "must be an integer, got %s", Quote(string(v.Raw)))
	}
	return n, nil
}

// Member is one member of a JSON object built by EncodeObject.
type Member struct {
	Name  string
	Value json.RawMessage
}

// EncodeObject writes the members, in order, as one compact JSON object,
// skipping members with a nil value. It returns nil when none is left. Raw
// values are kept as they came (compacted, not re-escaped).
func EncodeObject(members ...Member) []byte {
	var b bytes.Buffer
	n := 0
	for _, m := range members {
		if m.Value == nil {
			continue
		}
		if n == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		n++
		b.Write(Marshal(m.Name))
		b.WriteByte(':')
		if err := json.Compact(&b, m.Value); err != nil {
			// Values come from a document that already parsed; a value that
			// does not compact is a programming error, kept visible as null.
			b.WriteString("null")
		}
	}
	if n == 0 {
		return nil
	}
	b.WriteByte('}')
	return scrubNULEscapes(b.Bytes())
}

// Compact returns raw, a value from a parsed document, without
// insignificant whitespace and with \u0000 escapes made \ufffd (see
// ScrubNUL).
func Compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil
	}
	return scrubNULEscapes(b.Bytes())
}

// JSONString encodes s as a JSON string value, or nil when s is empty.
func JSONString(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return Marshal(s)
}

// Marshal encodes v without escaping <, > and &: details are data, shown as
// JSON, and "a\u0026b" in a stored URL only confuses the reader. It returns
// nil if v cannot be encoded.
func Marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// SafeURL reports whether s is an absolute http or https URL, the only kind
// Firebreak renders as a link: a javascript: or data: URL in an alert must
// not become a clickable link in the web UI or in chat.
func SafeURL(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
