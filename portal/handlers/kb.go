package handlers

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// The knowledge base (portal/kb.go): the public help pages, the staff's
// editor and the API.
func (s *Server) kbRoutes(m, api *mux.Router) {
	m.Handle("/help", s.h(s.helpIndex)).Methods("GET")
	m.Handle("/help/search", s.h(s.helpSearch)).Methods("GET")
	m.Handle("/help/suggest", s.h(s.helpSuggest)).Methods("GET")
	m.Handle("/help/sitemap.xml", s.h(s.helpSitemap)).Methods("GET")
	m.Handle("/help/{slug}", s.h(s.helpArticle)).Methods("GET")
	m.Handle("/help/{slug}/rate", s.h(s.helpRate)).Methods("POST")
	m.Handle("/kb", s.user(s.kbManage, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/kb/new", s.user(s.kbEdit, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/kb/{id:[0-9]+}", s.user(s.kbEdit, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/kb/new", s.user(s.kbSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/kb/{id:[0-9]+}", s.user(s.kbSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/kb/{id:[0-9]+}/delete", s.user(s.kbDeleteSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/kb/categories", s.user(s.kbCategorySubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/kb/settings", s.user(s.kbSettingsSubmit, portal.RoleAdmin)).Methods("POST")
	// The reply box's "#": published articles to insert as a link or as text.
	m.Handle("/kb/insert", s.user(s.kbInsertSearch, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/tickets/{n:[0-9]+}/messages/{id:[0-9]+}/article", s.user(s.articleFromMessage, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/kb/articles", s.h(s.apiArticles)).Methods("GET")
	api.Handle("/kb/articles", s.user(apiSave((*portal.Portal).SaveArticle), portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/kb/articles/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveArticle), portal.RoleAdmin, portal.RoleOperator)).Methods("PATCH")
	api.Handle("/kb/articles/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteArticle), portal.RoleAdmin, portal.RoleOperator)).Methods("DELETE")
	api.Handle("/kb/articles/{id:[0-9]+}/rate", s.h(s.apiRateArticle)).Methods("POST")
	api.Handle("/kb/search", s.h(s.apiSearchArticles)).Methods("GET")
	api.Handle("/kb/categories", s.h(s.apiCategories)).Methods("GET")
	api.Handle("/kb/design", s.user(s.apiHelpDesign, portal.RoleAdmin)).Methods("GET")
	api.Handle("/kb/design", s.user(apiPut((*portal.Portal).SaveHelpDesign), portal.RoleAdmin)).Methods("PUT")
	api.Handle("/kb/categories", s.user(s.apiSaveCategory, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
}

// HelpData is a public help page: the index, search results or an article.
type HelpData struct {
	Colour      string // the help's own colour, "" the portal's
	Title       string
	Intro       string
	Categories  []portal.Category
	Pages       []portal.Article
	Loose       []portal.Article // articles in no category
	Results     []portal.Article
	Query       string
	Searched    bool
	Article     *portal.Article
	ArticleHTML template.HTML
	Rated       bool
	More        int // articles beyond what the index lists: found by search
}

// helpListMax bounds the articles the help's index lists in a category.
const helpListMax = 20

func (s *Server) helpData(r *http.Request, rq *Request) (*HelpData, error) {
	ctx := r.Context()
	design := rq.P.HelpDesign(ctx)
	d := &HelpData{Title: design.Title, Intro: design.Intro, Colour: design.Colour}
	all, err := rq.P.Articles(ctx, rq.User, "", false)
	if err != nil {
		return nil, err
	}
	cats, err := rq.P.Categories(ctx)
	if err != nil {
		return nil, err
	}
	lang := s.lang(r, rq)
	for _, a := range all {
		if a.Lang != "" && a.Lang != lang {
			continue
		}
		switch {
		case a.Kind == "page":
			d.Pages = append(d.Pages, a)
		case a.Category == 0:
			if len(d.Loose) < helpListMax {
				d.Loose = append(d.Loose, a)
			} else {
				d.More++
			}
		default:
			for i := range cats {
				if cats[i].ID == a.Category {
					if len(cats[i].Articles) < helpListMax {
						cats[i].Articles = append(cats[i].Articles, a)
					} else {
						d.More++
					}
				}
			}
		}
	}
	for _, c := range cats {
		if len(c.Articles) > 0 && (len(design.Categories) == 0 || slices.Contains(design.Categories, c.ID)) {
			d.Categories = append(d.Categories, c)
		}
	}
	return d, nil
}

func (s *Server) renderHelp(w http.ResponseWriter, r *http.Request, rq *Request, status int, title string, d *HelpData) error {
	pg := s.withFlash(r, rq, s.page(r, rq, title, d))
	pg.Nav = "help"
	pg.Accent = d.Colour
	return s.tpl.Render(w, status, "help", pg)
}

func (s *Server) helpIndex(w http.ResponseWriter, r *http.Request, rq *Request) error {
	d, err := s.helpData(r, rq)
	if err != nil {
		return err
	}
	return s.renderHelp(w, r, rq, http.StatusOK, "Help", d)
}

func (s *Server) helpSearch(w http.ResponseWriter, r *http.Request, rq *Request) error {
	d, err := s.helpData(r, rq)
	if err != nil {
		return err
	}
	d.Query, d.Searched = strings.TrimSpace(portal.Line(r.URL.Query().Get("q"))), true // a query is shown back: valid text only
	if d.Results, err = rq.P.SearchArticles(r.Context(), rq.User, d.Query, 20); err != nil {
		return err
	}
	return s.renderHelp(w, r, rq, http.StatusOK, "Help", d)
}

// helpSuggest answers the new-ticket form's question "is it answered
// already?": the three best articles for what the client types, as JSON.
func (s *Server) helpSuggest(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.SearchArticles(r.Context(), rq.User, r.URL.Query().Get("q"), 3)
	if err != nil {
		return err
	}
	out := make([]Suggestion, 0, len(list))
	for _, a := range list {
		out = append(out, Suggestion{Title: a.Title, URL: rq.Base + "/help/" + a.Slug + "?from=ticket", Excerpt: a.Body})
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, SuggestionList{Articles: out})
	return nil
}

func (s *Server) helpArticle(w http.ResponseWriter, r *http.Request, rq *Request) error {
	slug := mux.Vars(r)["slug"]
	a, err := rq.P.ArticleBySlug(r.Context(), rq.User, slug, true)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("from") == "ticket" {
		rq.P.NoteDeflection(r.Context(), rq.User, a.ID)
	}
	// An article's page needs no list of every article: the help's title
	// and the article.
	design := rq.P.HelpDesign(r.Context())
	d := &HelpData{Title: design.Title, Colour: design.Colour}
	d.Article, d.ArticleHTML = a, template.HTML(a.HTML) // sanitised when saved (bluemonday)
	d.Rated = r.URL.Query().Get("rated") != ""
	return s.renderHelp(w, r, rq, http.StatusOK, a.Title, d)
}

func (s *Server) helpRate(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	slug := mux.Vars(r)["slug"]
	a, err := rq.P.ArticleBySlug(r.Context(), rq.User, slug, false)
	if err != nil {
		return err
	}
	if err := rq.P.RateArticle(r.Context(), rq.User, a.ID, r.PostForm.Get("helpful") == "1"); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/help/"+a.Slug+"?rated=1", "Thank you: this helps us write better answers."))
}

// KBData is the staff's knowledge-base page and editor.
type KBData struct {
	Articles   []portal.Article
	Categories []portal.Category
	Edit       *portal.Article
	Images     []portal.ArticleImage // the edited article's
	Design     portal.HelpDesign
}

// Shows says whether the help's front page lists category id.
func (d *KBData) Shows(id int64) bool { return slices.Contains(d.Design.Categories, id) }

func (s *Server) kbManage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderKB(w, r, rq, http.StatusOK, nil)
}

func (s *Server) renderKB(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &KBData{Design: rq.P.HelpDesign(ctx)}
	var err error
	if d.Articles, err = rq.P.Articles(ctx, rq.User, "", false); err != nil {
		return err
	}
	if d.Categories, err = rq.P.Categories(ctx); err != nil {
		return err
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "Knowledge base", d))
	pg.Nav = "kb"
	des := d.Design
	pg.Form = url.Values{"kb_title": {des.Title}, "kb_intro": {des.Intro}, "visibility": {des.Visibility}, "colour": {cmp.Or(des.Colour, "#2855d8")}}
	if des.Colour != "" {
		pg.Form.Set("own_colour", "1")
	}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "kb", pg)
}

func (s *Server) renderKBEdit(w http.ResponseWriter, r *http.Request, rq *Request, status int, a *portal.Article, fix func(*templates.Page)) error {
	cats, err := rq.P.Categories(r.Context())
	if err != nil {
		return err
	}
	d := &KBData{Edit: a, Categories: cats}
	if a.ID != 0 {
		if d.Images, err = rq.P.ArticleImages(r.Context(), rq.User, a.ID); err != nil {
			return err
		}
	}
	return s.renderPage(w, r, rq, status, "kb_edit", "Article", "kb", d, fix)
}

func (s *Server) kbEdit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	a := &portal.Article{Kind: "article", Audience: "public"}
	if id := pathID(r); id != 0 {
		var err error
		if a, err = rq.P.Article(r.Context(), rq.User, id); err != nil {
			return err
		}
	}
	return s.renderKBEdit(w, r, rq, http.StatusOK, a, nil)
}

func (s *Server) kbSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	title, body, slug, kind, lang, aud := f.Get("title"), f.Get("body"), f.Get("slug"), f.Get("kind"), f.Get("lang"), f.Get("audience")
	cat, _ := strconv.ParseInt(f.Get("category"), 10, 64)
	pos, _ := strconv.Atoi(f.Get("position"))
	published := f.Get("published") != ""
	a, err := rq.P.SaveArticle(r.Context(), rq.User, pathID(r), portal.ArticleInput{Title: &title, Body: &body, Slug: &slug, Kind: &kind, Lang: &lang,
		Audience: &aud, Category: &cat, Position: &pos, Published: &published})
	if err != nil {
		cur := &portal.Article{ID: pathID(r), Kind: "article", Audience: "public"}
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderKBEdit(w, r, rq, st, cur, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/kb/%d", rq.Base, a.ID), "The article is saved."))
}

func (s *Server) kbDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteArticle(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/kb", "The article is deleted."))
}

func (s *Server) kbCategorySubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id, _ := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	pos, _ := strconv.Atoi(r.PostForm.Get("position"))
	if _, err := rq.P.SaveCategory(r.Context(), rq.User, id, r.PostForm.Get("name"), pos); err != nil {
		var fe *portal.FieldErrors
		if errors.As(err, &fe) {
			return redirect(w, r, flashURL(rq, rq.Base+"/kb", "Enter a name of at most 80 characters."))
		}
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/kb", "Saved."))
}

func (s *Server) kbSettingsSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	title, intro, vis, colour := f.Get("kb_title"), f.Get("kb_intro"), f.Get("visibility"), ""
	if f.Get("own_colour") != "" {
		colour = f.Get("colour")
	}
	cats := []int64{}
	for _, v := range f["categories"] {
		id, _ := strconv.ParseInt(v, 10, 64)
		cats = append(cats, id)
	}
	_, err := rq.P.SaveHelpDesign(r.Context(), rq.User, portal.HelpDesignInput{Title: &title, Intro: &intro, Visibility: &vis, Colour: &colour, Categories: &cats})
	if err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderKB(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*KBData).Design.Categories = cats })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/kb", "Saved."))
}

func (s *Server) apiHelpDesign(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.P.HelpDesign(r.Context()))
	return nil
}

// helpSitemap lists the help's public pages for search engines: what
// someone not signed in may read, nothing else.
func (s *Server) helpSitemap(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if rq.P.HelpDesign(r.Context()).Visibility == "clients" {
		return web.ErrNotFound // closed to all but signed-in clients: nothing to index
	}
	list, err := rq.P.Articles(r.Context(), nil, "", false)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	loc := func(u string, at int64) {
		b.WriteString("<url><loc>")
		xml.EscapeText(&b, []byte(u))
		b.WriteString("</loc>")
		if at > 0 {
			b.WriteString("<lastmod>" + time.Unix(at, 0).UTC().Format("2006-01-02") + "</lastmod>")
		}
		b.WriteString("</url>\n")
	}
	loc(rq.P.URL()+"help", 0)
	for _, a := range list {
		loc(rq.P.URL()+"help/"+url.PathEscape(a.Slug), a.UpdatedAt)
	}
	b.WriteString("</urlset>\n")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, err = io.WriteString(w, b.String())
	return err
}

func (s *Server) articleFromMessage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	a, err := rq.P.ArticleFromMessage(r.Context(), rq.User, number(r), pathID(r))
	if err != nil {
		return s.ticketFail(w, r, rq, number(r), err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/kb/%d", rq.Base, a.ID), "A draft article is made from the reply: edit it and publish."))
}

func (s *Server) apiArticles(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.Articles(r.Context(), rq.User, r.URL.Query().Get("kind"), true)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ArticleList{Articles: list})
	return nil
}

func (s *Server) apiRateArticle(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in RateArticleInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.RateArticle(r.Context(), rq.User, pathID(r), in.Helpful); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiSearchArticles(w http.ResponseWriter, r *http.Request, rq *Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	list, err := rq.P.SearchArticles(r.Context(), rq.User, r.URL.Query().Get("q"), limit)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ArticleList{Articles: list})
	return nil
}

func (s *Server) apiCategories(w http.ResponseWriter, r *http.Request, rq *Request) error {
	cats, err := rq.P.Categories(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, CategoryList{Categories: cats})
	return nil
}

func (s *Server) apiSaveCategory(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in CategoryInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := rq.P.SaveCategory(r.Context(), rq.User, 0, in.Name, in.Position)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

// kbInsertSearch finds published articles for the reply box: each with
// its public address and its text, to insert as a link or as text.
func (s *Server) kbInsertSearch(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ctx := r.Context()
	found, err := rq.P.SearchArticles(ctx, rq.User, r.URL.Query().Get("q"), 8)
	if err != nil {
		return err
	}
	out := InsertList{Articles: []InsertArticle{}}
	for _, f := range found {
		a, err := rq.P.ArticleBySlug(ctx, nil, f.Slug, false) // what a client may follow
		if err != nil {
			continue // a draft, or for signed-in clients only: not to be sent as a link to anyone
		}
		out.Articles = append(out.Articles, InsertArticle{Title: a.Title, URL: rq.P.URL() + "help/" + a.Slug, Text: a.Body})
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}
