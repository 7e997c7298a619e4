package provisioner

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// authenticate checks a mail as it arrives, before it is stored: SPF for
// the connecting address and the envelope sender (blitiri.com.ar/go/spf),
// the DKIM signatures and the From domain's DMARC policy with relaxed
// alignment (github.com/emersion/go-msgauth). It returns the verdict as a
// line ("spf=pass dkim=pass(example.com) dmarc=pass") and whether the
// sender's own DMARC policy asks to refuse or quarantine the mail.
func (s *Service) authenticate(ctx context.Context, ip net.IP, helo, mailFrom string, raw []byte) (verdict string, failing bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r := s.resolver()
	lookupTXT := func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }

	spfResult := spf.None
	if ip != nil {
		spfResult, _ = spf.CheckHostWithSender(ip, helo, mailFrom, spf.WithResolver(r), spf.WithContext(ctx))
	}
	var passed []string
	verifs, _ := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookupTXT})
	dkimResult := "none"
	for _, v := range verifs {
		if v.Err == nil {
			passed = append(passed, strings.ToLower(v.Domain))
			dkimResult = "pass"
		} else if dkimResult == "none" {
			dkimResult = "fail"
		}
	}
	fromDomain := ""
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		if a, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
			_, fromDomain, _ = strings.Cut(strings.ToLower(a.Address), "@")
		}
	}
	_, envDomain, _ := strings.Cut(strings.ToLower(mailFrom), "@")
	if envDomain == "" {
		envDomain = strings.ToLower(helo)
	}
	dmarcResult := "none"
	if fromDomain != "" {
		if rec, err := dmarc.LookupWithOptions(fromDomain, &dmarc.LookupOptions{LookupTXT: lookupTXT}); err == nil {
			aligned := spfResult == spf.Pass && relaxedAligned(envDomain, fromDomain)
			for _, d := range passed {
				aligned = aligned || relaxedAligned(d, fromDomain)
			}
			if aligned {
				dmarcResult = "pass"
			} else {
				dmarcResult = "fail(" + string(rec.Policy) + ")"
				failing = rec.Policy == dmarc.PolicyReject || rec.Policy == dmarc.PolicyQuarantine
			}
		}
	}
	dk := dkimResult
	if len(passed) > 0 {
		dk += "(" + strings.Join(passed, ",") + ")"
	}
	return fmt.Sprintf("spf=%s dkim=%s dmarc=%s", spfResult, dk, dmarcResult), failing
}

// relaxedAligned: two domains share their organisational domain — here,
// one is the other or under it (mail.example.com and example.com).
func relaxedAligned(a, b string) bool {
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}
