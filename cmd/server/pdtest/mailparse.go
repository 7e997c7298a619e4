package pdtest

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// Parsed is a received mail, decoded: headers, subject and the plain text.
type Parsed struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
	Files   map[string]string // attachment name → content
}

// Parse decodes a raw message as a mail client would.
func Parse(t testing.TB, raw string) Parsed {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("not a mail: %v", err)
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	p := Parsed{Header: m.Header, Subject: subj, Files: map[string]string{}}
	walk(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, &p)
	return p
}

func walk(t testing.TB, ctype, cte string, body io.Reader, p *Parsed) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			if _, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
				var r io.Reader = part
				if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
					r = base64.NewDecoder(base64.StdEncoding, part)
				}
				b, _ := io.ReadAll(r)
				p.Files[dp["filename"]] = string(b)
				continue
			}
			walk(t, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, p)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, _ := io.ReadAll(r)
	switch mt {
	case "text/plain":
		p.Text += string(b)
	case "text/html":
		p.HTML += string(b)
	}
}
