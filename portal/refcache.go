package portal

import (
	"sync"
	"time"

	"github.com/gorilla/securecookie"
)

// Reference data — the statuses, the staff, the price list, who a session
// or a token belongs to — is read on almost every request and changes
// rarely. It is kept in memory per portal, each copy tagged with the
// database's Stamp when its read began, and trusted only while the stamp
// is the same: every change to those tables, through any statement on the
// portal's writer, moves it (SQLite's pre-update hook, see DB.Stamp).
// Changes made by another process (an ops command on the file) are not
// seen by the hook; settingsTTL bounds how long a copy is trusted for them.

// cached is one value read from reference tables.
type cached[T any] struct {
	mu    sync.Mutex
	ok    bool
	stamp int64
	at    time.Time
	v     T
}

// get returns the kept value when it is still true, else loads it and
// keeps it when no change to the tables began while it was read.
func (c *cached[T]) get(d *DB, load func() (T, error)) (T, error) {
	stamp, ok := d.Stamp()
	if !ok {
		return load()
	}
	c.mu.Lock()
	if c.ok && c.stamp == stamp && time.Since(c.at) < settingsTTL {
		v := c.v
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err := load()
	if err == nil && d.Unchanged(stamp) {
		c.mu.Lock()
		c.ok, c.stamp, c.at, c.v = true, stamp, time.Now(), v
		c.mu.Unlock()
	}
	return v, err
}

// keyed is a small map of values read from reference tables, dropped as a
// whole when the stamp moves. It holds at most keyedMax entries: a portal
// with more people than that active within settingsTTL reads some again.
type keyed[K comparable, V any] struct {
	mu    sync.Mutex
	stamp int64
	at    time.Time
	m     map[K]V
}

const keyedMax = 512

func (c *keyed[K, V]) get(d *DB, k K, load func() (V, error)) (V, error) {
	stamp, ok := d.Stamp()
	if !ok {
		return load()
	}
	c.mu.Lock()
	if c.m != nil && c.stamp == stamp && time.Since(c.at) < settingsTTL {
		if v, hit := c.m[k]; hit {
			c.mu.Unlock()
			return v, nil
		}
	}
	c.mu.Unlock()
	v, err := load()
	if err != nil || !d.Unchanged(stamp) {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || c.stamp != stamp || len(c.m) >= keyedMax || time.Since(c.at) >= settingsTTL {
		c.m, c.stamp, c.at = make(map[K]V), stamp, time.Now()
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}

// refCache is a portal's reference data in memory.
type refCache struct {
	statuses  cached[[]Status]
	staff     cached[[]*User]
	workTypes cached[[]WorkType] // the active ones
	users     keyed[int64, *User]
	tokens    keyed[string, tokenUser]
	ranks     keyed[[2]int64, int] // (0 for an admin else 1, user id) -> staff before them
}

// sessionCache keeps what session cookies decoded to for a moment, so that
// a browser's cookie is verified (HMAC and age) and gob-decoded once per
// settingsTTL rather than on every request. Only cookies that decoded are
// kept, under their whole value: an entry is reached only by presenting
// that exact cookie, which would decode anyway. Whether the session still
// holds — the user active, the session version current — is checked on
// every request against the user, as before.
type sessionCache struct {
	mu sync.Mutex
	at time.Time           // when m was started; the whole map goes after settingsTTL
	m  map[string][2]int64 // cookie value -> user id, session version
}

// session is the user id and session version a session cookie's value
// holds, or zeros when it holds none or does not verify.
func (p *Portal) session(value string) (uid, sv int64) {
	c := &p.cookies
	c.mu.Lock()
	if v, ok := c.m[value]; ok && time.Since(c.at) < settingsTTL {
		c.mu.Unlock()
		return v[0], v[1]
	}
	c.mu.Unlock()
	values := map[any]any{}
	if err := securecookie.DecodeMulti(sessionName, value, &values, p.Sessions.Codecs...); err != nil {
		return 0, 0
	}
	uid, _ = values["uid"].(int64)
	sv, _ = values["sv"].(int64)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyedMax || time.Since(c.at) >= settingsTTL {
		c.m, c.at = map[string][2]int64{}, time.Now()
	}
	c.m[value] = [2]int64{uid, sv}
	c.mu.Unlock()
	return uid, sv
}

// tokenUser is whom a bearer token signs in, and until when.
type tokenUser struct {
	user    *User // nil: no such token
	expires int64 // 0: never
}

// copyUsers gives each caller its own Users, so that nothing a request
// does to one reaches the kept copy.
func copyUsers(in []*User) []*User {
	out := make([]*User, len(in))
	for i, u := range in {
		c := *u
		out[i] = &c
	}
	return out
}

func copyUser(u *User) *User {
	if u == nil {
		return nil
	}
	c := *u
	return &c
}
