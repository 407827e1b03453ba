// Package playbook turns a team's Markdown incident-response playbook into
// executable, matchable configuration.
//
// The document is read as it is written: Parse walks goldmark's AST and
// finds the alert procedures (headings), their sections (Assessment,
// Immediate Actions, Investigation, Recovery), the tasks in each section
// (fenced blocks are steps, comment-only blocks and bold items without a
// block are manual tasks, prose items are checklist tasks), the phases of
// the response process, the communication templates, the escalation matrix
// and the tools & resources. Every step is classified by executor (sql,
// shell, kube) and risk (read, write); SQL with PostgreSQL's own parser.
//
// Optional annotations make the implicit explicit: YAML front matter, an
// HTML comment under a procedure heading (<!-- firebreak: alertname=… -->)
// and Runme-style attributes in a fence's info string. docs/playbooks.md
// describes the convention.
//
// A Library holds the loaded playbooks as an immutable snapshot, matches
// alert labels to one procedure, and reloads on demand or on file change.
package playbook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// Playbook is one parsed document. A Playbook and everything it points to
// are immutable once returned by Parse: share them, do not modify them.
type Playbook struct {
	// ID is stable across versions of the same document: the front
	// matter's id, or a slug of the file name ("telegram-platform" for
	// examples/telegram-platform/playbook.md).
	ID   string `json:"id"`
	Path string `json:"path"`
	// Hash is the sha256 of Source, hex encoded: the version's identity.
	Hash string `json:"hash"`
	// Source is the document byte for byte.
	Source []byte `json:"-"`

	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Meta        FrontMatter `json:"meta"`

	Procedures []*Procedure       `json:"procedures"`
	Phases     []*Phase           `json:"phases"`
	Templates  []*Template        `json:"templates"`
	Escalation []*EscalationLevel `json:"escalation"`
	Resources  []*Resource        `json:"resources"`

	// Shape is "runbook" for a one-alert runbook file (see runbook.go),
	// "section-page" for an _index.md or a README without procedures, and
	// empty for a playbook of alert procedures such as the reference.
	Shape string `json:"shape,omitempty"`
	// Rel is the document's path relative to the folder it was loaded
	// from, with forward slashes; runbook_url annotations are matched
	// against it. Empty for a document parsed on its own.
	Rel string `json:"rel,omitempty"`
	// NoProcedures says why a document yields no procedure.
	NoProcedures string `json:"no_procedures,omitempty"`

	// Diagnostics holds what Parse found wrong or doubtful, errors first
	// by position. A document with an error is not loaded by a Library.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`

	// priority is the index of the configured path the document was
	// loaded from (Options.Priority): lower wins a tie between matches.
	priority int
}

// Shapes of a document.
const (
	ShapeRunbook     = "runbook"
	ShapeSectionPage = "section-page"
)

// Procedure returns the procedure with the given key, or nil.
func (p *Playbook) Procedure(key string) *Procedure {
	for _, pr := range p.Procedures {
		if pr.Key == key {
			return pr
		}
	}
	return nil
}

// HasErrors reports whether any diagnostic is an error.
func (p *Playbook) HasErrors() bool {
	for _, d := range p.Diagnostics {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// FrontMatter is the optional YAML block at the top of a document.
type FrontMatter struct {
	// ID overrides the playbook ID derived from the file name.
	ID string `json:"id,omitempty" yaml:"id"`
	// Title names the document (a runbook's procedure), as Hugo's title
	// does.
	Title string `json:"title,omitempty" yaml:"title"`
	// Service names the system the playbook covers.
	Service string `json:"service,omitempty" yaml:"service"`
	// Targets names the default target per executor: sql → a database,
	// kube → a cluster context, shell → a host.
	Targets map[Executor]string `json:"targets,omitempty" yaml:"targets"`
	// Defaults apply to every step that does not say otherwise.
	Defaults Defaults `json:"defaults"`
	// GroupBy lists the alert labels that group alerts into one incident.
	GroupBy []string `json:"group_by,omitempty" yaml:"group_by"`
	// Labels lists alert labels the team's alerts are known to carry. Lint
	// uses it to tell which parameters an alert can fill.
	Labels []string `json:"labels,omitempty" yaml:"labels"`
}

// Defaults are front-matter step defaults.
type Defaults struct {
	Timeout Duration `json:"timeout,omitempty"`
	// Auto is nil when not set: read steps then run automatically.
	Auto *bool `json:"auto,omitempty"`
}

// Pos is a 1-based line and byte column in the source document.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Procedure is the response to one kind of alert: a heading such as
// "🔴 CRITICAL: High API Error Rate (>5%)" and what follows it.
type Procedure struct {
	// Key is a slug of Title, unique within the playbook.
	Key string `json:"key"`
	// Title is the heading without severity prefix, emoji and condition.
	Title string `json:"title"`
	// Heading is the heading text as written.
	Heading string `json:"heading"`
	// Condition is the bracketed trigger condition, e.g. ">5%".
	Condition string            `json:"condition,omitempty"`
	Severity  incident.Severity `json:"severity,omitempty"`

	// AlertNames, Matchers, Auto and TwoPerson come from the firebreak
	// annotation under the heading.
	AlertNames []string  `json:"alertnames,omitempty"`
	Matchers   []Matcher `json:"matchers,omitempty"`
	// Auto is false when the procedure opted out of automatic runs.
	Auto bool `json:"auto"`
	// TwoPerson asks for a second approver on every write step.
	TwoPerson bool `json:"two_person,omitempty"`

	// Names are the alert names a runbook answers to: its H1, its
	// front-matter title and its file name, compared normalised like a
	// title. Empty for a procedure of a playbook, which answers to its
	// title.
	Names []string `json:"names,omitempty"`
	// Context holds a runbook's Meaning and Impact (the context sections
	// of the section table): text shown with the incident, never run.
	Context []ContextNote `json:"context,omitempty"`

	Sections []*Section `json:"sections"`
	Pos      Pos        `json:"pos"`
}

// ContextNote is a section of a runbook that explains rather than acts.
type ContextNote struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	Pos   Pos    `json:"pos"`
}

// Explicit reports whether the procedure names the alerts it handles. A
// runbook's match= conditions narrow its name match instead.
func (p *Procedure) Explicit() bool {
	return len(p.AlertNames) > 0 || len(p.Matchers) > 0 && len(p.Names) == 0
}

// Tasks returns every task of the procedure in document order.
func (p *Procedure) Tasks() []*Task {
	var ts []*Task
	for _, s := range p.Sections {
		ts = append(ts, s.Tasks...)
	}
	return ts
}

// Task returns the task with the given key ("immediate-actions/2"), or nil.
func (p *Procedure) Task(key string) *Task {
	for _, s := range p.Sections {
		for _, t := range s.Tasks {
			if t.Key == key {
				return t
			}
		}
	}
	return nil
}

// Section is a part of a procedure: "**Assessment:**" or a sub-heading.
type Section struct {
	// Key is a slug of Title: assessment, immediate-actions, investigation,
	// recovery, or whatever the document calls it.
	Key   string `json:"key"`
	Title string `json:"title"`
	// Role is what a runbook section is for, from the section table:
	// diagnosis (reads run at once), mitigation (everything waits for a
	// person) or other. Empty in a playbook, where every section's reads
	// run at once except Recovery's.
	Role  SectionRole `json:"role,omitempty"`
	Tasks []*Task     `json:"tasks"`
	Pos   Pos         `json:"pos"`
}

// TaskKind tells how a task is carried out. The vocabulary of tasks,
// executors, risks and parameter sources belongs to runs (package run);
// the parser produces it.
type TaskKind = run.TaskKind

const (
	KindStep      = run.KindStep
	KindManual    = run.KindManual
	KindChecklist = run.KindChecklist
)

// Task is one ordered item of a section.
type Task struct {
	// Key is unique within the procedure: "<section>/<n>", n counting the
	// section's tasks from 1, or "<section>/<name>" when the step's fence
	// declares a name. Run records refer to tasks by it.
	Key  string   `json:"key"`
	Kind TaskKind `json:"kind"`
	// Name is the item's bold text ("Scale up resources"), else its text.
	Name string `json:"name"`
	// Text is the item's whole first paragraph; for a comment-only block,
	// the comments.
	Text string `json:"text,omitempty"`
	// Items are nested prose bullets ("Telegram API status").
	Items []string `json:"items,omitempty"`
	Step  *Step    `json:"step,omitempty"`
	Pos   Pos      `json:"pos"`
}

// Executor names what runs a step.
type Executor = run.Executor

const (
	ExecSQL   = run.ExecSQL
	ExecShell = run.ExecShell
	ExecKube  = run.ExecKube
)

// Risk says whether a step may change anything.
type Risk = run.Risk

const (
	RiskRead  = run.RiskRead
	RiskWrite = run.RiskWrite
)

func maxRisk(a, b Risk) Risk {
	if a == RiskWrite || b == RiskWrite {
		return RiskWrite
	}
	if a == RiskRead || b == RiskRead {
		return RiskRead
	}
	return ""
}

// Step is an executable task.
type Step struct {
	Name     string   `json:"name"`
	Executor Executor `json:"executor"`
	// Risk is the highest risk of the commands, raised by a declared
	// risk:"write". Read steps may run unattended; write steps wait for
	// approval.
	Risk Risk `json:"risk"`
	// Language is the fence language as written: bash, sh, sql.
	Language string `json:"language"`
	// Commands are the statements (sql) or command lines (shell, kube).
	Commands []Command `json:"commands"`
	// SQL is the block's text for sql steps, Script for shell and kube
	// steps: every block of the item joined with a newline, as written.
	SQL    string `json:"sql,omitempty"`
	Script string `json:"script,omitempty"`
	// Columns are the output columns of a sql step's last SELECT (or
	// RETURNING), which later steps' parameters may draw on.
	Columns []string `json:"columns,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	// Attrs are the attributes declared in the fence info string.
	Attrs Attrs `json:"attrs"`
	// Target, Timeout and Auto are effective values: the step's attribute,
	// else the front matter's. Auto is never true for a write step.
	Target  string   `json:"target,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
	Auto    bool     `json:"auto"`
	// NeedsEditing marks a template that cannot run as written, such as
	// "EXPLAIN ANALYZE SELECT * FROM slow_table WHERE condition". Reason
	// says why.
	NeedsEditing bool   `json:"needs_editing,omitempty"`
	EditReason   string `json:"edit_reason,omitempty"`
	Line         int    `json:"line"`

	// binding is where the placeholders are, set by Parse (and by
	// UnmarshalStored): Bind substitutes without parsing again.
	binding *Binding
}

// Param returns the parameter with the given name, or nil.
func (s *Step) Param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// Command is one SQL statement or one shell command line.
type Command struct {
	Text   string `json:"text"`
	Risk   Risk   `json:"risk"`
	Reason string `json:"reason"`
	// Kube is set when the kube executor runs the command natively.
	Kube *KubeCommand `json:"kube,omitempty"`
	Line int          `json:"line"`
	// ReasonPos is where in the document the construct a write reason
	// names sits, for a runbook's steps, whose text is not one block: a
	// code span in a sentence, or the commands of a console session.
	ReasonPos Pos `json:"reason_pos,omitzero"`
}

// Attrs are a step's fence attributes, Runme style:
//
//	```sql {"name":"active-connections","target":"main-db","risk":"read","timeout":"10s","auto":true}
type Attrs struct {
	Name    string   `json:"name,omitempty"`
	Target  string   `json:"target,omitempty"`
	Risk    Risk     `json:"risk,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
	Auto    *bool    `json:"auto,omitempty"`
}

// ParamType is the kind of value a parameter takes. Bind checks values
// against it.
type ParamType = run.ParamType

const (
	TypeString  = run.TypeString
	TypeInt     = run.TypeInt
	TypeIP      = run.TypeIP
	TypeCIDR    = run.TypeCIDR
	TypeK8sName = run.TypeK8sName
)

// ParamForm is how a parameter was written.
type ParamForm string

const (
	FormAngle      ParamForm = "angle"      // <failed-pod>
	FormBraces     ParamForm = "braces"     // {{name}}
	FormDollar     ParamForm = "dollar"     // SQL $license_id
	FormPositional ParamForm = "positional" // SQL $1
	FormCaps       ParamForm = "caps"       // shell SUSPICIOUS_IP
	FormIdentifier ParamForm = "identifier" // SQL bare identifier outside any FROM: pid
)

// Param is a named value a run must supply before the step can run.
type Param struct {
	Name string    `json:"name"`
	Type ParamType `json:"type"`
	Form ParamForm `json:"form"`
	// Sources are where a value may come from, in the order they are
	// tried. The last is always a human at approval time.
	Sources []Source `json:"sources"`
	// Interpreted is set when the placeholder sits in text another
	// interpreter parses (sh -c, ssh, eval, kubectl exec --, ...); its
	// value may only come from a person at approval, never from an alert.
	Interpreted bool `json:"interpreted,omitempty"`
}

// SourceKind names where a parameter value comes from.
type SourceKind = run.SourceKind

const (
	SourceLabel      = run.SourceLabel
	SourceAnnotation = run.SourceAnnotation
	SourceStep       = run.SourceStep
	SourceHuman      = run.SourceHuman
)

// Source is one place a parameter value may come from.
type Source = run.Source

// Phase is one phase of the general incident response process.
type Phase struct {
	Number    int             `json:"number"`
	Key       string          `json:"key"`
	Name      string          `json:"name"`
	Window    Window          `json:"window"`
	Checklist []ChecklistItem `json:"checklist"`
	Pos       Pos             `json:"pos"`
}

// ChecklistItem is one item of a phase.
type ChecklistItem struct {
	Key  string `json:"key"`
	Text string `json:"text"`
	Pos  Pos    `json:"pos"`
}

// Window is a time window relative to the incident start, parsed from text
// such as "0-5 minutes", "1-4 hours", "30+ minutes" or "Next business day".
type Window struct {
	Text string   `json:"text,omitempty"`
	From Duration `json:"from"`
	// To is zero when the window is open-ended ("30+ minutes") or not a
	// span of time.
	To              Duration `json:"to,omitempty"`
	OpenEnded       bool     `json:"open_ended,omitempty"`
	NextBusinessDay bool     `json:"next_business_day,omitempty"`
}

// IsZero reports whether no window was given.
func (w Window) IsZero() bool { return w == Window{} }

// Template is a communication template.
type Template struct {
	Key    string  `json:"key"`
	Name   string  `json:"name"`
	Body   string  `json:"body"`
	Fields []Field `json:"fields"`
	Pos    Pos     `json:"pos"`
}

// FieldKind tells how a template field is filled.
type FieldKind string

const (
	// FieldText is a free-text placeholder: [Brief description].
	FieldText FieldKind = "text"
	// FieldChoice is a placeholder with slash alternatives:
	// [CRITICAL/WARNING].
	FieldChoice FieldKind = "choice"
	// FieldFixed is a labelled line with a literal value, such as
	// "Service: Telegram Platform", which a notifier may fill from the
	// incident instead.
	FieldFixed FieldKind = "fixed"
)

// Field is a fillable part of a template.
type Field struct {
	// Name is the placeholder text ("Alert Name"); a choice or fixed field
	// is named by its line label ("Severity", "Service").
	Name string    `json:"name"`
	Kind FieldKind `json:"kind"`
	// Placeholder is the text to replace, brackets included: "[Alert Name]".
	Placeholder string `json:"placeholder,omitempty"`
	// Label is the line's label before the colon: "Started" for
	// "- Started: [Timestamp]".
	Label   string   `json:"label,omitempty"`
	Choices []string `json:"choices,omitempty"`
	Value   string   `json:"value,omitempty"`
	Pos     Pos      `json:"pos"`
}

// EscalationLevel is one row of the escalation matrix.
type EscalationLevel struct {
	Level int    `json:"level"`
	Role  string `json:"role"`
	// Window is zero when the level has no response time (Level 4).
	Window Window `json:"window,omitzero"`
	Pos    Pos    `json:"pos"`
}

// Resource is one entry of Tools & Resources.
type Resource struct {
	Name  string   `json:"name"`
	Text  string   `json:"text"`
	Items []string `json:"items,omitempty"`
	Pos   Pos      `json:"pos"`
}

// Matcher is an alert label matcher from a match= annotation.
type Matcher struct {
	Label string `json:"label"`
	// Op is one of = != =~ !~; regular expressions are anchored, as in
	// Prometheus.
	Op    string `json:"op"`
	Value string `json:"value"`
	re    matcherRegexp
}

func (m Matcher) String() string { return m.Label + m.Op + m.Value }

// Duration is a time.Duration that reads and writes as text ("10s").
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "10s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"10s\"")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a value such as \"10s\" or \"2m\"", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
