package httpapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every route the server registers is in the OpenAPI document, with its
// method, so that the document stays true as routes are added.
func TestEveryRouteIsDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	route := regexp.MustCompile(`m\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(src), -1) {
			method, path := strings.ToLower(m[1]), m[2]
			if strings.HasSuffix(path, "/") {
				continue // a subtree's not-found answer, not a route
			}
			n++
			if doc.Paths[path][method] == nil {
				t.Errorf("%s %s (in %s) is not in openapi.json", m[1], path, f)
			}
		}
	}
	if n < 40 {
		t.Fatalf("found %d routes; the pattern no longer matches routes.go", n)
	}
}
