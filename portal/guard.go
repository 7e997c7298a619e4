package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portaldesk/portal/throttle"
)

// Guards slow down guessing and abuse: sign-ins per account and per
// address, requests that mail someone (registrations, password resets)
// per address and per recipient, and registrations per portal. One set
// serves every portal of the service (keys carry the slug), so closing a
// portal — which anyone can cause by visiting enough others — forgets
// nothing.
type Guards struct {
	accounts, addresses, mail *throttle.Throttle
	// registrations count per portal and per address: an office behind
	// one address registers many people, so the address has room.
	registrations, registrants *throttle.Throttle
}

// NewGuards is the service's set of guards.
func NewGuards() *Guards {
	return &Guards{
		accounts:      throttle.New(5, 2*time.Second, 15*time.Minute, time.Hour),
		addresses:     throttle.New(20, 2*time.Second, 15*time.Minute, time.Hour),
		mail:          throttle.New(5, time.Minute, time.Hour, time.Hour),
		registrations: throttle.New(50, 10*time.Second, 10*time.Minute, time.Hour),
		registrants:   throttle.New(20, time.Minute, time.Hour, time.Hour),
	}
}

// key names k on this portal for the guards.
func (p *Portal) key(k string) string { return p.Slug + "\x00" + k }

// WaitError says that too many attempts were made: try again after Wait.
type WaitError struct{ Wait time.Duration }

// Error says how long to wait.
func (e *WaitError) Error() string {
	return fmt.Sprintf("too many attempts: wait %s", e.Wait.Round(time.Second))
}

// ErrTooManyAttempts matches every WaitError (errors.Is).
var ErrTooManyAttempts = errors.New("too many attempts")

// Is makes errors.Is(err, ErrTooManyAttempts) true for a WaitError.
func (e *WaitError) Is(target error) bool { return target == ErrTooManyAttempts }

// accountKey is how an email is counted: case and spaces do not make a new account.
func accountKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SignIn checks an email and password from address ip. The attempt is
// reserved on the account and on the address before the password is
// checked, so guesses sent at once cannot slip past the limit; a wrong
// password counts against both, a right one clears the account.
func (p *Portal) SignIn(ctx context.Context, email, password, ip string) (*User, error) {
	now := p.Now()
	a, wait := throttle.Begin(now,
		throttle.Key{T: p.guards.accounts, Key: p.key(accountKey(email)), Clear: true},
		throttle.Key{T: p.guards.addresses, Key: p.key(ip)})
	if a == nil {
		return nil, &WaitError{Wait: wait}
	}
	u, err := p.Authenticate(ctx, email, password)
	switch {
	case errors.Is(err, ErrBadCredentials):
		a.Failed(p.Now())
	case err == nil && u.TwoFactor:
		a.Abandon() // the code is still to come: only a right one clears the account
	case err == nil, errors.Is(err, ErrInactive):
		a.Succeeded(p.Now())
	default:
		a.Abandon()
	}
	return u, err
}

// registrationAllowed counts a registration against the portal, the
// address it came from and the address it mails.
func (p *Portal) registrationAllowed(ip, email string) error {
	now := p.Now()
	a, wait := throttle.Begin(now, throttle.Key{T: p.guards.registrations, Key: p.key("")},
		throttle.Key{T: p.guards.registrants, Key: p.key(ip)}, throttle.Key{T: p.guards.mail, Key: p.key("to:" + accountKey(email))})
	if a == nil {
		return &WaitError{Wait: wait}
	}
	a.Failed(now)
	return nil
}

// mailAllowed counts a request that mails someone (a password reset)
// against the address it came from and the address it mails.
func (p *Portal) mailAllowed(ip, email string) error {
	now := p.Now()
	a, wait := throttle.Begin(now, throttle.Key{T: p.guards.mail, Key: p.key("ip:" + ip)}, throttle.Key{T: p.guards.mail, Key: p.key("to:" + accountKey(email))})
	if a == nil {
		return &WaitError{Wait: wait}
	}
	a.Failed(now) // every such request counts
	return nil
}
