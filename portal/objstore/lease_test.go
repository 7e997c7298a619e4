package objstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal/objstore"
)

// TestLease: against a real S3-compatible server, one holder at a time:
// a second is refused while the first holds and renews; once the first
// lets it expire the second takes it, and the first's renewal is refused —
// the loser knows it lost; a released lease is taken at once.
func TestLease(t *testing.T) {
	s3 := pdtest.StartS3(t)
	cfg, err := objstore.Parse(s3.URL("l"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := objstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := st.Lease("portal/alpha", "node-a", 300*time.Millisecond)
	b := st.Lease("portal/alpha", "node-b", 300*time.Millisecond)
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx); !errors.Is(err, objstore.ErrLeaseHeld) {
		t.Fatalf("a second holder: %v", err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("renewing: %v", err)
	}
	time.Sleep(400 * time.Millisecond) // a lets it expire (a node stopped renewing)
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, objstore.ErrLeaseLost) || a.Held() {
		t.Fatalf("the loser's renewal: %v", err)
	}
	if err := a.Acquire(ctx); !errors.Is(err, objstore.ErrLeaseHeld) {
		t.Fatalf("the loser took it back: %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Acquire(ctx); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// Certificates' storage: stored, listed, locked.
	cs := st.CertStorage("node-a")
	if err := cs.Store(ctx, "certificates/ca/help.shop.test/help.shop.test.crt", []byte("PEM")); err != nil {
		t.Fatal(err)
	}
	if b, err := cs.Load(ctx, "certificates/ca/help.shop.test/help.shop.test.crt"); err != nil || string(b) != "PEM" {
		t.Fatalf("load: %q %v", b, err)
	}
	if l, err := cs.List(ctx, "certificates", true); err != nil || len(l) != 1 || l[0] != "certificates/ca/help.shop.test/help.shop.test.crt" {
		t.Fatalf("list: %v %v", l, err)
	}
	if err := cs.Lock(ctx, "issue_cert_help.shop.test"); err != nil {
		t.Fatal(err)
	}
	other := st.CertStorage("node-b")
	tctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := other.Lock(tctx, "issue_cert_help.shop.test"); err == nil {
		t.Fatal("two nodes held one certificate's lock")
	}
	if err := cs.Unlock(ctx, "issue_cert_help.shop.test"); err != nil {
		t.Fatal(err)
	}
	if err := other.Lock(ctx, "issue_cert_help.shop.test"); err != nil {
		t.Fatalf("the lock after its release: %v", err)
	}
}
