package throttle_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portaldesk/portal/throttle"
)

// Sixty guesses at once: only the free ones are tried; the rest are
// refused before any is checked.
func TestConcurrentGuessesCannotSlipPast(t *testing.T) {
	acct := throttle.New(5, time.Second, time.Hour, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	var tried atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, _ := throttle.Begin(now, throttle.Key{T: acct, Key: "ann", Clear: true})
			if a == nil {
				return
			}
			tried.Add(1)
			time.Sleep(time.Millisecond) // checking the password
			a.Failed(now)
		}()
	}
	close(start)
	wg.Wait()
	if n := tried.Load(); n != 5 {
		t.Fatalf("%d guesses were checked, want 5", n)
	}
	if a, wait := throttle.Begin(now, throttle.Key{T: acct, Key: "ann"}); a != nil || wait < time.Second {
		t.Fatalf("after 5 failures: attempt %v, wait %v", a != nil, wait)
	}
}

// After the free failures each further one doubles the wait, up to the
// maximum; a success clears an account but not an address; failures are
// forgotten after a while.
func TestBackoffClearAndForget(t *testing.T) {
	acct := throttle.New(3, time.Second, 8*time.Second, time.Hour)
	addr := throttle.New(3, time.Second, 8*time.Second, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	fail := func(keys ...throttle.Key) {
		t.Helper()
		a, wait := throttle.Begin(now, keys...)
		if a == nil {
			t.Fatalf("refused, wait %v", wait)
		}
		a.Failed(now)
	}
	k := throttle.Key{T: acct, Key: "ann", Clear: true}
	for i := 0; i < 3; i++ {
		fail(k)
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		if a, wait := throttle.Begin(now, k); a != nil || wait != want {
			t.Fatalf("wait %v, want %v", wait, want)
		}
		now = now.Add(want)
		fail(k)
	}
	now = now.Add(8 * time.Second)
	a, _ := throttle.Begin(now, k, throttle.Key{T: addr, Key: "10.0.0.1"})
	if a == nil {
		t.Fatal("refused after the wait")
	}
	a.Succeeded(now)
	if a, _ := throttle.Begin(now, k); a == nil {
		t.Fatal("a success did not clear the account")
	} else {
		a.Abandon()
	}
	for i := 0; i < 2; i++ {
		fail(throttle.Key{T: addr, Key: "10.0.0.1"})
	}
	a, _ = throttle.Begin(now, throttle.Key{T: addr, Key: "10.0.0.1"})
	if a == nil {
		t.Fatal("the address was refused before its third failure")
	}
	a.Succeeded(now)
	fail(throttle.Key{T: addr, Key: "10.0.0.1"})
	if a, _ := throttle.Begin(now, throttle.Key{T: addr, Key: "10.0.0.1"}); a != nil {
		t.Fatal("a success cleared the address")
	}
	now = now.Add(2 * time.Hour)
	if a, _ := throttle.Begin(now, throttle.Key{T: addr, Key: "10.0.0.1"}); a == nil {
		t.Fatal("the failures were not forgotten")
	}
}

// One refused key refuses the attempt and takes nothing from the others.
func TestBeginIsAllOrNothing(t *testing.T) {
	acct := throttle.New(1, time.Minute, time.Hour, time.Hour)
	addr := throttle.New(2, time.Minute, time.Hour, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	a, _ := throttle.Begin(now, throttle.Key{T: acct, Key: "ann"})
	a.Failed(now)
	for i := 0; i < 5; i++ {
		if a, _ := throttle.Begin(now, throttle.Key{T: addr, Key: "ip"}, throttle.Key{T: acct, Key: "ann"}); a != nil {
			t.Fatal("an attempt on a waiting account was let through")
		}
	}
	// The address lost nothing: both its free attempts are there.
	for i := 0; i < 2; i++ {
		if a, _ := throttle.Begin(now, throttle.Key{T: addr, Key: "ip"}); a == nil {
			t.Fatalf("attempt %d on the address refused", i)
		}
	}
}

// BenchmarkCheck is one sign-in's throttle work: an attempt on an account
// and an address, settled as a success.
func BenchmarkCheck(b *testing.B) {
	acct := throttle.New(5, time.Second, 15*time.Minute, time.Hour)
	addr := throttle.New(20, time.Second, 15*time.Minute, time.Hour)
	now := time.Now()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("user", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a, _ := throttle.Begin(now, throttle.Key{T: acct, Key: keys[i%1024], Clear: true}, throttle.Key{T: addr, Key: keys[(i*7)%1024]})
			if a != nil {
				a.Succeeded(now)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// TestARightGuessInABurstClearsNothing: the account's owner signing in
// clears its failures — but not while other guesses are in flight with
// theirs, or the rest of a burst would be let through.
func TestARightGuessInABurstClearsNothing(t *testing.T) {
	th := throttle.New(3, time.Second, time.Minute, time.Hour)
	now := time.Now()
	k := throttle.Key{T: th, Key: "ann", Clear: true}
	a1, _ := throttle.Begin(now, k)
	a1.Failed(now)
	right, _ := throttle.Begin(now, k)
	guess, _ := throttle.Begin(now, k)
	right.Succeeded(now) // a guess is still in flight: nothing cleared
	guess.Failed(now)
	a3, _ := throttle.Begin(now, k)
	a3.Failed(now)
	if a, _ := throttle.Begin(now, k); a != nil {
		t.Fatal("three failures and a fourth attempt let through")
	}
	later := now.Add(2 * time.Second)
	a, _ := throttle.Begin(later, k)
	a.Succeeded(later) // alone: clears
	for i := 0; i < 3; i++ {
		if a, _ := throttle.Begin(later, k); a == nil {
			t.Fatalf("attempt %d after a clean sign-in refused", i+1)
		} else {
			a.Abandon()
		}
	}
}
