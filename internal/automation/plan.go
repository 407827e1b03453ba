package automation

import (
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// PlanOptions steer Plan.
type PlanOptions struct {
	Now time.Time
	// Labels and Annotations are the opening alert's, which fill
	// parameters.
	Labels, Annotations map[string]string
	// Available reports whether an executor (and, for SQL and kube, the
	// step's target) is configured; a step that cannot run is skipped
	// with the reason.
	Available func(exec playbook.Executor, target string) error
	// TwoPerson forces two approvers for every write step of the run.
	TwoPerson      bool
	ApprovalTTL    time.Duration
	DefaultTimeout time.Duration
	ReadAttempts   int
}

// Plan builds a run with one step per task of the matched procedure, in
// document order, each in the status it starts in.
func Plan(incidentID int64, m *playbook.Match, opt PlanOptions) (*run.Run, []*run.Step) {
	pr := m.Procedure
	r := &run.Run{
		IncidentID: incidentID, PlaybookID: m.Playbook.ID, PlaybookHash: m.Playbook.Hash,
		ProcedureKey: pr.Key, ProcedureTitle: pr.Title, MatchReason: m.Reason,
		TwoPerson: pr.TwoPerson || opt.TwoPerson, CreatedAt: opt.Now,
	}
	var steps []*run.Step
	for _, sec := range pr.Sections {
		for _, t := range sec.Tasks {
			s := &run.Step{
				IncidentID: incidentID, Position: len(steps) + 1, TaskKey: t.Key, Section: sec.Title,
				Name: t.Name, Kind: t.Kind, Status: run.StatusPending, CreatedAt: opt.Now, UpdatedAt: opt.Now, MaxAttempts: 1,
			}
			if t.Kind != playbook.KindStep || t.Step == nil {
				s.Text = t.Text
				if len(t.Items) > 0 {
					s.Text = strings.TrimSpace(s.Text + "\n- " + strings.Join(t.Items, "\n- "))
				}
				s.Reason = "waiting for a responder to tick it"
				steps = append(steps, s)
				continue
			}
			planStep(s, t.Step, r, pr.Auto && !playbook.AfterTheFix(sec.Key, t.Step), opt)
			steps = append(steps, s)
		}
	}
	return r, steps
}

func planStep(s *run.Step, st *playbook.Step, r *run.Run, procAuto bool, opt PlanOptions) {
	s.Executor, s.Risk, s.Language, s.Target = st.Executor, st.Risk, st.Language, st.Target
	s.Text = st.SQL + st.Script // one of them is empty
	// Kept parsed, the step runs without being parsed again.
	s.Parsed, _ = st.MarshalStored()
	s.Timeout = time.Duration(st.Timeout)
	if s.Timeout == 0 {
		s.Timeout = opt.DefaultTimeout
	}
	for _, c := range st.Commands {
		if c.Kube != nil && c.Kube.Namespace != "" {
			s.Namespace = c.Kube.Namespace
		}
	}
	s.Params = paramsFor(st, opt.Labels, opt.Annotations)
	s.ApproversRule = 1
	if r.TwoPerson {
		s.ApproversRule = 2
	}
	missing := missingParams(s.Params)
	needApproval, why := run.NeedsApproval(s)
	var unavailable error
	if opt.Available != nil {
		unavailable = opt.Available(st.Executor, st.Target)
	}
	if unavailable != nil && st.Risk != playbook.RiskWrite {
		s.Status, s.Reason = run.StatusSkipped, unavailable.Error()
		return
	}
	if st.NeedsEditing {
		s.NeedsEditing = st.EditReason
	}
	switch {
	case needApproval:
		s.Status = run.StatusAwaitingApproval
		s.Approvers = s.ApproversRule
		s.ExpiresAt = opt.Now.Add(opt.ApprovalTTL)
		s.Reason = why + ": waits for approval"
		if st.NeedsEditing {
			s.Reason += "; needs editing first: " + st.EditReason
		} else if len(missing) > 0 {
			s.Reason += "; the approver fills in " + strings.Join(missing, ", ")
		}
		if unavailable != nil {
			s.Reason += "; it cannot run here until configured: " + unavailable.Error()
		}
	case st.NeedsEditing:
		s.Status, s.Reason = run.StatusNeedsInput, "needs editing before it can run: "+st.EditReason
	case len(missing) > 0:
		s.Status, s.Reason = run.StatusNeedsInput, "needs a value for "+strings.Join(missing, ", ")
	default:
		s.Auto = st.Auto && procAuto
		s.Queued = s.Auto
		s.MaxAttempts = max(opt.ReadAttempts, 1)
		if !s.Auto {
			s.Reason = "read step: runs when a responder runs it"
		}
	}
}

// paramsFor lists a step's parameters with the values the alert gives.
func paramsFor(st *playbook.Step, labels, annotations map[string]string) []run.Param {
	var out []run.Param
	for i := range st.Params {
		p := &st.Params[i]
		rp := run.Param{Name: p.Name, Type: p.Type, Sources: p.Sources, Interpreted: p.Interpreted}
		if p.Interpreted {
			// Another interpreter parses it: only a person may give it.
			out = append(out, rp)
			continue
		}
		if v, src, ok := p.FromAlert(labels, annotations); ok && p.ValidateFromAlert(v) == nil {
			rp.Value = &v
			rp.From = fmt.Sprintf("%s:%s", src.Kind, src.Names[0])
		}
		out = append(out, rp)
	}
	return out
}

func missingParams(ps []run.Param) []string {
	var out []string
	for _, p := range ps {
		if p.Value == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

// values returns the parameters' values by name.
func values(ps []run.Param) map[string]string {
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		if p.Value != nil {
			out[p.Name] = *p.Value
		}
	}
	return out
}
