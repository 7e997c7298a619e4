package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// Images of knowledge-base articles (portal/kbimages.go): uploaded on the
// article's edit page or through the API, served with the help.
func (s *Server) kbImageRoutes(m, api *mux.Router) {
	staff := []string{portal.RoleAdmin, portal.RoleOperator}
	m.Handle("/help/images/{token:[0-9a-f]{32}}", s.h(s.articleImage)).Methods("GET")
	m.Handle("/kb/{id:[0-9]+}/images", s.user(s.articleImageSubmit, staff...)).Methods("POST")
	m.Handle("/kb/images/{iid:[0-9]+}/delete", s.user(s.articleImageDeleteSubmit, staff...)).Methods("POST")
	api.Handle("/kb/articles/{id:[0-9]+}/images", s.user(s.apiArticleImages, staff...)).Methods("GET")
	api.Handle("/kb/articles/{id:[0-9]+}/images", s.user(s.apiAddArticleImage, staff...)).Methods("POST")
	api.Handle("/kb/images/{iid:[0-9]+}", s.user(s.apiDeleteArticleImage, staff...)).Methods("DELETE")
}

// ArticleImageList is an article's images.
type ArticleImageList struct {
	Images []portal.ArticleImage `json:"images"`
}

// readImage reads the one image of a multipart upload (part "image" or
// "file") into the article's images.
func (s *Server) readImage(w http.ResponseWriter, r *http.Request, rq *Request) (*portal.ArticleImage, error) {
	lim := rq.P.FileLimits(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxFileBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, web.BadRequest("Send the image as multipart/form-data in a part named \"image\".")
	}
	// The article first: an image for one that is not there is never read.
	if _, err := rq.P.Article(r.Context(), rq.User, pathID(r)); err != nil {
		return nil, err
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, &portal.FieldErrors{Fields: map[string]string{"image": "Choose an image to upload."}}
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &portal.FieldErrors{Fields: map[string]string{"image": fmt.Sprintf("The image is larger than the limit of %s.", portal.HumanBytes(lim.MaxFileBytes))}}
			}
			return nil, web.BadRequest("Broken multipart body: %v", err)
		}
		if n := part.FormName(); (n == "image" || n == "file") && part.FileName() != "" {
			defer part.Close()
			return rq.P.AddArticleImage(r.Context(), rq.User, pathID(r), part.FileName(), part)
		}
		part.Close()
	}
}

func (s *Server) apiAddArticleImage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	im, err := s.readImage(w, r, rq)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, im)
	return nil
}

func (s *Server) apiArticleImages(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.ArticleImages(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ArticleImageList{Images: list})
	return nil
}

func (s *Server) apiDeleteArticleImage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteArticleImage(r.Context(), rq.User, imageID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func imageID(r *http.Request) int64 {
	var id int64
	fmt.Sscan(mux.Vars(r)["iid"], &id)
	return id
}

// articleImageSubmit uploads an image from the article's edit page and
// goes back to it, where the image's line waits to be pasted.
func (s *Server) articleImageSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	back := fmt.Sprintf("%s/kb/%d", rq.Base, pathID(r))
	im, err := s.readImage(w, r, rq)
	if err != nil {
		var fe *portal.FieldErrors
		var q *portal.ErrQuota
		switch {
		case errors.As(err, &fe):
			return redirect(w, r, flashURL(rq, back, fe.Fields["image"])+"#images")
		case errors.As(err, &q):
			return redirect(w, r, flashURL(rq, back, q.Message)+"#images")
		}
		return err
	}
	return redirect(w, r, flashURL(rq, back, fmt.Sprintf("The image %s is uploaded: paste its line into the text where it should show.", im.Name))+"#images")
}

func (s *Server) articleImageDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteArticleImage(r.Context(), rq.User, imageID(r)); err != nil {
		return err
	}
	back := rq.Base + "/kb"
	if ref := r.PostFormValue("article"); ref != "" {
		back += "/" + ref
	}
	return redirect(w, r, flashURL(rq, back, "The image is deleted.")+"#images")
}

// articleImage serves an article's image to whoever may read the article.
func (s *Server) articleImage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	im, f, err := rq.P.OpenArticleImage(r.Context(), rq.User, mux.Vars(r)["token"])
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", im.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": im.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}
