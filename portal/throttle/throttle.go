// Package throttle slows down guessing. Each key — an account, an address
// — may fail a few times freely; after that it waits before each further
// attempt, twice as long after every failure. An attempt is reserved
// before the guess is checked and settled after, so guesses sent all at
// once cannot slip past: only as many as the key has left are let through,
// the rest are refused at once.
package throttle

import (
	"sync"
	"time"
)

// Throttle counts failures per key.
type Throttle struct {
	// Free is how many failures a key may have before it waits.
	Free int
	// Base is the first wait after Free failures; each further failure
	// doubles it, up to Max.
	Base, Max time.Duration
	// Forget is how long a key's failures are remembered after its last one.
	Forget time.Duration

	mu    sync.Mutex
	keys  map[string]*state
	swept time.Time
}

type state struct {
	fails   int       // failures remembered
	pending int       // attempts reserved, not yet settled
	last    time.Time // the last failure
}

// New is a throttle that lets free failures through, then waits base,
// 2×base … up to max between attempts, and forgets a key after forget
// without failures.
func New(free int, base, max, forget time.Duration) *Throttle {
	return &Throttle{Free: free, Base: base, Max: max, Forget: forget, keys: map[string]*state{}}
}

// maxKeys bounds the memory of a throttle under a flood of distinct keys:
// past it, keys whose failures are forgotten are swept at once.
const maxKeys = 100_000

// wait is how long a key with fails failures, the last at last, must
// still wait at now.
func (t *Throttle) wait(s *state, now time.Time) time.Duration {
	over := s.fails - t.Free
	if over < 0 {
		return 0
	}
	d := t.Base
	for i := 0; i < over && d < t.Max; i++ {
		d *= 2
	}
	d = min(d, t.Max)
	if until := s.last.Add(d); now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// reserve takes one attempt for key at now, or says how long to wait.
// While the key has free failures left, as many attempts as are left may
// be in flight; after that, one at a time.
func (t *Throttle) reserve(key string, now time.Time) (time.Duration, bool) {
	s := t.keys[key]
	if s != nil && now.Sub(s.last) > t.Forget && s.pending == 0 {
		delete(t.keys, key)
		s = nil
	}
	if s == nil {
		if t.Free <= 0 {
			return t.Base, false
		}
		if len(t.keys) >= maxKeys || now.Sub(t.swept) > t.Forget {
			t.sweep(now)
		}
		s = &state{}
		t.keys[key] = s
	}
	if d := t.wait(s, now); d > 0 {
		return d, false
	}
	allowed := t.Free - s.fails
	if allowed < 1 {
		allowed = 1 // waiting is over: one more try
	}
	if s.pending >= allowed {
		return t.Base, false
	}
	s.pending++
	return 0, true
}

func (t *Throttle) sweep(now time.Time) {
	for k, s := range t.keys {
		if s.pending == 0 && now.Sub(s.last) > t.Forget {
			delete(t.keys, k)
		}
	}
	t.swept = now
}

// settle ends an attempt on key: a failure counts; success clears the
// key's failures when clear is set and no other attempt is in flight — a
// right guess inside a burst of guesses must not open the door for the
// rest of the burst.
func (t *Throttle) settle(key string, failed, clear bool, now time.Time) {
	s := t.keys[key]
	if s == nil {
		return
	}
	if s.pending > 0 {
		s.pending--
	}
	switch {
	case failed:
		s.fails++
		s.last = now
	case clear && s.pending == 0:
		s.fails = 0
	}
}

// Key names a key of a throttle for Begin.
type Key struct {
	T   *Throttle
	Key string
	// Clear says that a success clears the key's failures: right for an
	// account (its owner got in), wrong for an address (a guesser would
	// clear it by signing in to an account of their own).
	Clear bool
}

// Attempt is an attempt reserved on every key of one Begin.
type Attempt struct {
	keys []Key
	done bool
}

// Begin reserves an attempt on every key at once. When any key must wait,
// it reserves none and returns the longest wait.
func Begin(now time.Time, keys ...Key) (*Attempt, time.Duration) {
	var longest time.Duration
	taken := make([]Key, 0, len(keys))
	for _, k := range keys {
		k.T.mu.Lock()
		d, ok := k.T.reserve(k.Key, now)
		k.T.mu.Unlock()
		if ok {
			taken = append(taken, k)
			continue
		}
		longest = max(longest, d)
	}
	if longest > 0 || len(taken) < len(keys) {
		for _, k := range taken { // give back what was taken: nothing was tried
			k.T.mu.Lock()
			if s := k.T.keys[k.Key]; s != nil && s.pending > 0 {
				s.pending--
			}
			k.T.mu.Unlock()
		}
		return nil, max(longest, time.Second)
	}
	return &Attempt{keys: keys}, 0
}

// Failed settles the attempt as a failed guess on every key.
func (a *Attempt) Failed(now time.Time) { a.end(true, now) }

// Succeeded settles the attempt as a success: keys marked Clear start afresh.
func (a *Attempt) Succeeded(now time.Time) { a.end(false, now) }

// Abandon settles an attempt that tried nothing (the request was
// malformed): it counts neither way.
func (a *Attempt) Abandon() {
	if a == nil || a.done {
		return
	}
	a.done = true
	for _, k := range a.keys {
		k.T.mu.Lock()
		if s := k.T.keys[k.Key]; s != nil && s.pending > 0 {
			s.pending--
		}
		k.T.mu.Unlock()
	}
}

func (a *Attempt) end(failed bool, now time.Time) {
	if a == nil || a.done {
		return
	}
	a.done = true
	for _, k := range a.keys {
		k.T.mu.Lock()
		k.T.settle(k.Key, failed, k.Clear && !failed, now)
		k.T.mu.Unlock()
	}
}
