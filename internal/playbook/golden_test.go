package playbook

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/firebreak-dev/firebreak/examples"
)

var update = flag.Bool("update", false, "rewrite golden files")

// parseReference parses the bundled reference document, byte for byte.
func parseReference(t testing.TB) *Playbook {
	t.Helper()
	pb, err := Parse(examples.TelegramPlatformPlaybookPath, examples.TelegramPlatformPlaybook)
	if err != nil {
		t.Fatalf("parse reference: %v", err)
	}
	return pb
}

func TestReferenceMatchesRepositoryCopy(t *testing.T) {
	t.Parallel()
	disk, err := os.ReadFile(filepath.Join("..", "..", examples.TelegramPlatformPlaybookPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, examples.TelegramPlatformPlaybook) {
		t.Fatal("embedded reference differs from the file on disk")
	}
	if !bytes.Contains(disk, []byte("ðŸ”´ CRITICAL")) {
		t.Fatal("reference lost its mis-encoded emoji; it must stay byte for byte")
	}
}

func TestGoldenReference(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	got, err := json.MarshalIndent(pb, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "telegram-platform.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenReference -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("parsed reference differs from %s; run with -update and review the diff", golden)
	}
}

// TestReferenceStructure states the shape of the reference by hand, so the
// golden file cannot drift unnoticed.
func TestReferenceStructure(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	if pb.ID != "telegram-platform" {
		t.Errorf("ID = %q", pb.ID)
	}
	type proc struct {
		key, title, cond, sev string
		sections              []string
	}
	sections := []string{"assessment", "immediate-actions", "investigation", "recovery"}
	want := []proc{
		{"high-api-error-rate", "High API Error Rate", ">5%", "critical", sections},
		{"low-message-success-rate", "Low Message Success Rate", "<90%", "critical", sections},
		{"high-queue-depth", "High Queue Depth", ">1000", "critical", sections},
		{"high-database-cpu", "High Database CPU", ">80%", "warning", sections},
		{"high-license-usage", "High License Usage", ">90%", "warning", sections},
		{"high-failed-login-rate", "High Failed Login Rate", "", "critical", sections},
		{"service-down", "Service Down", "", "warning", sections},
	}
	if len(pb.Procedures) != len(want) {
		t.Fatalf("%d procedures, want %d", len(pb.Procedures), len(want))
	}
	for i, w := range want {
		p := pb.Procedures[i]
		if p.Key != w.key || p.Title != w.title || p.Condition != w.cond || string(p.Severity) != w.sev {
			t.Errorf("procedure %d = %q %q %q %q, want %v", i, p.Key, p.Title, p.Condition, p.Severity, w)
		}
		var keys []string
		for _, s := range p.Sections {
			keys = append(keys, s.Key)
		}
		if len(keys) != len(w.sections) {
			t.Errorf("%s sections %v", p.Key, keys)
		}
	}

	// Task kinds, section by section, for every procedure.
	kinds := map[string]string{
		"high-api-error-rate":      "ccc|sss|sCC|CCCC",
		"low-message-success-rate": "ccc|sms|sCCC|CCCC",
		"high-queue-depth":         "ccc|sms|sCCC|CCCC",
		"high-database-cpu":        "ccc|sss|sCCC|CCCC",
		"high-license-usage":       "ccc|smm|sCCC|CCCC",
		"high-failed-login-rate":   "ccc|ssm|sCCC|CCCC",
		"service-down":             "ccc|sss|sCCC|CCCC",
	}
	letter := map[TaskKind]string{KindStep: "s", KindManual: "m", KindChecklist: "C"}
	for _, p := range pb.Procedures {
		got := ""
		for i, s := range p.Sections {
			if i > 0 {
				got += "|"
			}
			for _, tk := range s.Tasks {
				l := letter[tk.Kind]
				if s.Key == "assessment" {
					l = "c"
				}
				got += l
			}
		}
		if got != kinds[p.Key] {
			t.Errorf("%s task kinds = %s, want %s", p.Key, got, kinds[p.Key])
		}
	}

	// Steps: executor and risk of every one.
	steps := map[string]string{
		"high-api-error-rate/immediate-actions/1":      "kube write Scale up resources",
		"high-api-error-rate/immediate-actions/2":      "sql read Check database connections",
		"high-api-error-rate/immediate-actions/3":      "kube write Restart problematic services",
		"high-api-error-rate/investigation/1":          "kube read Check application logs for error patterns",
		"low-message-success-rate/immediate-actions/1": "sql write Pause failing campaigns",
		"low-message-success-rate/immediate-actions/3": "kube write Scale message processing workers",
		"low-message-success-rate/investigation/1":     "sql read Analyze failed message logs",
		"high-queue-depth/immediate-actions/1":         "kube write Scale job workers",
		"high-queue-depth/immediate-actions/3":         "sql read Check for stuck jobs",
		"high-queue-depth/investigation/1":             "sql read Analyze job failure patterns",
		"high-database-cpu/immediate-actions/1":        "sql read Check for long-running queries",
		"high-database-cpu/immediate-actions/2":        "sql write Kill problematic queries if needed",
		"high-database-cpu/immediate-actions/3":        "kube write Scale database resources",
		"high-database-cpu/investigation/1":            "sql write Analyze query performance",
		"high-license-usage/immediate-actions/1":       "sql write Notify affected users",
		"high-license-usage/investigation/1":           "sql read Analyze usage patterns",
		"high-failed-login-rate/immediate-actions/1":   "shell write Enable rate limiting",
		"high-failed-login-rate/immediate-actions/2":   "sql write Temporarily lock suspicious accounts",
		"high-failed-login-rate/investigation/1":       "sql read Analyze attack patterns",
		"service-down/immediate-actions/1":             "kube read Check pod status",
		"service-down/immediate-actions/2":             "kube write Restart failed services",
		"service-down/immediate-actions/3":             "kube read Check resource constraints",
		"service-down/investigation/1":                 "kube read Review container logs",
	}
	n := 0
	for _, p := range pb.Procedures {
		for _, tk := range p.Tasks() {
			if tk.Step == nil {
				continue
			}
			n++
			key := p.Key + "/" + tk.Key
			got := string(tk.Step.Executor) + " " + string(tk.Step.Risk) + " " + tk.Step.Name
			if steps[key] != got {
				t.Errorf("%s = %q, want %q", key, got, steps[key])
			}
		}
	}
	if n != len(steps) {
		t.Errorf("%d steps, want %d", n, len(steps))
	}

	pod := pb.Procedure("service-down").Task("immediate-actions/1").Step
	if len(pod.Commands) != 2 {
		t.Errorf("Check pod status has %d commands, want 2 in one step", len(pod.Commands))
	}
	pause := pb.Procedure("high-queue-depth").Task("immediate-actions/2")
	if pause.Kind != KindManual || pause.Text != "Temporarily disable low-priority job creation" {
		t.Errorf("comment-only block: %+v", pause)
	}
	explain := pb.Procedure("high-database-cpu").Task("investigation/1").Step
	if !explain.NeedsEditing {
		t.Error("EXPLAIN ANALYZE … slow_table WHERE condition should need editing")
	}

	phases := []struct {
		name     string
		from, to string
		nbd      bool
	}{
		{"Detection & Assessment", "0s", "5m0s", false},
		{"Containment", "5m0s", "15m0s", false},
		{"Investigation", "15m0s", "1h0m0s", false},
		{"Recovery", "1h0m0s", "4h0m0s", false},
		{"Post-Incident Review", "0s", "0s", true},
	}
	if len(pb.Phases) != len(phases) {
		t.Fatalf("%d phases", len(pb.Phases))
	}
	for i, w := range phases {
		ph := pb.Phases[i]
		if ph.Number != i+1 || ph.Name != w.name || ph.Window.From.D().String() != w.from || ph.Window.To.D().String() != w.to || ph.Window.NextBusinessDay != w.nbd || len(ph.Checklist) != 4 {
			t.Errorf("phase %d = %+v", i+1, ph)
		}
	}

	esc := []struct {
		role     string
		from, to string
		open     bool
	}{
		{"On-call engineer", "0s", "15m0s", false},
		{"Engineering lead", "15m0s", "30m0s", false},
		{"CTO/Engineering Director", "30m0s", "0s", true},
		{"Full incident response team activation", "0s", "0s", false},
	}
	if len(pb.Escalation) != 4 {
		t.Fatalf("%d escalation levels", len(pb.Escalation))
	}
	for i, w := range esc {
		e := pb.Escalation[i]
		if e.Level != i+1 || e.Role != w.role || e.Window.From.D().String() != w.from || e.Window.To.D().String() != w.to || e.Window.OpenEnded != w.open {
			t.Errorf("level %d = %+v", i+1, e)
		}
	}
	if !pb.Escalation[3].Window.IsZero() {
		t.Error("level 4 has no response window")
	}

	if len(pb.Templates) != 2 {
		t.Fatalf("%d templates", len(pb.Templates))
	}
	names := map[string]Field{}
	for _, f := range pb.Templates[0].Fields {
		names[f.Name] = f
	}
	for _, n := range []string{"Alert Name", "Severity", "Service", "Brief description", "Timestamp", "Team member", "Estimated resolution time"} {
		if _, ok := names[n]; !ok {
			t.Errorf("internal template lacks field %q", n)
		}
	}
	if sev := names["Severity"]; sev.Kind != FieldChoice || len(sev.Choices) != 2 || sev.Choices[0] != "CRITICAL" || sev.Choices[1] != "WARNING" {
		t.Errorf("severity field = %+v", sev)
	}
	if names["Brief description"].Label != "Impact" {
		t.Errorf("impact field = %+v", names["Brief description"])
	}
	if len(pb.Resources) != 5 || pb.Resources[0].Name != "Monitoring" || len(pb.Resources[0].Items) != 2 {
		t.Errorf("resources = %+v", pb.Resources)
	}
	for _, d := range pb.Diagnostics {
		if d.Severity == SeverityError {
			t.Errorf("reference has error %s", d)
		}
	}
}
