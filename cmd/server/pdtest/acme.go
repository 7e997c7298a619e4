package pdtest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// ACME is Let's Encrypt's test server, Pebble, in process: a real ACME
// directory over TLS whose validation resolves names with the given DNS
// server and checks TLS-ALPN-01 challenges on tlsPort (HTTP-01 on
// httpPort).
type ACME struct {
	Directory string
	Roots     *x509.CertPool // trusts the directory's own TLS
	Issuer    *x509.CertPool // trusts the certificates it issues
}

// StartACME starts Pebble.
func StartACME(t testing.TB, dnsAddr string, httpPort, tlsPort int) *ACME {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // validate at once
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no nonces refused at random
	logger := log.New(io.Discard, "", 0)
	if os.Getenv("PORTALDESK_DEBUG_TLS") != "" {
		logger = log.New(os.Stderr, "pebble ", 0)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 3, 5)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	mgmt := httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(mgmt.Close)
	a := &ACME{Directory: srv.URL + "/dir", Roots: x509.NewCertPool(), Issuer: x509.NewCertPool()}
	a.Roots.AddCert(srv.Certificate())
	res, err := mgmt.Client().Get(mgmt.URL + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("Pebble gave no root")
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	a.Issuer.AddCert(root)
	return a
}
