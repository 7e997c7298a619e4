package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks: endpoints an admin registers to be told of what happens in the
// portal. A delivery is queued in the transaction of the change it tells
// of (so a change that rolls back tells nothing, and one that commits is
// told even across a crash), then sent by the service's worker, signed
// with the endpoint's secret, retried with back-off for a day.

// Events an endpoint may ask for.
const (
	HookTicketCreated  = "ticket.created"
	HookTicketUpdated  = "ticket.updated"
	HookStatusChanged  = "ticket.status_changed"
	HookAssigned       = "ticket.assigned"
	HookMessage        = "message.created"
	HookNote           = "note.created" // internal notes: staff-only text leaves the portal, so never by default
	HookRating         = "rating.created"
	HookClient         = "client.registered"
	HookWork           = "work.logged"
	HookPing           = "ping" // the "send a test event" button's
	hookPayloadVersion = 1
)

// HookEvents lists the events with their labels, for the admin.
var HookEvents = []struct{ ID, Label string }{
	{HookTicketCreated, "A ticket is created"},
	{HookTicketUpdated, "A ticket is changed (status, priority, assignee, group, tags)"},
	{HookStatusChanged, "A ticket's status changes"},
	{HookAssigned, "A ticket is assigned"},
	{HookMessage, "A public message is written"},
	{HookNote, "An internal note is written (its text leaves the portal)"},
	{HookRating, "A client rates a ticket"},
	{HookClient, "A client registers"},
	{HookWork, "Labour is logged"},
}

// Webhook is an endpoint.
type Webhook struct {
	ID        int64    `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Active    bool     `json:"active"`
	Paused    bool     `json:"paused"` // by the portal, after a day of failures (an admin resumes it)
	Failing   int64    `json:"failing_since,omitempty"`
	Secret    string   `json:"secret,omitempty"` // only in the answer that made or rotated it
	CreatedAt int64    `json:"created_at"`
}

// WebhookInput makes or changes an endpoint; nil leaves a part.
type WebhookInput struct {
	URL    *string   `json:"url"`
	Events *[]string `json:"events"`
	Active *bool     `json:"active"`
}

// HookDelivery is one delivery of one event to one endpoint: the log.
type HookDelivery struct {
	ID        int64  `json:"id"`
	Event     string `json:"event"`
	EventID   string `json:"event_id"`
	Payload   string `json:"payload"`
	State     string `json:"state"` // pending, delivered, failed (given up)
	Attempts  int    `json:"attempts"`
	Status    int    `json:"status"`   // the endpoint's last HTTP status (0: no answer)
	Response  string `json:"response"` // its first bytes
	Error     string `json:"error,omitempty"`
	Duration  int    `json:"duration_ms"`
	NextAt    int64  `json:"next_at,omitempty"`
	CreatedAt int64  `json:"created_at"`
	DoneAt    int64  `json:"done_at,omitempty"`
}

// MaxWebhooks bounds a portal's endpoints. While an endpoint is paused
// its deliveries are still queued, to be sent when an admin switches it
// on again.
const MaxWebhooks = 20

// HookGiveUp is how long a delivery is retried before it is given up and
// its endpoint paused.
const HookGiveUp = 24 * time.Hour

// hookRotateOverlap is how long an old secret still signs after a rotation.
const hookRotateOverlap = 24 * time.Hour

func (p *Portal) hooksAllowed(actor *User) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if !p.Plan().APITokens {
		return &FieldErrors{Message: "Your tariff does not include the API and webhooks."}
	}
	return nil
}

const hookCols = "id, url, events, active, paused_at, failing_since, created_at"

func scanHook(row interface{ Scan(...any) error }) (*Webhook, error) {
	var h Webhook
	var events string
	var paused int64
	if err := row.Scan(&h.ID, &h.URL, &events, &h.Active, &paused, &h.Failing, &h.CreatedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	h.Events, h.Paused = strings.Split(events, ","), paused != 0
	return &h, nil
}

// Webhooks lists the endpoints. Admins only.
func (p *Portal) Webhooks(ctx context.Context, actor *User) ([]Webhook, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, "SELECT "+hookCols+" FROM webhooks ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: webhooks: %w", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		h, err := scanHook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *h)
	}
	return out, rows.Err()
}

// CheckHookURL refuses an address a delivery may not go to: not http(s),
// with a user name, or naming a loopback, private, link-local or other
// non-public address itself. A name is checked again, as it resolves, when
// each delivery connects.
func CheckHookURL(raw string, allowed []netip.Prefix) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "Enter the endpoint's address, like https://crm.example.com/portaldesk."
	}
	if u.User != nil {
		return "Put no user name or password in the address: the signature proves the sender."
	}
	if len(raw) > 2000 {
		return "At most 2000 characters."
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !PublicAddr(ip, allowed) {
		return "This address is not on the public internet: webhooks are not sent there."
	}
	if h := strings.TrimSuffix(strings.ToLower(u.Hostname()), "."); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "This address is not on the public internet: webhooks are not sent there."
	}
	return ""
}

// special are the ranges no delivery may reach besides what netip's own
// predicates name: this network, shared address space (CGNAT), protocol
// assignments, benchmarking, reserved, and the IPv6 translation prefixes
// (checked for the IPv4 address inside them too).
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"240.0.0.0/4", "255.255.255.255/32", "::/128", "100::/64", "2001:db8::/32"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// PublicAddr reports whether a delivery may connect to ip: a public
// address, or one inside the ops configuration's allowed prefixes.
func PublicAddr(ip netip.Addr, allowed []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip): // NAT64: the IPv4 address in its last four bytes
			return PublicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), allowed)
		case netip.MustParsePrefix("2002::/16").Contains(ip): // 6to4: the IPv4 address after the prefix
			return PublicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), allowed)
		}
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range special {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func (p *Portal) hookByID(ctx context.Context, id int64) (*Webhook, error) {
	return scanHook(p.q.QueryRow(ctx, "SELECT "+hookCols+" FROM webhooks WHERE id = ?", id))
}

// SaveWebhook makes (id 0) or changes an endpoint, checked whole first.
// A new one gets a secret, shown in this answer only. Admins only, on
// tariffs with the API.
func (p *Portal) SaveWebhook(ctx context.Context, actor *User, id int64, in WebhookInput) (*Webhook, error) {
	if err := p.hooksAllowed(actor); err != nil {
		return nil, err
	}
	h := &Webhook{Active: true, Events: []string{HookTicketCreated}}
	if id != 0 {
		cur, err := p.hookByID(ctx, id)
		if err != nil {
			return nil, err
		}
		h = cur
	}
	errs := map[string]string{}
	if in.URL != nil {
		h.URL = strings.TrimSpace(*in.URL)
	}
	if msg := CheckHookURL(h.URL, p.hookAllow); msg != "" {
		errs["url"] = msg
	}
	if in.Events != nil {
		h.Events = []string{}
		for _, e := range *in.Events {
			if !slices.ContainsFunc(HookEvents, func(k struct{ ID, Label string }) bool { return k.ID == e }) {
				errs["events"] = fmt.Sprintf("%q is not an event: use %s.", Line(e), strings.Join(hookEventIDs(), ", "))
				break
			}
			if !slices.Contains(h.Events, e) {
				h.Events = append(h.Events, e)
			}
		}
	}
	if len(h.Events) == 0 && errs["events"] == "" {
		errs["events"] = "Choose at least one event."
	}
	if in.Active != nil {
		h.Active = *in.Active
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	now := p.Now().Unix()
	err := p.Tx(ctx, func(tp *Portal) error {
		if id == 0 {
			var n int
			if err := tp.q.QueryRow(ctx, "SELECT COUNT(*) FROM webhooks").Scan(&n); err != nil {
				return err
			}
			if n >= MaxWebhooks {
				return &FieldErrors{Fields: map[string]string{"url": fmt.Sprintf("At most %d endpoints.", MaxWebhooks)}}
			}
			h.Secret = newHookSecret()
			res, err := tp.q.Exec(ctx, "INSERT INTO webhooks (url, events, active, secret, created_at) VALUES (?, ?, ?, ?, ?)", h.URL, strings.Join(h.Events, ","), h.Active, h.Secret, now)
			if err != nil {
				return err
			}
			h.ID, _ = res.LastInsertId()
			h.CreatedAt = now
		} else {
			// Switched on again by an admin: a paused endpoint is tried afresh.
			if _, err := tp.q.Exec(ctx, `UPDATE webhooks SET url = ?, events = ?, active = ?,
				paused_at = CASE WHEN ? THEN 0 ELSE paused_at END, failing_since = CASE WHEN ? THEN 0 ELSE failing_since END WHERE id = ?`,
				h.URL, strings.Join(h.Events, ","), h.Active, h.Active, h.Active, id); err != nil {
				return err
			}
			if h.Active && h.Paused {
				if _, err := tp.q.Exec(ctx, "UPDATE webhook_deliveries SET next_at = ? WHERE webhook_id = ? AND state = 'pending'", now, id); err != nil {
					return err
				}
				h.Paused = false
			}
		}
		return tp.keepHookEvents(ctx)
	})
	if err != nil {
		return nil, err
	}
	p.kickOutbox()
	return h, nil
}

func hookEventIDs() []string {
	out := make([]string, len(HookEvents))
	for i, e := range HookEvents {
		out[i] = e.ID
	}
	return out
}

func newHookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// RotateWebhookSecret gives an endpoint a new secret; the old one still
// signs (beside it) for a day, so the receiver can change over.
func (p *Portal) RotateWebhookSecret(ctx context.Context, actor *User, id int64) (*Webhook, error) {
	if err := p.hooksAllowed(actor); err != nil {
		return nil, err
	}
	h, err := p.hookByID(ctx, id)
	if err != nil {
		return nil, err
	}
	h.Secret = newHookSecret()
	if _, err := p.q.Exec(ctx, "UPDATE webhooks SET old_secret = secret, old_until = ?, secret = ? WHERE id = ?", p.Now().Add(hookRotateOverlap).Unix(), h.Secret, id); err != nil {
		return nil, err
	}
	return h, nil
}

// DeleteWebhook removes an endpoint and its log.
func (p *Portal) DeleteWebhook(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	return p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "DELETE FROM webhook_deliveries WHERE webhook_id = ?", id); err != nil {
			return err
		}
		res, err := tp.q.Exec(ctx, "DELETE FROM webhooks WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return tp.keepHookEvents(ctx)
	})
}

// keepHookEvents writes the events some active endpoint asks for into a
// setting, so that a write the webhooks do not care about costs them
// nothing but a look at memory.
func (p *Portal) keepHookEvents(ctx context.Context) error {
	// A paused endpoint still gets its deliveries queued: they wait for it.
	rows, err := p.q.Query(ctx, "SELECT events FROM webhooks WHERE active = 1")
	if err != nil {
		return err
	}
	var all []string
	for rows.Next() {
		var ev string
		if rows.Scan(&ev) == nil {
			for _, e := range strings.Split(ev, ",") {
				if !slices.Contains(all, e) {
					all = append(all, e)
				}
			}
		}
	}
	rows.Close()
	return p.SetSetting(ctx, "webhook_events", strings.Join(all, ","))
}

// wantsHook reports whether an active endpoint asks for event (from memory).
func (p *Portal) wantsHook(ctx context.Context, event string) bool {
	ev := p.Setting(ctx, "webhook_events", "")
	return ev != "" && strings.Contains(","+ev+",", ","+event+",")
}

// hookPayload is what every delivery's body is.
type hookPayload struct {
	ID        string `json:"id"` // the idempotency id: the same on every retry
	Event     string `json:"event"`
	Version   int    `json:"version"`
	CreatedAt int64  `json:"created_at"`
	Portal    string `json:"portal"`
	Data      any    `json:"data"`
}

// emit queues event for every active endpoint that asks for it, inside the
// caller's transaction; data is the event's object.
func (p *Portal) emit(ctx context.Context, event string, data func() (any, error)) error {
	if !p.wantsHook(ctx, event) {
		return nil
	}
	d, err := data()
	if err != nil {
		return err
	}
	rows, err := p.q.Query(ctx, "SELECT id, events FROM webhooks WHERE active = 1")
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		var ev string
		if rows.Scan(&id, &ev) == nil && slices.Contains(strings.Split(ev, ","), event) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	return p.queueHook(ctx, ids, event, d)
}

func (p *Portal) queueHook(ctx context.Context, ids []int64, event string, data any) error {
	now := p.Now().Unix()
	for _, id := range ids {
		tok := make([]byte, 12)
		rand.Read(tok)
		pl := hookPayload{ID: "evt_" + hex.EncodeToString(tok), Event: event, Version: hookPayloadVersion, CreatedAt: now, Portal: p.Slug, Data: data}
		b, err := json.Marshal(pl)
		if err != nil {
			return err
		}
		if _, err := p.q.Exec(ctx, "INSERT INTO webhook_deliveries (webhook_id, event, event_id, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			id, event, pl.ID, string(b), now, now); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		p.kickOutbox()
	}
	return nil
}

// hookReader is who a delivery's ticket is read as: an admin without limits.
var hookReader = &User{Role: RoleAdmin}

// HookTicket is a ticket event's object; Message, Change, Rating and Work
// are there for the events they belong to.
type HookTicket struct {
	Ticket  *Ticket    `json:"ticket"`
	Message *HookEntry `json:"message,omitempty"`
	Change  []string   `json:"changes,omitempty"` // as the ticket's history words them
	From    string     `json:"from,omitempty"`    // the status before
	Rating  *Rating    `json:"rating,omitempty"`
	Work    *WorkEntry `json:"work,omitempty"`
}

// HookEntry is a message or, for note.created, an internal note.
type HookEntry struct {
	ID        int64   `json:"id"`
	Body      string  `json:"body"`
	Internal  bool    `json:"internal"`
	Author    *Person `json:"author"`
	CreatedAt int64   `json:"created_at"`
}

// emitTicket queues a ticket event, the ticket read as it is now.
func (p *Portal) emitTicket(ctx context.Context, event string, number int64, fill func(*HookTicket)) error {
	return p.emit(ctx, event, func() (any, error) {
		t, err := p.Ticket(ctx, hookReader, number)
		if err != nil {
			return nil, err
		}
		d := &HookTicket{Ticket: t}
		if fill != nil {
			fill(d)
		}
		return d, nil
	})
}

// HookSender posts a delivery: the answer's status and first bytes.
type HookSender interface {
	Post(ctx context.Context, url string, header map[string]string, body []byte) (status int, head []byte, err error)
}

// HookSignature is the X-Portaldesk-Signature of body sent at t: t=<unix>,
// then v1=<hex HMAC-SHA256 of "t.body"> for each secret that signs.
func HookSignature(t int64, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t, 10)
	out := "t=" + ts
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts + "."))
		m.Write(body)
		out += ",v1=" + hex.EncodeToString(m.Sum(nil))
	}
	return out
}

// hookBackoff is the wait after a failed attempt n (1, 2, …): a minute,
// doubling, at most an hour.
func hookBackoff(n int) time.Duration {
	d := time.Minute << min(n-1, 6)
	return min(d, time.Hour)
}

type dueHook struct {
	id, hook                      int64
	event, eventID, payload, url  string
	secret, oldSecret             string
	oldUntil, tried, failingSince int64
	attempts                      int
}

// DeliverWebhooks sends the deliveries that are due (up to 200 a round) and
// says when the next one is; an endpoint that has failed for a day is
// paused and the admins told.
func (p *Portal) DeliverWebhooks(ctx context.Context, s HookSender) (time.Time, error) {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	now := p.Now()
	rows, err := p.q.Query(ctx, `SELECT d.id, d.webhook_id, d.event, d.event_id, d.payload, d.attempts, d.tried_at, w.url, w.secret, w.old_secret, w.old_until, w.failing_since
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.state = 'pending' AND d.next_at <= ? AND w.active = 1 AND w.paused_at = 0 ORDER BY d.id LIMIT 200`, now.Unix())
	if err != nil {
		return time.Time{}, fmt.Errorf("store: due webhooks: %w", err)
	}
	var due []dueHook
	for rows.Next() {
		var d dueHook
		if err := rows.Scan(&d.id, &d.hook, &d.event, &d.eventID, &d.payload, &d.attempts, &d.tried, &d.url, &d.secret, &d.oldSecret, &d.oldUntil, &d.failingSince); err != nil {
			rows.Close()
			return time.Time{}, err
		}
		due = append(due, d)
	}
	rows.Close()
	type result struct {
		d        dueHook
		status   int
		head     string
		err      string
		duration int
		at       int64
	}
	results := make([]result, 0, len(due))
	failed := map[int64]bool{} // endpoints that failed this round: the rest of theirs wait
	for _, d := range due {
		if failed[d.hook] {
			continue
		}
		t := p.Now()
		secrets := []string{d.secret}
		if d.oldSecret != "" && d.oldUntil > t.Unix() {
			secrets = append(secrets, d.oldSecret)
		}
		body := []byte(d.payload)
		hdr := map[string]string{"Content-Type": "application/json", "User-Agent": "Portaldesk-Webhooks/1", "X-Portaldesk-Event": d.event,
			"X-Portaldesk-Delivery": d.eventID, "X-Portaldesk-Signature": HookSignature(t.Unix(), body, secrets...)}
		status, head, err := s.Post(ctx, d.url, hdr, body)
		r := result{d: d, status: status, head: strings.ToValidUTF8(string(head), "?"), duration: int(p.Now().Sub(t).Milliseconds()), at: t.Unix()}
		if err != nil {
			r.err = err.Error()
		} else if status < 200 || status > 299 {
			r.err = fmt.Sprintf("the endpoint answered %d", status)
		}
		if r.err != "" {
			failed[d.hook] = true
		}
		results = append(results, r)
	}
	var paused []int64
	err = p.Tx(ctx, func(tp *Portal) error {
		paused = paused[:0]
		for _, r := range results {
			d := r.d
			if r.err == "" {
				if _, err := tp.q.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, status = ?, response = ?, error = '', duration_ms = ?,
					tried_at = CASE WHEN tried_at = 0 THEN ? ELSE tried_at END, done_at = ? WHERE id = ?`, r.status, r.head, r.duration, r.at, r.at, d.id); err != nil {
					return err
				}
				if _, err := tp.q.Exec(ctx, "UPDATE webhooks SET failing_since = 0 WHERE id = ?", d.hook); err != nil {
					return err
				}
				continue
			}
			state, next := "pending", now.Add(hookBackoff(d.attempts+1)).Unix()
			if d.tried != 0 && now.Sub(time.Unix(d.tried, 0)) >= HookGiveUp {
				state = "failed" // a day of attempts: given up (an admin may send it again)
			}
			if _, err := tp.q.Exec(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, status = ?, response = ?, error = ?, duration_ms = ?, next_at = ?,
				tried_at = CASE WHEN tried_at = 0 THEN ? ELSE tried_at END, done_at = CASE WHEN ? = 'failed' THEN ? ELSE 0 END WHERE id = ?`,
				state, r.status, r.head, r.err, r.duration, next, r.at, state, r.at, d.id); err != nil {
				return err
			}
			since := d.failingSince
			if since == 0 {
				since = r.at
				if _, err := tp.q.Exec(ctx, "UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since = 0", since, d.hook); err != nil {
					return err
				}
			}
			if now.Sub(time.Unix(since, 0)) >= HookGiveUp && !slices.Contains(paused, d.hook) {
				if _, err := tp.q.Exec(ctx, "UPDATE webhooks SET paused_at = ? WHERE id = ?", r.at, d.hook); err != nil {
					return err
				}
				paused = append(paused, d.hook)
				if err := tp.tellHookPaused(ctx, d.url, r.err); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: webhook results: %w", err)
	}
	if len(paused) > 0 {
		p.kickOutbox()
	}
	var next int64
	err = p.q.QueryRow(ctx, `SELECT COALESCE(MIN(d.next_at), 0) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.state = 'pending' AND w.active = 1 AND w.paused_at = 0`).Scan(&next)
	if err != nil || next == 0 {
		return time.Time{}, err
	}
	return time.Unix(next, 0), nil
}

// tellHookPaused mails the admins that an endpoint was paused.
func (p *Portal) tellHookPaused(ctx context.Context, endpoint, why string) error {
	admins, err := p.staff(ctx)
	if err != nil {
		return err
	}
	for _, a := range admins {
		if a.Role != RoleAdmin {
			continue
		}
		if err := p.mailTo(ctx, MailWebhookPaused, a, MailVars{Subject: endpoint, Message: why, Link: p.URL() + "admin/webhooks"}, 0); err != nil {
			return err
		}
	}
	return nil
}

// WebhookDeliveries is an endpoint's log, the newest first (at most 50).
func (p *Portal) WebhookDeliveries(ctx context.Context, actor *User, id int64) ([]HookDelivery, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if _, err := p.hookByID(ctx, id); err != nil {
		return nil, err
	}
	rows, err := p.q.Query(ctx, `SELECT id, event, event_id, payload, state, attempts, status, response, error, duration_ms, CASE WHEN state = 'pending' THEN next_at ELSE 0 END, created_at, done_at
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 50`, id)
	if err != nil {
		return nil, fmt.Errorf("store: webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []HookDelivery{}
	for rows.Next() {
		var d HookDelivery
		if err := rows.Scan(&d.ID, &d.Event, &d.EventID, &d.Payload, &d.State, &d.Attempts, &d.Status, &d.Response, &d.Error, &d.Duration, &d.NextAt, &d.CreatedAt, &d.DoneAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// TestWebhook queues a ping to an endpoint (active or not).
func (p *Portal) TestWebhook(ctx context.Context, actor *User, id int64) error {
	if err := p.hooksAllowed(actor); err != nil {
		return err
	}
	h, err := p.hookByID(ctx, id)
	if err != nil {
		return err
	}
	if !h.Active || h.Paused {
		return &FieldErrors{Message: "Switch the endpoint on to send it a test event."}
	}
	return p.Tx(ctx, func(tp *Portal) error {
		return tp.queueHook(ctx, []int64{id}, HookPing, map[string]string{"message": "A test event from Portaldesk."})
	})
}

// ResendDelivery queues a delivery again, with the same event id (so a
// receiver that has it knows it is the same event).
func (p *Portal) ResendDelivery(ctx context.Context, actor *User, hook, id int64) error {
	if err := p.hooksAllowed(actor); err != nil {
		return err
	}
	now := p.Now().Unix()
	return p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event, event_id, payload, next_at, created_at)
			SELECT webhook_id, event, event_id, payload, ?, ? FROM webhook_deliveries WHERE id = ? AND webhook_id = ?`, now, now, id, hook)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		tp.kickOutbox()
		return nil
	})
}
