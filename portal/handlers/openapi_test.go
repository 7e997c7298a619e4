package handlers

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"portaldesk/templates/i18n"
)

// TestOpenAPICoversEveryRoute walks the router: every route of the JSON
// API is in the document, and the document names no route the router lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := New(Config{})
	pattern := regexp.MustCompile(`\{(\w+):[^}]*\}`)
	served := map[string]bool{}
	err := s.mux.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		p, err := r.GetPathTemplate()
		if err != nil || !strings.HasPrefix(p, "/api/v1/") {
			return nil
		}
		ms, _ := r.GetMethods()
		for _, m := range ms {
			served[m+" "+pattern.ReplaceAllString(strings.TrimPrefix(p, "/api/v1"), "{$1}")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for _, op := range apiOps {
		described[op.Method+" "+op.Path] = true
		if op.Media == "PATCH" {
			described["PATCH "+op.Path] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !described[k] {
			missing = append(missing, k)
		}
	}
	for k := range described {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes the OpenAPI document does not describe:\n%s", strings.Join(missing, "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("operations in the document that no route serves:\n%s", strings.Join(extra, "\n"))
	}
	if len(served) < 60 {
		t.Errorf("only %d routes found: the walk is broken", len(served))
	}
}

// TestAPIReferenceIsRussianToo: the reference page shows every operation's
// summary, group, who may call it, its parameters' notes and the errors in
// the reader's language: each has its Russian text.
func TestAPIReferenceIsRussianToo(t *testing.T) {
	need := map[string]bool{}
	for _, op := range apiOps {
		need[op.Summary], need[op.Tag], need[op.Who] = true, true, true
		for _, p := range op.Params {
			if p.Doc != "" {
				need[p.Doc] = true
			}
		}
	}
	for _, what := range errorCodes {
		need[what] = true
	}
	for id := range need {
		if !i18n.Has("ru", id) {
			t.Errorf("no Russian for %q", id)
		}
	}
}
