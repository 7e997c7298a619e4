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
func ticketRows(list []*portal.Ticket, base string, staff bool, lang, csrf string, picked map[int64]bool, now int64) template.HTML {
	w := templates.NewWriter(lang, len(list)*700)
	b := templates.Escape(base)
	newActivity := templates.Escape(i18n.Msg(lang, "New activity"))
	take := template.HTML("")
	if staff {
		// An unassigned ticket can be taken from its row.
		take = `"><input type="hidden" name="_csrf" value="` + templates.Escape(csrf) + `"><input type="hidden" name="assignee" value="me"><input type="hidden" name="back" value="list"><button class="link" type="submit">` +
			templates.Escape(i18n.Msg(lang, "Take")) + `</button></form>`
	}
	for _, t := range list {
		num := digits(t.Number)
		href := b + "/tickets/" + num
		if t.Unread {
			w.Raw(`<tr class="unread">`)
		} else {
			w.Raw(`<tr>`)
		}
		if staff {
			// Ticked for a bulk change; the box belongs to the form above the table.
			w.Raw(`<td class="pick"><input type="checkbox" name="t" value="`, num, `" form="bulk" aria-label="#`, num, `"`)
			if picked[t.Number] {
				w.Raw(` checked`)
			}
			w.Raw(`></td>`)
		}
		w.Raw(`<td><a href="`, href, `">#`, num, `</a></td><td>`)
		if t.Unread {
			w.Raw(`<span class="dot" title="`, newActivity, `"></span><span class="sr-only">`, newActivity, `: </span>`)
		}
		w.Raw(`<a href="`, href, `">`)
		w.Esc(t.Subject)
		w.Raw(`</a>`)
		if staff && len(t.Tags) > 0 {
			w.Raw(tagPills(t.Tags, base))
		}
		w.Raw(`</td>`)
		if staff {
			w.Raw(`<td class="hide-sm"><a href="`, b, `/tickets?client=`, digits(t.Client.ID), `">`)
			w.Esc(t.Client.Name)
			w.Raw(`</a></td>`)
		}
		w.Raw(`<td>`, statusPill(t.Status, lang))
		if staff {
			w.Raw(dueHTML(t.SLA, now, lang))
		}
		w.Raw(`</td>`)
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
		} else if staff {
			w.Raw(`<td><form method="post" action="`, href, `/update`, take, `</td>`)
		} else {
			w.Raw(`<td><span class="muted">—</span></td>`)
		}
		w.Raw(`<td class="hide-sm muted">`, templates.Escape(i18n.DateTime(lang, t.LastActivityAt)), "</td></tr>\n")
	}
	return template.HTML(w.String())
}

// splitRows is the list beside the open ticket in the split view: a line
// or two a ticket, the open one marked.
func splitRows(list []*portal.Ticket, base string, current int64, lang string) template.HTML {
	w := templates.NewWriter(lang, 300+len(list)*300)
	b := templates.Escape(base)
	w.Raw(`<nav class="split-list" aria-label="`, templates.Escape(i18n.Msg(lang, "Tickets")), `"><ul>`, "\n")
	for _, t := range list {
		num := digits(t.Number)
		w.Raw(`<li`)
		if t.Unread {
			w.Raw(` class="unread"`)
		}
		w.Raw(`><a href="`, b, `/tickets/`, num, `"`)
		if t.Number == current {
			w.Raw(` aria-current="page"`)
		}
		w.Raw(`><span class="muted">#`, num, `</span> `)
		w.Esc(t.Subject)
		w.Raw(`<br>`, statusPill(t.Status, lang), ` <small class="muted">`)
		w.Esc(t.Client.Name)
		w.Raw("</small></a></li>\n")
	}
	if len(list) == 0 {
		w.Raw(`<li class="muted">`, templates.Escape(i18n.Msg(lang, "No tickets match these filters.")), `</li>`)
	}
	w.Raw(`</ul><p><a href="`, b, `/tickets">`, templates.Escape(i18n.Msg(lang, "The whole list")), "</a></p></nav>\n")
	return template.HTML(w.String())
}

// SplitRows is the list of the tickets page in the split view.
func (d *TicketsData) SplitRows() template.HTML {
	return splitRows(d.List.Tickets, d.base, 0, d.lang)
}

// Rows is the table body of the tickets page.
func (d *TicketsData) Rows() template.HTML {
	return ticketRows(d.List.Tickets, d.base, d.staff, d.lang, d.csrf, d.picked, d.now)
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

// dueHTML is a ticket's next SLA due time, coloured as it nears (within
// an hour) and passes; "" without one.
func dueHTML(sla *portal.TicketSLA, now int64, lang string) template.HTML {
	if sla == nil {
		return ""
	}
	var due int64
	for _, d := range []int64{sla.FirstResponseDue, sla.NextResponseDue, sla.ResolutionDue} {
		if d != 0 && (due == 0 || d < due) {
			due = d
		}
	}
	if due == 0 {
		if sla.Breached {
			return ` <span class="due late">` + templates.Escape(i18n.Msg(lang, "target passed")) + `</span>`
		}
		return ""
	}
	class, label := "due", "due"
	switch {
	case due <= now:
		class, label = "due late", "overdue since"
	case due-now <= 3600:
		class = "due soon"
	}
	return ` <span class="` + template.HTML(class) + `">` + templates.Escape(i18n.Msg(lang, label)) + " " + templates.Escape(i18n.DateTime(lang, due)) + `</span>`
}
