package pdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The messengers cannot be reached from the test machines: these servers
// speak the documented subset of their APIs the service uses, with the
// same JSON shapes and error codes, on loopback.

// TelegramServer is the Bot API (https://core.telegram.org/bots/api):
// getMe, setWebhook, deleteWebhook, getUpdates (long polling), sendMessage,
// sendPhoto, sendDocument (multipart), getFile and its downloads,
// answerCallbackQuery. Its people write with Write, SendPhoto, Press …
type TelegramServer struct {
	URL      string
	Token    string // the one bot token it knows
	Username string
	srv      *httptest.Server
	mu       sync.Mutex
	updates  []tgUpdate // not yet confirmed by an offset
	nextID   int64
	arrived  chan struct{}
	webhook  string
	secret   string
	files    map[string][]byte // file_id → bytes
	sent     []TGSent
	answered []string // callback query ids answered
}

type tgUpdate struct {
	ID   int64
	JSON []byte
}

// TGSent is what the bot sent into a chat.
type TGSent struct {
	Method   string // sendMessage, sendPhoto, sendDocument
	Chat     string
	Text     string
	Buttons  []string // callback data
	FileName string
	File     []byte
}

// TGUser is a Telegram user writing to the bot.
type TGUser struct {
	ID        int64
	FirstName string
	LastName  string
	Username  string
}

// StartTelegram starts the Bot API on loopback.
func StartTelegram(t testing.TB) *TelegramServer {
	s := &TelegramServer{Token: "123456789:AAEtestTokenForTheBotApi_0123456789", Username: "shop_help_bot", nextID: 500, arrived: make(chan struct{}, 1), files: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func tgReply(w http.ResponseWriter, code int, result any, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code != 200 {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": code, "description": desc})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (s *TelegramServer) serve(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+s.Token+"/"); ok {
		s.mu.Lock()
		data, found := s.files[strings.TrimPrefix(rest, "files/")]
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
		return
	}
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !strings.HasPrefix(r.URL.Path, "/bot") || !ok {
		tgReply(w, 404, nil, "Not Found")
		return
	}
	if token != s.Token {
		tgReply(w, 401, nil, "Unauthorized")
		return
	}
	// Parameters come as JSON, a form, or multipart (with files).
	params := map[string]any{}
	var file []byte
	var fileName string
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/json"):
		_ = json.NewDecoder(r.Body).Decode(&params)
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			tgReply(w, 400, nil, "Bad Request: can't parse multipart")
			return
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
		for _, fs := range r.MultipartForm.File {
			f, _ := fs[0].Open()
			file, _ = io.ReadAll(f)
			f.Close()
			fileName = fs[0].Filename
		}
	default:
		_ = r.ParseForm()
		for k, v := range r.Form {
			params[k] = v[0]
		}
	}
	str := func(k string) string {
		switch v := params[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	switch method {
	case "getMe":
		tgReply(w, 200, map[string]any{"id": 123456789, "is_bot": true, "first_name": "Shop help", "username": s.Username}, "")
	case "setWebhook":
		u := str("url")
		if u != "" && !strings.HasPrefix(u, "https://") {
			tgReply(w, 400, nil, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
			return
		}
		s.mu.Lock()
		s.webhook, s.secret = u, str("secret_token")
		s.mu.Unlock()
		tgReply(w, 200, true, "")
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook, s.secret = "", ""
		s.mu.Unlock()
		tgReply(w, 200, true, "")
	case "getUpdates":
		s.getUpdates(w, r, params)
	case "sendMessage":
		if strings.TrimSpace(str("text")) == "" {
			tgReply(w, 400, nil, "Bad Request: message text is empty")
			return
		}
		m := TGSent{Method: method, Chat: str("chat_id"), Text: str("text")}
		if kb, ok := params["reply_markup"].(map[string]any); ok {
			rows, _ := kb["inline_keyboard"].([]any)
			for _, row := range rows {
				for _, b := range row.([]any) {
					m.Buttons = append(m.Buttons, b.(map[string]any)["callback_data"].(string))
				}
			}
		}
		s.record(m)
		tgReply(w, 200, map[string]any{"message_id": len(s.Sent()) + 1, "chat": map[string]any{"id": m.Chat}, "text": m.Text}, "")
	case "sendPhoto", "sendDocument":
		if file == nil || str("chat_id") == "" {
			tgReply(w, 400, nil, "Bad Request: there is no "+strings.ToLower(strings.TrimPrefix(method, "send"))+" in the request")
			return
		}
		s.record(TGSent{Method: method, Chat: str("chat_id"), Text: str("caption"), FileName: fileName, File: file})
		tgReply(w, 200, map[string]any{"message_id": len(s.Sent()) + 1}, "")
	case "getFile":
		id := str("file_id")
		s.mu.Lock()
		data, ok := s.files[id]
		s.mu.Unlock()
		if !ok {
			tgReply(w, 400, nil, "Bad Request: invalid file_id")
			return
		}
		tgReply(w, 200, map[string]any{"file_id": id, "file_unique_id": id, "file_size": len(data), "file_path": "files/" + id}, "")
	case "answerCallbackQuery":
		s.mu.Lock()
		s.answered = append(s.answered, str("callback_query_id"))
		s.mu.Unlock()
		tgReply(w, 200, true, "")
	default:
		tgReply(w, 404, nil, "Not Found: method not found")
	}
}

func (s *TelegramServer) getUpdates(w http.ResponseWriter, r *http.Request, params map[string]any) {
	offset, _ := params["offset"].(float64)
	wait, _ := params["timeout"].(float64)
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		s.mu.Lock()
		if s.webhook != "" {
			s.mu.Unlock()
			tgReply(w, 409, nil, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
			return
		}
		// An offset confirms every update before it: they are forgotten.
		kept := s.updates[:0]
		for _, u := range s.updates {
			if u.ID >= int64(offset) {
				kept = append(kept, u)
			}
		}
		s.updates = kept
		if len(kept) > 0 {
			out := make([]json.RawMessage, 0, len(kept))
			for _, u := range kept {
				out = append(out, u.JSON)
			}
			s.mu.Unlock()
			tgReply(w, 200, out, "")
			return
		}
		s.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			tgReply(w, 200, []any{}, "")
			return
		}
		select {
		case <-s.arrived:
		case <-time.After(left):
		case <-r.Context().Done():
			return
		}
	}
}

func (s *TelegramServer) record(m TGSent) {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
}

// Sent is everything the bot sent, in order.
func (s *TelegramServer) Sent() []TGSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TGSent(nil), s.sent...)
}

// Answered are the callback queries the bot acknowledged.
func (s *TelegramServer) Answered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.answered...)
}

// Webhook is where the bot's updates are posted ("" long polling).
func (s *TelegramServer) Webhook() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

// update queues an update (or posts it to the webhook) and answers its id.
func (s *TelegramServer) update(t testing.TB, body map[string]any) int64 {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	body["update_id"] = id
	b, _ := json.Marshal(body)
	hook, secret := s.webhook, s.secret
	if hook == "" {
		s.updates = append(s.updates, tgUpdate{ID: id, JSON: b})
	}
	s.mu.Unlock()
	if hook != "" {
		req, _ := http.NewRequest("POST", hook, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return id
	}
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	return id
}

func (u TGUser) json() map[string]any {
	return map[string]any{"id": u.ID, "is_bot": false, "first_name": u.FirstName, "last_name": u.LastName, "username": u.Username, "language_code": "ru"}
}

func (s *TelegramServer) message(from TGUser, extra map[string]any) map[string]any {
	m := map[string]any{"message_id": s.nextID, "date": time.Now().Unix(), "from": from.json(),
		"chat": map[string]any{"id": from.ID, "type": "private", "first_name": from.FirstName}}
	for k, v := range extra {
		m[k] = v
	}
	return map[string]any{"message": m}
}

// Write sends the bot a text message from a person.
func (s *TelegramServer) Write(t testing.TB, from TGUser, text string) int64 {
	return s.update(t, s.message(from, map[string]any{"text": text}))
}

// SendDocument sends the bot a file with a caption.
func (s *TelegramServer) SendDocument(t testing.TB, from TGUser, name string, data []byte, caption string) int64 {
	id := s.addFile(data)
	return s.update(t, s.message(from, map[string]any{"caption": caption,
		"document": map[string]any{"file_id": id, "file_unique_id": id, "file_name": name, "mime_type": "application/octet-stream", "file_size": len(data)}}))
}

// SendPhoto sends the bot a photo (in two sizes, as Telegram does).
func (s *TelegramServer) SendPhoto(t testing.TB, from TGUser, data []byte, caption string) int64 {
	small, big := s.addFile(data[:len(data)/2]), s.addFile(data)
	return s.update(t, s.message(from, map[string]any{"caption": caption, "photo": []any{
		map[string]any{"file_id": small, "file_unique_id": small, "width": 90, "height": 90, "file_size": len(data) / 2},
		map[string]any{"file_id": big, "file_unique_id": big, "width": 800, "height": 800, "file_size": len(data)}}}))
}

// ShareContact shares the person's own phone number with the bot.
func (s *TelegramServer) ShareContact(t testing.TB, from TGUser, phone string) int64 {
	return s.update(t, s.message(from, map[string]any{"contact": map[string]any{"phone_number": phone, "first_name": from.FirstName, "user_id": from.ID}}))
}

// Press presses an inline button with callback data under a message.
func (s *TelegramServer) Press(t testing.TB, from TGUser, data string) int64 {
	s.mu.Lock()
	qid := fmt.Sprintf("cq%d", s.nextID+1)
	s.mu.Unlock()
	return s.update(t, map[string]any{"callback_query": map[string]any{"id": qid, "from": from.json(), "chat_instance": "1", "data": data,
		"message": map[string]any{"message_id": 1, "date": time.Now().Unix(), "chat": map[string]any{"id": from.ID, "type": "private"}}}})
}

func (s *TelegramServer) addFile(data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("AgAD%d", len(s.files)+1)
	s.files[id] = data
	return id
}

// VKServer is the VK API (https://dev.vk.com/method) and Callback API:
// groups.getById, users.get, messages.send, docs.getMessagesUploadServer
// with its upload, docs.save; and the community's events posted to the
// portal's callback address with the confirmation handshake.
type VKServer struct {
	URL, Token, Group string
	srv               *httptest.Server
	mu                sync.Mutex
	files             map[string][]byte // uploaded and hosted files
	sent              []VKSent
	eventN            int
}

// VKSent is what the community sent into a dialogue.
type VKSent struct {
	Peer     string
	Text     string
	Payloads []string // of the keyboard's buttons
	Files    [][]byte // the documents attached
	Names    []string
}

// StartVK starts the VK API on loopback.
func StartVK(t testing.TB) *VKServer {
	s := &VKServer{Token: "vk1.a.communityAccessKey0123456789abcdef", Group: "218000111", files: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func vkReply(w http.ResponseWriter, resp any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"response": resp})
}

func vkError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"error_code": code, "error_msg": msg, "request_params": []any{}}})
}

func (s *VKServer) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/files/"):
		s.mu.Lock()
		data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/files/")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
		return
	case r.URL.Path == "/upload/doc":
		if err := r.ParseMultipartForm(64 << 20); err != nil || r.MultipartForm.File["file"] == nil {
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "no_file"})
			return
		}
		fh := r.MultipartForm.File["file"][0]
		f, _ := fh.Open()
		data, _ := io.ReadAll(f)
		f.Close()
		id := s.host(data)
		_ = json.NewEncoder(w).Encode(map[string]any{"file": id + "|" + fh.Filename})
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/method/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	_ = r.ParseForm()
	if r.Form.Get("v") == "" {
		vkError(w, 8, "Invalid request: v is required")
		return
	}
	if r.Form.Get("access_token") != s.Token {
		vkError(w, 5, "User authorization failed: invalid access_token (4).")
		return
	}
	switch name {
	case "groups.getById":
		if r.Form.Get("group_id") != s.Group {
			vkError(w, 100, "One of the parameters specified was missing or invalid: group_id is undefined")
			return
		}
		g, _ := strconv.ParseInt(s.Group, 10, 64)
		vkReply(w, map[string]any{"groups": []any{map[string]any{"id": g, "name": "Магазин «Ромашка»", "screen_name": "club" + s.Group}}, "profiles": []any{}})
	case "users.get":
		id, _ := strconv.ParseInt(r.Form.Get("user_ids"), 10, 64)
		vkReply(w, []any{map[string]any{"id": id, "first_name": "Пётр", "last_name": "Иванов"}})
	case "docs.getMessagesUploadServer":
		vkReply(w, map[string]any{"upload_url": s.URL + "/upload/doc"})
	case "docs.save":
		id, _, _ := strings.Cut(r.Form.Get("file"), "|")
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "d"))
		vkReply(w, map[string]any{"type": "doc", "doc": map[string]any{"id": n, "owner_id": 777, "title": r.Form.Get("title"), "url": s.URL + "/files/" + id}})
	case "messages.send":
		if r.Form.Get("random_id") == "" || r.Form.Get("peer_id") == "" {
			vkError(w, 100, "One of the parameters specified was missing or invalid")
			return
		}
		m := VKSent{Peer: r.Form.Get("peer_id"), Text: r.Form.Get("message")}
		if kb := r.Form.Get("keyboard"); kb != "" {
			var k struct {
				Buttons [][]struct {
					Action struct {
						Payload string `json:"payload"`
					} `json:"action"`
				} `json:"buttons"`
			}
			_ = json.Unmarshal([]byte(kb), &k)
			for _, row := range k.Buttons {
				for _, b := range row {
					m.Payloads = append(m.Payloads, b.Action.Payload)
				}
			}
		}
		for _, a := range strings.Split(r.Form.Get("attachment"), ",") {
			if a == "" {
				continue
			}
			id := strings.TrimPrefix(a, "doc777_")
			s.mu.Lock()
			m.Files = append(m.Files, s.files["d"+id])
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.sent = append(s.sent, m)
		n := len(s.sent)
		s.mu.Unlock()
		vkReply(w, n)
	default:
		vkError(w, 3, "Unknown method passed")
	}
}

func (s *VKServer) host(data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("d%d", len(s.files)+1)
	s.files[id] = data
	return id
}

// Sent is everything the community sent, in order.
func (s *VKServer) Sent() []VKSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]VKSent(nil), s.sent...)
}

// Confirm makes the Callback API's confirmation request to callback and
// answers what the server said.
func (s *VKServer) Confirm(t testing.TB, callback string) string {
	return s.post(t, callback, map[string]any{"type": "confirmation", "group_id": s.Group})
}

func (s *VKServer) post(t testing.TB, callback string, ev map[string]any) string {
	b, _ := json.Marshal(ev)
	res, err := http.Post(callback, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

// VKFile is a file a person attaches to a message.
type VKFile struct {
	Name  string
	Data  []byte
	Photo bool
}

// Write posts a message_new event from user to callback, signed with
// secret; payload is a pressed button's. It answers the server's reply.
func (s *VKServer) Write(t testing.TB, callback, secret string, user int64, text, payload string, files ...VKFile) string {
	var atts []any
	for _, f := range files {
		u := s.URL + "/files/" + s.host(f.Data)
		if f.Photo {
			atts = append(atts, map[string]any{"type": "photo", "photo": map[string]any{"id": 1, "owner_id": user,
				"sizes": []any{map[string]any{"type": "s", "url": u + "?s", "width": 75}, map[string]any{"type": "x", "url": u, "width": 604}}}})
		} else {
			atts = append(atts, map[string]any{"type": "doc", "doc": map[string]any{"id": 1, "owner_id": user, "title": f.Name, "size": len(f.Data), "url": u}})
		}
	}
	s.mu.Lock()
	s.eventN++
	n := s.eventN
	s.mu.Unlock()
	msg := map[string]any{"id": n, "date": time.Now().Unix(), "peer_id": user, "from_id": user, "text": text, "attachments": atts, "conversation_message_id": n}
	if payload != "" {
		msg["payload"] = payload
	}
	return s.post(t, callback, map[string]any{"type": "message_new", "event_id": fmt.Sprintf("ev%08d", n), "v": "5.199",
		"object":   map[string]any{"message": msg, "client_info": map[string]any{"keyboard": true, "inline_keyboard": true}},
		"group_id": mustInt(s.Group), "secret": secret})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
