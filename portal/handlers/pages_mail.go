package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// MailTester sends a test message through an SMTP account and reports the
// server's answer; the service's mailer provides it.
type MailTester interface {
	SendTest(ctx context.Context, p *portal.Portal, s *portal.SMTPSettings, to *portal.User) (string, error)
}

func (s *Server) mailRoutes(m, api *mux.Router) {
	m.Handle("/admin/mail", s.user(s.mailPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/mail/smtp", s.user(s.smtpSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/mail/test", s.user(s.testMailSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/mail/retry", s.user(s.retrySubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/mail/templates/{kind}/{lang}", s.user(s.templatePage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/mail/templates/{kind}/{lang}", s.user(s.templateSubmit, portal.RoleAdmin)).Methods("POST")
	api.Handle("/mail/smtp", s.user(s.apiSMTP, portal.RoleAdmin)).Methods("GET")
	api.Handle("/mail/smtp", s.user(s.apiPutSMTP, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/mail/test", s.user(s.apiTestMail, portal.RoleAdmin)).Methods("POST")
	api.Handle("/mail/templates", s.user(s.apiTemplates, portal.RoleAdmin)).Methods("GET")
	api.Handle("/mail/templates/{kind}/{lang}", s.user(s.apiPutTemplate, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/mail/templates/{kind}/{lang}", s.user(s.apiResetTemplate, portal.RoleAdmin)).Methods("DELETE")
	api.Handle("/outbox/retry", s.user(s.apiRetry, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/mail/inbound", s.user(s.inboundSubmit, portal.RoleAdmin)).Methods("POST")
	api.Handle("/mail/inbound", s.user(s.apiInbound, portal.RoleAdmin)).Methods("GET")
	api.Handle("/mail/inbound", s.user(s.apiPutInbound, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/mail/inbound/{id:[0-9]+}/release", s.user(s.apiReleaseSpam, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/mail/inbound/{id:[0-9]+}", s.user(s.apiDeleteSpam, portal.RoleAdmin, portal.RoleOperator)).Methods("DELETE")
	m.Handle("/admin/mail/inbound/{id:[0-9]+}", s.user(s.spamSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/spam", s.user(s.spamPage, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/spam/{id:[0-9]+}", s.user(s.spamSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
}

// Mailboxes is what the control plane offers a portal about fetching its
// own mailbox.
type Mailboxes interface {
	WatchMailbox(ctx context.Context, portalID int64, on bool) error
	FetchMailbox(ctx context.Context, p *portal.Portal) (int, error)
	InboundAddresses(ctx context.Context, portalID int64) ([]string, error)
	SetInboundAddresses(ctx context.Context, portalID int64, addrs []string) error
}

// inboundOf is the portal's mail-in settings with its own addresses, which
// the control plane keeps (the mail server looks them up before any portal
// is opened).
func (s *Server) inboundOf(r *http.Request, rq *Request) (*portal.InboundSettings, error) {
	in, err := rq.P.Inbound(r.Context())
	if err != nil {
		return nil, err
	}
	in.Addresses = []string{}
	if s.cfg.Mailboxes != nil {
		if in.Addresses, err = s.cfg.Mailboxes.InboundAddresses(r.Context(), rq.P.Plan().ID); err != nil {
			return nil, err
		}
	}
	in.MailDomain = rq.P.MailDomain()
	return in, nil
}

func (s *Server) apiReleaseSpam(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.ReleaseSpam(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiDeleteSpam(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteSpam(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// spamPage is the mail held as spam, for staff to let through or delete.
func (s *Server) spamPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.SpamList(r.Context(), rq.User, 100)
	if err != nil {
		return err
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "Spam", list))
	pg.Nav = "tickets"
	return s.tpl.Render(w, http.StatusOK, "spam", pg)
}

// spamSubmit releases (or, with delete, removes) a mail held as spam.
func (s *Server) spamSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	msg, err := "The mail is let through.", error(nil)
	if r.PostForm.Get("delete") != "" {
		msg, err = "The mail is deleted.", rq.P.DeleteSpam(r.Context(), rq.User, pathID(r))
	} else {
		err = rq.P.ReleaseSpam(r.Context(), rq.User, pathID(r))
	}
	if err != nil {
		return err
	}
	back := rq.Base + "/admin/mail#inbound"
	if strings.Contains(r.URL.Path, "/spam/") { // from the staff's spam list
		back = rq.Base + "/spam"
	}
	return redirect(w, r, flashURL(rq, back, msg))
}

func (s *Server) inboundSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	var in InboundInput
	for k, dst := range map[string]**string{"new_clients": &in.NewClients, "block": &in.Block, "failing": &in.Failing} {
		if v, ok := r.PostForm[k]; ok {
			*dst = &v[0]
		}
	}
	if v, ok := r.PostForm["addresses"]; ok {
		list := strings.Fields(strings.NewReplacer(",", " ", ";", " ").Replace(v[0]))
		in.Addresses = &list
	}
	for k, dst := range map[string]**int{"max_mb": &in.MaxMB, "answers_per_hour": &in.AnswersPerHour} {
		if v, ok := r.PostForm[k]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v[0]))
			if err != nil {
				n = -1 // out of range: "Enter …" at the field
			}
			*dst = &n
		}
	}
	if _, ok := r.PostForm["imap_host"]; ok {
		port, _ := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("imap_port")))
		in.IMAP = &portal.IMAPAccount{Host: r.PostForm.Get("imap_host"), Port: port, Security: r.PostForm.Get("imap_security"),
			User: r.PostForm.Get("imap_user"), Password: r.PostForm.Get("imap_password"), Folder: r.PostForm.Get("imap_folder")}
	}
	msg, err := s.saveInbound(r, rq, in)
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status >= 500 || we.Status == http.StatusForbidden {
			return err
		}
		return s.renderMail(w, r, rq, we.Status, func(pg *templates.Page) {
			pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/mail#inbound", msg))
}

// saveInbound saves the mail-in settings; a mailbox is tried at once, and
// what its server said is the answer's message.
func (s *Server) saveInbound(r *http.Request, rq *Request, in InboundInput) (string, error) {
	ctx := r.Context()
	// All or nothing: the portal's part is checked first, the addresses
	// (kept by the service, a store of their own) are stored next — the
	// last check, whether another portal has one — and the portal's part
	// last.
	if err := rq.P.CheckInbound(ctx, rq.User, in.InboundChange, in.IMAP); err != nil {
		return "", err
	}
	if in.Addresses != nil && s.cfg.Mailboxes != nil {
		if err := s.cfg.Mailboxes.SetInboundAddresses(ctx, rq.P.Plan().ID, *in.Addresses); err != nil {
			return "", err
		}
	}
	if err := rq.P.SaveInbound(ctx, rq.User, in.InboundChange, in.IMAP); err != nil {
		return "", err
	}
	if in.IMAP == nil {
		return "Saved.", nil
	}
	if s.cfg.Mailboxes == nil {
		return "Saved.", nil
	}
	on := in.IMAP.Host != ""
	if err := s.cfg.Mailboxes.WatchMailbox(ctx, rq.P.Plan().ID, on); err != nil || !on {
		return "Saved.", err
	}
	if _, err := s.cfg.Mailboxes.FetchMailbox(ctx, rq.P); err != nil {
		return "Saved, but the mailbox answered: " + err.Error(), nil
	}
	return "Saved: the mailbox answers, and new mail in it will become tickets.", nil
}

func (s *Server) apiInbound(w http.ResponseWriter, r *http.Request, rq *Request) error {
	in, err := s.inboundOf(r, rq)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, in)
	return nil
}

func (s *Server) apiPutInbound(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in InboundInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := s.saveInbound(r, rq, in); err != nil {
		return err
	}
	return s.apiInbound(w, r, rq)
}

// MailData is the admin's mail page.
type MailData struct {
	Inbound       *portal.InboundSettings
	OwnSMTP       bool
	Templates     []*portal.MailTemplate
	Kinds         []struct{ ID, Label string }
	Mail          []*portal.Mail
	TemplateError string
	TestResult    string
}

func (s *Server) renderMail(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &MailData{OwnSMTP: rq.P.Plan().OwnSMTP, Kinds: portal.MailKinds, TemplateError: rq.P.Setting(ctx, "mail_template_error", "")}
	var err error
	if d.Inbound, err = s.inboundOf(r, rq); err != nil {
		return err
	}
	for _, k := range portal.MailKinds {
		for _, l := range portal.Languages {
			t, err := rq.P.MailTemplateFor(ctx, k.ID, l)
			if err != nil {
				return err
			}
			d.Templates = append(d.Templates, t)
		}
	}
	if d.Mail, err = rq.P.Outbox(ctx, 100); err != nil {
		return err
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "Mail", d))
	pg.Nav = "mail"
	sm := rq.P.SMTPForm(ctx)
	pg.Form = url.Values{"host": {sm.Host}, "port": {strconv.Itoa(sm.Port)}, "security": {sm.Security}, "user": {sm.User}, "from_name": {sm.FromName}, "from": {sm.From}}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_mail", pg)
}

func (s *Server) mailPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderMail(w, r, rq, http.StatusOK, nil)
}

func smtpOf(f url.Values) portal.SMTPSettings {
	port, _ := strconv.Atoi(f.Get("port"))
	return portal.SMTPSettings{Host: f.Get("host"), Port: port, Security: f.Get("security"), User: f.Get("user"), Password: f.Get("password"), FromName: f.Get("from_name"), From: f.Get("from")}
}

func (s *Server) mailFail(w http.ResponseWriter, r *http.Request, rq *Request, err error) error {
	we, ok := webError(err).(*web.Error)
	if !ok || we.Status == http.StatusNotFound {
		return err
	}
	return s.renderMail(w, r, rq, we.Status, func(pg *templates.Page) {
		for k, v := range r.PostForm {
			if k != "password" {
				pg.Form[k] = v
			}
		}
		pg.Errors, pg.Error = we.Fields, we.Message
	})
}

func (s *Server) smtpSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if err := rq.P.SaveSMTP(r.Context(), rq.User, smtpOf(r.PostForm)); err != nil {
		return s.mailFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/mail", "The mail account is saved."))
}

func (s *Server) testMail(r *http.Request, rq *Request) (string, error) {
	if s.cfg.Mailer == nil {
		return "", fmt.Errorf("mail is not set up on this service")
	}
	return s.cfg.Mailer.SendTest(r.Context(), rq.P, rq.P.SMTP(r.Context()), rq.User)
}

func (s *Server) testMailSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	answer, err := s.testMail(r, rq)
	return s.renderMail(w, r, rq, http.StatusOK, func(pg *templates.Page) {
		d := pg.Data.(*MailData)
		if err != nil {
			d.TestResult = "The test email was not sent: " + err.Error()
		} else {
			d.TestResult = answer
		}
	})
}

func (s *Server) retrySubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id, _ := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	n, err := rq.P.RetryFailed(r.Context(), rq.User, id)
	if err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/mail", i18n.N(s.lang(r, rq), int(n), "%d message is queued again.", "%d messages are queued again.")))
}

// TemplateData is the editor of one mail template.
type TemplateData struct {
	T       *portal.MailTemplate
	Label   string
	Subject string
	Body    string
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, rq *Request, status int, form url.Values, fix func(*templates.Page)) error {
	vars := mux.Vars(r)
	t, err := rq.P.MailTemplateFor(r.Context(), vars["kind"], vars["lang"])
	if err != nil || (vars["lang"] != "en" && vars["lang"] != "ru") {
		return portal.ErrNotFound
	}
	d := &TemplateData{T: t}
	for _, k := range portal.MailKinds {
		if k.ID == t.Kind {
			d.Label = k.Label
		}
	}
	if form == nil {
		form = url.Values{"subject": {t.Subject}, "body": {t.Body}}
	}
	if subj, body, err := rq.P.PreviewMail(vars["lang"], form.Get("subject"), form.Get("body")); err == nil {
		d.Subject, d.Body = subj, body
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "Mail template", d))
	pg.Nav = "mail"
	pg.Form = form
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_template", pg)
}

func (s *Server) templatePage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderTemplate(w, r, rq, http.StatusOK, nil, nil)
}

func (s *Server) templateSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	vars := mux.Vars(r)
	back := fmt.Sprintf("%s/admin/mail/templates/%s/%s", rq.Base, vars["kind"], vars["lang"])
	switch r.PostForm.Get("action") {
	case "reset":
		if err := rq.P.ResetMailTemplate(r.Context(), rq.User, vars["kind"], vars["lang"]); err != nil {
			return err
		}
		return redirect(w, r, flashURL(rq, back, "The default wording is back."))
	case "preview":
		return s.renderTemplate(w, r, rq, http.StatusOK, r.PostForm, nil)
	}
	if err := rq.P.SaveMailTemplate(r.Context(), rq.User, vars["kind"], vars["lang"], r.PostForm.Get("subject"), r.PostForm.Get("body")); err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status == http.StatusNotFound {
			return err
		}
		return s.renderTemplate(w, r, rq, we.Status, r.PostForm, func(pg *templates.Page) { pg.Errors, pg.Error = we.Fields, we.Message })
	}
	return redirect(w, r, flashURL(rq, back, "The template is saved."))
}

func (s *Server) apiSMTP(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.P.SMTPForm(r.Context()))
	return nil
}

func (s *Server) apiPutSMTP(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.SMTPSettings
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.SaveSMTP(r.Context(), rq.User, in); err != nil {
		return err
	}
	return s.apiSMTP(w, r, rq)
}

func (s *Server) apiTestMail(w http.ResponseWriter, r *http.Request, rq *Request) error {
	answer, err := s.testMail(r, rq)
	if err != nil {
		web.WriteJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]string{"code": "smtp_failed", "message": err.Error()}})
		return nil
	}
	web.WriteJSON(w, http.StatusOK, TestMailResult{answer})
	return nil
}

func (s *Server) apiTemplates(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var out []*portal.MailTemplate
	for _, k := range portal.MailKinds {
		for _, l := range portal.Languages {
			t, err := rq.P.MailTemplateFor(r.Context(), k.ID, l)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
	}
	web.WriteJSON(w, http.StatusOK, TemplateList{nonNil(out)})
	return nil
}

func (s *Server) apiPutTemplate(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in TemplateInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	v := mux.Vars(r)
	if err := rq.P.SaveMailTemplate(r.Context(), rq.User, v["kind"], v["lang"], in.Subject, in.Body); err != nil {
		return err
	}
	t, err := rq.P.MailTemplateFor(r.Context(), v["kind"], v["lang"])
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) apiResetTemplate(w http.ResponseWriter, r *http.Request, rq *Request) error {
	v := mux.Vars(r)
	if err := rq.P.ResetMailTemplate(r.Context(), rq.User, v["kind"], v["lang"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiRetry(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in RetryInput
	_ = web.DecodeJSON(r, &in)
	n, err := rq.P.RetryFailed(r.Context(), rq.User, in.ID)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, QueuedResult{n})
	return nil
}
