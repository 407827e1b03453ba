package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/test/e2e/harness"
	_ "modernc.org/sqlite"
)

// logTails prints each child's log once when its test fails; a restarted
// server appends to the log of the first run, so paths are deduplicated.
var logTails sync.Map // test name + "\x00" + path → struct{}

func printLogOnFailure(t *testing.T, what, path string) {
	t.Helper()
	if _, dup := logTails.LoadOrStore(t.Name()+"\x00"+path, struct{}{}); dup {
		return
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- tail of %s log %s:\n%s", what, path, harness.FileTail(path, 12000))
		}
	})
}

// startFirebreak runs `firebreak serve` on dataDir until the test ends.
func startFirebreak(t *testing.T, bin, dataDir string) *harness.Firebreak {
	t.Helper()
	o := harness.FirebreakOptions{Bin: bin, DataDir: dataDir}
	printLogOnFailure(t, "firebreak", dataDir+".log")
	fb, err := harness.StartFirebreak(context.Background(), o)
	if err != nil {
		t.Fatalf("start firebreak: %v", err)
	}
	t.Cleanup(func() { _ = fb.Kill() })
	return fb
}

func createIntegration(t *testing.T, fb *harness.Firebreak, source, name string) harness.Integration {
	t.Helper()
	in, err := fb.CreateIntegration(context.Background(), source, name)
	if err != nil {
		t.Fatalf("create %s integration: %v", source, err)
	}
	if !strings.HasPrefix(in.Key, "fbi_") {
		t.Errorf("integration key %q does not start with fbi_", in.Key)
	}
	return in
}

// alertmanagerBin finds or builds the pinned Alertmanager. Without one the
// test fails in CI and is skipped elsewhere.
func alertmanagerBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("E2E_ALERTMANAGER"); bin != "" {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin, err := harness.AlertmanagerBinary(ctx, repoRoot, nil)
	if err != nil {
		if inCI() {
			t.Fatalf("no Alertmanager binary: %v", err)
		}
		t.Skipf("no Alertmanager binary (scripts/alertmanager failed; set E2E_ALERTMANAGER=PATH to use one): %v", err)
	}
	return bin
}

func startAlertmanager(t *testing.T, bin, config string) *harness.Alertmanager {
	t.Helper()
	dir := t.TempDir()
	printLogOnFailure(t, "alertmanager", dir+"/alertmanager.log")
	am, err := harness.StartAlertmanager(context.Background(), harness.AlertmanagerOptions{
		Bin:    bin,
		Dir:    dir,
		Config: config,
		Args:   []string{"--log.level=debug"},
	})
	if err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	t.Cleanup(func() { _ = am.Kill() })
	return am
}

// waitFor polls check until it reports done, failing the test after timeout
// with the last state check described.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	state := "not checked yet"
	for {
		var done bool
		done, state = check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// storedFingerprints reads fingerprint → count from the alerts table of a
// SQLite database whose server is no longer running. A fingerprint that fired
// again after resolving has more than one row.
func storedFingerprints(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT fingerprint, SUM(count) FROM alerts GROUP BY fingerprint`)
	if err != nil {
		t.Fatalf("query alerts in %s: %v", path, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var fp string
		var n int64
		if err := rows.Scan(&fp, &n); err != nil {
			t.Fatalf("scan alerts: %v", err)
		}
		out[fp] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read alerts: %v", err)
	}
	return out
}

func describeIncidents(incs []harness.Incident) string {
	if len(incs) == 0 {
		return "no incidents"
	}
	var b strings.Builder
	for i, inc := range incs {
		if i == 10 {
			fmt.Fprintf(&b, " … and %d more", len(incs)-i)
			break
		}
		fmt.Fprintf(&b, "[#%s %q %s] ", inc.ID, inc.Title, inc.Status)
	}
	return b.String()
}
