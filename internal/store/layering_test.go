package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The storage seam stays light: the store packages import the domain and
// the database drivers, never an executor, the playbook parser or what
// those pull in (client-go, PostgreSQL's parser, the shell parser). The
// pure domain packages import no other Firebreak package but each other.
func TestLayering(t *testing.T) {
	deps := func(pkgs ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", pkgs, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/firebreak-dev/firebreak/internal/"
	for _, d := range deps(mod + "store/...") {
		for _, bad := range []string{"k8s.io/client-go", "github.com/pganalyze/pg_query_go", "mvdan.cc/sh", mod + "playbook", mod + "executor", mod + "automation", mod + "httpapi"} {
			if strings.HasPrefix(d, bad) {
				t.Errorf("the store packages depend on %s", d)
			}
		}
	}
	allowed := map[string]bool{mod + "incident": true, mod + "run": true, mod + "auth": true, mod + "job": true, mod + "oncall": true}
	for _, d := range deps(mod+"incident", mod+"run", mod+"auth", mod+"job", mod+"oncall") {
		if strings.HasPrefix(d, mod) && !allowed[d] {
			t.Errorf("a domain package depends on %s", d)
		}
	}
}
