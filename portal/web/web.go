// Package web holds what every HTTP handler of the service shares: handlers
// that return errors, one adapter that renders an error as an HTML page or a
// JSON body, and small JSON and form helpers.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portaldesk/templates/i18n"
)

// Error is an error a user should see: an HTTP status, a stable code, a
// sentence, and the fields it concerns.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// RetryAfter, in seconds, is sent as Retry-After (429, 503).
	RetryAfter int `json:"-"`
}

// Error is the code and the message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an Error with the given status and code.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is the 422 answer for a form or body with field errors.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: "Please correct the highlighted fields.", Fields: fields}
}

// Common errors.
var (
	ErrNotFound     = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not found."}
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Please sign in."}
	ErrForbidden    = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "You are not allowed to do this."}
)

// BadRequest is a 400 with a message.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "bad_request", format, args...)
}

// IsAPI reports whether a request expects JSON: everything under /api/.
func IsAPI(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.Contains(p, "/api/v1/")
}

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// WriteTagged writes v as a 200 with an ETag of its bytes, or a 304 with
// no body when the request's If-None-Match names that tag: a client that
// keeps an object asks again cheaply whether it changed.
func WriteTagged(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
	sum := sha256.Sum256(buf.Bytes())
	tag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "private, no-cache")
	for _, t := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t = strings.TrimPrefix(strings.TrimSpace(t), "W/"); t == tag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// DecodeJSON reads a JSON body of at most 1 MiB into v.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return BadRequest("The request body is not valid JSON: %v", err)
	}
	return nil
}

// AsError turns any error into an *Error; unknown errors become a 500 and are logged.
func AsError(r *http.Request, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side. Please try again."}
}

// JSONError writes err as {"error": {...}}.
func JSONError(w http.ResponseWriter, e *Error) {
	e.SetHeaders(w)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portaldesk"`)
	}
	WriteJSON(w, e.Status, map[string]*Error{"error": e})
}

// RouteInfo is filled in as a request travels: the router names the portal,
// the handlers the route template. The request log and metrics read it.
type RouteInfo struct {
	Route  string
	Portal string
	// IP is the client's address and Secure whether it reached the
	// service over https, as the service decided when the request came in.
	IP     string
	Secure bool
}

type routeKey struct{}

// WithRouteInfo attaches an empty RouteInfo to ctx.
func WithRouteInfo(ctx context.Context) (context.Context, *RouteInfo) {
	ri := &RouteInfo{}
	return context.WithValue(ctx, routeKey{}, ri), ri
}

// Info is the request's RouteInfo (a throwaway one when there is none).
func Info(r *http.Request) *RouteInfo {
	if ri, ok := r.Context().Value(routeKey{}).(*RouteInfo); ok {
		return ri
	}
	return &RouteInfo{}
}

// ServiceLang is the language of a service page (not a portal's): one just
// picked with ?lang= (remembered in a cookie), the remembered one, the
// browser's, else English.
func ServiceLang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
		http.SetCookie(w, &http.Cookie{Name: "pd_lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: Info(r).Secure, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie("pd_lang"); err == nil && i18n.Supported(c.Value) {
		return c.Value
	}
	return i18n.Pick(i18n.FromAcceptLanguage(r.Header.Get("Accept-Language")))
}

// SetHeaders writes the headers an error response carries besides its body.
func (e *Error) SetHeaders(w http.ResponseWriter) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
}

// ClientIP is the request's client address (RouteInfo.IP), or the remote
// address without its port when the service did not set it.
func ClientIP(r *http.Request) string {
	if ri, ok := r.Context().Value(routeKey{}).(*RouteInfo); ok && ri.IP != "" {
		return ri.IP
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RateLimited is the 429 answer to one attempt too many: try again after wait.
func RateLimited(wait time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many attempts. Please wait a little and try again.",
		RetryAfter: max(int(wait.Round(time.Second).Seconds()), 1)}
}

// StatusWriter remembers the status a handler answered with (Status; 0
// until it wrote anything), for logs and the audit log.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status written.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when nothing was written before.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming responses through the wrapper.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
