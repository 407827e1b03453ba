package playbook

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"ðŸ”´ CRITICAL: High API Error Rate (>5%)", "highapierrorrate"},
		{"🔴 CRITICAL: High API Error Rate (>5%)", "highapierrorrate"},
		{"HighAPIErrorRate", "highapierrorrate"},
		{"HighApiErrorRate", "highapierrorrate"},
		{"high_api_error_rate", "highapierrorrate"},
		{"ðŸŸ¡ WARNING: Service Down", "servicedown"},
		{"ServiceDown", "servicedown"},
		{"ðŸ”´ CRITICAL: High Queue Depth (>1000)", "highqueuedepth"},
		{"WARNING: High Database CPU (>80%)", "highdatabasecpu"},
		{"Disk Full [>95%]", "diskfull"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func referenceLibrary(t *testing.T) *Library {
	t.Helper()
	lib, err := NewLibrary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestMatchReference(t *testing.T) {
	t.Parallel()
	lib := referenceLibrary(t)
	tests := []struct {
		alertname string
		want      string // procedure key, "" for none
	}{
		{"HighAPIErrorRate", "high-api-error-rate"},
		{"HighApiErrorRate", "high-api-error-rate"},
		{"high_api_error_rate", "high-api-error-rate"},
		{"LowMessageSuccessRate", "low-message-success-rate"},
		{"HighQueueDepth", "high-queue-depth"},
		{"HighDatabaseCPU", "high-database-cpu"},
		{"HighLicenseUsage", "high-license-usage"},
		{"HighFailedLoginRate", "high-failed-login-rate"},
		{"ServiceDown", "service-down"},
		{"service-down", "service-down"},
		{"HighQueue", ""},
		{"", ""},
		{"Watchdog", ""},
	}
	for _, tt := range tests {
		m, ok := lib.Match(map[string]string{"alertname": tt.alertname, "severity": "critical"})
		got := ""
		if ok {
			got = m.Procedure.Key
			if m.Explicit || m.Playbook.ID != "telegram-platform" || len(m.Others) > 0 {
				t.Errorf("%s: %+v", tt.alertname, m)
			}
		}
		if got != tt.want {
			t.Errorf("Match(%q) = %q, want %q", tt.alertname, got, tt.want)
		}
	}
}

func parseDoc(t *testing.T, path, src string) *Playbook {
	t.Helper()
	pb, _ := Parse(path, []byte(src))
	return pb
}

func codes(ds []Diagnostic, sev DiagSeverity) []string {
	var out []string
	for _, d := range ds {
		if d.Severity == sev {
			out = append(out, d.Code)
		}
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAmbiguity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		docs []string
		want bool // an ambiguous-match error
	}{
		{"same title twice", []string{"## Alerts\n### Disk Full\n- check\n### Disk-Full\n- check\n"}, true},
		{"different titles", []string{"## Alerts\n### Disk Full\n- check\n### Disk Slow\n- check\n"}, false},
		{"same alertname explicit", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X -->\n- c\n### B\n<!-- firebreak: alertname=X -->\n- c\n"}, true},
		{"alertname lists intersect", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X,Y -->\n- c\n### B\n<!-- firebreak: alertname=Y,Z -->\n- c\n"}, true},
		{"disjoint by matcher", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=prod -->\n- c\n### B\n<!-- firebreak: alertname=X match=env=staging -->\n- c\n"}, false},
		{"disjoint by negation", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=prod -->\n- c\n### B\n<!-- firebreak: alertname=X match=env!=prod -->\n- c\n"}, false},
		{"disjoint by regex", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=prod -->\n- c\n### B\n<!-- firebreak: alertname=X match=env=~\"stag.*\" -->\n- c\n"}, false},
		{"overlapping regexes", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=~\"p.*\" -->\n- c\n### B\n<!-- firebreak: alertname=X match=env=~\"pr.*\" -->\n- c\n"}, true},
		{"refinement is not a tie", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=prod -->\n- c\n### B\n<!-- firebreak: alertname=X match=env=prod match=team=db -->\n- c\n"}, false},
		{"equal conditions tie", []string{"## Alerts\n### A\n<!-- firebreak: match=env=prod match=team=db -->\n- c\n### B\n<!-- firebreak: match=team=db match=env=prod -->\n- c\n"}, true},
		{"different labels overlap", []string{"## Alerts\n### A\n<!-- firebreak: alertname=X match=env=prod -->\n- c\n### B\n<!-- firebreak: alertname=X match=team=db -->\n- c\n"}, true},
		{"explicit beats title", []string{"## Alerts\n### Disk Full\n- c\n### Storage\n<!-- firebreak: alertname=DiskFull -->\n- c\n"}, false},
		{"annotated titles do not tie", []string{"## Alerts\n### Disk Full\n<!-- firebreak: alertname=A -->\n- c\n### Disk Full!\n<!-- firebreak: alertname=B -->\n- c\n"}, false},
		{"across documents", []string{"## Alerts\n### Service Down\n- c\n", "## Alerts\n### Service Down\n- c\n"}, true},
		{"across documents explicit", []string{"## Alerts\n### Down\n<!-- firebreak: alertname=ServiceDown match=service=a -->\n- c\n", "## Alerts\n### Down\n<!-- firebreak: alertname=ServiceDown match=service=b -->\n- c\n"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var pbs []*Playbook
			for i, d := range tt.docs {
				pbs = append(pbs, parseDoc(t, "doc"+string(rune('a'+i))+".md", d))
			}
			ds := Lint(pbs)
			got := has(codes(ds, SeverityError), CodeAmbiguous)
			if got != tt.want {
				t.Errorf("ambiguous = %v, want %v; %v", got, tt.want, ds)
			}
		})
	}
}

func TestMatchExplicit(t *testing.T) {
	t.Parallel()
	doc := `## Alerts
### Disk Full
- c
### Storage Pressure
<!-- firebreak: alertname=DiskFull,VolumeFull match=env=prod -->
- c
### Storage Pressure Staging
<!-- firebreak: alertname=DiskFull match=env=~"stag.*" -->
- c
### Storage Pressure Payments
<!-- firebreak: alertname=DiskFull match=env=prod match=team=payments -->
- c
### Any Dev Page
<!-- firebreak: match=team=payments match=env=dev auto=false -->
- c
`
	pb, err := Parse("x.md", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := buildSnapshot([]*Playbook{pb}, nil)
	tests := []struct {
		labels   map[string]string
		want     string
		explicit bool
	}{
		{map[string]string{"alertname": "DiskFull", "env": "prod"}, "storage-pressure", true},
		{map[string]string{"alertname": "VolumeFull", "env": "prod"}, "storage-pressure", true},
		{map[string]string{"alertname": "DiskFull", "env": "staging-2"}, "storage-pressure-staging", true},
		{map[string]string{"alertname": "DiskFull", "env": "dev"}, "disk-full", false},
		{map[string]string{"alertname": "disk_full"}, "disk-full", false},
		{map[string]string{"alertname": "Other", "team": "payments", "env": "dev"}, "any-dev-page", true},
		// The refinement is more specific and wins.
		{map[string]string{"alertname": "DiskFull", "team": "payments", "env": "prod"}, "storage-pressure-payments", true},
		{map[string]string{"alertname": "Other", "team": "payments"}, "", false},
	}
	for _, tt := range tests {
		m, ok := matchIn(s.refs, s.byTitle, tt.labels)
		got := ""
		if ok {
			got = m.Procedure.Key
			if m.Explicit != tt.explicit {
				t.Errorf("%v: explicit = %v", tt.labels, m.Explicit)
			}
		}
		if got != tt.want {
			t.Errorf("%v: matched %q, want %q", tt.labels, got, tt.want)
		}
	}
	if pb.Procedure("any-dev-page").Auto {
		t.Error("auto=false ignored")
	}
}

func TestAnnotationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		annotation string
		msg        string
	}{
		{"alertname=X colour=red", `unknown key "colour"`},
		{"alertname=X severity=urgent", "severity"},
		{"alertname=X match=env", "label matcher"},
		{"alertname=X match=env=~\"(\"", "regular expression"},
		{"alertname=X auto=maybe", "true or false"},
		{"alertname=X two_person=yes", "true or false"},
		{"alertname=X alertname=Y", "given twice"},
		{"justaword", "not key=value"},
		{"alertname=,", "empty name"},
	}
	for _, tt := range tests {
		doc := "## Alerts\n### Thing\n<!-- firebreak: " + tt.annotation + " -->\n- c\n"
		pb, err := Parse("a.md", []byte(doc))
		if err == nil {
			t.Errorf("%q: no error", tt.annotation)
			continue
		}
		found := false
		for _, d := range AsDiagnostics(err) {
			if d.Code == CodeAnnotation && strings.Contains(d.Message, tt.msg) && d.Pos.Line == 3 {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: diagnostics %v, want %q on line 3", tt.annotation, pb.Diagnostics, tt.msg)
		}
	}
}
