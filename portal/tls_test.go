package portal_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestOnDemandCertificates: a portal's own domain gets its certificate
// from a real ACME server (Pebble, in process, validating the TLS-ALPN-01
// challenge on the service's https listener, the name resolved by a DNS
// server on loopback) during its first TLS handshake, and is served over
// it; a name the catalog does not map gets no certificate; plain HTTP for
// the domain is redirected to https once the certificate exists.
func TestOnDemandCertificates(t *testing.T) {
	t.Run("on disk", func(t *testing.T) { onDemand(t, provisioner.Config{}) })
	t.Run("in object storage", func(t *testing.T) {
		// With object storage the certificates are kept there, for every
		// node; certmagic's locks are leases in it.
		s3 := pdtest.StartS3(t)
		onDemand(t, provisioner.Config{Storage: s3.URL("tls")})
		var found bool
		_ = filepath.WalkDir(filepath.Join(s3.Dir, s3.Bucket, "tls", "certs"), func(p string, d os.DirEntry, err error) error {
			found = found || err == nil && strings.HasSuffix(p, "help.shop.test.crt")
			return nil
		})
		if !found {
			t.Fatal("the certificate is not in object storage")
		}
	})
}

func onDemand(t *testing.T, cfg provisioner.Config) {
	dnsAddr, _ := pdtest.DNSServer(t, map[string]string{"help.shop.test": "127.0.0.1", "evil.test": "127.0.0.1"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	acme := pdtest.StartACME(t, dnsAddr, 0, port)
	e := pdtest.New(t, cfg)
	e.Create(t, "alpha")
	if err := e.Svc.AddDomain(context.Background(), "alpha", "help.shop.test", true); err != nil {
		t.Fatal(err)
	}
	mgr := e.Svc.NewTLS(provisioner.TLSConfig{CA: acme.Directory, Email: "ops@portaldesk.test", Roots: acme.Roots})
	srv := &http.Server{Handler: e.App, TLSConfig: mgr.Config()}
	go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	t.Cleanup(func() { srv.Close() })
	plain := mgr.HTTP(e.App)
	askPlain := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://help.shop.test/login?x=1", nil)
		plain.ServeHTTP(w, r)
		return w
	}
	if w := askPlain(); w.Code == http.StatusPermanentRedirect {
		t.Fatal("redirected to https before there is a certificate")
	}

	client := func(name string) *http.Client {
		return &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", ln.Addr().String())
			},
			TLSClientConfig: &tls.Config{RootCAs: acme.Issuer, ServerName: name},
		}}
	}
	res, err := client("help.shop.test").Get("https://help.shop.test/login")
	if err != nil {
		t.Fatalf("https to the portal's domain: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "</html>") || res.TLS.PeerCertificates[0].DNSNames[0] != "help.shop.test" {
		t.Fatalf("the portal over its certificate: %d %v", res.StatusCode, res.TLS.PeerCertificates[0].DNSNames)
	}
	if _, err := client("evil.test").Get("https://evil.test/"); err == nil {
		t.Fatal("a certificate for a name no portal has")
	}
	if w := askPlain(); w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != "https://help.shop.test/login?x=1" {
		t.Fatalf("plain HTTP with a certificate: %d %q", w.Code, w.Header().Get("Location"))
	}
}
