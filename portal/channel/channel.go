// Package channel speaks to the messengers a portal uses as channels: the
// Telegram Bot API (https://core.telegram.org/bots/api) and the VK API
// (https://dev.vk.com/method), over HTTP. It implements
// portal.ChannelClient; the service's long polling uses Poll.
package channel

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"portaldesk/portal"
)

// Config says where the APIs are (tests point them at servers of their own).
type Config struct {
	TelegramAPI string // default https://api.telegram.org
	VKAPI       string // default https://api.vk.com
	VKVersion   string // default 5.199
}

// Client is the messengers' API client.
type Client struct {
	cfg  Config
	http *http.Client
	poll *http.Client // long polling: its own, longer timeout
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.TelegramAPI == "" {
		cfg.TelegramAPI = "https://api.telegram.org"
	}
	if cfg.VKAPI == "" {
		cfg.VKAPI = "https://api.vk.com"
	}
	if cfg.VKVersion == "" {
		cfg.VKVersion = "5.199"
	}
	cfg.TelegramAPI, cfg.VKAPI = strings.TrimRight(cfg.TelegramAPI, "/"), strings.TrimRight(cfg.VKAPI, "/")
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 60 * time.Second}
	return &Client{cfg: cfg, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, poll: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

var _ portal.ChannelClient = (*Client)(nil)

// Error is a messenger's refusal.
type Error struct {
	Code        int
	Description string
	RetryAfter  int  // seconds (Telegram's 429)
	permanent   bool // trying again will not help (a bad token, a chat that blocked the bot)
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return e.Description
	}
	return fmt.Sprintf("%d %s", e.Code, e.Description)
}

// Permanent says whether sending again is pointless.
func (e *Error) Permanent() bool { return e.permanent }

// --- Telegram ---

type tgAnswer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func (c *Client) tgURL(token, method string) string {
	return c.cfg.TelegramAPI + "/bot" + token + "/" + method
}

// tgCall posts a JSON request to method and decodes its result into out.
func (c *Client) tgCall(ctx context.Context, hc *http.Client, token, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tgURL(token, method), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.tgDo(hc, req, out)
}

func (c *Client) tgDo(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("telegram: %w", stripToken(err))
	}
	defer resp.Body.Close()
	var a tgAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&a); err != nil {
		return &Error{Code: resp.StatusCode, Description: "an answer that is not Telegram's"}
	}
	if !a.OK {
		e := &Error{Code: a.ErrorCode, Description: a.Description}
		if a.Parameters != nil {
			e.RetryAfter = a.Parameters.RetryAfter
		}
		e.permanent = e.Code == 400 || e.Code == 401 || e.Code == 403 || e.Code == 404
		return e
	}
	if out != nil {
		return json.Unmarshal(a.Result, out)
	}
	return nil
}

// stripToken keeps a bot's token (which is in every URL) out of errors
// that end up in logs and on pages.
func stripToken(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Check verifies the credentials: Telegram's getMe, VK's groups.getById.
func (c *Client) Check(ctx context.Context, kind string, cr portal.ChannelCreds) (string, error) {
	if kind == portal.ChannelVK {
		var res json.RawMessage
		if err := c.vkCall(ctx, cr.Token, "groups.getById", url.Values{"group_id": {cr.Group}}, &res); err != nil {
			return "", err
		}
		type group struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		var groups []group
		var wrapped struct {
			Groups []group `json:"groups"`
		}
		if json.Unmarshal(res, &wrapped) == nil && len(wrapped.Groups) > 0 {
			groups = wrapped.Groups
		} else {
			_ = json.Unmarshal(res, &groups)
		}
		if len(groups) == 0 || strconv.FormatInt(groups[0].ID, 10) != cr.Group {
			return "", &Error{Description: "the token is not this community's"}
		}
		return groups[0].Name, nil
	}
	var me struct {
		ID       int64  `json:"id"`
		IsBot    bool   `json:"is_bot"`
		Username string `json:"username"`
	}
	if err := c.tgCall(ctx, c.http, cr.Token, "getMe", struct{}{}, &me); err != nil {
		return "", err
	}
	return "@" + me.Username, nil
}

// SetHook points Telegram's updates at url (setWebhook with a secret
// token), or, with url "", switches the bot to long polling
// (deleteWebhook, keeping what waits).
func (c *Client) SetHook(ctx context.Context, cr portal.ChannelCreds, hook, secret string) error {
	if hook == "" {
		return c.tgCall(ctx, c.http, cr.Token, "deleteWebhook", map[string]any{"drop_pending_updates": false}, nil)
	}
	return c.tgCall(ctx, c.http, cr.Token, "setWebhook", map[string]any{"url": hook, "secret_token": secret,
		"allowed_updates": []string{"message", "callback_query"}}, nil)
}

// Poll asks Telegram for the updates after offset, waiting up to wait for
// one (getUpdates); it answers them with the offset to ask from next.
func (c *Client) Poll(ctx context.Context, token string, offset int64, wait time.Duration) ([]portal.ChannelUpdate, int64, error) {
	var raw []json.RawMessage
	err := c.tgCall(ctx, c.poll, token, "getUpdates", map[string]any{"offset": offset, "timeout": int(wait.Seconds()), "limit": 100,
		"allowed_updates": []string{"message", "callback_query"}}, &raw)
	if err != nil {
		return nil, offset, err
	}
	out := make([]portal.ChannelUpdate, 0, len(raw))
	next := offset
	for _, r := range raw {
		var u struct {
			ID int64 `json:"update_id"`
		}
		if json.Unmarshal(r, &u) != nil {
			continue
		}
		out = append(out, portal.ChannelUpdate{ID: strconv.FormatInt(u.ID, 10), Payload: r})
		next = max(next, u.ID+1)
	}
	return out, next, nil
}

// Profile names a VK user (users.get); Telegram's updates carry names.
func (c *Client) Profile(ctx context.Context, kind string, cr portal.ChannelCreds, userID string) (string, string, error) {
	if kind != portal.ChannelVK {
		return "", "", nil
	}
	var users []struct {
		First string `json:"first_name"`
		Last  string `json:"last_name"`
	}
	if err := c.vkCall(ctx, cr.Token, "users.get", url.Values{"user_ids": {userID}}, &users); err != nil || len(users) == 0 {
		return "", "", err
	}
	return users[0].First, users[0].Last, nil
}

// Fetch downloads a file: Telegram's by its file_id (getFile, then its
// path), VK's by the address in the update.
func (c *Client) Fetch(ctx context.Context, kind string, cr portal.ChannelCreds, ref string, limit int64) (io.ReadCloser, error) {
	u := ref
	if kind == portal.ChannelTelegram {
		var f struct {
			Path string `json:"file_path"`
			Size int64  `json:"file_size"`
		}
		if err := c.tgCall(ctx, c.http, cr.Token, "getFile", map[string]any{"file_id": ref}, &f); err != nil {
			return nil, err
		}
		if f.Size > limit {
			return nil, &Error{Description: "the file is too large"}
		}
		u = c.cfg.TelegramAPI + "/file/bot" + cr.Token + "/" + f.Path
	} else if !c.vkFile(u) {
		return nil, &Error{Description: "not a VK file address"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, stripToken(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &Error{Code: resp.StatusCode, Description: "the file could not be downloaded"}
	}
	return resp.Body, nil
}

// Send delivers a message into a chat: its text (with buttons), then each
// file (Telegram: a photo or a document; VK: a document, uploaded first).
func (c *Client) Send(ctx context.Context, kind string, cr portal.ChannelCreds, m portal.ChatMessage) error {
	if kind == portal.ChannelVK {
		return c.vkSend(ctx, cr, m)
	}
	msg := map[string]any{"chat_id": m.Chat, "text": m.Text}
	if len(m.Buttons) > 0 {
		row := []map[string]string{}
		for _, b := range m.Buttons {
			row = append(row, map[string]string{"text": b.Label, "callback_data": b.Data})
		}
		msg["reply_markup"] = map[string]any{"inline_keyboard": [][]map[string]string{row}}
	}
	if err := c.tgCall(ctx, c.http, cr.Token, "sendMessage", msg, nil); err != nil {
		return err
	}
	for _, f := range m.Files {
		method, field := "sendDocument", "document"
		if f.Image {
			method, field = "sendPhoto", "photo"
		}
		err := c.upload(ctx, c.tgURL(cr.Token, method), map[string]string{"chat_id": m.Chat}, field, f, func(resp *http.Response) error {
			defer resp.Body.Close()
			var a tgAnswer
			if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil || !a.OK {
				return &Error{Code: a.ErrorCode, Description: cmp.Or(a.Description, "Telegram refused the file"), permanent: a.ErrorCode == 400 || a.ErrorCode == 403}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// upload POSTs f as a multipart form, streamed: the file is never whole
// in memory.
func (c *Client) upload(ctx context.Context, u string, fields map[string]string, field string, f portal.ChatFile, answer func(*http.Response) error) error {
	src, err := f.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		var err error
		for k, v := range fields {
			if err = mw.WriteField(k, v); err != nil {
				break
			}
		}
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile(field, f.Name); err == nil {
				_, err = io.Copy(part, src)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, pr)
	if err != nil {
		pr.Close()
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.http.Do(req)
	if err != nil {
		pr.Close()
		return stripToken(err)
	}
	return answer(resp)
}

// Answer acknowledges a pressed button (answerCallbackQuery); VK needs none.
func (c *Client) Answer(ctx context.Context, kind string, cr portal.ChannelCreds, callbackID, text string) error {
	if kind != portal.ChannelTelegram || callbackID == "" {
		return nil
	}
	return c.tgCall(ctx, c.http, cr.Token, "answerCallbackQuery", map[string]any{"callback_query_id": callbackID, "text": text}, nil)
}

// --- VK ---

// vkFile says whether u is where VK keeps files (or the API configured):
// an update names its files by address, and nothing else is fetched.
func (c *Client) vkFile(u string) bool {
	if strings.HasPrefix(u, c.cfg.VKAPI+"/") {
		return true
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "https" {
		return false
	}
	h := pu.Hostname()
	for _, d := range []string{"vk.com", "vk.me", "userapi.com", "vkuser.net", "vk-cdn.net"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

type vkAnswer struct {
	Response json.RawMessage `json:"response"`
	Error    *struct {
		Code int    `json:"error_code"`
		Msg  string `json:"error_msg"`
	} `json:"error"`
}

// vkPermanent are VK's error codes that sending again will not mend:
// authorisation, access, a user who does not let the community write.
var vkPermanent = map[int]bool{5: true, 7: true, 15: true, 27: true, 100: true, 113: true, 900: true, 901: true, 902: true}

func (c *Client) vkCall(ctx context.Context, token, method string, params url.Values, out any) error {
	params.Set("access_token", token)
	params.Set("v", c.cfg.VKVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.VKAPI+"/method/"+method, strings.NewReader(params.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("vk: %w", stripToken(err))
	}
	defer resp.Body.Close()
	var a vkAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&a); err != nil {
		return &Error{Code: resp.StatusCode, Description: "an answer that is not VK's"}
	}
	if a.Error != nil {
		return &Error{Code: a.Error.Code, Description: a.Error.Msg, permanent: vkPermanent[a.Error.Code]}
	}
	if out != nil {
		return json.Unmarshal(a.Response, out)
	}
	return nil
}

func (c *Client) vkSend(ctx context.Context, cr portal.ChannelCreds, m portal.ChatMessage) error {
	var attachments []string
	for _, f := range m.Files {
		a, err := c.vkUploadDoc(ctx, cr, m.Chat, f)
		if err != nil {
			return err
		}
		attachments = append(attachments, a)
	}
	p := url.Values{"peer_id": {m.Chat}, "message": {m.Text}, "random_id": {strconv.FormatInt(time.Now().UnixNano()&0x7fffffff, 10)}}
	if len(attachments) > 0 {
		p.Set("attachment", strings.Join(attachments, ","))
	}
	if len(m.Buttons) > 0 {
		row := []any{}
		for _, b := range m.Buttons {
			t, n, _ := strings.Cut(strings.TrimPrefix(b.Data, "rate:"), ":")
			payload := fmt.Sprintf(`{"rate":%s,"t":%s}`, n, t)
			row = append(row, map[string]any{"action": map[string]string{"type": "text", "label": b.Label, "payload": payload}})
		}
		kb, _ := json.Marshal(map[string]any{"inline": true, "buttons": []any{row}})
		p.Set("keyboard", string(kb))
	}
	return c.vkCall(ctx, cr.Token, "messages.send", p, nil)
}

// vkUploadDoc uploads a file for a message (docs.getMessagesUploadServer,
// the upload, docs.save) and names it as an attachment.
func (c *Client) vkUploadDoc(ctx context.Context, cr portal.ChannelCreds, peer string, f portal.ChatFile) (string, error) {
	var srv struct {
		URL string `json:"upload_url"`
	}
	if err := c.vkCall(ctx, cr.Token, "docs.getMessagesUploadServer", url.Values{"type": {"doc"}, "peer_id": {peer}}, &srv); err != nil {
		return "", err
	}
	var file string
	err := c.upload(ctx, srv.URL, nil, "file", f, func(resp *http.Response) error {
		defer resp.Body.Close()
		var up struct {
			File  string `json:"file"`
			Error string `json:"error"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&up); err != nil || up.File == "" {
			return &Error{Description: cmp.Or(up.Error, "VK refused the file")}
		}
		file = up.File
		return nil
	})
	if err != nil {
		return "", err
	}
	var saved struct {
		Type string `json:"type"`
		Doc  struct {
			ID      int64 `json:"id"`
			OwnerID int64 `json:"owner_id"`
		} `json:"doc"`
	}
	if err := c.vkCall(ctx, cr.Token, "docs.save", url.Values{"file": {file}, "title": {f.Name}}, &saved); err != nil {
		return "", err
	}
	return fmt.Sprintf("doc%d_%d", saved.Doc.OwnerID, saved.Doc.ID), nil
}
