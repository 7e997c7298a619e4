package handlers

import (
	"io"
	"net/http"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// logo serves the portal's logo to anyone: it is on the sign-in page.
func (s *Server) logo(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ct, ver, f, err := rq.P.OpenLogo(r.Context())
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	if r.URL.Query().Get("v") == ver {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	_, err = io.Copy(w, f)
	return err
}

func (s *Server) logoSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	back := rq.Base + "/admin/settings"
	if r.FormValue("remove") != "" {
		if err := rq.P.RemoveLogo(r.Context()); err != nil {
			return err
		}
		return redirect(w, r, flashURL(rq, back, "The default logo is back."))
	}
	r.Body = http.MaxBytesReader(w, r.Body, portal.MaxLogoBytes+64<<10)
	f, _, err := r.FormFile("logo")
	if err != nil {
		err = &portal.FieldErrors{Fields: map[string]string{"logo": "Choose an image file."}}
	} else {
		defer f.Close()
		err = rq.P.SetLogo(r.Context(), f)
	}
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderSettings(w, r, rq, we.Status, func(pg *templates.Page) { pg.Errors, pg.Error = we.Fields, we.Message })
	}
	return redirect(w, r, flashURL(rq, back, "The logo is saved."))
}
