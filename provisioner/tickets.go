package provisioner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"portaldesk/provisioner/catalog"
)

// ticketCounts gathers the portals' ticket counts as they change and
// writes them to the catalog every few seconds in one transaction, so
// that the ops console reads them with the rest of its table instead of
// opening every portal, and ticket creation does not wait for the catalog.
type ticketCounts struct {
	cat    *catalog.Catalog
	mu     sync.Mutex
	deltas map[int64]int64
	done   chan struct{}
	wg     sync.WaitGroup
}

// ticketFlush is how often the gathered counts reach the catalog.
const ticketFlush = 5 * time.Second

func newTicketCounts(cat *catalog.Catalog) *ticketCounts {
	t := &ticketCounts{cat: cat, deltas: map[int64]int64{}, done: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(ticketFlush)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.flush()
			case <-t.done:
				t.flush()
				return
			}
		}
	}()
	return t
}

func (t *ticketCounts) add(portalID, delta int64) {
	t.mu.Lock()
	t.deltas[portalID] += delta
	t.mu.Unlock()
}

func (t *ticketCounts) flush() {
	t.mu.Lock()
	d := t.deltas
	t.deltas = map[int64]int64{}
	t.mu.Unlock()
	if err := t.cat.AddTickets(context.Background(), d); err != nil {
		slog.Warn("ticket counts", "err", err)
		t.mu.Lock()
		for id, n := range d { // try again with the next round
			t.deltas[id] += n
		}
		t.mu.Unlock()
	}
}

// Flush writes the gathered counts now (tests, ops commands).
func (s *Service) FlushTicketCounts() { s.tickets.flush() }

func (t *ticketCounts) stop() {
	close(t.done)
	t.wg.Wait()
}
