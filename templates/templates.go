// Package templates embeds the service's HTML templates and parses them once
// at start, so a broken template fails at boot (and in CI), never for a user.
package templates

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"portaldesk/templates/i18n"
)

//go:embed *.html
var files embed.FS

// Set is every page template, each parsed together with the layout, once
// for each language: the "t" function of a set translates into its language.
type Set struct {
	pages  map[string]map[string]*template.Template // lang -> page -> template
	chrome map[string]chrome                        // lang -> the frame of every page
	bufs   sync.Pool
}

// Content is the data of a page written by hand in Go: the set frames its
// HTML with the shared chrome, and runs no template for it.
type Content interface {
	WriteHTML(w *Writer, pg *Page)
}

// Funcs are the helpers every template may call, beside the ones given to Parse.
func Funcs(extra template.FuncMap) template.FuncMap {
	fm := template.FuncMap{
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
		"pct": func(a, b int64) int64 {
			if b <= 0 {
				return 0
			}
			return min(100, a*100/b)
		},
		"checked":   func(v string) bool { return v == "on" || v == "yes" || v == "1" || v == "true" },
		"pillClass": PillClass,
	}
	for k, v := range extra {
		fm[k] = v
	}
	return fm
}

// Parse parses the layout and partials with each page, for every language.
// Files whose names start with "_" are the layout and partials; every other
// file is a page.
func Parse(funcs template.FuncMap) (*Set, error) {
	s := &Set{pages: map[string]map[string]*template.Template{}, chrome: map[string]chrome{}}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	for _, lang := range i18n.Langs {
		c := chrome{lang: lang, static: func(name string) string { return "/static/" + name }}
		if f, ok := funcs["static"].(func(string) string); ok {
			c.static = f
		}
		pages, err := parseLang(c, funcs)
		if err != nil {
			return nil, err
		}
		s.pages[lang], s.chrome[lang] = pages, c
	}
	return s, nil
}

// langFuncs are the helpers whose output depends on the language.
func langFuncs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":    func(id string, args ...any) string { return i18n.T(lang, id, args...) },
		"date": func(unix int64) string { return i18n.DateTime(lang, unix) },
		"day":  func(unix int64) string { return i18n.Date(lang, unix) },
		"isoDay": func(ymd string) string { // "2026-12-01" as lang writes a date
			d, err := time.Parse("2006-01-02", ymd)
			if err != nil {
				return ymd
			}
			return i18n.Date(lang, d.Unix())
		},
		"lang":       func() string { return lang },
		"num":        func(s string) string { return i18n.Number(lang, s) },
		"humanBytes": func(n int64) string { return i18n.Bytes(lang, n) },
		"duration":   func(sec int64) string { return i18n.Duration(lang, sec) },
		"unit":       func(u string) string { return i18n.Unit(lang, u) },
		"qty":        func(q string) string { return i18n.Quantities(lang, q) },
		"plural": func(n any, one, other string) string {
			var k int
			switch v := n.(type) {
			case int:
				k = v
			case int64:
				k = int(v)
			}
			return i18n.N(lang, k, one, other)
		},
	}
}

// postForm is the opening tag of a form that posts.
var postForm = regexp.MustCompile(`<form\b[^>]*\bmethod="post"[^>]*>`)

// withCSRF puts the page's form token (Page.CSRF) into every form of a
// template that posts, so no form can be written without it.
func withCSRF(src string) string {
	return postForm.ReplaceAllString(src, `$0<input type="hidden" name="_csrf" value="{{$$.CSRF}}">`)
}

// fixedText is a call of "t" on a literal with no values: {{t "Save"}}.
var fixedText = regexp.MustCompile("\\{\\{t (\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)\\}\\}")

// inlineTexts writes the translation of every fixed text into the template
// source, escaped for HTML, so that a page in either language renders them
// as plain text rather than a function call each.
func inlineTexts(lang, src string) string {
	return fixedText.ReplaceAllStringFunc(src, func(m string) string {
		lit := fixedText.FindStringSubmatch(m)[1]
		id, err := strconv.Unquote(lit)
		if err != nil {
			return m
		}
		return html.EscapeString(i18n.Msg(lang, id))
	})
}

func parseLang(c chrome, funcs template.FuncMap) (map[string]*template.Template, error) {
	lang := c.lang
	fm := Funcs(funcs)
	for k, v := range langFuncs(lang) {
		fm[k] = v
	}
	fm["chromeHead"], fm["chromeTop"], fm["chromeBanners"], fm["chromeFoot"] = c.fn(chrome.head), c.fn(chrome.top), c.fn(chrome.banners), c.fn(chrome.foot)
	root := template.New("").Funcs(fm)
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	parse := func(t *template.Template, name string) error {
		src, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		if _, err := t.New(name).Parse(withCSRF(inlineTexts(lang, string(src)))); err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		return nil
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "_") {
			if err := parse(root, e.Name()); err != nil {
				return nil, err
			}
		} else {
			names = append(names, e.Name())
		}
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		t, err := root.Clone()
		if err != nil {
			return nil, err
		}
		if err := parse(t, name); err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages, nil
}

// Names lists the pages, for the test that renders each one.
func (s *Set) Names() []string {
	var out []string
	for k := range s.pages["en"] {
		out = append(out, k)
	}
	return out
}

// execute renders page into a pooled buffer first, so that a template error
// never sends half a page; done is called with the bytes.
func (s *Set) execute(page string, data any, done func([]byte) error) error {
	lang := "en"
	pg, _ := data.(*Page)
	if pg != nil {
		lang = i18n.Pick(pg.Lang)
		localize(lang, pg)
		if pg.Form != nil {
			pg.Form = i18n.CleanValues(pg.Form) // what was typed, shown again
		}
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	if c, ok := pageContent(pg); ok {
		ch, w := s.chrome[lang], &Writer{Buffer: buf, Lang: lang}
		ch.head(w, pg)
		w.Esc(pg.Title)
		ch.top(w, pg)
		ch.banners(w, pg)
		c.WriteHTML(w, pg)
		ch.foot(w, pg)
		return done(buf.Bytes())
	}
	t, ok := s.pages[lang][page]
	if !ok {
		return fmt.Errorf("templates: no page %q", page)
	}
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		return fmt.Errorf("templates: %s: %w", page, err)
	}
	return done(buf.Bytes())
}

func pageContent(pg *Page) (Content, bool) {
	if pg == nil {
		return nil, false
	}
	c, ok := pg.Data.(Content)
	return c, ok
}

// localize translates the page-wide sentences that Go code wrote in English.
func localize(lang string, pg *Page) {
	if lang == "en" {
		return
	}
	pg.Title = i18n.Msg(lang, pg.Title)
	pg.Flash = i18n.Msg(lang, pg.Flash)
	pg.Banner = i18n.Msg(lang, pg.Banner)
	pg.Error = i18n.Msg(lang, pg.Error)
	pg.Errors = i18n.Fields(lang, pg.Errors)
	if s, ok := pg.Data.(string); ok {
		pg.Data = i18n.Msg(lang, s)
	}
}

// Execute renders page into w.
func (s *Set) Execute(w io.Writer, page string, data any) error {
	return s.execute(page, data, func(b []byte) error {
		_, err := w.Write(b)
		return err
	})
}

// Render writes page as an HTML response with the given status.
//
// Every page gets a Content-Security-Policy with a nonce of its own: only
// the page's own script and style elements, which carry it, run; no
// inline script, event handler or style attribute does, so text that
// slipped past escaping could still do nothing.
func (s *Set) Render(w http.ResponseWriter, status int, page string, data any) error {
	nonce := ""
	if pg, ok := data.(*Page); ok {
		b := make([]byte, 16)
		rand.Read(b)
		pg.Nonce = base64.RawStdEncoding.EncodeToString(b)
		nonce = " 'nonce-" + pg.Nonce + "'"
	}
	return s.execute(page, data, func(b []byte) error {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'"+nonce+"; script-src"+cmp.Or(nonce, " 'none'")+
			"; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		w.WriteHeader(status)
		_, err := w.Write(b)
		return err
	})
}
