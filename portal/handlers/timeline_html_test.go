package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"portaldesk/portal"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// TestTimelineHTML: the hand-written conversation escapes everything people
// typed, marks notes and the viewer's own messages, and speaks the language.
func TestTimelineHTML(t *testing.T) {
	timelineHTML := func(entries []*portal.Entry, base string, viewer int64, lang string) string {
		w := templates.NewWriter(lang, 0)
		writeTimeline(w, entries, base, viewer, "")
		return w.String()
	}
	entries := []*portal.Entry{
		{ID: 1, Kind: portal.KindMessage, Author: &portal.Person{ID: 7, Name: `Eve "<b>"`}, AuthorRole: portal.RoleClient, Body: `<script>alert(1)</script> & more`, CreatedAt: 86400,
			Attachments: []*portal.Attachment{{ID: 3, Name: `x"><img src=y>.png`, ContentType: "image/png", Size: 2048}}},
		{ID: 2, Kind: portal.KindNote, Author: &portal.Person{ID: 9, Name: "Oleg"}, AuthorRole: portal.RoleOperator, Body: "check warranty", CreatedAt: 90000},
		{ID: 3, Kind: portal.KindEvent, Body: "Oleg took the ticket", CreatedAt: 90060},
	}
	h := string(timelineHTML(entries, "/acme", 9, "en"))
	for _, bad := range []string{"<script>", `"><img src=y>`, "<b>"} {
		if strings.Contains(h, bad) {
			t.Errorf("unescaped %q in %s", bad, h)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", `class="msg note mine" id="m2"`, "Internal note", `<span class="pill">support</span>`,
		`href="/acme/attachments/3" download>x&#34;&gt;&lt;img src=y&gt;.png</a>`, `src="/acme/attachments/3?inline=1"`, "2 KB", `<div class="msg event" id="m3">Oleg took the ticket · 1970-01-02 01:01</div>`} {
		if !strings.Contains(h, want) {
			t.Errorf("missing %q in %s", want, h)
		}
	}
	ru := string(timelineHTML(entries, "", 1, "ru"))
	for _, want := range []string{"Внутренняя заметка", "Oleg взял(а) заявку", "02.01.1970", "2 КБ"} {
		if !strings.Contains(ru, want) {
			t.Errorf("Russian: missing %q", want)
		}
	}
	if got := string(timelineHTML(nil, "", 1, "ru")); !strings.Contains(got, "Сообщений пока нет.") {
		t.Errorf("empty conversation: %s", got)
	}
}

// TestHandWrittenTextsAreTranslated is TestEveryTemplateStringIsTranslated
// for the pages written in Go: every literal text passed to T, Th, Pick,
// or as the text of a menu link or tour step, has a Russian translation.
func TestHandWrittenTextsAreTranslated(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	// texts: which arguments of a call are texts to translate (-1: all).
	texts := map[string]int{"T": -1, "Th": -1, "Pick": -1, "link": 2, "step": 1}
	handwritten, _ := filepath.Glob("*_html.go")
	for _, name := range append(handwritten, "rows.go", "../../templates/layout.go") {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			var fn string
			switch f := call.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				fn = f.Sel.Name
			}
			which, ok := texts[fn]
			if !ok {
				return true
			}
			for i, a := range call.Args {
				if which >= 0 && i != which {
					continue
				}
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				n++
				if !i18n.Has("ru", s) {
					t.Errorf("%s: no Russian for %q", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
	}
	if n < 50 {
		t.Fatalf("only %d texts found: is the walk right?", n)
	}
}
