package provisioner

import "context"

// Hooks for the tests of package provisioner_test.

func SetFailAt(s *Service, f func(step string) error) { s.failAt = f }

var ProvisionSteps = []string{stepCatalog, stepFiles, stepDatabase, stepRename, stepAdmin, stepCommit}

func ProvisionHashed(s *Service, ctx context.Context, in SignupInput, hash string) (*Provisioned, error) {
	return s.provisionHashed(ctx, in, hash)
}

func CatalogRows(s *Service) int {
	var n int
	s.catalog.db.R.QueryRow("SELECT COUNT(*) FROM portals").Scan(&n)
	return n
}

// ExpirePlans makes every open portal re-read the catalog on its next request.
func ExpirePlans(s *Service) {
	s.registry.mu.Lock()
	defer s.registry.mu.Unlock()
	for _, en := range s.registry.entries {
		en.planAt.Store(0)
	}
}
