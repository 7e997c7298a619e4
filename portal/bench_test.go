package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// benchPortal is a portal with 10,000 tickets and 100,000 messages (sizes
// from PORTALDESK_BENCH_TICKETS / _MESSAGES), kept in the temporary
// directory between runs because seeding takes about ten seconds.
func benchPortal(b *testing.B) (*pdtest.Env, string) {
	tickets, messages := envInt("PORTALDESK_BENCH_TICKETS", 10000), envInt("PORTALDESK_BENCH_MESSAGES", 100000)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("portaldesk-bench-v%d-%d-%d", portal.SchemaVersion, tickets, messages))
	_, err := os.Stat(filepath.Join(dir, "portals", "bench"))
	fresh := err != nil
	if fresh {
		os.RemoveAll(dir)
	}
	e := pdtest.New(b, provisioner.Config{DataDir: dir})
	if fresh {
		e.Create(b, "bench")
		e.SetPlan(b, "bench", "enterprise", 20, 0, 0)
		e.Portal(b, "bench", func(p *portal.Portal) {
			if err := portal.Seed(context.Background(), p, portal.SeedOptions{Tickets: tickets, Messages: messages, Clients: 500, Operators: 10, Work: 50000}, pdtest.Password); err != nil {
				b.Fatal(err)
			}
		})
	}
	return e, "bench"
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

// cookie signs in over HTTP and returns the session cookie for in-process requests.
func cookie(b *testing.B, e *pdtest.Env, slug, email string) string {
	c := e.SignIn(b, slug, email)
	u, _ := url.Parse(e.URL + "/" + slug + "/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "pd_session" {
			return ck.Name + "=" + ck.Value
		}
	}
	b.Fatal("no session cookie")
	return ""
}

// serve runs requests in process (server time, without the network) and
// reports the median and p99.
func serve(b *testing.B, h http.Handler, mk func(i int) *http.Request, want int) {
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := mk(i)
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, req)
		samples = append(samples, time.Since(t0))
		if w.Code != want {
			b.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body.String())
		}
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds())/1000, "p99-ms")
}

func get(path, cookie string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Cookie", cookie)
	return r
}

// BenchmarkTicketsTable is the operators' table, 50 rows, with one filter at a time.
func BenchmarkTicketsTable(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	for _, q := range []string{"", "status=open", "status=2", "assignee=me", "assignee=none", "priority=urgent", "sort=priority", "page=50", "status=open&priority=high&assignee=none", "unread=1"} {
		b.Run("q="+q, func(b *testing.B) {
			serve(b, e.App, func(int) *http.Request { return get("/"+slug+"/tickets?"+q, ck) }, 200)
		})
	}
}

// BenchmarkTicketsTableSLA is the table with SLA clocks on every open
// ticket (a policy for all), the due times shown in the rows, beside
// BenchmarkTicketsTable without; and a reply, which moves the clocks.
func BenchmarkTicketsTableSLA(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	admin := e.Login(b, slug, "admin@bench.test")
	start := time.Now()
	r := e.API(b, admin, "POST", slug, "/sla-policies", map[string]any{"name": "Bench", "first_response_minutes": 240, "resolution_minutes": 2400})
	if r.Status != 201 {
		b.Fatalf("policy: %d %s", r.Status, r.Body)
	}
	b.Logf("saving the policy set the clocks of every open ticket in %s", time.Since(start))
	b.Cleanup(func() { e.API(b, admin, "DELETE", slug, fmt.Sprintf("/sla-policies/%v", r.JSON(b)["id"]), nil) })
	for _, q := range []string{"", "status=open"} {
		b.Run("q="+q, func(b *testing.B) {
			serve(b, e.App, func(int) *http.Request { return get("/"+slug+"/tickets?"+q, ck) }, 200)
		})
	}
}

// BenchmarkTriggers is an operator's reply with no triggers, and with 100
// active triggers on messages whose conditions are looked at and do not
// hold (the cost every write pays), beside one that tags.
func BenchmarkTriggers(b *testing.B) {
	e, slug := benchPortal(b)
	admin := e.Login(b, slug, "admin@bench.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	reply := func(b *testing.B) {
		serve(b, e.App, func(i int) *http.Request {
			r := httptest.NewRequest("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", slug, 100+i%5000), strings.NewReader(`{"body":"A reply that the triggers look at."}`))
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 201)
	}
	b.Run("triggers=0", reply)
	var ids []any
	for i := 0; i < 100; i++ {
		conds := []any{map[string]any{"field": "body", "op": "contains", "value": fmt.Sprintf("word%d", i)}, map[string]any{"field": "priority", "op": "is", "value": "urgent"}}
		if i == 99 {
			conds = []any{map[string]any{"field": "author", "op": "is", "value": "staff"}}
		}
		r := e.API(b, admin, "POST", slug, "/triggers", map[string]any{"name": fmt.Sprint("T", i), "event": "message", "conditions": conds,
			"actions": []any{map[string]any{"type": "add_tag", "value": "answered"}}})
		if r.Status != 201 {
			b.Fatalf("trigger: %d %s", r.Status, r.Body)
		}
		ids = append(ids, r.JSON(b)["id"])
	}
	b.Cleanup(func() {
		for _, id := range ids {
			e.API(b, admin, "DELETE", slug, fmt.Sprintf("/triggers/%v", id), nil)
		}
	})
	b.Run("triggers=100", reply)
}

// BenchmarkViewCounts is the table's views panel: five built-in views and
// five saved ones, each counted over 10,000 tickets.
func BenchmarkViewCounts(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	var ids []any
	for i, f := range []string{"status=open&priority=high", "priority=urgent", "status=2", "assignee=none&priority=low", "status=closed"} {
		r := e.API(b, tok, "POST", slug, "/views", map[string]any{"name": fmt.Sprint("V", i), "filters": f})
		ids = append(ids, r.JSON(b)["id"])
	}
	b.Cleanup(func() {
		for _, id := range ids {
			e.API(b, tok, "DELETE", slug, fmt.Sprintf("/views/%v", id), nil)
		}
	})
	serve(b, e.App, func(int) *http.Request { return get("/"+slug+"/views/counts", ck) }, 200)
}

// BenchmarkKnowledgeBase is the public article page (no account) and the
// search, over 2,000 published articles.
func BenchmarkKnowledgeBase(b *testing.B) {
	e, slug := benchPortal(b)
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	n := len(e.API(b, tok, "GET", slug, "/kb/articles", nil).JSON(b)["articles"].([]any))
	words := []string{"printer", "invoice", "delivery", "password", "warranty", "router", "scanner", "refund"}
	for i := n; i < 2000; i++ {
		body := fmt.Sprintf("# How to fix the %s\n\nStep one: check the %s. Step two: restart the %s and wait a minute.\n\n- keep the receipt\n- call us if it fails",
			words[i%len(words)], words[(i+3)%len(words)], words[(i+5)%len(words)])
		r := e.API(b, tok, "POST", slug, "/kb/articles", map[string]any{"title": fmt.Sprintf("%s question %d", words[i%len(words)], i), "body": body, "published": true})
		if r.Status != 201 {
			b.Fatalf("article: %d %s", r.Status, r.Body)
		}
	}
	b.Run("article", func(b *testing.B) {
		serve(b, e.App, func(i int) *http.Request {
			return get(fmt.Sprintf("/%s/help/%s-question-%d", slug, words[(i%2000)%len(words)], i%2000), "")
		}, 200)
	})
	b.Run("index", func(b *testing.B) {
		serve(b, e.App, func(int) *http.Request { return get("/"+slug+"/help", "") }, 200)
	})
	b.Run("search", func(b *testing.B) {
		serve(b, e.App, func(i int) *http.Request {
			return get(fmt.Sprintf("/%s/api/v1/kb/search?q=%s", slug, words[i%len(words)]), "")
		}, 200)
	})
}

// BenchmarkCannedSearch is the reply box's "/" picker as one types: a few
// letters over 500 canned replies (shared ones and the operator's own, in
// two languages), narrowed to the ticket's client's language.
func BenchmarkCannedSearch(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	admin := e.Login(b, slug, "admin@"+slug+".test")
	words := []string{"printer", "invoice", "delivery", "password", "warranty", "router", "scanner", "refund"}
	made := len(e.API(b, tok, "GET", slug, "/canned-replies?q=answer+499", nil).JSON(b)["replies"].([]any)) > 0 // a kept portal has them
	for i := 0; i < 500 && !made; i++ {
		who, shared := tok, false
		if i%2 == 0 {
			who, shared = admin, true
		}
		lang := []string{"", "en", "ru"}[i%3]
		r := e.API(b, who, "POST", slug, "/canned-replies", map[string]any{"title": fmt.Sprintf("%s answer %d", words[i%len(words)], i), "folder": words[(i+3)%len(words)],
			"body": fmt.Sprintf("Hello, {client.first_name}! About your %s: please check the %s and tell us.", words[i%len(words)], words[(i+5)%len(words)]), "shared": shared, "lang": lang})
		if r.Status != 201 {
			b.Fatalf("canned reply: %d %s", r.Status, r.Body)
		}
	}
	serve(b, e.App, func(i int) *http.Request {
		return get(fmt.Sprintf("/%s/canned/search?ticket=777&q=%s", slug, words[i%len(words)][:3]), ck)
	}, 200)
}

// BenchmarkSearch is full-text search over subjects, descriptions and messages.
func BenchmarkSearch(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	words := []string{"printer", "invoice+payment", "wifi", "срочно", "pass"}
	serve(b, e.App, func(i int) *http.Request { return get("/"+slug+"/tickets?q="+words[i%len(words)], ck) }, 200)
}

// BenchmarkTicketPage is a ticket with 30 messages, as an operator sees it.
func BenchmarkTicketPage(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	n := 777
	msgs := e.API(b, tok, "GET", slug, fmt.Sprintf("/tickets/%d/messages", n), nil).JSON(b)["messages"].([]any)
	for i := len(msgs); i < 30; i++ {
		e.API(b, tok, "POST", slug, fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Padding the ticket to thirty messages for the benchmark."})
	}
	serve(b, e.App, func(int) *http.Request { return get(fmt.Sprintf("/%s/tickets/%d", slug, n), ck) }, 200)
}

// BenchmarkTicketPageSplit is the same page for an operator who sees the
// open tickets' list beside it (the split view): the list is the table's
// query, once more.
func BenchmarkTicketPageSplit(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "seed-operator-0@example.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	e.API(b, tok, "PUT", slug, "/me/list-mode", map[string]any{"mode": "split"})
	n := 777
	msgs := e.API(b, tok, "GET", slug, fmt.Sprintf("/tickets/%d/messages", n), nil).JSON(b)["messages"].([]any)
	for i := len(msgs); i < 30; i++ {
		e.API(b, tok, "POST", slug, fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Padding the ticket to thirty messages for the benchmark."})
	}
	serve(b, e.App, func(int) *http.Request {
		r := get(fmt.Sprintf("/%s/tickets/%d", slug, n), ck)
		r.AddCookie(&http.Cookie{Name: "pd_list", Value: "status%3Dopen"})
		return r
	}, 200)
}

// BenchmarkPostMessage is an operator's reply through the API.
func BenchmarkPostMessage(b *testing.B) {
	e, slug := benchPortal(b)
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	serve(b, e.App, func(i int) *http.Request {
		r := httptest.NewRequest("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", slug, 1+i%9000), strings.NewReader(`{"body":"Thank you, we are looking into it."}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		return r
	}, 201)
}

// BenchmarkMailWorker delivers b.N queued messages to a real SMTP server on
// loopback (STARTTLS, AUTH), in batches over one connection each.
func BenchmarkMailWorker(b *testing.B) {
	srv := pdtest.StartSMTP(b)
	e := pdtest.New(b, provisioner.Config{SMTPURL: srv.URL()})
	e.Create(b, "postbox")
	e.AddUser(b, "postbox", "client@postbox.test", "Carl", portal.RoleClient)
	e.Svc.Mailer().Stop() // deliver only when timed
	cli := e.Login(b, "postbox", "client@postbox.test")
	admin := e.Login(b, "postbox", "admin@postbox.test")
	n := int64(e.API(b, cli, "POST", "postbox", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}}).JSON(b)["number"].(float64))
	e.Svc.Mailer().Deliver(context.Background(), "postbox")
	before := len(srv.Received())
	for i := 0; i < b.N; i++ {
		if r := e.API(b, admin, "POST", "postbox", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Reply number " + strconv.Itoa(i)}); r.Status != 201 {
			b.Fatal(r.Status)
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	if err := e.Svc.Mailer().Deliver(context.Background(), "postbox"); err != nil {
		b.Fatal(err)
	}
	el := time.Since(t0)
	b.StopTimer()
	if got := len(srv.Received()) - before; got != b.N {
		b.Fatalf("delivered %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

// BenchmarkPostNote is BenchmarkPostMessage without mail: the difference is
// what queueing a notification adds to the request.
func BenchmarkPostNote(b *testing.B) {
	e, slug := benchPortal(b)
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	serve(b, e.App, func(i int) *http.Request {
		r := httptest.NewRequest("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", slug, 1+i%9000), strings.NewReader(`{"body":"Internal: checking the logs.","internal":true}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		return r
	}, 201)
}

// BenchmarkStatistics is the admin's statistics page for a whole year.
func BenchmarkStatistics(b *testing.B) {
	e, slug := benchPortal(b)
	ck := cookie(b, e, slug, "admin@bench.test")
	to := time.Now().UTC().Format("2006-01-02")
	from := time.Now().UTC().AddDate(-1, 0, 1).Format("2006-01-02")
	serve(b, e.App, func(int) *http.Request { return get("/"+slug+"/stats?by=week&from="+from+"&to="+to, ck) }, 200)
}

// BenchmarkLabourReport is the labour-cost report for a whole year (50,000 work entries).
func BenchmarkLabourReport(b *testing.B) {
	e, slug := benchPortal(b)
	tok := e.Login(b, slug, "admin@bench.test")
	to := time.Now().UTC().Format("2006-01-02")
	from := time.Now().UTC().AddDate(-1, 0, 1).Format("2006-01-02")
	serve(b, e.App, func(int) *http.Request {
		r := httptest.NewRequest("GET", "/"+slug+"/api/v1/reports/labour?from="+from+"&to="+to, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}, 200)
}

// BenchmarkCreateTicketTenStaff opens tickets through the API, 4 clients
// at once, on a portal whose ten staff are all told of each new ticket by
// mail, delivered to a real SMTP server on loopback while the tickets come:
// tickets/s including their mail, until every mail is delivered.
func BenchmarkCreateTicketTenStaff(b *testing.B) {
	srv := pdtest.StartSMTP(b)
	e := pdtest.New(b, provisioner.Config{SMTPURL: srv.URL()})
	e.Create(b, "ten")
	e.SetPlan(b, "ten", "enterprise", 20, 0, 0)
	for i := 0; i < 9; i++ {
		e.AddUser(b, "ten", fmt.Sprintf("op%d@ten.test", i), fmt.Sprintf("Op%d", i), portal.RoleOperator)
	}
	admin := e.Login(b, "ten", "admin@ten.test")
	if r := e.API(b, admin, "PATCH", "ten", "/settings", map[string]any{"notify_new_ticket": "all"}); r.Status != 200 {
		b.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	var toks [4]string
	for i := range toks {
		e.AddUser(b, "ten", fmt.Sprintf("c%d@ten.test", i), fmt.Sprintf("Client%d", i), portal.RoleClient)
		toks[i] = e.Login(b, "ten", fmt.Sprintf("c%d@ten.test", i))
	}
	e.Svc.Mailer().Deliver(context.Background(), "ten")
	before := len(srv.Received())
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				r := e.API(b, toks[w], "POST", "ten", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Printer %d", i), "description": "It jams."}})
				if r.Status != 201 {
					b.Errorf("create: %d %s", r.Status, r.Body)
				}
			}
		}(w)
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	created := time.Since(t0)
	for len(srv.Received())-before < 10*b.N {
		if time.Since(t0) > 2*time.Minute {
			b.Fatalf("%d of %d mails delivered", len(srv.Received())-before, 10*b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/created.Seconds(), "tickets/s")
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "tickets-delivered/s")
}

// BenchmarkWebhookQueue is an operator's reply with no webhook endpoint,
// and with one that asks for messages: the difference is what queueing a
// delivery adds to the write (its ticket read, its payload, its row). The
// mailer is stopped, so nothing is sent anywhere.
func BenchmarkWebhookQueue(b *testing.B) {
	e, slug := benchPortal(b)
	e.Svc.Mailer().Stop()
	admin := e.Login(b, slug, "admin@bench.test")
	tok := e.Login(b, slug, "seed-operator-0@example.test")
	reply := func(b *testing.B) {
		serve(b, e.App, func(i int) *http.Request {
			r := httptest.NewRequest("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", slug, 100+i%5000), strings.NewReader(`{"body":"A reply an integration hears of."}`))
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 201)
	}
	b.Run("endpoints=0", reply)
	r := e.API(b, admin, "POST", slug, "/webhooks", map[string]any{"url": "https://crm.example.com/portaldesk", "events": []string{"message.created"}})
	if r.Status != 201 {
		b.Fatalf("endpoint: %d %s", r.Status, r.Body)
	}
	b.Cleanup(func() { e.API(b, admin, "DELETE", slug, fmt.Sprintf("/webhooks/%v", r.JSON(b)["id"]), nil) }) // its queued deliveries with it
	b.Run("endpoints=1", reply)
}

// BenchmarkWebhookDelivery sends queued deliveries to a receiver on
// loopback, as the service's worker does: signed, each its own POST, the
// results written in one transaction a round.
func BenchmarkWebhookDelivery(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer rc.Close()
	e := pdtest.New(b, provisioner.Config{WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e.Create(b, "hooks")
	e.SetPlan(b, "hooks", "business", 5, 0, 0)
	e.Svc.Mailer().Stop()
	admin := e.Login(b, "hooks", "admin@hooks.test")
	r := e.API(b, admin, "POST", "hooks", "/webhooks", map[string]any{"url": rc.URL + "/in", "events": []string{"ticket.created"}})
	if r.Status != 201 {
		b.Fatalf("endpoint: %d %s", r.Status, r.Body)
	}
	for i := 0; i < b.N; i++ {
		if r := e.API(b, admin, "POST", "hooks", fmt.Sprintf("/webhooks/%v/test", r.JSON(b)["id"]), nil); r.Status != 202 {
			b.Fatalf("queue: %d %s", r.Status, r.Body)
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	e.Portal(b, "hooks", func(p *portal.Portal) {
		for {
			next, err := p.DeliverWebhooks(context.Background(), e.Svc.Hooks())
			if err != nil {
				b.Fatal(err)
			}
			if next.IsZero() {
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "deliveries/s")
}
