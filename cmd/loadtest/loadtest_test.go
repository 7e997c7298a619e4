package loadtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/loadtest"
)

// TestLoadSmall runs the whole load command in miniature against an
// in-process service on loopback: every operation answers as it should and
// everything the load created is there afterwards.
func TestLoadSmall(t *testing.T) {
	res, err := loadtest.Run(context.Background(), loadtest.Options{
		Portals: 4, Duration: 1500 * time.Millisecond, Concurrency: 4, Tickets: 4, OpenLimit: 2,
		DataDir: t.TempDir(), CompareTickets: 30, CompareDuration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		var bad []string
		for name, o := range res.Operations {
			if o.Errors > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d", name, o.Errors))
			}
		}
		if res.TicketPage != nil && res.TicketPage.Errors > 0 {
			bad = append(bad, fmt.Sprintf("the ticket page alone: %d", res.TicketPage.Errors))
		}
		for name, o := range res.Comparison {
			if o.Errors > 0 {
				bad = append(bad, fmt.Sprintf("comparison %s: %d", name, o.Errors))
			}
		}
		t.Fatalf("%d errors: %s", res.Errors, strings.Join(bad, ", "))
	}
	if res.Requests == 0 || res.RequestsPerSecond <= 0 {
		t.Fatalf("no requests measured: %+v", res)
	}
	for _, name := range []string{"client: my tickets", "operator: ticket page", "client: create a ticket"} {
		if res.Operations[name] == nil || res.Operations[name].Count == 0 {
			t.Errorf("operation %q never ran", name)
		}
	}
	if !strings.HasPrefix(res.Verified, "all ") {
		t.Errorf("verification: %s", res.Verified)
	}
	if res.TicketPage == nil || res.TicketPage.Count == 0 {
		t.Error("the ticket page alone was not measured")
	}
	for _, n := range []string{"ticket creation", "ticket page", "operators' table"} {
		if res.Comparison[n] == nil || res.Comparison[n].Count == 0 {
			t.Errorf("comparison %q missing", n)
		}
	}
	if res.OpenPortals == 0 || res.RSSBytes == 0 {
		t.Errorf("service stats not read: rss %d open %d", res.RSSBytes, res.OpenPortals)
	}
}
