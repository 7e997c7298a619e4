package templates

import (
	"bytes"
	"html"

	"portaldesk/templates/i18n"
)

// Writer builds a hand-written piece of a page, for the hottest HTML,
// where html/template's reflective execution cost more than the page's
// queries. Raw writes markup the code spells out; Esc writes text people
// typed; T writes a fixed English text translated into Lang. Esc and T
// escape with html.EscapeString. It writes into a bytes.Buffer, so that a
// whole page goes straight into the buffer it is sent from.
type Writer struct {
	*bytes.Buffer
	Lang string
}

// NewWriter is a Writer into a new buffer of size bytes.
func NewWriter(lang string, size int) *Writer {
	return &Writer{Buffer: bytes.NewBuffer(make([]byte, 0, size)), Lang: lang}
}

// Raw writes parts as they are.
func (w *Writer) Raw(parts ...string) {
	for _, s := range parts {
		w.WriteString(s)
	}
}

// Esc writes s escaped.
func (w *Writer) Esc(s string) { w.WriteString(html.EscapeString(s)) }

// T writes msg translated, escaped.
func (w *Writer) T(msg string) { w.WriteString(html.EscapeString(i18n.Msg(w.Lang, msg))) }

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
