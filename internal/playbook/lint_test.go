package playbook

import (
	"strings"
	"testing"
)

func TestDiagnostics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		sev  DiagSeverity
		code string
		line int
		msg  string
	}{
		{"unknown fence key", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql {\"name\":\"x\",\"colour\":\"red\"}\n   SELECT 1;\n   ```\n", SeverityError, CodeFenceAttrs, 4, `unknown key "colour"`},
		{"bad fence json", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql {\"name\":}\n   SELECT 1;\n   ```\n", SeverityError, CodeFenceAttrs, 4, "JSON"},
		{"bad risk value", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql {\"risk\":\"low\"}\n   SELECT 1;\n   ```\n", SeverityError, CodeFenceAttrs, 4, `"read" or "write"`},
		{"bad timeout", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql {\"timeout\":\"soon\"}\n   SELECT 1;\n   ```\n", SeverityError, CodeFenceAttrs, 4, "timeout"},
		{"risk downgrade", "## Alerts\n### Disk Full\n1. **Fix:**\n   ```sql {\"risk\":\"read\"}\n   DELETE FROM t;\n   ```\n", SeverityError, CodeRiskDowngrade, 4, "never lower"},
		{"auto on write", "## Alerts\n### Disk Full\n1. **Fix:**\n   ```bash {\"auto\":true}\n   kubectl delete pod x\n   ```\n", SeverityError, CodeAutoWrite, 4, "approval"},
		{"duplicate step name", "## Alerts\n### Disk Full\n1. **A:**\n   ```sql {\"name\":\"x\"}\n   SELECT 1;\n   ```\n2. **B:**\n   ```sql {\"name\":\"x\"}\n   SELECT 2;\n   ```\n", SeverityError, CodeDuplicateKey, 7, "already used"},
		{"foreign front matter key", "---\nservice: x\ncolour: red\n---\n## Alerts\n### Disk Full\n- c\n", SeverityInfo, CodeForeignKey, 3, `"colour" is not Firebreak's`},
		{"misspelt front matter key", "---\nservice: x\ntargest: {sql: db}\n---\n## Alerts\n### Disk Full\n- c\n", SeverityWarning, CodeForeignKey, 3, `did you mean "targets"`},
		{"front matter title not a string", "---\ntitle: [a, b]\n---\n## Alerts\n### Disk Full\n- c\n", SeverityError, CodeFrontMatter, 2, "title must be a string"},
		{"front matter bad yaml", "---\nservice: [x\n---\n## Alerts\n### Disk Full\n- c\n", SeverityError, CodeFrontMatter, 0, "YAML"},
		{"front matter bad target", "---\ntargets: {mysql: db}\n---\n## Alerts\n### Disk Full\n- c\n", SeverityError, CodeFrontMatter, 2, `unknown executor "mysql"`},
		{"front matter bad defaults", "---\ndefaults: {timeout: soon}\n---\n## Alerts\n### Disk Full\n- c\n", SeverityError, CodeFrontMatter, 2, "timeout"},
		{"front matter unknown default", "---\ndefaults:\n  retries: 3\n---\n## Alerts\n### Disk Full\n- c\n", SeverityError, CodeFrontMatter, 3, `unknown key "retries"`},
		{"empty section", "## Alerts\n### Disk Full\n**Assessment:**\n\n**Recovery:**\n- c\n", SeverityWarning, CodeEmptySection, 3, "Assessment"},
		{"unmatchable title", "## Alerts\n### What to do when the disk is full and nobody answers\n- c\n", SeverityWarning, CodeUnmatchable, 2, "no alert will match"},
		{"needs editing", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql\n   SELECT * FROM your_table WHERE condition;\n   ```\n", SeverityWarning, CodeNeedsEditing, 4, "placeholder"},
		{"unparsable sql", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql\n   SELEC 1;\n   ```\n", SeverityWarning, CodeNeedsEditing, 4, "does not parse"},
		{"param without label", "## Alerts\n### Disk Full\n1. **Check:**\n   ```sql\n   SELECT * FROM t WHERE id = $order_id;\n   ```\n", SeverityWarning, CodeUnlabelledParam, 5, `"order_id"`},
		{"no language", "## Alerts\n### Disk Full\n1. **Check:**\n   ```\n   look at it\n   ```\n", SeverityWarning, CodeNotExecutable, 4, "without a language"},
		{"stray annotation", "# T\n<!-- firebreak: alertname=X -->\n## Alerts\n### Disk Full\n- c\n", SeverityWarning, CodeStray, 2, "not under a procedure"},
		{"second annotation", "## Alerts\n### Disk Full\n<!-- firebreak: alertname=X -->\n- c\n\n<!-- firebreak: auto=false -->\n", SeverityError, CodeAnnotation, 6, "second"},
		{"no procedures", "# Just notes\n\nNothing here.\n", SeverityWarning, CodeNoProcedures, 1, "no alert procedures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pb, err := Parse("p.md", []byte(tt.doc))
			if (err != nil) != (tt.sev == SeverityError) {
				t.Errorf("err = %v", err)
			}
			for _, d := range pb.Diagnostics {
				if d.Severity == tt.sev && d.Code == tt.code && strings.Contains(d.Message, tt.msg) && (tt.line == 0 || d.Pos.Line == tt.line) {
					if !strings.HasPrefix(d.String(), "p.md:") {
						t.Errorf("format %q", d.String())
					}
					return
				}
			}
			t.Errorf("want %s %s %q at line %d; got %v", tt.sev, tt.code, tt.msg, tt.line, pb.Diagnostics)
		})
	}
}

func TestReferenceLintIsClean(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	var warn []string
	for _, d := range pb.Diagnostics {
		if d.Severity == SeverityError {
			t.Errorf("error in reference: %s", d)
		}
		warn = append(warn, d.Code)
	}
	// pid, license_id, SUSPICIOUS_IP come from no alert label; the EXPLAIN
	// ANALYZE template needs editing.
	want := []string{CodeUnlabelledParam, CodeNeedsEditing, CodeUnlabelledParam, CodeUnlabelledParam}
	if strings.Join(warn, ",") != strings.Join(want, ",") {
		t.Errorf("warnings %v, want %v", warn, want)
	}
}

func TestSectionsAndTasks(t *testing.T) {
	t.Parallel()
	doc := "## Alerts\n### Disk Full\n#### Immediate Actions\n" +
		"1. **Check usage** and **more**:\n   ```sql\n   SELECT 1\n   ```\n   ```sql\n   SELECT 2;\n   ```\n" +
		"2. **Mixed:**\n   ```sql\n   SELECT 3;\n   ```\n   ```bash\n   kubectl get pods\n   ```\n" +
		"3. Plain item\n   - sub one\n   - sub two\n" +
		"\nRun this:\n\n```bash {\"name\":\"lone\"}\nkubectl top pods\n```\n" +
		"```python\nprint(1)\n```\n"
	pb := parseDoc(t, "s.md", doc)
	pr := pb.Procedure("disk-full")
	if pr == nil || len(pr.Sections) != 1 || pr.Sections[0].Key != "immediate-actions" {
		t.Fatalf("procedure %+v", pr)
	}
	var got []string
	for _, tk := range pr.Sections[0].Tasks {
		s := tk.Key + " " + string(tk.Kind) + " " + tk.Name
		if tk.Step != nil {
			s += " " + string(tk.Step.Executor) + " " + string(tk.Step.Risk)
		}
		got = append(got, s)
	}
	want := []string{
		"immediate-actions/1 step Check usage sql read",
		"immediate-actions/2 step Mixed (1) sql read",
		"immediate-actions/3 step Mixed (2) kube read",
		"immediate-actions/4 checklist Plain item",
		"immediate-actions/lone step Run this kube read",
		"immediate-actions/6 manual print(1)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tasks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := pr.Sections[0].Tasks[0].Step
	if len(first.Commands) != 2 || first.SQL != "SELECT 1;\nSELECT 2;" || first.Commands[1].Line != 9 {
		t.Errorf("joined SQL %q, %d commands", first.SQL, len(first.Commands))
	}
	if items := pr.Sections[0].Tasks[3].Items; len(items) != 2 {
		t.Errorf("items %v", items)
	}
}

func TestSeverityHeadings(t *testing.T) {
	t.Parallel()
	doc := "# P\n### WARNING: Disk Full\n- c\n## Communication Templates\n### Critical Incident Notice\n```\n[x]\n```\n## Notes\n### CRITICAL - Queue Stuck\n- c\n"
	pb := parseDoc(t, "h.md", doc)
	var got []string
	for _, pr := range pb.Procedures {
		got = append(got, pr.Key+":"+string(pr.Severity))
	}
	if strings.Join(got, ",") != "disk-full:warning,queue-stuck:critical" || len(pb.Templates) != 1 {
		t.Errorf("procedures %v templates %d", got, len(pb.Templates))
	}
}
