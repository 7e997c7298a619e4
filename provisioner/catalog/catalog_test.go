package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"portaldesk/portal"
	"portaldesk/provisioner/catalog"
)

func open(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func add(t *testing.T, c *catalog.Catalog, slug, tariff string) *catalog.Portal {
	t.Helper()
	rec, err := c.CreatePortal(context.Background(), catalog.NewPortal{Slug: slug, Company: "C " + slug, Tariff: tariff, AdminEmail: "a@x.test"}, func(*catalog.Portal) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestTransitions: each state change starts only from the states it names;
// from any other it changes nothing and says so.
func TestTransitions(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	rec := add(t, c, "acme", "free")
	state := func() string {
		r, err := c.PortalByID(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}
	steps := []struct {
		name string
		do   func() error
		ok   bool
		want string
	}{
		{"resume an active portal", func() error { return c.Resume(ctx, rec.ID) }, true, "active"},
		{"recover an active portal", func() error { return c.Recover(ctx, rec.ID, "quota") }, false, "active"},
		{"read-only over quota", func() error { return c.MarkReadOnly(ctx, rec.ID, "quota") }, true, "readonly"},
		{"read-only again", func() error { return c.MarkReadOnly(ctx, rec.ID, "quota") }, false, "readonly"},
		{"resume a read-only portal", func() error { return c.Resume(ctx, rec.ID) }, false, "readonly"},
		{"recover for another reason", func() error { return c.Recover(ctx, rec.ID, "unpaid") }, false, "readonly"},
		{"suspend a read-only portal", func() error { return c.Suspend(ctx, rec.ID) }, true, "suspended"},
		{"read-only while suspended", func() error { return c.MarkReadOnly(ctx, rec.ID, "quota") }, false, "suspended"},
		{"recover while suspended", func() error { return c.Recover(ctx, rec.ID, "quota") }, false, "suspended"},
		{"suspend again", func() error { return c.Suspend(ctx, rec.ID) }, true, "suspended"},
		{"resume", func() error { return c.Resume(ctx, rec.ID) }, true, "active"},
	}
	for _, s := range steps {
		err := s.do()
		if s.ok && err != nil || !s.ok && !errors.Is(err, catalog.ErrStateChanged) {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := state(); got != s.want {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.want)
		}
	}
	if err := c.MarkDeleted(ctx, rec.ID, "/trash/acme"); err != nil {
		t.Fatal(err)
	}
	if err := c.Suspend(ctx, rec.ID); !errors.Is(err, portal.ErrNotFound) {
		t.Fatalf("suspend a deleted portal: %v", err)
	}
	if _, err := c.PortalBySlug(ctx, "acme"); !errors.Is(err, portal.ErrNotFound) {
		t.Fatalf("a deleted portal is still found: %v", err)
	}
	add(t, c, "acme", "free") // the address is free again
}

// TestOpsTable: the table pages, filters and sorts in the catalog, with
// the balance and paid-until day computed as the subscription page does.
func TestOpsTable(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	for i := 0; i < 150; i++ {
		rec := add(t, c, fmt.Sprintf("p-%03d", i), "free")
		if i == 7 {
			if _, err := c.Adjust(ctx, rec.ID, 10_000_00, "gift", "ops"); err != nil {
				t.Fatal(err)
			}
			if err := c.ChangePlan(ctx, catalog.PlanChange{From: rec, Tariff: "start", Operators: 2, Daily: catalog.DailyPrice(85000, 2), Actor: "admin"}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 9 {
			if err := c.MarkReadOnly(ctx, rec.ID, "quota"); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, total, err := c.OpsTable(ctx, catalog.OpsQuery{})
	if err != nil || total != 150 || len(rows) != catalog.OpsPageSize || rows[0].Slug != "p-000" {
		t.Fatalf("first page: %d rows of %d, %v", len(rows), total, err)
	}
	rows, _, _ = c.OpsTable(ctx, catalog.OpsQuery{Page: 2})
	if len(rows) != 50 || rows[0].Slug != "p-100" {
		t.Fatalf("second page: %d rows from %s", len(rows), rows[0].Slug)
	}
	rows, total, _ = c.OpsTable(ctx, catalog.OpsQuery{Sort: "balance"})
	if last := rows[len(rows)-1]; total != 150 || last.Slug == "p-007" {
		t.Fatal("sorted by balance, the richest portal is on the first page's end")
	}
	rows, _, _ = c.OpsTable(ctx, catalog.OpsQuery{Slug: "p-007"})
	daily := catalog.DailyPrice(85000, 2)
	want := catalog.DayTime(catalog.Day(now) + (10_000_00-daily)/daily).Format(time.DateOnly)
	if len(rows) != 1 || rows[0].Balance != 10_000_00-daily || rows[0].Tariff != "start" || rows[0].PaidUntil != want {
		t.Fatalf("p-007: %+v, want paid until %s", rows, want)
	}
	rows, total, _ = c.OpsTable(ctx, catalog.OpsQuery{State: "readonly"})
	if total != 1 || rows[0].Slug != "p-009" {
		t.Fatalf("read-only filter: %d", total)
	}
	rows, total, _ = c.OpsTable(ctx, catalog.OpsQuery{Search: "C P-01"})
	if total != 10 {
		t.Fatalf("search: %d", total)
	}
}
