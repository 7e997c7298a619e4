package quota

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs the jobs on their schedule (UTC): the usage sweep and
// enforcement every hour, billing and expiry reminders every day at 00:10.
// At start it runs them once, so a service that was down catches up.
type Scheduler struct {
	jobs *Jobs
	cron *cron.Cron
	now  func() time.Time
}

// NewScheduler schedules jobs; Start runs them.
func NewScheduler(j *Jobs, now func() time.Time) *Scheduler {
	if now == nil {
		now = time.Now
	}
	return &Scheduler{jobs: j, cron: cron.New(cron.WithLocation(time.UTC)), now: now}
}

func (s *Scheduler) run(names ...string) func() {
	return func() {
		for _, n := range names {
			if _, err := s.jobs.Run(context.Background(), n, s.now()); err != nil {
				slog.Error("job failed", "job", n, "err", err)
			}
		}
	}
}

// Start schedules the jobs and runs a catch-up round in the background.
func (s *Scheduler) Start() error {
	if _, err := s.cron.AddFunc("@every 1h", s.run("usage", "enforce", "autoclose", "domains")); err != nil {
		return err
	}
	if _, err := s.cron.AddFunc("10 0 * * *", s.run("billing", "expiry")); err != nil {
		return err
	}
	if _, err := s.cron.AddFunc("30 2 * * *", s.run("backup")); err != nil {
		return err
	}
	// Mailboxes every minute, each when it is due; not recorded as a run
	// unless it read one (a run a minute would bury the others).
	if _, err := s.cron.AddFunc("@every 1m", func() {
		if boxes, _, _, err := s.jobs.svc.FetchDueMailboxes(context.Background()); err != nil {
			slog.Error("job failed", "job", "mailboxes", "err", err)
		} else if boxes > 0 {
			slog.Info("job", "job", "mailboxes", "mailboxes", boxes)
		}
	}); err != nil {
		return err
	}
	// SLA clocks every minute, in the portals that have them; recorded
	// only when a target passed.
	if _, err := s.cron.AddFunc("@every 1m", func() {
		if _, breaches, err := s.jobs.svc.CheckClocks(context.Background()); err != nil {
			slog.Error("job failed", "job", "sla", "err", err)
		} else if breaches > 0 {
			slog.Info("job", "job", "sla", "breaches", breaches)
		}
	}); err != nil {
		return err
	}
	s.cron.Start()
	go s.run("billing", "expiry", "usage", "enforce")()
	return nil
}

// Stop waits for running jobs to finish.
func (s *Scheduler) Stop() { <-s.cron.Stop().Done() }
