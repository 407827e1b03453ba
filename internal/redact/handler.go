package redact

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Handler returns an slog.Handler that redacts each record's message and
// attribute values before passing it to next.
//
// Attributes whose key names a credential (ends in password, passwd, secret,
// token, apikey, api_key, authorization, credentials or private_key, in any
// case) are masked whole whatever their value. String values, errors, byte
// slices and fmt.Stringers are redacted as text. Any other value is
// formatted with %+v; if redaction changes that text, the attribute is
// replaced by the redacted text, otherwise it is passed on untouched so
// handlers keep its type.
func (r *Redactor) Handler(next slog.Handler) slog.Handler {
	if r == nil {
		r = Default()
	}
	return &handler{next: next, r: r}
}

type handler struct {
	next slog.Handler
	r    *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.r.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.r.attr(a)
	}
	return &handler{next: h.next.WithAttrs(red), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), r: h.r}
}

var sensitiveKeySuffixes = []string{
	"password", "passwd", "secret", "token", "apikey", "api_key",
	"authorization", "credentials", "private_key",
}

func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range sensitiveKeySuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

func (r *Redactor) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = r.attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	}
	if sensitiveKey(a.Key) {
		if v.Kind() == slog.KindString && v.String() == "" {
			return slog.Attr{Key: a.Key, Value: v}
		}
		return slog.String(a.Key, Mask)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.String(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return slog.Attr{Key: a.Key, Value: v}
		case error:
			return slog.String(a.Key, r.String(x.Error()))
		case []byte:
			return slog.String(a.Key, r.String(string(x)))
		case fmt.Stringer:
			return slog.String(a.Key, r.String(x.String()))
		default:
			s := fmt.Sprintf("%+v", x)
			if red := r.String(s); red != s {
				return slog.String(a.Key, red)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
