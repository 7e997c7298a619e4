package handlers

import (
	"html/template"
	"strconv"

	"portaldesk/portal"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// ticketRows renders the body of the tickets table. It is the hottest HTML
// of the product — 50 rows with a dozen values each — and html/template's
// reflective escaping cost more than the page's queries, so it is written here
// with templates.Writer, which escapes every value unless it is
// template.HTML.
func ticketRows(list []*portal.Ticket, base string, staff bool, lang string) template.HTML {
	w := templates.NewWriter(lang, len(list)*700)
	b := templates.Escape(base)
	newActivity := templates.Escape(i18n.Msg(lang, "New activity"))
	for _, t := range list {
		num := digits(t.Number)
		href := b + "/tickets/" + num
		if t.Unread {
			w.Raw(`<tr class="unread">`)
		} else {
			w.Raw(`<tr>`)
		}
		w.Raw(`<td><a href="`, href, `">#`, num, `</a></td><td>`)
		if t.Unread {
			w.Raw(`<span class="dot" title="`, newActivity, `"></span><span class="sr-only">`, newActivity, `: </span>`)
		}
		w.Raw(`<a href="`, href, `">`)
		w.Esc(t.Subject)
		w.Raw(`</a></td>`)
		if staff {
			w.Raw(`<td class="hide-sm"><a href="`, b, `/tickets?client=`, digits(t.Client.ID), `">`)
			w.Esc(t.Client.Name)
			w.Raw(`</a></td>`)
		}
		w.Raw(`<td>`, statusPill(t.Status, lang), `</td>`)
		switch t.Priority {
		case "urgent", "high":
			w.Raw(`<td class="hide-sm"><span class="pill prio-`, templates.Escape(t.Priority), `">`)
		default:
			w.Raw(`<td class="hide-sm"><span class="muted">`)
		}
		w.T(t.Priority)
		w.Raw(`</span></td>`)
		if t.Assignee != nil {
			w.Raw(`<td>`)
			w.Esc(t.Assignee.Name)
			w.Raw(`</td>`)
		} else {
			w.Raw(`<td><span class="muted">—</span></td>`)
		}
		w.Raw(`<td class="hide-sm muted">`, templates.Escape(i18n.DateTime(lang, t.LastActivityAt)), "</td></tr>\n")
	}
	return template.HTML(w.String())
}

// Rows is the table body of the tickets page.
func (d *TicketsData) Rows() template.HTML {
	return ticketRows(d.List.Tickets, d.base, d.staff, d.lang)
}

// Unread is how many tickets on this page have news for the person.
func (d *TicketsData) Unread() int {
	n := 0
	for _, t := range d.List.Tickets {
		if t.Unread {
			n++
		}
	}
	return n
}

// digits is n as HTML: digits need no escaping.
func digits(n int64) template.HTML { return template.HTML(strconv.FormatInt(n, 10)) }
