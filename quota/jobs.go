// Package quota runs the scheduled jobs that keep every portal honest: the
// usage sweep, quota enforcement, the daily billing run and expiry
// reminders. Each job is idempotent, catches up after downtime, records its
// runs in the catalog, and can be run by hand (`portaldesk jobs run NAME`).
package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
	"portaldesk/templates/i18n"
)

// Jobs runs the scheduled work over one service.
type Jobs struct {
	svc *provisioner.Service
	cat *catalog.Catalog
	// Retention of snapshots (default 7 daily, 4 weekly).
	Retention Retention
}

// New makes the jobs of svc.
func New(svc *provisioner.Service) *Jobs {
	return &Jobs{svc: svc, cat: svc.Catalog(), Retention: Retention{Daily: 7, Weekly: 4}}
}

// Names are the jobs that can be run by hand.
var Names = []string{"usage", "enforce", "billing", "expiry", "autoclose", "domains", "mailboxes", "sla", "backup"}

// Counts is what a run did, for its record.
type Counts map[string]int

// Run runs one job as of now and records it.
func (j *Jobs) Run(ctx context.Context, name string, now time.Time) (Counts, error) {
	fn := map[string]func(context.Context, time.Time) (Counts, error){
		"usage": j.Usage, "enforce": j.Enforce, "billing": j.Billing, "expiry": j.Expiry, "autoclose": j.AutoClose,
		"mailboxes": func(ctx context.Context, now time.Time) (Counts, error) {
			boxes, messages, failed, err := j.svc.FetchDueMailboxes(ctx)
			return Counts{"mailboxes": boxes, "messages": messages, "failed": failed}, err
		},
		"sla": func(ctx context.Context, now time.Time) (Counts, error) {
			portals, breaches, err := j.svc.CheckClocks(ctx)
			return Counts{"portals": portals, "breaches": breaches}, err
		},
		"domains": func(ctx context.Context, now time.Time) (Counts, error) {
			checked, verified, err := j.svc.CheckPendingDomains(ctx)
			return Counts{"checked": checked, "verified": verified}, err
		},
		"backup": func(ctx context.Context, now time.Time) (Counts, error) {
			dirs, err := j.BackupAll(ctx, now, nil)
			return Counts{"snapshots": len(dirs)}, err
		},
	}[name]
	if fn == nil {
		return nil, fmt.Errorf("no job %q (jobs: %s)", name, strings.Join(Names, ", "))
	}
	start := time.Now()
	id, err := j.cat.StartRun(ctx, name, now, start)
	if err != nil {
		return nil, err
	}
	counts, runErr := fn(ctx, now)
	j.svc.Metrics().ObserveJob(name, time.Since(start), runErr)
	outcome := "ok"
	if runErr != nil {
		outcome = "error: " + runErr.Error()
	}
	b, _ := json.Marshal(counts)
	_ = j.cat.FinishRun(ctx, id, time.Now(), outcome, string(b))
	slog.Info("job", "job", name, "as_of", now.UTC().Format(time.RFC3339), "duration", time.Since(start), "outcome", outcome, "counts", string(b))
	return counts, runErr
}

// Usage measures each portal's database (file plus WAL, by stat — never by
// opening the live file) and attachments (a walk of its files directory),
// into the catalog. It opens no portal database, so it neither stalls
// requests nor churns the registry; a portal that is open anyway has its
// attachment bytes reconciled with its own records and its tickets counted.
func (j *Jobs) Usage(ctx context.Context, now time.Time) (Counts, error) {
	list, err := j.cat.Portals(ctx)
	if err != nil {
		return nil, err
	}
	j.svc.FlushTicketCounts() // the counts taken below replace what is gathered until now
	c := Counts{}
	for _, rec := range list {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		if !j.svc.ServesHere(rec) {
			continue // its node measures it
		}
		dbBytes, disk, branding := j.svc.MeasureDisk(rec.Slug)
		var tickets *int64
		if h := j.svc.Registry().Peek(rec.Slug); h != nil {
			recorded, err := h.Portal.DiskUsage(ctx)
			if n, err := h.Portal.TicketCount(ctx); err == nil {
				tickets = &n
			}
			h.Release()
			if err == nil && recorded != disk-branding {
				slog.Warn("attachment bytes differ from the portal's records", "portal", rec.Slug, "on_disk", disk, "recorded", recorded)
				c["mismatch"]++
			}
			c["reconciled"]++
		}
		if err := j.cat.RecordUsage(ctx, rec.ID, dbBytes, disk, now, tickets); err != nil {
			return c, err
		}
		c["portals"]++
	}
	c["mail_files"], _ = j.svc.Mailer().MailFiles(now)
	return c, nil
}

// Level is how full a portal is: 0, 80 (warn) or 100 (over).
func Level(used, quota int64) int {
	switch {
	case quota <= 0:
		return 0
	case used >= quota:
		return 100
	case used*100 >= quota*80:
		return 80
	}
	return 0
}

// Enforce compares usage with quotas: admins are warned at 80 % and 100 %
// (once per level), a portal over 100 % goes read-only, and comes back by
// itself when usage falls or the tariff grows. A portal whose state
// changed since it was read (ops suspended it meanwhile) is left as ops
// left it: the state transitions are compare-and-set.
func (j *Jobs) Enforce(ctx context.Context, now time.Time) (Counts, error) {
	if !j.svc.Leads() {
		return Counts{}, nil // the cluster's catalog primary does it, once
	}
	list, err := j.cat.Portals(ctx)
	if err != nil {
		return nil, err
	}
	c := Counts{}
	for _, rec := range list {
		u, ok, err := j.cat.Usage(ctx, rec.ID)
		if err != nil {
			return c, err
		}
		if !ok {
			continue
		}
		plan := rec.Plan()
		level := max(Level(u.DBBytes, plan.DBQuotaBytes), Level(u.DiskBytes, plan.DiskQuotaBytes))
		if level != u.Level {
			if err := j.cat.SetUsageLevel(ctx, rec.ID, level); err != nil {
				return c, err
			}
		}
		changed := false
		switch {
		case level >= 100 && rec.State == portal.StateActive:
			err = j.cat.MarkReadOnly(ctx, rec.ID, "quota")
			changed = err == nil
			if changed {
				c["readonly"]++
			}
		case level < 100 && rec.State == portal.StateReadOnly && rec.ReadOnlyReason == "quota":
			err = j.cat.Recover(ctx, rec.ID, "quota")
			changed = err == nil
			if changed {
				c["recovered"]++
			}
		}
		switch {
		case errors.Is(err, catalog.ErrStateChanged), errors.Is(err, portal.ErrNotFound):
			c["state_changed"]++
		case err != nil:
			return c, err
		}
		if level > 0 {
			c[fmt.Sprintf("level_%d", level)]++
			key := fmt.Sprintf("quota-%d", level)
			render := func(lang string) (string, string) {
				text := i18n.T(lang, "Your portal %s uses %d%% or more of its quota: database %s of %s, files %s of %s.", rec.Company, level,
					i18n.Bytes(lang, u.DBBytes), i18n.Bytes(lang, plan.DBQuotaBytes), i18n.Bytes(lang, u.DiskBytes), i18n.Bytes(lang, plan.DiskQuotaBytes))
				if level >= 100 {
					text += " " + i18n.T(lang, "Until space is freed or the tariff grows, the portal is read-only: people can read and export but not add anything.")
				}
				return i18n.T(lang, "Storage quota: %d%% used", level), text
			}
			if err := j.notifyOnce(ctx, rec, key, render); err != nil {
				slog.Warn("quota notice", "portal", rec.Slug, "err", err)
			}
		} else if u.Level > 0 {
			_ = j.cat.ForgetNotices(ctx, rec.ID, "quota-")
		}
		if level != u.Level || changed || level >= 100 {
			j.svc.Registry().Invalidate(rec.Slug)
		}
	}
	return c, nil
}

// notifyOnce mails the portal's admins unless this notice was sent before.
func (j *Jobs) notifyOnce(ctx context.Context, rec *catalog.Portal, key string, render func(lang string) (subject, text string)) error {
	first, err := j.cat.FirstNotice(ctx, rec.ID, key)
	if err != nil || !first {
		return err
	}
	h, err := j.svc.Registry().Acquire(ctx, rec.Slug)
	if err != nil {
		return err
	}
	defer h.Release()
	return h.Portal.NotifyAdmins(ctx, "notice", render)
}

// Billing charges each paid portal its daily share for every day from the one
// after it was last charged through today — so a run after days of downtime
// catches up, and a second run on a day charges nothing. When the balance
// cannot pay a day, the subscription expires: the portal falls back to the
// free tariff, and no data is touched.
func (j *Jobs) Billing(ctx context.Context, now time.Time) (Counts, error) {
	if !j.svc.Leads() {
		return Counts{}, nil // the cluster's catalog primary does it, once
	}
	list, err := j.cat.Portals(ctx)
	if err != nil {
		return nil, err
	}
	c := Counts{}
	today := catalog.Day(now)
	for _, rec := range list {
		if rec.Tariff.PricePerOperator == 0 {
			continue
		}
		charged, expired, err := j.svc.ChargeThrough(ctx, rec, today)
		if err != nil {
			return c, fmt.Errorf("billing %s: %w", rec.Slug, err)
		}
		c["charges"] += charged
		if expired {
			c["expired"]++
			if err := j.notifyOnce(ctx, rec, fmt.Sprintf("expired-%d", today), func(lang string) (string, string) {
				return i18n.T(lang, "Your subscription has expired"),
					i18n.T(lang, "The balance no longer covers your tariff, so the portal is now on the free tariff: operators beyond the first cannot sign in and paid features are locked. Nothing was deleted. Top up to get everything back.")
			}); err != nil {
				slog.Warn("expiry notice", "portal", rec.Slug, "err", err)
			}
		}
		c["portals"]++
	}
	return c, nil
}

// Expiry reminds the admins of paid portals 7, 3 and 1 days before the
// balance runs out, once each.
func (j *Jobs) Expiry(ctx context.Context, now time.Time) (Counts, error) {
	if !j.svc.Leads() {
		return Counts{}, nil // the cluster's catalog primary does it, once
	}
	list, err := j.cat.Portals(ctx)
	if err != nil {
		return nil, err
	}
	c := Counts{}
	for _, rec := range list {
		if rec.Tariff.PricePerOperator == 0 {
			continue
		}
		sub, err := j.svc.Subscription(ctx, rec.ID)
		if err != nil || sub.PaidUntil == "" {
			continue
		}
		until, _ := time.Parse(time.DateOnly, sub.PaidUntil)
		left := int(until.Sub(now.UTC().Truncate(24*time.Hour)).Hours() / 24)
		marks := []int{7, 3, 1}
		sort.Ints(marks)
		for _, m := range marks {
			if left <= m && left >= 0 {
				key := fmt.Sprintf("remind-%d-%s", m, sub.PaidUntil)
				render := func(lang string) (string, string) {
					days := i18n.N(lang, left, "%d day", "%d days")
					return i18n.T(lang, "Your subscription runs out in %s", i18n.N(lang, max(left, 1), "%d day", "%d days")),
						i18n.T(lang, "The balance of your portal %s (%s) lasts until %s — %s. Top up to keep your tariff %s.", rec.Company, sub.Account, sub.PaidUntil, days, sub.TariffName)
				}
				if err := j.notifyOnce(ctx, rec, key, render); err != nil {
					slog.Warn("reminder", "portal", rec.Slug, "err", err)
				}
				c["reminders"]++
				break
			}
		}
	}
	return c, nil
}

// AutoClose resolves, in every portal that is in use, the tickets that
// have waited for their client longer than the portal's workflow allows
// (portal.AutoClose). It opens each active portal in turn, as a request
// would (the registry admits none it would not keep).
func (j *Jobs) AutoClose(ctx context.Context, now time.Time) (Counts, error) {
	list, err := j.cat.Portals(ctx)
	if err != nil {
		return nil, err
	}
	c := Counts{}
	var errs []error
	for _, rec := range list {
		if rec.State != portal.StateActive || !j.svc.ServesHere(rec) {
			continue
		}
		h, err := j.svc.Registry().Acquire(ctx, rec.Slug)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rec.Slug, err))
			continue
		}
		n, err := h.Portal.AutoClose(ctx)
		h.Release()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rec.Slug, err))
		}
		c["portals"]++
		c["closed"] += n
	}
	return c, errors.Join(errs...)
}
