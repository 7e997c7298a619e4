package provisioner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"portaldesk/portal"
)

// Suspend closes a portal to everyone until it is resumed; data is kept.
func (s *Service) Suspend(ctx context.Context, slug string) error {
	if err := s.catalog.SetState(ctx, slug, portal.StateSuspended); err != nil {
		return fmt.Errorf("suspend %s: %w", slug, err)
	}
	s.registry.Invalidate(slug)
	return nil
}

// Resume opens a suspended portal again.
func (s *Service) Resume(ctx context.Context, slug string) error {
	if err := s.catalog.SetState(ctx, slug, portal.StateActive); err != nil {
		return fmt.Errorf("resume %s: %w", slug, err)
	}
	s.registry.Invalidate(slug)
	return nil
}

// Delete moves a portal's directory to DATA/trash and marks its catalog row
// deleted; nothing is erased, and the address becomes free again.
func (s *Service) Delete(ctx context.Context, slug string) (string, error) {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return "", fmt.Errorf("delete %s: %w", slug, err)
	}
	s.registry.Invalidate(slug)
	s.registry.WaitClosed()
	dst, err := s.moveToTrash(slug, "deleted")
	if err != nil {
		return "", fmt.Errorf("delete %s: %w", slug, err)
	}
	_, err = s.catalog.db.W.ExecContext(ctx, "UPDATE portals SET state = 'deleted', deleted_at = ?, trash_path = ? WHERE id = ?", s.now().Unix(), dst, rec.ID)
	if err != nil {
		return "", errors.Join(fmt.Errorf("delete %s: %w", slug, err), s.restoreFromTrash(dst, slug))
	}
	_, _ = s.catalog.db.W.ExecContext(ctx, "DELETE FROM domains WHERE portal_id = ?", rec.ID)
	return dst, nil
}

// RestorePortal puts a portal's files in place with fill (into a staging
// directory) and makes the catalog agree: a live portal's old directory goes
// to the trash; a deleted one, or a new slug, gets a catalog entry like rec's.
func (s *Service) RestorePortal(ctx context.Context, slug string, rec *PortalRecord, fill func(dir string) error) error {
	if msg := ValidateSlug(slug); msg != "" {
		return fmt.Errorf("restore as %q: %s", slug, msg)
	}
	staging := filepath.Join(s.cfg.DataDir, "portals", ".new-"+slug+"-"+randomHex(4))
	if err := fill(staging); err != nil {
		os.RemoveAll(staging)
		return fmt.Errorf("restore %s: %w", slug, err)
	}
	live, err := s.catalog.PortalBySlug(ctx, slug)
	switch {
	case err == nil:
		s.registry.Invalidate(slug)
		s.registry.WaitClosed()
		if _, err := s.moveToTrash(slug, "replaced"); err != nil {
			os.RemoveAll(staging)
			return err
		}
	case errors.Is(err, portal.ErrNotFound):
		// Deleted, or restored under a new slug: a catalog entry again.
		if _, err := s.catalog.db.W.ExecContext(ctx, `INSERT INTO portals (slug, company, state, tariff_id, operators, admin_email, created_at) VALUES (?, ?, 'active', ?, ?, ?, ?)`,
			slug, rec.Company, rec.TariffID, rec.Operators, rec.AdminEmail, s.now().Unix()); err != nil {
			os.RemoveAll(staging)
			return fmt.Errorf("restore %s: catalog: %w", slug, err)
		}
		if _, err := os.Stat(s.PortalDir(slug)); err == nil {
			s.moveToTrash(slug, "orphan")
		}
	default:
		os.RemoveAll(staging)
		return err
	}
	_ = live
	if err := os.Rename(staging, s.PortalDir(slug)); err != nil {
		return fmt.Errorf("restore %s: %w", slug, err)
	}
	syncDir(filepath.Join(s.cfg.DataDir, "portals"))
	s.registry.Invalidate(slug)
	return nil
}
