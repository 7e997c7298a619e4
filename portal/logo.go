package portal

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/gif" // logos may be GIF
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"portaldesk/portal/web"
)

// MaxLogoBytes is the largest logo a portal may show in its header.
const MaxLogoBytes = 512 << 10

// logoPath is where the logo lives in the portal's files.
const logoPath = "branding/logo"

// logoTypes are the image types a logo may be. SVG is not among them: an
// SVG can carry script, and the logo is served from the portal's origin.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// LogoURL is the address of the portal's logo under base, or "" when it
// has none. The version in the URL lets browsers keep it for a year.
func (p *Portal) LogoURL(ctx context.Context, base string) string {
	v := p.Setting(ctx, "logo", "")
	if v == "" {
		return ""
	}
	_, ver, _ := strings.Cut(v, "|")
	return base + "/logo?v=" + ver
}

// SetLogo checks and stores a new logo, replacing the old one.
func (p *Portal) SetLogo(ctx context.Context, r io.Reader) error {
	if err := p.writable(); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxLogoBytes+1))
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return &FieldErrors{Fields: map[string]string{"logo": "Choose an image file."}}
	}
	if len(b) > MaxLogoBytes {
		return &FieldErrors{Fields: map[string]string{"logo": "The logo must be at most 512 KB."}}
	}
	ct := http.DetectContentType(b)
	if !logoTypes[ct] {
		return &FieldErrors{Fields: map[string]string{"logo": "Use a PNG, JPEG, GIF or WebP image."}}
	}
	if ct != "image/webp" {
		if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err != nil {
			return &FieldErrors{Fields: map[string]string{"logo": "This image is damaged."}}
		}
	}
	if err := p.Fs.MkdirAll("branding", 0o750); err != nil {
		return err
	}
	tmp := logoPath + ".new"
	f, err := p.Fs.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := p.Fs.Rename(tmp, logoPath); err != nil {
		return err
	}
	return p.SetSetting(ctx, "logo", ct+"|"+strconv.FormatInt(p.Now().UnixNano(), 36))
}

// RemoveLogo goes back to the default logo.
func (p *Portal) RemoveLogo(ctx context.Context) error {
	if _, err := p.q.Exec(ctx, "DELETE FROM settings WHERE key = 'logo'"); err != nil {
		return err
	}
	if err := p.Fs.Remove(logoPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// logo serves the portal's logo to anyone: it is on the sign-in page.
func (s *Server) logo(w http.ResponseWriter, r *http.Request, rq *Request) error {
	v := rq.P.Setting(r.Context(), "logo", "")
	ct, ver, ok := strings.Cut(v, "|")
	if !ok || !logoTypes[ct] {
		return web.ErrNotFound
	}
	f, err := rq.P.Fs.Open(logoPath)
	if err != nil {
		return web.ErrNotFound
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
		return redirect(w, r, flashURL(back, "The default logo is back."))
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxLogoBytes+64<<10)
	f, _, err := r.FormFile("logo")
	if err != nil {
		err = &FieldErrors{Fields: map[string]string{"logo": "Choose an image file."}}
	} else {
		defer f.Close()
		err = rq.P.SetLogo(r.Context(), f)
	}
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderSettings(w, r, rq, we.Status, func(pg *web.Page) { pg.Errors, pg.Error = we.Fields, we.Message })
	}
	return redirect(w, r, flashURL(back, "The logo is saved."))
}
