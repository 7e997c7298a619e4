package portal

import (
	"sync"
	"time"
)

// Reference data — the settings, the statuses, the staff, the price list,
// who a session or a token belongs to — is read on almost every request and
// changes rarely. It is kept in memory per portal, each copy tagged with
// the database's Stamp when its read began, and trusted only while the
// stamp is the same: every change to those tables, through any statement
// on the portal's writer, moves it (SQLite's pre-update hook, see
// DB.Stamp). Changes made by another process (an ops command on the file)
// are not seen by the hook; refTTL bounds how long a copy is trusted for
// them.
const refTTL = 2 * time.Second

// stamper versions what a cache holds: *DB, for values read from
// refTables.
type stamper interface {
	Stamp() (int64, bool)
	Unchanged(stamp int64) bool
}

// timeOnly is the stamper of values no write makes stale (what a session
// cookie decodes to): they are kept for refTTL.
type timeOnly struct{}

func (timeOnly) Stamp() (int64, bool) { return 0, true }
func (timeOnly) Unchanged(int64) bool { return true }

// keyed is a small map of kept values, dropped as a whole when the stamp
// moves or refTTL has passed since it was started. It holds at most
// keyedMax entries: a portal with more people than that active within
// refTTL reads some again.
type keyed[K comparable, V any] struct {
	mu    sync.Mutex
	stamp int64
	at    time.Time
	m     map[K]V
	gen   uint64 // moved by forget: a load that began before is not kept
}

// forget drops every kept value at once (a session was ended); a load
// running meanwhile is answered but not kept.
func (c *keyed[K, V]) forget() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}

const keyedMax = 512

// get returns the value kept for k when it is still true, else loads it
// and keeps it when load succeeded and no change began while it ran.
func (c *keyed[K, V]) get(d stamper, k K, load func() (V, error)) (V, error) {
	stamp, ok := d.Stamp()
	if !ok {
		return load()
	}
	c.mu.Lock()
	if c.m != nil && c.stamp == stamp && time.Since(c.at) < refTTL {
		if v, hit := c.m[k]; hit {
			c.mu.Unlock()
			return v, nil
		}
	}
	gen := c.gen
	c.mu.Unlock()
	v, err := load()
	if err != nil || !d.Unchanged(stamp) {
		return v, err
	}
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return v, nil
	}
	if c.m == nil || c.stamp != stamp || len(c.m) >= keyedMax || time.Since(c.at) >= refTTL {
		c.m, c.stamp, c.at = make(map[K]V), stamp, time.Now()
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}

// cached is one kept value.
type cached[T any] struct{ keyed[struct{}, T] }

func (c *cached[T]) get(d stamper, load func() (T, error)) (T, error) {
	return c.keyed.get(d, struct{}{}, load)
}

// refCache is a portal's reference data in memory.
type refCache struct {
	settings     cached[map[string]string]
	statuses     cached[[]Status]
	staff        cached[[]*User]
	workTypes    cached[[]WorkType] // the active ones
	tags         cached[[]Tag]
	triggers     cached[[]Trigger] // the active ones, in order
	actions      cached[[]Action]  // the workflow's actions, the built-in steps among them
	recordFields cached[[]*RecordField]
	users        keyed[int64, *User]
	tokens       keyed[string, tokenUser]
	ranks        keyed[[2]int64, int]           // (0 for an admin else 1, user id) -> staff before them
	templates    keyed[[2]string, MailTemplate] // (kind, lang) -> the wording mail is rendered from
	notify       keyed[int64, string]           // user id -> their own notification choices, as stored (JSON)
	// cookies keeps what session cookies stand for (sessions.go): a
	// browser's cookie is verified (HMAC and age), decoded and looked up
	// once per refTTL rather than on every request. Only cookies that
	// verified and whose session exists are kept, under their whole value:
	// an entry is reached only by presenting that exact cookie. Ending a
	// session forgets them all.
	cookies keyed[string, sessionRef]
}

// tokenUser is whom a bearer token signs in, and until when.
type tokenUser struct {
	user    *User // nil: no such token
	expires int64 // 0: never
	scope   string
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
