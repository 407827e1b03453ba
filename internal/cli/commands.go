package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firebreak-dev/firebreak/internal/auth"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/phase"
)

type created struct {
	auth.Token
	Key string `json:"key"`
}

// createSecret posts a token or integration key request; with --json it
// prints the answer itself.
func createSecret(cmd *cobra.Command, env *Env, g *globals, path string, body map[string]string) (*created, *client, error) {
	c, err := newClient(env, g.url, g.token)
	if err != nil {
		return nil, nil, err
	}
	var out created
	if err := c.do(cmd.Context(), "POST", path, body, &out); err != nil {
		return nil, nil, err
	}
	if g.json {
		return &out, c, printJSON(env, out)
	}
	return &out, c, nil
}

func newTokenCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var name, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token for a person or tool",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _, err := createSecret(cmd, env, g, "/api/v1/tokens", map[string]string{"name": name, "role": role})
			if err != nil || g.json {
				return err
			}
			fmt.Fprintf(env.Stdout, "Created %s token %q (id %d). It is shown once; store it now:\n  %s\n", cell(string(out.Role)), out.Name, out.ID, cell(out.Key))
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "who or what the token is for (required)")
	create.Flags().StringVar(&role, "role", "viewer", "viewer, responder or admin")
	create.MarkFlagRequired("name")
	cmd.AddCommand(create, listCmd(env, g, "/api/v1/tokens", "tokens"), revokeCmd(env, g, "/api/v1/tokens/"))
	return cmd
}

func newIntegrationCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "integration", Short: "Manage integration keys for alert sources"}
	var name, source string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an integration key that may only post alerts of one source",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, c, err := createSecret(cmd, env, g, "/api/v1/integrations", map[string]string{"name": name, "source": source})
			if err != nil || g.json {
				return err
			}
			path := "/api/v1/ingest/" + source
			fmt.Fprintf(env.Stdout, "Created %s integration %q (id %d). The key is shown once; store it now:\n  %s\n\n", cell(string(out.Source)), out.Name, out.ID, cell(out.Key))
			if source == "pagerduty" {
				fmt.Fprintf(env.Stdout, "Send events to %s/v2/enqueue with this key as routing_key.\n", c.base)
			} else {
				fmt.Fprintf(env.Stdout, "Send alerts to %s%s with the header\n  Authorization: Bearer <key>\n", c.base, path)
			}
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the integration, such as prod-am (required)")
	create.Flags().StringVar(&source, "source", "", "alertmanager, pagerduty, grafana or generic (required)")
	create.MarkFlagRequired("name")
	create.MarkFlagRequired("source")
	cmd.AddCommand(create, listCmd(env, g, "/api/v1/integrations", "integrations"), revokeCmd(env, g, "/api/v1/integrations/"))
	return cmd
}

func listCmd(env *Env, g *globals, path, key string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List " + key,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out map[string][]auth.Token
			if err := c.do(cmd.Context(), "GET", path, nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tSOURCE\tPREFIX\tCREATED\tSTATE")
			for _, t := range out[key] {
				state := "live"
				if !t.RevokedAt.IsZero() {
					state = "revoked " + t.RevokedAt.Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s…\t%s\t%s\n", t.ID, cell(t.Name), cell(string(t.Role)), dash(string(t.Source)), cell(t.Prefix), t.CreatedAt.Format(time.DateTime), state)
			}
			return tw.Flush()
		},
	}
}

func revokeCmd(env *Env, g *globals, path string) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token or key by id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("ID: %q is not a number", args[0])
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "DELETE", path+strconv.FormatInt(id, 10), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Revoked %d\n", id)
			return nil
		},
	}
}

// dash is cell, with "-" for nothing.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}

func newIncidentsCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "incidents", Aliases: []string{"incident", "inc"}, Short: "List, show and act on incidents"}

	var status, severity, service, cursor string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"status": status, "severity": severity, "service": service, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(limit))
			var out struct {
				Incidents  []incident.Incident `json:"incidents"`
				NextCursor string              `json:"next_cursor"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			if len(out.Incidents) == 0 {
				fmt.Fprintln(env.Stdout, "No incidents.")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tSERVICE\tALERTS\tSTARTED\tRESPONDER\tTITLE")
			for _, i := range out.Incidents {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", i.ID, cell(string(i.Status)), cell(string(i.Severity)), dash(i.Service),
					i.FiringCount, i.AlertCount, ago(i.StartedAt), dash(i.Responder), clip(i.Title, 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if out.NextCursor != "" {
				fmt.Fprintf(env.Stdout, "\nMore: firebreak incidents list --cursor %s\n", cell(out.NextCursor))
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "triggered, acknowledged, resolved or open (comma-separated)")
	list.Flags().StringVar(&severity, "severity", "", "critical, warning or info (comma-separated)")
	list.Flags().StringVar(&service, "service", "", "only this service")
	list.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	list.Flags().IntVar(&limit, "limit", 50, "incidents per page (1-500)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its alerts and timeline",
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
			var detail struct {
				Incident incident.Incident `json:"incident"`
				Alerts   []incident.Alert  `json:"alerts"`
				Phases   *phase.Status     `json:"phases"`
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id, nil, &raw); err != nil {
				return err
			}
			var tl struct {
				Timeline []incident.TimelineEntry `json:"timeline"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/timeline", nil, &tl); err != nil {
				return err
			}
			if g.json {
				var m map[string]any
				json.Unmarshal(raw, &m)
				m["timeline"] = tl.Timeline
				return printJSON(env, m)
			}
			if err := json.Unmarshal(raw, &detail); err != nil {
				return err
			}
			printIncident(env, &detail.Incident, detail.Alerts, tl.Timeline)
			if detail.Phases != nil {
				fmt.Fprintln(env.Stdout)
				printPhases(env, detail.Phases)
			}
			return nil
		},
	}

	cmd.AddCommand(list, show,
		actionCmd(env, g, "ack", "Acknowledge an incident", "ack", nil),
		actionCmd(env, g, "resolve", "Resolve an incident (its firing alerts are closed)", "resolve", nil),
		actionCmd(env, g, "reopen", "Reopen a resolved incident", "reopen", nil),
		actionCmd(env, g, "note", "Add a note to an incident's timeline", "notes", func(args []string) (any, error) {
			if len(args) == 0 {
				return nil, fmt.Errorf("give the note's text after the incident id")
			}
			return map[string]string{"text": strings.Join(args, " ")}, nil
		}),
		actionCmd(env, g, "assign", "Assign an incident to a responder", "assign", func(args []string) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("give one responder name after the incident id")
			}
			return map[string]string{"responder": args[0]}, nil
		}),
		actionCmd(env, g, "escalate", "Page the next level of the escalation matrix now (optionally with a reason)", "escalate", func(args []string) (any, error) {
			return map[string]string{"text": strings.Join(args, " ")}, nil
		}),
		updateCmd(env, g),
		phaseCmd(env, g),
	)
	return cmd
}

func incidentID(s string) (string, error) {
	s = strings.TrimPrefix(s, "#")
	if n, err := strconv.ParseInt(s, 10, 64); err != nil || n <= 0 {
		return "", fmt.Errorf("INCIDENT: %q is not an incident id (a positive number)", s)
	}
	return s, nil
}

func actionCmd(env *Env, g *globals, use, short, path string, body func([]string) (any, error)) *cobra.Command {
	args := cobra.ExactArgs(1)
	usage := use + " INCIDENT"
	if body != nil {
		args = cobra.MinimumNArgs(1)
		usage += " TEXT…"
	}
	return &cobra.Command{
		Use:   usage,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			var in any
			if body != nil {
				if in, err = body(a[1:]); err != nil {
					return err
				}
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Incident incident.Incident `json:"incident"`
			}
			if err := c.do(cmd.Context(), "POST", "/api/v1/incidents/"+id+"/"+path, in, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			switch use {
			case "note": // a note leaves the status as it was: confirm the note
				fmt.Fprintf(env.Stdout, "Noted on incident %d.\n", out.Incident.ID)
				return nil
			case "escalate":
				fmt.Fprintf(env.Stdout, "Escalated incident %d; `firebreak incidents show %d` lists who was paged.\n", out.Incident.ID, out.Incident.ID)
				return nil
			}
			fmt.Fprintf(env.Stdout, "Incident %d is %s: %s\n", out.Incident.ID, cell(string(out.Incident.Status)), cell(out.Incident.Title))
			return nil
		},
	}
}

func updateCmd(env *Env, g *globals) *cobra.Command {
	var impact, eta string
	cmd := &cobra.Command{
		Use:   "update INCIDENT",
		Short: "Set an incident's impact and ETA",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			body := map[string]string{}
			if cmd.Flags().Changed("impact") {
				body["impact"] = impact
			}
			if cmd.Flags().Changed("eta") {
				body["eta"] = eta
			}
			if len(body) == 0 {
				return fmt.Errorf("give --impact, --eta or both")
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Incident incident.Incident `json:"incident"`
			}
			if err := c.do(cmd.Context(), "PATCH", "/api/v1/incidents/"+id, body, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			fmt.Fprintf(env.Stdout, "Incident %d: impact %q, ETA %q\n", out.Incident.ID, out.Incident.Impact, out.Incident.ETA)
			return nil
		},
	}
	cmd.Flags().StringVar(&impact, "impact", "", "a brief description of the impact")
	cmd.Flags().StringVar(&eta, "eta", "", "estimated resolution time")
	return cmd
}

func printIncident(env *Env, i *incident.Incident, alerts []incident.Alert, tl []incident.TimelineEntry) {
	w := env.Stdout
	fmt.Fprintf(w, "Incident %d: %s\n", i.ID, cell(i.Title))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, cell(v))
		}
	}
	row("Status", string(i.Status))
	row("Severity", string(i.Severity))
	row("Service", i.Service)
	row("Responder", i.Responder)
	row("Impact", i.Impact)
	row("ETA", i.ETA)
	row("Started", i.StartedAt.Local().Format(time.DateTime)+" ("+ago(i.StartedAt)+")")
	if !i.AcknowledgedAt.IsZero() {
		row("Acknowledged", i.AcknowledgedAt.Local().Format(time.DateTime))
	}
	if !i.ResolvedAt.IsZero() {
		row("Resolved", i.ResolvedAt.Local().Format(time.DateTime))
	}
	row("Alerts", fmt.Sprintf("%d firing of %d, %d repeats", i.FiringCount, i.AlertCount, i.Repeats))
	tw.Flush()
	if len(alerts) > 0 {
		fmt.Fprintln(w, "\nAlerts:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  STATUS\tSEVERITY\tNAME\tCOUNT\tSUMMARY")
		for _, a := range alerts {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", cell(string(a.Status)), cell(string(a.Severity)), cell(a.Name), a.Count, clip(a.Summary, 70))
		}
		tw.Flush()
		if len(alerts) < i.AlertCount {
			fmt.Fprintf(w, "  … and %d more (GET /api/v1/incidents/%d/alerts)\n", i.AlertCount-len(alerts), i.ID)
		}
	}
	if len(tl) > 0 {
		fmt.Fprintln(w, "\nTimeline:")
		for _, e := range tl {
			fmt.Fprintf(w, "  %s  %-10s  %s\n", e.At.Local().Format("15:04:05"), clip(e.Actor, 10), strings.ReplaceAll(escape(e.Message, true), "\n", "\n    "))
		}
	}
}

func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return t.Local().Format("2006-01-02")
}

// clip is cell for a column of at most n characters (before escaping).
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return cell(s)
}

func newAlertCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Send alerts by hand"}
	var (
		name, severity, summary, service, fingerprint string
		labels, annotations                           []string
		resolve                                       bool
	)
	send := &cobra.Command{
		Use:   "send",
		Short: "Send an alert through the generic intake, as a monitoring tool would",
		Example: `  firebreak alert send --name HighQueueDepth --severity critical --label service=job-worker
  firebreak alert send --name HighQueueDepth --label service=job-worker --resolve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := parsePairs("label", labels)
			if err != nil {
				return err
			}
			a, err := parsePairs("annotation", annotations)
			if err != nil {
				return err
			}
			alert := map[string]any{"name": name, "severity": severity, "labels": l}
			if len(a) > 0 {
				alert["annotations"] = a
			}
			for k, v := range map[string]string{"summary": summary, "service": service, "fingerprint": fingerprint} {
				if v != "" {
					alert[k] = v
				}
			}
			if resolve {
				alert["status"] = "resolved"
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Alerts    int                      `json:"alerts"`
				Outcomes  map[incident.Outcome]int `json:"outcomes"`
				Incidents []int64                  `json:"incidents"`
			}
			if err := c.do(cmd.Context(), "POST", "/api/v1/ingest/generic", alert, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			for o := range out.Outcomes {
				msg := map[incident.Outcome]string{
					incident.OutcomeOpened: "opened incident", incident.OutcomeGrouped: "joined incident",
					incident.OutcomeRepeat: "repeat of a firing alert in incident", incident.OutcomeResolved: "resolved alert in incident",
					incident.OutcomeIgnored: "nothing to resolve: no such alert is firing",
				}[o]
				if msg == "" {
					msg = string(o)
				}
				if len(out.Incidents) > 0 && o != incident.OutcomeIgnored {
					fmt.Fprintf(env.Stdout, "%s: %s %d\n", name, msg, out.Incidents[0])
				} else {
					fmt.Fprintf(env.Stdout, "%s: %s\n", name, msg)
				}
			}
			return nil
		},
	}
	f := send.Flags()
	f.StringVar(&name, "name", "", "alert name, the alertname label (required)")
	f.StringVar(&severity, "severity", "warning", "critical, warning or info")
	f.StringVar(&summary, "summary", "", "one-line summary")
	f.StringVar(&service, "service", "", "service label")
	f.StringVar(&fingerprint, "fingerprint", "", "identity of the alert (default: a hash of its labels)")
	f.StringArrayVar(&labels, "label", nil, "label key=value, repeatable")
	f.StringArrayVar(&annotations, "annotation", nil, "annotation key=value, repeatable")
	f.BoolVar(&resolve, "resolve", false, "send the alert as resolved")
	send.MarkFlagRequired("name")
	cmd.AddCommand(send)
	return cmd
}
