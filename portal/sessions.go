package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/securecookie"
)

// Session is a browser signed in to the portal, as its owner's sessions
// page lists it.
type Session struct {
	ID        string `json:"id"` // a short public id: the start of the hash in hex
	CreatedAt int64  `json:"created_at"`
	SeenAt    int64  `json:"seen_at"`
	IP        string `json:"ip"`
	Agent     string `json:"agent"`
	Current   bool   `json:"current"`
}

// sessionRef is what a verified session cookie stands for.
type sessionRef struct {
	uid  int64
	hash []byte
	seen int64 // when the row's seen_at was last written
}

// seenEvery is how stale a session's last-seen time may get: a request
// writes it only when it is older, so reading pages stays a read.
const seenEvery = 5 * time.Minute

// StartSession signs u in from a browser at ip with agent: a session row
// and the cookie value that carries its secret.
func (p *Portal) StartSession(ctx context.Context, u *User, ip, agent string) (string, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	now := p.Now().Unix()
	agent = truncate(Text(agent), 300)
	if _, err := p.q.Exec(ctx, "INSERT INTO sessions (id, user_id, created_at, seen_at, ip, agent) VALUES (?, ?, ?, ?, ?, ?)",
		tokenHash(string(secret)), u.ID, now, now, truncate(ip, 64), agent); err != nil {
		return "", fmt.Errorf("store: start session: %w", err)
	}
	return securecookie.EncodeMulti(SessionCookie, map[any]any{"sid": base64.RawURLEncoding.EncodeToString(secret)}, p.codecs...)
}

// session is what a session cookie's value stands for: it verifies for
// this portal and its row exists. Both answers are kept for refTTL, under
// the whole cookie value; ending a session in this process forgets them
// at once.
func (p *Portal) session(ctx context.Context, cookie string) (sessionRef, error) {
	return p.ref.cookies.get(timeOnly{}, cookie, func() (sessionRef, error) {
		values := map[any]any{}
		if err := securecookie.DecodeMulti(SessionCookie, cookie, &values, p.codecs...); err != nil {
			return sessionRef{}, ErrNotFound
		}
		sid, _ := values["sid"].(string)
		secret, err := base64.RawURLEncoding.DecodeString(sid)
		if err != nil || len(secret) != 32 {
			return sessionRef{}, ErrNotFound
		}
		ref := sessionRef{hash: tokenHash(string(secret))}
		err = p.q.QueryRow(ctx, "SELECT user_id, seen_at FROM sessions WHERE id = ?", ref.hash).Scan(&ref.uid, &ref.seen)
		if errors.Is(err, sql.ErrNoRows) {
			return sessionRef{}, ErrNotFound
		}
		return ref, err
	})
}

// SessionUser is the person a session cookie's value signs in, if the
// cookie verifies for this portal, its session has not ended and they may
// use the portal now (ErrNotFound otherwise).
func (p *Portal) SessionUser(ctx context.Context, cookie string) (*User, error) {
	ref, err := p.session(ctx, cookie)
	if err != nil {
		return nil, err
	}
	u, err := p.UserByID(ctx, ref.uid)
	if err != nil {
		return nil, err
	}
	if p.CanSignIn(ctx, u) != nil {
		return nil, ErrNotFound
	}
	if now := p.Now().Unix(); now-ref.seen > int64(seenEvery/time.Second) && p.Plan().State != StateReadOnly {
		if _, err := p.q.Exec(ctx, "UPDATE sessions SET seen_at = ? WHERE id = ?", now, ref.hash); err == nil {
			p.ref.cookies.forget()
		}
	}
	return u, nil
}

// EndSession signs the browser with this cookie out, everywhere.
func (p *Portal) EndSession(ctx context.Context, cookie string) error {
	ref, err := p.session(ctx, cookie)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.endSessions(ctx, "id = ?", ref.hash)
}

// endSessions deletes the sessions where selects, and forgets every
// session this process has kept in memory.
func (p *Portal) endSessions(ctx context.Context, where string, args ...any) error {
	_, err := p.q.Exec(ctx, "DELETE FROM sessions WHERE "+where, args...)
	p.ref.cookies.forget()
	return err
}

// Sessions lists u's sessions, the one with cookie marked current.
func (p *Portal) Sessions(ctx context.Context, u *User, cookie string) ([]Session, error) {
	var current []byte
	if ref, err := p.session(ctx, cookie); err == nil {
		current = ref.hash
	}
	rows, err := p.q.Query(ctx, "SELECT id, created_at, seen_at, ip, agent FROM sessions WHERE user_id = ? ORDER BY seen_at DESC", u.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		var id []byte
		if err := rows.Scan(&id, &s.CreatedAt, &s.SeenAt, &s.IP, &s.Agent); err != nil {
			return nil, err
		}
		s.ID, s.Current = fmt.Sprintf("%x", id[:6]), string(id) == string(current)
		out = append(out, s)
	}
	return out, rows.Err()
}

// EndOtherSessions signs u out everywhere but in the browser with cookie.
func (p *Portal) EndOtherSessions(ctx context.Context, u *User, cookie string) error {
	ref, err := p.session(ctx, cookie)
	if err != nil {
		ref.hash = nil
	}
	return p.endSessions(ctx, "user_id = ? AND id <> ?", u.ID, ref.hash)
}

// EndSessionByID ends one of u's sessions by its listed id.
func (p *Portal) EndSessionByID(ctx context.Context, u *User, id string) error {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) != 12 || !utf8.ValidString(id) {
		return ErrNotFound
	}
	return p.endSessions(ctx, "user_id = ? AND lower(hex(substr(id, 1, 6))) = ?", u.ID, id)
}

// revokeAccess ends u's sessions (but the one whose hash is keep) and
// deletes every token of u, inside the caller's transaction: after a
// password change or reset, and on deactivation.
func (p *Portal) revokeAccess(ctx context.Context, uid int64, keep []byte) error {
	if err := p.endSessions(ctx, "user_id = ? AND id IS NOT ?", uid, keep); err != nil {
		return err
	}
	_, err := p.q.Exec(ctx, "DELETE FROM tokens WHERE user_id = ?", uid)
	return err
}
