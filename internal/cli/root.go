// Package cli is Firebreak's command line: the server, migrations, and a
// client for the API that prints readable tables or, with --json, JSON.
package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/config"
)

// Run runs the firebreak command line with args (without the program name).
// What it prints for people, and the error it returns, have control
// characters escaped (see escape).
func Run(ctx context.Context, args []string, env *Env) error {
	out := &termWriter{w: env.Stdout}
	root := newRoot(env, out)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return &escapedError{err}
	}
	return nil
}

// escapedError shows an error's text, which may quote the server or an
// alert, with control characters escaped.
type escapedError struct{ err error }

func (e *escapedError) Error() string { return escape(e.err.Error(), true) }
func (e *escapedError) Unwrap() error { return e.err }

// globals are the flags every client command shares.
type globals struct {
	url, token string
	json       bool
}

func newRoot(env *Env, out *termWriter) *cobra.Command {
	// The client and playbook commands print data from elsewhere, so
	// their output goes through out; serve and migrate print only their
	// own words.
	term := *env
	term.Stdout = out
	g := &globals{}
	root := &cobra.Command{
		Use:           "firebreak",
		Short:         "Firebreak turns alerts into incidents and runs your Markdown playbook",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.url, "url", "", "Firebreak server URL (env FIREBREAK_URL, default http://127.0.0.1:8080)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "API token (env FIREBREAK_TOKEN, default firebreak-data/admin-token)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print JSON instead of a table")
	root.AddCommand(
		newServeCmd(env),
		newMigrateCmd(env),
		newTokenCmd(&term, g),
		newIntegrationCmd(&term, g),
		newIncidentsCmd(&term, g),
		newAlertCmd(&term, g),
		newStepsCmd(&term, g),
		newAutomationCmd(&term, g),
		newOncallCmd(&term, g),
		newUserCmd(&term, g),
		newCommsCmd(&term, g),
		newReviewCmd(&term, g),
		newReportCmd(&term, g),
		newPlaybookCmd(&term),
	)
	return root
}

// serverFlags are the settings that flags may override.
type serverFlags struct {
	config, db, listen, dataDir string
	playbooks                   []string
}

func (f *serverFlags) register(cmd *cobra.Command, withServe bool) {
	cmd.Flags().StringVar(&f.config, "config", "", "configuration file (env FIREBREAK_CONFIG)")
	cmd.Flags().StringVar(&f.db, "db", "", "database: a SQLite path or postgres://… URL (env FIREBREAK_DB; default DATA_DIR/firebreak.db)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "folder for the SQLite database and admin token (env FIREBREAK_DATA_DIR, default ./firebreak-data)")
	if withServe {
		cmd.Flags().StringVar(&f.listen, "listen", "", "address to listen on (env FIREBREAK_LISTEN, default 127.0.0.1:8080)")
		cmd.Flags().StringArrayVar(&f.playbooks, "playbooks", nil, "playbook file or folder, repeatable (env FIREBREAK_PLAYBOOKS, colon-separated; default the bundled example)")
	}
}

func (f *serverFlags) load(env *Env) (config.Config, error) {
	path := f.config
	if path == "" {
		path = env.Getenv("FIREBREAK_CONFIG")
	}
	c, err := config.Load(path, env.Getenv)
	if err != nil {
		return c, err
	}
	if f.db != "" {
		c.DB = f.db
	}
	if f.listen != "" {
		c.Listen = f.listen
	}
	if f.dataDir != "" {
		c.DataDir = f.dataDir
	}
	if len(f.playbooks) > 0 {
		c.Playbooks = f.playbooks
	}
	return c, c.Validate()
}

func newServeCmd(env *Env) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Firebreak server",
		Long: `Run the Firebreak server. With no flags and no config it keeps its data in
SQLite under ./firebreak-data/, listens on 127.0.0.1:8080 and runs the bundled
example playbook. The first start prints a bootstrap admin token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.load(env)
			if err != nil {
				return err
			}
			return app.Serve(cmd.Context(), c, env.Getenv, env.Now, env.Stdout, env.Stderr)
		},
	}
	f.register(cmd, true)
	return cmd
}

func newMigrateCmd(env *Env) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve does this on start too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.load(env)
			if err != nil {
				return err
			}
			s, err := app.OpenStore(cmd.Context(), &c)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintf(env.Stdout, "%s database is up to date\n", s.Engine())
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

// printJSON writes v as indented JSON.
func printJSON(env *Env, v any) error {
	return writeJSON(env.Stdout, v)
}

// parsePairs reads repeated k=v flags.
func parsePairs(flag string, pairs []string) (map[string]string, error) {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want key=value", flag, p)
		}
		out[k] = v
	}
	return out, nil
}
