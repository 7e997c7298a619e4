package pdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server on loopback (emersion/go-smtp) with
// AUTH PLAIN and STARTTLS, that keeps what it receives and can be told to
// answer with errors.
type SMTPServer struct {
	Addr     string
	Host     string
	Port     string
	User     string
	Password string

	// Certs is the server's self-signed certificate, to trust.
	Certs []*x509.Certificate
	CAs   *x509.CertPool

	mu       sync.Mutex
	received []Received
	fail     *smtp.SMTPError
	srv      *smtp.Server
	ln       net.Listener
	tlsConf  *tls.Config
}

// Received is one delivered message.
type Received struct {
	From string
	To   []string
	Data string
}

// StartSMTP starts a server; stop it with Close (done at the end of the test).
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	s := &SMTPServer{User: "mailer", Password: "s3cret"}
	s.start(t, "127.0.0.1:0")
	t.Cleanup(s.Close)
	return s
}

func (s *SMTPServer) start(t testing.TB, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	if s.tlsConf == nil {
		s.tlsConf, s.CAs = selfSigned(t)
		c, _ := x509.ParseCertificate(s.tlsConf.Certificates[0].Certificate[0])
		s.Certs = []*x509.Certificate{c}
	}
	srv.TLSConfig = s.tlsConf
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv, s.ln = srv, ln
	s.Addr = ln.Addr().String()
	s.Host, s.Port, _ = net.SplitHostPort(s.Addr)
	go srv.Serve(ln)
}

// URL is the server as --smtp-url, with STARTTLS and AUTH.
func (s *SMTPServer) URL() string {
	return "smtp://" + s.User + ":" + s.Password + "@" + s.Addr + "?starttls=1&insecure=1"
}

// Close stops the server (an outage).
func (s *SMTPServer) Close() {
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// Restart brings the server back on the same address.
func (s *SMTPServer) Restart(t testing.TB) {
	s.Close()
	s.start(t, s.Addr)
}

// FailWith makes every message answered with code (0 clears it).
func (s *SMTPServer) FailWith(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		s.fail = nil
		return
	}
	s.fail = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "injected failure"}
}

// Received lists the messages delivered so far.
func (s *SMTPServer) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// To lists the messages delivered to addr.
func (s *SMTPServer) To(addr string) []Received {
	var out []Received
	for _, m := range s.Received() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

type session struct {
	s    *SMTPServer
	auth bool
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Password {
			return errors.New("invalid credentials")
		}
		ss.auth = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.fail != nil {
		return ss.s.fail
	}
	ss.s.received = append(ss.s.received, Received{From: ss.from, To: ss.to, Data: string(b)})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
