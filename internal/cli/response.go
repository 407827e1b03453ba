package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/report"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// printPhases prints an incident's phases with their clocks.
func printPhases(env *Env, s *phase.Status) {
	w := env.Stdout
	fmt.Fprintln(w, "Phases:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PHASE\tWINDOW\tSTATE\tTIME IN IT\tCLOCK")
	for _, p := range s.Phases {
		clock := "-"
		switch {
		case p.Breached:
			clock = "BREACHED"
		case p.LeftSeconds != nil && *p.LeftSeconds >= 0:
			clock = phase.Human(time.Duration(*p.LeftSeconds)*time.Second) + " left"
		case p.LeftSeconds != nil:
			clock = phase.Human(time.Duration(-*p.LeftSeconds)*time.Second) + " over"
		}
		state := p.State
		if state == "done" && p.Start.IsZero() {
			state = "skipped"
		}
		spent := "-"
		if !p.Start.IsZero() {
			spent = phase.Human(time.Duration(p.SpentSeconds) * time.Second)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", cell(p.Name), cell(p.Window), state, spent, clock)
	}
	tw.Flush()
	if s.Watch != nil {
		fmt.Fprintf(w, "  Recovery watch: %s\n", cell(s.Watch.Summary))
	} else if n := len(s.Watches); n > 0 {
		fmt.Fprintf(w, "  Recovery watch: %s\n", cell(s.Watches[n-1].Summary))
	}
	if !s.ReviewDue.IsZero() {
		fmt.Fprintf(w, "  Review due: %s\n", s.ReviewDue.Local().Format("Mon 2 Jan 15:04 MST"))
	}
	if len(s.Participants) > 0 {
		var ps []string
		for _, p := range s.Participants {
			ps = append(ps, p.Name+" ("+strings.Join(p.Roles, ", ")+")")
		}
		fmt.Fprintf(w, "  Participants: %s\n", cell(strings.Join(ps, "; ")))
	}
}

// phaseCmd is `firebreak incidents phase ID [PHASE]`: show the phases, or
// move the incident to one.
func phaseCmd(env *Env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "phase INCIDENT [PHASE]",
		Short: "Show an incident's phases and clocks, or move it to a phase (detection, containment, investigation, recovery, review)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Phases *phase.Status `json:"phases"`
			}
			if len(a) == 2 {
				err = c.do(cmd.Context(), "POST", "/api/v1/incidents/"+id+"/phase", map[string]string{"phase": a[1]}, &out)
			} else {
				err = c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/phases", nil, &out)
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			if out.Phases == nil {
				return fmt.Errorf("the server keeps no phase clocks")
			}
			printPhases(env, out.Phases)
			return nil
		},
	}
}

// newReviewCmd is `firebreak review show|edit`.
func newReviewCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "review", Short: "Read and edit post-incident reviews",
		Long: `Firebreak writes a review draft when an incident resolves, and again when its
recovery watch ends, from the incident's record. People edit it as Markdown;
every save is a new version, and one marked final closes the review.`}
	var format, file string
	var version int
	var final bool
	show := &cobra.Command{
		Use: "show INCIDENT", Short: "Print an incident's review (Markdown by default)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			q := url.Values{}
			if version > 0 {
				q.Set("version", fmt.Sprint(version))
			}
			if g.json {
				var out map[string]any
				if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/review?"+q.Encode(), nil, &out); err != nil {
					return err
				}
				return printJSON(env, out)
			}
			switch format {
			case "md", "html":
			default:
				return fmt.Errorf("--format %q: want md or html", format)
			}
			q.Set("format", format)
			var body json.RawMessage // the document itself, kept as sent
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/review?"+q.Encode(), nil, &body); err != nil {
				return err
			}
			if format == "md" {
				_, err = io.WriteString(env.Stdout, escape(string(body), true))
			} else {
				_, err = env.Stdout.Write(body)
			}
			return err
		},
	}
	show.Flags().StringVar(&format, "format", "md", "md or html")
	show.Flags().IntVar(&version, "version", 0, "a version number (default the latest)")
	edit := &cobra.Command{
		Use: "save INCIDENT --file REVIEW.md", Short: "Save an edited review as a new version (--final to close it)", Args: cobra.ExactArgs(1),
		Example: `  firebreak review show 1 > review.md && $EDITOR review.md && firebreak review save 1 --file review.md --final`,
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			var b []byte
			if file == "-" {
				b, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20+1))
			} else {
				b, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			status := "draft"
			if final {
				status = "final"
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Review store.Review `json:"review"`
			}
			if err := c.do(cmd.Context(), "PUT", "/api/v1/incidents/"+id+"/review", map[string]string{"markdown": string(b), "status": status}, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			fmt.Fprintf(env.Stdout, "Saved version %d of incident %s's review (%s).\n", out.Review.Version, id, out.Review.Status)
			return nil
		},
	}
	edit.Flags().StringVar(&file, "file", "", "the review as Markdown, or - for standard input (required)")
	edit.Flags().BoolVar(&final, "final", false, "mark this version final")
	edit.MarkFlagRequired("file")
	cmd.AddCommand(show, edit)
	return cmd
}

// newReportCmd is `firebreak report`: MTTA, MTTR, phases and breaches
// over a period.
func newReportCmd(env *Env, g *globals) *cobra.Command {
	var since, service, severity, by string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Summarise incident response over a period: MTTA, MTTR, time in each phase, SLA breaches, escalations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			span, err := report.ParseSince(since)
			if err != nil {
				return err
			}
			now := time.Now()
			if env.Now != nil {
				now = env.Now()
			}
			q := url.Values{"from": {now.Add(-span).UTC().Format(time.RFC3339)}, "to": {now.Add(time.Second).UTC().Format(time.RFC3339)}}
			if service != "" {
				q.Set("service", service)
			}
			if severity != "" {
				q.Set("severity", severity)
			}
			if by == "day" || by == "week" {
				q.Set("period", by)
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var r report.Report
			if err := c.do(cmd.Context(), "GET", "/api/v1/metrics/incidents?"+q.Encode(), nil, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, r)
			}
			printReport(env, &r, by, since)
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "how far back: 30d, 2w, 12h")
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().StringVar(&severity, "severity", "", "only this severity")
	cmd.Flags().StringVar(&by, "by", "service", "rows by service, severity, day or week")
	return cmd
}

func dur(p *float64) string {
	if p == nil {
		return "-"
	}
	return phase.Human(time.Duration(*p * float64(time.Second)))
}

func printReport(env *Env, r *report.Report, by, since string) {
	w := env.Stdout
	fmt.Fprintf(w, "Incidents started %s to %s (last %s)\n\n", r.From.Local().Format("2006-01-02 15:04"), r.To.Local().Format("2006-01-02 15:04"), since)
	if r.Overall.Incidents == 0 {
		fmt.Fprintln(w, "No incidents in this period.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := strings.ToUpper(by)
	fmt.Fprintf(tw, "%s\tINCIDENTS\tACKED\tRESOLVED\tMTTA\tMTTR\tBREACHES\tESCALATIONS", head)
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(shortPhase(p)))
	}
	fmt.Fprintln(tw)
	line := func(name string, s report.Summary) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\t%d", cell(name), s.Incidents, s.Acknowledged, s.Resolved, dur(s.MTTASeconds), dur(s.MTTRSeconds), s.BreachTotal, s.Escalations)
		for _, p := range r.Phases {
			v, ok := s.TimeInPhaseSeconds[p]
			cellv := "-"
			if ok {
				cellv = phase.Human(time.Duration(v * float64(time.Second)))
			}
			if n := s.Breaches[p]; n > 0 {
				cellv += fmt.Sprintf(" (%d!)", n)
			}
			fmt.Fprintf(tw, "\t%s", cellv)
		}
		fmt.Fprintln(tw)
	}
	switch by {
	case "day", "week":
		for _, p := range r.Periods {
			line(p.Start.Local().Format("Mon 2006-01-02"), p.Summary)
		}
	default:
		rows := r.ByService
		if by == "severity" {
			rows = r.BySeverity
		}
		keys := make([]string, 0, len(rows))
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			line(k, rows[k])
		}
	}
	line("all", r.Overall)
	tw.Flush()
	fmt.Fprintln(w, "\nTime in each phase is the mean over the incidents that entered it; (N!) counts its SLA breaches.")
}

// shortPhase is a column heading for a phase key.
func shortPhase(key string) string {
	if i := strings.IndexAny(key, "-_"); i > 0 {
		return key[:i]
	}
	return key
}
