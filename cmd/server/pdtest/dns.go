package pdtest

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// DNS is a DNS server on loopback, as the world's DNS would answer: each
// name maps to an address (an A record) or to text (a TXT record); other
// names do not exist. Records may change while it runs (guard them if a
// test changes them from another goroutine). The returned resolver asks it
// and nothing else.
func DNS(t testing.TB, records map[string]string) *net.Resolver {
	t.Helper()
	_, r := DNSServer(t, records)
	return r
}

// DNSServer is DNS with the server's address too (for a client that asks
// a server of its own, like the ACME test server's validation).
func DNSServer(t testing.TB, records map[string]string) (string, *net.Resolver) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		qn := q.Question[0]
		v, ok := records[strings.TrimSuffix(strings.ToLower(qn.Name), ".")]
		ip := net.ParseIP(v)
		hdr := dns.RR_Header{Name: qn.Name, Rrtype: qn.Qtype, Class: dns.ClassINET, Ttl: 60}
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case qn.Qtype == dns.TypeA && ip != nil && ip.To4() != nil:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip})
		case qn.Qtype == dns.TypeTXT && ip == nil:
			var parts []string // a TXT string holds at most 255 bytes
			for len(v) > 255 {
				parts, v = append(parts, v[:255]), v[255:]
			}
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: append(parts, v)})
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	// The same over TCP on the same port (some resolvers ask over TCP).
	if tl, err := net.Listen("tcp", pc.LocalAddr().String()); err == nil {
		tsrv := &dns.Server{Listener: tl, Handler: srv.Handler}
		go tsrv.ActivateAndServe()
		t.Cleanup(func() { tsrv.Shutdown() })
	}
	return pc.LocalAddr().String(), &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}
