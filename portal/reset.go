package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ResetTTL is how long a password reset link works.
const ResetTTL = time.Hour

// RequestPasswordReset mails a one-time link to the user with this email, if
// there is one. The answer is the same either way, so nobody learns who is
// registered.
func (p *Portal) RequestPasswordReset(ctx context.Context, email, ip string) error {
	if msg := ValidateEmail(email); msg != "" {
		return &FieldErrors{Fields: map[string]string{"email": msg}}
	}
	if err := p.mailAllowed(ip, email); err != nil {
		return err
	}
	u, err := p.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) || (err == nil && !u.Active) {
		return nil
	}
	if err != nil {
		return err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		link, err := tp.resetLink(ctx, u.ID, ResetTTL)
		if err != nil {
			return err
		}
		return tp.mailTo(ctx, MailPasswordReset, u, MailVars{Link: link}, 0)
	})
	if err != nil {
		return fmt.Errorf("store: password reset: %w", err)
	}
	p.kickOutbox()
	return nil
}

// resetLink makes a one-time link that sets user id's password within ttl,
// replacing any earlier one (inside the caller's transaction).
func (p *Portal) resetLink(ctx context.Context, id int64, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := p.Now()
	if _, err := p.q.Exec(ctx, "DELETE FROM password_resets WHERE user_id = ? OR expires_at < ?", id, now.Unix()); err != nil {
		return "", err
	}
	if _, err := p.q.Exec(ctx, "INSERT INTO password_resets (hash, user_id, expires_at) VALUES (?, ?, ?)", tokenHash(tok), id, now.Add(ttl).Unix()); err != nil {
		return "", err
	}
	return p.URL() + "reset?token=" + url.QueryEscape(tok), nil
}

// ResetPassword sets a new password with a link's token; the link then
// stops working, and so do every session and token of the user.
func (p *Portal) ResetPassword(ctx context.Context, token, password string) (*User, error) {
	var uid int64
	err := p.q.QueryRow(ctx, "SELECT user_id FROM password_resets WHERE hash = ? AND used_at IS NULL AND expires_at > ?", tokenHash(token), p.Now().Unix()).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &FieldErrors{Message: "This link is used or has expired. Ask for a new one.", Fields: map[string]string{"token": "This link is used or has expired. Ask for a new one."}}
	}
	if err != nil {
		return nil, err
	}
	if msg := ValidatePassword(password); msg != "" {
		return nil, &FieldErrors{Fields: map[string]string{"password": msg}}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, "UPDATE password_resets SET used_at = ? WHERE hash = ? AND used_at IS NULL", p.Now().Unix(), tokenHash(token))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &FieldErrors{Fields: map[string]string{"token": "This link is used or has expired. Ask for a new one."}}
		}
		if _, err := tp.q.Exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, uid); err != nil {
			return err
		}
		return tp.revokeAccess(ctx, uid, nil)
	})
	p.ref.cookies.forget()
	if err != nil {
		return nil, err
	}
	return p.UserByID(ctx, uid)
}
