package handlers

import (
	"html/template"

	"portaldesk/portal"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// writeTimeline writes a ticket's conversation. Like the tickets table's
// rows it is written by hand: with thirty messages, html/template's
// reflective execution of this loop was most of the ticket page's time.
//
// split, when not empty, is the form start (action and token) with which
// staff make a client's message a ticket of its own.
func writeTimeline(w *templates.Writer, entries []*portal.Entry, base string, viewer int64, split template.HTML) {
	if len(entries) == 0 {
		w.Raw(`<p class="muted">`)
		w.T("No messages yet.")
		w.Raw(`</p>`)
		return
	}
	for _, e := range entries {
		id := digits(e.ID)
		when := templates.Escape(i18n.DateTime(w.Lang, e.CreatedAt))
		if e.Kind == portal.KindEvent {
			w.Raw(`<div class="msg event" id="m`, id, `">`)
			w.T(e.Body)
			w.Raw(` · `, when, "</div>\n")
			continue
		}
		w.Raw(`<article class="msg`)
		if e.Internal() {
			w.Raw(` note`)
		}
		if e.Author != nil && e.Author.ID == viewer {
			w.Raw(` mine`)
		}
		w.Raw(`" id="m`, id, `">`, "\n", `<div class="meta">`)
		if e.Internal() {
			w.Raw(`<span aria-hidden="true">🔒</span> <strong>`)
			w.T("Internal note")
			w.Raw(`</strong> · `)
		}
		if e.Author != nil {
			w.Esc(e.Author.Name)
		}
		if e.AuthorRole != "" && e.AuthorRole != portal.RoleClient {
			w.Raw(` <span class="pill">`)
			w.T("support")
			w.Raw(`</span>`)
		}
		w.Raw(` · `, when)
		if e.Channel != "" {
			w.Raw(` · <span class="pill">`)
			w.Esc(channelLabel(e.Channel))
			w.Raw(`</span>`)
		}
		if split != "" && e.Kind == portal.KindMessage && e.AuthorRole == portal.RoleClient {
			w.Raw(` · `, split, `<input type="hidden" name="message" value="`, id, `"><button class="link" type="submit">`)
			w.T("Split into a new ticket")
			w.Raw(`</button></form>`)
		}
		w.Raw("</div>\n", `<div class="body">`)
		w.Esc(e.Body)
		w.Raw("</div>\n")
		writeFiles(w, e.Attachments, base)
		w.Raw("</article>\n")
	}
}

// writeFiles writes the previews and download links of files.
func writeFiles(w *templates.Writer, files []*portal.Attachment, base string) {
	if len(files) == 0 {
		return
	}
	b := templates.Escape(base)
	w.Raw(`<div class="thumbs">`)
	for _, a := range files {
		if a.IsImage() {
			u := b + "/attachments/" + digits(a.ID)
			w.Raw(`<a href="`, u, `"><img src="`, u, `?inline=1" alt="`)
			w.Esc(a.Name)
			w.Raw(`" loading="lazy"></a>`)
		}
	}
	w.Raw("</div>\n", `<ul class="files">`)
	for _, a := range files {
		w.Raw(`<li><a href="`, b, "/attachments/", digits(a.ID), `" download>`)
		w.Esc(a.Name)
		w.Raw(`</a> <span class="muted">`)
		w.Esc(i18n.Bytes(w.Lang, a.Size))
		w.Raw(`</span></li>`)
	}
	w.Raw("</ul>")
}
