// Package templates embeds the service's HTML templates and parses them once
// at start, so a broken template fails at boot (and in CI), never for a user.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed *.html
var files embed.FS

// Set is every page template, each parsed together with the layout.
type Set struct {
	pages map[string]*template.Template
	bufs  sync.Pool
}

// Funcs are the helpers every template may call, beside the ones given to Parse.
func Funcs(extra template.FuncMap) template.FuncMap {
	fm := template.FuncMap{
		"date": func(unix int64) string {
			if unix == 0 {
				return ""
			}
			return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04")
		},
		"day": func(unix int64) string {
			if unix == 0 {
				return ""
			}
			return time.Unix(unix, 0).UTC().Format("2006-01-02")
		},
		"dict": func(kv ...any) map[string]any {
			m := make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"lower": strings.ToLower,
		"list":  func(v ...string) []string { return v },
		"mb":    func(n int64) int64 { return n << 20 },
		"div":   func(a, b int64) int64 { return a / b },
		"mod":   func(a, b int64) int64 { return a % b },
		"sub":   func(a, b int) int { return a - b },
		"ratingComment": func(r any) string {
			if c, ok := r.(interface{ CommentText() string }); ok && c != nil {
				return c.CommentText()
			}
			return ""
		},
		"duration": func(sec int64) string {
			switch {
			case sec <= 0:
				return "—"
			case sec < 3600:
				return fmt.Sprintf("%d min", sec/60)
			case sec < 2*86400:
				return fmt.Sprintf("%.1f h", float64(sec)/3600)
			}
			return fmt.Sprintf("%.1f days", float64(sec)/86400)
		},
		"humanBytes": func(n int64) string {
			switch {
			case n >= 1<<30:
				return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
			case n >= 1<<20:
				return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
			case n >= 1<<10:
				return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
			}
			return fmt.Sprintf("%d bytes", n)
		},
		"pct": func(a, b int64) int64 {
			if b <= 0 {
				return 0
			}
			return min(100, a*100/b)
		},
		"checked": func(v string) bool { return v == "on" || v == "yes" || v == "1" || v == "true" },
	}
	for k, v := range extra {
		fm[k] = v
	}
	return fm
}

// Parse parses the layout and partials with each page. Files whose names
// start with "_" are the layout and partials; every other file is a page.
func Parse(funcs template.FuncMap) (*Set, error) {
	root := template.New("").Funcs(Funcs(funcs))
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var pages []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "_") {
			if _, err := root.ParseFS(files, e.Name()); err != nil {
				return nil, fmt.Errorf("templates: %s: %w", e.Name(), err)
			}
		} else {
			pages = append(pages, e.Name())
		}
	}
	s := &Set{pages: map[string]*template.Template{}}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	for _, name := range pages {
		t, err := root.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(files, name); err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		s.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return s, nil
}

// Names lists the pages, for the test that renders each one.
func (s *Set) Names() []string {
	var out []string
	for k := range s.pages {
		out = append(out, k)
	}
	return out
}

// execute renders page into a pooled buffer first, so that a template error
// never sends half a page; done is called with the bytes.
func (s *Set) execute(page string, data any, done func([]byte) error) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("templates: no page %q", page)
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		return fmt.Errorf("templates: %s: %w", page, err)
	}
	return done(buf.Bytes())
}

// Execute renders page into w.
func (s *Set) Execute(w io.Writer, page string, data any) error {
	return s.execute(page, data, func(b []byte) error {
		_, err := w.Write(b)
		return err
	})
}

// Render writes page as an HTML response with the given status.
func (s *Set) Render(w http.ResponseWriter, status int, page string, data any) error {
	return s.execute(page, data, func(b []byte) error {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		w.WriteHeader(status)
		_, err := w.Write(b)
		return err
	})
}
