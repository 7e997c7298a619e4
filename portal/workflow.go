package portal

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Workflow is what moves a ticket by itself, so that none is closed and
// forgotten: a client's reply brings a resolved, closed or waiting ticket
// back to ReopenStatus; taking a ticket that is still in its first status
// moves it to TakeStatus; a ticket left in WaitingStatus for
// AutoCloseDays without a word from the client goes to AutoCloseStatus.
// A zero status or day count switches that part off.
type Workflow struct {
	ReopenStatus    int64 `json:"reopen_status"`
	TakeStatus      int64 `json:"take_status"`
	WaitingStatus   int64 `json:"waiting_status"`
	AutoCloseDays   int   `json:"auto_close_days"`
	AutoCloseStatus int64 `json:"auto_close_status"`
}

// Get is one of the workflow's statuses by its form field's name.
func (w Workflow) Get(field string) int64 {
	return map[string]int64{"reopen_status": w.ReopenStatus, "take_status": w.TakeStatus, "waiting_status": w.WaitingStatus, "auto_close_status": w.AutoCloseStatus}[field]
}

// Workflow reads the portal's workflow. Until the admin sets it, it is the
// usual one for the portal's statuses: back to the first status that is
// neither the starting one nor closed ("In progress"), taken tickets move
// there too, the next such status waits for the client ("Waiting for
// client") and after 7 days goes to the first closed one ("Resolved").
func (p *Portal) Workflow(ctx context.Context) Workflow {
	sts, _ := p.ref.statuses.get(p.DB, func() ([]Status, error) { return p.loadStatuses(ctx) })
	var w Workflow
	var working []int64
	for _, s := range sts {
		switch {
		case s.Closed && w.AutoCloseStatus == 0:
			w.AutoCloseStatus = s.ID
		case !s.Closed && !s.Initial:
			working = append(working, s.ID)
		}
	}
	if len(working) > 0 {
		w.ReopenStatus, w.TakeStatus = working[0], working[0]
	}
	if len(working) > 1 {
		w.WaitingStatus, w.AutoCloseDays = working[1], 7
	}
	read := func(key string, into *int64) {
		if v, err := strconv.ParseInt(p.Setting(ctx, key, "-"), 10, 64); err == nil {
			*into = v
		}
	}
	read("wf_reopen", &w.ReopenStatus)
	read("wf_take", &w.TakeStatus)
	read("wf_waiting", &w.WaitingStatus)
	read("wf_close_status", &w.AutoCloseStatus)
	var days int64 = int64(w.AutoCloseDays)
	read("wf_close_days", &days)
	w.AutoCloseDays = int(days)
	return w
}

// SaveWorkflow stores the admin's workflow: each status one of the
// portal's (the reopening and taking ones open, the closing one closed),
// days from 0 (never) to 365.
func (p *Portal) SaveWorkflow(ctx context.Context, actor *User, w Workflow) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	sts, err := p.Statuses(ctx)
	if err != nil {
		return err
	}
	byID := map[int64]Status{}
	for _, s := range sts {
		byID[s.ID] = s
	}
	errs := map[string]string{}
	check := func(field string, id int64, closed bool) {
		if id == 0 {
			return
		}
		s, ok := byID[id]
		switch {
		case !ok:
			errs[field] = "Choose one of the portal's statuses."
		case s.Closed != closed && closed:
			errs[field] = "Choose a closed status."
		case s.Closed != closed:
			errs[field] = "Choose a status that is not closed."
		}
	}
	check("reopen_status", w.ReopenStatus, false)
	check("take_status", w.TakeStatus, false)
	check("waiting_status", w.WaitingStatus, false)
	check("auto_close_status", w.AutoCloseStatus, true)
	if w.AutoCloseDays < 0 || w.AutoCloseDays > 365 {
		errs["auto_close_days"] = "From 0 (never) to 365 days."
	}
	if w.AutoCloseDays > 0 && (w.WaitingStatus == 0 || w.AutoCloseStatus == 0) {
		errs["auto_close_days"] = "Choose the status that waits for the client and the one it closes to, or set 0 days."
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	return p.Tx(ctx, func(tp *Portal) error {
		for k, v := range map[string]int64{"wf_reopen": w.ReopenStatus, "wf_take": w.TakeStatus, "wf_waiting": w.WaitingStatus,
			"wf_close_status": w.AutoCloseStatus, "wf_close_days": int64(w.AutoCloseDays)} {
			if err := tp.SetSetting(ctx, k, strconv.FormatInt(v, 10)); err != nil {
				return err
			}
		}
		return nil
	})
}

// reopenOnReply moves t back to work when its client (or someone in copy)
// writes on it while it is resolved, closed or waiting for them; inside
// the caller's transaction.
func (p *Portal) reopenOnReply(ctx context.Context, t *Ticket, actor *User, now int64) error {
	if actor.IsStaff() {
		return nil
	}
	w := p.Workflow(ctx)
	if !t.Status.Closed && t.Status.ID != w.WaitingStatus {
		return nil
	}
	to := w.ReopenStatus
	if to == 0 || to == t.Status.ID {
		return nil
	}
	st, err := p.StatusByID(ctx, to)
	if err != nil {
		return nil // the status is gone: nothing to move to
	}
	if _, err := p.q.Exec(ctx, "UPDATE tickets SET status_id = ?, closed_at = NULL WHERE id = ?", st.ID, t.Number); err != nil {
		return err
	}
	return p.addEvent(ctx, t.Number, actor.ID, fmt.Sprintf("The client's reply moved the ticket from %s to %s", t.Status.Name, st.Name))
}

// AutoClose resolves the tickets that have waited for their client
// longer than the workflow allows: each gets an event and its client a
// mail. It answers how many it closed.
func (p *Portal) AutoClose(ctx context.Context) (int, error) {
	w := p.Workflow(ctx)
	if w.AutoCloseDays <= 0 || w.WaitingStatus == 0 || w.AutoCloseStatus == 0 || p.writable() != nil {
		return 0, nil
	}
	st, err := p.StatusByID(ctx, w.AutoCloseStatus)
	if err != nil {
		return 0, nil
	}
	now := p.Now()
	before := now.Add(-time.Duration(w.AutoCloseDays) * 24 * time.Hour).Unix()
	rows, err := p.q.Query(ctx, "SELECT id FROM tickets WHERE status_id = ? AND last_activity_at < ? ORDER BY id", w.WaitingStatus, before)
	if err != nil {
		return 0, err
	}
	var due []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, n)
	}
	rows.Close()
	system := &User{Name: p.company(), Role: RoleAdmin}
	closed := 0
	for _, n := range due {
		t, err := p.Ticket(ctx, system, n)
		if err != nil {
			continue
		}
		err = p.Tx(ctx, func(tp *Portal) error {
			// Checked again under the write lock: a reply that came in meanwhile wins.
			res, err := tp.q.Exec(ctx, "UPDATE tickets SET status_id = ?, closed_at = ?, updated_at = ?, last_activity_at = ? WHERE id = ? AND status_id = ? AND last_activity_at < ?",
				st.ID, now.Unix(), now.Unix(), now.Unix(), n, w.WaitingStatus, before)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil
			}
			closed++
			if err := tp.addEvent(ctx, n, 0, fmt.Sprintf("Moved to %s by itself: no answer from the client for %d days", st.Name, w.AutoCloseDays)); err != nil {
				return err
			}
			if err := tp.slaUpdate(ctx, n); err != nil {
				return err
			}
			return tp.notifyChange(ctx, t, system, st, nil)
		})
		if err != nil {
			return 0, fmt.Errorf("store: auto-close %d: %w", n, err)
		}
		p.publish(t, false)
	}
	if closed > 0 {
		p.kickOutbox()
	}
	return closed, nil
}
