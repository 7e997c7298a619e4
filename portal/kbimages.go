package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ArticleImage is an image uploaded into a knowledge-base article. Its
// address carries a random token, and it is served only to those who may
// read its article (a draft's images to staff alone).
type ArticleImage struct {
	ID          int64  `json:"id"`
	Article     int64  `json:"article"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`      // where it is served
	Markdown    string `json:"markdown"` // to paste into the article: ![name](images/TOKEN), relative to the article's page
	token, path string
}

// articleImageTypes are the images an article may show.
var articleImageTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

func (im *ArticleImage) fill(base string) {
	im.URL = base + "help/images/" + im.token
	alt := strings.NewReplacer("[", "", "]", "", "\n", " ").Replace(im.Name)
	// Relative to the article's page (/{slug}/help/{article}), so it holds
	// on the portal's own domain as on its path.
	im.Markdown = "![" + alt + "](images/" + im.token + ")"
}

// AddArticleImage stores an image for article id: checked against the file
// size limit and the disk quota like an attachment (counted with them),
// typed by its bytes, refused unless PNG, JPEG, GIF or WebP. Staff only.
func (p *Portal) AddArticleImage(ctx context.Context, actor *User, id int64, name string, r io.Reader) (*ArticleImage, error) {
	if _, err := p.Article(ctx, actor, id); err != nil {
		return nil, err
	}
	files := p.NewFiles(ctx)
	defer files.Discard()
	files.lim.MaxFiles = 0 // an article is not a ticket: no count per article
	if err := files.Add(ctx, name, r); err != nil {
		var q *ErrQuota
		if errors.As(err, &q) && q.Code != "quota_exceeded" {
			return nil, &FieldErrors{Fields: map[string]string{"image": q.Message}}
		}
		return nil, err
	}
	s := files.list[0]
	ok := false
	for _, t := range articleImageTypes {
		ok = ok || s.ctype == t
	}
	if !ok {
		return nil, &FieldErrors{Fields: map[string]string{"image": fmt.Sprintf("%s is not a PNG, JPEG, GIF or WebP image.", s.name)}}
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	im := &ArticleImage{Article: id, Name: s.name, ContentType: s.ctype, Size: s.size, token: hex.EncodeToString(tok), path: path.Join("kb", newFilePath())}
	err := p.Tx(ctx, func(tp *Portal) error {
		var used int64
		if err := tp.q.QueryRow(ctx, "SELECT "+filesUsed).Scan(&used); err != nil {
			return err
		}
		if lim := files.lim; lim.DiskQuota > 0 && used+s.size > lim.DiskQuota {
			return &ErrQuota{"quota_exceeded", "The image does not fit into the portal's remaining disk space."}
		}
		res, err := tp.q.Exec(ctx, "INSERT INTO kb_images (article_id, token, name, content_type, size, path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			id, im.token, im.Name, im.ContentType, im.Size, im.path, tp.Now().Unix())
		if err != nil {
			return err
		}
		im.ID, _ = res.LastInsertId()
		if err := p.Fs.MkdirAll(path.Dir(im.path), 0o750); err != nil {
			return err
		}
		if err := p.Fs.Rename(s.tmp, im.path); err != nil {
			return err
		}
		files.moved = append(files.moved, im.path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	files.keep()
	im.fill(p.URL())
	return im, nil
}

// ArticleImages lists an article's images. Staff only.
func (p *Portal) ArticleImages(ctx context.Context, actor *User, id int64) ([]ArticleImage, error) {
	if _, err := p.Article(ctx, actor, id); err != nil {
		return nil, err
	}
	rows, err := p.q.Query(ctx, "SELECT id, article_id, name, content_type, size, token, path FROM kb_images WHERE article_id = ? ORDER BY id", id)
	if err != nil {
		return nil, fmt.Errorf("store: article images: %w", err)
	}
	defer rows.Close()
	out := []ArticleImage{}
	for rows.Next() {
		var im ArticleImage
		if err := rows.Scan(&im.ID, &im.Article, &im.Name, &im.ContentType, &im.Size, &im.token, &im.path); err != nil {
			return nil, err
		}
		im.fill(p.URL())
		out = append(out, im)
	}
	return out, rows.Err()
}

// OpenArticleImage is the image at token with its bytes, for a reader who
// may read its article.
func (p *Portal) OpenArticleImage(ctx context.Context, reader *User, token string) (*ArticleImage, io.ReadSeekCloser, error) {
	if p.kbClosed(ctx, reader) {
		return nil, nil, ErrNotFound
	}
	var im ArticleImage
	err := p.q.QueryRow(ctx, `SELECT i.id, i.article_id, i.name, i.content_type, i.size, i.token, i.path FROM kb_images i JOIN kb_articles a ON a.id = i.article_id
		WHERE i.token = ? AND `+visibleTo(reader), token).Scan(&im.ID, &im.Article, &im.Name, &im.ContentType, &im.Size, &im.token, &im.path)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	f, err := p.Fs.Open(im.path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: article image %d: %w", im.ID, err)
	}
	im.fill(p.URL())
	return &im, f, nil
}

// DeleteArticleImage removes an image (its file once the row is gone). Staff only.
func (p *Portal) DeleteArticleImage(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	var file string
	err := p.Tx(ctx, func(tp *Portal) error {
		if err := tp.q.QueryRow(ctx, "SELECT path FROM kb_images WHERE id = ?", id).Scan(&file); err != nil {
			return ErrNotFound
		}
		_, err := tp.q.Exec(ctx, "DELETE FROM kb_images WHERE id = ?", id)
		return err
	})
	if err != nil {
		return err
	}
	p.Fs.Remove(file)
	return nil
}
