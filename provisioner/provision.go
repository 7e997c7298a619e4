package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/portal/web"
	"portaldesk/provisioner/catalog"
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
	// Confirmed says the admin's address is known to be theirs (ops made
	// the portal from the shell). Otherwise — a signup on the web — the
	// portal mails no one but the admin until the admin follows the link
	// mailed to them (portal.HoldMail).
	Confirmed bool `json:"-"`
}

// Validate returns a 422 with the field errors, or nil.
func (in *SignupInput) Validate() error { return in.validate(true) }

func (in *SignupInput) validate(password bool) error {
	in.Company = portal.Line(in.Company)
	in.Slug = strings.TrimSpace(in.Slug)
	in.AdminName = portal.Line(in.AdminName)
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
	if msg := portal.ValidatePassword(in.AdminPassword, in.AdminEmail, in.AdminName, in.Company, in.Slug); msg != "" && password {
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
	Record *catalog.Portal
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

func (s *Service) provisionHashed(ctx context.Context, in SignupInput, hash string) (*Provisioned, error) {
	start := time.Now()
	tariff := in.Tariff
	if tariff == "" {
		tariff = "free"
	}
	if err := s.step(stepCatalog); err != nil {
		return nil, err
	}
	// The catalog's transaction is the lock: its unique index decides which
	// of two simultaneous signups for a slug wins, and nothing it wrote
	// exists until every file is in place and the admin is in the portal.
	var p *portal.Portal
	admin := &portal.User{Email: in.AdminEmail, Name: in.AdminName, Role: portal.RoleAdmin}
	var gate func() error
	var lease *objstore.Lease
	if s.cluster != nil {
		// This node will write the new portal: it takes its lease first.
		var err error
		if lease, _, err = s.cluster.open(ctx, &portal.Plan{Slug: in.Slug, Node: s.cluster.cfg.Node}, true); err != nil {
			return nil, fmt.Errorf("provision %s: %w", in.Slug, err)
		}
		gate = writeGate(lease)
	}
	rec, err := s.catalog.CreatePortal(ctx, catalog.NewPortal{Slug: in.Slug, Company: in.Company, Tariff: tariff, Operators: 1, AdminEmail: in.AdminEmail, Node: s.Node()},
		func(rec *catalog.Portal) (err error) {
			if p, err = s.buildPortal(ctx, rec, admin, hash, in.Confirmed, gate); err != nil {
				return err
			}
			return s.step(stepCommit)
		})
	if err != nil {
		if p != nil { // built, but the catalog entry was not committed
			p.Close()
			os.RemoveAll(s.PortalDir(in.Slug))
		}
		if s.cluster != nil {
			s.cluster.closed(in.Slug, lease, nil)
		}
		if errors.Is(err, catalog.ErrSlugTaken) {
			return nil, ErrSlugTaken
		}
		return nil, fmt.Errorf("provision %s: %w", in.Slug, err)
	}
	s.wire(p)
	if err := s.replicateOpen(p, true, lease); err != nil {
		slog.Warn("replication", "portal", in.Slug, "err", err) // the portal works; its replica starts with its next open
	}
	h := s.registry.Adopt(p)
	s.observeProvision(time.Since(start))
	return &Provisioned{Record: rec, Admin: admin, Handle: h}, nil
}

// buildPortal lays out a new portal's directory from the prebuilt
// template, in a staging directory renamed into place, opens it and adds
// its admin. When it fails after opening the portal it returns it with
// the error, for the caller to close and remove.
func (s *Service) buildPortal(ctx context.Context, rec *catalog.Portal, admin *portal.User, hash string, confirmed bool, gate func() error) (*portal.Portal, error) {
	final := s.PortalDir(rec.Slug)
	if _, err := os.Stat(final); err == nil {
		// A directory without a catalog entry is a leftover of a crash: keep it, aside.
		if _, err := s.moveToTrash(rec.Slug, "orphan"); err != nil {
			return nil, err
		}
	}
	staging := filepath.Join(s.cfg.DataDir, "portals", ".new-"+rec.Slug+"-"+randomHex(4))
	err := func() error {
		if err := s.step(stepFiles); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(staging, portal.FilesDir), 0o750); err != nil {
			return fmt.Errorf("files: %w", err)
		}
		if err := s.step(stepDatabase); err != nil {
			return err
		}
		if err := copyFileSync(s.templatePath, filepath.Join(staging, portal.DBFile)); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if rec.Node != "" {
			if err := writeEpoch(staging, rec.Epoch); err != nil {
				return fmt.Errorf("database: %w", err)
			}
		}
		if err := s.step(stepRename); err != nil {
			return err
		}
		return os.Rename(staging, final)
	}()
	if err != nil {
		os.RemoveAll(staging)
		return nil, err
	}
	syncDir(filepath.Dir(final))
	o := s.openOptions()
	o.BeforeCommit = gate
	p, err := portal.Open(ctx, final, rec.Plan(), o)
	if err != nil {
		os.RemoveAll(final)
		return nil, err
	}
	err = s.step(stepAdmin)
	if err == nil {
		err = p.Tx(ctx, func(tp *portal.Portal) error {
			if err := tp.InsertUser(ctx, admin, hash); err != nil {
				return err
			}
			if err := tp.SetSetting(ctx, "company", rec.Company); err != nil {
				return err
			}
			if confirmed {
				return nil
			}
			return tp.HoldMail(ctx, admin)
		})
	}
	return p, err
}

// PortalDir is where a portal's database and files live.
func (s *Service) PortalDir(slug string) string {
	return filepath.Join(s.cfg.DataDir, "portals", slug)
}

// MeasureDisk is what a portal takes on disk: its database (with the
// write-ahead log) and its files, of which branding is the logo (on disk
// but no attachment). Uploads in flight are not counted.
func (s *Service) MeasureDisk(slug string) (dbBytes, files, branding int64) {
	dir := s.PortalDir(slug)
	for _, f := range []string{portal.DBFile, portal.DBFile + "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			dbBytes += fi.Size()
		}
	}
	_ = filepath.WalkDir(filepath.Join(dir, portal.FilesDir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				files += fi.Size()
				if filepath.Base(filepath.Dir(path)) == "branding" {
					branding += fi.Size()
				}
			}
		}
		return nil
	})
	return dbBytes, files, branding
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
