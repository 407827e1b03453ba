package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/comms"
	"github.com/firebreak-dev/firebreak/internal/incident"
)

// newCommsCmd is `firebreak comms`: customer communication, drafted from
// the playbook's template and sent only when a responder says so.
func newCommsCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "comms", Short: "Draft customer communication and send it by hand",
		Long: `Firebreak never writes to customers by itself. comms draft fills the playbook's
customer template with what the incident knows; edit what it could not know,
then comms send releases it through a customer channel (notify.customer).`}
	var subject, bodyFile, channel string
	readBody := func() (string, error) {
		if bodyFile == "" {
			return "", nil
		}
		var b []byte
		var err error
		if bodyFile == "-" {
			b, err = io.ReadAll(io.LimitReader(env.Stdin, maxCommBody+1))
		} else {
			b, err = os.ReadFile(bodyFile)
		}
		if err != nil {
			return "", fmt.Errorf("--body-file: %w", err)
		}
		return string(b), nil
	}
	printComm := func(c incident.Communication) {
		fmt.Fprintf(env.Stdout, "Communication %d (%s) for incident %d\nSubject: %s\n\n%s\n", c.ID, c.Status, c.IncidentID, cell(c.Subject), escape(c.Body, true))
		if strings.Contains(c.Body+c.Subject, "not yet known") {
			fmt.Fprintf(env.Stdout, "\nSome fields read \"not yet known\": edit them with `firebreak comms edit %d --body-file FILE` before sending.\n", c.ID)
		}
	}
	list := &cobra.Command{
		Use: "list INCIDENT", Short: "List an incident's communications and the template's suggestion", Args: cobra.ExactArgs(1),
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
				Communications []incident.Communication `json:"communications"`
				Channels       []string                 `json:"channels"`
				Suggestion     *comms.Suggestion        `json:"suggestion"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+id+"/communications", nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			if len(out.Communications) == 0 {
				fmt.Fprintf(env.Stdout, "No customer communication yet. `firebreak comms draft %s` starts one from the template.\n", id)
			} else {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tCHANNEL\tBY\tUPDATED\tSUBJECT")
				for _, m := range out.Communications {
					by := m.CreatedBy
					if m.SentBy != "" {
						by = m.SentBy
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Status, dash(m.Channel), cell(by), m.UpdatedAt.Format(time.DateTime), cell(m.Subject))
				}
				tw.Flush()
			}
			fmt.Fprintf(env.Stdout, "\nCustomer channels: %s\n", orDash(strings.Join(out.Channels, ", ")))
			return nil
		},
	}
	draft := &cobra.Command{
		Use: "draft INCIDENT", Short: "Draft a communication from the customer template (nothing is sent)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := incidentID(a[0])
			if err != nil {
				return err
			}
			body, err := readBody()
			if err != nil {
				return err
			}
			var out struct {
				Communication incident.Communication `json:"communication"`
			}
			if err := commsCall(cmd.Context(), env, g, "POST", "/api/v1/incidents/"+id+"/communications", comms.DraftParams{Subject: subject, Body: body}, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			printComm(out.Communication)
			return nil
		},
	}
	edit := &cobra.Command{
		Use: "edit ID", Short: "Change a draft's subject or body", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			body, err := readBody()
			if err != nil {
				return err
			}
			if subject == "" && body == "" {
				return fmt.Errorf("nothing to change: give --subject or --body-file")
			}
			var out struct {
				Communication incident.Communication `json:"communication"`
			}
			if err := commsCall(cmd.Context(), env, g, "PATCH", "/api/v1/communications/"+a[0], comms.DraftParams{Subject: subject, Body: body}, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			printComm(out.Communication)
			return nil
		},
	}
	send := &cobra.Command{
		Use: "send ID --channel NAME", Short: "Send a draft to customers through a customer channel", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := strconv.ParseInt(a[0], 10, 64); err != nil {
				return fmt.Errorf("ID: %q is not a communication id", a[0])
			}
			var out struct {
				Communication incident.Communication `json:"communication"`
			}
			if err := commsCall(cmd.Context(), env, g, "POST", "/api/v1/communications/"+a[0]+"/send", map[string]string{"channel": channel}, &out); err != nil {
				return err
			}
			// The send is a durable job: wait a little for its outcome.
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			m := out.Communication
			for i := 0; i < 40 && m.Status == incident.CommQueued; i++ {
				time.Sleep(250 * time.Millisecond)
				var list struct {
					Communications []incident.Communication `json:"communications"`
				}
				if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/api/v1/incidents/%d/communications", m.IncidentID), nil, &list); err != nil {
					return err
				}
				for _, x := range list.Communications {
					if x.ID == m.ID {
						m = x
					}
				}
			}
			if g.json {
				return printJSON(env, map[string]any{"communication": m})
			}
			switch m.Status {
			case incident.CommSent:
				fmt.Fprintf(env.Stdout, "Sent communication %d through %s.\n", m.ID, cell(m.Channel))
			case incident.CommFailed:
				return fmt.Errorf("communication %d could not be sent through %s: %s", m.ID, m.Channel, m.Error)
			default:
				fmt.Fprintf(env.Stdout, "Communication %d is queued to go out through %s; `firebreak comms list %d` shows when it has.\n", m.ID, cell(m.Channel), m.IncidentID)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{draft, edit} {
		c.Flags().StringVar(&subject, "subject", "", "the subject line (default: the template's)")
		c.Flags().StringVar(&bodyFile, "body-file", "", "a file holding the text, or - for standard input (default: the template's)")
	}
	send.Flags().StringVar(&channel, "channel", "", "the customer channel to send through (required)")
	send.MarkFlagRequired("channel")
	cmd.AddCommand(list, draft, edit, send)
	return cmd
}

const maxCommBody = 20000

func commsCall(ctx context.Context, env *Env, g *globals, method, path string, in, out any) error {
	c, err := newClient(env, g.url, g.token)
	if err != nil {
		return err
	}
	return c.do(ctx, method, path, in, out)
}

func orDash(s string) string {
	if s == "" {
		return "none (set notify.customer, or add an email or webhook channel)"
	}
	return s
}
