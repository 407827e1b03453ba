package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/oncall"
)

// newOncallCmd is `firebreak oncall`: who is on call now and next, per
// rotation of the configuration, without a server.
func newOncallCmd(env *Env, g *globals) *cobra.Command {
	f := &serverFlags{}
	var at string
	cmd := &cobra.Command{
		Use:   "oncall",
		Short: "Show who is on call now and next in each rotation of the configuration",
		Long: `oncall reads the rotations of the configuration (--config, or FIREBREAK_CONFIG)
and prints, for each, who is on call at the given moment (now by default) and
who takes over next, with the handoff times in the rotation's own time zone.
Overrides are marked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.load(env)
			if err != nil {
				return err
			}
			now := time.Now()
			if env.Now != nil {
				now = env.Now()
			}
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--at %q: want an RFC 3339 time such as 2026-03-08T09:00:00-05:00", at)
				}
			}
			type row struct {
				Rotation string       `json:"rotation"`
				Now      oncall.Shift `json:"now"`
				Next     oncall.Shift `json:"next"`
			}
			var rows []row
			for i := range c.Rotations {
				r := &c.Rotations[i]
				rows = append(rows, row{Rotation: r.Name, Now: r.OnCall(now), Next: r.Next(now)})
			}
			if g.json {
				return printJSON(env, map[string]any{"at": now.UTC(), "rotations": rows})
			}
			if len(rows) == 0 {
				fmt.Fprintln(env.Stdout, "No rotations are configured: add them under rotations: in firebreak.yaml (see the README).")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROTATION\tON CALL\tUNTIL\tNEXT\tFROM")
			for i, r := range rows {
				loc, err := time.LoadLocation(c.Rotations[i].TimeZone)
				if err != nil {
					loc = time.UTC
				}
				who := r.Now.User
				if r.Now.Override {
					who += " (override)"
				}
				next := r.Next.User
				if r.Next.Override {
					next += " (override)"
				}
				const layout = "Mon 2 Jan 15:04 MST"
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(r.Rotation), cell(who), r.Now.End.In(loc).Format(layout), cell(next), r.Next.Start.In(loc).Format(layout))
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&at, "at", "", "the moment to ask about, RFC 3339 (default now)")
	return cmd
}
