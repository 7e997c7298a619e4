package provisioner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"portaldesk/portal"
	"portaldesk/provisioner/catalog"
)

// Suspend closes a portal to everyone until it is resumed; data is kept.
func (s *Service) Suspend(ctx context.Context, slug string) error {
	return s.transition(ctx, slug, "suspend", s.catalog.Suspend)
}

// Resume opens a suspended portal again.
func (s *Service) Resume(ctx context.Context, slug string) error {
	return s.transition(ctx, slug, "resume", s.catalog.Resume)
}

func (s *Service) transition(ctx context.Context, slug, what string, move func(context.Context, int64) error) error {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err == nil {
		err = move(ctx, rec.ID)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, slug, err)
	}
	s.registry.Invalidate(slug)
	return nil
}

// Delete moves a portal's directory to DATA/trash and marks its catalog entry
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
	if err := s.catalog.MarkDeleted(ctx, rec.ID, dst); err != nil {
		return "", errors.Join(fmt.Errorf("delete %s: %w", slug, err), s.restoreFromTrash(dst, slug))
	}
	return dst, nil
}

// RestorePortal puts a portal's files in place with fill (into a staging
// directory) and makes the catalog agree: a live portal's old directory goes
// to the trash; a deleted one, or a new slug, gets a catalog entry like rec's.
func (s *Service) RestorePortal(ctx context.Context, slug string, rec *catalog.Portal, fill func(dir string) error) error {
	if msg := ValidateSlug(slug); msg != "" {
		return fmt.Errorf("restore as %q: %s", slug, msg)
	}
	staging := filepath.Join(s.cfg.DataDir, "portals", ".new-"+slug+"-"+randomHex(4))
	if err := fill(staging); err != nil {
		os.RemoveAll(staging)
		return fmt.Errorf("restore %s: %w", slug, err)
	}
	_, err := s.catalog.PortalBySlug(ctx, slug)
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
		_, err := s.catalog.CreatePortal(ctx, catalog.NewPortal{Slug: slug, Company: rec.Company, Tariff: rec.TariffID, Operators: rec.Operators, AdminEmail: rec.AdminEmail},
			func(*catalog.Portal) error {
				if _, err := os.Stat(s.PortalDir(slug)); err == nil {
					_, err = s.moveToTrash(slug, "orphan")
					return err
				}
				return nil
			})
		if err != nil {
			os.RemoveAll(staging)
			return fmt.Errorf("restore %s: catalog: %w", slug, err)
		}
	default:
		os.RemoveAll(staging)
		return err
	}
	if err := os.Rename(staging, s.PortalDir(slug)); err != nil {
		return fmt.Errorf("restore %s: %w", slug, err)
	}
	syncDir(filepath.Join(s.cfg.DataDir, "portals"))
	s.registry.Invalidate(slug)
	return nil
}
