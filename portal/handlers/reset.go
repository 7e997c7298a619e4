package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.tpl.Render(w, http.StatusOK, "forgot", s.page(r, rq, "Forgot your password?", nil))
}

func (s *Server) forgotSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if err := rq.P.RequestPasswordReset(r.Context(), email, ClientIP(r)); err != nil {
		return s.formFail(w, s.page(r, rq, "Forgot your password?", nil), "forgot", r.PostForm, err)
	}
	pg := s.page(r, rq, "Sign in", nil)
	pg.Form = url.Values{"email": {email}}
	pg.Flash = "If " + email + " is registered here, a link to set a new password is on its way. It works for an hour."
	return s.tpl.Render(w, http.StatusOK, "login", pg)
}

func (s *Server) resetPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	pg := s.page(r, rq, "Set a new password", nil)
	pg.Form = url.Values{"token": {r.URL.Query().Get("token")}}
	return s.tpl.Render(w, http.StatusOK, "reset", pg)
}

func (s *Server) resetSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	pg := s.page(r, rq, "Set a new password", nil)
	if r.PostForm.Get("password") != r.PostForm.Get("password2") {
		return s.formFail(w, pg, "reset", url.Values{"token": {r.PostForm.Get("token")}}, &portal.FieldErrors{Fields: map[string]string{"password2": "The two passwords differ."}})
	}
	u, err := rq.P.ResetPassword(r.Context(), r.PostForm.Get("token"), r.PostForm.Get("password"))
	if err != nil {
		return s.formFail(w, pg, "reset", url.Values{"token": {r.PostForm.Get("token")}}, err)
	}
	s.audit(r, &Request{P: rq.P, User: u}, "password_reset", "", "")
	if u.TwoFactor {
		// The link proves the mailbox, not the phone: the code is still asked.
		return redirect(w, r, flashURL(rq, rq.Base+"/login", "Your new password is set: sign in with it and a code from your app."))
	}
	if err := StartSession(w, r, rq.P, rq.Base, u); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/tickets", "Your new password is set."))
}

func (s *Server) apiForgot(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ForgotInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.RequestPasswordReset(r.Context(), in.Email, ClientIP(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) apiReset(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ResetInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := rq.P.ResetPassword(r.Context(), in.Token, in.Password)
	if err != nil {
		return err
	}
	s.audit(r, &Request{P: rq.P, User: u}, "password_reset", "", "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
