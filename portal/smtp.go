package portal

import (
	"context"
	"errors"
	"portaldesk/portal/twofactor"
	"strconv"
	"strings"
)

// SMTPSettings is a portal's own outgoing mail account.
type SMTPSettings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"` // none, starttls, tls
	User     string `json:"user"`
	Password string `json:"password,omitempty"` // never sent back
	FromName string `json:"from_name"`
	From     string `json:"from"`
}

// Configured reports whether the account can be used.
func (s *SMTPSettings) Configured() bool { return s != nil && s.Host != "" && s.From != "" }

// ErrNoOwnSMTP is returned when the tariff does not include an own sender.
var ErrNoOwnSMTP = errors.New("an own SMTP sender is not included in this portal's tariff")

// seal and unseal keep a secret the portal stores (its SMTP password, a
// TOTP secret) encrypted under the portal's own key.
func (p *Portal) seal(plain string) (string, error) { return twofactor.Seal(p.sealKey, plain, p.Slug) }

func (p *Portal) unseal(sealed string) (string, error) {
	return twofactor.Open(p.sealKey, sealed, p.Slug)
}

// SMTP is the portal's own account (with the password decrypted), or nil
// when it has none or its tariff does not allow one.
func (p *Portal) SMTP(ctx context.Context) *SMTPSettings {
	s := p.smtpStored(ctx)
	if !s.Configured() || !p.Plan().OwnSMTP {
		return nil
	}
	if sealed := p.Setting(ctx, "smtp_password", ""); sealed != "" {
		s.Password, _ = p.unseal(sealed)
	}
	return s
}

func (p *Portal) smtpStored(ctx context.Context) *SMTPSettings {
	port, _ := strconv.Atoi(p.Setting(ctx, "smtp_port", "587"))
	return &SMTPSettings{Host: p.Setting(ctx, "smtp_host", ""), Port: port, Security: p.Setting(ctx, "smtp_security", "starttls"),
		User: p.Setting(ctx, "smtp_user", ""), FromName: p.Setting(ctx, "smtp_from_name", ""), From: p.Setting(ctx, "smtp_from", "")}
}

// SMTPForm is the account as the settings page shows it: no password.
func (p *Portal) SMTPForm(ctx context.Context) *SMTPSettings { return p.smtpStored(ctx) }

// SaveSMTP stores the account; an empty password keeps the stored one, and an
// empty host removes the account.
func (p *Portal) SaveSMTP(ctx context.Context, actor *User, in SMTPSettings) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if !p.Plan().OwnSMTP {
		return ErrNoOwnSMTP
	}
	in.Host, in.User, in.From, in.FromName = strings.TrimSpace(in.Host), strings.TrimSpace(in.User), strings.TrimSpace(in.From), Line(in.FromName)
	errs := map[string]string{}
	if in.Host != "" {
		if strings.ContainsAny(in.Host, " /:") {
			errs["host"] = "Enter a host name, like smtp.example.com."
		}
		if in.Port < 1 || in.Port > 65535 {
			errs["port"] = "Enter a port between 1 and 65535."
		}
		if in.Security != "none" && in.Security != "starttls" && in.Security != "tls" {
			errs["security"] = "Choose none, STARTTLS or TLS."
		}
		if msg := ValidateEmail(in.From); msg != "" {
			errs["from"] = msg
		}
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	return p.Tx(ctx, func(tp *Portal) error {
		vals := map[string]string{"smtp_host": in.Host, "smtp_port": strconv.Itoa(in.Port), "smtp_security": in.Security,
			"smtp_user": in.User, "smtp_from_name": in.FromName, "smtp_from": in.From}
		if in.Password != "" {
			sealed, err := p.seal(in.Password)
			if err != nil {
				return err
			}
			vals["smtp_password"] = sealed
		}
		if in.Host == "" {
			vals["smtp_password"] = ""
		}
		return tp.SetSettings(ctx, vals)
	})
}
