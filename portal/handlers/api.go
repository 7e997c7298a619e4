package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

func (s *Server) apiRoutes(api *mux.Router) {
	api.Handle("/register", s.h(s.apiRegister)).Methods("POST")
	api.Handle("/password/forgot", s.h(s.apiForgot)).Methods("POST")
	api.Handle("/password/reset", s.h(s.apiReset)).Methods("POST")
	api.Handle("/users", s.user(s.apiUsers, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/users", s.user(s.apiInvite, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/users/{id:[0-9]+}", s.user(s.apiChangeUser, portal.RoleAdmin, portal.RoleOperator)).Methods("PATCH")
	api.Handle("/users/{id:[0-9]+}/invite", s.user(s.apiInviteAgain, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/form", s.user(s.apiForm)).Methods("GET")
	api.Handle("/form", s.user(s.apiPutForm, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/statuses", s.user(s.apiStatuses)).Methods("GET")
	api.Handle("/statuses", s.user(s.apiSaveStatus, portal.RoleAdmin)).Methods("POST")
	api.Handle("/statuses/{id:[0-9]+}", s.user(s.apiSaveStatus, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/tickets", s.user(s.apiTickets)).Methods("GET")
	api.Handle("/tickets", s.user(s.apiCreateTicket)).Methods("POST")
	api.Handle("/tickets/bulk", s.user(s.apiBulkTickets, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}", s.user(s.apiTicket)).Methods("GET")
	api.Handle("/tickets/{n:[0-9]+}", s.user(s.apiPatchTicket)).Methods("PATCH")
	api.Handle("/tickets/{n:[0-9]+}", s.user(s.apiDeleteTicket)).Methods("DELETE")
	api.Handle("/tickets/{n:[0-9]+}/messages", s.user(s.apiMessages)).Methods("GET")
	api.Handle("/tickets/{n:[0-9]+}/messages", s.user(s.apiPostMessage)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/attachments", s.user(s.apiUpload)).Methods("POST")
	api.Handle("/attachments/{id:[0-9]+}", s.user(s.download)).Methods("GET")
	api.Handle("/settings", s.user(s.apiSettings, portal.RoleAdmin)).Methods("GET")
	api.Handle("/settings", s.user(s.apiPutSettings, portal.RoleAdmin)).Methods("PUT", "PATCH")
	api.Handle("/workflow", s.user(s.apiWorkflow, portal.RoleAdmin)).Methods("GET")
	api.Handle("/workflow", s.user(s.apiPutWorkflow, portal.RoleAdmin)).Methods("PUT", "PATCH")
	api.Handle("/profile", s.user(s.apiProfile)).Methods("GET")
	api.Handle("/profile", s.user(s.apiPutProfile)).Methods("PUT")
	api.Handle("/password", s.user(s.apiPassword)).Methods("POST")
	api.Handle("/tokens", s.user(s.apiTokens, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/tokens", s.user(s.apiCreateToken, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/tokens/{id}", s.user(s.apiRevokeToken, portal.RoleAdmin, portal.RoleOperator)).Methods("DELETE")
	api.Handle("/outbox", s.user(s.apiOutbox, portal.RoleAdmin)).Methods("GET")
	api.Handle("/openapi.json", s.h(s.openAPI)).Methods("GET")
}

func number(r *http.Request) int64 {
	n, _ := strconv.ParseInt(mux.Vars(r)["n"], 10, 64)
	return n
}

func pathID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	return n
}

func (s *Server) apiRegister(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.NewPerson
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.Register(r.Context(), in, web.Info(r).IP); err != nil {
		return err
	}
	// The same answer whether the address was new or not (Register).
	web.WriteJSON(w, http.StatusAccepted, RegisterResult{Status: "sent", Message: "If the address can be registered, its login and password are on their way to it."})
	return nil
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, rq *Request) error {
	q := r.URL.Query()
	org, _ := strconv.ParseInt(q.Get("organization"), 10, 64)
	f := portal.UserFilter{Role: q.Get("role"), ExternalID: q.Get("external_id"), Org: org, Sync: portal.Sync{Since: q.Get("updated_since"), Cursor: q.Get("cursor")}}
	users, more, err := rq.P.FindUsers(r.Context(), f)
	if err != nil {
		return err
	}
	list := UserList{Users: nonNil(users)}
	if more {
		last := users[len(users)-1]
		list.NextCursor = portal.Cursor(last.UpdatedAt, last.ID)
	}
	web.WriteJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) apiInvite(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.NewPerson
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := rq.P.Invite(r.Context(), rq.User, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) apiChangeUser(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var ch portal.UserChange
	if err := web.DecodeJSON(r, &ch); err != nil {
		return err
	}
	u, err := rq.P.ChangeUser(r.Context(), rq.User, pathID(r), ch)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiInviteAgain(w http.ResponseWriter, r *http.Request, rq *Request) error {
	u, err := rq.P.ResendInvitation(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

// FormView is the questionnaire as the API shows it.
type FormView struct {
	Preamble string          `json:"preamble"`
	Designer bool            `json:"designer"`
	Fields   []*portal.Field `json:"fields"`
}

func (s *Server) apiForm(w http.ResponseWriter, r *http.Request, rq *Request) error {
	all := rq.User.Role == portal.RoleAdmin && r.URL.Query().Get("all") == "1"
	fields, err := rq.P.Fields(r.Context(), all)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, FormView{Preamble: rq.P.Setting(r.Context(), "preamble", ""), Designer: rq.P.Plan().Designer, Fields: fields})
	return nil
}

// apiPutForm replaces the questionnaire as a whole (portal.FormEdit):
// all of it, or — when any part is invalid — none of it.
func (s *Server) apiPutForm(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.FormEdit
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.SaveForm(r.Context(), rq.User, in); err != nil {
		return err
	}
	return s.apiForm(w, r, rq)
}

func (s *Server) apiStatuses(w http.ResponseWriter, r *http.Request, rq *Request) error {
	sts, err := rq.P.Statuses(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, StatusList{nonNil(sts)})
	return nil
}

func (s *Server) apiSaveStatus(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.StatusInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	st, err := rq.P.SaveStatus(r.Context(), rq.User, pathID(r), in)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if pathID(r) == 0 {
		code = http.StatusCreated
	}
	web.WriteJSON(w, code, st)
	return nil
}

// filterOf reads the tickets table's filters from a query string.
func filterOf(q url.Values) portal.TicketFilter { return portal.FilterFromQuery(q) }

func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.ListTickets(r.Context(), rq.User, filterOf(r.URL.Query()))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) apiCreateTicket(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in NewTicketInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return web.BadRequest("The request body is not valid JSON: %v", err)
	}
	vals := map[string]string{}
	for k, v := range in.Fields {
		vals[k] = portal.AnswerString(v)
	}
	t, err := rq.P.CreateTicket(r.Context(), rq.User, portal.NewTicket{Values: vals, Priority: in.Priority, ClientID: in.Client, Form: in.Form, ExternalID: in.ExternalID})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/api/v1/tickets/%d", rq.Base, t.Number))
	web.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// TicketView is a ticket with its files, as GET /tickets/{n} answers.
type TicketView struct {
	*portal.Ticket
	Attachments []*portal.Attachment `json:"attachments"`
}

func (s *Server) apiTicket(w http.ResponseWriter, r *http.Request, rq *Request) error {
	t, err := rq.P.Ticket(r.Context(), rq.User, number(r))
	if err != nil {
		return err
	}
	atts, err := rq.P.Attachments(r.Context(), rq.User, t.Number)
	if err != nil {
		return err
	}
	web.WriteTagged(w, r, TicketView{Ticket: t, Attachments: nonNil(atts)})
	return nil
}

func (s *Server) apiPatchTicket(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in map[string]json.RawMessage
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	var ch portal.TicketChange
	str := func(key string) (*string, error) {
		raw, ok := in[key]
		if !ok {
			return nil, nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		s := portal.AnswerString(v)
		return &s, nil
	}
	var err error
	if ch.Status, err = str("status"); err != nil {
		return web.BadRequest("status: %v", err)
	}
	if ch.Priority, err = str("priority"); err != nil {
		return web.BadRequest("priority: %v", err)
	}
	if ch.Group, err = str("group"); err != nil { // an id, a name, or null for none
		return web.BadRequest("group: %v", err)
	}
	if ch.ExternalID, err = str("external_id"); err != nil { // null or "" clears it
		return web.BadRequest("external_id: %v", err)
	}
	if raw, ok := in["tags"]; ok {
		var tags []string
		if err := json.Unmarshal(raw, &tags); err != nil {
			return web.BadRequest("tags: a list of names")
		}
		ch.Tags = &tags
	}
	if a, err := str("assignee"); err != nil {
		return web.BadRequest("assignee: %v", err)
	} else if a != nil {
		id, err := assigneeID(rq, *a)
		if err != nil {
			return err
		}
		ch.Assignee = &id
	}
	t, err := rq.P.UpdateTicket(r.Context(), rq.User, number(r), ch)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

// apiBulkTickets applies one change to several tickets, all or none.
func (s *Server) apiBulkTickets(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in BulkInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	ch := portal.TicketChange{Status: in.Status, Priority: in.Priority}
	if in.Assignee != nil {
		id, err := assigneeID(rq, *in.Assignee)
		if err != nil {
			return err
		}
		ch.Assignee = &id
	}
	n, err := rq.P.UpdateTickets(r.Context(), rq.User, in.Tickets, ch)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, BulkResult{n})
	return nil
}

// assigneeID reads "me", "" / "none" (unassign) or an operator's id.
func assigneeID(rq *Request, a string) (int64, error) {
	switch a = strings.TrimSpace(a); a {
	case "me":
		return rq.User.ID, nil
	case "", "none", "0":
		return 0, nil
	}
	id, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, &portal.FieldErrors{Fields: map[string]string{"assignee": "Use me, none or an operator's id."}}
	}
	return id, nil
}

func (s *Server) apiDeleteTicket(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteTicket(r.Context(), rq.User, number(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	t, err := rq.P.Ticket(r.Context(), rq.User, n)
	if err != nil {
		return err
	}
	tl, err := rq.P.Timeline(r.Context(), rq.User, n)
	if err != nil {
		return err
	}
	_ = rq.P.MarkRead(r.Context(), rq.User, t)
	web.WriteJSON(w, http.StatusOK, MessageList{nonNil(tl)})
	return nil
}

func (s *Server) apiPostMessage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in MessageInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.After != 0 {
		newer, err := rq.P.NewerMessage(r.Context(), rq.User, number(r), in.After)
		if err != nil {
			return err
		}
		if newer {
			return web.Errorf(http.StatusConflict, "newer_message", "A new message arrived while you were writing: read it, then send yours again.")
		}
	}
	if in.Via != "" && in.Via != portal.ViaEmail {
		return &portal.FieldErrors{Fields: map[string]string{"via": "Leave it out, or say email."}}
	}
	if !rq.User.IsStaff() {
		in.Via = ""
	}
	e, err := rq.P.PostMessageVia(r.Context(), rq.User, number(r), in.Body, in.Internal, nil, in.Via)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, e)
	return nil
}

// apiUpload streams multipart "file" parts into the ticket; a "message" part
// (or ?message=) before them attaches the files to that message.
func (s *Server) apiUpload(w http.ResponseWriter, r *http.Request, rq *Request) error {
	lim := rq.P.FileLimits(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxFileBytes*int64(max(lim.MaxFiles, 1))+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return web.BadRequest("Send the file as multipart/form-data in a part named \"file\".")
	}
	// Asked first, so a file for a ticket one may not see is never read.
	if _, err := rq.P.Ticket(r.Context(), rq.User, number(r)); err != nil {
		return err
	}
	msgID, _ := strconv.ParseInt(r.URL.Query().Get("message"), 10, 64)
	files := rq.P.NewFiles(r.Context())
	defer files.Discard()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &portal.ErrQuota{Code: "file_too_large", Message: fmt.Sprintf("The upload is larger than the limit of %s.", portal.HumanBytes(lim.MaxFileBytes))}
			}
			return web.BadRequest("Broken multipart body: %v", err)
		}
		switch part.FormName() {
		case "message":
			b, _ := io.ReadAll(io.LimitReader(part, 32))
			msgID, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		case "file":
			if err := files.Add(r.Context(), part.FileName(), part); err != nil {
				return err
			}
		}
		part.Close()
	}
	out, err := rq.P.AddAttachments(r.Context(), rq.User, number(r), msgID, files)
	if err != nil {
		return err
	}
	if len(out) == 1 {
		web.WriteJSON(w, http.StatusCreated, out[0])
	} else {
		web.WriteJSON(w, http.StatusCreated, AttachmentList{out})
	}
	return nil
}

// download serves a file only to those who may see it, never as a page of the portal's origin.
func (s *Server) download(w http.ResponseWriter, r *http.Request, rq *Request) error {
	inline := r.URL.Query().Get("inline") == "1"
	if link, ok, err := rq.P.AttachmentLink(r.Context(), rq.User, pathID(r), inline); err != nil {
		return err
	} else if ok {
		// Kept in object storage: fetched from there, after the same checks.
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, link, http.StatusFound)
		return nil
	}
	a, f, err := rq.P.OpenAttachment(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	defer f.Close()
	disp := "attachment"
	if a.IsImage() && inline {
		disp = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": a.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", timeOf(a.CreatedAt), f)
	return nil
}

func (s *Server) apiSettings(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.P.Settings(r.Context()))
	return nil
}

func (s *Server) apiPutSettings(w http.ResponseWriter, r *http.Request, rq *Request) error {
	in := rq.P.Settings(r.Context())
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.SaveSettings(r.Context(), in); err != nil {
		return err
	}
	return s.apiSettings(w, r, rq)
}

func (s *Server) apiProfile(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, ProfileView{rq.User, rq.P.NotifyPrefs(r.Context(), rq.User)})
	return nil
}

func (s *Server) apiPutProfile(w http.ResponseWriter, r *http.Request, rq *Request) error {
	in := portal.Profile{Name: rq.User.Name, Surname: rq.User.Surname, Lang: rq.User.Lang, Notify: rq.P.NotifyPrefs(r.Context(), rq.User)}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.UpdateProfile(r.Context(), rq.User, in); err != nil {
		return err
	}
	u, err := rq.P.UserByID(r.Context(), rq.User.ID)
	if err != nil {
		return err
	}
	rq.User = u
	return s.apiProfile(w, r, rq)
}

func (s *Server) apiPassword(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in PasswordInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := rq.P.ChangePassword(r.Context(), rq.User, in.Current, in.New, sessionCookie(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, rq *Request) error {
	toks, err := rq.P.PersonalTokens(r.Context(), rq.User)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, TokenList{nonNil(toks)})
	return nil
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in TokenInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tok, err := rq.P.CreatePersonalToken(r.Context(), rq.User, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, NewToken{tok, strings.TrimSpace(in.Name)})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.RevokePersonalToken(r.Context(), rq.User, mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiOutbox(w http.ResponseWriter, r *http.Request, rq *Request) error {
	mails, err := rq.P.Outbox(r.Context(), 200)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, MailList{nonNil(mails)})
	return nil
}

// nonNil keeps empty lists as [] rather than null in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
