package portal

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one line of the portal's audit log.
type AuditEntry struct {
	ID      int64  `json:"id"`
	At      int64  `json:"at"`
	ActorID int64  `json:"actor_id,omitempty"`
	Actor   string `json:"actor"`
	IP      string `json:"ip"`
	Action  string `json:"action"`
	Target  string `json:"target,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// AuditKeep is how long the audit log keeps an entry.
const AuditKeep = 366 * 24 * time.Hour

// AuditActions are the kinds of entry, with their labels, for the filter.
var AuditActions = []struct{ ID, Label string }{
	{"sign_in", "Signed in"},
	{"sign_in_failed", "Failed sign-in"},
	{"password_changed", "Password changed"},
	{"password_reset", "Password reset by link"},
	{"password_link", "Password link sent by an admin"},
	{"two_factor", "Two-step sign-in changed"},
	{"sessions_ended", "Sessions ended"},
	{"token_created", "API token created"},
	{"token_revoked", "API token revoked"},
	{"user_invited", "Person invited"},
	{"user_changed", "Person's role or access changed"},
	{"person_exported", "Person's data exported"},
	{"person_erased", "Person erased"},
	{"settings", "Settings changed"},
	{"status", "Status changed"},
	{"form", "Questionnaire changed"},
	{"mail", "Mail sender or template changed"},
	{"logo", "Logo changed"},
	{"price_list", "Price list changed"},
	{"subscription", "Subscription changed"},
	{"ticket_deleted", "Ticket deleted"},
	{"export", "Report exported"},
	{"channel", "Messenger connected or disconnected"},
}

// Audit records an entry, now when At is 0, in the caller's transaction
// when p is bound to one. Every thousandth entry also drops those older
// than AuditKeep.
func (p *Portal) Audit(ctx context.Context, e AuditEntry) error {
	if e.At == 0 {
		e.At = p.Now().Unix()
	}
	var actor any
	if e.ActorID != 0 {
		actor = e.ActorID
	}
	res, err := p.q.Exec(ctx, "INSERT INTO audit (at, actor_id, actor, ip, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		e.At, actor, truncate(Line(e.Actor), 200), truncate(e.IP, 64), e.Action, truncate(Line(e.Target), 200), truncate(Text(e.Detail), 500))
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	if id, _ := res.LastInsertId(); id%1000 == 0 {
		_, err = p.q.Exec(ctx, "DELETE FROM audit WHERE at < ?", p.Now().Add(-AuditKeep).Unix())
	}
	return err
}

// AuditFilter selects entries of the log: by kind, by who (a part of the
// name or address), in a period (unix seconds, To exclusive; 0: open),
// before an entry (for the next page).
type AuditFilter struct {
	Action, Actor string
	From, To      int64
	Before        int64
	Limit         int // 0: 100
}

// AuditLog lists entries, newest first. Admins only.
func (p *Portal) AuditLog(ctx context.Context, actor *User, f AuditFilter) ([]AuditEntry, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	var where []string
	var args []any
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if a := strings.TrimSpace(f.Actor); a != "" {
		where, args = append(where, "(actor LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\')"), append(args, "%"+likeEscape(a)+"%", "%"+likeEscape(a)+"%")
	}
	if f.From > 0 {
		where, args = append(where, "at >= ?"), append(args, f.From)
	}
	if f.To > 0 {
		where, args = append(where, "at < ?"), append(args, f.To)
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	q := "SELECT id, at, COALESCE(actor_id, 0), actor, ip, action, target, detail FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.Actor, &e.IP, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
