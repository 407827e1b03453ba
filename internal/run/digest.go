package run

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// RequestDigest is the identity of exactly what a step would run: its
// executor, target, namespace, language, text, timeout and every
// parameter's name, type and value. An approval records it; a change to
// any of these afterwards gives another digest, which voids the approval.
func RequestDigest(s *Step) string {
	type param struct {
		Name  string  `json:"n"`
		Type  string  `json:"t"`
		Value *string `json:"v"`
	}
	ps := make([]param, 0, len(s.Params))
	for _, p := range s.Params {
		ps = append(ps, param{p.Name, string(p.Type), p.Value})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	b, err := json.Marshal(struct {
		V         int     `json:"v"`
		Executor  string  `json:"e"`
		Target    string  `json:"tg"`
		Namespace string  `json:"ns"`
		Language  string  `json:"l"`
		Text      string  `json:"x"`
		TimeoutMS int64   `json:"to"`
		Params    []param `json:"p"`
	}{1, string(s.Executor), s.Target, s.Namespace, s.Language, s.Text, s.Timeout.Milliseconds(), ps})
	if err != nil {
		panic(fmt.Sprintf("run: digest step %d: %v", s.ID, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ValidApprovals counts the distinct people whose approval is for the
// step exactly as it stands.
func ValidApprovals(s *Step) int {
	d := RequestDigest(s)
	seen := map[string]bool{}
	for _, a := range s.Approvals {
		if a.Digest == d {
			seen[a.Actor] = true
		}
	}
	return len(seen)
}

// NeedsApproval reports whether a step may run only after approval, and
// why. It is the one rule the planner, the decisions and the claim check
// share:
//   - a write step always needs it;
//   - a shell or kube step whose text is not the playbook's own (an edit)
//     always needs it, whatever the shell classifier says, since bash is
//     no security boundary;
//   - a step with a parameter that another interpreter parses needs it,
//     since its value becomes code.
//
// Edited SQL that classifies as read needs none: it runs inside a READ
// ONLY transaction, which PostgreSQL enforces.
func NeedsApproval(s *Step) (bool, string) {
	switch {
	case s.Kind != KindStep:
		return false, ""
	case s.Risk == RiskWrite:
		return true, "write step"
	case s.Edited && s.Executor != ExecSQL:
		return true, "edited " + string(s.Executor) + " text always needs approval"
	}
	for _, p := range s.Params {
		if p.Interpreted {
			return true, "parameter " + p.Name + " is parsed by a nested interpreter"
		}
	}
	return false, ""
}

// runnable is the last check before a claimed step runs: it returns why
// the step must not run, or "" when it may.
func Runnable(s *Step) string {
	need, why := NeedsApproval(s)
	if need {
		required := max(s.Approvers, s.ApproversRule, 1)
		if n := ValidApprovals(s); n < required {
			return fmt.Sprintf("it needs %d approval(s) of exactly what runs (%s) and has %d; it changed after approval, or was never approved", required, why, n)
		}
	}
	var fromAlert []string
	for _, p := range s.Params {
		if p.Interpreted && p.Value != nil && !FromPerson(p.From) {
			fromAlert = append(fromAlert, p.Name+" (from "+p.From+")")
		}
	}
	if len(fromAlert) > 0 {
		return "a nested interpreter would parse values that did not come from a person: " + strings.Join(fromAlert, ", ")
	}
	return ""
}

// fromPerson reports whether a parameter's From names a person rather
// than an alert label, annotation or step output.
func FromPerson(from string) bool {
	if from == "" {
		return false
	}
	for _, k := range []SourceKind{SourceLabel, SourceAnnotation, SourceStep} {
		if strings.HasPrefix(from, string(k)+":") {
			return false
		}
	}
	return true
}
