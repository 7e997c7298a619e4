package handlers

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Canned replies (portal/canned.go): the staff's page, the reply box's
// picker and the API.
func (s *Server) cannedRoutes(m, api *mux.Router) {
	staff := []string{portal.RoleAdmin, portal.RoleOperator}
	m.Handle("/canned", s.user(s.cannedPage, staff...)).Methods("GET")
	m.Handle("/canned", s.user(s.cannedSubmit, staff...)).Methods("POST")
	m.Handle("/canned/{id:[0-9]+}", s.user(s.cannedSubmit, staff...)).Methods("POST")
	m.Handle("/canned/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteCanned, "/canned", "The reply is deleted."), staff...)).Methods("POST")
	api.Handle("/canned-replies", s.user(s.apiCanned, staff...)).Methods("GET")
	api.Handle("/canned-replies", s.user(apiSave((*portal.Portal).SaveCanned), staff...)).Methods("POST")
	api.Handle("/canned-replies/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveCanned), staff...)).Methods("PATCH")
	api.Handle("/canned-replies/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteCanned), staff...)).Methods("DELETE")
	api.Handle("/canned-replies/{id:[0-9]+}/use", s.user(s.apiUseCanned, staff...)).Methods("POST")
	// The reply box's picker, with the page's session.
	m.Handle("/canned/search", s.user(s.apiCanned, staff...)).Methods("GET")
	m.Handle("/canned/{id:[0-9]+}/use", s.user(s.apiUseCanned, staff...)).Methods("POST")
}

// CannedData is the canned replies page.
type CannedData struct {
	Replies []portal.CannedReply
	EditID  int64
}

func (s *Server) renderCanned(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	list, err := rq.P.CannedReplies(r.Context(), rq.User, "", "")
	if err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "canned", "Canned replies", "canned", &CannedData{Replies: list, EditID: -1}, fix)
}

func (s *Server) cannedPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderCanned(w, r, rq, http.StatusOK, nil)
}

func (s *Server) cannedSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	title, body, folder, lang := r.PostForm.Get("title"), r.PostForm.Get("body"), r.PostForm.Get("folder"), r.PostForm.Get("lang")
	shared := r.PostForm.Get("shared") != ""
	id := pathID(r)
	if _, err := rq.P.SaveCanned(r.Context(), rq.User, id, portal.CannedInput{Title: &title, Body: &body, Folder: &folder, Shared: &shared, Lang: &lang}); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderCanned(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*CannedData).EditID = id })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/canned", "The reply is saved."))
}

// apiCanned lists canned replies; for a ticket (?ticket=N), those for
// every language and its client's.
func (s *Server) apiCanned(w http.ResponseWriter, r *http.Request, rq *Request) error {
	lang := r.URL.Query().Get("lang")
	if n, _ := strconv.ParseInt(r.URL.Query().Get("ticket"), 10, 64); n != 0 {
		var err error
		if lang, err = rq.P.TicketLang(r.Context(), rq.User, n); err != nil {
			return err
		}
	}
	list, err := rq.P.CannedReplies(r.Context(), rq.User, r.URL.Query().Get("q"), lang)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, CannedList{Replies: list})
	return nil
}

// apiUseCanned fills a canned reply for a ticket (?ticket=N) and counts
// the use.
func (s *Server) apiUseCanned(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n, _ := strconv.ParseInt(r.URL.Query().Get("ticket"), 10, 64)
	text, err := rq.P.UseCanned(r.Context(), rq.User, pathID(r), n)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, CannedText{Text: text})
	return nil
}
