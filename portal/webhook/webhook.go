// Package webhook posts the portals' webhook deliveries over HTTP and
// refuses to reach anything but the public internet: every address a
// request connects to — after DNS, so a name that resolves inward is
// caught too — is checked (portal.PublicAddr), redirects are never
// followed, no proxy from the environment is used, and a request has a
// few seconds.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"portaldesk/portal"
)

// Client sends deliveries; it is safe for concurrent use.
type Client struct {
	http  *http.Client
	dial  func(ctx context.Context, network, address string) (net.Conn, error)
	allow []netip.Prefix
}

// ErrNotPublic is a connection refused because its address is not public.
var ErrNotPublic = errors.New("refused: the address is not on the public internet")

// New is a client that may also reach the allowed prefixes (the ops
// configuration's; none in production as a rule) and gives each request
// timeout (0: 10 s).
func New(allow []netip.Prefix, timeout time.Duration) *Client {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	c := &Client{allow: allow}
	dialer := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: %s: %w", address, ErrNotPublic)
		}
		if !portal.PublicAddr(ap.Addr(), c.allow) {
			return fmt.Errorf("webhook: %s: %w", ap.Addr(), ErrNotPublic)
		}
		return nil
	}}
	c.dial = dialer.DialContext
	c.http = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{Proxy: nil, DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
			TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout},
		// A redirect is the endpoint's answer, never followed: it could
		// point anywhere, inward included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Dial connects to address as a delivery would (the address check included).
func (c *Client) Dial(ctx context.Context, address string) (net.Conn, error) {
	return c.dial(ctx, "tcp", address)
}

// Post sends body to url with header and returns the answer's status and
// first bytes (at most 512).
func (c *Client) Post(ctx context.Context, url string, header map[string]string, body []byte) (int, []byte, error) {
	if msg := portal.CheckHookURL(url, c.allow); msg != "" {
		return 0, nil, fmt.Errorf("webhook: %s", msg)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20)) // so the connection can be used again
	return res.StatusCode, head, nil
}
