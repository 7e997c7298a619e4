package templates

import (
	"html/template"
	"net/url"
)

// chrome writes the frame every page shares — head, menu, banners, tour,
// footer — in Go rather than in _layout.html. Executed by html/template,
// its thirty-odd actions each passed through reflect.Call and an escaper:
// more time than the whole hand-written ticket page inside it. Every value
// is escaped with html.EscapeString; the page's own addresses, which come
// from the request, also have their path escaped first.
type chrome struct {
	lang   string
	static func(string) string
}

type cw = Writer

// pathAttr is a request path for an attribute, escaped as a URL path.
func pathAttr(p string) template.HTML {
	return Escape((&url.URL{Path: p}).EscapedPath())
}

// head opens the page, up to the page's title.
func (c chrome) head(w *cw, pg *Page) {
	w.Raw(`<!doctype html>
<html lang="`, Escape(c.lang), `">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`)
}

// top is the rest of the head and the page's header, up to <main.
func (c chrome) top(w *cw, pg *Page) {
	w.Raw(" · ")
	if pg.Portal != nil {
		w.Esc(pg.Portal.Name)
	} else {
		w.T("Portaldesk")
	}
	nonce := Escape(pg.Nonce)
	w.Raw("</title>\n",
		`<link rel="stylesheet" href="`, Escape(c.static("app.css")), `">`, "\n",
		`<link rel="icon" href="`, Escape(c.static("logo.svg")), `">`, "\n",
		`<script src="`, Escape(c.static("app.js")), `" nonce="`, nonce, `" defer></script>`, "\n")
	if pg.Portal != nil && len(pg.Portal.Colors) > 0 {
		// The status pills' colours: a class each, since the policy lets
		// no style attribute through.
		w.Raw(`<style nonce="`, nonce, `">`)
		for _, col := range pg.Portal.Colors {
			if cl := PillClass(col); cl != "" {
				h := template.HTML(col) // checked by PillClass: # and six hex digits
				w.Raw(".", template.HTML(cl), "{background:", h, "22;color:", h, ";border-color:", h, "55}")
			}
		}
		w.Raw("</style>\n")
	}
	if ValidColor(pg.Accent) {
		h := template.HTML(pg.Accent) // checked: # and six hex digits
		w.Raw(`<style nonce="`, nonce, `">:root{--brand:`, h, `;--brand-d:`, h, `}</style>`, "\n")
	}
	w.Raw("</head>\n<body>\n", `<header class="top">`, "\n")
	if pg.Portal == nil {
		w.Raw("\n  ", `<a class="brand" href="/"><img src="`, Escape(c.static("logo.svg")), `" alt="">`)
		w.T("Portaldesk")
		w.Raw("</a>\n  ", `<nav aria-label="`)
		w.T("Main")
		w.Raw(`"></nav>`, "\n\n</header>\n<main")
		return
	}
	b := Escape(pg.Portal.Base)
	logo := pg.Portal.Logo
	if logo == "" {
		logo = c.static("logo.svg")
	}
	w.Raw("\n  ", `<a class="brand" href="`, b, `/"><img src="`, Escape(logo), `" alt="">`)
	w.Esc(pg.Portal.Name)
	w.Raw("</a>\n  ")
	if pg.User != nil {
		w.Raw(`<button type="button" class="menu-button" aria-expanded="false" aria-controls="menu" data-menu>☰ `)
		w.T("Menu")
		w.Raw("</button>\n  ")
	}
	w.Raw(`<nav id="menu" aria-label="`)
	w.T("Main")
	w.Raw(`">`, "\n  ")
	if pg.User != nil {
		c.nav(w, pg, b)
	}
	w.Raw("\n  </nav>\n  ", `<div class="who">`, "\n  ")
	if pg.User != nil {
		w.Raw(`<details class="help-menu"><summary>`)
		w.T("Help")
		w.Raw(`</summary><div><a href="`, b, `/help">`)
		w.T("Answers (knowledge base)")
		w.Raw(`</a>`)
		for _, l := range pg.Portal.Pages {
			w.Raw(`<a href="`, Escape(l.URL), `">`)
			w.Esc(l.Title)
			w.Raw(`</a>`)
		}
		w.Raw(`<a href="`, pathAttr(pg.Path), `?tour=1">`)
		w.T("Show the tour")
		w.Raw("</a>")
		if pg.User.IsStaff() {
			// The staff's own answers, here so the menu stays one line.
			w.Raw(`<a href="`, b, `/kb">`)
			w.T("Knowledge base")
			w.Raw(`</a><a href="`, b, `/canned">`)
			w.T("Canned replies")
			w.Raw(`</a>`)
			w.Raw(`<a href="`, b, `/help/api">`)
			w.T("API reference")
			w.Raw("</a>")
		}
		w.Raw("</div></details>\n  ", `<a href="`, b, `/profile">`)
		w.Esc(pg.User.Name)
		w.Raw("</a>\n    ", `<form method="post" action="`, b, `/logout">`)
		w.CSRFField(pg)
		w.Raw(`<button class="link" type="submit">`)
		w.T("Sign out")
		w.Raw("</button></form>\n  ")
	} else {
		w.Raw(`<a href="`, b, `/help">`)
		w.T("Answers")
		w.Raw(`</a> `)
		for _, l := range pg.Portal.Pages {
			w.Raw(`<a href="`, Escape(l.URL), `">`)
			w.Esc(l.Title)
			w.Raw(`</a> `)
		}
		w.Raw(`<a href="`, b, `/login">`)
		w.T("Sign in")
		w.Raw("</a>")
	}
	w.Raw("\n  </div>\n\n</header>\n<main")
}

// nav is a signed-in person's menu: what their role may open.
func (c chrome) nav(w *cw, pg *Page, b template.HTML) {
	link := func(path template.HTML, nav, text string) {
		w.Raw(`<a href="`, b, path, `"`)
		if pg.Nav == nav {
			w.Raw(` class="on" aria-current="page"`)
		}
		w.Raw(">")
		w.T(text)
		w.Raw("</a>")
	}
	staff, admin := pg.User.IsStaff(), pg.User.IsAdmin()
	w.Raw("\n")
	if staff {
		link("/tickets", "tickets", "Tickets")
	} else {
		link("/tickets", "tickets", "My tickets")
	}
	w.Raw("\n")
	link("/tickets/new", "new", "New ticket")
	w.Raw("\n")
	if staff {
		link("/people", "people", "People")
		w.Raw("\n")
		if pg.Portal.Timing {
			link("/reports/labour", "labour", "Labour")
		}
	}
	w.Raw("\n")
	if admin {
		link("/stats", "stats", "Statistics")
	}
	w.Raw("\n")
	if admin {
		// The portal's own set-up folds under one entry: the menu stays one
		// line at 1,280 px in the longer Russian words too.
		w.Raw(`<details class="nav-more"><summary`)
		switch pg.Nav {
		case "form", "groups", "actions", "sla", "automation", "subscription", "mail", "settings", "audit", "webhooks", "record-fields", "channels", "data":
			w.Raw(` class="on"`)
		}
		w.Raw(`>`)
		w.T("Administration")
		w.Raw("</summary><div>\n")
		link("/admin/settings", "settings", "Settings")
		w.Raw("\n")
		link("/admin/form", "form", "Questionnaire")
		w.Raw("\n")
		link("/admin/groups", "groups", "Groups")
		w.Raw("\n")
		link("/admin/actions", "actions", "Workflow actions")
		w.Raw("\n")
		link("/admin/sla", "sla", "Service levels")
		w.Raw("\n")
		link("/admin/automation", "automation", "Automation")
		w.Raw("\n")
		link("/admin/mail", "mail", "Mail")
		w.Raw("\n")
		link("/admin/webhooks", "webhooks", "Webhooks")
		w.Raw("\n")
		link("/admin/record-fields", "record-fields", "Client fields")
		w.Raw("\n")
		link("/admin/channels", "channels", "Messengers")
		w.Raw("\n")
		link("/admin/data", "data", "Import and export")
		w.Raw("\n")
		link("/admin/subscription", "subscription", "Subscription")
		w.Raw("\n")
		link("/admin/audit", "audit", "Audit log")
		w.Raw("\n</div></details>")
	}
	w.Raw("\n")
}

// banners closes <main and writes the page-wide messages.
func (c chrome) banners(w *cw, pg *Page) {
	w.Raw(` id="main">`, "\n")
	for _, b := range []struct {
		text        string
		class, role template.HTML
	}{{pg.Banner, "warn", "status"}, {pg.Flash, "ok", "status"}, {pg.Error, "err", "alert"}} {
		if b.text != "" {
			w.Raw(`<div class="banner `, b.class, `" role="`, b.role, `">`)
			w.Esc(b.text)
			w.Raw("</div>")
		}
		w.Raw("\n")
	}
}

// foot closes <main> and the page: the tour, when the person has not
// dismissed it, and the footer with the language switch.
func (c chrome) foot(w *cw, pg *Page) {
	w.Raw("\n</main>\n")
	if pg.Portal != nil && pg.User != nil && pg.User.Tour {
		c.tour(w, pg)
	}
	w.Raw("\n<footer>")
	if pg.Portal != nil {
		w.Esc(pg.Portal.Name)
		w.Raw(" · ")
	}
	w.T("Powered by Portaldesk")
	w.Raw("\n")
	var other, href template.HTML = `value="ru" lang="ru">Русский`, `<a href="?lang=ru" lang="ru">Русский</a>`
	if c.lang != "en" {
		other = `value="en" lang="en">English`
		href = `<a href="?lang=en" lang="en">English</a>`
	}
	if pg.Portal != nil {
		w.Raw(`<form method="post" action="`, Escape(pg.Portal.Base), `/lang" class="langs">`)
		w.CSRFField(pg)
		w.Raw(`<input type="hidden" name="next" value="`)
		w.Esc(pg.Path)
		w.Raw(`"><button class="link" name="lang" `, other, "</button></form>\n")
	} else {
		w.Raw(`<span class="langs">`, href, "</span>")
	}
	w.Raw("</footer>\n</body>\n</html>")
}

// fn is a part of the chrome as a template function, for the pages that
// are templates.
func (c chrome) fn(part func(chrome, *cw, *Page)) func(*Page) template.HTML {
	return func(pg *Page) template.HTML {
		w := NewWriter(c.lang, 2048)
		part(c, w, pg)
		return template.HTML(w.String())
	}
}

// tour is the first-login walk through a person's screens.
func (c chrome) tour(w *cw, pg *Page) {
	step := func(target template.HTML, text string) {
		w.Raw(`<li data-target='a[href$="`, target, `"]'>`)
		w.T(text)
		w.Raw("</li>\n")
	}
	w.Raw(`<aside class="tour" id="tour" aria-labelledby="tour-title" data-tour>`, "\n", `<h2 id="tour-title">`)
	staff := pg.User.IsStaff()
	if staff {
		w.T("Welcome to your helpdesk")
	} else {
		w.T("Welcome!")
	}
	w.Raw("</h2>\n<ol>\n\n")
	if staff {
		step("/tickets", "Tickets: one table of every ticket. Filter, search, and see a dot where something new happened. It updates by itself.")
		step("/tickets/new", "Open a ticket to take it, delegate it, answer the client, or write an internal note — the client never sees those.")
		step("/people", "People: invite clients (and, for admins, operators). They get their login by email.")
		if pg.User.IsAdmin() {
			step("/admin/form", "Questionnaire: design the form clients fill in. Settings and Subscription hold the rest of your portal.")
		}
	} else {
		step("/tickets", "My tickets: everything you asked, with its status and who is working on it.")
		step("/tickets/new", "New ticket: fill in the form and attach files. We answer here and by email — no need to reload.")
	}
	w.Raw("\n")
	step("/profile", "Your profile: name, password, language, and which emails you get. The tour is always under Help.")
	w.Raw("</ol>\n", `<form method="post" action="`, Escape(pg.Portal.Base), `/tour" class="tour-actions">`)
	w.CSRFField(pg)
	w.Raw(`<input type="hidden" name="next" value="`)
	w.Esc(pg.Path)
	w.Raw(`">`, "\n", `<button type="button" class="secondary" data-tour-next>`)
	w.T("Next")
	w.Raw("</button>\n", `<button type="submit" class="link">`)
	w.T("Don't show again")
	w.Raw("</button></form>\n</aside>")
}
