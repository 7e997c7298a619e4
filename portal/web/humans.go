package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Names of the two fields a Humans check reads.
const (
	ShownField    = "_shown"  // when the form was shown, signed
	HoneypotField = "website" // a field people never see, so never fill
)

// Humans tells the signup and registration forms filled by people from
// those filled by scripts: the field people never see must stay empty,
// and a form must not come back sooner than a person could fill it in.
// The time the form was shown travels in a signed hidden field, so a
// script cannot simply claim an earlier one.
type Humans struct {
	Key     []byte
	MinFill time.Duration // the least time a person takes (0: 3 s)
}

// ErrTooFast answers a form sent back sooner than a person could type it.
var ErrTooFast = &Error{Status: http.StatusUnprocessableEntity, Code: "too_fast",
	Message: "That was quicker than anyone types. Please check the form and send it again."}

// ErrHoneypot says the field nobody sees was filled in. Callers answer as
// if all went well and do nothing, which tells a script nothing.
var ErrHoneypot = &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: "Leave the last field empty."}

// Stamp is the value of the hidden ShownField for a form shown at now.
func (h Humans) Stamp(now time.Time) string {
	ts := strconv.FormatInt(now.UnixMilli(), 36)
	return ts + "." + h.sign(ts)
}

func (h Humans) sign(ts string) string {
	m := hmac.New(sha256.New, h.Key)
	m.Write([]byte("portaldesk shown\x00" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// Check reads a posted form: nil, ErrHoneypot, or ErrTooFast (also for
// a stamp that is missing, forged, or older than a day).
func (h Humans) Check(form url.Values, now time.Time) error {
	if strings.TrimSpace(form.Get(HoneypotField)) != "" {
		return ErrHoneypot
	}
	ts, sig, _ := strings.Cut(form.Get(ShownField), ".")
	ms, err := strconv.ParseInt(ts, 36, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(h.sign(ts))) {
		return ErrTooFast
	}
	min := h.MinFill
	if min == 0 {
		min = 3 * time.Second
	}
	age := now.Sub(time.UnixMilli(ms))
	if age < min || age > 24*time.Hour {
		return ErrTooFast
	}
	return nil
}
