package provisioner

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// SignupInput is the one short form a business fills to get a portal.
type SignupInput struct {
	Company       string `json:"company"`
	Slug          string `json:"slug"`
	AdminName     string `json:"admin_name"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	// Tariff is the catalog id of the tariff to start on (default "free").
	Tariff string `json:"-"`
}

// Validate returns a 422 with the field errors, or nil.
func (in *SignupInput) Validate() error { return in.validate(true) }

func (in *SignupInput) validate(password bool) error {
	in.Company = strings.TrimSpace(in.Company)
	in.Slug = strings.TrimSpace(in.Slug)
	in.AdminName = strings.TrimSpace(in.AdminName)
	in.AdminEmail = strings.TrimSpace(in.AdminEmail)
	f := map[string]string{}
	switch n := utf8.RuneCountInString(in.Company); {
	case n == 0:
		f["company"] = "Enter your company's name."
	case n > 120:
		f["company"] = "The company name must be at most 120 characters long."
	}
	if msg := ValidateSlug(in.Slug); msg != "" {
		f["slug"] = msg
	}
	switch n := utf8.RuneCountInString(in.AdminName); {
	case n == 0:
		f["admin_name"] = "Enter your name."
	case n > 120:
		f["admin_name"] = "The name must be at most 120 characters long."
	}
	if msg := portal.ValidateEmail(in.AdminEmail); msg != "" {
		f["admin_email"] = msg
	}
	if msg := portal.ValidatePassword(in.AdminPassword); msg != "" && password {
		f["admin_password"] = msg
	}
	if len(f) > 0 {
		return web.Invalid(f)
	}
	return nil
}

// ErrSlugTaken is the 409 answer when the address is already in use.
var ErrSlugTaken = &web.Error{Status: http.StatusConflict, Code: "slug_taken", Message: "This portal address is already taken.",
	Fields: map[string]string{"slug": "This address is already taken. Please choose another."}}

// Provisioned is the outcome of a signup: the new portal, open, and its admin.
type Provisioned struct {
	Record *PortalRecord
	Admin  *portal.User
	Handle *Handle // the portal, already in the registry; Release it when done
}

// Provision creates a portal: catalog row, database from the prebuilt
// template, attachment directory and admin, all or nothing.
func (s *Service) Provision(ctx context.Context, in SignupInput) (*Provisioned, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := portal.HashPassword(in.AdminPassword)
	if err != nil {
		return nil, err
	}
	return s.provisionHashed(ctx, in, hash)
}

// steps of provisioning, named so that tests can fail each one.
const (
	stepCatalog  = "catalog"
	stepFiles    = "files"
	stepDatabase = "database"
	stepRename   = "rename"
	stepAdmin    = "admin"
	stepCommit   = "commit"
)

func (s *Service) step(name string) error {
	if s.failAt != nil {
		return s.failAt(name)
	}
	return nil
}

// ProvisionHashed is Provision with the admin's password already hashed, for
// bulk provisioning (the load command, benchmarks) where one hash serves many.
func (s *Service) ProvisionHashed(ctx context.Context, in SignupInput, hash string) (*Provisioned, error) {
	if err := in.validate(false); err != nil {
		return nil, err
	}
	return s.provisionHashed(ctx, in, hash)
}

func (s *Service) provisionHashed(ctx context.Context, in SignupInput, hash string) (_ *Provisioned, err error) {
	start := time.Now()
	tariff := in.Tariff
	if tariff == "" {
		tariff = "free"
	}
	now := s.now()
	// The catalog transaction is the lock: its unique index decides which of
	// two simultaneous signups for a slug wins, and nothing it wrote exists
	// until every file is in place.
	tx, err := s.catalog.db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := s.step(stepCatalog); err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO portals (slug, company, state, tariff_id, operators, admin_email, created_at) VALUES (?, ?, 'active', ?, 1, ?, ?)",
		in.Slug, in.Company, tariff, in.AdminEmail, now.Unix())
	if err != nil {
		if portal.IsUniqueViolation(err) {
			return nil, ErrSlugTaken
		}
		return nil, fmt.Errorf("provision %s: catalog: %w", in.Slug, err)
	}
	id, _ := res.LastInsertId()
	rec, err := scanPortal(tx.QueryRowContext(ctx, portalSelect+" WHERE p.id = ?", id))
	if err != nil {
		return nil, err
	}

	final := s.PortalDir(in.Slug)
	if _, err := os.Stat(final); err == nil {
		// A directory without a catalog row is a leftover of a crash: keep it, aside.
		if _, err := s.moveToTrash(in.Slug, "orphan"); err != nil {
			return nil, fmt.Errorf("provision %s: %w", in.Slug, err)
		}
	}
	staging := filepath.Join(s.cfg.DataDir, "portals", ".new-"+in.Slug+"-"+randomHex(4))
	renamed := false
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
			if renamed {
				os.RemoveAll(final)
			}
		}
	}()
	if err := s.step(stepFiles); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(staging, portal.FilesDir), 0o750); err != nil {
		return nil, fmt.Errorf("provision %s: files: %w", in.Slug, err)
	}
	if err := s.step(stepDatabase); err != nil {
		return nil, err
	}
	if err := copyFileSync(s.templatePath, filepath.Join(staging, portal.DBFile)); err != nil {
		return nil, fmt.Errorf("provision %s: database: %w", in.Slug, err)
	}
	if err := s.step(stepRename); err != nil {
		return nil, err
	}
	if err := os.Rename(staging, final); err != nil {
		return nil, fmt.Errorf("provision %s: %w", in.Slug, err)
	}
	renamed = true
	syncDir(filepath.Dir(final))

	plan := rec.Plan()
	p, err := portal.Open(ctx, final, plan, s.openOptions())
	if err != nil {
		return nil, err
	}
	admin := &portal.User{Email: in.AdminEmail, Name: in.AdminName, Role: portal.RoleAdmin}
	err = func() error {
		if err := s.step(stepAdmin); err != nil {
			return err
		}
		return p.DB.Tx(ctx, func(ctx context.Context, ptx *sql.Tx) error {
			if err := portal.InsertUser(ctx, ptx, admin, hash, now); err != nil {
				return err
			}
			return portal.SetSetting(ctx, ptx, "company", in.Company)
		})
	}()
	if err == nil {
		err = s.step(stepCommit)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("provision %s: %w", in.Slug, err)
	}
	s.wire(p)
	h := s.registry.Adopt(p)
	s.observeProvision(time.Since(start))
	return &Provisioned{Record: rec, Admin: admin, Handle: h}, nil
}

// PortalDir is where a portal's database and files live.
func (s *Service) PortalDir(slug string) string {
	return filepath.Join(s.cfg.DataDir, "portals", slug)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// copyFileSync copies a closed file (the template, never a live database)
// and syncs the copy to disk.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// moveToTrash moves a portal's directory into DATA/trash; nothing is erased.
func (s *Service) moveToTrash(slug, why string) (string, error) {
	trash := filepath.Join(s.cfg.DataDir, "trash")
	if err := os.MkdirAll(trash, 0o750); err != nil {
		return "", err
	}
	dst := filepath.Join(trash, fmt.Sprintf("%s-%s-%s", slug, why, s.now().UTC().Format("20060102T150405Z")))
	if _, err := os.Stat(dst); err == nil {
		dst += "-" + randomHex(3)
	}
	if err := os.Rename(s.PortalDir(slug), dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return dst, nil
}

func (s *Service) restoreFromTrash(trashPath, slug string) error {
	return os.Rename(trashPath, s.PortalDir(slug))
}
