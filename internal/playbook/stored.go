package playbook

import (
	"encoding/json"
	"fmt"
)

// Binding is where a step's placeholders are, found once when the step was
// parsed, so that binding values when the step runs is text substitution
// and never another parse of Markdown, SQL or shell.
type Binding struct {
	// SQL steps: placeholder tokens, the bare identifiers that are
	// parameters, and the statement spans pg_query found.
	SQLParams []sqlToken `json:"sql_params,omitempty"`
	SQLIdents []sqlToken `json:"sql_idents,omitempty"`
	Stmts     [][2]int   `json:"stmts,omitempty"`
	// Shell and kube steps: the placeholders of the script.
	Shell []shellPlaceholder `json:"shell,omitempty"`
}

// bindingOf computes a step's Binding from its text.
func bindingOf(s *Step) *Binding {
	if s.Executor == ExecSQL {
		return sqlBinding(analyzeSQL(s.SQL), s.Params)
	}
	return &Binding{Shell: scanShell(s.Script)}
}

// sqlBinding keeps what binding needs of a SQL analysis.
func sqlBinding(a *sqlAnalysis, params []Param) *Binding {
	b := &Binding{SQLParams: a.Lex.Params}
	isIdent := map[string]bool{}
	for _, prm := range params {
		if prm.Form == FormIdentifier {
			isIdent[prm.Name] = true
		}
	}
	for _, st := range a.Stmts {
		b.Stmts = append(b.Stmts, [2]int{st.Start, st.End})
		for _, f := range st.Free {
			if isIdent[f.Name] {
				b.SQLIdents = append(b.SQLIdents, f)
			}
		}
	}
	return b
}

// stored is a Step as it is kept with a run: the step and its binding.
type stored struct {
	Step    *Step    `json:"step"`
	Binding *Binding `json:"binding"`
}

// MarshalStored encodes a step with its binding, for a run to keep and
// run later without parsing it again.
func (s *Step) MarshalStored() ([]byte, error) {
	b := s.binding
	if b == nil {
		b = bindingOf(s)
	}
	return json.Marshal(stored{Step: s, Binding: b})
}

// UnmarshalStored decodes what MarshalStored wrote.
func UnmarshalStored(data []byte) (*Step, error) {
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("stored step: %w", err)
	}
	if st.Step == nil || st.Binding == nil {
		return nil, fmt.Errorf("stored step: incomplete")
	}
	st.Step.binding = st.Binding
	return st.Step, nil
}
