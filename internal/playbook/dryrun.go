package playbook

import (
	"fmt"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// DryRunResult shows what a run for an alert would do, executing nothing.
type DryRunResult struct {
	Matched   bool              `json:"matched"`
	Alertname string            `json:"alertname,omitempty"`
	Playbook  string            `json:"playbook,omitempty"`
	Path      string            `json:"path,omitempty"`
	Version   string            `json:"version,omitempty"`
	Procedure string            `json:"procedure,omitempty"`
	Title     string            `json:"title,omitempty"`
	Severity  incident.Severity `json:"severity,omitempty"`
	Match     *Match            `json:"match,omitempty"`
	// Auto is false when the procedure opted out of automatic runs.
	Auto      bool `json:"auto"`
	TwoPerson bool `json:"two_person,omitempty"`
	// Context is a runbook's Meaning and Impact, shown with the incident.
	Context []ContextNote `json:"context,omitempty"`
	Tasks   []DryRunTask  `json:"tasks,omitempty"`
}

// DryRunTask is one task of the matched procedure as a run would see it.
type DryRunTask struct {
	Key     string   `json:"key"`
	Section string   `json:"section"`
	Kind    TaskKind `json:"kind"`
	Name    string   `json:"name"`
	Text    string   `json:"text,omitempty"`
	Items   []string `json:"items,omitempty"`

	Executor Executor `json:"executor,omitempty"`
	Risk     Risk     `json:"risk,omitempty"`
	// RunsAt is "immediately" for a read step that runs unattended,
	// "approval" for one that waits, "edit" for a template that must be
	// edited first, "manual" or "checklist" for other tasks.
	RunsAt       string        `json:"runs_at"`
	NeedsEditing bool          `json:"needs_editing,omitempty"`
	EditReason   string        `json:"edit_reason,omitempty"`
	Commands     []Command     `json:"commands,omitempty"`
	Params       []DryRunParam `json:"params,omitempty"`
	Rendered     *Rendered     `json:"rendered,omitempty"`
}

// DryRunParam is a parameter with the value an alert would give it.
type DryRunParam struct {
	Name  string    `json:"name"`
	Type  ParamType `json:"type"`
	Value string    `json:"value,omitempty"`
	// From says where the value came from or will come from: "label pod",
	// "annotation summary", "step immediate-actions/1 column pid (at run
	// time)" or "approver".
	From    string `json:"from"`
	Missing bool   `json:"missing,omitempty"`
}

// DryRun matches an alert to a procedure and renders every task with the
// parameters the alert provides. It runs nothing. An alert that matches
// no procedure gives a result with Matched false.
func DryRun(lib *Library, labels, annotations map[string]string) (*DryRunResult, error) {
	if lib == nil {
		return nil, fmt.Errorf("dry run: no playbook library")
	}
	res := &DryRunResult{Alertname: labels["alertname"]}
	m, ok := lib.MatchAlert(labels, annotations)
	if !ok {
		return res, nil
	}
	pr := m.Procedure
	res.Matched = true
	res.Match = m
	res.Context = pr.Context
	res.Playbook, res.Path, res.Version = m.Playbook.ID, m.Playbook.Path, m.Playbook.Hash
	res.Procedure, res.Title, res.Severity = pr.Key, pr.Title, pr.Severity
	res.Auto, res.TwoPerson = pr.Auto, pr.TwoPerson
	for _, sec := range pr.Sections {
		for _, t := range sec.Tasks {
			dt := DryRunTask{Key: t.Key, Section: sec.Title, Kind: t.Kind, Name: t.Name, Text: t.Text, Items: t.Items, RunsAt: string(t.Kind)}
			if st := t.Step; st != nil {
				dt.Executor, dt.Risk, dt.Commands = st.Executor, st.Risk, st.Commands
				dt.NeedsEditing, dt.EditReason = st.NeedsEditing, st.EditReason
				values := map[string]string{}
				for i := range st.Params {
					prm := &st.Params[i]
					dp := DryRunParam{Name: prm.Name, Type: prm.Type}
					if v, src, ok := prm.FromAlert(labels, annotations); ok && prm.Interpreted {
						dp.From = fmt.Sprintf("%s %s (ignored: a nested interpreter parses it, so only a person may give it)", src.Kind, src.Names[0])
						dp.Missing = true
					} else if ok {
						if err := prm.ValidateFromAlert(v); err != nil {
							dp.From = fmt.Sprintf("%s %s (rejected: %v)", src.Kind, src.Names[0], err)
							dp.Missing = true
						} else {
							dp.Value, dp.From = v, fmt.Sprintf("%s %s", src.Kind, src.Names[0])
							values[prm.Name] = v
						}
					} else {
						dp.Missing = true
						dp.From = "approver"
						for _, s := range prm.Sources {
							if s.Kind == SourceStep {
								dp.From = fmt.Sprintf("step %s column %s (at run time)", s.Step, s.Column)
								break
							}
						}
					}
					dt.Params = append(dt.Params, dp)
				}
				r, err := st.Bind(values)
				if err != nil {
					return nil, fmt.Errorf("dry run %s/%s: %w", pr.Key, t.Key, err)
				}
				dt.Rendered = r
				switch {
				case st.NeedsEditing:
					dt.RunsAt = "edit"
				case st.Auto && pr.Auto && len(r.Missing) == 0 && !AfterTheFix(sec.Key, st):
					dt.RunsAt = "immediately"
				case st.Risk == RiskRead && len(r.Missing) > 0:
					dt.RunsAt = "approval (needs " + strings.Join(r.Missing, ", ") + ")"
				default:
					dt.RunsAt = "approval"
				}
			}
			res.Tasks = append(res.Tasks, dt)
		}
	}
	return res, nil
}

// AfterTheFix reports whether a step sits in a section that follows the
// fix, such as Recovery: its reads check the outcome of work not yet done,
// so they wait for a responder unless the step says "auto":true itself.
func AfterTheFix(sectionKey string, st *Step) bool {
	return sectionKey == "recovery" && (st.Attrs.Auto == nil || !*st.Attrs.Auto)
}
