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

// TestWidgetWeight keeps the website widget's script small for the sites
// that include it (under 20 KB compressed) and served under its fixed
// name, readable by other origins.
func TestWidgetWeight(t *testing.T) {
	a := static.New()
	req := httptest.NewRequest("GET", "/alpha/widget.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	a.ServeFile(w, req, "widget.js")
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Fatalf("widget.js: %d %v", w.Code, w.Header())
	}
	t.Logf("widget.js: %d bytes compressed", w.Body.Len())
	if w.Body.Len() > 20<<10 {
		t.Errorf("widget.js weighs %d bytes compressed, over 20 KB", w.Body.Len())
	}
}
