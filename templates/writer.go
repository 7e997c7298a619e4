package templates

import (
	"bytes"
	"html"
	"html/template"
	"strconv"

	"portaldesk/templates/i18n"
)

// Writer builds a hand-written piece of a page, for the hottest HTML,
// where html/template's reflective execution cost more than the page's
// queries. It escapes by default: Esc writes text, T a fixed English text
// translated into Lang, Int a number; only Raw writes markup as it is, and
// Raw takes template.HTML — markup the code vouches for. A string literal
// converts to it by itself; a value computed at run time must be
// converted on purpose (Escape, or template.HTML for markup built from
// escaped parts), so a forgotten escape does not compile. It writes into a
// bytes.Buffer, so that a whole page goes straight into the buffer it is
// sent from.
type Writer struct {
	*bytes.Buffer
	Lang string
}

// NewWriter is a Writer into a new buffer of size bytes.
func NewWriter(lang string, size int) *Writer {
	return &Writer{Buffer: bytes.NewBuffer(make([]byte, 0, size)), Lang: lang}
}

// Raw writes markup as it is.
func (w *Writer) Raw(parts ...template.HTML) {
	for _, s := range parts {
		w.WriteString(string(s))
	}
}

// Esc writes s escaped.
func (w *Writer) Esc(s string) { w.WriteString(escape(s)) }

// Int writes a number.
func (w *Writer) Int(n int64) { w.WriteString(strconv.FormatInt(n, 10)) }

// Escape is s escaped for HTML text or a quoted attribute.
func Escape(s string) template.HTML { return template.HTML(escape(s)) }

// escape is html.EscapeString of i18n.CleanText(s): the helpdesk keeps
// text cleaned (portal.Text), and text written before that rule must not
// turn a name around either.
func escape(s string) string { return html.EscapeString(i18n.CleanText(s)) }

// T writes msg translated, escaped.
func (w *Writer) T(msg string) { w.WriteString(escape(i18n.Msg(w.Lang, msg))) }

// Pick writes yes when cond holds and no otherwise, translated.
func (w *Writer) Pick(cond bool, yes, no string) {
	if cond {
		w.T(yes)
	} else {
		w.T(no)
	}
}

// Th writes a header cell for each text, translated.
func (w *Writer) Th(msgs ...string) {
	for _, m := range msgs {
		w.Raw("<th>")
		w.T(m)
		w.Raw("</th>")
	}
}

// CSRFField writes the hidden field of pg's form token: the first thing
// inside every form a hand-written page posts.
func (w *Writer) CSRFField(pg *Page) {
	w.Raw(`<input type="hidden" name="_csrf" value="`)
	w.Esc(pg.CSRF)
	w.Raw(`">`)
}
