package portal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// BenchmarkChatToTicket is a Telegram message from a new person, from the
// moment the service receives it (posted to the bot's hook) until it is a
// ticket with its client and the chat is told its number: the hook's
// request, then the portal's worker round (the update applied, staff
// mailed, the answer sent to the Bot API on loopback).
func BenchmarkChatToTicket(b *testing.B) {
	tg := pdtest.StartTelegram(b)
	e := pdtest.New(b, provisioner.Config{TelegramAPI: tg.URL})
	// An hour passes every 150 people: the portal takes at most 200 new
	// people from its chats an hour.
	clk := &clock{t: time.Now()}
	e.Svc.SetClock(clk.Now)
	e.Create(b, "alpha")
	e.SetPlan(b, "alpha", "business", 5, 0, 0)
	admin := e.Login(b, "alpha", "admin@alpha.test")
	if r := e.API(b, admin, "PUT", "alpha", "/channels/telegram", map[string]any{"token": tg.Token}); r.Status != 200 {
		b.Fatal(r.Body)
	}
	var secret string
	e.Portal(b, "alpha", func(p *portal.Portal) {
		_ = p.DB.Writer().QueryRowContext(context.Background(), "SELECT secret FROM channels").Scan(&secret)
	})
	hook := e.URL + "/alpha/api/v1/channels/telegram/hook"
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if i%150 == 149 {
			clk.Add(time.Hour)
		}
		upd := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1,"from":{"id":%d,"is_bot":false,"first_name":"Гость %d"},"chat":{"id":%d,"type":"private"},"text":"Вопрос номер %d"}}`,
			1000+i, i, 70000+i, i, 70000+i, i)
		if r := pdtest.Do(b, nil, "POST", hook, rawJSON(upd), "X-Telegram-Bot-Api-Secret-Token", secret); r.Status != 200 {
			b.Fatal(r.Status, r.Body)
		}
		if err := e.Svc.Mailer().Deliver(ctx, "alpha"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(tg.Sent()); n < b.N {
		b.Fatalf("%d chats told of %d tickets", n, b.N)
	}
}
