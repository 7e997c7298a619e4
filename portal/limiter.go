package portal

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter slows down password guessing: each address may fail a few
// times in a burst, then once every few seconds, on this portal only.
type loginLimiter struct {
	mu    sync.Mutex
	byIP  map[string]*rate.Limiter
	swept time.Time
}

const (
	loginBurst = 10
	loginEvery = 6 * time.Second
)

func newLoginLimiter() *loginLimiter { return &loginLimiter{byIP: map[string]*rate.Limiter{}} }

func (l *loginLimiter) get(ip string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Minute {
		for k, v := range l.byIP {
			if v.TokensAt(now) >= loginBurst {
				delete(l.byIP, k)
			}
		}
		l.swept = now
	}
	lim, ok := l.byIP[ip]
	if !ok {
		lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.byIP[ip] = lim
	}
	return lim
}

// Blocked reports whether ip has used up its failed attempts.
func (l *loginLimiter) Blocked(ip string, now time.Time) bool {
	return l.get(ip, now).TokensAt(now) < 1
}

// Failed records a failed attempt from ip.
func (l *loginLimiter) Failed(ip string, now time.Time) {
	l.get(ip, now).AllowN(now, 1)
}

// LoginBlocked reports whether ip has used up its failed sign-in attempts
// on this portal.
func (p *Portal) LoginBlocked(ip string) bool { return p.limiter.Blocked(ip, p.Now()) }

// LoginFailed records a failed sign-in attempt (or another guess, such as
// a password-reset request) from ip.
func (p *Portal) LoginFailed(ip string) { p.limiter.Failed(ip, p.Now()) }
