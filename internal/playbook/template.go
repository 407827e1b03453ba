package playbook

import "strings"

// ParseTemplate reads a communication template written outside a playbook
// (a channel's own template in firebreak.yaml) with the same rules as the
// fenced templates under "Communication Templates": bracketed placeholders,
// [A/B] choices and labelled lines.
func ParseTemplate(name, body string) *Template {
	t := &Template{Key: slug(name), Name: name, Body: strings.TrimRight(body, "\n"), Fields: []Field{}}
	for i, line := range strings.Split(t.Body, "\n") {
		for _, f := range templateFields(line) {
			f.Pos = Pos{Line: i + 1, Col: f.Pos.Col + 1}
			if !hasField(t.Fields, f) {
				t.Fields = append(t.Fields, f)
			}
		}
	}
	return t
}
