package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// A portal signed up on the web mails no one but its admin until the
// admin has confirmed their address with the link mailed at signup, so
// the signup form cannot be used to send the service's mail to strangers.
// Until then mail to anyone else waits in the outbox, due at heldMail,
// and goes as soon as the address is confirmed.

// MailConfirm is the mail with the link that confirms the admin's address.
const MailConfirm = "confirm_email"

// heldMail is the due time of mail that waits for the confirmation.
const heldMail = int64(1) << 53

// mailHoldKey is the setting that holds "<admin id>:<hex SHA-256 of the
// link's token>" while mail is held.
const mailHoldKey = "mail_hold"

func (p *Portal) mailHold(ctx context.Context) (owner int64, hash string) {
	v := p.Setting(ctx, mailHoldKey, "")
	if v == "" {
		return 0, ""
	}
	id, h, _ := strings.Cut(v, ":")
	n, _ := strconv.ParseInt(id, 10, 64)
	return n, h
}

// MailHeldFor is the admin whose address must be confirmed before the
// portal mails anyone else; 0 when mail is not held.
func (p *Portal) MailHeldFor(ctx context.Context) int64 {
	id, _ := p.mailHold(ctx)
	return id
}

// HoldMail starts holding the portal's mail until admin confirms their
// address, and mails them a link to do it. It runs in the caller's
// transaction when p is bound to one.
func (p *Portal) HoldMail(ctx context.Context, admin *User) error {
	b := make([]byte, 24)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	err := p.Tx(ctx, func(tp *Portal) error {
		if err := tp.SetSetting(ctx, mailHoldKey, fmt.Sprintf("%d:%x", admin.ID, tokenHash(tok))); err != nil {
			return err
		}
		return tp.mailTo(ctx, MailConfirm, admin, MailVars{Link: p.URL() + "confirm?token=" + url.QueryEscape(tok)}, 0)
	})
	if err == nil && p.tx == nil {
		p.kickOutbox()
	}
	return err
}

// ResendConfirmation mails a new link (the old one stops working) to the
// admin whose address is awaited; only they may ask, a few times an hour.
func (p *Portal) ResendConfirmation(ctx context.Context, actor *User, ip string) error {
	owner, _ := p.mailHold(ctx)
	if owner == 0 {
		return nil
	}
	if actor.ID != owner {
		return ErrForbidden
	}
	if err := p.mailAllowed(ip, actor.Email); err != nil {
		return err
	}
	return p.HoldMail(ctx, actor)
}

// ConfirmEmail takes the link's token: from now on the portal mails
// everyone, and the mail held so far goes at once. A link followed again
// after the confirmation is answered as a success.
func (p *Portal) ConfirmEmail(ctx context.Context, token string) error {
	owner, hash := p.mailHold(ctx)
	if owner == 0 {
		return nil
	}
	want, _ := hex.DecodeString(hash)
	if subtle.ConstantTimeCompare(tokenHash(token), want) != 1 {
		return &FieldErrors{Message: "This link is not valid any more: sign in and ask for a new one in your profile.",
			Fields: map[string]string{"token": "This link is not valid any more."}}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "DELETE FROM settings WHERE key = ?", mailHoldKey); err != nil {
			return err
		}
		_, err := tp.q.Exec(ctx, "UPDATE outbox SET next_at = ? WHERE state = 'pending' AND next_at = ?", p.Now().Unix(), heldMail)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: confirm email: %w", err)
	}
	p.kickOutbox()
	return nil
}
