package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/config"
	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/ingest"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// newPlaybookCmd is `firebreak playbook lint|show|dry-run`: offline tools
// for the team that owns the playbook. None of them talks to a server.
func newPlaybookCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "playbook",
		Short: "Check, show and dry-run Markdown playbooks",
	}
	cmd.AddCommand(newPlaybookLintCmd(env), newPlaybookShowCmd(env), newPlaybookDryRunCmd(env))
	return cmd
}

func newPlaybookLintCmd(env *Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Report errors and warnings in playbooks (exit status 1 on errors)",
		Long: `Lint parses every playbook at the paths (files, or folders searched for *.md)
and prints each finding as file:line:col: error|warning|info: message.
Errors (unknown annotation keys, a risk downgrade, two procedures matching the
same alert, …) stop a playbook from loading; warnings do not; info lines note
what Firebreak ignored or decided (a Hugo front-matter key, a section page).
Each command that makes its step a write (and so wait for approval) is listed
as an info line with the reason and where in the document it is. A summary
ends the output: files, procedures, steps by executor and risk, placeholders
no alert label fills, and the files that yielded nothing, with the reason.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := playbookOptions(configPath, env)
			if err != nil {
				return err
			}
			pbs, err := playbook.LoadFilesWith(opt.Sections, args...)
			if err != nil {
				return err
			}
			ds := playbook.Lint(pbs)
			for _, d := range ds {
				fmt.Fprintln(env.Stdout, d.String())
			}
			procs, writes := 0, 0
			for _, pb := range pbs {
				procs += len(pb.Procedures)
				for _, v := range writeVerdicts(pb) {
					fmt.Fprintln(env.Stdout, v)
					writes++
				}
			}
			sum := playbook.Summarize(pbs, ds)
			writeLintSummary(env.Stdout, sum)
			fmt.Fprintf(env.Stderr, "%d playbook(s), %d procedure(s): %d error(s), %d warning(s), %d info(s), %d write verdict(s) that wait for approval\n",
				len(pbs), procs, sum.Errors, sum.Warnings, sum.Infos, writes)
			if sum.Errors > 0 {
				return fmt.Errorf("playbook lint: %d error(s)", sum.Errors)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "firebreak.yaml whose playbook_sections (and playbook_urls, for dry-run) apply")
	return cmd
}

// playbookOptions reads the runbook settings of a configuration file, when
// one is given.
func playbookOptions(path string, env *Env) (playbook.LibraryOptions, error) {
	if path == "" {
		return playbook.LibraryOptions{}, nil
	}
	c, err := config.Load(path, env.Getenv)
	if err != nil {
		return playbook.LibraryOptions{}, err
	}
	return app.LibraryOptions(&c)
}

// writeLintSummary prints what the documents yield.
func writeLintSummary(w io.Writer, s playbook.Summary) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Summary: %d file(s), %d procedure(s) (%d runbook(s)), %d section page(s)\n", s.Files, s.Procedures, s.Runbooks, s.SectionPages)
	keys := make([]string, 0, len(s.Steps))
	total := 0
	for k, n := range s.Steps {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.Steps[k]))
	}
	if total == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(w, "Steps: %d (%s)\n", total, strings.Join(parts, ", "))
	if len(s.Unresolved) == 0 {
		fmt.Fprintln(w, "Unresolved placeholders: none")
	} else {
		fmt.Fprintf(w, "Unresolved placeholders (no alert label fills them; the approver types them): %d\n", len(s.Unresolved))
		for _, u := range s.Unresolved {
			fmt.Fprintf(w, "  %s  %d step(s): %s\n", u.Name, len(u.Steps), strings.Join(u.Steps, ", "))
		}
	}
	if len(s.Empty) == 0 {
		fmt.Fprintln(w, "Files without procedures: none")
	} else {
		fmt.Fprintf(w, "Files without procedures: %d\n", len(s.Empty))
		for _, e := range s.Empty {
			fmt.Fprintf(w, "  %s: %s\n", e.Path, e.Reason)
		}
	}
	fmt.Fprintf(w, "Findings: %d error(s), %d warning(s), %d info(s)\n", s.Errors, s.Warnings, s.Infos)
}

func newPlaybookShowCmd(env *Env) *cobra.Command {
	var asJSON bool
	var configPath string
	cmd := &cobra.Command{
		Use:   "show PATH...",
		Short: "Print the parsed structure of playbooks",
		Long: `Show prints what Firebreak reads from each playbook: procedures with their
sections and tasks, phases, templates, escalation matrix and resources. With
--json it prints the full structure: one object for one playbook, an array for
several.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := playbookOptions(configPath, env)
			if err != nil {
				return err
			}
			pbs, err := playbook.LoadFilesWith(opt.Sections, args...)
			if err != nil {
				return err
			}
			if asJSON {
				var v any = pbs
				if len(pbs) == 1 {
					v = pbs[0]
				}
				return writeJSON(env.Stdout, v)
			}
			for i, pb := range pbs {
				if i > 0 {
					fmt.Fprintln(env.Stdout)
				}
				showPlaybook(env.Stdout, pb)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the full structure as JSON")
	cmd.Flags().StringVar(&configPath, "config", "", "firebreak.yaml whose playbook_sections apply")
	return cmd
}

func newPlaybookDryRunCmd(env *Env) *cobra.Command {
	var (
		asJSON     bool
		alertPath  string
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "dry-run PATH... --alert alert.json",
		Short: "Show which procedure an alert matches and what would run, running nothing",
		Long: `Dry-run decodes an alert payload (an Alertmanager webhook, a PagerDuty Events
v2 event, a Grafana webhook or generic JSON; "-" reads standard input), matches
each alert against the playbooks at the paths, and prints every task of the
matched procedure with its executor, risk, bound parameters and the exact text
that would run. Nothing is executed. The exit status is 1 when an alert
matches no procedure.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if alertPath == "" {
				return errors.New("dry-run: --alert is required (a JSON alert payload, or - for standard input)")
			}
			var body []byte
			var err error
			if alertPath == "-" {
				body, err = io.ReadAll(env.Stdin)
			} else {
				body, err = os.ReadFile(alertPath)
			}
			if err != nil {
				return fmt.Errorf("dry-run: read alert: %w", err)
			}
			events, err := ingest.Detect(body, time.Now())
			if err != nil {
				return fmt.Errorf("dry-run: decode alert %s: %w", alertPath, err)
			}
			if len(events) == 0 {
				return fmt.Errorf("dry-run: %s holds no alerts", alertPath)
			}
			opt, err := playbookOptions(configPath, env)
			if err != nil {
				return err
			}
			lib, err := playbook.NewLibraryWith(slog.New(slog.DiscardHandler), opt, args...)
			if err != nil {
				return fmt.Errorf("dry-run: %w", err)
			}
			type result struct {
				Alert  incident.Event         `json:"alert"`
				DryRun *playbook.DryRunResult `json:"dry_run"`
			}
			var results []result
			unmatched := 0
			for _, ev := range events {
				res, err := playbook.DryRun(lib, ev.Labels, ev.Annotations)
				if err != nil {
					return err
				}
				if !res.Matched {
					unmatched++
				}
				results = append(results, result{Alert: ev, DryRun: res})
			}
			if asJSON {
				var v any = results
				if len(results) == 1 {
					v = results[0]
				}
				if err := writeJSON(env.Stdout, v); err != nil {
					return err
				}
			} else {
				for i, r := range results {
					if i > 0 {
						fmt.Fprintln(env.Stdout)
					}
					showDryRun(env.Stdout, r.Alert, r.DryRun)
				}
			}
			if unmatched > 0 {
				return fmt.Errorf("dry-run: %d of %d alert(s) match no procedure", unmatched, len(results))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&alertPath, "alert", "", "alert payload file (JSON), or - for standard input")
	cmd.Flags().StringVar(&configPath, "config", "", "firebreak.yaml whose playbook_urls and playbook_sections apply")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// writeJSON writes v as indented JSON, with the characters a terminal
// could obey escaped (see jsonSafe).
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(jsonSafe(buf.Bytes()))
	return err
}

// alertName renders a title as the CamelCase alert name it matches.
func alertName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

func matchText(pr *playbook.Procedure) string {
	if !pr.Explicit() && len(pr.Names) > 0 {
		out := "alertname " + strings.Join(pr.Names, " or ") + " (by name, any case and spacing)"
		for _, m := range pr.Matchers {
			out += " " + m.String()
		}
		return out + ", or a runbook_url that links this file"
	}
	if !pr.Explicit() {
		return "alertname " + alertName(pr.Title) + " (by title)"
	}
	var parts []string
	if len(pr.AlertNames) > 0 {
		parts = append(parts, "alertname="+strings.Join(pr.AlertNames, ","))
	}
	for _, m := range pr.Matchers {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func showPlaybook(w io.Writer, pb *playbook.Playbook) {
	fmt.Fprintf(w, "%s  (%s, version %.12s)\n", pb.Title, pb.Path, pb.Hash)
	fmt.Fprintf(w, "ID %s", pb.ID)
	if pb.Meta.Service != "" {
		fmt.Fprintf(w, ", service %s", pb.Meta.Service)
	}
	fmt.Fprintf(w, ": %d procedures, %d phases, %d escalation levels, %d templates\n",
		len(pb.Procedures), len(pb.Phases), len(pb.Escalation), len(pb.Templates))

	for _, pr := range pb.Procedures {
		fmt.Fprintln(w)
		sev := strings.ToUpper(string(pr.Severity))
		if sev == "" {
			sev = "-"
		}
		title := pr.Title
		if pr.Condition != "" {
			title += " (" + pr.Condition + ")"
		}
		fmt.Fprintf(w, "%s  %s  [%s]\n", sev, title, pr.Key)
		flags := "matches " + matchText(pr)
		if !pr.Auto {
			flags += "; no automatic runs"
		}
		if pr.TwoPerson {
			flags += "; two-person approval"
		}
		fmt.Fprintf(w, "  %s\n", flags)
		for _, c := range pr.Context {
			fmt.Fprintf(w, "  %s: %s\n", c.Title, firstSentence(c.Text))
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range pr.Sections {
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\n", s.Title)
			for _, t := range s.Tasks {
				exec, risk, auto := "", "", ""
				if st := t.Step; st != nil {
					exec, risk = string(st.Executor), string(st.Risk)
					switch {
					case st.NeedsEditing:
						auto = "needs editing"
					case st.Auto:
						auto = "auto"
					default:
						auto = "approval"
					}
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\n", t.Key, t.Kind, exec, risk, auto, t.Name)
			}
		}
		tw.Flush()
	}

	if len(pb.Phases) > 0 {
		fmt.Fprintln(w, "\nPhases")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, ph := range pb.Phases {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%d items\n", ph.Number, ph.Name, windowText(ph.Window), len(ph.Checklist))
		}
		tw.Flush()
	}
	if len(pb.Escalation) > 0 {
		fmt.Fprintln(w, "\nEscalation")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range pb.Escalation {
			fmt.Fprintf(tw, "  Level %d\t%s\t%s\n", e.Level, e.Role, windowText(e.Window))
		}
		tw.Flush()
	}
	if len(pb.Templates) > 0 {
		fmt.Fprintln(w, "\nTemplates")
		for _, t := range pb.Templates {
			var fs []string
			for _, f := range t.Fields {
				switch f.Kind {
				case playbook.FieldChoice:
					fs = append(fs, f.Name+" {"+strings.Join(f.Choices, "|")+"}")
				case playbook.FieldFixed:
					fs = append(fs, f.Name+"="+f.Value)
				default:
					fs = append(fs, f.Name)
				}
			}
			fmt.Fprintf(w, "  %s: %s\n", t.Name, strings.Join(fs, ", "))
		}
	}
	if len(pb.Resources) > 0 {
		fmt.Fprintln(w, "\nTools & Resources")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range pb.Resources {
			fmt.Fprintf(tw, "  %s\t%s\n", r.Name, r.Text)
		}
		tw.Flush()
	}
	if pb.NoProcedures != "" {
		fmt.Fprintf(w, "\nNo procedures: %s\n", pb.NoProcedures)
	}
	nerr, nwarn := 0, 0
	for _, d := range pb.Diagnostics {
		switch d.Severity {
		case playbook.SeverityError:
			nerr++
		case playbook.SeverityWarning:
			nwarn++
		}
	}
	if nerr+nwarn > 0 {
		fmt.Fprintf(w, "\n%d error(s), %d warning(s): run `firebreak playbook lint %s`\n", nerr, nwarn, pb.Path)
	}
}

// firstSentence shortens a context note to its first line or sentence.
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return cell(s)
}

func windowText(win playbook.Window) string {
	if win.IsZero() {
		return "-"
	}
	return win.Text
}

func showDryRun(w io.Writer, ev incident.Event, res *playbook.DryRunResult) {
	name := cell(ev.Labels["alertname"])
	if name == "" {
		name = "(no alertname label)"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Alert\t%s (%s, %s)\n", name, ev.Source, ev.Status)
	if !res.Matched {
		fmt.Fprintf(tw, "Match\tnone: no annotation names it and no procedure title normalises to %q\n", playbook.Normalize(ev.Labels["alertname"]))
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "Procedure\t%s (%s/%s)\n", res.Title, res.Playbook, res.Procedure)
	kind := "title"
	if res.Match.Explicit {
		kind = "annotation"
	}
	if res.Match.By != "" {
		kind = res.Match.By
	}
	fmt.Fprintf(tw, "Matched by\t%s: %s\n", kind, cell(res.Match.Reason))
	if len(res.Match.Others) > 0 {
		fmt.Fprintf(tw, "Also matched\t%s\n", strings.Join(res.Match.Others, ", "))
		fmt.Fprintf(tw, "Chosen because\t%s\n", cell(res.Match.Why))
	}
	for _, c := range res.Context {
		fmt.Fprintf(tw, "%s\t%s\n", c.Title, firstSentence(c.Text))
	}
	fmt.Fprintf(tw, "Severity\t%s\n", res.Severity)
	fmt.Fprintf(tw, "Automatic runs\t%s\n", yesNo(res.Auto))
	if res.TwoPerson {
		fmt.Fprintf(tw, "Approval\ttwo people\n")
	}
	fmt.Fprintf(tw, "Version\t%.12s (%s)\n", res.Version, res.Path)
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tKIND\tEXECUTOR\tRISK\tRUNS\tNAME")
	for _, t := range res.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Key, t.Kind, dash(string(t.Executor)), dash(string(t.Risk)), t.RunsAt, t.Name)
	}
	tw.Flush()

	for _, t := range res.Tasks {
		if t.Rendered == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s  %s  [%s, %s, %s]\n", t.Key, t.Name, t.Executor, t.Risk, t.RunsAt)
		if t.NeedsEditing {
			fmt.Fprintf(w, "  needs editing: %s\n", t.EditReason)
		}
		for _, p := range t.Params {
			v := p.Value
			if p.Missing {
				v = "(missing)"
			}
			fmt.Fprintf(w, "  param %s (%s) = %s  from %s\n", p.Name, p.Type, cell(v), p.From)
		}
		r := t.Rendered
		switch t.Executor {
		case playbook.ExecSQL:
			fmt.Fprintln(w, indent(r.SQL, "    "))
			for i, a := range r.Args {
				fmt.Fprintf(w, "    -- $%d = %s\n", i+1, argText(r.ArgNames[i], a))
			}
		case playbook.ExecKube:
			for _, k := range r.Kube {
				fmt.Fprintf(w, "    kube %s\n", kubeText(k))
			}
		default:
			fmt.Fprintln(w, indent(r.Script, "    $ "))
			for k, v := range r.Env {
				fmt.Fprintf(w, "    env %s=%q\n", k, v)
			}
		}
	}
}

func argText(name string, a any) string {
	if a == nil {
		return name + " (missing)"
	}
	return fmt.Sprintf("%s (%s)", cell(fmt.Sprint(a)), name)
}

func kubeText(k playbook.KubeCommand) string {
	parts := []string{k.Verb, k.Resource}
	if k.Name != "" {
		parts = append(parts, k.Name)
	}
	if k.Namespace != "" {
		parts = append(parts, "namespace="+k.Namespace)
	}
	if k.Selector != "" {
		parts = append(parts, "selector="+k.Selector)
	}
	for _, f := range []string{"replicas", "since", "tail", "container", "previous", "follow", "output"} {
		if v, ok := k.Flags[f]; ok {
			parts = append(parts, f+"="+v)
		}
	}
	if k.Grep != "" {
		parts = append(parts, "grep="+k.Grep)
	}
	if k.Bounded {
		parts = append(parts, "(follow bounded by the step timeout)")
	}
	return strings.Join(parts, " ")
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// writeVerdicts lists, for every command that makes its step a write, where
// it is in the document and why, as file:line:col: info: lines. A shell
// reason starts with its line:col in the script, which becomes a document
// position; a SQL reason points at the statement's line.
func writeVerdicts(pb *playbook.Playbook) []string {
	lines := strings.Split(string(pb.Source), "\n")
	indent := func(line int) int {
		if line < 1 || line > len(lines) {
			return 0
		}
		l := lines[line-1]
		return len(l) - len(strings.TrimLeft(l, " \t"))
	}
	var out []string
	for _, pr := range pb.Procedures {
		for _, t := range pr.Tasks() {
			st := t.Step
			if st == nil || st.Risk != playbook.RiskWrite {
				continue
			}
			for _, c := range st.Commands {
				if c.Risk != playbook.RiskWrite {
					continue
				}
				line, col, reason := c.Line, indent(c.Line)+1, c.Reason
				if m := scriptPos.FindStringSubmatch(c.Reason); m != nil {
					l, _ := strconv.Atoi(m[1])
					cl, _ := strconv.Atoi(m[2])
					line = st.Line + l
					col, reason = indent(st.Line)+cl, m[3]
				}
				if c.ReasonPos.Line > 0 { // a runbook's span or console session
					line, col = c.ReasonPos.Line, c.ReasonPos.Col
				}
				out = append(out, fmt.Sprintf("%s:%d:%d: info: write step %q (%s): %s", pb.Path, line, col, t.Name, t.Key, reason))
			}
		}
	}
	return out
}

var scriptPos = regexp.MustCompile(`^(\d+):(\d+): (.*)$`)
