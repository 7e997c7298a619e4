package handlers

import (
	"cmp"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"portaldesk/portal"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// htmlw is a hand-written piece of the ticket page.
type htmlw struct{ *templates.Writer }

// fieldClass opens a field's wrapper, marked when the field has an error.
func (w *htmlw) fieldClass(pg *templates.Page, name string) {
	if pg.FieldError(name) != "" {
		w.Raw(`<div class="field-error">`)
	} else {
		w.Raw(`<div class="">`)
	}
}

// fieldError writes the error at a field, if there is one.
func (w *htmlw) fieldError(pg *templates.Page, name string, attrs template.HTML) {
	if e := pg.FieldError(name); e != "" {
		w.Raw(`<p class="error-text"`, attrs, `>`)
		w.Esc(e)
		w.Raw(`</p>`)
	}
}

// statusPill is a status in its colour: the class the page's style gives
// that colour (templates.PillClass).
func statusPill(st portal.Status, lang string) template.HTML {
	return `<span class="pill ` + template.HTML(templates.PillClass(st.Color)) + `">` + templates.Escape(i18n.Msg(lang, st.Name)) + `</span>`
}

// WriteHTML writes the ticket page's content into w. Like the conversation and the
// tickets table it is written by hand: html/template's reflective execution
// of this page — a hundred actions, each value passed through an escaper by
// reflect.Call — cost more than the page's queries.
// pg carries the viewer and what they typed, so a form that failed shows
// its values and errors again.
func (d *TicketData) WriteHTML(out *templates.Writer, pg *templates.Page) {
	t := d.T
	lang := out.Lang
	w := &htmlw{out}
	size := 8<<10 + len(t.Description)
	for _, e := range d.Timeline {
		size += 400 + len(e.Body)
	}
	w.Grow(size)
	staff := pg.User.IsStaff()
	b := templates.Escape(pg.Portal.Base)
	num := digits(t.Number)
	tu := b + "/tickets/" + num

	if d.Split != "" {
		w.Raw("\n", `<div class="split">`, d.Split, `<div class="split-main">`)
		defer w.Raw("</div></div>\n")
	}
	if t.MergedInto != 0 {
		w.Raw("\n", `<p class="banner warn" role="status">`)
		w.T("This ticket was merged into")
		w.Raw(` <a href="`, b, `/tickets/`, digits(t.MergedInto), `">#`, digits(t.MergedInto), `</a>.</p>`)
	}
	w.Raw("\n", `<p><a href="`, b, `/tickets">← `)
	w.Pick(staff, "All tickets", "My tickets")
	w.Raw("</a></p>\n<h1>#", num, " ")
	w.Esc(t.Subject)
	w.Raw("</h1>\n", `<div class="grid2" data-live="`, tu, `/events" data-parts="facts timeline">`, "\n<section>\n", `<div class="card">`, "\n", `<dl class="kv" id="facts">`, "\n<dt>")
	w.T("Status")
	w.Raw("</dt><dd>", statusPill(t.Status, lang), "</dd>\n")
	switch {
	case t.SLA != nil && staff:
		d.slaHTML(w, lang)
	case t.SLA != nil: // the client, when the portal shows its promises
		for _, c := range []struct {
			label string
			due   int64
		}{{"We answer by", t.SLA.FirstResponseDue}, {"We aim to resolve it by", t.SLA.ResolutionDue}} {
			if c.due != 0 {
				w.Raw("<dt>")
				w.T(c.label)
				w.Raw("</dt><dd>", templates.Escape(i18n.DateTime(lang, c.due)), "</dd>\n")
			}
		}
	}
	if len(t.Tags) > 0 && staff {
		w.Raw("<dt>")
		w.T("Tags")
		w.Raw("</dt><dd>", tagPills(t.Tags, d.base), "</dd>\n")
	}
	w.Raw("<dt>")
	w.Pick(staff, "Assignee", "Operator")
	w.Raw("</dt><dd>")
	if t.Assignee != nil {
		w.Esc(t.Assignee.Name)
	} else {
		w.Raw(`<span class="muted">`)
		w.T("not assigned yet")
		w.Raw("</span>")
	}
	w.Raw("</dd>\n<dt>")
	w.T("Client")
	w.Raw("</dt><dd>")
	w.Esc(t.Client.Name)
	if t.Channel != "" && staff {
		w.Raw(` <span class="pill">`)
		w.Raw(templates.Escape(i18n.T(w.Lang, "writes in %s", channelLabel(t.Channel))))
		w.Raw(`</span>`)
	}
	w.Raw("</dd>\n<dt>")
	w.T("Opened")
	w.Raw("</dt><dd>", templates.Escape(i18n.DateTime(lang, t.CreatedAt)), "</dd>\n")
	for _, v := range t.Values {
		w.Raw("<dt>")
		w.T(v.Label)
		w.Raw("</dt><dd>")
		w.Esc(v.Value)
		w.Raw("</dd>")
	}
	w.Raw("\n</dl>\n<h2>")
	w.T("Description")
	w.Raw("</h2>\n", `<div class="body msg-body">`)
	w.Esc(t.Description)
	w.Raw("</div>\n")
	writeFiles(w.Writer, d.TicketFiles, pg.Portal.Base)
	w.Raw("\n</div>\n<h2>")
	w.T("Conversation")
	w.Raw("</h2>\n", `<div class="timeline" id="timeline">`, "\n")
	if d.Earlier {
		w.Raw(`<p class="muted">`)
		w.T("Only the latest messages are shown.")
		w.Raw(` <a href="`, tu, `?all=1#timeline">`)
		w.T("Show the whole conversation")
		w.Raw("</a></p>\n")
	}
	split := template.HTML("")
	if staff {
		split = `<form class="inline" method="post" action="` + tu + `/split"><input type="hidden" name="_csrf" value="` + templates.Escape(pg.CSRF) + `">`
	}
	writeTimeline(w.Writer, d.Timeline, d.base, d.viewer, split)
	w.Raw("\n</div>\n")
	d.actionsHTML(w, pg, tu)
	d.replyHTML(w, pg, tu) // right under the conversation it answers
	d.workHTML(w, pg, tu)
	d.ratingHTML(w, pg, tu)
	d.copyHTML(w, pg, tu)
	w.Raw("</section>\n")
	if staff {
		d.asideHTML(w, pg, tu, num)
	}
	w.Raw("</div>\n")
}

// workHTML is the labour logged on the ticket and, for staff when the
// tariff times work, the form that logs more.
func (d *TicketData) workHTML(w *htmlw, pg *templates.Page, tu template.HTML) {
	staff := pg.User.IsStaff()
	if len(d.Work.Entries) == 0 && !(staff && d.Timing) {
		return
	}
	money := func(v int64) template.HTML { return templates.Escape(i18n.Number(w.Lang, d.Money(v))) }
	w.Raw(`<div class="card" id="work">`, "\n<h2>")
	w.T("Work")
	w.Raw("</h2>\n")
	if len(d.Work.Entries) > 0 {
		w.Raw(`<div class="table-wrap"><table><thead><tr>`)
		w.Th("Date", "Work", "Quantity", "Cost")
		if staff {
			w.Raw(`<th class="hide-sm">`)
			w.T("By")
			w.Raw("</th><th>")
			w.T("Client sees")
			w.Raw("</th>")
		}
		w.Raw("</tr></thead><tbody>\n")
		for _, e := range d.Work.Entries {
			w.Raw("<tr><td>")
			w.Esc(e.Date)
			w.Raw("</td><td>")
			w.Esc(e.WorkType)
			if e.Comment != "" {
				w.Raw(`<br><span class="muted">`)
				w.Esc(e.Comment)
				w.Raw("</span>")
			}
			w.Raw("</td><td>")
			w.Esc(i18n.Number(w.Lang, e.Quantity) + " " + i18n.Unit(w.Lang, e.Unit))
			w.Raw("</td><td>", money(e.Cost), "</td>")
			if staff {
				w.Raw(`<td class="hide-sm">`)
				w.Esc(e.Operator.Name)
				w.Raw("</td><td>")
				w.Pick(e.Visible, "yes", "no")
				w.Raw("</td>")
			}
			w.Raw("</tr>")
		}
		w.Raw("\n</tbody></table></div>\n<p>")
		w.T("Total")
		if staff {
			w.Raw(": <strong>", money(d.Work.Total), "</strong> · ")
			w.T("visible to the client")
			w.Raw(": ", money(d.Work.VisibleTotal))
		} else {
			w.Raw(": <strong>", money(d.Work.VisibleTotal), "</strong>")
		}
		w.Raw("</p>")
	}
	w.Raw("\n")
	if staff && d.Timing {
		if len(d.WorkTypes) == 0 {
			w.Raw(`<p class="muted">`)
			if pg.User.IsAdmin() {
				w.Raw(`<a href="`, templates.Escape(pg.Portal.Base), `/admin/work-types">`)
				w.T("Set up the price list")
				w.Raw("</a> ")
				w.T("to log work.")
			} else {
				w.T("The admin has not set up the price list yet.")
			}
			w.Raw("</p>")
		} else {
			d.workFormHTML(w, pg, tu, money)
		}
	}
	w.Raw("\n</div>\n")
}

func (d *TicketData) workFormHTML(w *htmlw, pg *templates.Page, tu template.HTML, money func(int64) template.HTML) {
	w.Raw("\n", `<form method="post" action="`, tu, `/work" class="row" novalidate>`, "\n")
	w.CSRFField(pg)
	w.fieldClass(pg, "work_type")
	w.Raw(`<label for="work_type">`)
	w.T("Work")
	w.Raw(`</label><select id="work_type" name="work_type">`)
	chosen := pg.Value("work_type")
	for _, wt := range d.WorkTypes {
		id := digits(wt.ID)
		w.Raw(`<option value="`, id, `"`)
		if chosen == string(id) {
			w.Raw(" selected")
		}
		w.Raw(">")
		w.Esc(wt.Name)
		w.Raw(" (", money(wt.Price), " ")
		w.T("per")
		w.Raw(" ")
		w.Esc(i18n.Unit(w.Lang, wt.Unit))
		w.Raw(")</option>")
	}
	w.Raw("</select>")
	w.fieldError(pg, "work_type", "")
	w.Raw("</div>\n")
	w.fieldClass(pg, "quantity")
	w.Raw(`<label for="quantity">`)
	w.T("Hours or pieces")
	w.Raw(`</label><input id="quantity" name="quantity" type="text" inputmode="decimal" value="`)
	w.Esc(pg.Value("quantity"))
	w.Raw(`" placeholder="`)
	w.T("1.5 or 1:30")
	w.Raw(`">`)
	w.fieldError(pg, "quantity", "")
	w.Raw("</div>\n")
	w.fieldClass(pg, "date")
	w.Raw(`<label for="date">`)
	w.T("Date")
	w.Raw(`</label><input id="date" name="date" type="date" value="`)
	w.Esc(cmp.Or(pg.Value("date"), d.Today))
	w.Raw(`">`)
	w.fieldError(pg, "date", "")
	w.Raw("</div>\n", `<div><label for="wcomment">`)
	w.T("Comment")
	w.Raw(`</label><input id="wcomment" name="comment" type="text" value="`)
	w.Esc(pg.Value("comment"))
	w.Raw(`"></div>`, "\n", `<label class="checkbox"><input type="checkbox" name="visible" value="1"`)
	if pg.Value("visible") != "" {
		w.Raw(" checked")
	}
	w.Raw("> ")
	w.T("the client sees it")
	w.Raw("</label>\n", `<div><button type="submit" class="secondary">`)
	w.T("Log work")
	w.Raw("</button></div>\n</form>")
}

// ratingHTML is a closed ticket's rating and, for its client while it may
// still be changed, the form that rates it.
func (d *TicketData) ratingHTML(w *htmlw, pg *templates.Page, tu template.HTML) {
	t := d.T
	if !t.Status.Closed {
		return
	}
	w.Raw(`<div class="card" id="rating">`, "\n<h2>")
	w.T("Rating")
	w.Raw("</h2>\n")
	switch r := d.Rating; {
	case r != nil:
		w.Raw("<p><strong>", digits(int64(r.Score)), " ")
		w.T("of 5")
		w.Raw("</strong>")
		if r.Comment != "" {
			w.Raw(" — ")
			w.Esc(r.Comment)
		}
		w.Raw("</p>")
	case !pg.User.IsStaff():
		w.Raw("<p>")
		w.T("How did we do?")
		w.Raw("</p>")
	default:
		w.Raw(`<p class="muted">`)
		w.T("Not rated yet.")
		w.Raw("</p>")
	}
	w.Raw("\n")
	if pg.User.ID == t.Client.ID && (d.Rating == nil || d.Rating.Editable) {
		w.Raw(`<form method="post" action="`, tu, `/rating" novalidate>`, "\n")
		w.CSRFField(pg)
		w.Raw(`<fieldset class="stars"><legend>`)
		w.T("Your rating")
		w.Raw("</legend>\n")
		chosen, cur := pg.Value("score"), "0"
		if d.Rating != nil {
			cur = strconv.Itoa(d.Rating.Score)
		}
		for _, i := range []template.HTML{"1", "2", "3", "4", "5"} {
			w.Raw(`<label><input type="radio" name="score" value="`, i, `"`)
			if chosen == string(i) || cur == string(i) {
				w.Raw(" checked")
			}
			w.Raw("> ", i, "</label>")
		}
		w.Raw("</fieldset>\n")
		w.fieldError(pg, "score", "")
		w.Raw("\n", `<label for="rcomment">`)
		w.T("Comment (optional)")
		w.Raw(`</label><input id="rcomment" name="comment" type="text" value="`)
		w.Esc(cmp.Or(pg.Value("comment"), d.Rating.CommentText()))
		w.Raw(`">`, "\n", `<div class="actions"><button type="submit" class="secondary">`)
		w.Pick(d.Rating != nil, "Change rating", "Rate")
		w.Raw("</button></div>\n</form>")
	}
	w.Raw("\n</div>\n")
}

// tagPills are a ticket's tags, each a link to the table filtered by it.
func tagPills(tags []portal.Tag, base string) template.HTML {
	var b strings.Builder
	for _, g := range tags {
		b.WriteString(` <a class="pill tag" href="` + string(templates.Escape(base)) + `/tickets?tag=` + string(templates.Escape(url.QueryEscape(g.Name))) + `">` + string(templates.Escape(g.Name)) + `</a>`)
	}
	return template.HTML(b.String())
}

// actionsHTML offers the workflow actions the viewer may perform in the
// ticket's status, each a form of what it asks for.
func (d *TicketData) actionsHTML(w *htmlw, pg *templates.Page, tu template.HTML) {
	if len(d.Actions) == 0 {
		return
	}
	w.Raw(`<div class="card" id="actions">`, "\n<h2>")
	w.T("Actions")
	w.Raw("</h2>\n")
	for _, a := range d.Actions {
		id := digits(a.ID)
		w.Raw(`<details class="action"><summary>`)
		w.Esc(a.Name)
		w.Raw(`</summary><form method="post" action="`, tu, `/actions/`, id, `" novalidate>`)
		w.CSRFField(pg)
		if a.Comment != "none" {
			w.fieldClass(pg, "comment")
			w.Raw(`<label for="comment-`, id, `">`)
			w.Pick(a.Internal, "Internal note", "Comment")
			if a.Comment == "required" {
				w.Raw(" *")
			}
			w.Raw(`</label><textarea id="comment-`, id, `" name="comment" rows="3"`)
			if a.Macro.Text != "" {
				// Left empty, the action's canned text is sent.
				w.Raw(` placeholder="`)
				w.Esc(a.Macro.Text)
				w.Raw(`"`)
			}
			w.Raw(`>`)
			w.Esc(pg.Value("comment"))
			w.Raw("</textarea>")
			w.fieldError(pg, "comment", "")
			w.Raw("</div>")
		}
		for _, f := range a.Fields {
			key := "fields." + f.Name
			w.fieldClass(pg, key)
			w.Raw(`<label for="f-`, id, `-`)
			w.Esc(f.Name)
			w.Raw(`">`)
			w.Esc(f.Label)
			if f.Required {
				w.Raw(" *")
			}
			w.Raw("</label>")
			switch f.Type {
			case portal.FieldSelect:
				w.Raw(`<select id="f-`, id, `-`)
				w.Esc(f.Name)
				w.Raw(`" name="f_`)
				w.Esc(f.Name)
				w.Raw(`"><option value=""></option>`)
				for _, o := range f.Options {
					w.Raw(`<option`)
					if pg.Value("f_"+f.Name) == o {
						w.Raw(" selected")
					}
					w.Raw(">")
					w.Esc(o)
					w.Raw("</option>")
				}
				w.Raw("</select>")
			case portal.FieldCheckbox:
				w.Raw(`<input id="f-`, id, `-`)
				w.Esc(f.Name)
				w.Raw(`" name="f_`)
				w.Esc(f.Name)
				w.Raw(`" type="checkbox" value="yes"`)
				if pg.Value("f_"+f.Name) != "" {
					w.Raw(" checked")
				}
				w.Raw(`>`)
			default:
				w.Raw(`<input id="f-`, id, `-`)
				w.Esc(f.Name)
				w.Raw(`" name="f_`)
				w.Esc(f.Name)
				w.Raw(`" type="`)
				w.Esc(f.InputType())
				w.Raw(`" value="`)
				w.Esc(pg.Value("f_" + f.Name))
				w.Raw(`">`)
			}
			w.fieldError(pg, key, "")
			w.Raw("</div>")
		}
		if a.AskAssignee && len(d.Staff) > 0 {
			w.Raw(`<label for="as-`, id, `">`)
			w.T("Assign to")
			w.Raw(`</label><select id="as-`, id, `" name="assignee"><option value="0">`)
			w.T("— as it is —")
			w.Raw("</option>")
			for _, u := range d.Staff {
				w.Raw(`<option value="`, digits(u.ID), `">`)
				w.Esc(u.FullName())
				w.Raw("</option>")
			}
			w.Raw("</select>")
			w.fieldError(pg, "assignee", "")
		}
		w.Raw(`<div class="actions"><button type="submit">`)
		w.Esc(a.Name)
		w.Raw("</button></div></form></details>\n")
	}
	w.Raw("</div>\n")
}

// lastSeen is the newest message or note the page shows.
func (d *TicketData) lastSeen() int64 {
	var last int64
	for _, e := range d.Timeline {
		if e.Kind != portal.KindEvent && e.ID > last {
			last = e.ID
		}
	}
	return last
}

// newerThan is the first message or note after last that someone other
// than viewer wrote, or nil.
func (d *TicketData) newerThan(last, viewer int64) *portal.Entry {
	for _, e := range d.Timeline {
		if e.Kind != portal.KindEvent && e.ID > last && (e.Author == nil || e.Author.ID != viewer) {
			return e
		}
	}
	return nil
}

// slaHTML is the ticket's SLA clocks among its facts.
func (d *TicketData) slaHTML(w *htmlw, lang string) {
	sla := d.T.SLA
	for _, c := range []struct {
		label string
		due   int64
	}{{"First response", sla.FirstResponseDue}, {"Next response", sla.NextResponseDue}, {"Resolution", sla.ResolutionDue}} {
		if c.due == 0 {
			continue
		}
		w.Raw("<dt>")
		w.T(c.label)
		w.Raw("</dt><dd>", dueHTML(&portal.TicketSLA{FirstResponseDue: c.due}, d.now, lang), "</dd>\n")
	}
	if sla.Paused {
		w.Raw("<dt>")
		w.T("Resolution")
		w.Raw(`</dt><dd><span class="due">`)
		w.T("paused: waiting for the client")
		w.Raw("</span></dd>\n")
	}
	if sla.Breached {
		w.Raw(`<dt>SLA</dt><dd><span class="due late">`)
		w.T("target passed")
		w.Raw("</span></dd>\n")
	}
}

// copyHTML is who else the conversation includes: the clients in copy
// (from the CC of a mail, or added by staff). Staff add and remove them;
// someone in copy can leave.
func (d *TicketData) copyHTML(w *htmlw, pg *templates.Page, tu template.HTML) {
	staff := pg.User.IsStaff()
	own := pg.User.ID == d.T.Client.ID // the client adds colleagues
	if len(d.T.Participants) == 0 && !staff && !own {
		return
	}
	csrf := `<input type="hidden" name="_csrf" value="` + templates.Escape(pg.CSRF) + `">`
	w.Raw(`<div class="card" id="copy">`, "\n<h2>")
	w.T("In copy")
	w.Raw("</h2>\n")
	if len(d.T.Participants) == 0 {
		w.Raw(`<p class="muted">`)
		w.T("Clients in CC of a mail about the ticket see it and its replies, as its client does. Nobody is in copy yet.")
		w.Raw("</p>\n")
	} else {
		w.Raw(`<ul class="plain">`)
		for _, pr := range d.T.Participants {
			w.Raw("<li>")
			w.Esc(pr.Name)
			if staff {
				w.Raw(` <span class="muted">`)
				w.Esc(pr.Email)
				w.Raw("</span>")
			}
			if staff || pr.ID == pg.User.ID {
				w.Raw(` <form class="inline" method="post" action="`, tu, `/participants/`, digits(pr.ID), `/remove">`, csrf, `<button type="submit" class="link">`)
				w.Pick(pr.ID == pg.User.ID, "Leave the copy", "Remove")
				w.Raw("</button></form>")
			}
			w.Raw("</li>\n")
		}
		w.Raw("</ul>\n")
	}
	if staff || own {
		w.Raw(`<form method="post" action="`, tu, `/participants" novalidate>`, csrf, "\n")
		w.fieldClass(pg, "email")
		w.Raw(`<label for="copy-email">`)
		w.Pick(staff, "Put a client in copy", "Add a colleague (their address here)")
		w.Raw(`</label><input id="copy-email" name="email" type="email" autocomplete="off" value="`)
		w.Esc(pg.Value("email"))
		w.Raw(`">`)
		w.fieldError(pg, "email", ` role="alert"`)
		w.Raw("</div>\n", `<div class="actions"><button type="submit" class="secondary">`)
		w.T("Add")
		w.Raw("</button></div>\n</form>\n")
	}
	w.Raw("</div>\n")
}

// replyHTML is the form that answers the ticket (and, for staff, writes an
// internal note).
func (d *TicketData) replyHTML(w *htmlw, pg *templates.Page, tu template.HTML) {
	staff := pg.User.IsStaff()
	if staff {
		// Who else has the ticket open, and who is writing (filled live).
		w.Raw(`<p id="viewers" class="viewers" aria-live="polite" hidden data-writing-url="`, tu, `/writing" data-here="`)
		w.Esc(i18n.Msg(w.Lang, "Also on this ticket:"))
		w.Raw(`" data-writing="`)
		w.Esc(i18n.Msg(w.Lang, "writing a reply"))
		w.Raw(`"></p>`, "\n")
	}
	replyName, canReply := d.Steps[portal.StepReply]
	noteName, canNote := d.Steps[portal.StepNote]
	if !canReply && !canNote {
		return // the admin's workflow offers neither here
	}
	stepLabel := func(name, builtin, phrase string) {
		if name == builtin {
			w.T(phrase) // not renamed: the usual words
		} else {
			w.Esc(name)
		}
	}
	w.Raw(`<form class="card" method="post" action="`, tu, `/messages" enctype="multipart/form-data" id="reply" data-draft="`, tu, `">`, "\n")
	w.CSRFField(pg)
	// The newest entry the writer has seen: a message that comes after it
	// while they write is shown to them before theirs is sent.
	w.Raw(`<input type="hidden" name="last" value="`, digits(d.lastSeen()), `">`)
	if staff && !canReply {
		w.Raw(`<input type="hidden" name="internal" value="1"><h2>`)
		stepLabel(noteName, "Internal note", "An internal note")
		w.Raw("</h2>\n")
	}
	if staff && canReply && canNote {
		// Reply or internal note: a two-way choice at the top, the form
		// taking the note's colour when it is a note (app.css).
		note := pg.Value("internal") != ""
		w.Raw(`<fieldset class="kind"><legend>`)
		w.T("Write")
		w.Raw(`</legend><label><input type="radio" name="internal" value=""`)
		if !note {
			w.Raw(" checked")
		}
		w.Raw("> ")
		stepLabel(replyName, "Reply", "A reply to the client")
		w.Raw(`</label><label class="note"><input type="radio" name="internal" value="1"`)
		if note {
			w.Raw(" checked")
		}
		w.Raw("> ")
		stepLabel(noteName, "Internal note", "An internal note")
		w.Raw("</label></fieldset>\n")
	}
	w.fieldClass(pg, "body")
	w.Raw("\n", `<label for="body">`)
	w.Pick(staff, "Reply or note", "Your message")
	w.Raw("</label>\n", `<textarea id="body" name="body">`)
	w.Esc(pg.Value("body"))
	w.Raw("</textarea>\n")
	if staff {
		// Canned replies: "/" and a few letters in the box lists them here.
		w.Raw(`<ul id="canned" class="canned plain" hidden data-search="`, templates.Escape(d.base), `/canned/search?ticket=`, digits(d.T.Number), `" data-use="`,
			templates.Escape(d.base), `/canned/ID/use?ticket=`, digits(d.T.Number), `" data-articles="`, templates.Escape(d.base), `/kb/insert" data-link="`)
		w.Esc(i18n.Msg(w.Lang, "as a link"))
		w.Raw(`" data-text="`)
		w.Esc(i18n.Msg(w.Lang, "as text"))
		w.Raw(`"></ul>`, "\n", `<p class="help">`)
		w.T("Type / for a canned reply, # for an article of the knowledge base.")
		w.Raw("</p>\n")
	}
	w.fieldError(pg, "body", ` role="alert"`)
	w.Raw("\n</div>\n")
	w.fieldClass(pg, "file")
	w.Raw("\n", `<label for="files">`)
	w.T("Files")
	w.Raw(`</label><input id="files" name="files" type="file" multiple>`, "\n", `<p class="help">`)
	w.T("Up to")
	w.Raw(" ")
	w.Esc(i18n.Bytes(w.Lang, d.Limits.MaxFileBytes))
	w.Raw(" ")
	w.T("each.")
	w.Raw("</p>\n")
	w.fieldError(pg, "file", ` role="alert"`)
	w.Raw("\n</div>\n")
	if staff && canReply && d.T.Channel != "" {
		// The client wrote from a messenger: replies go there, unless
		// the operator mails this one.
		w.Raw(`<div><label for="via">`)
		w.T("Reply by")
		w.Raw(`</label><select id="via" name="via"><option value="">`)
		w.Raw(templates.Escape(i18n.T(w.Lang, "%s chat", channelLabel(d.T.Channel))))
		w.Raw(`</option><option value="email"`)
		if pg.Value("via") == portal.ViaEmail {
			w.Raw(" selected")
		}
		w.Raw(">")
		w.T("Email")
		w.Raw("</option></select></div>\n")
	}
	w.Raw("\n", `<div class="actions"><button type="submit">`)
	w.T("Send")
	w.Raw("</button>")
	if staff && len(d.Statuses) > 0 {
		// Send and set the status in one go.
		w.Raw(`<label class="inline" for="then_status">`)
		w.T("and set the status")
		w.Raw(`</label><select id="then_status" name="then_status"><option value="">`)
		w.T("— as it is —")
		w.Raw("</option>")
		_, canClose := d.Steps[portal.StepClose]
		for _, st := range d.Statuses {
			if st.ID == d.T.Status.ID || st.Closed && !canClose {
				continue
			}
			w.Raw(`<option value="`, template.HTML(strconv.FormatInt(st.ID, 10)), `"`)
			if pg.Value("then_status") == strconv.FormatInt(st.ID, 10) {
				w.Raw(" selected")
			}
			w.Raw(">")
			w.Esc(i18n.Msg(w.Lang, st.Name))
			w.Raw("</option>")
		}
		w.Raw("</select>")
	}
	w.Raw("</div>\n</form>\n")
}

// assignHTML is the form that assigns or delegates the ticket.
func (d *TicketData) assignHTML(w *htmlw, update template.HTML) {
	t := d.T
	w.Raw("\n", update, "\n", `<label for="assignee">`)
	w.Pick(t.Assignee != nil, "Delegate to", "Assign to")
	w.Raw("</label>\n", `<select id="assignee" name="assignee"><option value="none">`)
	w.T("Nobody")
	w.Raw("</option>\n")
	for _, u := range d.Staff {
		w.Raw(`<option value="`, digits(u.ID), `"`)
		if t.Assignee != nil && t.Assignee.ID == u.ID {
			w.Raw(" selected")
		}
		w.Raw(">")
		w.Esc(u.FullName())
		w.Raw("</option>")
	}
	w.Raw("</select>\n", `<div class="actions"><button type="submit" class="secondary">`)
	w.T("Save")
	w.Raw("</button></div>\n</form>\n")
}

// asideHTML is the staff's side panel: take, delegate, status, priority
// and, for admins, delete.
func (d *TicketData) asideHTML(w *htmlw, pg *templates.Page, tu, num template.HTML) {
	t := d.T
	update := `<form method="post" action="` + tu + `/update"><input type="hidden" name="_csrf" value="` + templates.Escape(pg.CSRF) + `">`
	w.Raw("\n", `<aside class="side">`, "\n", `<div class="card">`, "\n<h2>")
	w.T("Work on it")
	w.Raw("</h2>\n", `<div class="row follow"><form method="post" action="`, tu, `/follow">`)
	w.CSRFField(pg)
	if d.Following {
		w.Raw(`<input type="hidden" name="follow" value="0"><button type="submit" class="link">`)
		w.T("Stop following")
	} else {
		w.Raw(`<input type="hidden" name="follow" value="1"><button type="submit" class="link">`)
		w.T("Follow")
	}
	w.Raw(`</button></form> · <form method="post" action="`, tu, `/unread">`)
	w.CSRFField(pg)
	w.Raw(`<button type="submit" class="link">`)
	w.T("Mark as unread")
	w.Raw("</button></form></div>\n")
	_, canAssign := d.Steps[portal.StepAssign]
	switch {
	case !canAssign:
	case t.Assignee == nil:
		w.Raw(update, `<input type="hidden" name="assignee" value="me"><button type="submit">`)
		w.T("Take it")
		w.Raw("</button></form>\n")
	case t.Assignee.ID != pg.User.ID:
		w.Raw(update, `<input type="hidden" name="assignee" value="me"><button type="submit" class="secondary">`)
		w.T("Take it over")
		w.Raw("</button></form>")
	}
	if canAssign {
		d.assignHTML(w, update)
	}
	w.Raw(update, "\n")
	if len(d.Groups) > 0 {
		w.Raw(`<label for="group">`)
		w.T("Group")
		w.Raw("</label>\n", `<select id="group" name="group"><option value="none">`)
		w.T("No group")
		w.Raw("</option>")
		for _, g := range d.Groups {
			w.Raw(`<option value="`, digits(g.ID), `"`)
			if g.ID == t.GroupID() {
				w.Raw(" selected")
			}
			w.Raw(">")
			w.Esc(g.Name)
			w.Raw("</option>")
		}
		w.Raw("</select>\n")
		w.fieldError(pg, "group", "")
	}
	w.Raw(`<label for="tags">`)
	w.T("Tags")
	w.Raw(`</label><input id="tags" name="tags" type="text" autocomplete="off" placeholder="vip, refund" value="`)
	if v := pg.Value("tags"); pg.Form != nil {
		w.Esc(v)
	} else {
		for i, g := range t.Tags {
			if i > 0 {
				w.Raw(", ")
			}
			w.Esc(g.Name)
		}
	}
	w.Raw(`">`)
	w.fieldError(pg, "tags", "")
	w.Raw("\n", `<label for="status">`)
	w.T("Status")
	w.Raw("</label>\n", `<select id="status" name="status">`)
	_, canClose := d.Steps[portal.StepClose]
	for _, st := range d.Statuses {
		if st.Closed && !canClose && st.ID != t.Status.ID {
			continue // closing is not open to them here
		}
		w.Raw(`<option value="`, digits(st.ID), `"`)
		if st.ID == t.Status.ID {
			w.Raw(" selected")
		}
		w.Raw(">")
		w.T(st.Name)
		w.Raw("</option>")
	}
	w.Raw("</select>\n", `<label for="priority">`)
	w.T("Priority")
	w.Raw("</label>\n", `<select id="priority" name="priority">`)
	for _, p := range d.Priorities {
		w.Raw(`<option value="`)
		w.Esc(p)
		w.Raw(`"`)
		if p == t.Priority {
			w.Raw(" selected")
		}
		w.Raw(">")
		w.T(p)
		w.Raw("</option>")
	}
	w.Raw("</select>\n")
	w.fieldError(pg, "status", "")
	w.Raw("\n", `<div class="actions"><button type="submit" class="secondary">`)
	w.T("Save")
	w.Raw("</button></div>\n</form>\n</div>\n")
	d.clientHTML(w, pg)
	if _, canDelete := d.Steps[portal.StepDelete]; canDelete && pg.User.IsAdmin() {
		w.Raw(`<form class="card" method="post" action="`, tu, `/delete" data-confirm="Delete ticket #`, num, ` with all its messages and files? This cannot be undone.">`, "\n")
		w.CSRFField(pg)
		w.Raw(`<button type="submit" class="danger">`)
		w.T("Delete ticket")
		w.Raw("</button></form>")
	}
	if t.MergedInto == 0 {
		w.Raw("\n", `<form class="card" method="post" action="`, tu, `/merge" id="merge" novalidate>`)
		w.CSRFField(pg)
		w.fieldClass(pg, "into")
		w.Raw(`<label for="into">`)
		w.T("Merge into ticket")
		w.Raw(`</label><input id="into" name="into" type="text" inputmode="numeric" placeholder="#" value="`)
		w.Esc(pg.Value("into"))
		w.Raw(`">`)
		w.fieldError(pg, "into", ` role="alert"`)
		w.Raw(`</div><p class="help">`)
		w.T("Its messages, files, labour, tags and people in copy move there; this one stays closed, as a link.")
		w.Raw(`</p><div class="actions"><button type="submit" class="secondary">`)
		w.T("Merge")
		w.Raw("</button></div></form>")
	}
	w.Raw("\n</aside>\n")
}

// channelLabel names a messenger.
func channelLabel(kind string) string {
	if kind == portal.ChannelVK {
		return "VK"
	}
	return "Telegram"
}

// clientHTML is the client's card in the side panel: how to reach them
// (their email and any phone the questionnaire asked) and their other
// tickets.
func (d *TicketData) clientHTML(w *htmlw, pg *templates.Page) {
	c, t := d.Client, d.T
	if c == nil {
		return
	}
	b := templates.Escape(pg.Portal.Base)
	w.Raw(`<div class="card client-card" id="client">`, "\n<h2>")
	w.Esc(t.Client.Name)
	w.Raw("</h2>\n", `<p class="wrap"><a href="mailto:`)
	w.Esc(c.Email)
	w.Raw(`">`)
	w.Esc(c.Email)
	w.Raw("</a>")
	for _, v := range t.Values {
		if v.Type == "phone" && v.Value != "" {
			w.Raw(`<br><a href="tel:`)
			w.Esc(strings.Map(func(r rune) rune {
				if r == '+' || r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, v.Value))
			w.Raw(`">`)
			w.Esc(v.Value)
			w.Raw("</a>")
		}
	}
	w.Raw("</p>\n")
	if c.Organization != nil || len(c.Fields) > 0 || len(c.OrgFields) > 0 {
		w.Raw(`<dl class="kv">`)
		if o := c.Organization; o != nil {
			w.Raw("<dt>")
			w.T("Organisation")
			w.Raw(`</dt><dd><a href="`, b, `/orgs/`, digits(o.ID), `">`)
			w.Esc(o.Name)
			w.Raw("</a></dd>")
		}
		for _, f := range append(slices.Clip(c.Fields), c.OrgFields...) {
			w.Raw("<dt>")
			w.Esc(f.Label)
			w.Raw("</dt><dd>")
			if f.Type == portal.FieldCheckbox {
				w.T("yes")
			} else {
				w.Esc(f.Value)
			}
			w.Raw("</dd>")
		}
		w.Raw("</dl>\n")
	}
	if len(c.Recent) > 0 {
		w.Raw(`<h3>`)
		w.T("Other tickets")
		w.Raw("</h3>\n", `<ul class="plain">`)
		for _, o := range c.Recent {
			w.Raw(`<li><a href="`, b, `/tickets/`, digits(o.Number), `">#`, digits(o.Number), " ")
			w.Esc(o.Subject)
			w.Raw("</a> ", statusPill(o.Status, w.Lang), "</li>\n")
		}
		w.Raw("</ul>\n")
	}
	w.Raw(`<p><a href="`, b, `/tickets?client=`, digits(t.Client.ID), `">`)
	w.Raw(templates.Escape(i18n.T(w.Lang, "All the client's tickets (%d)", c.Tickets)))
	w.Raw(`</a><br><a href="`, b, `/people/`, digits(t.Client.ID), `">`)
	w.T("The client's record")
	w.Raw("</a></p>\n</div>\n")
}
