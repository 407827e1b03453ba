package ingest

import "github.com/firebreak-dev/firebreak/internal/ingest/internal/wire"

// FieldError says which field of a request body is wrong and why; its
// Error() is "<field>: <reason>", e.g.
// "alerts[3].labels: must be an object of strings, got array". Field is a
// path with array indexes; "body" names the body as a whole (empty, not
// JSON, not an object).
//
// Every decoder under ingest returns a *FieldError for bad input (the
// PagerDuty decoder wraps a list of them), so errors.As(err, new(*FieldError))
// tells the handler to answer 4xx.
type FieldError = wire.FieldError
