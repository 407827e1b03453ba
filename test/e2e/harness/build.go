package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is the module path the repository root is recognised by.
const Module = "github.com/firebreak-dev/firebreak"

// ErrNoServer means the repository has no cmd/firebreak to build yet.
var ErrNoServer = errors.New("cmd/firebreak has no Go files yet")

// RepoRoot finds the repository root by walking up from the working
// directory to the go.mod that declares Module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module "+Module)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for %s above the working directory", Module)
		}
		dir = parent
	}
}

// BuildFirebreak builds ./cmd/firebreak into dir and returns the binary's
// path. The error carries the compiler's output.
func BuildFirebreak(ctx context.Context, root, dir string) (string, error) {
	if m, _ := filepath.Glob(filepath.Join(root, "cmd", "firebreak", "*.go")); len(m) == 0 {
		return "", ErrNoServer
	}
	bin := filepath.Join(dir, "firebreak")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/firebreak")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/firebreak: %w\n%s", err, out)
	}
	return bin, nil
}

// AlertmanagerBinary returns the path printed by scripts/alertmanager, which
// builds the pinned Alertmanager on first use (a few minutes) and caches it.
// The script's progress is copied to progress, which may be nil.
func AlertmanagerBinary(ctx context.Context, root string, progress io.Writer) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "alertmanager"))
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/alertmanager: %w\n%s", err, tail(stderr.String(), 4000))
	}
	path := strings.TrimSpace(stdout.String())
	if path == "" {
		return "", errors.New("scripts/alertmanager printed no path")
	}
	return path, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
