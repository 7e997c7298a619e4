package portal

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A business that keeps its own support mailbox has the portal fetch it
// over IMAP (portal/mail.FetchMailbox, run by the service's "mailboxes"
// job): each message goes into the same inbound queue as mail that comes
// by SMTP, and the mailbox's UIDVALIDITY and last UID are stored in the
// transaction that stores the message, so nothing is fetched twice.

// IMAPAccount is a portal's mailbox to fetch.
type IMAPAccount struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"` // tls, starttls or none
	User     string `json:"user"`
	Password string `json:"password,omitempty"` // write-only: never shown
	Folder   string `json:"folder"`
}

// IMAPState is how the fetching goes.
type IMAPState struct {
	CheckedAt int64  `json:"checked_at,omitempty"`
	OKAt      int64  `json:"ok_at,omitempty"`
	Error     string `json:"error,omitempty"` // the server's own words, from the last attempt
	Failures  int    `json:"failures"`
	Fetched   int64  `json:"fetched"` // messages fetched in all
}

// Configured reports whether there is a mailbox to fetch.
func (a *IMAPAccount) Configured() bool { return a != nil && a.Host != "" && a.User != "" }

// IMAPForm is the account as the settings page shows it: no password.
func (p *Portal) IMAPForm(ctx context.Context) *IMAPAccount {
	port, _ := strconv.Atoi(p.Setting(ctx, "imap_port", "993"))
	return &IMAPAccount{Host: p.Setting(ctx, "imap_host", ""), Port: port, Security: p.Setting(ctx, "imap_security", "tls"),
		User: p.Setting(ctx, "imap_user", ""), Folder: p.Setting(ctx, "imap_folder", "INBOX")}
}

// IMAP is the account with its password, for fetching; nil when none.
func (p *Portal) IMAP(ctx context.Context) (*IMAPAccount, error) {
	a := p.IMAPForm(ctx)
	if !a.Configured() {
		return nil, nil
	}
	if sealed := p.Setting(ctx, "imap_password", ""); sealed != "" {
		pw, err := p.unseal(sealed)
		if err != nil {
			return nil, fmt.Errorf("imap password: %w", err)
		}
		a.Password = pw
	}
	return a, nil
}

// IMAPStatus is how fetching the mailbox went lately.
func (p *Portal) IMAPStatus(ctx context.Context) IMAPState {
	n := func(k string) int64 { v, _ := strconv.ParseInt(p.Setting(ctx, k, "0"), 10, 64); return v }
	return IMAPState{CheckedAt: n("imap_checked_at"), OKAt: n("imap_ok_at"), Error: p.Setting(ctx, "imap_error", ""),
		Failures: int(n("imap_failures")), Fetched: n("imap_fetched")}
}

// imapSettings checks a mailbox's settings and makes the settings that
// store it (the password sealed), or says what is wrong at which field.
// An empty password keeps the stored one, an empty host removes the
// account. A new mailbox (or folder) is read from its next message on:
// its past stays where it is.
func (p *Portal) imapSettings(ctx context.Context, in IMAPAccount) (vals, errs map[string]string, err error) {
	in.Host, in.User, in.Folder = strings.TrimSpace(in.Host), strings.TrimSpace(in.User), strings.TrimSpace(in.Folder)
	if in.Folder == "" {
		in.Folder = "INBOX"
	}
	errs = map[string]string{}
	if in.Host != "" {
		if strings.ContainsAny(in.Host, " /") {
			errs["imap.host"] = "Enter a host name, like imap.example.com."
		}
		if in.Port < 1 || in.Port > 65535 {
			errs["imap.port"] = "Enter a port between 1 and 65535."
		}
		if in.Security != "none" && in.Security != "starttls" && in.Security != "tls" {
			errs["imap.security"] = "Choose none, STARTTLS or TLS."
		}
		if in.User == "" {
			errs["imap.user"] = "Enter the mailbox's login."
		}
		if in.Password == "" && p.Setting(ctx, "imap_password", "") == "" {
			errs["imap.password"] = "Enter the mailbox's password."
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	old := p.IMAPForm(ctx)
	vals = map[string]string{"imap_host": in.Host, "imap_port": strconv.Itoa(in.Port), "imap_security": in.Security, "imap_user": in.User, "imap_folder": in.Folder}
	if in.Password != "" {
		sealed, err := p.seal(in.Password)
		if err != nil {
			return nil, nil, err
		}
		vals["imap_password"] = sealed
	}
	if in.Host == "" {
		vals["imap_password"] = ""
	}
	if in.Host != old.Host || in.User != old.User || in.Folder != old.Folder {
		// Another mailbox: start at its next message, with a clean slate.
		vals["imap_uidvalidity"], vals["imap_last_uid"], vals["imap_error"], vals["imap_failures"] = "", "", "", "0"
	}
	return vals, nil, nil
}

// IMAPPosition is where fetching stands: the mailbox's UIDVALIDITY and the
// last UID stored (0, 0 before the first fetch).
func (p *Portal) IMAPPosition(ctx context.Context) (uidValidity, lastUID uint32) {
	v, _ := strconv.ParseUint(p.Setting(ctx, "imap_uidvalidity", "0"), 10, 32)
	u, _ := strconv.ParseUint(p.Setting(ctx, "imap_last_uid", "0"), 10, 32)
	return uint32(v), uint32(u)
}

// SetIMAPPosition records where fetching stands without a message (a
// mailbox seen for the first time, or one whose UIDVALIDITY changed).
func (p *Portal) SetIMAPPosition(ctx context.Context, uidValidity, lastUID uint32) error {
	return p.SetSettings(ctx, map[string]string{"imap_uidvalidity": strconv.FormatUint(uint64(uidValidity), 10), "imap_last_uid": strconv.FormatUint(uint64(lastUID), 10)})
}

// ReceiveFetched stores a fetched message and moves the position past it,
// in one transaction: a crash leaves either both or neither. A message at
// or before the position is stored already, and left.
func (p *Portal) ReceiveFetched(ctx context.Context, rcpt string, raw []byte, uidValidity, uid uint32) error {
	return p.Tx(ctx, func(tp *Portal) error {
		if v, last := tp.IMAPPosition(ctx); v == uidValidity && uid <= last {
			return nil
		}
		if _, err := tp.ReceiveMail(ctx, "", rcpt, raw); err != nil {
			return err
		}
		if err := tp.SetSetting(ctx, "imap_fetched", strconv.FormatInt(tp.IMAPStatus(ctx).Fetched+1, 10)); err != nil {
			return err
		}
		return tp.SetIMAPPosition(ctx, uidValidity, uid)
	})
}

// RecordIMAPResult notes how an attempt went: the error in the server's
// own words for the admin, and how many attempts in a row failed. It
// returns when to try again: in a minute after a success, after 1, 2, 4 …
// minutes (at most an hour) after failures.
func (p *Portal) RecordIMAPResult(ctx context.Context, fetchErr error) time.Time {
	now := p.Now()
	st := p.IMAPStatus(ctx)
	vals := map[string]string{"imap_checked_at": strconv.FormatInt(now.Unix(), 10)}
	wait := time.Minute
	if fetchErr != nil {
		st.Failures++
		vals["imap_error"], vals["imap_failures"] = Line(fetchErr.Error()), strconv.Itoa(st.Failures)
		wait = min(time.Minute<<min(st.Failures-1, 6), time.Hour)
	} else {
		vals["imap_error"], vals["imap_failures"], vals["imap_ok_at"] = "", "0", strconv.FormatInt(now.Unix(), 10)
	}
	_ = p.SetSettings(ctx, vals)
	return now.Add(wait)
}
