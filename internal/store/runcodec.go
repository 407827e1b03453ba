package store

import (
	"encoding/json"
	"fmt"

	"github.com/firebreak-dev/firebreak/internal/run"
)

// StepBlobs returns a step's structured fields as JSON text for storage.
func StepBlobs(s *run.Step) (params, approvals, result []byte) {
	if len(s.Params) > 0 {
		params, _ = json.Marshal(s.Params)
	}
	if len(s.Approvals) > 0 {
		approvals, _ = json.Marshal(s.Approvals)
	}
	if s.Result != nil {
		result, _ = json.Marshal(s.Result)
	}
	return params, approvals, result
}

// SetStepBlobs parses what StepBlobs wrote.
func SetStepBlobs(s *run.Step, params, approvals, result []byte) error {
	if len(params) > 0 {
		if err := json.Unmarshal(params, &s.Params); err != nil {
			return fmt.Errorf("step %d params: %w", s.ID, err)
		}
	}
	if len(approvals) > 0 {
		if err := json.Unmarshal(approvals, &s.Approvals); err != nil {
			return fmt.Errorf("step %d approvals: %w", s.ID, err)
		}
	}
	if len(result) > 0 {
		s.Result = new(run.Result)
		dec := json.NewDecoder(bytesReader(result))
		dec.UseNumber()
		if err := dec.Decode(s.Result); err != nil {
			return fmt.Errorf("step %d result: %w", s.ID, err)
		}
	}
	return nil
}

// StepProc returns a step's process record as JSON text, or nil.
func StepProc(s *run.Step) []byte {
	if s.Proc == nil {
		return nil
	}
	b, _ := json.Marshal(s.Proc)
	return b
}

// SetStepProc parses what StepProc wrote.
func SetStepProc(s *run.Step, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	s.Proc = new(run.Proc)
	if err := json.Unmarshal(b, s.Proc); err != nil {
		return fmt.Errorf("step %d proc: %w", s.ID, err)
	}
	return nil
}
