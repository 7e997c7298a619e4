package portal

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SeedOptions says how much realistic data Seed adds to a portal.
type SeedOptions struct {
	Tickets   int
	Messages  int // in all, spread over the tickets
	Clients   int
	Operators int
	Work      int // work entries, spread over the tickets
	Rand      *rand.Rand
}

var seedWords = strings.Fields(`printer scanner invoice payment delivery order account password login error screen
laptop network wifi email server backup update install license refund warranty contract report export import
database invoice office phone call meeting access permission folder file upload download slow broken urgent
please thanks hello help cannot works again yesterday today tomorrow morning evening customer manager support
Принтер счёт оплата доставка заказ пароль ошибка сеть почта договор возврат гарантия спасибо срочно`)

// vocabulary is the seed words followed by a few thousand made-up ones, so
// that, as in real text, a few words are everywhere and most are rare.
var vocabulary = func() []string {
	v := append([]string(nil), seedWords...)
	syl := strings.Fields("ka ro mi te su lan per dor vi ne tos gra fel mon bri cha")
	r := rand.New(rand.NewSource(7))
	for len(v) < 5000 {
		n := 2 + r.Intn(3)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(syl[r.Intn(len(syl))])
		}
		v = append(v, b.String())
	}
	return v
}()

func seedText(r *rand.Rand, n int) string {
	z := rand.NewZipf(r, 1.1, 8, uint64(len(vocabulary)-1))
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[z.Uint64()]
	}
	s := strings.Join(w, " ")
	first, size := utf8.DecodeRuneInString(s) // a Cyrillic capital is two bytes
	return string(unicode.ToUpper(first)) + s[size:] + "."
}

// Seed fills a portal with clients, operators, tickets and messages, in
// large transactions, for benchmarks and demos. Passwords are Password.
func Seed(ctx context.Context, p *Portal, o SeedOptions, password string) error {
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewSource(1))
	}
	r := o.Rand
	o.Clients, o.Operators = max(o.Clients, 1), max(o.Operators, 1)
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := p.Now().Unix()
	var clients, staff []int64
	err = p.Tx(ctx, func(tp *Portal) error {
		for i := 0; i < o.Operators+o.Clients; i++ {
			role, kind := RoleOperator, "operator"
			if i >= o.Operators {
				role, kind = RoleClient, "client"
			}
			u := &User{Email: fmt.Sprintf("seed-%s-%d@example.test", kind, i), Name: strings.Title(seedWords[r.Intn(40)]), Surname: fmt.Sprintf("%s %d", kind, i), Role: role}
			if err := tp.InsertUser(ctx, u, hash); err != nil {
				if err == ErrEmailTaken {
					continue
				}
				return err
			}
			if role == RoleClient {
				clients = append(clients, u.ID)
			} else {
				staff = append(staff, u.ID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	if len(clients) == 0 || len(staff) == 0 {
		return fmt.Errorf("seed: the portal was seeded already")
	}
	sts, err := p.Statuses(ctx)
	if err != nil {
		return err
	}
	perTicket := 0
	if o.Tickets > 0 {
		perTicket = o.Messages / o.Tickets
	}
	extra := o.Messages - perTicket*o.Tickets
	const batch = 500
	for start := 0; start < o.Tickets; start += batch {
		err := p.Tx(ctx, func(tp *Portal) error {
			for i := start; i < min(start+batch, o.Tickets); i++ {
				created := now - int64(o.Tickets-i)*600 - int64(r.Intn(600))
				st := sts[r.Intn(len(sts))]
				client := clients[r.Intn(len(clients))]
				var assignee any
				if r.Intn(4) > 0 {
					assignee = staff[r.Intn(len(staff))]
				}
				var closed any
				if st.Closed {
					closed = created + 3600
				}
				n := perTicket
				if i < extra {
					n++
				}
				res, err := tp.q.Exec(ctx, `INSERT INTO tickets (subject, description, client_id, assignee_id, status_id, priority, created_at, updated_at, closed_at, last_activity_at, messages, first_response_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					seedText(r, 3+r.Intn(5)), seedText(r, 20+r.Intn(40)), client, assignee, st.ID, r.Intn(4), created, created, closed, created+int64(n)*60, n, created+300)
				if err != nil {
					return err
				}
				id, _ := res.LastInsertId()
				for m := 0; m < n; m++ {
					author, kind := client, KindMessage
					if m%2 == 1 {
						author = staff[r.Intn(len(staff))]
						if r.Intn(5) == 0 {
							kind = KindNote
						}
					}
					if _, err := tp.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?)",
						id, author, kind, seedText(r, 8+r.Intn(30)), created+int64(m+1)*60); err != nil {
						return err
					}
				}
				if err := tp.indexConversation(ctx, id); err != nil {
					return err
				}
				if err := tp.indexNotes(ctx, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed tickets: %w", err)
		}
	}
	if o.Work > 0 {
		if err := seedWork(ctx, p, o, staff, now); err != nil {
			return fmt.Errorf("seed work: %w", err)
		}
	}
	_, err = p.DB.Writer().ExecContext(ctx, "PRAGMA optimize")
	return err
}

func seedWork(ctx context.Context, p *Portal, o SeedOptions, staff []int64, now int64) error {
	r := o.Rand
	var types []int64
	var prices []int64
	for i, name := range []string{"Consultation", "Remote session", "On-site visit", "Cartridge", "Setup"} {
		price := int64(500_00 + i*350_00)
		res, err := p.q.Exec(ctx, "INSERT INTO work_types (name, unit, price) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", name, []string{UnitHour, UnitHour, UnitHour, UnitPiece, UnitPiece}[i], price)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		types, prices = append(types, id), append(prices, price)
	}
	var maxTicket int64
	if err := p.q.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM tickets").Scan(&maxTicket); err != nil || maxTicket == 0 {
		return err
	}
	const batch = 2000
	for start := 0; start < o.Work; start += batch {
		err := p.Tx(ctx, func(tp *Portal) error {
			var first, last int64
			for i := start; i < min(start+batch, o.Work); i++ {
				k := r.Intn(len(types))
				qty := int64(250 * (1 + r.Intn(16)))
				day := now/86400 - int64(r.Intn(365))
				ticket := 1 + r.Int63n(maxTicket)
				res, err := tp.q.Exec(ctx, `INSERT INTO work_entries (ticket_id, operator_id, client_id, work_type_id, quantity, price, cost, day, comment, visible, created_at)
					VALUES (?, ?, (SELECT client_id FROM tickets WHERE id = ?), ?, ?, ?, ?, ?, '', ?, ?)`, ticket, staff[r.Intn(len(staff))], ticket, types[k], qty, prices[k], Cost(prices[k], qty), day, r.Intn(2), day*86400)
				if err != nil {
					return err
				}
				last, _ = res.LastInsertId()
				if first == 0 {
					first = last
				}
			}
			if _, err := tp.q.Exec(ctx, `UPDATE tickets SET work = (SELECT COUNT(*) FROM work_entries WHERE ticket_id = tickets.id)
				WHERE id IN (SELECT ticket_id FROM work_entries WHERE id BETWEEN ? AND ?)`, first, last); err != nil {
				return err
			}
			return tp.workMonth(ctx, 1, "w.id BETWEEN ? AND ?", first, last)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
