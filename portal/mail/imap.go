package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"portaldesk/portal"
)

// openMailbox connects to the account's server, signs in and opens its
// folder; errors are the server's own words with what was being done.
func openMailbox(ctx context.Context, acct *portal.IMAPAccount, roots *x509.CertPool, h *imapclient.UnilateralDataHandler) (*imapclient.Client, *imap.SelectData, error) {
	addr := net.JoinHostPort(acct.Host, strconv.Itoa(acct.Port))
	opts := &imapclient.Options{TLSConfig: &tls.Config{ServerName: acct.Host, RootCAs: roots}, Dialer: &net.Dialer{Timeout: 15 * time.Second}, UnilateralDataHandler: h}
	var c *imapclient.Client
	var err error
	switch acct.Security {
	case "tls":
		c, err = imapclient.DialTLS(addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(acct.User, acct.Password).Wait(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("signing in as %s: %w", acct.User, err)
	}
	sel, err := c.Select(acct.Folder, &imap.SelectOptions{}).Wait()
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", acct.Folder, err)
	}
	return c, sel, nil
}

// ErrNoIdle: the mailbox's server does not support IDLE; it is fetched on
// a schedule instead.
var ErrNoIdle = errors.New("the server does not support IDLE")

// IdleMailbox keeps a connection to the account's folder open in IDLE
// (RFC 2177, the client restarting it before servers drop it) and calls
// news whenever the server says the folder has more messages, and once
// at the start for what came before. ready is called once IDLE runs. It
// returns when ctx ends (nil), the connection fails, or the server has no
// IDLE (ErrNoIdle).
func IdleMailbox(ctx context.Context, acct *portal.IMAPAccount, roots *x509.CertPool, ready, news func()) error {
	more := make(chan struct{}, 1)
	h := &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
		if d.NumMessages != nil {
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}}
	c, _, err := openMailbox(ctx, acct, roots, h)
	if err != nil {
		return err
	}
	defer c.Close()
	if !c.Caps().Has(imap.CapIdle) {
		_ = c.Logout().Wait()
		return ErrNoIdle
	}
	news()
	for first := true; ; first = false {
		cmd, err := c.Idle()
		if err != nil {
			return fmt.Errorf("waiting for mail in %s: %w", acct.Folder, err)
		}
		if first {
			ready()
		}
		select {
		case <-ctx.Done():
			_ = cmd.Close()
			_ = c.Logout().Wait()
			return nil
		case <-c.Closed():
			return fmt.Errorf("waiting for mail in %s: the server closed the connection", acct.Folder)
		case <-more:
			if err := cmd.Close(); err != nil {
				return fmt.Errorf("waiting for mail in %s: %w", acct.Folder, err)
			}
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("waiting for mail in %s: %w", acct.Folder, err)
			}
			news()
		}
	}
}

// FetchBatch bounds the messages one fetch takes; the rest wait for the next.
const FetchBatch = 200

// FetchMailbox fetches the portal's mailbox (github.com/emersion/go-imap/v2):
// every message after the last one stored goes into the inbound queue with
// the position, one transaction each, and is then flagged \Seen on the
// server. A changed UIDVALIDITY (the mailbox was rebuilt) starts again from
// its next message. It returns how many messages it stored; an error is the
// server's own words.
func FetchMailbox(ctx context.Context, p *portal.Portal, roots *x509.CertPool) (int, error) {
	acct, err := p.IMAP(ctx)
	if err != nil || acct == nil {
		return 0, err
	}
	c, sel, err := openMailbox(ctx, acct, roots, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	validity, last := p.IMAPPosition(ctx)
	if validity != sel.UIDValidity {
		// A mailbox seen for the first time, or rebuilt: its past is not
		// the portal's to import; from now on every new message is.
		next := uint32(sel.UIDNext)
		if next > 0 {
			next--
		}
		if err := p.SetIMAPPosition(ctx, sel.UIDValidity, next); err != nil {
			return 0, err
		}
		return 0, c.Logout().Wait()
	}
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= last+1) {
		return 0, c.Logout().Wait()
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0) // last+1:*
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("searching %s: %w", acct.Folder, err)
	}
	n := 0
	for _, uid := range found.AllUIDs() {
		if uint32(uid) <= last { // "last+1:*" always names the last message
			continue
		}
		if n == FetchBatch {
			break
		}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			return n, fmt.Errorf("fetching message %d: %w", uid, err)
		}
		if len(msgs) == 0 || len(msgs[0].BodySection) == 0 {
			continue
		}
		raw := msgs[0].BodySection[0].Bytes
		if err := p.ReceiveFetched(ctx, acct.User, raw, sel.UIDValidity, uint32(uid)); err != nil {
			return n, err
		}
		n++
		// Flagged on the server too, for the people who read the mailbox;
		// the stored position is what keeps it from being fetched again.
		_ = c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close()
	}
	if err := c.Logout().Wait(); err != nil && !errors.Is(err, net.ErrClosed) {
		return n, nil // stored is stored: a rude goodbye changes nothing
	}
	return n, nil
}
