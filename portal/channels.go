package portal

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"portaldesk/templates/i18n"
)

// Messengers as channels. A business connects its Telegram bot or its VK
// community; a client who writes there gets a ticket (and a client account
// made from their messenger profile, until they link it to their own by
// confirming their address); staff answer in the portal and the answer,
// its files, the ticket's status changes and the rating request arrive in
// the chat. What the messenger sends is kept first (channel_inbound, the
// same update once) and applied by the portal's worker, like mail; what
// goes back waits in channel_outbox, queued in the transaction of the
// change, retried for a day. Internal notes never go to a chat: only the
// client's side of a conversation is ever queued.
//
// The domain speaks to the messengers through ChannelClient
// (portal/channel does it over HTTP).

// Channel kinds.
const (
	ChannelTelegram = "telegram"
	ChannelVK       = "vk"
)

// Channel modes: how the messenger's updates reach the service.
const (
	ModeWebhook  = "webhook"  // Telegram calls us (a public https address)
	ModePoll     = "poll"     // we ask Telegram (long polling)
	ModeCallback = "callback" // VK's Callback API
)

// ChannelCreds are what a channel signs its calls with.
type ChannelCreds struct {
	Token string
	Group string // VK: the community's id
}

// ChatButton is a button under a chat message; pressing it sends Data back.
type ChatButton struct {
	Label string `json:"label"`
	Data  string `json:"data"`
}

// ChatFile is a file sent into a chat.
type ChatFile struct {
	Name  string
	Type  string // its content type: images go as photos
	Size  int64
	Open  func() (io.ReadCloser, error)
	Image bool
}

// ChatMessage is one message into a chat.
type ChatMessage struct {
	Chat    string
	Text    string
	Buttons []ChatButton
	Files   []ChatFile
}

// ChannelClient speaks to the messengers' APIs.
type ChannelClient interface {
	// Check verifies the credentials and names the bot or community.
	Check(ctx context.Context, kind string, c ChannelCreds) (account string, err error)
	// SetHook points Telegram at url, which proves itself with secret;
	// url "" switches it to long polling.
	SetHook(ctx context.Context, c ChannelCreds, url, secret string) error
	// Profile names a messenger's user (VK's updates do not carry names).
	Profile(ctx context.Context, kind string, c ChannelCreds, userID string) (first, last string, err error)
	// Fetch downloads a file an update refers to, at most limit bytes.
	Fetch(ctx context.Context, kind string, c ChannelCreds, ref string, limit int64) (io.ReadCloser, error)
	// Send delivers a message with its files and buttons.
	Send(ctx context.Context, kind string, c ChannelCreds, m ChatMessage) error
	// Answer acknowledges a button press (Telegram's callback queries).
	Answer(ctx context.Context, kind string, c ChannelCreds, callbackID, text string) error
}

// Channel is a connected messenger as the admin sees it (never its token).
type Channel struct {
	Kind      string `json:"kind"`
	Account   string `json:"account"`          // the bot's username, the community's name
	Group     string `json:"group,omitempty"`  // VK: the community's id
	Mode      string `json:"mode"`             // webhook, poll or callback
	Hook      string `json:"hook,omitempty"`   // the address the messenger calls (webhook, callback)
	Secret    string `json:"secret,omitempty"` // VK: the secret key to paste into the community's settings
	LastError string `json:"last_error,omitempty"`
	Contacts  int    `json:"contacts"` // people who have written
	UpdatedAt int64  `json:"updated_at"`
}

// ChannelInput connects a messenger: Telegram needs the bot's token; VK
// the community's token, its id and the confirmation string its Callback
// API settings show.
type ChannelInput struct {
	Token        string `json:"token"`
	Group        string `json:"group,omitempty"`
	Confirmation string `json:"confirmation,omitempty"`
}

// channelName is how the pages name a kind.
func channelName(kind string) string {
	if kind == ChannelVK {
		return "VK"
	}
	return "Telegram"
}

// ChannelHook is the address kind's messenger calls for this portal.
func (p *Portal) ChannelHook(kind string) string {
	if kind == ChannelVK {
		return p.URL() + "api/v1/channels/vk/callback"
	}
	return p.URL() + "api/v1/channels/telegram/hook"
}

// Channels lists the portal's connected messengers (admins only).
func (p *Portal) Channels(ctx context.Context, actor *User) ([]Channel, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, `SELECT kind, account, grp, mode, secret, last_error, updated_at,
		(SELECT COUNT(*) FROM channel_contacts c WHERE c.kind = channels.kind) FROM channels ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("store: channels: %w", err)
	}
	defer rows.Close()
	out := []Channel{}
	for rows.Next() {
		var c Channel
		if err := rows.Scan(&c.Kind, &c.Account, &c.Group, &c.Mode, &c.Secret, &c.LastError, &c.UpdatedAt, &c.Contacts); err != nil {
			return nil, err
		}
		if c.Mode != ModePoll {
			c.Hook = p.ChannelHook(c.Kind)
		}
		if c.Kind != ChannelVK {
			c.Secret = "" // Telegram's is set by us, through the API
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Channel is one connected messenger (ErrNotFound when it is not).
func (p *Portal) Channel(ctx context.Context, actor *User, kind string) (*Channel, error) {
	list, err := p.Channels(ctx, actor)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if c.Kind == kind {
			return &c, nil
		}
	}
	return nil, ErrNotFound
}

// ErrNoChannels is returned when the service has no way to reach the
// messengers (a test without them).
var ErrNoChannels = errors.New("this service does not connect messengers")

// SaveChannel connects kind's messenger (admins only): the credentials
// are checked with the messenger first, Telegram is told where to send
// updates (this portal's address when it is public https, else the
// service asks it, long polling), and the token is kept sealed.
func (p *Portal) SaveChannel(ctx context.Context, actor *User, kind string, in ChannelInput) (*Channel, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	if p.ChannelAPI == nil {
		return nil, ErrNoChannels
	}
	in.Token, in.Group, in.Confirmation = strings.TrimSpace(in.Token), strings.TrimSpace(in.Group), strings.TrimSpace(in.Confirmation)
	errs := map[string]string{}
	switch kind {
	case ChannelTelegram:
		if !telegramToken(in.Token) {
			errs["token"] = "Paste the token @BotFather gave, like 123456789:AAE…"
		}
	case ChannelVK:
		if len(in.Token) < 20 || strings.ContainsAny(in.Token, " \t\n") {
			errs["token"] = "Paste the community's access key (Manage → API usage → Access tokens)."
		}
		if _, err := strconv.ParseUint(in.Group, 10, 64); err != nil {
			errs["group"] = "The community's id: the digits of club123456 in its address."
		}
		if in.Confirmation == "" || len(in.Confirmation) > 64 || strings.ContainsAny(in.Confirmation, " \t\n") {
			errs["confirmation"] = "Paste the string the Callback API settings say the server should return."
		}
	default:
		return nil, ErrNotFound
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	creds := ChannelCreds{Token: in.Token, Group: in.Group}
	account, err := p.ChannelAPI.Check(ctx, kind, creds)
	if err != nil {
		field := "token"
		return nil, &FieldErrors{Fields: map[string]string{field: fmt.Sprintf("%s refused it: %s", channelName(kind), err)}}
	}
	secret := newSecret()
	mode := ModeCallback
	if kind == ChannelTelegram {
		mode = ModePoll
		hook := ""
		if p.publicHTTPS() {
			mode, hook = ModeWebhook, p.ChannelHook(kind)
		}
		if err := p.ChannelAPI.SetHook(ctx, creds, hook, secret); err != nil {
			return nil, &FieldErrors{Fields: map[string]string{"token": fmt.Sprintf("%s refused it: %s", channelName(kind), err)}}
		}
	}
	sealed, err := p.seal(in.Token)
	if err != nil {
		return nil, err
	}
	now := p.Now().Unix()
	err = p.Tx(ctx, func(tp *Portal) error {
		_, err := tp.q.Exec(ctx, `INSERT INTO channels (kind, token, grp, secret, confirm, account, mode, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind) DO UPDATE SET token = excluded.token, grp = excluded.grp, secret = excluded.secret, confirm = excluded.confirm,
			account = excluded.account, mode = excluded.mode, last_error = '', updated_at = excluded.updated_at,
			poll_offset = CASE WHEN channels.token = excluded.token THEN channels.poll_offset ELSE 0 END`,
			kind, sealed, in.Group, secret, in.Confirmation, account, mode, now, now)
		if err != nil {
			return err
		}
		tp.afterCommit(tp.channelsChanged)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: save channel: %w", err)
	}
	return p.Channel(ctx, actor, kind)
}

// DeleteChannel disconnects a messenger; its contacts stay, so that a
// reconnected bot knows its clients again.
func (p *Portal) DeleteChannel(ctx context.Context, actor *User, kind string) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	c, err := p.channelCreds(ctx, kind)
	if err != nil {
		return err
	}
	if kind == ChannelTelegram && p.ChannelAPI != nil {
		_ = p.ChannelAPI.SetHook(ctx, c.creds, "", "") // best effort: the bot may be gone
	}
	return p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "DELETE FROM channels WHERE kind = ?", kind); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, "UPDATE channel_outbox SET state = 'failed', error = 'the channel was disconnected' WHERE kind = ? AND state = 'pending'", kind); err != nil {
			return err
		}
		tp.afterCommit(tp.channelsChanged)
		return nil
	})
}

func (p *Portal) channelsChanged() {
	if p.OnChannels != nil {
		p.OnChannels()
	}
}

func (p *Portal) publicHTTPS() bool {
	u := p.URL()
	if !strings.HasPrefix(u, "https://") {
		return false
	}
	host := strings.TrimPrefix(u, "https://")
	return !strings.HasPrefix(host, "127.") && !strings.HasPrefix(host, "localhost") && !strings.HasPrefix(host, "[::1]")
}

func telegramToken(s string) bool {
	id, rest, ok := strings.Cut(s, ":")
	if !ok || len(rest) < 20 || len(s) > 100 {
		return false
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// storedChannel is a channel with its credentials, for the workers.
type storedChannel struct {
	kind, mode, secret, confirm string
	creds                       ChannelCreds
	offset                      int64
}

func (p *Portal) channelCreds(ctx context.Context, kind string) (*storedChannel, error) {
	c := &storedChannel{kind: kind}
	var sealed string
	err := p.q.QueryRow(ctx, "SELECT token, grp, secret, confirm, mode, poll_offset FROM channels WHERE kind = ?", kind).Scan(&sealed, &c.creds.Group, &c.secret, &c.confirm, &c.mode, &c.offset)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.creds.Token, err = p.unseal(sealed); err != nil {
		return nil, fmt.Errorf("store: channel %s: %w", kind, err)
	}
	return c, nil
}

// PollingChannel is the Telegram bot the service must ask for updates
// (long polling), with where to go on from; ok false when there is none.
func (p *Portal) PollingChannel(ctx context.Context) (token string, offset int64, ok bool) {
	c, err := p.channelCreds(ctx, ChannelTelegram)
	if err != nil || c.mode != ModePoll {
		return "", 0, false
	}
	return c.creds.Token, c.offset, true
}

// ChannelUpdate is one update as the messenger sent it.
type ChannelUpdate struct {
	ID      string
	Payload []byte
}

// ReceivePolled keeps updates fetched by long polling and moves the offset
// past them, in one transaction: an update is kept once, and none is lost
// when the service stops between the two. token is the one they were
// fetched with: a bot replaced meanwhile keeps its own offset.
func (p *Portal) ReceivePolled(ctx context.Context, token string, updates []ChannelUpdate, next int64) error {
	c, err := p.channelCreds(ctx, ChannelTelegram)
	if err != nil || c.creds.Token != token {
		return err
	}
	return p.Tx(ctx, func(tp *Portal) error {
		for _, u := range updates {
			if err := tp.keepUpdate(ctx, ChannelTelegram, u); err != nil {
				return err
			}
		}
		_, err := tp.q.Exec(ctx, "UPDATE channels SET poll_offset = max(poll_offset, ?), last_error = '' WHERE kind = ?", next, ChannelTelegram)
		tp.kickOutbox()
		return err
	})
}

// ChannelPollFailed records why asking Telegram failed, for the admin.
func (p *Portal) ChannelPollFailed(ctx context.Context, why string) {
	_, _ = p.q.Exec(ctx, "UPDATE channels SET last_error = ? WHERE kind = ?", truncate(why, 300), ChannelTelegram)
}

func (p *Portal) keepUpdate(ctx context.Context, kind string, u ChannelUpdate) error {
	_, err := p.q.Exec(ctx, "INSERT INTO channel_inbound (kind, update_id, payload, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		kind, u.ID, string(u.Payload), p.Now().Unix())
	return err
}

// ErrBadSecret is a call to a channel's hook that does not prove it comes
// from the messenger.
var ErrBadSecret = errors.New("this call does not come from the messenger")

// ReceiveTelegram keeps an update Telegram posted to the portal's hook;
// secret is its X-Telegram-Bot-Api-Secret-Token.
func (p *Portal) ReceiveTelegram(ctx context.Context, secret string, body []byte) error {
	c, err := p.channelCreds(ctx, ChannelTelegram)
	if errors.Is(err, ErrNotFound) || err == nil && !equalSecret(c.secret, secret) {
		return ErrBadSecret
	}
	if err != nil {
		return err
	}
	var u struct {
		ID int64 `json:"update_id"`
	}
	if json.Unmarshal(body, &u) != nil || u.ID == 0 {
		return &FieldErrors{Message: "Not a Telegram update."}
	}
	if err := p.keepUpdate(ctx, ChannelTelegram, ChannelUpdate{ID: strconv.FormatInt(u.ID, 10), Payload: body}); err != nil {
		return err
	}
	p.kickOutbox()
	return nil
}

// ReceiveVK answers a call of VK's Callback API: the confirmation string
// for a "confirmation", "ok" once another event is kept.
func (p *Portal) ReceiveVK(ctx context.Context, body []byte) (string, error) {
	var ev struct {
		Type    string          `json:"type"`
		Group   json.Number     `json:"group_id"`
		Secret  string          `json:"secret"`
		EventID string          `json:"event_id"`
		Object  json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", &FieldErrors{Message: "Not a VK event."}
	}
	c, err := p.channelCreds(ctx, ChannelVK)
	if errors.Is(err, ErrNotFound) || err == nil && ev.Group.String() != c.creds.Group {
		return "", ErrBadSecret
	}
	if err != nil {
		return "", err
	}
	if ev.Type == "confirmation" {
		return c.confirm, nil
	}
	if !equalSecret(c.secret, ev.Secret) {
		return "", ErrBadSecret
	}
	if ev.Type != "message_new" {
		return "ok", nil // nothing else is a client writing
	}
	id := ev.EventID
	if id == "" {
		var m struct {
			Message struct {
				ID int64 `json:"id"`
			} `json:"message"`
		}
		_ = json.Unmarshal(ev.Object, &m)
		id = "m" + strconv.FormatInt(m.Message.ID, 10)
	}
	if err := p.keepUpdate(ctx, ChannelVK, ChannelUpdate{ID: id, Payload: body}); err != nil {
		return "", err
	}
	p.kickOutbox()
	return "ok", nil
}

func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sign is an HMAC of s for purpose under the portal's key, for links it
// mails.
func (p *Portal) sign(purpose, s string) string {
	m := hmac.New(sha256.New, p.CookieKey())
	fmt.Fprintf(m, "%s\x00%s\x00%s", purpose, p.Slug, s)
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// chatUpdate is an update, whichever messenger sent it, as the portal
// applies it.
type chatUpdate struct {
	from, chat        string // the person's id; where to answer them
	first, last, nick string
	text              string
	files             []chatFileRef
	phone             string // a contact the person shared: their own number
	rate              int    // a rating button pressed (with ticket)
	ticket            int64
	callback          string // Telegram's callback query, to acknowledge
}

type chatFileRef struct {
	ref, name string
	size      int64
}

// parseTelegram reads what a Telegram update says; ok false for what is
// not a person writing to the bot in private.
func parseTelegram(payload []byte) (chatUpdate, bool) {
	type user struct {
		ID        int64  `json:"id"`
		IsBot     bool   `json:"is_bot"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Username  string `json:"username"`
	}
	type message struct {
		From *user `json:"from"`
		Chat struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"chat"`
		Text    string `json:"text"`
		Caption string `json:"caption"`
		Photo   []struct {
			FileID   string `json:"file_id"`
			FileSize int64  `json:"file_size"`
			Width    int    `json:"width"`
		} `json:"photo"`
		Document *struct {
			FileID   string `json:"file_id"`
			FileName string `json:"file_name"`
			FileSize int64  `json:"file_size"`
		} `json:"document"`
		Contact *struct {
			Phone  string `json:"phone_number"`
			UserID int64  `json:"user_id"`
		} `json:"contact"`
	}
	var u struct {
		Message  *message `json:"message"`
		Callback *struct {
			ID      string   `json:"id"`
			From    user     `json:"from"`
			Message *message `json:"message"`
			Data    string   `json:"data"`
		} `json:"callback_query"`
	}
	if json.Unmarshal(payload, &u) != nil {
		return chatUpdate{}, false
	}
	if cb := u.Callback; cb != nil && cb.Message != nil && cb.Message.Chat.Type == "private" {
		c := chatUpdate{from: strconv.FormatInt(cb.From.ID, 10), chat: strconv.FormatInt(cb.Message.Chat.ID, 10),
			first: cb.From.FirstName, last: cb.From.LastName, nick: cb.From.Username, callback: cb.ID}
		c.ticket, c.rate = rateData(cb.Data)
		return c, c.rate != 0
	}
	m := u.Message
	if m == nil || m.From == nil || m.From.IsBot || m.Chat.Type != "private" {
		return chatUpdate{}, false
	}
	c := chatUpdate{from: strconv.FormatInt(m.From.ID, 10), chat: strconv.FormatInt(m.Chat.ID, 10),
		first: m.From.FirstName, last: m.From.LastName, nick: m.From.Username, text: m.Text}
	if c.text == "" {
		c.text = m.Caption
	}
	if len(m.Photo) > 0 { // the sizes of one photo: the largest
		best := m.Photo[0]
		for _, ph := range m.Photo {
			if ph.Width > best.Width {
				best = ph
			}
		}
		c.files = append(c.files, chatFileRef{ref: best.FileID, name: "photo.jpg", size: best.FileSize})
	}
	if d := m.Document; d != nil {
		c.files = append(c.files, chatFileRef{ref: d.FileID, name: cmp.Or(d.FileName, "file"), size: d.FileSize})
	}
	if ct := m.Contact; ct != nil && ct.UserID == m.From.ID {
		c.phone = ct.Phone // their own number, which Telegram vouches for
	}
	return c, true
}

// parseVK reads a VK message_new event.
func parseVK(payload []byte) (chatUpdate, bool) {
	var ev struct {
		Object struct {
			Message struct {
				FromID      int64  `json:"from_id"`
				PeerID      int64  `json:"peer_id"`
				Text        string `json:"text"`
				Payload     string `json:"payload"`
				Attachments []struct {
					Type  string `json:"type"`
					Photo *struct {
						Sizes []struct {
							URL   string `json:"url"`
							Width int    `json:"width"`
						} `json:"sizes"`
					} `json:"photo"`
					Doc *struct {
						Title string `json:"title"`
						URL   string `json:"url"`
						Size  int64  `json:"size"`
					} `json:"doc"`
				} `json:"attachments"`
			} `json:"message"`
		} `json:"object"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return chatUpdate{}, false
	}
	m := ev.Object.Message
	if m.FromID <= 0 || m.PeerID != m.FromID { // a person, in private (not a chat of many)
		return chatUpdate{}, false
	}
	c := chatUpdate{from: strconv.FormatInt(m.FromID, 10), chat: strconv.FormatInt(m.PeerID, 10), text: m.Text}
	if m.Payload != "" {
		var pl struct {
			Rate   int   `json:"rate"`
			Ticket int64 `json:"t"`
		}
		if json.Unmarshal([]byte(m.Payload), &pl) == nil && pl.Rate >= 1 && pl.Rate <= 5 {
			c.rate, c.ticket, c.text = pl.Rate, pl.Ticket, ""
		}
	}
	for _, a := range m.Attachments {
		switch {
		case a.Type == "photo" && a.Photo != nil && len(a.Photo.Sizes) > 0:
			best := a.Photo.Sizes[0]
			for _, s := range a.Photo.Sizes {
				if s.Width > best.Width {
					best = s
				}
			}
			c.files = append(c.files, chatFileRef{ref: best.URL, name: "photo.jpg"})
		case a.Type == "doc" && a.Doc != nil:
			c.files = append(c.files, chatFileRef{ref: a.Doc.URL, name: cmp.Or(a.Doc.Title, "file"), size: a.Doc.Size})
		}
	}
	return c, true
}

// rateData reads a rating button's data: "rate:<ticket>:<score>".
func rateData(s string) (ticket int64, score int) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "rate" {
		return 0, 0
	}
	t, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || n < 1 || n > 5 {
		return 0, 0
	}
	return t, n
}

// MaxChatContactsPerHour bounds the clients a portal's channels make in an
// hour: a flood of strangers makes no more accounts than that.
const MaxChatContactsPerHour = 200

// ProcessChannels applies the updates the messengers sent, oldest first:
// files are fetched before the transaction that keeps them with the
// message; the update's state is written in that same transaction, so an
// update is applied once.
func (p *Portal) ProcessChannels(ctx context.Context) (int, error) {
	if p.Plan().State != StateActive {
		return 0, nil // read-only or suspended: the updates wait
	}
	p.workMu.Lock()
	defer p.workMu.Unlock()
	n := 0
	for {
		var id int64
		var kind, payload string
		err := p.q.QueryRow(ctx, "SELECT id, kind, payload FROM channel_inbound WHERE state = 'new' ORDER BY id LIMIT 1").Scan(&id, &kind, &payload)
		if errors.Is(err, sql.ErrNoRows) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("store: channel inbound: %w", err)
		}
		state, outcome, ticket := p.applyUpdate(ctx, id, kind, []byte(payload))
		if state != "" { // applyUpdate wrote its own state when it returns ""
			if _, err := p.q.Exec(ctx, "UPDATE channel_inbound SET state = ?, outcome = ?, ticket_id = NULLIF(?, 0), processed_at = ? WHERE id = ?",
				state, truncate(outcome, 500), ticket, p.Now().Unix(), id); err != nil {
				return n, err
			}
		}
		n++
		p.kickOutbox()
	}
}

// applyUpdate applies one update; it returns its state and outcome, or
// state "" when the transaction that applied it recorded them.
func (p *Portal) applyUpdate(ctx context.Context, id int64, kind string, payload []byte) (string, string, int64) {
	var u chatUpdate
	var ok bool
	if kind == ChannelVK {
		u, ok = parseVK(payload)
	} else {
		u, ok = parseTelegram(payload)
	}
	if !ok {
		return "ignored", "not a person writing in private", 0
	}
	ch, err := p.channelCreds(ctx, kind)
	if err != nil {
		return "ignored", "the channel is not connected", 0
	}
	lang := p.Setting(ctx, "lang", "en")
	if kind == ChannelVK && u.first == "" && p.ChannelAPI != nil {
		u.first, u.last, _ = p.ChannelAPI.Profile(ctx, kind, ch.creds, u.from)
	}
	// Files first, outside any transaction: staged, then kept with the
	// message or discarded.
	files := p.NewFiles(ctx)
	defer files.Discard()
	var left []string
	for _, f := range u.files {
		if err := p.fetchChatFile(ctx, kind, ch.creds, f, files); err != nil {
			left = append(left, fmt.Sprintf("%s (%s)", f.name, strings.TrimSuffix(err.Error(), ".")))
		}
	}
	state, outcome, ticket := "", "", int64(0)
	err = p.Tx(ctx, func(tp *Portal) error {
		c, fresh, err := tp.chatContact(ctx, kind, u)
		if err != nil {
			return err
		}
		if c == nil {
			state, outcome = "ignored", fresh
			return tp.markUpdate(ctx, id, state, outcome, 0)
		}
		ticket, outcome, err = tp.applyChat(ctx, kind, c, u, files, left, lang)
		if err != nil {
			return err
		}
		return tp.markUpdate(ctx, id, "done", outcome, ticket)
	})
	if err != nil {
		var fe *FieldErrors
		if errors.As(err, &fe) {
			return "ignored", fe.Error(), ticket
		}
		return "failed", err.Error(), ticket
	}
	if state == "" {
		files.keep()
	}
	return "", "", 0
}

func (p *Portal) markUpdate(ctx context.Context, id int64, state, outcome string, ticket int64) error {
	_, err := p.q.Exec(ctx, "UPDATE channel_inbound SET state = ?, outcome = ?, ticket_id = NULLIF(?, 0), processed_at = ? WHERE id = ?",
		state, truncate(outcome, 500), ticket, p.Now().Unix(), id)
	return err
}

func (p *Portal) fetchChatFile(ctx context.Context, kind string, c ChannelCreds, f chatFileRef, files *Files) error {
	lim := p.FileLimits(ctx)
	if lim.MaxFileBytes > 0 && f.size > lim.MaxFileBytes {
		return fmt.Errorf("larger than %s", HumanBytes(lim.MaxFileBytes))
	}
	if p.ChannelAPI == nil {
		return ErrNoChannels
	}
	limit := lim.MaxFileBytes
	if limit <= 0 {
		limit = 50 << 20
	}
	rc, err := p.ChannelAPI.Fetch(ctx, kind, c, f.ref, limit+1)
	if err != nil {
		return errors.New("could not be fetched")
	}
	defer rc.Close()
	return files.Add(ctx, f.name, io.LimitReader(rc, limit+1))
}

// chatContact is the person an update comes from, with their client
// account (made from their profile the first time); nil with why when
// they may not write.
func (p *Portal) chatContact(ctx context.Context, kind string, u chatUpdate) (*chatPerson, string, error) {
	c := &chatPerson{kind: kind, chat: u.chat}
	err := p.q.QueryRow(ctx, "SELECT id, user_id FROM channel_contacts WHERE kind = ? AND ext_id = ?", kind, u.from).Scan(&c.id, &c.userID)
	if err == nil {
		if _, err := p.q.Exec(ctx, "UPDATE channel_contacts SET chat_id = ? WHERE id = ? AND chat_id <> ?", u.chat, c.id, u.chat); err != nil {
			return nil, "", err
		}
		if c.user, err = p.UserByID(ctx, c.userID); err != nil {
			return nil, "", err
		}
		if !c.user.Active {
			return nil, "the client's account is deactivated", nil
		}
		return c, "", nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	var fresh int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM channel_contacts WHERE created_at > ?", p.Now().Add(-time.Hour).Unix()).Scan(&fresh); err != nil {
		return nil, "", err
	}
	if fresh >= MaxChatContactsPerHour {
		return nil, "too many new people this hour", nil
	}
	name := Line(strings.TrimSpace(u.first))
	if name == "" {
		name = cmp.Or(Line(u.nick), channelName(kind)+" "+u.from)
	}
	name = truncRunes(name, 100)
	nu := &User{Email: fmt.Sprintf("%s-%s@%s.invalid", kind, u.from, kind), Name: name, Surname: truncRunes(Line(u.last), 100), Role: RoleClient, Lang: p.Setting(ctx, "lang", "en")}
	if err := p.InsertUser(ctx, nu, "!"); err != nil {
		return nil, "", err
	}
	res, err := p.q.Exec(ctx, "INSERT INTO channel_contacts (kind, ext_id, chat_id, user_id, name, username, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		kind, u.from, u.chat, nu.ID, strings.TrimSpace(name+" "+nu.Surname), Line(u.nick), p.Now().Unix())
	if err != nil {
		return nil, "", err
	}
	c.id, _ = res.LastInsertId()
	c.userID, c.user, c.fresh = nu.ID, nu, true
	return c, "", nil
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

type chatPerson struct {
	id, userID int64
	kind, chat string
	user       *User
	fresh      bool
}

// applyChat applies what a person wrote: a command, a rating, their own
// phone number, or a message — on their open ticket from this channel, or
// a new one.
func (p *Portal) applyChat(ctx context.Context, kind string, c *chatPerson, u chatUpdate, files *Files, left []string, lang string) (int64, string, error) {
	text := strings.TrimSpace(Text(u.text))
	if c.user.Lang != "" {
		lang = c.user.Lang
	}
	say := func(text string) error { return p.queueChat(ctx, kind, c.chat, 0, 0, text, nil) }
	switch {
	case u.rate != 0:
		if u.callback != "" && p.ChannelAPI != nil {
			defer func() { // acknowledged once the transaction is over, best effort
				cr, err := p.channelCreds(ctx, kind)
				if err == nil {
					p.afterCommit(func() {
						_ = p.ChannelAPI.Answer(context.WithoutCancel(ctx), kind, cr.creds, u.callback, i18n.T(lang, "Thank you!"))
					})
				}
			}()
		}
		if _, err := p.Rate(ctx, c.user, u.ticket, u.rate, ""); err != nil {
			var fe *FieldErrors
			if errors.As(err, &fe) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
				return u.ticket, "a rating refused: " + err.Error(), say(i18n.T(lang, "This ticket cannot be rated now."))
			}
			return 0, "", err
		}
		return u.ticket, fmt.Sprintf("rated #%d: %d", u.ticket, u.rate), say(i18n.T(lang, "Thank you for rating ticket #%d!", u.ticket))
	case u.phone != "":
		linked, err := p.linkByPhone(ctx, c, u.phone)
		if err != nil {
			return 0, "", err
		}
		if linked == nil {
			return 0, "a phone no client has", say(i18n.T(lang, "No client here has this number. Send /email and your address to link your account instead."))
		}
		return 0, "linked by phone to " + linked.Email, say(i18n.T(lang, "This chat is linked to your account, %s.", linked.FullName()))
	case text == "/start" || strings.HasPrefix(text, "/start "):
		return 0, "greeted", say(i18n.T(lang, "Hello! Write your question here and we will answer in this chat. Already our client? Send /email and your address to link this chat to your account."))
	case strings.HasPrefix(text, "/email"):
		addr := strings.TrimSpace(strings.TrimPrefix(text, "/email"))
		if msg := ValidateEmail(addr); msg != "" {
			return 0, "a bad address", say(i18n.T(lang, "Send /email and your address, like /email anna@example.com."))
		}
		if err := p.mailChatLink(ctx, c, addr, lang); err != nil {
			return 0, "", err
		}
		// The same answer whether or not the address is a client's: the
		// chat does not tell who is.
		return 0, "a link asked for " + addr, say(i18n.T(lang, "If %s is a client's address here, a link to confirm is on its way: open it to link this chat.", addr))
	}
	if text == "" && files.Len() == 0 && len(left) == 0 {
		return 0, "nothing to keep", nil
	}
	note := ""
	if len(left) > 0 {
		note = "\n\n[" + i18n.T(lang, "Not kept from the chat: %s", strings.Join(left, "; ")) + "]"
	}
	body := text
	if body == "" {
		body = i18n.T(lang, "(files)")
	}
	var open int64
	err := p.q.QueryRow(ctx, `SELECT t.id FROM tickets t JOIN statuses s ON s.id = t.status_id
		WHERE t.client_id = ? AND s.closed = 0 AND t.channel = ? AND t.merged_into IS NULL ORDER BY t.last_activity_at DESC LIMIT 1`, c.userID, kind).Scan(&open)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, "", err
	}
	if open != 0 {
		if _, err := p.PostMessageVia(ctx, c.user, open, body+note, false, files, kind); err != nil {
			return 0, "", err
		}
		return open, fmt.Sprintf("a message on #%d", open), nil
	}
	subject, _, _ := strings.Cut(body, "\n")
	subject = truncRunes(strings.TrimSpace(subject), 80)
	t, err := p.CreateTicket(ctx, c.user, NewTicket{Values: map[string]string{"subject": subject, "description": body + note}, Files: files, Source: kind, channel: kind})
	if err != nil {
		return 0, "", err
	}
	if err := p.queueChat(ctx, kind, c.chat, t.Number, 0, i18n.T(lang, "Your request is ticket #%d. We will answer here.", t.Number), nil); err != nil {
		return 0, "", err
	}
	return t.Number, fmt.Sprintf("new ticket #%d", t.Number), nil
}

// queueChat queues a message into a chat within the caller's transaction.
func (p *Portal) queueChat(ctx context.Context, kind, chat string, ticket, entry int64, text string, buttons []ChatButton) error {
	var b string
	if len(buttons) > 0 {
		j, _ := json.Marshal(buttons)
		b = string(j)
	}
	now := p.Now().Unix()
	_, err := p.q.Exec(ctx, "INSERT INTO channel_outbox (kind, chat_id, ticket_id, entry_id, text, buttons, next_at, created_at) VALUES (?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, ?, ?)",
		kind, chat, ticket, entry, text, b, now, now)
	if err == nil {
		p.kickOutbox()
	}
	return err
}

// chatOf is where a client hears of ticket t by chat: the kind and chat
// of their contact on the ticket's channel; "" when by mail.
func (p *Portal) chatOf(ctx context.Context, t *Ticket, to *User) (kind, chat string, err error) {
	if t.Channel == "" || to.ID != t.Client.ID {
		return "", "", nil
	}
	err = p.q.QueryRow(ctx, "SELECT chat_id FROM channel_contacts WHERE kind = ? AND user_id = ? ORDER BY id DESC LIMIT 1", t.Channel, to.ID).Scan(&chat)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return t.Channel, chat, err
}

// chatMessage tells the client by chat of a message posted on their ticket.
func (p *Portal) chatMessage(ctx context.Context, kind, chat string, t *Ticket, author *User, e *Entry) error {
	text := author.FullName() + ":\n" + e.Body
	if utf8.RuneCountInString(text) > 4000 { // a Telegram message holds 4096
		text = truncRunes(text, 3990) + "…\n" + p.ticketLink(t.Number)
	}
	return p.queueChat(ctx, kind, chat, t.Number, e.ID, text, nil)
}

// chatStatus tells the client by chat that their ticket's status changed;
// a closed ticket comes with the rating's five buttons.
func (p *Portal) chatStatus(ctx context.Context, kind, chat string, t *Ticket, to *User, st *Status) error {
	lang := cmp.Or(to.Lang, p.Setting(ctx, "lang", "en"))
	text := i18n.T(lang, "Ticket #%d «%s»: %s.", t.Number, t.Subject, i18n.Msg(lang, st.Name))
	var buttons []ChatButton
	if st.Closed {
		text += "\n" + i18n.T(lang, "How did we do? Rate the answer:")
		for n := 1; n <= 5; n++ {
			buttons = append(buttons, ChatButton{Label: strings.Repeat("★", n), Data: fmt.Sprintf("rate:%d:%d", t.Number, n)})
		}
	}
	return p.queueChat(ctx, kind, chat, t.Number, 0, text, buttons)
}

// linkByPhone links the contact to the one client whose questionnaire
// answers or fields give this phone number; nil when none (or several) do.
func (p *Portal) linkByPhone(ctx context.Context, c *chatPerson, phone string) (*User, error) {
	digits := phoneDigits(phone)
	if len(digits) < 7 {
		return nil, nil
	}
	rows, err := p.q.Query(ctx, `SELECT DISTINCT t.client_id, v.value FROM ticket_values v JOIN tickets t ON t.id = v.ticket_id WHERE v.type = 'phone'
		UNION SELECT u.id, j.value FROM users u, json_each(u.fields) j WHERE u.role = 'client' AND j.value GLOB '*[0-9]*' AND u.fields <> '{}'`)
	if err != nil {
		return nil, err
	}
	match := map[int64]bool{}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return nil, err
		}
		if d := phoneDigits(v); d == digits || (len(d) >= 10 && len(digits) >= 10 && d[len(d)-10:] == digits[len(digits)-10:]) {
			match[id] = true
		}
	}
	rows.Close()
	delete(match, c.userID)
	if len(match) != 1 {
		return nil, nil
	}
	for id := range match {
		to, err := p.UserByID(ctx, id)
		if err != nil || !to.Active || to.Role != RoleClient {
			return nil, err
		}
		return to, p.moveContact(ctx, c, to)
	}
	return nil, nil
}

func phoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// moveContact gives the contact to client to: the chat is theirs from now
// on, and so are the tickets the chat's own account opened; that account,
// made for the chat, is closed.
func (p *Portal) moveContact(ctx context.Context, c *chatPerson, to *User) error {
	if c.userID == to.ID {
		return nil
	}
	if _, err := p.q.Exec(ctx, "UPDATE channel_contacts SET user_id = ? WHERE id = ?", to.ID, c.id); err != nil {
		return err
	}
	if strings.HasSuffix(c.user.Email, ".invalid") && c.user.Role == RoleClient {
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET client_id = ? WHERE client_id = ?", to.ID, c.userID); err != nil {
			return err
		}
		if _, err := p.q.Exec(ctx, "UPDATE users SET active = 0 WHERE id = ?", c.userID); err != nil {
			return err
		}
	}
	c.userID, c.user = to.ID, to
	return nil
}

// mailChatLink mails the client with address addr (if there is one) a
// link that links the chat to their account.
func (p *Portal) mailChatLink(ctx context.Context, c *chatPerson, addr, lang string) error {
	to, err := p.UserByEmail(ctx, addr)
	if errors.Is(err, ErrNotFound) || err == nil && (!to.Active || to.Role != RoleClient || to.ID == c.userID) {
		return nil
	}
	if err != nil {
		return err
	}
	exp := p.Now().Add(24 * time.Hour).Unix()
	tok := fmt.Sprintf("%d.%d.%d", c.id, to.ID, exp)
	link := p.URL() + "chat-link?t=" + tok + "." + p.sign("chatlink", tok)
	return p.mailTo(ctx, MailChatLink, to, MailVars{Link: link, Author: channelName(c.kind)}, 0)
}

// LinkChat applies a link mailed by mailChatLink: the chat becomes its
// client's. It answers the client it now belongs to.
func (p *Portal) LinkChat(ctx context.Context, token string) (*User, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || !equalSecret(p.sign("chatlink", strings.Join(parts[:3], ".")), parts[3]) {
		return nil, &FieldErrors{Message: "This link is not valid: ask for a new one in the chat."}
	}
	cid, _ := strconv.ParseInt(parts[0], 10, 64)
	uid, _ := strconv.ParseInt(parts[1], 10, 64)
	exp, _ := strconv.ParseInt(parts[2], 10, 64)
	if p.Now().Unix() > exp {
		return nil, &FieldErrors{Message: "This link has expired: ask for a new one in the chat."}
	}
	to, err := p.UserByID(ctx, uid)
	if err != nil || !to.Active {
		return nil, &FieldErrors{Message: "This link is not valid: ask for a new one in the chat."}
	}
	c := &chatPerson{id: cid}
	err = p.q.QueryRow(ctx, "SELECT kind, chat_id, user_id FROM channel_contacts WHERE id = ?", cid).Scan(&c.kind, &c.chat, &c.userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &FieldErrors{Message: "This link is not valid: ask for a new one in the chat."}
	}
	if err != nil {
		return nil, err
	}
	if c.user, err = p.UserByID(ctx, c.userID); err != nil {
		return nil, err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if err := tp.moveContact(ctx, c, to); err != nil {
			return err
		}
		return tp.queueChat(ctx, c.kind, c.chat, 0, 0, i18n.T(cmp.Or(to.Lang, p.Setting(ctx, "lang", "en")), "This chat is linked to your account, %s.", to.FullName()), nil)
	})
	if err != nil {
		return nil, fmt.Errorf("store: link chat: %w", err)
	}
	return to, nil
}

// ChatDelivery is what a round of DeliverChannels did.
type ChatDelivery struct {
	Sent, Failed int
	Next         time.Time // the next retry due (zero: none)
}

// DeliverChannels sends the chat messages due, in order per chat; one
// that fails waits (RetryDelay) with those after it in its chat, and is
// given up a day after it was queued.
func (p *Portal) DeliverChannels(ctx context.Context) (ChatDelivery, error) {
	var d ChatDelivery
	if p.ChannelAPI == nil {
		return d, nil
	}
	p.workMu.Lock()
	defer p.workMu.Unlock()
	now := p.Now()
	rows, err := p.q.Query(ctx, `SELECT id, kind, chat_id, COALESCE(entry_id, 0), text, buttons, attempts, created_at FROM channel_outbox
		WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT 100`, now.Unix())
	if err != nil {
		return d, fmt.Errorf("store: channel outbox: %w", err)
	}
	type due struct {
		id, entry, created int64
		kind, chat, text   string
		buttons            string
		attempts           int
	}
	var list []due
	for rows.Next() {
		var x due
		if err := rows.Scan(&x.id, &x.kind, &x.chat, &x.entry, &x.text, &x.buttons, &x.attempts, &x.created); err != nil {
			rows.Close()
			return d, err
		}
		list = append(list, x)
	}
	rows.Close()
	creds := map[string]*storedChannel{}
	blocked := map[string]bool{} // a chat whose earlier message failed: the rest wait, in order
	for _, x := range list {
		key := x.kind + "/" + x.chat
		if blocked[key] {
			continue
		}
		c, ok := creds[x.kind]
		if !ok {
			c, _ = p.channelCreds(ctx, x.kind)
			creds[x.kind] = c
		}
		if c == nil {
			_, _ = p.q.Exec(ctx, "UPDATE channel_outbox SET state = 'failed', error = 'the channel is not connected' WHERE id = ?", x.id)
			d.Failed++
			continue
		}
		m := ChatMessage{Chat: x.chat, Text: x.text}
		if x.buttons != "" {
			_ = json.Unmarshal([]byte(x.buttons), &m.Buttons)
		}
		if x.entry != 0 {
			if m.Files, err = p.chatFiles(ctx, x.entry); err != nil {
				return d, err
			}
		}
		err := p.ChannelAPI.Send(ctx, x.kind, c.creds, m)
		switch {
		case err == nil:
			_, err = p.q.Exec(ctx, "UPDATE channel_outbox SET state = 'sent', attempts = attempts + 1, error = '', sent_at = ? WHERE id = ?", p.Now().Unix(), x.id)
			d.Sent++
		case isPermanent(err) || now.Unix()-x.created > 24*3600:
			_, err = p.q.Exec(ctx, "UPDATE channel_outbox SET state = 'failed', attempts = attempts + 1, error = ? WHERE id = ?", truncate(err.Error(), 300), x.id)
			d.Failed++
		default:
			blocked[key] = true
			next := now.Add(RetryDelay(x.attempts + 1))
			if d.Next.IsZero() || next.Before(d.Next) {
				d.Next = next
			}
			_, err = p.q.Exec(ctx, "UPDATE channel_outbox SET attempts = attempts + 1, error = ?, next_at = ? WHERE id = ?", truncate(err.Error(), 300), next.Unix(), x.id)
		}
		if err != nil {
			return d, err
		}
	}
	if len(list) == 100 {
		d.Next = now // more are due: the next round goes on
	}
	return d, nil
}

func isPermanent(err error) bool {
	var pe Permanent
	return errors.As(err, &pe) && pe.Permanent()
}

// chatFiles are a message's files, to send with it into the chat.
func (p *Portal) chatFiles(ctx context.Context, entry int64) ([]ChatFile, error) {
	rows, err := p.q.Query(ctx, "SELECT name, content_type, size, path FROM attachments WHERE message_id = ? AND internal = 0 ORDER BY id", entry)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChatFile
	for rows.Next() {
		var f ChatFile
		var path string
		if err := rows.Scan(&f.Name, &f.Type, &f.Size, &path); err != nil {
			return nil, err
		}
		f.Image = strings.HasPrefix(f.Type, "image/") && f.Type != "image/svg+xml"
		f.Open = func() (io.ReadCloser, error) { return p.Fs.Open(path) }
		out = append(out, f)
	}
	return out, rows.Err()
}

// ChatOut is a chat message queued or sent.
type ChatOut struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	Chat      string `json:"chat"`
	Ticket    int64  `json:"ticket,omitempty"`
	Text      string `json:"text"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	Error     string `json:"error,omitempty"`
	CreatedAt int64  `json:"created_at"`
}

// ChatOutbox lists the latest limit chat messages, newest first (admins).
func (p *Portal) ChatOutbox(ctx context.Context, actor *User, limit int) ([]ChatOut, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, "SELECT id, kind, chat_id, COALESCE(ticket_id, 0), text, state, attempts, error, created_at FROM channel_outbox ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ChatOut{}
	for rows.Next() {
		var o ChatOut
		if err := rows.Scan(&o.ID, &o.Kind, &o.Chat, &o.Ticket, &o.Text, &o.State, &o.Attempts, &o.Error, &o.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
