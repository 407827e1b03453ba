package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestOnStartReportsGroupAndFolder(t *testing.T) {
	t.Parallel()
	var pgid int
	var dir string
	res := run(t, &Runner{}, Request{
		Script: `echo "$$ $(ps -o pgid= -p $$ | tr -d ' ') $PWD $FB_STEP_DIR"`,
		OnStart: func(p int, d string) {
			pgid, dir = p, d
		},
	})
	want := strings.Join([]string{strconv.Itoa(pgid), strconv.Itoa(pgid), dir, dir}, " ") + "\n"
	if !res.OK() || res.Output != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
	if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), "firebreak-step-") {
		t.Errorf("dir %q is not a firebreak-step-* folder in %s", dir, os.TempDir())
	}
}

// startOrphanGroup stands in for a step left behind by a crashed server: a
// process group, leader gone, whose members carry the step's marker.
func startOrphanGroup(t *testing.T, dir string) (pgid int, members []int) {
	t.Helper()
	pids := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command("/bin/bash", "-c", `sleep 300 & echo $! >> "$1"; (sleep 300; touch late) & echo $! >> "$1"`, "bash", pids)
	cmd.Env = (&Runner{}).environ(nil, dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil { // the leader exits; its children live on
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	for _, f := range strings.Fields(readFile(t, pids)) {
		pid, _ := strconv.Atoi(f)
		members = append(members, pid)
	}
	if len(members) != 2 || !alive(members[0]) || !alive(members[1]) {
		t.Fatalf("orphan group members %v are not running", members)
	}
	return cmd.Process.Pid, members
}

func TestReapKillsGroupAndRemovesFolder(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "firebreak-step-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "partial-output"), []byte("x"), 0o600)
	pgid, members := startOrphanGroup(t, dir)

	if err := Reap(pgid, dir); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	assertAllGone(t, members)
	if !groupGone(pgid) {
		t.Errorf("process group %d still has live members", pgid)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists (%v)", dir, err)
	}
	// Reaping again, as a recovery that is itself interrupted would, is fine.
	if err := Reap(pgid, dir); err != nil {
		t.Errorf("second Reap: %v", err)
	}
}

func TestReapLeavesOtherGroupsAlone(t *testing.T) {
	t.Parallel()
	// The recorded group number now belongs to processes that do not
	// carry the recorded folder: pgid reuse after a crash.
	theirs, err := os.MkdirTemp("", "firebreak-step-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(theirs)
	pgid, members := startOrphanGroup(t, theirs)
	recorded := filepath.Join(os.TempDir(), "firebreak-step-recorded-long-ago")
	if err := Reap(pgid, recorded); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	for _, pid := range members {
		if !alive(pid) {
			t.Errorf("Reap killed %d, which does not carry the recorded folder", pid)
		}
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Errorf("their folder: %v", err)
	}
}

func TestReapRefuses(t *testing.T) {
	t.Parallel()
	outside := t.TempDir() // under os.TempDir(), but not firebreak-step-*
	nested := filepath.Join(outside, "firebreak-step-nested")
	os.Mkdir(nested, 0o700)
	link := filepath.Join(os.TempDir(), "firebreak-step-link-"+strconv.Itoa(os.Getpid()))
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	for _, dir := range []string{outside, nested, link, "/", os.TempDir(), filepath.Join(os.TempDir(), "firebreak-step-"), "firebreak-step-relative", filepath.Join(os.TempDir(), "firebreak-step-x", "..", filepath.Base(outside))} {
		if err := Reap(0, dir); err == nil || !strings.Contains(err.Error(), "left in place") {
			t.Errorf("Reap(0, %q) = %v, want a refusal", dir, err)
		}
	}
	for _, p := range []string{outside, nested, link} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	for _, pgid := range []int{-1, 1, syscall.Getpgrp()} {
		if err := Reap(pgid, ""); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Reap(%d) = %v, want a refusal", pgid, err)
		}
	}
	if err := Reap(12345, ""); err == nil || !strings.Contains(err.Error(), "not killed") {
		t.Errorf("Reap without a folder = %v, want a refusal to kill", err)
	}
}

func TestReapAfterFinishedRun(t *testing.T) {
	t.Parallel()
	// Recovery may find steps that did finish: what OnStart recorded is
	// then gone, and Reap has nothing to do.
	var pgid int
	var dir string
	run(t, &Runner{}, Request{Script: "sleep 300 & echo up", OnStart: func(p int, d string) { pgid, dir = p, d }})
	if err := Reap(pgid, dir); err != nil {
		t.Errorf("Reap(%d, %s) after the run: %v", pgid, dir, err)
	}
}
