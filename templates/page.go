package templates

import "net/url"

// Page is what every HTML template receives.
type Page struct {
	Title  string
	Lang   string      // the language the page is shown in: "en" or "ru"
	Path   string      // the page's own address, to come back to after switching language
	Portal *PortalView // nil on the service's own pages
	User   *UserView   // nil when nobody is signed in
	Nav    string      // which menu entry is active
	Flash  string      // a one-line confirmation
	Banner string      // a page-wide warning (over quota, read-only)
	Form   url.Values  // what the user typed, so an error never loses it
	Errors map[string]string
	Error  string // a form-wide error message
	// CSRF is the token every form of the page posts (web.CSRF): the
	// templates put it into each post form by themselves.
	CSRF string
	// Stamp is when a signup or registration form was shown, signed
	// (web.Humans): such forms post it back in a hidden field.
	Stamp string
	// Nonce lets the page's own script and style run under its
	// Content-Security-Policy; Render makes a new one for every response.
	Nonce string
	// Accent is a colour of the page's own ("#rrggbb"; the public help's),
	// in place of the brand colour; "" keeps it.
	Accent string
	Data   any
}

// PortalView is the portal as its pages show it.
type PortalView struct {
	Name string
	Slug string
	Base string // path prefix: "/acme" or "" on a custom domain
	URL  string // absolute address to share
	Logo string // the portal's own logo, "" for the default
	// Domain is the portal's own verified host name, "" when none.
	Domain string
	// Timing says whether the tariff includes labour-cost timing.
	Timing bool
	// Colors are the portal's status colours ("#rrggbb", checked when a
	// status is saved): the page's style gives each a pill class (PillClass).
	Colors []string
	// Pages are the business's info pages the reader may open, for the menu.
	Pages []Link
}

// Link is a titled address.
type Link struct {
	Title, URL string
}

// PillClass is the class of a status pill in color; "" for a colour that
// is not "#" and six hex digits, which keeps the plain pill.
func PillClass(color string) string {
	if !ValidColor(color) {
		return ""
	}
	return "c-" + color[1:]
}

// ValidColor reports whether c is a hex colour like #2563eb: "#" and six
// hex digits, the only colours a page writes into its style.
func ValidColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// UserView is the signed-in person as pages show them.
type UserView struct {
	ID    int64
	Name  string
	Email string
	Role  string
	// Tour says whether to show the first-login tour of the person's screens.
	Tour bool
}

// IsStaff reports whether the user is an operator or an admin.
func (u *UserView) IsStaff() bool { return u != nil && (u.Role == "operator" || u.Role == "admin") }

// IsAdmin reports whether the user is an admin.
func (u *UserView) IsAdmin() bool { return u != nil && u.Role == "admin" }

// Value is what the user typed into field name.
func (p *Page) Value(name string) string {
	if p.Form == nil {
		return ""
	}
	return p.Form.Get(name)
}

// FieldError is the error shown at field name.
func (p *Page) FieldError(name string) string {
	if p.Errors == nil {
		return ""
	}
	return p.Errors[name]
}
