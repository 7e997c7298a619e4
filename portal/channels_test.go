package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// chatWorld is alpha and beta with the messengers' servers on loopback.
type chatWorld struct {
	*world
	tg *pdtest.TelegramServer
	vk *pdtest.VKServer
}

func newChatWorld(t *testing.T) *chatWorld {
	tg, vk := pdtest.StartTelegram(t), pdtest.StartVK(t)
	e := pdtest.New(t, provisioner.Config{TelegramAPI: tg.URL, VKAPI: vk.URL, TelegramPollWait: 200 * time.Millisecond})
	return &chatWorld{world: worldOn(t, e), tg: tg, vk: vk}
}

// round asks Telegram for what waits, then runs alpha's worker: updates
// applied, chat messages and mail sent.
func (c *chatWorld) round(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.e.Svc.PollTelegram(ctx, "alpha", 0); err != nil && !strings.Contains(err.Error(), "not polled") {
		t.Fatal(err)
	}
	if err := c.e.Svc.Mailer().Deliver(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
}

// sentSince is what the bot sent after the first n.
func sentSince(tg *pdtest.TelegramServer, n int) []pdtest.TGSent { return tg.Sent()[n:] }

// TestTelegramRoundTrip: a bot connected by its token (a wrong one refused
// at its field); a stranger's message becomes a ticket of a client made
// from their profile, the ticket's number comes back in the chat; a photo
// and a document arrive as the message's files; the operator's answer and
// its file arrive in the chat, an internal note never does; closing the
// ticket asks for a rating with five buttons, pressing one rates it; the
// same update posted twice is applied once; "/email" links the chat to a
// client's account after they confirm, their tickets go with it, and a
// reply by email reaches their mailbox instead; another portal reaches
// none of it.
func TestTelegramRoundTrip(t *testing.T) {
	c := newChatWorld(t)
	w, tg := c.world, c.tg
	fieldErr(t, "a malformed token", w.api(t, w.admin, "PUT", "/channels/telegram", map[string]any{"token": "not a token"}), "token")
	fieldErr(t, "a token Telegram refuses", w.api(t, w.admin, "PUT", "/channels/telegram", map[string]any{"token": "987654321:AAEwrongTokenWrongTokenWrongToken"}), "token")
	if r := w.api(t, w.op, "PUT", "/channels/telegram", map[string]any{"token": tg.Token}); r.Status != 403 {
		t.Fatalf("an operator connected a bot: %d", r.Status)
	}
	r := w.api(t, w.admin, "PUT", "/channels/telegram", map[string]any{"token": tg.Token})
	if r.Status != 200 || r.JSON(t)["account"] != "@shop_help_bot" || r.JSON(t)["mode"] != "poll" || strings.Contains(r.Body, tg.Token) {
		t.Fatalf("connect: %d %s", r.Status, r.Body)
	}
	if strings.Contains(w.api(t, w.admin, "GET", "/channels", nil).Body, tg.Token) {
		t.Fatal("the token is shown")
	}

	ivan := pdtest.TGUser{ID: 4242, FirstName: "Иван", LastName: "Петров", Username: "ivanp"}
	tg.Write(t, ivan, "/start")
	tg.Write(t, ivan, "Принтер не печатает\nОшибка E-17")
	before := len(tg.Sent())
	c.round(t)
	list := w.api(t, w.admin, "GET", "/tickets?q=E-17", nil).JSON(t)["tickets"].([]any)
	if len(list) != 1 {
		t.Fatalf("the message did not become a ticket: %d", len(list))
	}
	tk := list[0].(map[string]any)
	number := int64(tk["number"].(float64))
	if tk["subject"] != "Принтер не печатает" || tk["source"] != "telegram" || tk["channel"] != "telegram" || tk["client"].(map[string]any)["name"] != "Иван Петров" {
		t.Fatalf("the ticket: %v", tk)
	}
	sent := sentSince(tg, before)
	if len(sent) != 2 || !strings.Contains(sent[0].Text, "/email") || !strings.Contains(sent[1].Text, fmt.Sprintf("#%d", number)) || sent[1].Chat != "4242" {
		t.Fatalf("the chat was not greeted and told the number: %+v", tg.Sent())
	}

	// Files from the chat: a photo (its largest size) and a document.
	photo := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 300)
	tg.SendPhoto(t, ivan, photo, "вот фото")
	tg.SendDocument(t, ivan, "акт.pdf", []byte("%PDF-1.4 test"), "")
	c.round(t)
	tv := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d", number), nil).JSON(t)
	atts := tv["attachments"].([]any)
	if len(atts) != 2 || atts[0].(map[string]any)["size"].(float64) != float64(len(photo)) || atts[1].(map[string]any)["name"] != "акт.pdf" {
		t.Fatalf("the chat's files: %v", atts)
	}

	// The operator answers with a file; a note stays inside.
	before = len(tg.Sent())
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	res := pdtest.Do(t, op, "POST", w.e.URL+fmt.Sprintf("/alpha/tickets/%d/messages", number), pdtest.Multipart{
		Fields: map[string]string{"body": "Замените картридж, инструкция во вложении."},
		Files:  map[string][]pdtest.File{"files": {{Name: "howto.txt", Data: []byte("1. Откройте крышку.")}}}})
	if res.Status != 303 {
		t.Fatalf("reply: %d %s", res.Status, res.Body)
	}
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", number), map[string]any{"body": "SECRET: client owes money", "internal": true})
	c.round(t)
	sent = sentSince(tg, before)
	if len(sent) != 2 || !strings.Contains(sent[0].Text, "Замените картридж") || !strings.HasPrefix(sent[0].Text, "Oleg") ||
		sent[1].Method != "sendDocument" || string(sent[1].File) != "1. Откройте крышку." || sent[1].FileName != "howto.txt" {
		t.Fatalf("the answer in the chat: %+v", sent)
	}
	for _, m := range tg.Sent() {
		if strings.Contains(m.Text, "SECRET") {
			t.Fatal("an internal note reached the chat")
		}
	}
	page := pdtest.Do(t, op, "GET", w.e.URL+fmt.Sprintf("/alpha/tickets/%d", number), nil).Body
	if !strings.Contains(page, `name="via"`) || !strings.Contains(page, "writes in Telegram") {
		t.Fatal("the ticket page does not show the channel or offer mail instead")
	}

	// The same update twice (Telegram retries a webhook it thinks failed):
	// applied once. Posted to the hook with the bot's secret; a wrong
	// secret is refused.
	var secret string
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		_ = p.DB.Writer().QueryRowContext(t.Context(), "SELECT secret FROM channels WHERE kind = 'telegram'").Scan(&secret)
	})
	hook := w.e.URL + "/alpha/api/v1/channels/telegram/hook"
	upd := fmt.Sprintf(`{"update_id":90001,"message":{"message_id":9,"date":1,"from":{"id":4242,"is_bot":false,"first_name":"Иван"},"chat":{"id":4242,"type":"private"},"text":"Ещё вопрос про E-17"}}`)
	if r := pdtest.Do(t, nil, "POST", hook, rawJSON(upd), "X-Telegram-Bot-Api-Secret-Token", "wrong"); r.Status != 401 {
		t.Fatalf("a wrong secret: %d", r.Status)
	}
	for range 2 {
		if r := pdtest.Do(t, nil, "POST", hook, rawJSON(upd), "X-Telegram-Bot-Api-Secret-Token", secret); r.Status != 200 {
			t.Fatalf("the hook: %d %s", r.Status, r.Body)
		}
	}
	c.round(t)
	msgs := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/messages", number), nil).Body
	if strings.Count(msgs, "Ещё вопрос про E-17") != 1 {
		t.Fatal("the same update was applied twice (or not at all)")
	}
	if r := w.e.API(t, w.betaAdmin, "GET", "beta", "/channels", nil); strings.Contains(r.Body, "shop_help_bot") {
		t.Fatal("beta sees alpha's bot")
	}
	if r := pdtest.Do(t, nil, "POST", w.e.URL+"/beta/api/v1/channels/telegram/hook", rawJSON(upd), "X-Telegram-Bot-Api-Secret-Token", secret); r.Status != 401 {
		t.Fatalf("alpha's secret opened beta's hook: %d", r.Status)
	}

	// Closed: the rating's five buttons; a press rates the ticket.
	before = len(tg.Sent())
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", number), map[string]any{"status": "Closed"})
	c.round(t)
	sent = sentSince(tg, before)
	if len(sent) != 1 || len(sent[0].Buttons) != 5 || sent[0].Buttons[4] != fmt.Sprintf("rate:%d:5", number) {
		t.Fatalf("the rating request: %+v", sent)
	}
	tg.Press(t, ivan, sent[0].Buttons[4])
	c.round(t)
	tv, _ = w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/rating", number), nil).JSON(t)["rating"].(map[string]any)
	if tv["score"] != float64(5) || len(tg.Answered()) != 1 {
		t.Fatalf("the rating: %v, answered %v", tv, tg.Answered())
	}

	// Linking: "/email" mails the client a link; confirmed, the chat and
	// its tickets are theirs.
	tg.Write(t, ivan, "/email ca@alpha.test")
	c.round(t)
	var link string
	for _, m := range w.e.Mails(t, "alpha") {
		if strings.Contains(m, "<ca@alpha.test>") && strings.Contains(m, "chat-link?t=") {
			plain := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(m) // quoted-printable
			link = regexp.MustCompile(`https?://\S+chat-link\?t=\S+`).FindString(plain)
		}
	}
	if link == "" {
		t.Fatal("no link was mailed to the client")
	}
	u, _ := url.Parse(link)
	if r := pdtest.Do(t, nil, "GET", w.e.URL+u.Path+"?"+u.RawQuery, nil); r.Status != 200 || !strings.Contains(r.Body, `name="t"`) {
		t.Fatalf("the link's page: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "POST", w.e.URL+u.Path, url.Values{"t": {u.Query().Get("t") + "x"}}); r.Status != 422 {
		t.Fatalf("a forged link: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "POST", w.e.URL+u.Path, url.Values{"t": {u.Query().Get("t")}}); r.Status != 303 {
		t.Fatalf("linking: %d %s", r.Status, r.Body)
	}
	mine := w.api(t, w.ca, "GET", "/tickets?status=closed", nil).Body
	if !strings.Contains(mine, "Принтер не печатает") {
		t.Fatal("the chat's ticket did not go to the client")
	}
	tg.Write(t, ivan, "Новая проблема: сканер")
	c.round(t)
	t2 := w.api(t, w.ca, "GET", "/tickets?q=сканер", nil).JSON(t)["tickets"].([]any)
	if len(t2) != 1 {
		t.Fatal("the linked chat's new message is not the client's ticket")
	}
	n2 := int64(t2[0].(map[string]any)["number"].(float64))
	before = len(tg.Sent())
	mails := len(w.e.Mails(t, "alpha"))
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n2), map[string]any{"body": "Ответ письмом", "via": "email"})
	c.round(t)
	if len(sentSince(tg, before)) != 0 || len(w.e.Mails(t, "alpha")) != mails+1 {
		t.Fatal("a reply by email went to the chat, or not by mail")
	}
	fieldErr(t, "a bad via", w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n2), map[string]any{"body": "x", "via": "pigeon"}), "via")

	// Disconnected: nothing more is taken.
	if r := w.api(t, w.admin, "DELETE", "/channels/telegram", nil); r.Status != 204 {
		t.Fatalf("disconnect: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "POST", hook, rawJSON(upd), "X-Telegram-Bot-Api-Secret-Token", secret); r.Status != 401 {
		t.Fatalf("a disconnected bot's hook: %d", r.Status)
	}
}

// rawJSON is a body sent as it is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestVKRoundTrip: a community connected with its key, id and confirmation
// string; VK's confirmation handshake answered; events without the secret
// refused; a message with a document becomes a ticket of a client named
// by users.get; the operator's answer and file arrive (the file uploaded
// to VK first), a note never; closing asks for a rating with buttons whose
// payload rates the ticket.
func TestVKRoundTrip(t *testing.T) {
	c := newChatWorld(t)
	w, vk := c.world, c.vk
	fieldErr(t, "no community id", w.api(t, w.admin, "PUT", "/channels/vk", map[string]any{"token": vk.Token, "confirmation": "abc123"}), "group")
	fieldErr(t, "a wrong key", w.api(t, w.admin, "PUT", "/channels/vk", map[string]any{"token": "vk1.a.wrongwrongwrongwrongwrong", "group": vk.Group, "confirmation": "abc123"}), "token")
	r := w.api(t, w.admin, "PUT", "/channels/vk", map[string]any{"token": vk.Token, "group": vk.Group, "confirmation": "abc123"})
	if r.Status != 200 || r.JSON(t)["account"] != "Магазин «Ромашка»" || r.JSON(t)["secret"] == "" {
		t.Fatalf("connect: %d %s", r.Status, r.Body)
	}
	ch := r.JSON(t)
	callback, secret := ch["hook"].(string), ch["secret"].(string)
	callback = w.e.URL + callback[strings.Index(callback, "/alpha/"):]
	if got := vk.Confirm(t, callback); got != "abc123" {
		t.Fatalf("the confirmation: %q", got)
	}
	if got := vk.Write(t, callback, "wrong", 555, "hi", ""); strings.Contains(got, "ok") {
		t.Fatal("an event without the secret was taken")
	}
	if got := vk.Write(t, callback, secret, 555, "Не работает доставка", "", pdtest.VKFile{Name: "чек.pdf", Data: []byte("%PDF receipt")}); got != "ok" {
		t.Fatalf("an event: %q", got)
	}
	c.round(t)
	list := w.api(t, w.admin, "GET", "/tickets?q=доставка", nil).JSON(t)["tickets"].([]any)
	if len(list) != 1 {
		t.Fatal("the VK message did not become a ticket")
	}
	tk := list[0].(map[string]any)
	number := int64(tk["number"].(float64))
	if tk["source"] != "vk" || tk["client"].(map[string]any)["name"] != "Пётр Иванов" {
		t.Fatalf("the ticket: %v", tk)
	}
	atts := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d", number), nil).JSON(t)["attachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["name"] != "чек.pdf" {
		t.Fatalf("the file: %v", atts)
	}
	before := len(vk.Sent())
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	pdtest.Do(t, op, "POST", w.e.URL+fmt.Sprintf("/alpha/tickets/%d/messages", number), pdtest.Multipart{
		Fields: map[string]string{"body": "Курьер приедет завтра."}, Files: map[string][]pdtest.File{"files": {{Name: "маршрут.txt", Data: []byte("улица Ленина, 1")}}}})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", number), map[string]any{"body": "SECRET note", "internal": true})
	c.round(t)
	sent := vk.Sent()[before:]
	if len(sent) != 1 || sent[len(sent)-1].Text != "Oleg:\nКурьер приедет завтра." || len(sent[len(sent)-1].Files) != 1 || string(sent[len(sent)-1].Files[0]) != "улица Ленина, 1" || sent[len(sent)-1].Peer != "555" {
		t.Fatalf("the answer in VK: %+v", sent)
	}
	for _, m := range vk.Sent() {
		if strings.Contains(m.Text, "SECRET") {
			t.Fatal("an internal note reached VK")
		}
	}
	before = len(vk.Sent())
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", number), map[string]any{"status": "Closed"})
	c.round(t)
	sent = vk.Sent()[before:]
	if len(sent) != 1 || len(sent[0].Payloads) != 5 {
		t.Fatalf("the rating request: %+v", sent)
	}
	vk.Write(t, callback, secret, 555, "★★★★", sent[0].Payloads[3])
	c.round(t)
	if got, _ := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/rating", number), nil).JSON(t)["rating"].(map[string]any); got["score"] != float64(4) {
		t.Fatalf("the rating: %v", got)
	}
}
