package static_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"portaldesk/static"
)

// TestWeight keeps every page's CSS and JavaScript, compressed as served,
// within 100 KB together, and checks they are served compressed under
// content-hashed names with a long cache.
func TestWeight(t *testing.T) {
	a := static.New()
	total := 0
	for _, name := range []string{"app.css", "app.js"} {
		u := a.URL(name)
		if !strings.Contains(u, ".") || u == "/static/"+name {
			t.Fatalf("%s is not content-hashed: %s", name, u)
		}
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
			t.Fatalf("%s: %d %q %q", u, w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Cache-Control"))
		}
		total += w.Body.Len()
	}
	t.Logf("CSS + JS on every page: %d bytes compressed", total)
	if total > 100<<10 {
		t.Errorf("CSS + JS weigh %d bytes compressed, over 100 KB", total)
	}
}
