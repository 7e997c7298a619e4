package handlers

import (
	"errors"
	"net/http"
	"strings"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// webError turns what the helpdesk says into what HTTP says.
func webError(err error) error {
	var we *web.Error
	if errors.As(err, &we) {
		return we
	}
	var fe *portal.FieldErrors
	if errors.As(err, &fe) {
		e := web.Invalid(fe.Fields)
		if fe.Message != "" {
			e.Message = fe.Message
		}
		return e
	}
	var wait *portal.WaitError
	if errors.As(err, &wait) {
		return web.RateLimited(wait.Wait)
	}
	var qe *portal.ErrQuota
	if errors.As(err, &qe) {
		status := http.StatusInsufficientStorage
		switch qe.Code {
		case "too_many_files":
			status = http.StatusUnprocessableEntity
		case "file_too_large":
			status = http.StatusRequestEntityTooLarge
		}
		return &web.Error{Status: status, Code: qe.Code, Message: qe.Message, Fields: map[string]string{"file": qe.Message}}
	}
	switch {
	case errors.Is(err, portal.ErrNotFound):
		return web.ErrNotFound
	case errors.Is(err, portal.ErrForbidden):
		return web.ErrForbidden
	case errors.Is(err, portal.ErrNoDesigner), errors.Is(err, portal.ErrNoAPITokens), errors.Is(err, portal.ErrNoOwnSMTP), errors.Is(err, portal.ErrNoTiming):
		return &web.Error{Status: http.StatusForbidden, Code: "not_in_tariff", Message: sentence(err)}
	case errors.Is(err, portal.ErrOperatorLimit):
		return &web.Error{Status: http.StatusConflict, Code: "operator_limit", Message: sentence(err), Fields: map[string]string{"role": sentence(err)}}
	case errors.Is(err, portal.ErrPaymentRequired):
		return &web.Error{Status: http.StatusPaymentRequired, Code: "payment_required", Message: sentence(err)}
	case errors.Is(err, portal.ErrQuotaExceeded):
		return &web.Error{Status: http.StatusInsufficientStorage, Code: "quota_exceeded", Message: "The portal's database quota is exceeded: nothing was saved. Ask the admin to free space or move to a larger tariff."}
	case errors.Is(err, portal.ErrReadOnly):
		return &web.Error{Status: http.StatusInsufficientStorage, Code: "quota_exceeded", Message: "This portal is read-only for now (over its quota or unpaid): you can read and export, but not add anything."}
	}
	return err
}

// sentence makes an error message start with a capital and end with a period.
func sentence(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
