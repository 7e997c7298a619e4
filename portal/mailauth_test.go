package portal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// TestMailAuthentication: SPF, DKIM and DMARC are checked as a mail comes
// in and recorded on it; mail that fails a sender's DMARC "reject" is held
// as spam instead of becoming a ticket; an aligned DKIM signature passes
// DMARC without SPF.
func TestMailAuthentication(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	res := pdtest.DNS(t, map[string]string{
		"good.test":                  "v=spf1 ip4:127.0.0.1 -all",
		"_dmarc.good.test":           "v=DMARC1; p=reject",
		"forged.test":                "v=spf1 ip4:192.0.2.1 -all",
		"_dmarc.forged.test":         "v=DMARC1; p=reject",
		"_dmarc.signed.test":         "v=DMARC1; p=quarantine",
		"sel._domainkey.signed.test": "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub),
	})
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain, Resolver: res})
	w := worldOn(t, e)
	before := len(ticketsOf(t, w))

	sendMail(t, e, "ann@good.test", []string{"alpha@" + mailDomain}, "From: ann@good.test\nSubject: From a good domain\n\nHello.\n")
	sendMail(t, e, "boss@forged.test", []string{"alpha@" + mailDomain}, "From: boss@forged.test\nSubject: Urgent payment\n\nPay this invoice now.\n")
	var signed bytes.Buffer
	raw := strings.ReplaceAll("From: kim@signed.test\nSubject: Signed by the domain\nMessage-ID: <s1@signed.test>\n\nSigned, not in SPF.\n", "\n", "\r\n")
	if err := dkim.Sign(&signed, strings.NewReader(raw), &dkim.SignOptions{Domain: "signed.test", Selector: "sel", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	c := signed.String()
	sendMail(t, e, "bounces@other.test", []string{"alpha@" + mailDomain}, strings.ReplaceAll(c, "\r\n", "\n"))

	var log []portal.Inbound
	eventually(t, "the three mails handled", func() bool {
		e.Portal(t, "alpha", func(p *portal.Portal) { log, _ = p.InboundLog(context.Background(), 3) })
		n := 0
		for _, m := range log {
			if m.State != "new" {
				n++
			}
		}
		return n == 3
	})
	by := map[string]portal.Inbound{}
	for _, m := range log {
		by[m.From] = m
	}
	if g := by["ann@good.test"]; g.State != "done" || !strings.Contains(g.Auth, "spf=pass") || !strings.Contains(g.Auth, "dmarc=pass") {
		t.Errorf("the good domain's mail: %+v", g)
	}
	if f := by["boss@forged.test"]; f.State != "spam" || !strings.Contains(f.Auth, "spf=fail") || !strings.Contains(f.Auth, "dmarc=fail(reject)") {
		t.Errorf("the forged mail: %+v", f)
	}
	if s := by["bounces@other.test"]; s.State != "done" || !strings.Contains(s.Auth, "dkim=pass(signed.test)") || !strings.Contains(s.Auth, "dmarc=pass") {
		t.Errorf("the signed mail: %+v", s)
	}
	if got := len(ticketsOf(t, w)); got != before+2 {
		t.Errorf("%d tickets, want the two that passed", got-before)
	}
}
