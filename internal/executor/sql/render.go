package sql

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/firebreak-dev/firebreak/internal/redact"
)

// nativeOIDs are the types decoded from PostgreSQL's binary format and
// rendered as typed JSON values. Every other type is requested in text
// format and returned as PostgreSQL's own text (time, money, enums, ranges,
// geometric types, records…), exactly as psql would print it.
var nativeOIDs = map[uint32]bool{
	pgtype.BoolOID: true, pgtype.Int2OID: true, pgtype.Int4OID: true, pgtype.Int8OID: true,
	pgtype.OIDOID: true, pgtype.Float4OID: true, pgtype.Float8OID: true, pgtype.NumericOID: true,
	pgtype.TextOID: true, pgtype.VarcharOID: true, pgtype.BPCharOID: true, pgtype.NameOID: true,
	pgtype.TimestamptzOID: true, pgtype.TimestampOID: true, pgtype.DateOID: true,
	pgtype.IntervalOID: true, pgtype.UUIDOID: true, pgtype.ByteaOID: true,
	pgtype.JSONOID: true, pgtype.JSONBOID: true, pgtype.InetOID: true, pgtype.CIDROID: true,

	pgtype.BoolArrayOID: true, pgtype.Int2ArrayOID: true, pgtype.Int4ArrayOID: true,
	pgtype.Int8ArrayOID: true, pgtype.OIDArrayOID: true, pgtype.Float4ArrayOID: true,
	pgtype.Float8ArrayOID: true, pgtype.NumericArrayOID: true, pgtype.TextArrayOID: true,
	pgtype.VarcharArrayOID: true, pgtype.BPCharArrayOID: true, pgtype.NameArrayOID: true,
	pgtype.TimestamptzArrayOID: true, pgtype.TimestampArrayOID: true, pgtype.DateArrayOID: true,
	pgtype.IntervalArrayOID: true, pgtype.UUIDArrayOID: true, pgtype.ByteaArrayOID: true,
	pgtype.JSONArrayOID: true, pgtype.JSONBArrayOID: true, pgtype.InetArrayOID: true,
	pgtype.CIDRArrayOID: true,
}

// resultFormat picks the wire format of a result column.
func resultFormat(m *pgtype.Map, oid uint32) int16 {
	if nativeOIDs[oid] {
		return m.FormatCodeForOID(oid)
	}
	return pgtype.TextFormatCode
}

// decoder turns wire values into JSON-friendly Go values:
//
//	NULL                      nil
//	bool                      bool
//	int2/int4/int8 / oid      int64 / uint32
//	float4/float8             float64, or "NaN", "Infinity", "-Infinity"
//	numeric                   json.Number (exact digits), or "NaN"/"Infinity"/"-Infinity"
//	text/varchar/char/name    string
//	timestamptz               RFC 3339 in UTC: "2024-05-01T10:00:00.123456Z"
//	timestamp                 ISO 8601 without zone: "2024-05-01T10:00:00.123456"
//	date                      "2024-05-01"; ±infinity as "infinity"/"-infinity"
//	interval                  PostgreSQL's style: "00:01:05", "1 day 02:00:00", "1 year 2 mons"
//	uuid                      "0f8fad5b-d9cb-469f-a165-70867728950e"
//	bytea                     "\\xdeadbeef" (PostgreSQL's hex format)
//	json/jsonb                decoded JSON (numbers as json.Number)
//	inet/cidr                 "10.0.0.1", "10.0.0.0/24"
//	arrays of the above       JSON arrays, nested for several dimensions
//	anything else             PostgreSQL's text output, as a string
//
// Strings are redacted.
type decoder struct {
	m   *pgtype.Map
	red *redact.Redactor
}

func (d *decoder) decode(oid uint32, format int16, raw []byte) any {
	if raw == nil {
		return nil
	}
	if format == pgtype.TextFormatCode && !nativeOIDs[oid] {
		return d.red.String(string(raw))
	}
	v, err := d.value(oid, format, raw)
	if err != nil {
		// Should not happen for the native types; show something useful
		// rather than failing the whole step.
		if format == pgtype.TextFormatCode {
			return d.red.String(string(raw))
		}
		return "\\x" + hex.EncodeToString(raw)
	}
	return v
}

func (d *decoder) value(oid uint32, format int16, raw []byte) (any, error) {
	switch oid {
	case pgtype.JSONOID, pgtype.JSONBOID:
		if oid == pgtype.JSONBOID && format == pgtype.BinaryFormatCode {
			if len(raw) == 0 || raw[0] != 1 {
				return nil, fmt.Errorf("unknown jsonb version")
			}
			raw = raw[1:]
		}
		return d.json(raw)
	}
	typ, ok := d.m.TypeForOID(oid)
	if !ok {
		return nil, fmt.Errorf("unknown type %d", oid)
	}
	if ac, ok := typ.Codec.(*pgtype.ArrayCodec); ok {
		var arr pgtype.Array[any]
		plan := d.m.PlanScan(oid, format, &arr)
		if err := plan.Scan(raw, &arr); err != nil {
			return nil, err
		}
		elem := ac.ElementType.OID
		for i, e := range arr.Elements {
			arr.Elements[i] = d.render(elem, e)
		}
		return nest(arr.Elements, arr.Dims), nil
	}
	v, err := typ.Codec.DecodeValue(d.m, oid, format, raw)
	if err != nil {
		return nil, err
	}
	return d.render(oid, v), nil
}

// json decodes redacted JSON text. Masking a bare value ("pin": 1234)
// can leave invalid JSON; then the redacted text is returned as a string.
func (d *decoder) json(raw []byte) (any, error) {
	red := d.red.Bytes(raw)
	dec := json.NewDecoder(bytes.NewReader(red))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(red), nil
	}
	return v, nil
}

// nest shapes a flat element list into dims.
func nest(elems []any, dims []pgtype.ArrayDimension) []any {
	if len(dims) <= 1 {
		if elems == nil {
			return []any{}
		}
		return elems
	}
	n := int(dims[0].Length)
	per := len(elems) / max(n, 1)
	out := make([]any, 0, n)
	for i := range n {
		out = append(out, nest(elems[i*per:(i+1)*per], dims[1:]))
	}
	return out
}

func (d *decoder) render(oid uint32, v any) any {
	switch x := v.(type) {
	case nil, bool, int64, uint32:
		return x
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case string:
		return d.red.String(x)
	case float32:
		if s, ok := nonFinite(float64(x)); ok {
			return s
		}
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		if s, ok := nonFinite(x); ok {
			return s
		}
		return x
	case pgtype.Numeric:
		switch {
		case !x.Valid:
			return nil
		case x.NaN:
			return "NaN"
		case x.InfinityModifier == pgtype.Infinity:
			return "Infinity"
		case x.InfinityModifier == pgtype.NegativeInfinity:
			return "-Infinity"
		}
		b, err := x.MarshalJSON()
		if err != nil {
			return nil
		}
		return json.Number(b)
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return x.Format(time.DateOnly)
		case pgtype.TimestampOID:
			return x.Format("2006-01-02T15:04:05.999999")
		default:
			return x.UTC().Format(time.RFC3339Nano)
		}
	case pgtype.InfinityModifier:
		return x.String()
	case pgtype.Interval:
		if !x.Valid {
			return nil
		}
		return formatInterval(x)
	case [16]byte:
		h := hex.EncodeToString(x[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	case []byte:
		return "\\x" + hex.EncodeToString(x)
	case netip.Prefix:
		if oid != pgtype.CIDROID && x.Bits() == x.Addr().BitLen() {
			return x.Addr().String()
		}
		return x.String()
	case map[string]any, []any:
		return x // from json/jsonb elements
	default:
		return d.red.String(fmt.Sprint(x))
	}
}

func nonFinite(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return "NaN", true
	case math.IsInf(f, 1):
		return "Infinity", true
	case math.IsInf(f, -1):
		return "-Infinity", true
	}
	return "", false
}

// formatInterval writes an interval the way PostgreSQL does with its
// default IntervalStyle "postgres": "1 year 2 mons 3 days 04:05:06.5".
func formatInterval(iv pgtype.Interval) string {
	var parts []string
	sawNegative := false
	unit := func(n int64, one, many string) {
		if n == 0 {
			return
		}
		sign := ""
		if sawNegative && n > 0 {
			sign = "+"
		}
		if n < 0 {
			sawNegative = true
		}
		name := many
		if n == 1 {
			name = one
		}
		parts = append(parts, fmt.Sprintf("%s%d %s", sign, n, name))
	}
	unit(int64(iv.Months/12), "year", "years")
	unit(int64(iv.Months%12), "mon", "mons")
	unit(int64(iv.Days), "day", "days")
	us := iv.Microseconds
	if us != 0 || len(parts) == 0 {
		sign := ""
		if us < 0 {
			sign = "-"
			us = -us
		} else if sawNegative {
			sign = "+"
		}
		h := us / 3_600_000_000
		mnt := us / 60_000_000 % 60
		sec := us / 1_000_000 % 60
		frac := us % 1_000_000
		t := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, mnt, sec)
		if frac != 0 {
			t += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}
