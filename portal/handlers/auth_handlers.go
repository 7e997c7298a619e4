package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/sessions"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if rq.User != nil {
		http.Redirect(w, r, rq.Base+"/", http.StatusSeeOther)
		return nil
	}
	pg := s.page(r, rq, "Sign in", nil)
	pg.Form = url.Values{"next": {r.URL.Query().Get("next")}}
	return s.tpl.Render(w, http.StatusOK, "login", pg)
}

// login checks credentials, throttled per account and per address.
func (s *Server) login(r *http.Request, rq *Request, email, password string) (*portal.User, error) {
	fields := map[string]string{}
	if strings.TrimSpace(email) == "" {
		fields["email"] = "Enter your email."
	}
	if password == "" {
		fields["password"] = "Enter your password."
	}
	if len(fields) > 0 {
		return nil, web.Invalid(fields)
	}
	u, err := rq.P.SignIn(r.Context(), email, password, ClientIP(r))
	switch {
	case errors.Is(err, portal.ErrBadCredentials), errors.Is(err, portal.ErrInactive):
		s.audit(r, rq, "sign_in_failed", strings.TrimSpace(email), sentence(err))
	case err == nil && !u.TwoFactor:
		s.audit(r, &Request{P: rq.P, User: u}, "sign_in", "", "")
	}
	switch {
	case errors.Is(err, portal.ErrBadCredentials):
		return nil, &web.Error{Status: http.StatusUnauthorized, Code: "bad_credentials", Message: "Wrong email or password.", Fields: map[string]string{"password": "Wrong email or password."}}
	case errors.Is(err, portal.ErrInactive):
		return nil, web.Errorf(http.StatusForbidden, "inactive", "%s", strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
	case err != nil:
		return nil, webError(err)
	}
	return u, nil
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	u, err := s.login(r, rq, r.PostForm.Get("email"), r.PostForm.Get("password"))
	if err != nil {
		var e *web.Error
		if !errors.As(err, &e) {
			return err
		}
		pg := s.page(r, rq, "Sign in", nil)
		pg.Form = url.Values{"email": {r.PostForm.Get("email")}, "next": {r.PostForm.Get("next")}}
		pg.Errors, pg.Error = e.Fields, e.Message
		e.SetHeaders(w)
		return s.tpl.Render(w, e.Status, "login", pg)
	}
	if u.TwoFactor {
		// The password is right; the code is still to come.
		v, err := rq.P.StartSecondStep(u)
		if err != nil {
			return err
		}
		http.SetCookie(w, sessions.NewCookie(portal.SecondStepCookie, v, sessionOptions(r, rq.Base, int(portal.SecondStepTTL.Seconds()))))
		pg := s.page(r, rq, "Two-step sign-in", nil)
		pg.Form = url.Values{"next": {r.PostForm.Get("next")}}
		return s.tpl.Render(w, http.StatusOK, "login_code", pg)
	}
	if err := StartSession(w, r, rq.P, rq.Base, u); err != nil {
		return err
	}
	http.Redirect(w, r, localNext(rq.Base, r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

// loginCodeSubmit is the second step of a sign-in: the code from the
// app, or a recovery code, within a few minutes of the password.
func (s *Server) loginCodeSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	var u *portal.User
	if c, err := r.Cookie(portal.SecondStepCookie); err == nil {
		u, _ = rq.P.SecondStepUser(r.Context(), c.Value)
	}
	if u == nil {
		return redirect(w, r, flashURL(rq, rq.Base+"/login", "The time for the code has run out: sign in again."))
	}
	if err := rq.P.SecondFactor(r.Context(), u, r.PostForm.Get("code")); err != nil {
		s.audit(r, &Request{P: rq.P, User: u}, "sign_in_failed", u.Email, "wrong code")
		e, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		pg := s.page(r, rq, "Two-step sign-in", nil)
		pg.Form = url.Values{"next": {r.PostForm.Get("next")}}
		pg.Errors, pg.Error = e.Fields, e.Message
		e.SetHeaders(w)
		return s.tpl.Render(w, e.Status, "login_code", pg)
	}
	s.audit(r, &Request{P: rq.P, User: u}, "sign_in", "", "with a code")
	http.SetCookie(w, sessions.NewCookie(portal.SecondStepCookie, "", sessionOptions(r, rq.Base, -1)))
	if err := StartSession(w, r, rq.P, rq.Base, u); err != nil {
		return err
	}
	return redirect(w, r, localNext(rq.Base, r.PostForm.Get("next")))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.EndSession(r.Context(), sessionCookie(r)); err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(portal.SessionCookie, "", sessionOptions(r, rq.Base, -1)))
	http.Redirect(w, r, rq.Base+"/login", http.StatusSeeOther)
	return nil
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in LoginInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := s.login(r, rq, in.Email, in.Password)
	if err != nil {
		return err
	}
	if u.TwoFactor {
		if strings.TrimSpace(in.Code) == "" {
			return &web.Error{Status: http.StatusUnauthorized, Code: "code_required", Message: "Two-step sign-in is on: send the code from the app (or a recovery code) as \"code\".",
				Fields: map[string]string{"code": "Enter the code from your app."}}
		}
		if err := rq.P.SecondFactor(r.Context(), u, in.Code); err != nil {
			s.audit(r, &Request{P: rq.P, User: u}, "sign_in_failed", u.Email, "wrong code")
			if errors.Is(err, portal.ErrBadCode) {
				return &web.Error{Status: http.StatusUnauthorized, Code: "bad_code", Message: "The code is not right.", Fields: portal.ErrBadCode.Fields}
			}
			return err
		}
	}
	if u.TwoFactor {
		s.audit(r, &Request{P: rq.P, User: u}, "sign_in", "API", "with a code")
	}
	tok, err := rq.P.IssueToken(r.Context(), u.ID, portal.TokenLogin, "login", portal.LoginTokenTTL)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, LoginResult{tok, u})
	return nil
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if err := rq.P.RevokeToken(r.Context(), strings.TrimSpace(tok)); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.User.Self())
	return nil
}
