package portal

import (
	"context"
	"fmt"
)

// The search index and the monthly work totals are derived from tickets,
// messages and work entries. The code that writes those keeps them, in the
// same transaction, rather than six triggers: SQLite parses every trigger
// of a database each time it opens it, and a closed portal is opened on
// many requests (migration 0006 dropped them).
//
// A ticket has two search documents: its conversation at rowid 2n —
// subject, description, questionnaire answers and messages, which its
// client may search — and
// its internal notes at 2n+1, which only staff searches reach.

// indexConversation writes ticket n's conversation document.
func (p *Portal) indexConversation(ctx context.Context, n int64) error {
	if _, err := p.q.Exec(ctx, "DELETE FROM search WHERE rowid = ? * 2", n); err != nil {
		return err
	}
	_, err := p.q.Exec(ctx, `INSERT INTO search (rowid, body) SELECT t.id * 2, t.subject || ' ' || t.description ||
		COALESCE(' ' || (SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = t.id AND kind = 'message'), '') ||
		COALESCE(' ' || (SELECT group_concat(value, ' ') FROM ticket_values WHERE ticket_id = t.id), '')
		FROM tickets t WHERE t.id = ?`, n)
	return err
}

// indexNotes writes ticket n's notes document.
func (p *Portal) indexNotes(ctx context.Context, n int64) error {
	if _, err := p.q.Exec(ctx, "DELETE FROM search WHERE rowid = ? * 2 + 1", n); err != nil {
		return err
	}
	_, err := p.q.Exec(ctx, `INSERT INTO search (rowid, body) SELECT ? * 2 + 1, group_concat(body, ' ')
		FROM messages WHERE ticket_id = ? AND kind = 'note' HAVING COUNT(*) > 0`, n, n)
	return err
}

// indexEntry updates the document a new timeline entry of kind belongs to.
func (p *Portal) indexEntry(ctx context.Context, n int64, kind string) error {
	switch kind {
	case KindMessage:
		return p.indexConversation(ctx, n)
	case KindNote:
		return p.indexNotes(ctx, n)
	}
	return nil // events are not searched
}

// unindexTicket takes ticket n out of the search index and its work out
// of the monthly totals; call it before the ticket is deleted.
func (p *Portal) unindexTicket(ctx context.Context, n int64) error {
	if _, err := p.q.Exec(ctx, "DELETE FROM search WHERE rowid IN (? * 2, ? * 2 + 1)", n, n); err != nil {
		return err
	}
	return p.workMonth(ctx, -1, "w.ticket_id = ?", n)
}

// workMonth adds (sign 1) or takes away (sign -1) the work entries that
// where selects to or from the monthly totals per operator, client, work
// type and day.
func (p *Portal) workMonth(ctx context.Context, sign int, where string, args ...any) error {
	_, err := p.q.Exec(ctx, fmt.Sprintf(`WITH e AS (
		SELECT CAST(strftime('%%Y%%m', w.day * 86400, 'unixepoch') AS INTEGER) AS month, w.operator_id, w.client_id, w.work_type_id, w.day,
			CASE WHEN wt.unit = 'hour' THEN w.quantity ELSE 0 END AS hours, CASE WHEN wt.unit = 'piece' THEN w.quantity ELSE 0 END AS pieces,
			w.cost, CASE WHEN w.visible THEN w.cost ELSE 0 END AS visible
		FROM work_entries w JOIN work_types wt ON wt.id = w.work_type_id WHERE %s),
	d AS (SELECT month, 'operator' AS dim, operator_id AS key, hours, pieces, cost, visible FROM e
		UNION ALL SELECT month, 'client', client_id, hours, pieces, cost, visible FROM e
		UNION ALL SELECT month, 'type', work_type_id, hours, pieces, cost, visible FROM e
		UNION ALL SELECT month, 'all', day, hours, pieces, cost, visible FROM e)
	INSERT INTO work_month (month, dim, key, entries, hours, pieces, cost, visible)
	SELECT month, dim, key, %[2]d * COUNT(*), %[2]d * SUM(hours), %[2]d * SUM(pieces), %[2]d * SUM(cost), %[2]d * SUM(visible)
		FROM d WHERE true GROUP BY month, dim, key
	ON CONFLICT (month, dim, key) DO UPDATE SET entries = entries + excluded.entries, hours = hours + excluded.hours,
		pieces = pieces + excluded.pieces, cost = cost + excluded.cost, visible = visible + excluded.visible`, where, sign), args...)
	return err
}
