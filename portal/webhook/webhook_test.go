package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"portaldesk/portal"
	"portaldesk/portal/webhook"
)

// TestPublicAddr: every private, loopback, link-local and special range is
// refused, in its IPv4, IPv6, IPv4-mapped and translated forms; public
// addresses and the allowed prefixes pass.
func TestPublicAddr(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"77.88.8.8", true}, {"2001:4860:4860::8888", true},
		{"127.0.0.1", false}, {"127.5.5.5", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"172.31.255.255", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"0.0.0.0", false}, {"0.1.2.3", false}, {"255.255.255.255", false}, {"224.0.0.1", false},
		{"198.18.0.1", false}, {"240.0.0.1", false},
		{"::1", false}, {"::", false}, {"fe80::1", false}, {"fc00::1", false}, {"fd12:3456::1", false}, {"ff02::1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false}, {"::ffff:8.8.8.8", true},
		{"64:ff9b::a00:1", false}, {"64:ff9b::808:808", true}, {"2002:a00:1::", false}, {"2002:808:808::", true},
	} {
		if got := portal.PublicAddr(netip.MustParseAddr(c.ip), nil); got != c.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
	if !portal.PublicAddr(netip.MustParseAddr("127.0.0.1"), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}) {
		t.Error("an allowed prefix is refused")
	}
	for _, u := range []string{"http://127.0.0.1/x", "http://[::1]/x", "http://localhost/x", "http://LOCALHOST./x", "http://db.localhost/x", "http://10.0.0.5/x",
		"http://[::ffff:192.168.0.1]/x", "http://169.254.169.254/latest/meta-data", "ftp://example.com/x", "https://u:p@example.com/x", "example.com"} {
		if portal.CheckHookURL(u, nil) == "" {
			t.Errorf("%s is taken as an endpoint", u)
		}
	}
	if msg := portal.CheckHookURL("https://crm.example.com/hook?x=1", nil); msg != "" {
		t.Errorf("a public address refused: %s", msg)
	}
}

// TestClientRefusesInwardConnections: the client connects nowhere but the
// public internet — checked on the address it really dials (after DNS) —
// and never follows a redirect.
func TestClientRefusesInwardConnections(t *testing.T) {
	var hits, redirected atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target.URL+"/inside", http.StatusFound)
	}))
	defer srv.Close()

	c := webhook.New(nil, 0)
	if _, _, err := c.Post(context.Background(), srv.URL, nil, []byte("{}")); err == nil || hits.Load() != 0 {
		t.Errorf("posted to loopback: %v (%d hits)", err, hits.Load())
	}
	// The dial itself refuses, whatever name led there.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if _, err := c.Dial(context.Background(), net.JoinHostPort("127.0.0.1", port)); !errors.Is(err, webhook.ErrNotPublic) {
		t.Errorf("dialled loopback: %v", err)
	}
	if _, err := c.Dial(context.Background(), net.JoinHostPort("::1", port)); !errors.Is(err, webhook.ErrNotPublic) {
		t.Errorf("dialled ::1: %v", err)
	}
	// Allowed (as tests allow loopback): the redirect is the answer.
	ok := webhook.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 0)
	status, _, err := ok.Post(context.Background(), srv.URL, map[string]string{"Content-Type": "application/json"}, []byte("{}"))
	if err != nil || status != http.StatusFound || redirected.Load() != 0 {
		t.Errorf("a redirect: %d %v, followed %d times", status, err, redirected.Load())
	}
}
