package shell

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stepDirPrefix starts the name of every scratch folder Run creates in
// os.TempDir().
const stepDirPrefix = "firebreak-step-"

// Reap cleans up after a step whose Firebreak process died, from the pgid
// and dir that Request.OnStart reported. It kills what is left of the
// process group with SIGKILL, then removes dir if it is a scratch folder
// Run created: firebreak-step-* directly in os.TempDir() (the same TMPDIR
// as when the step ran), and not a symbolic link. Any other dir is left in
// place and reported as an error; an empty dir skips that part.
//
// Process group numbers are reused once a group is empty, so after a crash
// pgid may name someone else's group. Reap therefore kills the group only
// if one of its live processes still carries $FB_STEP_DIR=dir, the step's
// random folder name, in its environment; otherwise the group is gone or
// not the step's, and is left alone. A step process that was started
// with a scrubbed environment (env -i) carries no marker and is not
// killed. Between the check and the kill the group would have to empty
// and its number be reused, which the kernel does not do while any member
// lives.
func Reap(pgid int, dir string) error {
	var errs []error
	switch {
	case pgid == 0:
	case pgid < 0 || pgid == 1 || pgid == syscall.Getpgrp():
		errs = append(errs, fmt.Errorf("shell: reap: refusing to kill process group %d", pgid))
	case dir == "":
		errs = append(errs, fmt.Errorf("shell: reap: process group %d: no folder to tell the step's processes by; not killed", pgid))
	case groupMarked(pgid, dir):
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("shell: reap: kill process group %d: %w", pgid, err))
		}
		// Let the group empty before the folder goes, so that nothing
		// writes into it afterwards.
		for deadline := time.Now().Add(2 * time.Second); !groupGone(pgid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if dir != "" {
		if err := removeStepDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeStepDir removes dir if it is one of Run's scratch folders.
func removeStepDir(dir string) error {
	clean := filepath.Clean(dir)
	base := filepath.Base(clean)
	if !filepath.IsAbs(dir) || filepath.Dir(clean) != filepath.Clean(os.TempDir()) ||
		!strings.HasPrefix(base, stepDirPrefix) || len(base) == len(stepDirPrefix) {
		return fmt.Errorf("shell: reap: %s is not a %s* folder in %s; left in place", dir, stepDirPrefix, os.TempDir())
	}
	fi, err := os.Lstat(clean)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shell: reap: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("shell: reap: %s is not a folder; left in place", dir)
	}
	if err := os.RemoveAll(clean); err != nil {
		return fmt.Errorf("shell: reap: %w", err)
	}
	return nil
}

// groupMarked reports whether a live process of the group has
// $FB_STEP_DIR=dir in its environment.
func groupMarked(pgid int, dir string) bool {
	marker := []byte(StepDirVar + "=" + dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		state, gid, ok := parseStat(stat)
		if !ok || gid != pgid || state == 'Z' || state == 'X' {
			continue
		}
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if bytes.Equal(kv, marker) {
				return true
			}
		}
	}
	return false
}
