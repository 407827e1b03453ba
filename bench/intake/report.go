package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func renderReport(c config, rs []result, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Intake: Firebreak vs Alertmanager v0.28.1\n\n")
	fmt.Fprintf(&b, "`%s`\n\n", commandLine(c.args))
	fmt.Fprintf(&b, "%s; %s; Firebreak storage: %s; %d distinct alerts per run.\n\n", machine, time.Now().UTC().Format("2006-01-02 15:04 MST"), c.db, c.alerts)
	b.WriteString("| target | shape | alerts | alerts/s | p50 | p99 | RSS after |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		alerts := fmt.Sprint(r.Alerts)
		if r.TimedOut {
			alerts += " (stopped at -run-timeout)"
		}
		if r.Failed > 0 {
			alerts += fmt.Sprintf(" (%d requests failed)", r.Failed)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s |\n",
			targetName(r.Target, c.db), shapeName(r.Shape), alerts, r.AlertsPerSec(), ms(r.P50), ms(r.P99), mib(r.RSS))
	}
	b.WriteString("\n")
	for _, sh := range c.shapes {
		fb, okF := find(rs, targetFirebreak, sh.Name)
		am, okA := find(rs, targetAlertmanager, sh.Name)
		if !okF || !okA || am.AlertsPerSec() == 0 || am.RSS == 0 || am.P99 == 0 {
			continue
		}
		fmt.Fprintf(&b, "- **%s**, Firebreak/Alertmanager: throughput %.2f×, p99 %.2f×, RSS %.2f×\n",
			shapeName(sh), fb.AlertsPerSec()/am.AlertsPerSec(), float64(fb.P99)/float64(am.P99), float64(fb.RSS)/float64(am.RSS))
	}
	b.WriteString("\nNotes:\n")
	b.WriteString("- Firebreak answers 2xx only after the alerts are committed to its database; Alertmanager keeps alerts in memory only and loses them on restart.\n")
	b.WriteString("- p50/p99 are per request (one alert, or a batch of 100). alerts/s counts acknowledged alerts over the wall time of the timed run.\n")
	b.WriteString("- Alertmanager routes to a receiver with no integrations (intake and grouping only, no notifications); clustering off.\n")
	b.WriteString("- Each run: fresh server and data, untimed warm-up with its own alerts, bodies encoded before timing, keep-alive connections; the load generator runs on the same cores as the server.\n")
	b.WriteString("- RSS is VmRSS 2 s after the timed run, with the run's alerts (and the warm-up's) held")
	if c.db == "postgres" {
		b.WriteString("; for Firebreak on PostgreSQL it is Firebreak's process alone, not the database server's")
	}
	b.WriteString(". Held: ")
	var held []string
	for _, r := range rs {
		held = append(held, fmt.Sprintf("%s/%s %s, peak RSS %s", r.Target, r.Shape.Name, r.Held, mib(r.PeakRSS)))
	}
	b.WriteString(strings.Join(held, "; ") + ".\n")
	var busy []string
	for _, r := range rs {
		if r.OtherCPU > 0.10 {
			busy = append(busy, fmt.Sprintf("%s/%s %.0f%%", r.Target, r.Shape.Name, 100*r.OtherCPU))
		}
	}
	if len(busy) > 0 {
		fmt.Fprintf(&b, "- **Warning:** processes other than the server under test and the bench (and PostgreSQL, for Firebreak on it) used this share of the machine's CPU during these runs: %s. Their numbers are skewed; rerun on an idle machine.\n",
			strings.Join(busy, ", "))
	}
	return b.String()
}

// commandLine is the invocation as a shell would take it back.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench/intake"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`&|;<>()*?[]{}~#!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func find(rs []result, target, shape string) (result, bool) {
	for _, r := range rs {
		if r.Target == target && r.Shape.Name == shape {
			return r, true
		}
	}
	return result{}, false
}

func targetName(t, db string) string {
	if t == targetFirebreak {
		return "Firebreak (" + db + ")"
	}
	return "Alertmanager v0.28.1"
}

func shapeName(s shape) string {
	if s.PerRequest == 1 {
		return fmt.Sprintf("1 alert/request ×%d clients", s.Concurrency)
	}
	return fmt.Sprintf("%d alerts/request ×%d clients", s.PerRequest, s.Concurrency)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mib(n int64) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// machineInfo names the CPU and core count, which the numbers depend on.
func machineInfo() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", cpu, runtime.NumCPU(), runtime.Version())
}
