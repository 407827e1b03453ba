package playbook

import (
	"fmt"
	"strings"
)

// The wrapper StepFromText puts around a text: the text's first line is
// the document's line editFirstLine, indented by editIndent bytes.
const (
	editFirstLine = 6
	editIndent    = 3
)

// StepFromText classifies a step's text as if it stood in a playbook under
// the given fence language: an approver's edit is re-classified exactly as
// the document's own blocks are, by the same parser.
func StepFromText(language, text string) (*Step, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("text: the step is empty")
	}
	if executorOf(language) == "" {
		return nil, fmt.Errorf("language: %q is not sql, bash or sh", language)
	}
	// A fence longer than any backtick run in the text cannot be closed by it.
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	var b strings.Builder
	b.WriteString("### WARNING: Edited step\n\n**Immediate Actions:**\n1. **Edited step:**\n   " + fence + language + "\n")
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString("   " + line + "\n")
	}
	b.WriteString("   " + fence + "\n")
	doc := b.String()
	// An edit is the text that runs: a "$ " in it is not a prompt.
	pb, err := ParseWith("edit", []byte(doc), Options{script: true})
	if err != nil {
		// Report positions in the text as sent, not in the wrapper.
		var msgs []string
		for _, d := range AsDiagnostics(err) {
			at := Pos{Line: d.Pos.Line - editFirstLine + 1, Col: max(d.Pos.Col-editIndent, 1)}
			m := strings.ReplaceAll(d.Message, " at "+d.Pos.String(), "")
			msgs = append(msgs, fmt.Sprintf("line %s: %s", at, m))
		}
		if len(msgs) == 0 {
			return nil, fmt.Errorf("text: %w", err)
		}
		return nil, fmt.Errorf("text: %s", strings.Join(msgs, "; "))
	}
	for _, pr := range pb.Procedures {
		for _, t := range pr.Tasks() {
			if t.Step != nil {
				return t.Step, nil
			}
		}
	}
	return nil, fmt.Errorf("text: holds only comments; nothing would run")
}
