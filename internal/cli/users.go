package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// userView is a user as the API returns it.
type userView struct {
	Name           string    `json:"name"`
	Role           string    `json:"role"`
	Source         string    `json:"source"`
	Email          string    `json:"email,omitempty"`
	SlackID        string    `json:"slack_id,omitempty"`
	TelegramChatID string    `json:"telegram_chat_id,omitempty"`
	TeamsWebhook   bool      `json:"teams_webhook"`
	Password       bool      `json:"password"`
	CreatedAt      time.Time `json:"created_at"`
}

// newUserCmd is `firebreak user`: the people who are paged, act from chat
// and sign in to the console.
func newUserCmd(env *Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users: who is paged, acts from chat and signs in to the console",
		Long: `Users of firebreak.yaml (users:) are managed there; these commands add users
beside them, link their chat accounts and set console passwords. Users of the
configuration take a password here, nothing else.`}
	var f struct {
		role, email, slack, telegram, teamsFile string
		passwordStdin                           bool
	}
	contactFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&f.email, "email", "", "email address for pages and Acknowledge links")
		c.Flags().StringVar(&f.slack, "slack-id", "", "Slack member ID (U…), whose presses of Slack buttons act as this user")
		c.Flags().StringVar(&f.telegram, "telegram-chat-id", "", "Telegram user or chat ID, whose presses of Telegram buttons act as this user")
		c.Flags().StringVar(&f.teamsFile, "teams-webhook-file", "", "file holding the user's Microsoft Teams webhook URL (a secret)")
		c.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read a console password from standard input")
	}
	readPassword := func() (string, error) {
		if !f.passwordStdin {
			return "", nil
		}
		line, err := bufio.NewReader(io.LimitReader(env.Stdin, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", fmt.Errorf("--password-stdin: standard input held no password")
		}
		return pw, nil
	}
	teamsURL := func() (string, error) {
		if f.teamsFile == "" {
			return "", nil
		}
		b, err := os.ReadFile(f.teamsFile)
		if err != nil {
			return "", fmt.Errorf("--teams-webhook-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	printUser := func(verb string, u userView) error {
		if g.json {
			return printJSON(env, map[string]any{"user": u})
		}
		fmt.Fprintf(env.Stdout, "%s user %s (%s).\n", verb, cell(u.Name), cell(u.Role))
		return nil
	}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Add a user",
		Example: `  firebreak user create ana --role responder --email ana@example.com --telegram-chat-id 123456789
  echo "$PASSWORD" | firebreak user create ana --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			pw, err := readPassword()
			if err != nil {
				return err
			}
			teams, err := teamsURL()
			if err != nil {
				return err
			}
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				User userView `json:"user"`
			}
			body := map[string]string{"name": a[0], "role": f.role, "email": f.email, "slack_id": f.slack,
				"telegram_chat_id": f.telegram, "teams_webhook": teams, "password": pw}
			if err := c.do(cmd.Context(), "POST", "/api/v1/users", body, &out); err != nil {
				return err
			}
			return printUser("Created", out.User)
		},
	}
	create.Flags().StringVar(&f.role, "role", "responder", "viewer, responder or admin")
	contactFlags(create)

	update := func(use, short string, args cobra.PositionalArgs, body func(a []string) (map[string]any, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, a []string) error {
				b, err := body(a)
				if err != nil {
					return err
				}
				c, err := newClient(env, g.url, g.token)
				if err != nil {
					return err
				}
				var out struct {
					User userView `json:"user"`
				}
				if err := c.do(cmd.Context(), "PATCH", "/api/v1/users/"+a[0], b, &out); err != nil {
					return err
				}
				return printUser("Updated", out.User)
			},
		}
	}
	var upd *cobra.Command
	upd = update("update NAME", "Change a user's role or contact methods", cobra.ExactArgs(1), func([]string) (map[string]any, error) {
		b := map[string]any{}
		fl := upd.Flags()
		for flag, field := range map[string]string{"role": "role", "email": "email", "slack-id": "slack_id", "telegram-chat-id": "telegram_chat_id"} {
			if v, err := fl.GetString(flag); err == nil && fl.Changed(flag) {
				b[field] = v
			}
		}
		if fl.Changed("teams-webhook-file") {
			u, err := teamsURL()
			if err != nil {
				return nil, err
			}
			b["teams_webhook"] = u
		}
		if f.passwordStdin {
			pw, err := readPassword()
			if err != nil {
				return nil, err
			}
			b["password"] = pw
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("nothing to change: give --role, --email, --slack-id, --telegram-chat-id, --teams-webhook-file or --password-stdin")
		}
		return b, nil
	})
	upd.Flags().String("role", "", "viewer, responder or admin")
	upd.Flags().String("email", "", "email address (empty to remove)")
	upd.Flags().String("slack-id", "", "Slack member ID (empty to unlink)")
	upd.Flags().String("telegram-chat-id", "", "Telegram user or chat ID (empty to unlink)")
	upd.Flags().StringVar(&f.teamsFile, "teams-webhook-file", "", "file holding the user's Microsoft Teams webhook URL")
	upd.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read a new console password from standard input")

	linkTelegram := update("link-telegram NAME CHAT_ID", "Link a Telegram account: its button presses act as the user, and pages can go to it",
		cobra.ExactArgs(2), func(a []string) (map[string]any, error) { return map[string]any{"telegram_chat_id": a[1]}, nil })
	linkTelegram.Long = `The CHAT_ID is the number Firebreak shows to an unlinked account that presses
a button ("Your Telegram account (123456789) is not linked…"). In a private
chat with the bot, the chat ID is the user's own ID.`
	linkSlack := update("link-slack NAME MEMBER_ID", "Link a Slack account (member ID U…): its button presses act as the user",
		cobra.ExactArgs(2), func(a []string) (map[string]any, error) { return map[string]any{"slack_id": a[1]}, nil })
	passwd := update("passwd NAME", "Set a user's console password, read from standard input", cobra.ExactArgs(1), func([]string) (map[string]any, error) {
		f.passwordStdin = true
		pw, err := readPassword()
		if err != nil {
			return nil, err
		}
		return map[string]any{"password": pw}, nil
	})

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			var out struct {
				Users []userView `json:"users"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/users", nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, out)
			}
			if len(out.Users) == 0 {
				fmt.Fprintln(env.Stdout, "No users yet: add them under users: in firebreak.yaml or with firebreak user create.")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tFROM\tEMAIL\tSLACK\tTELEGRAM\tTEAMS\tPASSWORD")
			yes := func(b bool) string {
				if b {
					return "yes"
				}
				return "-"
			}
			for _, u := range out.Users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(u.Name), cell(u.Role), cell(u.Source), dash(u.Email), dash(u.SlackID),
					dash(u.TelegramChatID), yes(u.TeamsWebhook), yes(u.Password))
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a user made with firebreak user create (and end their sessions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(env, g.url, g.token)
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "DELETE", "/api/v1/users/"+a[0], nil, nil); err != nil {
				return err
			}
			if g.json {
				return printJSON(env, map[string]any{"deleted": a[0]})
			}
			fmt.Fprintf(env.Stdout, "Deleted user %s.\n", cell(a[0]))
			return nil
		},
	}
	cmd.AddCommand(create, list, upd, linkTelegram, linkSlack, passwd, del)
	return cmd
}
