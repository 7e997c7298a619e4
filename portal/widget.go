package portal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"portaldesk/templates/i18n"
)

// Widget is the panel a business embeds in its website with one script
// tag: it searches the public knowledge base and sends a request with one
// of the portal's forms, without leaving the site.
type Widget struct {
	Enabled bool `json:"enabled"`
	// Sites are the websites allowed to use it ("https://shop.example",
	// "shop.example" for either scheme, "*.example" for its subdomains);
	// none: any site.
	Sites  []string `json:"sites"`
	Label  string   `json:"label"`  // the button's text ("" the portal's language's "Help")
	Colour string   `json:"colour"` // the button's and the panel's colour, #rrggbb
	Form   string   `json:"form"`   // the form it sends with (a form's slug; "" the visitor chooses)
}

// WidgetInput changes the widget's settings; nil leaves a part.
type WidgetInput struct {
	Enabled *bool     `json:"enabled"`
	Sites   *[]string `json:"sites"`
	Label   *string   `json:"label"`
	Colour  *string   `json:"colour"`
	Form    *string   `json:"form"`
}

// MaxWidgetSites is how many websites may be named.
const MaxWidgetSites = 20

var colourRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Widget reads the widget's settings.
func (p *Portal) Widget(ctx context.Context) Widget {
	w := Widget{
		Enabled: p.Setting(ctx, "widget", "off") == "on",
		Label:   p.Setting(ctx, "widget_label", ""),
		Colour:  p.Setting(ctx, "widget_colour", "#2855d8"),
		Form:    p.Setting(ctx, "widget_form", ""),
		Sites:   []string{},
	}
	if s := p.Setting(ctx, "widget_sites", ""); s != "" {
		w.Sites = strings.Split(s, "\n")
	}
	return w
}

// SaveWidget checks every part of a change, then stores it whole. Admins only.
func (p *Portal) SaveWidget(ctx context.Context, actor *User, in WidgetInput) (*Widget, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	w := p.Widget(ctx)
	errs := map[string]string{}
	if in.Enabled != nil {
		w.Enabled = *in.Enabled
	}
	if in.Sites != nil {
		w.Sites = []string{}
		for _, s := range *in.Sites {
			if strings.TrimSpace(s) == "" {
				continue
			}
			site, ok := normalSite(s)
			if !ok {
				errs["sites"] = fmt.Sprintf("%q is not a website: write it like https://shop.example.com or shop.example.com.", Line(s))
				break
			}
			if !slices.Contains(w.Sites, site) {
				w.Sites = append(w.Sites, site)
			}
		}
		if len(w.Sites) > MaxWidgetSites && errs["sites"] == "" {
			errs["sites"] = fmt.Sprintf("At most %d websites.", MaxWidgetSites)
		}
	}
	if in.Label != nil {
		w.Label = strings.TrimSpace(Line(*in.Label))
		if utf8.RuneCountInString(w.Label) > 40 {
			errs["label"] = "At most 40 characters."
		}
	}
	if in.Colour != nil {
		w.Colour = strings.ToLower(strings.TrimSpace(*in.Colour))
		if !colourRE.MatchString(w.Colour) {
			errs["colour"] = "Choose a colour like #2855d8."
		}
	}
	if in.Form != nil {
		w.Form = strings.TrimSpace(*in.Form)
		if w.Form != "" {
			f, err := p.FindForm(ctx, w.Form)
			if err != nil {
				errs["form"] = "Choose one of the portal's active forms, or none."
			} else {
				w.Form = f.Slug
			}
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	on := "off"
	if w.Enabled {
		on = "on"
	}
	err := p.SetSettings(ctx, map[string]string{"widget": on, "widget_sites": strings.Join(w.Sites, "\n"),
		"widget_label": w.Label, "widget_colour": w.Colour, "widget_form": w.Form})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// normalSite is a website as the widget's list keeps it: scheme://host[:port]
// from a pasted address, a bare host (either scheme), or *.domain.
func normalSite(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	host := s
	scheme := ""
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return "", false
		}
		scheme, host = u.Scheme, u.Host
	} else {
		host, _, _ = strings.Cut(host, "/")
	}
	name := strings.TrimPrefix(host, "*.")
	if h, port, found := strings.Cut(name, ":"); found {
		if port == "" || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
			return "", false
		}
		name = h
	}
	if name == "" || len(name) > 253 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return "", false
	}
	if scheme != "" {
		if strings.HasPrefix(host, "*.") {
			return "", false
		}
		return scheme + "://" + host, true
	}
	return host, true
}

// WidgetAllows reports whether a page of origin (the browser's Origin
// header) may use the widget: it is on, and the site is listed or none is.
func (p *Portal) WidgetAllows(ctx context.Context, origin string) bool {
	w := p.Widget(ctx)
	if !w.Enabled {
		return false
	}
	if len(w.Sites) == 0 {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	for _, s := range w.Sites {
		switch {
		case strings.Contains(s, "://"):
			if s == strings.ToLower(u.Scheme)+"://"+host {
				return true
			}
		case strings.HasPrefix(s, "*."):
			if strings.HasSuffix(host, s[1:]) {
				return true
			}
		case s == host:
			return true
		}
	}
	return false
}

// WidgetTicket is a request sent from the widget by a visitor of the
// business's website, who is known only by what they type.
type WidgetTicket struct {
	Name   string            `json:"name"`
	Email  string            `json:"email"`
	Form   string            `json:"form"`   // a form's slug or id; "" the whole questionnaire
	Fields map[string]string `json:"fields"` // by field name: subject, description, and the form's own
}

// CreateWidgetTicket makes a ticket of a request sent from the widget. Its
// sender is the client with that address, or — an address that is
// nobody's — a new client without a password, mailed (as a mail's sender
// is) that the request is received, with a link to set one. An existing
// client is mailed the ticket's number, so a request sent in their name
// does not pass unseen. Everything is checked first; a refused request
// keeps nothing, the new client included. Requests are limited per
// address they come from and per address they mail.
func (p *Portal) CreateWidgetTicket(ctx context.Context, in WidgetTicket, ip string) (*Ticket, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	if !p.Widget(ctx).Enabled {
		return nil, ErrNotFound
	}
	errs := map[string]string{}
	name := strings.TrimSpace(Line(in.Name))
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		errs["name"] = "Enter your name."
	case n > 100:
		errs["name"] = "At most 100 characters."
	}
	email := strings.TrimSpace(in.Email)
	if msg := ValidateEmail(email); msg != "" {
		errs["email"] = msg
	}
	var u *User
	if errs["email"] == "" {
		found, err := p.UserByEmail(ctx, email)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		case found.Role != RoleClient || !found.Active:
			errs["email"] = "Requests from this address are not taken here: sign in to the portal instead."
		default:
			u = found
		}
	}
	if len(errs) == 0 {
		if err := p.registrationAllowed(ip, email); err != nil {
			return nil, err
		}
	}
	var t *Ticket
	err := p.Tx(ctx, func(tp *Portal) error {
		fresh := u == nil && len(errs) == 0
		actor := u
		if fresh {
			var n int
			hourAgo := tp.Now().Add(-time.Hour).Unix()
			if err := tp.q.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE role = 'client' AND password_hash = '!' AND created_at > ?", hourAgo).Scan(&n); err != nil {
				return err
			}
			if n >= MaxNewSendersPerHour {
				return &FieldErrors{Message: "Too many requests from new people this hour: please try again later.", Fields: map[string]string{}}
			}
			first, last, _ := strings.Cut(name, " ")
			actor = &User{Email: email, Name: first, Surname: strings.TrimSpace(last), Role: RoleClient, Lang: tp.Setting(ctx, "lang", "en")}
			if err := tp.InsertUser(ctx, actor, "!"); err != nil { // "!" matches no password: the mail's link sets one
				return err
			}
		}
		if actor == nil {
			actor = &User{Role: RoleClient} // nobody yet: the fields' errors are answered, nothing is written
		}
		var err error
		t, err = tp.CreateTicket(ctx, actor, NewTicket{Values: in.Fields, Form: in.Form, Source: SourceWidget, Also: errs})
		if err != nil {
			return err
		}
		if fresh {
			link, err := tp.resetLink(ctx, actor.ID, RegisteredByMailTTL)
			if err != nil {
				return err
			}
			return tp.mailTo(ctx, MailRegisteredByMail, actor, MailVars{Subject: t.Subject, Link: link}, t.Number)
		}
		return tp.mailTo(ctx, MailTicketReceived, actor, MailVars{Number: t.Number, Subject: t.Subject, Link: tp.ticketLink(t.Number)}, t.Number)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// WidgetTexts are the widget's words in lang.
func WidgetTexts(lang string) map[string]string {
	out := map[string]string{}
	for _, s := range []string{"Help", "Search the help", "Search", "Nothing found.", "Send us a request", "Your name", "Your email",
		"Topic", "Send", "Sending…", "Thank you! Your request is received as ticket #%d. We answer by mail.", "Close",
		"Something went wrong. Please try again in a moment."} {
		out[s] = i18n.Msg(lang, s)
	}
	return out
}

// WidgetForm is a front door as the widget asks it.
type WidgetForm struct {
	Slug     string   `json:"slug"` // "" the whole questionnaire
	Name     string   `json:"name"`
	Preamble string   `json:"preamble"`
	Fields   []*Field `json:"fields"`
}

// WidgetSetup is what the widget needs to draw itself: nil when it is off.
type WidgetSetup struct {
	Widget
	Portal string       `json:"portal"` // the company's name
	Help   bool         `json:"help"`   // the public knowledge base has articles to search
	Forms  []WidgetForm `json:"forms"`
}

// WidgetSetup reads the widget's settings, its forms with their fields
// and whether there is public help to search.
func (p *Portal) WidgetSetup(ctx context.Context) (*WidgetSetup, error) {
	w := p.Widget(ctx)
	if !w.Enabled {
		return nil, ErrNotFound
	}
	out := &WidgetSetup{Widget: w, Portal: p.company(), Forms: []WidgetForm{}}
	if !p.kbClosed(ctx, nil) {
		if err := p.q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM kb_articles a WHERE kind = 'article' AND "+visibleTo(nil)+")").Scan(&out.Help); err != nil {
			return nil, fmt.Errorf("store: widget help: %w", err)
		}
	}
	forms, err := p.Forms(ctx, false)
	if err != nil {
		return nil, err
	}
	if w.Form != "" {
		forms = slices.DeleteFunc(forms, func(f Form) bool { return f.Slug != w.Form })
	}
	if len(forms) == 0 {
		fields, err := p.FormFields(ctx, nil)
		if err != nil {
			return nil, err
		}
		out.Forms = append(out.Forms, WidgetForm{Fields: fields})
	}
	for i := range forms {
		fields, err := p.FormFields(ctx, &forms[i])
		if err != nil {
			return nil, err
		}
		out.Forms = append(out.Forms, WidgetForm{Slug: forms[i].Slug, Name: forms[i].Name, Preamble: forms[i].Preamble, Fields: fields})
	}
	return out, nil
}
