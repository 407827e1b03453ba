package run

// The vocabulary of steps: what a task is, what runs it, how risky it is,
// and where its parameters come from. The playbook parser produces it; runs,
// storage and the API share it.

// TaskKind tells how a task is carried out.
type TaskKind string

const (
	// KindStep is an executable step: a fenced sql or shell block.
	KindStep TaskKind = "step"
	// KindManual is an action a person performs: a comment-only block, or
	// a named (bold) item with no block.
	KindManual TaskKind = "manual"
	// KindChecklist is a prose item to tick off.
	KindChecklist TaskKind = "checklist"
)

// Executor names what runs a step.
type Executor string

const (
	ExecSQL   Executor = "sql"
	ExecShell Executor = "shell"
	ExecKube  Executor = "kube"
)

// Risk says whether a step may change anything.
type Risk string

const (
	RiskRead  Risk = "read"
	RiskWrite Risk = "write"
)

// ParamType is the kind of value a parameter takes. Bind checks values
// against it.
type ParamType string

const (
	TypeString ParamType = "string"
	TypeInt    ParamType = "int"
	TypeIP     ParamType = "ip"
	TypeCIDR   ParamType = "cidr" // an address prefix in canonical form: 10.0.0.0/8
	// TypeK8sName is a Kubernetes object name (RFC 1123 subdomain).
	TypeK8sName ParamType = "k8s_name"
)

// SourceKind names where a parameter value comes from.
type SourceKind string

const (
	SourceLabel      SourceKind = "label"
	SourceAnnotation SourceKind = "annotation"
	SourceStep       SourceKind = "step"
	SourceHuman      SourceKind = "human"
)

// Source is one place a parameter value may come from.
type Source struct {
	Kind SourceKind `json:"kind"`
	// Names are the label or annotation names tried in order; a name
	// matches a key whose normalised form (lower case, letters and digits
	// only) is equal.
	Names []string `json:"names,omitempty"`
	// Step and Column name an earlier step's output column.
	Step   string `json:"step,omitempty"`
	Column string `json:"column,omitempty"`
}
