package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/sqlitedb"
)

// Day is a calendar day in UTC, counted from the Unix epoch.
func Day(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// DayTime is the start of day d.
func DayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// DailyPrice is the daily share of a monthly price per operator, rounded up:
// twelve months a year over 365 days.
func DailyPrice(perOperatorMonthly int64, operators int) int64 {
	total := perOperatorMonthly * int64(operators) * 12
	return (total + 364) / 365
}

// appendLedger adds one line within tx and keeps the portal's balance
// beside it; the single catalog writer makes the read of the balance and
// the insert one step that nothing can interleave.
func appendLedger(ctx context.Context, tx *sqlitedb.Tx, portalID int64, kind string, amount int64, day any, actor, note string, now time.Time) (int64, error) {
	var bal int64
	if err := tx.QueryRow(ctx, "SELECT balance FROM portals WHERE id = ?", portalID).Scan(&bal); err != nil {
		return 0, err
	}
	bal += amount
	if _, err := tx.Exec(ctx, "INSERT INTO ledger (portal_id, kind, amount, balance_after, day, actor, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		portalID, kind, amount, bal, day, actor, note, now.Unix()); err != nil {
		return 0, err
	}
	_, err := tx.Exec(ctx, "UPDATE portals SET balance = ? WHERE id = ?", bal, portalID)
	return bal, err
}

// Account is a portal's money and measured usage.
type Account struct {
	Balance     int64
	PaidThrough sql.NullInt64 // the last day charged
	Expired     bool          // fell back to the free tariff when the balance ran out
	Payments    int
	DBBytes     int64
	DiskBytes   int64
	MeasuredAt  time.Time // zero when never measured
}

// Account reads a portal's balance, charging state and usage.
func (c *Catalog) Account(ctx context.Context, portalID int64) (*Account, error) {
	a := &Account{}
	var expired, dbB, diskB, measured sql.NullInt64
	err := c.db.QueryRow(ctx, `SELECT p.balance, p.paid_through, p.expired_at, u.db_bytes, u.disk_bytes, u.measured_at,
		(SELECT COUNT(*) FROM ledger WHERE portal_id = p.id AND kind = 'payment')
		FROM portals p LEFT JOIN usage u ON u.portal_id = p.id WHERE p.id = ?`, portalID).
		Scan(&a.Balance, &a.PaidThrough, &expired, &dbB, &diskB, &measured, &a.Payments)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, portal.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	a.Expired = expired.Valid
	a.DBBytes, a.DiskBytes = dbB.Int64, diskB.Int64
	if measured.Valid {
		a.MeasuredAt = time.Unix(measured.Int64, 0).UTC()
	}
	return a, nil
}

// Balance is a portal's balance in minor units.
func (c *Catalog) Balance(ctx context.Context, portalID int64) (int64, error) {
	var b int64
	err := c.db.QueryRow(ctx, "SELECT balance FROM portals WHERE id = ?", portalID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, portal.ErrNotFound
	}
	return b, err
}

// PlanChange is a move of a portal to another tariff or number of
// operators, priced beforehand.
type PlanChange struct {
	From      *Portal
	Tariff    string
	Operators int
	Daily     int64 // the new plan's daily price
	Actor     string
}

// ChangePlan records a plan change: a ledger line for each part that
// changes and, on a paid plan, today's charge at the new price unless
// today was charged already. A paid plan needs a balance of at least one
// day (portal.ErrPaymentRequired).
func (c *Catalog) ChangePlan(ctx context.Context, ch PlanChange) error {
	now := c.now()
	today := Day(now)
	rec := ch.From
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		var bal int64
		if err := tx.QueryRow(ctx, "SELECT balance FROM portals WHERE id = ?", rec.ID).Scan(&bal); err != nil {
			return err
		}
		if ch.Daily > 0 && bal < ch.Daily {
			return portal.ErrPaymentRequired
		}
		if ch.Tariff != rec.TariffID {
			if _, err := appendLedger(ctx, tx, rec.ID, "tariff", 0, nil, ch.Actor, fmt.Sprintf("%s → %s", rec.Tariff.Name, tariffName(ctx, tx, ch.Tariff)), now); err != nil {
				return err
			}
		}
		if ch.Operators != rec.Operators {
			if _, err := appendLedger(ctx, tx, rec.ID, "operators", 0, nil, ch.Actor, fmt.Sprintf("%d → %d operators", rec.Operators, ch.Operators), now); err != nil {
				return err
			}
		}
		var paidThrough any
		if ch.Daily > 0 {
			var charged int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'charge' AND day = ?", rec.ID, today).Scan(&charged); err != nil {
				return err
			}
			if charged == 0 {
				if _, err := appendLedger(ctx, tx, rec.ID, "charge", -ch.Daily, today, ch.Actor, "daily charge", now); err != nil {
					return err
				}
			}
			paidThrough = today
		}
		_, err := tx.Exec(ctx, "UPDATE portals SET tariff_id = ?, operators = ?, paid_through = ?, expired_at = NULL WHERE id = ?", ch.Tariff, ch.Operators, paidThrough, rec.ID)
		return err
	})
}

// tariffName is a tariff's name as people read it in the ledger (its id
// when there is no such tariff).
func tariffName(ctx context.Context, tx *sqlitedb.Tx, id string) string {
	name := id
	_ = tx.QueryRow(ctx, "SELECT name FROM tariffs WHERE id = ?", id).Scan(&name)
	return name
}

// GrantTariff puts a portal on a tariff without payment (ops: partners,
// support): paid_through far ahead, so it is not charged.
func (c *Catalog) GrantTariff(ctx context.Context, rec *Portal, tariff string, operators int, actor string) error {
	now := c.now()
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := appendLedger(ctx, tx, rec.ID, "tariff", 0, nil, actor, fmt.Sprintf("%s → %s by ops", rec.Tariff.Name, tariffName(ctx, tx, tariff)), now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE portals SET tariff_id = ?, operators = ?, paid_through = ?, expired_at = NULL WHERE id = ?", tariff, operators, Day(now)+36500, rec.ID)
		return err
	})
}

// CreateInvoice issues an open invoice and returns its number (YYYY-NNNNN).
func (c *Catalog) CreateInvoice(ctx context.Context, portalID, amount int64, promo, payer string) (string, error) {
	now := c.now()
	var number string
	err := c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(ctx, "INSERT INTO invoices (number, portal_id, amount, promo, payer, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			fmt.Sprintf("pending-%d-%d", portalID, now.UnixNano()), portalID, amount, promo, payer, now.Unix())
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		number = fmt.Sprintf("%s-%05d", now.UTC().Format("2006"), id)
		_, err = tx.Exec(ctx, "UPDATE invoices SET number = ? WHERE id = ?", number, id)
		return err
	})
	return number, err
}

// Invoices lists a portal's invoices, the newest first.
func (c *Catalog) Invoices(ctx context.Context, portalID int64, limit int) ([]*portal.Invoice, error) {
	rows, err := c.db.Query(ctx, "SELECT number, amount, promo, payer, state, created_at, paid_at FROM invoices WHERE portal_id = ? ORDER BY id DESC LIMIT ?", portalID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*portal.Invoice{}
	for rows.Next() {
		inv := &portal.Invoice{}
		var created int64
		var paid sql.NullInt64
		if err := rows.Scan(&inv.Number, &inv.Amount, &inv.Promo, &inv.Payer, &inv.State, &created, &paid); err != nil {
			return nil, err
		}
		inv.CreatedAt = time.Unix(created, 0).UTC()
		if paid.Valid {
			inv.PaidAt = time.Unix(paid.Int64, 0).UTC()
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Invoice returns one of a portal's invoices.
func (c *Catalog) Invoice(ctx context.Context, portalID int64, number string) (*portal.Invoice, error) {
	inv := &portal.Invoice{}
	var created int64
	var paid sql.NullInt64
	err := c.db.QueryRow(ctx, "SELECT number, amount, promo, payer, state, created_at, paid_at FROM invoices WHERE portal_id = ? AND number = ?", portalID, number).
		Scan(&inv.Number, &inv.Amount, &inv.Promo, &inv.Payer, &inv.State, &created, &paid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, portal.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	inv.CreatedAt = time.Unix(created, 0).UTC()
	if paid.Valid {
		inv.PaidAt = time.Unix(paid.Int64, 0).UTC()
	}
	return inv, nil
}

// PromoPercent is the bonus of a promo code valid now.
func (c *Catalog) PromoPercent(ctx context.Context, code string) (int, error) {
	return promoPercent(ctx, c.db, code, c.now())
}

func promoPercent(ctx context.Context, q sqlitedb.Queryer, code string, now time.Time) (int, error) {
	var pct int
	var from, to int64
	err := q.QueryRow(ctx, "SELECT percent, valid_from, valid_to FROM promo_codes WHERE code = ?", code).Scan(&pct, &from, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("There is no such promo code.")
	}
	if err != nil {
		return 0, err
	}
	if now.Unix() < from || now.Unix() > to {
		return 0, errors.New("This promo code is not valid now.")
	}
	return pct, nil
}

// AddPromo creates or replaces a promo code.
func (c *Catalog) AddPromo(ctx context.Context, code string, percent int, from, to time.Time) error {
	if code == "" || percent <= 0 || percent > 500 || !to.After(from) {
		return errors.New("promo: need a code, a percent between 1 and 500, and a valid window")
	}
	_, err := c.db.Exec(ctx, "INSERT OR REPLACE INTO promo_codes (code, percent, valid_from, valid_to) VALUES (?, ?, ?, ?)", code, percent, from.Unix(), to.Unix())
	return err
}

// ConfirmInvoice records that an open invoice was paid: the payment, and
// bonuses for a first payment (firstBonus percent) and a promo code, each
// its own line. It answers the portal's id and new balance.
func (c *Catalog) ConfirmInvoice(ctx context.Context, number, actor string, firstBonus int) (portalID, balance int64, err error) {
	now := c.now()
	err = c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		var amount int64
		var promo, state string
		err := tx.QueryRow(ctx, "SELECT portal_id, amount, promo, state FROM invoices WHERE number = ?", number).Scan(&portalID, &amount, &promo, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no invoice %q", number)
		}
		if err != nil {
			return err
		}
		if state != "open" {
			return fmt.Errorf("invoice %s is %s already", number, state)
		}
		var payments int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'payment'", portalID).Scan(&payments); err != nil {
			return err
		}
		if balance, err = appendLedger(ctx, tx, portalID, "payment", amount, nil, actor, "invoice "+number, now); err != nil {
			return err
		}
		if payments == 0 && firstBonus > 0 {
			if balance, err = appendLedger(ctx, tx, portalID, "bonus", amount*int64(firstBonus)/100, nil, actor, fmt.Sprintf("first payment bonus %d%%", firstBonus), now); err != nil {
				return err
			}
		}
		if promo != "" {
			if pct, err := promoPercent(ctx, tx, promo, now); err == nil && pct > 0 {
				if balance, err = appendLedger(ctx, tx, portalID, "bonus", amount*int64(pct)/100, nil, actor, fmt.Sprintf("promo code %s %d%%", promo, pct), now); err != nil {
					return err
				}
			}
		}
		_, err = tx.Exec(ctx, "UPDATE invoices SET state = 'paid', paid_at = ? WHERE number = ?", now.Unix(), number)
		return err
	})
	return portalID, balance, err
}

// Adjust adds (or with a negative amount, takes) money by hand.
func (c *Catalog) Adjust(ctx context.Context, portalID, amount int64, note, actor string) (int64, error) {
	var bal int64
	err := c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		var err error
		bal, err = appendLedger(ctx, tx, portalID, "adjustment", amount, nil, actor, note, c.now())
		return err
	})
	return bal, err
}

// Transactions lists a portal's ledger, newest first.
func (c *Catalog) Transactions(ctx context.Context, portalID int64, limit int) ([]portal.Transaction, error) {
	rows, err := c.db.Query(ctx, "SELECT id, kind, amount, balance_after, actor, note, created_at FROM ledger WHERE portal_id = ? ORDER BY id DESC LIMIT ?", portalID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []portal.Transaction
	for rows.Next() {
		var t portal.Transaction
		var at int64
		if err := rows.Scan(&t.ID, &t.Kind, &t.Amount, &t.BalanceAfter, &t.Actor, &t.Note, &at); err != nil {
			return nil, err
		}
		t.CreatedAt = time.Unix(at, 0).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetAdminDBLimit stores the admin's own, lower database limit (0 removes it).
func (c *Catalog) SetAdminDBLimit(ctx context.Context, portalID, mb int64) error {
	_, err := c.db.Exec(ctx, "UPDATE portals SET admin_db_mb = ? WHERE id = ?", nullIfZero(mb), portalID)
	return err
}

// SetLimits overrides the tariff's quotas for one portal (0 clears an override).
func (c *Catalog) SetLimits(ctx context.Context, portalID, dbMB, diskMB int64) error {
	_, err := c.db.Exec(ctx, "UPDATE portals SET db_mb = ?, disk_mb = ? WHERE id = ?", nullIfZero(dbMB), nullIfZero(diskMB), portalID)
	return err
}

func nullIfZero(v int64) any {
	if v <= 0 {
		return nil
	}
	return v
}

// ChargeThrough charges rec every day from the one after it was last
// charged through today, one transaction a day; when the balance cannot
// pay a day it records the expiry and moves the portal to the free tariff.
// A second run on a day charges nothing (one charge a day is a unique index).
func (c *Catalog) ChargeThrough(ctx context.Context, rec *Portal, today int64) (charged int, expired bool, err error) {
	now := c.now()
	var paidThrough sql.NullInt64
	if err := c.db.QueryRow(ctx, "SELECT paid_through FROM portals WHERE id = ?", rec.ID).Scan(&paidThrough); err != nil {
		return 0, false, err
	}
	from := today
	if paidThrough.Valid {
		from = paidThrough.Int64 + 1
	}
	daily := DailyPrice(rec.Tariff.PricePerOperator, rec.Operators)
	for day := from; day <= today; day++ {
		err := c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
			var bal int64
			if err := tx.QueryRow(ctx, "SELECT balance FROM portals WHERE id = ?", rec.ID).Scan(&bal); err != nil {
				return err
			}
			if bal < daily {
				expired = true
				if _, err := appendLedger(ctx, tx, rec.ID, "expiry", 0, nil, "billing", fmt.Sprintf("balance %d < %d: %s → free", bal, daily, rec.TariffID), now); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "UPDATE portals SET tariff_id = 'free', operators = 1, paid_through = NULL, expired_at = ? WHERE id = ?", now.Unix(), rec.ID)
				return err
			}
			var dup int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'charge' AND day = ?", rec.ID, day).Scan(&dup); err != nil {
				return err
			}
			if dup == 0 {
				if _, err := appendLedger(ctx, tx, rec.ID, "charge", -daily, day, "billing", "daily charge for "+DayTime(day).Format(time.DateOnly), now); err != nil {
					return err
				}
				charged++
			}
			_, err := tx.Exec(ctx, "UPDATE portals SET paid_through = ? WHERE id = ?", day, rec.ID)
			return err
		})
		if err != nil || expired {
			return charged, expired, err
		}
	}
	return charged, expired, nil
}

// OpenInvoice is an invoice waiting for payment, for the ops console.
type OpenInvoice struct {
	Number    string
	Amount    int64
	Payer     string
	CreatedAt time.Time
}

// OpenInvoices lists a portal's unpaid invoices.
func (c *Catalog) OpenInvoices(ctx context.Context, portalID int64) ([]OpenInvoice, error) {
	rows, err := c.db.Query(ctx, "SELECT number, amount, payer, created_at FROM invoices WHERE portal_id = ? AND state = 'open' ORDER BY id", portalID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OpenInvoice
	for rows.Next() {
		var o OpenInvoice
		var at int64
		if err := rows.Scan(&o.Number, &o.Amount, &o.Payer, &at); err != nil {
			return nil, err
		}
		o.CreatedAt = time.Unix(at, 0).UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}
