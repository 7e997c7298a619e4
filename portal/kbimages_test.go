package portal_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"regexp"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

func pngOf(t *testing.T, side int, noise bool) []byte {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	r := rand.New(rand.NewSource(1))
	for i := range img.Pix {
		if noise {
			img.Pix[i] = byte(r.Intn(256))
		} else {
			img.Pix[i] = 200
		}
	}
	img.Set(0, 0, color.Black)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestArticleImages: images uploaded into an article are kept with the
// portal's files (counted against its disk quota), typed by their bytes,
// shown in the article by a line relative to its page, served only to
// those who may read the article, and gone with it; a refused upload
// keeps nothing; another portal never serves them.
func TestArticleImages(t *testing.T) {
	w := newWorld(t)
	e := w.e
	art := w.api(t, w.op, "POST", "/kb/articles", map[string]any{"title": "Toner", "body": "How to change it."}).JSON(t)
	id := art["id"]
	upload := func(name string, data []byte) pdtest.Resp {
		return pdtest.Do(t, nil, "POST", fmt.Sprintf("%s/alpha/api/v1/kb/articles/%v/images", e.URL, id), pdtest.Multipart{Files: map[string][]pdtest.File{"image": {{Name: name, Data: data}}}},
			"Authorization", "Bearer "+w.op)
	}
	used := func() (n int64) {
		e.Portal(t, "alpha", func(p *portal.Portal) { n, _ = p.DiskUsage(t.Context()) })
		return n
	}
	before := used()
	empty := before
	if r := upload("notes.png", []byte("just text, not an image")); r.Status != 422 || !strings.Contains(r.Body, `"image"`) {
		t.Errorf("a text file as an image: %d %s", r.Status, r.Body)
	}
	if used() != before {
		t.Error("a refused image was kept")
	}
	pic := pngOf(t, 40, false)
	r := upload("step 1 [front].png", pic)
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	im := r.JSON(t)
	md := im["markdown"].(string)
	tok := regexp.MustCompile(`^!\[step 1 front\.png\]\(images/([0-9a-f]{32})\)$`).FindStringSubmatch(md)
	if tok == nil || im["content_type"] != "image/png" {
		t.Fatalf("the image: %v", im)
	}
	if got := used(); got != before+int64(len(pic)) {
		t.Errorf("disk usage %d, want %d", got, before+int64(len(pic)))
	}
	img := "/help/images/" + tok[1]
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha"+img, nil); r.Status != 404 {
		t.Errorf("a draft's image to someone not signed in: %d", r.Status)
	}
	if r := w.api(t, w.op, "PATCH", fmt.Sprintf("/kb/articles/%v", id), map[string]any{"body": "Open the lid.\n\n" + md, "published": true}); r.Status != 200 {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	page := pdtest.Do(t, nil, "GET", e.URL+"/alpha/help/toner", nil).Body
	if !strings.Contains(page, `<img src="images/`+tok[1]+`"`) {
		t.Errorf("the article does not show its image: %s", page)
	}
	got := pdtest.Do(t, nil, "GET", e.URL+"/alpha"+img, nil)
	if got.Status != 200 || got.Header.Get("Content-Type") != "image/png" || got.Header.Get("X-Content-Type-Options") != "nosniff" || got.Body != string(pic) {
		t.Errorf("the published image: %d %q", got.Status, got.Header.Get("Content-Type"))
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta"+img, nil); r.Status != 404 {
		t.Errorf("beta serves alpha's image: %d", r.Status)
	}
	if r := w.api(t, w.ca, "GET", fmt.Sprintf("/kb/articles/%v/images", id), nil); r.Status != 403 {
		t.Errorf("a client lists an article's images: %d", r.Status)
	}
	// From the article's edit page: uploaded, listed with its line to paste.
	op := e.SignIn(t, "alpha", "op@alpha.test")
	if r := pdtest.Do(t, op, "POST", fmt.Sprintf("%s/alpha/kb/%v/images", e.URL, id), pdtest.Multipart{Files: map[string][]pdtest.File{"image": {{Name: "lid.png", Data: pngOf(t, 20, false)}}}}); r.Status != 303 {
		t.Fatalf("upload from the page: %d %s", r.Status, r.Body)
	}
	if edit := pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/kb/%v", e.URL, id), nil).Body; !strings.Contains(edit, "![lid.png](images/") {
		t.Errorf("the edit page does not list the image")
	}
	before += int64(len(pngOf(t, 20, false)))
	// Past the disk quota: refused, nothing kept.
	e.SetPlan(t, "alpha", "business", 5, 0, 1)
	big := pngOf(t, 700, true)
	if r := upload("big.png", big); r.Status != 507 && r.Status != 413 && r.Status != 422 {
		t.Errorf("an image past the quota: %d %s", r.Status, r.Body)
	}
	if used() != before+int64(len(pic)) {
		t.Error("an image past the quota was kept")
	}
	// The article deleted: its image with it.
	if r := w.api(t, w.op, "DELETE", fmt.Sprintf("/kb/articles/%v", id), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if used() != empty || pdtest.Do(t, nil, "GET", e.URL+"/alpha"+img, nil).Status != 404 {
		t.Error("the deleted article's image is still there")
	}
}
