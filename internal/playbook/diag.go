package playbook

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DiagSeverity is error or warning.
type DiagSeverity string

const (
	SeverityError   DiagSeverity = "error"
	SeverityWarning DiagSeverity = "warning"
	// SeverityInfo notes something Firebreak ignored or decided on its
	// own, such as a front-matter key that belongs to Hugo.
	SeverityInfo DiagSeverity = "info"
)

// Diagnostic codes, stable for tests and tooling.
const (
	CodeFrontMatter     = "front-matter"     // error: bad front matter
	CodeAnnotation      = "annotation"       // error: bad firebreak comment
	CodeFenceAttrs      = "fence-attrs"      // error: bad fence info attributes
	CodeRiskDowngrade   = "risk-downgrade"   // error: risk:"read" on a write step
	CodeAutoWrite       = "auto-write"       // error: auto:true on a write step
	CodeDuplicateKey    = "duplicate-key"    // error: two tasks or procedures share a key
	CodeAmbiguous       = "ambiguous-match"  // error: two procedures match the same alert
	CodeDuplicateID     = "duplicate-id"     // error: two playbooks share an ID
	CodeUnlabelledParam = "param-no-label"   // warning: no alert label provides a parameter
	CodeNeedsEditing    = "needs-editing"    // warning: template step cannot run as written
	CodeUnmatchable     = "unmatchable"      // warning: procedure no alert name can match
	CodeEmptySection    = "empty-section"    // warning: section without tasks
	CodeNotExecutable   = "not-executable"   // warning: block with no or unknown language
	CodeStray           = "stray-annotation" // warning: annotation outside a procedure
	CodeNoProcedures    = "no-procedures"    // warning: document holds no procedure
	CodeStructure       = "structure"        // warning: content the parser could not place
	CodeForeignKey      = "foreign-key"      // info: a front-matter key another tool owns, ignored
	CodeSectionPage     = "section-page"     // info: _index.md or a README without procedures
	CodeSectionRole     = "section-role"     // info: a runbook section not in the section table
	CodeSharedAlert     = "shared-alert"     // warning: runbooks in two files handle one alert name
)

// CodeInterpreted is an error: a placeholder sits in text that another
// interpreter parses as code (sh -c, ssh, eval, kubectl exec --, ...).
const CodeInterpreted = "param-in-interpreter"

// Diagnostic is a lint error or warning at a position in a file.
type Diagnostic struct {
	File     string       `json:"file"`
	Pos      Pos          `json:"pos"`
	Severity DiagSeverity `json:"severity"`
	Code     string       `json:"code"`
	Message  string       `json:"message"`
}

// String formats the diagnostic as file:line:col: severity: message.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.File, d.Pos.Line, d.Pos.Col, d.Severity, d.Message)
}

// sevRank orders severities: errors, then warnings, then infos.
func sevRank(s DiagSeverity) int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// sortDiagnostics orders by file and position, errors before warnings
// before infos at the same position.
func sortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return sevRank(a.Severity) < sevRank(b.Severity)
	})
}

// DiagnosticsError is returned when a document has error diagnostics.
type DiagnosticsError struct {
	Diagnostics []Diagnostic // errors only
}

func (e *DiagnosticsError) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// errorsOf returns an error holding the error diagnostics of ds, or nil.
func errorsOf(ds []Diagnostic) error {
	var errs []Diagnostic
	for _, d := range ds {
		if d.Severity == SeverityError {
			errs = append(errs, d)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &DiagnosticsError{Diagnostics: errs}
}

// AsDiagnostics returns the diagnostics carried by err, if any.
func AsDiagnostics(err error) []Diagnostic {
	var de *DiagnosticsError
	if errors.As(err, &de) {
		return de.Diagnostics
	}
	return nil
}

// lineIndex maps byte offsets to positions.
type lineIndex struct {
	starts []int // offset of each line's first byte
	size   int
}

func newLineIndex(src []byte) *lineIndex {
	li := &lineIndex{starts: []int{0}, size: len(src)}
	for i, c := range src {
		if c == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

// pos returns the 1-based line and column of offset off, clamped to the
// document.
func (li *lineIndex) pos(off int) Pos {
	if off < 0 {
		off = 0
	}
	if off > li.size {
		off = li.size
	}
	i := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return Pos{Line: i + 1, Col: off - li.starts[i] + 1}
}
