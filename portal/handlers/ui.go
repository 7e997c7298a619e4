package handlers

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	qrcode "github.com/skip2/go-qrcode"
)

// tourSubmit remembers that the person pressed "Don't show again"; the
// help menu's "Show the tour" brings it back with ?tour=1.
func (s *Server) tourSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DismissTour(r.Context(), rq.User); err != nil {
		return err
	}
	return redirect(w, r, localNext(rq.Base, r.FormValue("next")))
}

// qrCode is the portal's address as a QR code for printed materials, as
// PNG or SVG (github.com/skip2/go-qrcode).
func (s *Server) qrCode(w http.ResponseWriter, r *http.Request, rq *Request) error {
	q, err := qrcode.New(s.portalURL(r, rq), qrcode.Medium)
	if err != nil {
		return err
	}
	name := "portal-" + rq.P.Slug + "-qr"
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if mux.Vars(r)["ext"] == "svg" {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Disposition", `inline; filename="`+name+`.svg"`)
		_, err = w.Write(qrSVG(q.Bitmap()))
		return err
	}
	png, err := q.PNG(512)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`.png"`)
	_, err = w.Write(png)
	return err
}

// qrSVG draws a QR bitmap as SVG: one path, a unit square per dark module.
func qrSVG(bm [][]bool) []byte {
	var b bytes.Buffer
	n := len(bm)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}
