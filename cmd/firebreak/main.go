// Command firebreak is the incident-response engine: `firebreak serve`
// runs it, the other commands manage and query it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/firebreak-dev/firebreak/internal/cli"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "firebreak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Run(ctx, args, &cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv})
}
