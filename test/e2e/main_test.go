// Package e2e drives the real firebreak binary, and a real Alertmanager, as
// child processes on loopback ports: the intake contract as an operator and
// an Alertmanager see it, including a kill -9 in the middle of a stream.
//
// Environment:
//
//	E2E_FIREBREAK=PATH     use this firebreak binary instead of building ./cmd/firebreak
//	E2E_ALERTMANAGER=PATH  use this alertmanager instead of scripts/alertmanager
//	CI=true                a missing server or Alertmanager fails instead of skipping
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
)

var (
	repoRoot     string
	firebreakBin string
	buildErr     error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

// runMain builds the firebreak binary once for every test in the package.
func runMain(m *testing.M) int {
	if testing.Short() {
		return m.Run() // each test skips itself
	}
	repoRoot, buildErr = harness.RepoRoot()
	if buildErr != nil {
		return m.Run()
	}
	if bin := os.Getenv("E2E_FIREBREAK"); bin != "" {
		firebreakBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "firebreak-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	firebreakBin, buildErr = harness.BuildFirebreak(ctx, repoRoot, dir)
	cancel()
	return m.Run()
}

func inCI() bool { return os.Getenv("CI") == "true" }

// firebreak returns the binary under test; the test is skipped under
// -short and fails when the binary does not build.
func firebreak(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	if buildErr != nil {
		t.Fatalf("building firebreak: %v", buildErr)
	}
	return firebreakBin
}
