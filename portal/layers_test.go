package portal_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayers keeps the structure: the domain package speaks neither HTTP
// nor HTML, and no two top-level folders import each other (test files
// aside: they run the one assembled service from cmd/server/pdtest).
func TestLayers(t *testing.T) {
	imports := func(dir string) map[string]bool {
		out := map[string]bool{}
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				out[p] = true
			}
			return nil
		})
		return out
	}
	own, _ := filepath.Glob("*.go")
	for _, file := range own {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == "net/http" || p == "html" || p == "html/template" || strings.HasPrefix(p, "portaldesk/portal/handlers") {
				t.Errorf("%s imports %s: the domain speaks neither HTTP nor HTML", file, p)
			}
		}
	}
	top := []string{"cmd", "portal", "provisioner", "quota", "templates", "static"}
	uses := map[string]map[string]bool{}
	for _, a := range top {
		uses[a] = map[string]bool{}
		for p := range imports(filepath.Join("..", a)) {
			if rest, ok := strings.CutPrefix(p, "portaldesk/"); ok {
				b, _, _ := strings.Cut(rest, "/")
				if b != a {
					uses[a][b] = true
				}
			}
		}
	}
	for _, a := range top {
		for b := range uses[a] {
			if uses[b][a] {
				t.Errorf("%s and %s import each other", a, b)
			}
		}
	}
	if len(uses["templates"]) != 0 {
		t.Errorf("templates imports %v", uses["templates"])
	}
}
