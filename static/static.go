// Package static embeds the service's CSS, JavaScript and images and serves
// them under content-hashed names with a long cache lifetime.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

type asset struct {
	body, gz    []byte
	contentType string
}

// Assets is the embedded files, each reachable as /static/<name>.<hash>.<ext>.
type Assets struct {
	urls   map[string]string // logical name -> URL
	byPath map[string]*asset // hashed name -> asset
}

// New hashes and compresses every embedded file once.
func New() *Assets {
	a := &Assets{urls: map[string]string{}, byPath: map[string]*asset{}}
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:])[:10] + ext
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.byPath[hashed] = &asset{body: b, gz: gz.Bytes(), contentType: ct}
		a.urls[e.Name()] = "/static/" + hashed
	}
	return a
}

// URL is the cache-busting address of a logical file name such as "app.css".
func (a *Assets) URL(name string) string {
	if u, ok := a.urls[name]; ok {
		return u
	}
	return "/static/" + name
}

// CompressedSize is the gzip size of a logical file, for the page-weight budget.
func (a *Assets) CompressedSize(name string) int {
	u, ok := a.urls[name]
	if !ok {
		return 0
	}
	return len(a.byPath[strings.TrimPrefix(u, "/static/")].gz)
}

// ServeHTTP serves /static/<hashed name>.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byPath[strings.TrimPrefix(r.URL.Path, "/static/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.serve(w, r, "public, max-age=31536000, immutable")
}

// serve writes the asset, compressed when the client takes gzip.
func (f *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		w.Write(f.gz)
		return
	}
	w.Write(f.body)
}

// ServeFile serves a logical file under a name that does not change (a
// script other sites include, such as the widget), cached for an hour.
func (a *Assets) ServeFile(w http.ResponseWriter, r *http.Request, name string) {
	u, ok := a.urls[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	a.byPath[strings.TrimPrefix(u, "/static/")].serve(w, r, "public, max-age=3600")
}
