package provisioner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"portaldesk/portal"
	"portaldesk/provisioner/catalog"
)

// A portal on a tariff with its own domain is served at a host name its
// admin enters (help.romashka.ru): the settings page shows the DNS record
// to create, checks it, and once it points at the service the router
// serves the portal there and mail links use it.

// ErrNoCustomDomain: the portal's tariff does not include its own domain.
var ErrNoCustomDomain = &portal.FieldErrors{Fields: map[string]string{"domain": "Your tariff does not include an own domain."}}

// CleanHost turns what an admin typed or pasted ("https://Help.Romashka.ru/",
// "поддержка.ромашка.рф") into the host name DNS knows, or says what is
// wrong with it.
func CleanHost(in string) (string, error) {
	h := strings.TrimSpace(in)
	if u, err := url.Parse(h); err == nil && u.Host != "" {
		h = u.Host
	} else if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" {
		return "", errors.New("Enter a host name, like help.example.com.")
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return "", errors.New("Enter a host name, not an IP address.")
	}
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil || !strings.Contains(ascii, ".") || len(ascii) > 253 {
		return "", errors.New("This is not a host name: use letters, digits, hyphens and dots, like help.example.com.")
	}
	return ascii, nil
}

// serviceHost is the host name of the public URL: what a portal's own host
// name should point to.
func (s *Service) serviceHost() string {
	u, err := url.Parse(s.cfg.PublicURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// record is the DNS record a host should have: a CNAME to the service's
// name, or an A (AAAA) record when the service is reached by address.
func (s *Service) record(host string) (kind, value string) {
	target := s.serviceHost()
	if a, err := netip.ParseAddr(target); err == nil {
		if a.Is4() {
			return "A", target
		}
		return "AAAA", target
	}
	return "CNAME", target + "."
}

func (s *Service) resolver() *net.Resolver {
	if s.cfg.Resolver != nil {
		return s.cfg.Resolver
	}
	return net.DefaultResolver
}

// checkDNS says what is wrong with host's DNS ("" when it points at the
// service): a CNAME to the service's name, or addresses among its own.
func (s *Service) checkDNS(ctx context.Context, host string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, target := s.resolver(), s.serviceHost()
	if cname, err := r.LookupCNAME(ctx, host); err == nil && strings.EqualFold(strings.TrimSuffix(cname, "."), target) {
		return ""
	}
	got, err := r.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("%s has no DNS record yet.", host)
	case err != nil:
		return fmt.Sprintf("The DNS lookup of %s failed: %v.", host, err)
	}
	want := []string{target}
	if _, err := netip.ParseAddr(target); err != nil {
		if want, err = r.LookupHost(ctx, target); err != nil {
			return fmt.Sprintf("The DNS lookup of %s failed: %v.", target, err)
		}
	}
	for _, a := range got {
		if slices.Contains(want, a) {
			return ""
		}
	}
	return fmt.Sprintf("%s points to %s, not to %s.", host, strings.Join(got, ", "), target)
}

// DomainOf is the portal's own host name with its DNS state (nil: none).
func (s *Service) DomainOf(ctx context.Context, portalID int64) (*portal.Domain, error) {
	d, err := s.catalog.PortalDomain(ctx, portalID)
	if err != nil || d == nil {
		return nil, err
	}
	kind, value := s.record(d.Host)
	return &portal.Domain{Host: d.Host, RecordType: kind, RecordValue: value, Verified: !d.VerifiedAt.IsZero(),
		VerifiedAt: d.VerifiedAt, CheckedAt: d.CheckedAt, Problem: d.Problem}, nil
}

// SetDomain makes host the portal's own host name (tariffs that include
// it) and checks its DNS at once.
func (s *Service) SetDomain(ctx context.Context, portalID int64, host string) (*portal.Domain, error) {
	rec, err := s.catalog.PortalByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	if !rec.Tariff.CustomDomain {
		return nil, ErrNoCustomDomain
	}
	h, err := CleanHost(host)
	if err != nil {
		return nil, &portal.FieldErrors{Fields: map[string]string{"domain": err.Error()}}
	}
	if h == s.serviceHost() {
		return nil, &portal.FieldErrors{Fields: map[string]string{"domain": "This is the service's own address: enter your company's host name."}}
	}
	if cur, err := s.catalog.PortalDomain(ctx, portalID); err == nil && cur != nil && cur.Host == h {
		return s.CheckDomain(ctx, portalID) // the same name again: check it
	}
	if err := s.catalog.SetPortalDomain(ctx, portalID, h); err != nil {
		if errors.Is(err, catalog.ErrDomainTaken) {
			return nil, &portal.FieldErrors{Fields: map[string]string{"domain": "This host name is taken by another portal."}}
		}
		return nil, err
	}
	s.registry.Invalidate(rec.Slug)
	s.domainGen.Add(1)
	return s.CheckDomain(ctx, portalID)
}

// CheckDomain looks the portal's host name up now and records what it found.
func (s *Service) CheckDomain(ctx context.Context, portalID int64) (*portal.Domain, error) {
	d, err := s.catalog.PortalDomain(ctx, portalID)
	if err != nil || d == nil {
		return nil, err
	}
	problem := s.checkDNS(ctx, d.Host)
	if err := s.catalog.RecordDomainCheck(ctx, d.Host, problem == "", problem, s.now()); err != nil {
		return nil, err
	}
	if problem == "" && d.VerifiedAt.IsZero() {
		s.domainGen.Add(1) // served from now on
		if rec, err := s.catalog.PortalByID(ctx, portalID); err == nil {
			s.registry.Invalidate(rec.Slug) // links in mail take the new host
		}
	}
	return s.DomainOf(ctx, portalID)
}

// RemoveDomainOf stops serving the portal at its own host names.
func (s *Service) RemoveDomainOf(ctx context.Context, portalID int64) error {
	rec, err := s.catalog.PortalByID(ctx, portalID)
	if err != nil {
		return err
	}
	if err := s.catalog.RemovePortalDomains(ctx, portalID); err != nil {
		return err
	}
	s.domainGen.Add(1)
	s.registry.Invalidate(rec.Slug)
	return nil
}

// CheckPendingDomains re-checks every host name still waiting for its DNS
// (the hourly job): a record created since verifies it without the admin.
func (s *Service) CheckPendingDomains(ctx context.Context) (checked, verified int, err error) {
	pending, err := s.catalog.UnverifiedDomains(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, id := range pending {
		d, err := s.CheckDomain(ctx, id)
		if err != nil {
			return checked, verified, err
		}
		checked++
		if d != nil && d.Verified {
			verified++
		}
	}
	return checked, verified, nil
}

// AddDomain serves the portal slug at host too (ops, from the shell): no
// DNS check, but the tariff must include it unless force.
func (s *Service) AddDomain(ctx context.Context, slug, host string, force bool) error {
	h, err := CleanHost(host)
	if err != nil {
		return fmt.Errorf("%q: %v", host, err)
	}
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if !rec.Tariff.CustomDomain && !force {
		return fmt.Errorf("the %s tariff of %s does not include an own domain (add --force to map it anyway)", rec.Tariff.Name, slug)
	}
	if err := s.catalog.AddDomain(ctx, rec.ID, h, s.now()); err != nil {
		return err
	}
	s.domainGen.Add(1)
	s.registry.Invalidate(slug)
	return nil
}

// RemoveDomain stops serving a portal at host.
func (s *Service) RemoveDomain(ctx context.Context, host string) error {
	defer s.domainGen.Add(1)
	return s.catalog.RemoveDomain(ctx, host)
}
