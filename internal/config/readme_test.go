package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/config"
)

// Every firebreak.yaml shown in the README loads and validates, so that a
// user who copies one gets a server that starts.
func TestREADMEConfigurationsLoad(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	checked := 0
	for _, m := range blocks {
		body := m[1]
		if strings.Contains(body, "receivers:") || strings.Contains(body, "webhook_configs:") {
			continue // Alertmanager's configuration, not ours
		}
		checked++
		c, err := config.Load(write(t, body), env(nil))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("README block %d does not load: %v\n%s", checked, err, body)
		}
	}
	if checked < 2 {
		t.Fatalf("found %d firebreak.yaml blocks in the README; want the configuration and the paging example", checked)
	}
}
