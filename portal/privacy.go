package portal

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// A person's data, on their request (152-FZ, GDPR): an admin exports it
// as a zip to hand over, and erases the person. The export holds what the
// person may see — never an internal note or file of a client's ticket.

// personExport is profile.json of an export.
type personExport struct {
	Exported  string          `json:"exported"`
	Portal    string          `json:"portal"`
	User      *User           `json:"user"`
	Notify    map[string]bool `json:"notify"`
	Sessions  []Session       `json:"sessions"`
	Messages  []authored      `json:"messages_written"`
	TicketsAs string          `json:"tickets"`
}

// authored is a message the person wrote, on any ticket.
type authored struct {
	Ticket    int64  `json:"ticket"`
	Kind      string `json:"kind"`
	Body      string `json:"body"`
	CreatedAt int64  `json:"created_at"`
}

// ExportPerson writes the zip of person id's data to w: their profile,
// sessions and the messages they wrote; for a client, every ticket of
// theirs with its conversation and files as they see them. Admins only.
func (p *Portal) ExportPerson(ctx context.Context, actor *User, id int64, w io.Writer) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return err
	}
	z := zip.NewWriter(w)
	put := func(name string, v any) error {
		f, err := z.Create(name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	sessions, err := p.Sessions(ctx, u, "")
	if err != nil {
		return err
	}
	ex := personExport{Exported: p.Now().UTC().Format(time.RFC3339), Portal: p.company(), User: u, Notify: p.NotifyPrefs(ctx, u), Sessions: sessions, Messages: []authored{},
		TicketsAs: "tickets/ holds each ticket the person opened, as they see it; files/ its files"}
	rows, err := p.q.Query(ctx, "SELECT ticket_id, kind, body, created_at FROM messages WHERE author_id = ? ORDER BY id", id)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m authored
		if err := rows.Scan(&m.Ticket, &m.Kind, &m.Body, &m.CreatedAt); err != nil {
			rows.Close()
			return err
		}
		if u.IsStaff() || m.Kind != KindNote {
			ex.Messages = append(ex.Messages, m)
		}
	}
	rows.Close()
	if err := put("profile.json", ex); err != nil {
		return err
	}
	if u.Role == RoleClient {
		var numbers []int64
		rows, err := p.q.Query(ctx, "SELECT id FROM tickets WHERE client_id = ? ORDER BY id", id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			numbers = append(numbers, n)
		}
		rows.Close()
		for _, n := range numbers {
			// As the client sees it: ViewTicket as them leaves out internal
			// notes and files.
			v, err := p.ViewTicket(ctx, u, n, 0)
			if err != nil {
				return err
			}
			if err := put(fmt.Sprintf("tickets/%d.json", n), v); err != nil {
				return err
			}
			files := append([]*Attachment(nil), v.Files...)
			for _, e := range v.Timeline {
				files = append(files, e.Attachments...)
			}
			for _, a := range files {
				if err := p.zipFile(z, fmt.Sprintf("files/%d/%d-%s", n, a.ID, a.Name), a); err != nil {
					return err
				}
			}
		}
	}
	return z.Close()
}

func (p *Portal) zipFile(z *zip.Writer, name string, a *Attachment) error {
	in, err := p.OpenFile(a)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := z.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return err
}

// ErasedName is what an erased person is called where their messages stay.
const ErasedName = "Deleted user"

// ErasePerson erases person id: their name, address, password, sessions,
// tokens, two-step sign-in and the mail sent to them go; they can no
// longer sign in. Their tickets and messages stay — the business keeps
// its correspondence — written by "Deleted user". An admin cannot erase
// themself or the last active admin.
func (p *Portal) ErasePerson(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if err := p.writable(); err != nil {
		return err
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if u.ID == actor.ID {
		return &FieldErrors{Message: "You cannot erase yourself: ask another admin."}
	}
	return p.Tx(ctx, func(tp *Portal) error {
		if u.Role == RoleAdmin {
			var admins int
			if err := tp.q.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id <> ?", id).Scan(&admins); err != nil {
				return err
			}
			if admins == 0 {
				return &FieldErrors{Message: "This is the portal's last admin."}
			}
		}
		for _, q := range []string{
			"UPDATE users SET name = '" + ErasedName + "', surname = '', email = 'deleted-' || id || '@deleted.invalid', password_hash = '!', active = 0, lang = '', notify = '{}', totp_secret = '', totp_step = 0, last_login_at = NULL, fields = '{}', external_id = NULL, org_id = NULL WHERE id = ?",
			"DELETE FROM sessions WHERE user_id = ?",
			"DELETE FROM tokens WHERE user_id = ?",
			"DELETE FROM recovery_codes WHERE user_id = ?",
			"DELETE FROM password_resets WHERE user_id = ?",
			"UPDATE audit SET actor = '" + ErasedName + "' WHERE actor_id = ?",
		} {
			if _, err := tp.q.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		if _, err := tp.q.Exec(ctx, "UPDATE audit SET target = '"+ErasedName+"' WHERE actor_id IS NULL AND target = ? COLLATE NOCASE", u.Email); err != nil {
			return err
		}
		_, err := tp.q.Exec(ctx, "DELETE FROM outbox WHERE to_addr = ? COLLATE NOCASE", u.Email)
		tp.ref.cookies.forget()
		return err
	})
}
