package portal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"portaldesk/portal/sqlitedb"
)

// The knowledge base: articles that answer questions before they become
// tickets, and the business's info pages ("Delivery", "Warranty"), written
// in Markdown (goldmark) and kept rendered, sanitised by bluemonday, so a
// public page is a single row read. A draft, or an article for signed-in
// clients only, is never served to anyone else — page, search or list.

// Article is a knowledge-base article or an info page.
type Article struct {
	ID        int64  `json:"id"`
	Slug      string `json:"slug"`
	Kind      string `json:"kind"` // article or page
	Title     string `json:"title"`
	Body      string `json:"body"` // Markdown
	HTML      string `json:"html"` // rendered and sanitised
	Category  int64  `json:"category"`
	Position  int    `json:"position"`
	Lang      string `json:"lang"` // "" every language, en or ru
	Published bool   `json:"published"`
	Audience  string `json:"audience"` // public, or clients (signed in)
	Helpful   int    `json:"helpful"`
	Unhelpful int    `json:"unhelpful"`
	Views     int    `json:"views"`
	UpdatedAt int64  `json:"updated_at"`
}

// Category is a group of articles, in order.
type Category struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Position int       `json:"position"`
	Articles []Article `json:"articles,omitempty"`
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// articlePolicy keeps what an article may show: text, links (http, https,
// mailto and the portal's own), images, tables — never a script, a style,
// a frame or a javascript: link.
var articlePolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(false)
	p.AllowURLSchemes("http", "https", "mailto")
	return p
}()

// RenderMarkdown turns an article's Markdown into safe HTML.
func RenderMarkdown(src string) string {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		return articlePolicy.Sanitize("<p>" + strings.ReplaceAll(src, "<", "&lt;") + "</p>")
	}
	return articlePolicy.Sanitize(b.String())
}

var slugClean = regexp.MustCompile(`[^a-z0-9а-яё]+`)

// reservedSlugs are paths under /help that are not articles.
var reservedSlugs = map[string]bool{"api": true, "search": true, "suggest": true, "new": true}

// slugOf makes a URL name from a title: lower case, words joined by "-"
// (Cyrillic kept: the address reads as the title).
func slugOf(title string) string {
	s := slugClean.ReplaceAllString(strings.ToLower(title), "-")
	s = strings.Trim(s, "-")
	if utf8.RuneCountInString(s) > 80 {
		s = strings.TrimRight(string([]rune(s)[:80]), "-")
	}
	if s == "" {
		s = "article"
	}
	return s
}

const articleCols = "a.id, a.slug, a.kind, a.title, a.body, a.html, COALESCE(a.category_id, 0), a.position, a.lang, a.published, a.audience, a.helpful, a.unhelpful, a.views, a.updated_at"

func scanArticle(row interface{ Scan(...any) error }) (*Article, error) {
	a := &Article{}
	err := row.Scan(&a.ID, &a.Slug, &a.Kind, &a.Title, &a.Body, &a.HTML, &a.Category, &a.Position, &a.Lang, &a.Published, &a.Audience, &a.Helpful, &a.Unhelpful, &a.Views, &a.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return a, err
}

// visibleTo is the condition on articles a that keeps to what reader may
// read (nil: someone not signed in).
func visibleTo(reader *User) string {
	switch {
	case reader != nil && reader.IsStaff():
		return "1"
	case reader != nil:
		return "a.published = 1"
	}
	return "a.published = 1 AND a.audience = 'public'"
}

// KBReader is who reads the help pages: nil when nobody is signed in, and
// nil too when the portal shows its help only to signed-in clients and
// nobody is.
func (p *Portal) kbClosed(ctx context.Context, reader *User) bool {
	return reader == nil && p.Setting(ctx, "kb_visibility", "public") == "clients"
}

// Articles lists what reader may read, by category (articles) or kind
// ("" is both); full: with their text, else only what a list shows.
func (p *Portal) Articles(ctx context.Context, reader *User, kind string, full bool) ([]Article, error) {
	if p.kbClosed(ctx, reader) {
		return []Article{}, nil
	}
	cols := articleCols
	if !full {
		cols = strings.Replace(articleCols, "a.body, a.html", "'', ''", 1)
	}
	q := "SELECT " + cols + " FROM kb_articles a WHERE " + visibleTo(reader)
	var args []any
	if kind != "" {
		q += " AND a.kind = ?"
		args = append(args, kind)
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY a.category_id, a.position, a.title COLLATE NOCASE", args...)
	if err != nil {
		return nil, fmt.Errorf("store: articles: %w", err)
	}
	defer rows.Close()
	out := []Article{}
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// ArticleBySlug is one article reader may read (ErrNotFound otherwise:
// a draft does not exist for the public). viewed counts a reading.
func (p *Portal) ArticleBySlug(ctx context.Context, reader *User, slug string, viewed bool) (*Article, error) {
	if p.kbClosed(ctx, reader) {
		return nil, ErrNotFound
	}
	a, err := scanArticle(p.q.QueryRow(ctx, "SELECT "+articleCols+" FROM kb_articles a WHERE a.slug = ? AND "+visibleTo(reader), slug))
	if err != nil {
		return nil, err
	}
	if viewed && a.Published && p.writable() == nil {
		_, _ = p.q.Exec(ctx, "UPDATE kb_articles SET views = views + 1 WHERE id = ?", a.ID)
	}
	return a, nil
}

// Article is one article by id, for staff.
func (p *Portal) Article(ctx context.Context, actor *User, id int64) (*Article, error) {
	if !actor.IsStaff() {
		return nil, ErrNotFound
	}
	return scanArticle(p.q.QueryRow(ctx, "SELECT "+articleCols+" FROM kb_articles a WHERE a.id = ?", id))
}

// ArticleInput makes or changes an article; nil leaves a part.
type ArticleInput struct {
	Title     *string `json:"title"`
	Slug      *string `json:"slug"`
	Body      *string `json:"body"`
	Kind      *string `json:"kind"` // article or page
	Category  *int64  `json:"category"`
	Position  *int    `json:"position"`
	Lang      *string `json:"lang"`
	Published *bool   `json:"published"`
	Audience  *string `json:"audience"`
}

// MaxArticleRunes bounds an article's Markdown.
const MaxArticleRunes = 100_000

// SaveArticle makes (id 0) or changes an article. Staff only.
func (p *Portal) SaveArticle(ctx context.Context, actor *User, id int64, in ArticleInput) (*Article, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	a := &Article{Kind: "article", Audience: "public"}
	if id != 0 {
		var err error
		if a, err = p.Article(ctx, actor, id); err != nil {
			return nil, err
		}
	}
	errs := map[string]string{}
	if in.Title != nil {
		a.Title = Line(*in.Title)
	}
	if n := utf8.RuneCountInString(a.Title); n == 0 || n > 200 {
		errs["title"] = "Enter a title of at most 200 characters."
	}
	if in.Body != nil {
		a.Body = strings.TrimSpace(Text(*in.Body))
	}
	if utf8.RuneCountInString(a.Body) > MaxArticleRunes {
		errs["body"] = fmt.Sprintf("At most %d characters.", MaxArticleRunes)
	}
	if in.Kind != nil {
		a.Kind = *in.Kind
	}
	if a.Kind != "article" && a.Kind != "page" {
		errs["kind"] = "Choose article or page."
	}
	if in.Category != nil {
		a.Category = *in.Category
		if a.Category != 0 {
			var one int
			if p.q.QueryRow(ctx, "SELECT 1 FROM kb_categories WHERE id = ?", a.Category).Scan(&one) != nil {
				errs["category"] = "Unknown category."
			}
		}
	}
	if in.Position != nil {
		a.Position = *in.Position
	}
	if in.Lang != nil {
		a.Lang = *in.Lang
	}
	if a.Lang != "" && a.Lang != "en" && a.Lang != "ru" {
		errs["lang"] = "Choose every language, en or ru."
	}
	if in.Published != nil {
		a.Published = *in.Published
	}
	if in.Audience != nil {
		a.Audience = *in.Audience
	}
	if a.Audience != "public" && a.Audience != "clients" {
		errs["audience"] = "Choose public or clients."
	}
	switch {
	case in.Slug != nil && strings.TrimSpace(*in.Slug) != "":
		a.Slug = slugOf(*in.Slug)
		if reservedSlugs[a.Slug] {
			errs["slug"] = fmt.Sprintf("%q is taken by the help pages themselves.", a.Slug)
		}
	case a.Slug == "":
		a.Slug = slugOf(a.Title)
		if reservedSlugs[a.Slug] {
			a.Slug += "-1"
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	a.HTML = RenderMarkdown(a.Body)
	now := p.Now().Unix()
	var cat any
	if a.Category != 0 {
		cat = a.Category
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		if id == 0 {
			// A title written before gets a number: slugs stay unique.
			base := a.Slug
			for i := 2; ; i++ {
				var one int
				if tp.q.QueryRow(ctx, "SELECT 1 FROM kb_articles WHERE slug = ?", a.Slug).Scan(&one) != nil {
					break
				}
				a.Slug = fmt.Sprintf("%s-%d", base, i)
			}
			res, err := tp.q.Exec(ctx, `INSERT INTO kb_articles (slug, kind, title, body, html, category_id, position, lang, published, audience, author_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Slug, a.Kind, a.Title, a.Body, a.HTML, cat, a.Position, a.Lang, a.Published, a.Audience, actor.ID, now, now)
			if err != nil {
				return err
			}
			a.ID, _ = res.LastInsertId()
		} else if _, err := tp.q.Exec(ctx, `UPDATE kb_articles SET slug = ?, kind = ?, title = ?, body = ?, html = ?, category_id = ?, position = ?, lang = ?, published = ?,
			audience = ?, updated_at = ? WHERE id = ?`, a.Slug, a.Kind, a.Title, a.Body, a.HTML, cat, a.Position, a.Lang, a.Published, a.Audience, now, id); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, "DELETE FROM kb_search WHERE rowid = ?", a.ID); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, "INSERT INTO kb_search (rowid, title, body) VALUES (?, ?, ?)", a.ID, a.Title, a.Body); err != nil {
			return err
		}
		return tp.keepInfoMenu(ctx)
	})
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"slug": "Another article has this address."}}
	}
	if err != nil {
		return nil, fmt.Errorf("store: save article: %w", err)
	}
	a.UpdatedAt = now
	return a, nil
}

// DeleteArticle removes an article. Staff only.
func (p *Portal) DeleteArticle(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	var files []string
	err := p.Tx(ctx, func(tp *Portal) error {
		rows, err := tp.q.Query(ctx, "SELECT path FROM kb_images WHERE article_id = ?", id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err == nil {
				files = append(files, f)
			}
		}
		rows.Close()
		if _, err := tp.q.Exec(ctx, "DELETE FROM kb_images WHERE article_id = ?", id); err != nil {
			return err
		}
		res, err := tp.q.Exec(ctx, "DELETE FROM kb_articles WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err = tp.q.Exec(ctx, "DELETE FROM kb_search WHERE rowid = ?", id); err != nil {
			return err
		}
		return tp.keepInfoMenu(ctx)
	})
	if err != nil {
		return err
	}
	for _, f := range files { // their rows are gone: the files follow
		p.Fs.Remove(f)
	}
	return nil
}

// SearchArticles finds the articles reader may read that match q, best
// first (at most limit).
func (p *Portal) SearchArticles(ctx context.Context, reader *User, q string, limit int) ([]Article, error) {
	fts := ftsQuery(q)
	if fts == "" || p.kbClosed(ctx, reader) {
		return []Article{}, nil
	}
	rows, err := p.q.Query(ctx, "SELECT "+articleCols+` FROM kb_search s JOIN kb_articles a ON a.id = s.rowid
		WHERE kb_search MATCH ? AND `+visibleTo(reader)+" ORDER BY bm25(kb_search, 5.0, 1.0) LIMIT ?", fts, limit)
	if err != nil {
		return nil, fmt.Errorf("store: search articles: %w", err)
	}
	defer rows.Close()
	out := []Article{}
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, err
		}
		a.Body, a.HTML = excerpt(a.Body), "" // a list shows the start
		out = append(out, *a)
	}
	return out, rows.Err()
}

// excerpt is the start of an article's text, without Markdown marks.
func excerpt(md string) string {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune("#*_`>[]()!|", r) {
			return -1
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, md)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

// RateArticle counts a reader's verdict: helpful or not.
func (p *Portal) RateArticle(ctx context.Context, reader *User, id int64, helpful bool) error {
	if err := p.writable(); err != nil {
		return err
	}
	col := "unhelpful"
	if helpful {
		col = "helpful"
	}
	res, err := p.q.Exec(ctx, "UPDATE kb_articles AS a SET "+col+" = "+col+" + 1 WHERE a.id = ? AND "+visibleTo(reader), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Categories lists the categories in order.
func (p *Portal) Categories(ctx context.Context) ([]Category, error) {
	rows, err := p.q.Query(ctx, "SELECT id, name, position FROM kb_categories ORDER BY position, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Category{}
	for rows.Next() {
		var c Category
		if err := rows.Scan(&c.ID, &c.Name, &c.Position); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SaveCategory makes (id 0) or renames a category. Staff only.
func (p *Portal) SaveCategory(ctx context.Context, actor *User, id int64, name string, position int) (*Category, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	name = Line(name)
	if n := utf8.RuneCountInString(name); n == 0 || n > 80 {
		return nil, &FieldErrors{Fields: map[string]string{"name": "Enter a name of at most 80 characters."}}
	}
	if id == 0 {
		res, err := p.q.Exec(ctx, "INSERT INTO kb_categories (name, position, created_at) VALUES (?, ?, ?)", name, position, p.Now().Unix())
		if err != nil {
			return nil, err
		}
		id, _ = res.LastInsertId()
	} else if res, err := p.q.Exec(ctx, "UPDATE kb_categories SET name = ?, position = ? WHERE id = ?", name, position, id); err != nil {
		return nil, err
	} else if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return &Category{ID: id, Name: name, Position: position}, nil
}

// DeflectionWindow is how long after opening a suggested article a new
// ticket means the article did not answer.
const DeflectionWindow = time.Hour

// NoteDeflection records that a client opened article id while writing a
// ticket (once per client and article).
func (p *Portal) NoteDeflection(ctx context.Context, reader *User, id int64) {
	if reader == nil || reader.IsStaff() || p.writable() != nil {
		return
	}
	_, _ = p.q.Exec(ctx, "INSERT OR IGNORE INTO kb_deflections (user_id, article_id, at) VALUES (?, ?, ?)", reader.ID, id, p.Now().Unix())
}

// ticketedAfterDeflection marks the suggestions a client opened within the
// hour before sending a ticket: they did not answer (inside the ticket's
// transaction).
func (p *Portal) ticketedAfterDeflection(ctx context.Context, clientID int64) error {
	_, err := p.q.Exec(ctx, "UPDATE kb_deflections SET ticketed = 1 WHERE user_id = ? AND at > ?", clientID, p.Now().Add(-DeflectionWindow).Unix())
	return err
}

// Deflected counts the suggestions opened in a period that no ticket
// followed: questions the knowledge base answered.
func (p *Portal) Deflected(ctx context.Context, from, to int64) int {
	var n int
	_ = p.q.QueryRow(ctx, "SELECT COUNT(*) FROM kb_deflections WHERE ticketed = 0 AND at >= ? AND at < ?", from, to).Scan(&n)
	return n
}

// ArticleFromMessage drafts an article from a staff reply: the ticket's
// subject as its title, the reply as its body. Staff only.
func (p *Portal) ArticleFromMessage(ctx context.Context, actor *User, number, messageID int64) (*Article, error) {
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	var body, kind string
	if err := p.q.QueryRow(ctx, "SELECT body, kind FROM messages WHERE id = ? AND ticket_id = ?", messageID, number).Scan(&body, &kind); err != nil || kind != KindMessage {
		return nil, &FieldErrors{Fields: map[string]string{"message": "Choose a public message of this ticket."}}
	}
	published := false
	return p.SaveArticle(ctx, actor, 0, ArticleInput{Title: &t.Subject, Body: &body, Published: &published})
}

// HelpDesign is how the public help looks: its title and introduction,
// who may read it, its own colour, and the categories its front page
// lists (none chosen: every one).
type HelpDesign struct {
	Title      string  `json:"title"`
	Intro      string  `json:"intro"`
	Visibility string  `json:"visibility"` // public, or clients (signed in)
	Colour     string  `json:"colour"`     // #rrggbb; "" the portal's own
	Categories []int64 `json:"categories"`
}

// HelpDesignInput changes the help's design; nil leaves a part.
type HelpDesignInput struct {
	Title      *string  `json:"title"`
	Intro      *string  `json:"intro"`
	Visibility *string  `json:"visibility"`
	Colour     *string  `json:"colour"`
	Categories *[]int64 `json:"categories"`
}

// HelpDesign reads the help's design.
func (p *Portal) HelpDesign(ctx context.Context) HelpDesign {
	return HelpDesign{Title: p.Setting(ctx, "kb_title", ""), Intro: p.Setting(ctx, "kb_intro", ""),
		Visibility: p.Setting(ctx, "kb_visibility", "public"), Colour: p.Setting(ctx, "kb_colour", ""),
		Categories: nonNilIDs(parseIDs(p.Setting(ctx, "kb_categories", "")))}
}

// SaveHelpDesign checks every part of a change, then stores it whole. Admins only.
func (p *Portal) SaveHelpDesign(ctx context.Context, actor *User, in HelpDesignInput) (*HelpDesign, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	d := p.HelpDesign(ctx)
	errs := map[string]string{}
	if in.Title != nil {
		if d.Title = strings.TrimSpace(Line(*in.Title)); utf8.RuneCountInString(d.Title) > 120 {
			errs["title"] = "At most 120 characters."
		}
	}
	if in.Intro != nil {
		if d.Intro = strings.TrimSpace(Text(*in.Intro)); utf8.RuneCountInString(d.Intro) > 1000 {
			errs["intro"] = "At most 1000 characters."
		}
	}
	if in.Visibility != nil {
		if d.Visibility = *in.Visibility; d.Visibility != "public" && d.Visibility != "clients" {
			errs["visibility"] = "Choose public or clients."
		}
	}
	if in.Colour != nil {
		if d.Colour = strings.ToLower(strings.TrimSpace(*in.Colour)); d.Colour != "" && !colourRE.MatchString(d.Colour) {
			errs["colour"] = "Choose a colour like #2855d8, or none for the portal's own."
		}
	}
	if in.Categories != nil {
		cats, err := p.Categories(ctx)
		if err != nil {
			return nil, err
		}
		d.Categories = []int64{}
		for _, id := range *in.Categories {
			if !slices.ContainsFunc(cats, func(c Category) bool { return c.ID == id }) {
				errs["categories"] = "Choose among the knowledge base's categories."
				break
			}
			if !slices.Contains(d.Categories, id) {
				d.Categories = append(d.Categories, id)
			}
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	if err := p.SetSettings(ctx, map[string]string{"kb_title": d.Title, "kb_intro": d.Intro, "kb_visibility": d.Visibility,
		"kb_colour": d.Colour, "kb_categories": formatIDs(d.Categories)}); err != nil {
		return nil, err
	}
	return &d, nil
}

// InfoLink is an info page as the portal's menu links it.
type InfoLink struct {
	Title    string `json:"t"`
	Slug     string `json:"s"`
	Lang     string `json:"l,omitempty"`
	Clients  bool   `json:"c,omitempty"` // for signed-in clients only
	Position int    `json:"-"`
}

// keepInfoMenu writes the published info pages into a setting (inside the
// transaction that changed an article), so that every page's menu links
// them from memory, without a query.
func (p *Portal) keepInfoMenu(ctx context.Context) error {
	rows, err := p.q.Query(ctx, "SELECT title, slug, lang, audience = 'clients' FROM kb_articles WHERE kind = 'page' AND published = 1 ORDER BY position, title LIMIT 8")
	if err != nil {
		return err
	}
	list := []InfoLink{}
	for rows.Next() {
		var l InfoLink
		if err := rows.Scan(&l.Title, &l.Slug, &l.Lang, &l.Clients); err != nil {
			rows.Close()
			return err
		}
		list = append(list, l)
	}
	rows.Close()
	b, _ := json.Marshal(list)
	return p.SetSetting(ctx, "kb_menu", string(b))
}

// InfoMenu is the info pages reader may open (nil: nobody signed in), in
// lang, for the portal's menu.
func (p *Portal) InfoMenu(ctx context.Context, reader *User, lang string) []InfoLink {
	raw := p.Setting(ctx, "kb_menu", "")
	if raw == "" || raw == "[]" || p.kbClosed(ctx, reader) {
		return nil
	}
	var all, out []InfoLink
	if json.Unmarshal([]byte(raw), &all) != nil {
		return nil
	}
	for _, l := range all {
		if (l.Lang == "" || l.Lang == lang) && (!l.Clients || reader != nil) {
			out = append(out, l)
		}
	}
	return out
}
