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
	"strconv"
	"strings"

	"github.com/gabriel-vasile/mimetype"
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
	ct := mimetype.Detect(b).String()
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

// OpenLogo opens the portal's logo with its content type and version;
// ErrNotFound when it has none.
func (p *Portal) OpenLogo(ctx context.Context) (contentType, version string, f io.ReadCloser, err error) {
	v := p.Setting(ctx, "logo", "")
	ct, ver, ok := strings.Cut(v, "|")
	if !ok || !logoTypes[ct] {
		return "", "", nil, ErrNotFound
	}
	f, err = p.Fs.Open(logoPath)
	if err != nil {
		return "", "", nil, ErrNotFound
	}
	return ct, ver, f, nil
}
