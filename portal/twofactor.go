package portal

import (
	"context"
	"fmt"
	"time"

	"portaldesk/portal/throttle"
	"portaldesk/portal/twofactor"

	"github.com/gorilla/securecookie"
)

// TwoFactorSetup is an enrolment under way: the key to scan (URL) or type
// (Secret), and Pending, the secret sealed, which the form posts back
// with the first code from the app.
type TwoFactorSetup struct {
	URL, Secret, Pending string
}

// RecoveryCodeCount is how many recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// ErrBadCode answers a one-time or recovery code that is not right.
var ErrBadCode = &FieldErrors{Fields: map[string]string{"code": "The code is not right: type the six digits your app shows now, or one of your recovery codes."}}

// StartTwoFactor makes a new key for u (admins and operators).
func (p *Portal) StartTwoFactor(ctx context.Context, u *User) (*TwoFactorSetup, error) {
	if !u.IsStaff() {
		return nil, ErrForbidden
	}
	key, err := twofactor.NewKey(p.company(), u.Email)
	if err != nil {
		return nil, err
	}
	sealed, err := p.seal(key.Secret())
	if err != nil {
		return nil, err
	}
	return &TwoFactorSetup{URL: key.URL(), Secret: key.Secret(), Pending: sealed}, nil
}

// EnableTwoFactor turns two-step sign-in on with the key of an enrolment
// and the first code from the app, and answers the recovery codes, to be
// shown once. Every other session of u ends.
func (p *Portal) EnableTwoFactor(ctx context.Context, u *User, pending, code, cookie string) ([]string, error) {
	if !u.IsStaff() {
		return nil, ErrForbidden
	}
	secret, err := p.unseal(pending)
	if err != nil {
		return nil, &FieldErrors{Fields: map[string]string{"code": "This set-up has expired: start again."}}
	}
	step, ok := twofactor.Check(secret, code, p.Now(), 0)
	if !ok {
		return nil, &FieldErrors{Fields: map[string]string{"code": "The code is not right: type the six digits your app shows now."}}
	}
	sealed, err := p.seal(secret)
	if err != nil {
		return nil, err
	}
	codes, hashes := twofactor.RecoveryCodes(RecoveryCodeCount)
	var keep []byte
	if ref, err := p.session(ctx, cookie); err == nil {
		keep = ref.hash
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET totp_secret = ?, totp_step = ? WHERE id = ?", sealed, step, u.ID); err != nil {
			return err
		}
		if err := tp.endSessions(ctx, "user_id = ? AND id IS NOT ?", u.ID, keep); err != nil {
			return err
		}
		return tp.storeRecovery(ctx, u.ID, hashes)
	})
	if err != nil {
		return nil, fmt.Errorf("store: enable two-factor: %w", err)
	}
	return codes, nil
}

func (p *Portal) storeRecovery(ctx context.Context, uid int64, hashes [][]byte) error {
	if _, err := p.q.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", uid); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := p.q.Exec(ctx, "INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)", uid, h); err != nil {
			return err
		}
	}
	return nil
}

// NewRecoveryCodes replaces u's recovery codes, after their password.
func (p *Portal) NewRecoveryCodes(ctx context.Context, u *User, password string) ([]string, error) {
	if err := p.checkPassword(u, password); err != nil {
		return nil, err
	}
	if !u.TwoFactor {
		return nil, &FieldErrors{Fields: map[string]string{"password": "Two-step sign-in is off."}}
	}
	codes, hashes := twofactor.RecoveryCodes(RecoveryCodeCount)
	if err := p.Tx(ctx, func(tp *Portal) error { return tp.storeRecovery(ctx, u.ID, hashes) }); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTwoFactor turns two-step sign-in off, after u's password.
func (p *Portal) DisableTwoFactor(ctx context.Context, u *User, password string) error {
	if err := p.checkPassword(u, password); err != nil {
		return err
	}
	return p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET totp_secret = '', totp_step = 0 WHERE id = ?", u.ID); err != nil {
			return err
		}
		_, err := tp.q.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", u.ID)
		return err
	})
}

// checkPassword checks u's own password before a change to their sign-in,
// throttled as a sign-in is.
func (p *Portal) checkPassword(u *User, password string) error {
	a, wait := throttle.Begin(p.Now(), throttle.Key{T: p.guards.accounts, Key: p.key(accountKey(u.Email)), Clear: true})
	if a == nil {
		return &WaitError{Wait: wait}
	}
	if _, err := p.Authenticate(context.Background(), u.Email, password); err != nil {
		a.Failed(p.Now())
		return &FieldErrors{Fields: map[string]string{"password": "The password is not right."}}
	}
	a.Succeeded(p.Now())
	return nil
}

// SecondFactor checks the code u typed at sign-in after their password:
// a one-time code from their app, taken only if its time step is later
// than the last one taken (claimed in one statement, so the same code
// sent twice at once signs in once), or an unused recovery code, which is
// then used. Wrong codes count against the account as wrong passwords do.
func (p *Portal) SecondFactor(ctx context.Context, u *User, code string) error {
	now := p.Now()
	a, wait := throttle.Begin(now, throttle.Key{T: p.guards.accounts, Key: p.key(accountKey(u.Email)), Clear: true})
	if a == nil {
		return &WaitError{Wait: wait}
	}
	ok, err := p.takeCode(ctx, u, code)
	switch {
	case err != nil:
		a.Abandon()
		return err
	case !ok:
		a.Failed(p.Now())
		return ErrBadCode
	}
	a.Succeeded(p.Now())
	return nil
}

func (p *Portal) takeCode(ctx context.Context, u *User, code string) (bool, error) {
	now := p.Now()
	if twofactor.IsRecovery(code) {
		res, err := p.q.Exec(ctx, "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL", now.Unix(), u.ID, twofactor.HashRecovery(code))
		if err != nil {
			return false, err
		}
		n, _ := res.RowsAffected()
		return n == 1, nil
	}
	var sealed string
	var last int64
	if err := p.q.QueryRow(ctx, "SELECT totp_secret, totp_step FROM users WHERE id = ?", u.ID).Scan(&sealed, &last); err != nil {
		return false, err
	}
	if sealed == "" {
		return false, nil
	}
	secret, err := p.unseal(sealed)
	if err != nil {
		return false, err
	}
	step, ok := twofactor.Check(secret, code, now, last)
	if !ok {
		return false, nil
	}
	res, err := p.q.Exec(ctx, "UPDATE users SET totp_step = ? WHERE id = ? AND totp_step < ?", step, u.ID, step)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecoveryCodesLeft is how many of u's recovery codes are unused.
func (p *Portal) RecoveryCodesLeft(ctx context.Context, u *User) int {
	var n int
	_ = p.q.QueryRow(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", u.ID).Scan(&n)
	return n
}

// NeedsTwoFactor says u must set up two-step sign-in before anything else:
// the portal requires it of staff and u has not.
func (p *Portal) NeedsTwoFactor(ctx context.Context, u *User) bool {
	return u.IsStaff() && !u.TwoFactor && p.Setting(ctx, "require_two_factor", "") == "1"
}

// SecondStepCookie is the cookie that carries a sign-in half done: the
// password was right, the code is still to come.
const SecondStepCookie = "pd_2fa"

// SecondStepTTL is how long one has to type the code after the password.
const SecondStepTTL = 5 * time.Minute

// StartSecondStep is the value of the cookie that remembers, for
// SecondStepTTL, that u's password was right.
func (p *Portal) StartSecondStep(u *User) (string, error) {
	return securecookie.EncodeMulti(SecondStepCookie, map[any]any{"uid": u.ID, "exp": p.Now().Add(SecondStepTTL).Unix()}, p.codecs...)
}

// SecondStepUser is the person whose password a second-step cookie
// vouches for (ErrNotFound when it does not verify or has expired).
func (p *Portal) SecondStepUser(ctx context.Context, value string) (*User, error) {
	v := map[any]any{}
	if err := securecookie.DecodeMulti(SecondStepCookie, value, &v, p.codecs...); err != nil {
		return nil, ErrNotFound
	}
	uid, _ := v["uid"].(int64)
	exp, _ := v["exp"].(int64)
	if uid == 0 || exp < p.Now().Unix() {
		return nil, ErrNotFound
	}
	u, err := p.UserByID(ctx, uid)
	if err != nil || p.CanSignIn(ctx, u) != nil || !u.TwoFactor {
		return nil, ErrNotFound
	}
	return u, nil
}

// ResumeTwoFactor is the enrolment of pending again, for a form that came
// back with an error after the key was scanned.
func (p *Portal) ResumeTwoFactor(u *User, pending string) (*TwoFactorSetup, error) {
	secret, err := p.unseal(pending)
	if err != nil {
		return nil, ErrNotFound
	}
	return &TwoFactorSetup{URL: twofactor.KeyURL(p.company(), u.Email, secret), Secret: secret, Pending: pending}, nil
}
