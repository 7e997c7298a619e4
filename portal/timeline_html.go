package portal

import (
	"html"
	"io"
	"strconv"

	"portaldesk/portal/i18n"
)

// writeTimeline writes a ticket's conversation into b. Like the tickets table's
// rows it is written by hand: with thirty messages, html/template's
// reflective execution of this loop was most of the ticket page's time.
// Every value is escaped with html.EscapeString; texts come from i18n.
func writeTimeline(b io.StringWriter, entries []*Entry, base string, viewer int64, lang string) {
	esc := html.EscapeString
	tr := func(s string) string { return esc(i18n.Msg(lang, s)) }
	if len(entries) == 0 {
		b.WriteString(`<p class="muted">` + tr("No messages yet.") + `</p>`)
		return
	}
	note, support := tr("Internal note"), tr("support")
	for _, e := range entries {
		id := strconv.FormatInt(e.ID, 10)
		when := esc(i18n.DateTime(lang, e.CreatedAt))
		if e.Kind == KindEvent {
			b.WriteString(`<div class="msg event" id="m` + id + `">` + tr(e.Body) + ` · ` + when + "</div>\n")
			continue
		}
		b.WriteString(`<article class="msg`)
		if e.Internal() {
			b.WriteString(` note`)
		}
		if e.Author != nil && e.Author.ID == viewer {
			b.WriteString(` mine`)
		}
		b.WriteString(`" id="m` + id + `">` + "\n" + `<div class="meta">`)
		if e.Internal() {
			b.WriteString(`<span aria-hidden="true">🔒</span> <strong>` + note + `</strong> · `)
		}
		if e.Author != nil {
			b.WriteString(esc(e.Author.Name))
		}
		if e.AuthorRole != "" && e.AuthorRole != RoleClient {
			b.WriteString(` <span class="pill">` + support + `</span>`)
		}
		b.WriteString(` · ` + when + "</div>\n" + `<div class="body">` + esc(e.Body) + "</div>\n")
		filesHTML(b, e.Attachments, base, lang)
		b.WriteString("</article>\n")
	}
}

// filesHTML writes the previews and download links of files, as the
// "files" template does.
func filesHTML(b io.StringWriter, files []*Attachment, base, lang string) {
	if len(files) == 0 {
		return
	}
	esc := html.EscapeString
	b.WriteString(`<div class="thumbs">`)
	for _, a := range files {
		if a.IsImage() {
			u := esc(base) + "/attachments/" + strconv.FormatInt(a.ID, 10)
			b.WriteString(`<a href="` + u + `"><img src="` + u + `?inline=1" alt="` + esc(a.Name) + `" loading="lazy"></a>`)
		}
	}
	b.WriteString("</div>\n" + `<ul class="files">`)
	for _, a := range files {
		u := esc(base) + "/attachments/" + strconv.FormatInt(a.ID, 10)
		b.WriteString(`<li><a href="` + u + `" download>` + esc(a.Name) + `</a> <span class="muted">` + esc(i18n.Bytes(lang, a.Size)) + `</span></li>`)
	}
	b.WriteString("</ul>")
}
