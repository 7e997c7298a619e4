package provisioner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// On-demand TLS for portals' own domains, with certmagic: a certificate is
// obtained from the ACME CA during the first TLS handshake for a host —
// only a host the catalog maps to a portal, never any name asked — kept
// under DATA/certs and renewed in the background. Plain-HTTP requests for
// a host that has its certificate are redirected to https.

// TLSConfig configures on-demand certificates (Config.TLS).
type TLSConfig struct {
	CA    string         // the ACME directory (default Let's Encrypt's)
	Email string         // the account's contact
	Roots *x509.CertPool // trusted for the CA's own address (tests)
	// HTTPChallenge: the CA may check over plain HTTP on port 80 (the
	// service's HTTP listener then answers /.well-known/acme-challenge/).
	HTTPChallenge bool
}

// TLS is the service's certificate manager.
type TLS struct {
	svc    *Service
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer
	have   sync.Map // host → true: has a certificate
	none   sync.Map // host → time.Time: had none when last looked (a minute)
}

// NewTLS starts the certificate manager.
func (s *Service) NewTLS(o TLSConfig) *TLS {
	t := &TLS{svc: s}
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil }, Logger: tlsLogger()})
	var storage certmagic.Storage = &certmagic.FileStorage{Path: filepath.Join(s.cfg.DataDir, "certs")}
	if s.files != nil {
		// With object storage, certificates are kept there: every node
		// serving the portals finds them, and locks are leases.
		host, _ := os.Hostname()
		storage = s.files.CertStorage(fmt.Sprintf("%s-%d", host, os.Getpid()))
	}
	cfg = certmagic.New(cache, certmagic.Config{
		Storage:  storage,
		OnDemand: &certmagic.OnDemandConfig{DecisionFunc: t.allowed},
		Logger:   tlsLogger(),
		OnEvent: func(_ context.Context, event string, data map[string]any) error {
			if event == "cert_obtained" {
				if id, ok := data["identifier"].(string); ok {
					t.have.Store(id, true)
				}
			}
			return nil
		},
	})
	ca := o.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	t.issuer = certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{CA: ca, Email: o.Email, Agreed: true, TrustedRoots: o.Roots,
		DisableHTTPChallenge: !o.HTTPChallenge, Logger: tlsLogger()})
	cfg.Issuers = []certmagic.Issuer{t.issuer}
	t.cfg = cfg
	return t
}

// allowed says whether a certificate may be obtained for name: only for
// a host the catalog maps to a portal.
func (t *TLS) allowed(ctx context.Context, name string) error {
	m, err := t.svc.catalog.Domains(ctx)
	if err != nil {
		return err
	}
	if _, ok := m[name]; !ok {
		return fmt.Errorf("%s is no portal's domain", name)
	}
	return nil
}

// Config is the TLS configuration of the service's https listener.
func (t *TLS) Config() *tls.Config {
	c := t.cfg.TLSConfig()
	c.NextProtos = append([]string{"h2", "http/1.1"}, c.NextProtos...)
	return c
}

// HTTP wraps the service's plain-HTTP handler: ACME's HTTP challenges
// answered, and a portal's own host redirected to https once it has its
// certificate.
func (t *TLS) HTTP(next http.Handler) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if t.hasCert(r.Context(), host) {
			http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
	return t.issuer.HTTPChallengeHandler(h)
}

func (t *TLS) hasCert(ctx context.Context, host string) bool {
	if _, ok := t.have.Load(host); ok {
		return true
	}
	if at, ok := t.none.Load(host); ok && time.Since(at.(time.Time)) < time.Minute {
		return false
	}
	if t.allowed(ctx, host) == nil && t.cfg.Storage.Exists(ctx, certmagic.StorageKeys.SiteCert(t.issuer.IssuerKey(), host)) {
		t.have.Store(host, true)
		return true
	}
	t.none.Store(host, time.Now())
	return false
}

// tlsLogger is certmagic's logger: quiet unless PORTALDESK_DEBUG_TLS is set.
func tlsLogger() *zap.Logger {
	if os.Getenv("PORTALDESK_DEBUG_TLS") != "" {
		l, _ := zap.NewDevelopment()
		return l
	}
	return zap.NewNop()
}
