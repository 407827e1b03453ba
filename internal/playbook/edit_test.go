package playbook

import (
	"strings"
	"testing"
)

// An edit's errors point into the text the person sent, not into the
// document StepFromText wraps it in.
func TestStepFromTextPositions(t *testing.T) {
	t.Parallel()
	_, err := StepFromText("bash", "kubectl get pods\nsh -c \"echo NOTE_TEXT\"")
	if err == nil || !strings.Contains(err.Error(), "line 2:13:") || !strings.Contains(err.Error(), "sh -c") {
		t.Fatalf("err = %v; want line 2:13 and the interpreter named", err)
	}
	st, err := StepFromText("bash", "kubectl get pods\nrm -rf /tmp/x")
	if err != nil || st.Risk != RiskWrite || len(st.Commands) != 2 {
		t.Fatalf("step = %+v, %v; want two commands, write", st, err)
	}
}
