package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/automation"
	"github.com/firebreak-dev/firebreak/internal/run"
)

// stepOut is a step as the API returns it, with its preview.
type stepOut struct {
	run.Step
	Preview *automation.Preview `json:"-"`
}

func (s *stepOut) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.Step); err != nil {
		return err
	}
	var p struct {
		Preview *automation.Preview `json:"preview"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	s.Preview = p.Preview
	return nil
}

func newStepsCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "steps", Short: "See and decide on an incident's playbook steps"}
	list := &cobra.Command{
		Use:   "list INCIDENT",
		Short: "List an incident's steps with their status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentID(args[0])
			if err != nil {
				return err
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Runs  []run.Run `json:"runs"`
				Steps []stepOut `json:"steps"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/steps", nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			if len(out.Runs) == 0 {
				fmt.Fprintf(env.Stdout, "Incident %s matched no playbook procedure.\n", id)
				return nil
			}
			for _, r := range out.Runs {
				fmt.Fprintf(env.Stdout, "Run %d: %s (playbook %s, version %.12s)\n", r.ID, cell(r.ProcedureTitle), cell(r.PlaybookID), cell(r.PlaybookHash))
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STEP\tTASK\tKIND\tRISK\tSTATUS\tNAME\tNOTE")
			for _, s := range out.Steps {
				kind := string(s.Kind)
				if s.Executor != "" {
					kind = string(s.Executor)
				}
				note := s.Reason
				if s.Error != "" {
					note = s.Error
				}
				if s.Result != nil && s.Status == run.StatusSucceeded {
					note = resultNote(s.Result)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, cell(s.TaskKey), cell(kind), dash(string(s.Risk)), cell(string(s.Status)), clip(s.Name, 40), clip(note, 60))
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show STEP",
		Short: "Show a step as it would run, with its bound values and result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := getStep(cmd, env, g, args[0])
			if err != nil || g.json {
				return err
			}
			printStep(env, s)
			return nil
		},
	}
	cmd.AddCommand(list, show,
		decideCmd(env, g, "approve", "Approve a write step (fill parameters with --param, edit it with --text-file)", "approve"),
		decideCmd(env, g, "reject", "Reject a waiting step", "reject"),
		decideCmd(env, g, "run", "Run a read step now, or ask again for a write step's approval", "run"),
		decideCmd(env, g, "done", "Tick a checklist or manual task as done", "done"),
		decideCmd(env, g, "skip", "Skip a task", "skip"),
	)
	return cmd
}

func getStep(cmd *cobra.Command, env *Env, g *globals, arg string) (*stepOut, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("STEP: %q is not a step id (see `firebreak steps list INCIDENT`)", arg)
	}
	c, err := newClient(env, g.url, g.token)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/api/v1/steps/%d", id), nil, &raw); err != nil {
		return nil, err
	}
	if g.json {
		var v any
		json.Unmarshal(raw, &v)
		return nil, printJSON(env, v)
	}
	var out struct {
		Step stepOut `json:"step"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out.Step, nil
}

func decideCmd(env *Env, g *globals, use, short, path string) *cobra.Command {
	var (
		params         []string
		textFile, note string
	)
	cmd := &cobra.Command{
		Use:   use + " STEP",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("STEP: %q is not a step id (see `firebreak steps list INCIDENT`)", args[0])
			}
			body := map[string]any{}
			if len(params) > 0 {
				p, err := parsePairs("param", params)
				if err != nil {
					return err
				}
				body["params"] = p
			}
			if textFile != "" {
				b, err := os.ReadFile(textFile)
				if err != nil {
					return fmt.Errorf("--text-file: %w", err)
				}
				body["text"] = string(b)
			}
			if note != "" {
				body["reason"] = note
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Step stepOut `json:"step"`
			}
			if err := c.do(cmd.Context(), "POST", fmt.Sprintf("/api/v1/steps/%d/%s", id, path), body, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			fmt.Fprintf(env.Stdout, "Step %d (%s): %s", out.Step.ID, cell(out.Step.Name), cell(string(out.Step.Status)))
			if out.Step.Reason != "" {
				fmt.Fprintf(env.Stdout, ": %s", cell(out.Step.Reason))
			}
			fmt.Fprintln(env.Stdout)
			return nil
		},
	}
	if path == "approve" || path == "run" {
		cmd.Flags().StringArrayVar(&params, "param", nil, "parameter value name=value, repeatable")
		cmd.Flags().StringVar(&textFile, "text-file", "", "replace the step's text with this file's (it is re-classified and the diff recorded)")
	}
	cmd.Flags().StringVar(&note, "reason", "", "why, for the timeline")
	return cmd
}

func resultNote(r *run.Result) string {
	switch {
	case r.Columns != nil:
		n := fmt.Sprintf("%d rows", len(r.Rows))
		if r.Truncated {
			n += " (truncated)"
		}
		return n + " in " + r.Duration
	case r.Before != "" || r.After != "":
		return r.Before + " → " + r.After
	}
	return "in " + r.Duration
}

func printStep(env *Env, s *stepOut) {
	w := env.Stdout
	fmt.Fprintf(w, "Step %d: %s\n", s.ID, cell(s.Name))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, cell(v))
		}
	}
	row("Task", s.TaskKey+" ("+s.Section+")")
	row("Status", string(s.Status))
	row("Why", s.Reason)
	row("Executor", string(s.Executor))
	row("Risk", string(s.Risk))
	if p := s.Preview; p != nil {
		row("Target", p.Target)
		row("Namespace", p.Namespace)
	}
	for _, a := range s.Approvals {
		row("Approved by", a.Actor+" at "+a.At.Local().Format("15:04:05"))
	}
	row("Error", s.Error)
	tw.Flush()
	if s.Text != "" {
		fmt.Fprintln(w, "\nText:")
		fmt.Fprintln(w, text(s.Text, "  "))
	}
	if p := s.Preview; p != nil && p.Rendered != nil {
		r := p.Rendered
		if r.SQL != "" {
			fmt.Fprintln(w, "\nAs it will run (values are bind parameters):")
			fmt.Fprintln(w, text(r.SQL, "  "))
			for i, a := range r.Args {
				fmt.Fprintf(w, "  -- $%d = %s (%s)\n", i+1, cell(fmt.Sprint(a)), cell(r.ArgNames[i]))
			}
		} else if r.Script != "" && len(r.Kube) == 0 {
			fmt.Fprintln(w, "\nAs it will run (values are environment variables):")
			fmt.Fprintln(w, text(r.Script, "  "))
			for k, v := range r.Env {
				fmt.Fprintf(w, "  %s=%q\n", cell(k), v)
			}
		}
		if len(r.Missing) > 0 {
			fmt.Fprintf(w, "\nNeeds a value for: %s (--param name=value)\n", cell(strings.Join(r.Missing, ", ")))
		}
	}
	for _, p := range s.Params {
		if len(p.Choices) > 0 {
			fmt.Fprintf(w, "Choices for %s: %s\n", cell(p.Name), cell(strings.Join(p.Choices, ", ")))
		}
	}
	if r := s.Result; r != nil {
		fmt.Fprintf(w, "\nResult (%s):\n", cell(resultNote(r)))
		if r.Columns != nil {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			cols := make([]string, len(r.Columns))
			for i, c := range r.Columns {
				cols[i] = clip(strings.ToUpper(c), 50)
			}
			fmt.Fprintln(tw, "  "+strings.Join(cols, "\t"))
			for i, row := range r.Rows {
				if i == 20 {
					fmt.Fprintf(tw, "  … %d more rows (--json shows all)\n", len(r.Rows)-20)
					break
				}
				cells := make([]string, len(row))
				for j, c := range row {
					cells[j] = clip(fmt.Sprint(c), 50)
				}
				fmt.Fprintln(tw, "  "+strings.Join(cells, "\t"))
			}
			tw.Flush()
		}
		if r.Output != "" {
			fmt.Fprintln(w, text(strings.TrimRight(r.Output, "\n"), "  "))
		}
		if r.Undo != "" {
			fmt.Fprintf(w, "  To undo: %s\n", cell(r.Undo))
		}
	}
}

// text is multi-line text, escaped, with each line indented.
func text(s, indent string) string {
	return indent + strings.ReplaceAll(escape(s, true), "\n", "\n"+indent)
}

func newAutomationCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "automation", Short: "The kill switch for running playbook steps"}
	for _, a := range []struct{ use, short, method, path string }{
		{"status", "Show whether automation is paused", "GET", "/api/v1/automation"},
		{"pause", "Stop running any step until resumed", "POST", "/api/v1/automation/pause"},
		{"resume", "Resume running steps", "POST", "/api/v1/automation/resume"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: a.use, Short: a.short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := newClient(env, g.url, g.token)
				if err != nil {
					return err
				}
				var out struct {
					Paused bool `json:"paused"`
				}
				if err := c.do(cmd.Context(), a.method, a.path, nil, &out); err != nil {
					return err
				}
				if g.json {
					return printJSON(env, out)
				}
				if out.Paused {
					fmt.Fprintln(env.Stdout, "Automation is paused: no playbook step runs until `firebreak automation resume`.")
				} else {
					fmt.Fprintln(env.Stdout, "Automation is running: read steps run as incidents open; approved steps run.")
				}
				return nil
			},
		})
	}
	return cmd
}
