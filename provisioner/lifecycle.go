package provisioner

import (
	"context"
	"errors"
	"fmt"

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
