package playbook

import (
	"fmt"
	"sort"
)

// Summary is what a set of documents yields: the end of `playbook lint`.
type Summary struct {
	Files        int `json:"files"`
	Procedures   int `json:"procedures"`
	Runbooks     int `json:"runbooks"`
	SectionPages int `json:"section_pages"`
	// Steps counts steps by "executor risk" ("kube read").
	Steps map[string]int `json:"steps"`
	// Unresolved are placeholders that no known alert label and no
	// earlier step's column fills: a person types their value.
	Unresolved []Unresolved `json:"unresolved,omitempty"`
	// Empty lists the documents that yield no procedure, and why.
	Empty []EmptyFile `json:"empty,omitempty"`

	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// Unresolved is a placeholder name and the steps that use it.
type Unresolved struct {
	Name  string   `json:"name"`
	Steps []string `json:"steps"` // path:line of each step
}

// EmptyFile is a document without procedures.
type EmptyFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Summarize counts what pbs yield; diags are their lint findings (Lint).
func Summarize(pbs []*Playbook, diags []Diagnostic) Summary {
	s := Summary{Files: len(pbs), Steps: map[string]int{}}
	unresolved := map[string][]string{}
	for _, pb := range pbs {
		nerr := 0
		for _, d := range pb.Diagnostics {
			if d.Severity == SeverityError {
				nerr++
			}
		}
		switch {
		case nerr > 0:
			s.Empty = append(s.Empty, EmptyFile{Path: pb.Path, Reason: fmt.Sprintf("not loaded: %d error(s) (listed above)", nerr)})
		case len(pb.Procedures) == 0:
			why := pb.NoProcedures
			if why == "" {
				why = "no alert procedure"
			}
			s.Empty = append(s.Empty, EmptyFile{Path: pb.Path, Reason: why})
		}
		if pb.Shape == ShapeSectionPage {
			s.SectionPages++
		}
		if nerr > 0 {
			continue
		}
		s.Procedures += len(pb.Procedures)
		if pb.Shape == ShapeRunbook {
			s.Runbooks += len(pb.Procedures)
		}
		for _, pr := range pb.Procedures {
			known := knownLabels(pb, pr)
			for _, t := range pr.Tasks() {
				st := t.Step
				if st == nil {
					continue
				}
				s.Steps[string(st.Executor)+" "+string(st.Risk)]++
				for _, prm := range st.Params {
					if paramResolved(prm, known) {
						continue
					}
					unresolved[prm.Name] = append(unresolved[prm.Name], fmt.Sprintf("%s:%d", pb.Path, st.Line))
				}
			}
		}
	}
	for name, steps := range unresolved {
		s.Unresolved = append(s.Unresolved, Unresolved{Name: name, Steps: steps})
	}
	sort.Slice(s.Unresolved, func(i, j int) bool { return s.Unresolved[i].Name < s.Unresolved[j].Name })
	for _, d := range diags {
		switch d.Severity {
		case SeverityError:
			s.Errors++
		case SeverityWarning:
			s.Warnings++
		default:
			s.Infos++
		}
	}
	return s
}

// paramResolved reports whether a known label or an earlier step fills a
// parameter without a person.
func paramResolved(prm Param, known map[string]bool) bool {
	if prm.Interpreted {
		return false
	}
	for _, src := range prm.Sources {
		switch src.Kind {
		case SourceStep:
			return true
		case SourceLabel:
			for _, n := range src.Names {
				if known[normalize(n)] {
					return true
				}
			}
		}
	}
	return false
}
