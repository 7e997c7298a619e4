package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// CSRFField is the name of the hidden field every form posts its token in.
const CSRFField = "_csrf"

// CSRF guards the forms of one place — a portal, the ops console, the
// service's own pages — against forms posted from anywhere else, other
// portals of the same origin included. A browser gets a random cookie
// scoped to the place's path; a form's token is an HMAC of that cookie
// under the place's key. A page elsewhere can neither read the cookie nor
// compute the token, so it cannot make a post that checks.
type CSRF struct {
	Key    []byte // the place's own key
	Cookie string // the cookie's name
	Path   string // the cookie's path: the place's prefix ("/acme/", "/ops", "/")
}

// ErrCSRF answers a post whose token does not check.
var ErrCSRF = &Error{Status: http.StatusForbidden, Code: "form_expired",
	Message: "This form has expired or was sent from another page. Please reload the page and try again."}

// Token is the token of r's browser, setting its cookie on w first when
// it has none.
func (c CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	v := c.cookie(r)
	if v == "" {
		b := make([]byte, 18)
		rand.Read(b)
		v = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: c.Cookie, Value: v, Path: c.Path, HttpOnly: true, Secure: Info(r).Secure, SameSite: http.SameSiteLaxMode})
		r.AddCookie(&http.Cookie{Name: c.Cookie, Value: v}) // the page being rendered uses it too
	}
	return c.token(v)
}

func (c CSRF) cookie(r *http.Request) string {
	if ck, err := r.Cookie(c.Cookie); err == nil && len(ck.Value) == 24 {
		return ck.Value
	}
	return ""
}

func (c CSRF) token(cookie string) string {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("portaldesk form\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Check says whether r, a post, carries the token of its browser. It
// reads the token from the form — for a multipart form, from the parts
// before the first file, after which the body is put back as it was — so
// the handler parses the form as if nothing had read it.
func (c CSRF) Check(r *http.Request) error {
	v := c.cookie(r)
	if v == "" {
		return ErrCSRF
	}
	got, err := formToken(r)
	if err != nil || !hmac.Equal([]byte(got), []byte(c.token(v))) {
		return ErrCSRF
	}
	return nil
}

func formToken(r *http.Request) (string, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return "", err
		}
		return r.PostForm.Get(CSRFField), nil
	}
	body, ok := r.Body.(io.ReadSeeker)
	if !ok {
		return "", errors.New("csrf: the body cannot be read twice")
	}
	defer body.Seek(0, io.SeekStart)
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", err
		}
		if part.FormName() == CSRFField {
			b, err := io.ReadAll(io.LimitReader(part, 64))
			return strings.TrimSpace(string(b)), err
		}
		if part.FileName() != "" {
			return "", errors.New("csrf: no token before the files")
		}
	}
}

// Unsafe reports whether a request may change something: anything but
// GET, HEAD and OPTIONS.
func Unsafe(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}
