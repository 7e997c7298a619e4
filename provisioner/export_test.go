package provisioner

import (
	"context"
	"sync"
)

// Hooks for the tests of package provisioner_test.

func SetFailAt(s *Service, f func(step string) error) { s.failAt = f }

var ProvisionSteps = []string{stepCatalog, stepFiles, stepDatabase, stepRename, stepAdmin, stepCommit}

func CatalogRows(s *Service) int {
	n, _ := s.catalog.CountPortals(context.Background())
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

// OrdinaryOpen marks ctx as a request's with a large body.
var OrdinaryOpen = ordinaryOpen

// Short is the router's test of a request's body.
var Short = short

// HoldMail makes the mailer wait before each delivery round until release
// is called.
func HoldMail(s *Service) (release func()) {
	gate := make(chan struct{})
	s.mailer.mu.Lock()
	s.mailer.beforeFlush = func() { <-gate }
	s.mailer.mu.Unlock()
	return sync.OnceFunc(func() { close(gate) })
}
