package provisioner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"portaldesk/portal"
)

// BillingConfig is the vendor's side of money: currency, promotion, details.
type BillingConfig struct {
	Currency          string // shown after amounts, e.g. "RUB"
	FirstPaymentBonus int    // percent credited with a portal's first payment
	Vendor            string // the vendor's details printed on invoices
}

func (c *BillingConfig) defaults() {
	if c.Currency == "" {
		c.Currency = "RUB"
	}
	if c.Vendor == "" {
		c.Vendor = "Portaldesk"
	}
}

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

// Money formats minor units for people: 85000 → "850.00 RUB".
func (s *Service) Money(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, s.cfg.Billing.Currency)
}

func account(id int64) string { return fmt.Sprintf("PD-%06d", id) }

func (c *Catalog) recordByID(ctx context.Context, id int64) (*PortalRecord, error) {
	return scanPortal(c.db.QueryRow(ctx, portalSelect+" WHERE p.id = ? AND p.state <> 'deleted'", id))
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func balanceOf(ctx context.Context, q queryer, portalID int64) (int64, error) {
	var b int64
	err := q.QueryRowContext(ctx, "SELECT balance_after FROM ledger WHERE portal_id = ? ORDER BY id DESC LIMIT 1", portalID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return b, err
}

// appendLedger adds one line within tx; the single catalog writer makes the
// read of the last balance and the insert one step that nothing can interleave.
func appendLedger(ctx context.Context, tx *sql.Tx, portalID int64, kind string, amount int64, day any, actor, note string, now time.Time) (int64, error) {
	bal, err := balanceOf(ctx, tx, portalID)
	if err != nil {
		return 0, err
	}
	bal += amount
	_, err = tx.ExecContext(ctx, "INSERT INTO ledger (portal_id, kind, amount, balance_after, day, actor, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		portalID, kind, amount, bal, day, actor, note, now.Unix())
	return bal, err
}

// Subscription is the portal's account.
func (s *Service) Subscription(ctx context.Context, portalID int64) (*portal.Subscription, error) {
	rec, err := s.catalog.recordByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	bal, err := balanceOf(ctx, s.catalog.db.R, portalID)
	if err != nil {
		return nil, err
	}
	sub := &portal.Subscription{Account: account(rec.ID), Tariff: rec.TariffID, TariffName: rec.Tariff.Name, Operators: rec.Operators,
		Balance: bal, Currency: s.cfg.Billing.Currency, Monthly: rec.Tariff.PricePerOperator * int64(rec.Operators),
		Daily: DailyPrice(rec.Tariff.PricePerOperator, rec.Operators), DBQuotaMB: rec.DBMB, DiskQuotaMB: rec.DiskMB, TariffDBMB: rec.Tariff.DBMB,
		BonusPercent: s.cfg.Billing.FirstPaymentBonus}
	var paidThrough, expired sql.NullInt64
	var dbB, diskB, measured sql.NullInt64
	_ = s.catalog.db.R.QueryRowContext(ctx, `SELECT p.paid_through, p.expired_at, u.db_bytes, u.disk_bytes, u.measured_at FROM portals p LEFT JOIN usage u ON u.portal_id = p.id WHERE p.id = ?`, portalID).
		Scan(&paidThrough, &expired, &dbB, &diskB, &measured)
	sub.Expired = expired.Valid && rec.Tariff.PricePerOperator == 0
	sub.DBBytes, sub.DiskBytes = dbB.Int64, diskB.Int64
	if measured.Valid {
		sub.MeasuredAt = time.Unix(measured.Int64, 0).UTC()
	}
	if sub.Daily > 0 {
		last := Day(s.now())
		if paidThrough.Valid {
			last = paidThrough.Int64
		}
		sub.PaidUntil = DayTime(last + bal/sub.Daily).Format(time.DateOnly)
	}
	var payments int
	_ = s.catalog.db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'payment'", portalID).Scan(&payments)
	sub.FirstPayment = payments == 0
	return sub, nil
}

func (s *Service) tariff(ctx context.Context, id string) (*Tariff, error) {
	list, err := s.catalog.Tariffs(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == id {
			return &list[i], nil
		}
	}
	return nil, &portal.FieldErrors{Fields: map[string]string{"tariff": "Choose one of the tariffs."}}
}

// MaxOperatorSeats bounds the operators a subscription may pay for.
const MaxOperatorSeats = 500

// Quote prices a plan.
func (s *Service) Quote(ctx context.Context, portalID int64, tariffID string, operators int) (*portal.Quote, error) {
	t, err := s.tariff(ctx, tariffID)
	if err != nil {
		return nil, err
	}
	if t.PricePerOperator == 0 {
		operators = 1
	}
	if operators < 1 || operators > MaxOperatorSeats {
		return nil, &portal.FieldErrors{Fields: map[string]string{"operators": fmt.Sprintf("Between 1 and %d operators.", MaxOperatorSeats)}}
	}
	q := &portal.Quote{Tariff: t.ID, Operators: operators, Monthly: t.PricePerOperator * int64(operators), Daily: DailyPrice(t.PricePerOperator, operators)}
	if q.Daily > 0 {
		bal, err := balanceOf(ctx, s.catalog.db.R, portalID)
		if err != nil {
			return nil, err
		}
		q.Days = bal / q.Daily
	}
	return q, nil
}

// ChangeSubscription moves a portal to another tariff or number of operators.
// A paid plan needs a balance of at least one day; moving onto one charges today.
func (s *Service) ChangeSubscription(ctx context.Context, portalID int64, actor string, tariffID *string, operators *int) (*portal.Subscription, error) {
	rec, err := s.catalog.recordByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	newTariff, newOps := rec.TariffID, rec.Operators
	if tariffID != nil {
		newTariff = *tariffID
	}
	if operators != nil {
		newOps = *operators
	}
	q, err := s.Quote(ctx, portalID, newTariff, newOps)
	if err != nil {
		return nil, err
	}
	if q.Tariff == rec.TariffID && q.Operators == rec.Operators {
		return s.Subscription(ctx, portalID)
	}
	now := s.now()
	today := Day(now)
	err = s.catalogTx(ctx, func(tx *sql.Tx) error {
		bal, err := balanceOf(ctx, tx, portalID)
		if err != nil {
			return err
		}
		if q.Daily > 0 && bal < q.Daily {
			return portal.ErrPaymentRequired
		}
		if q.Tariff != rec.TariffID {
			if _, err := appendLedger(ctx, tx, portalID, "tariff", 0, nil, actor, fmt.Sprintf("%s → %s", rec.Tariff.Name, q.Tariff), now); err != nil {
				return err
			}
		}
		if q.Operators != rec.Operators {
			if _, err := appendLedger(ctx, tx, portalID, "operators", 0, nil, actor, fmt.Sprintf("%d → %d operators", rec.Operators, q.Operators), now); err != nil {
				return err
			}
		}
		var paidThrough any
		if q.Daily > 0 {
			// Today is charged at the new price unless it was charged already.
			var charged int
			_ = tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'charge' AND day = ?", portalID, today).Scan(&charged)
			if charged == 0 {
				if _, err := appendLedger(ctx, tx, portalID, "charge", -q.Daily, today, actor, "daily charge", now); err != nil {
					return err
				}
			}
			paidThrough = today
		}
		_, err = tx.ExecContext(ctx, "UPDATE portals SET tariff_id = ?, operators = ?, paid_through = ?, expired_at = NULL WHERE id = ?", q.Tariff, q.Operators, paidThrough, portalID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.registry.Invalidate(rec.Slug)
	return s.Subscription(ctx, portalID)
}

// catalogTx runs fn in a catalog write transaction.
func (s *Service) catalogTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.catalog.db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// MinTopUp and MaxTopUp bound a top-up, in minor units.
const (
	MinTopUp = 100
	MaxTopUp = 100_000_000_00
)

// TopUp issues an invoice for amount; the balance grows when ops confirm it.
func (s *Service) TopUp(ctx context.Context, portalID int64, amount int64, promo, payer string) (*portal.Invoice, error) {
	rec, err := s.catalog.recordByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	errs := map[string]string{}
	if amount < MinTopUp || amount > MaxTopUp {
		errs["amount"] = fmt.Sprintf("Between %s and %s.", s.Money(MinTopUp), s.Money(MaxTopUp))
	}
	promo = strings.TrimSpace(promo)
	if promo != "" {
		if _, err := s.promoPercent(ctx, s.catalog.db.R, promo); err != nil {
			errs["promo"] = err.Error()
		}
	}
	if len(errs) > 0 {
		return nil, &portal.FieldErrors{Fields: errs}
	}
	if strings.TrimSpace(payer) == "" {
		payer = rec.Company
	}
	now := s.now()
	var number string
	err = s.catalogTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO invoices (number, portal_id, amount, promo, payer, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			"pending-"+randomHex(8), portalID, amount, promo, payer, now.Unix())
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		number = fmt.Sprintf("%s-%05d", now.UTC().Format("2006"), id)
		_, err = tx.ExecContext(ctx, "UPDATE invoices SET number = ? WHERE id = ?", number, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Invoice(ctx, portalID, number)
}

func (s *Service) promoPercent(ctx context.Context, q queryer, code string) (int, error) {
	var pct int
	var from, to int64
	err := q.QueryRowContext(ctx, "SELECT percent, valid_from, valid_to FROM promo_codes WHERE code = ?", code).Scan(&pct, &from, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("There is no such promo code.")
	}
	if err != nil {
		return 0, err
	}
	if now := s.now().Unix(); now < from || now > to {
		return 0, errors.New("This promo code is not valid now.")
	}
	return pct, nil
}

// Invoice returns one of the portal's invoices.
func (s *Service) Invoice(ctx context.Context, portalID int64, number string) (*portal.Invoice, error) {
	inv := &portal.Invoice{Currency: s.cfg.Billing.Currency, Vendor: s.cfg.Billing.Vendor, Account: account(portalID)}
	var created int64
	var paid sql.NullInt64
	err := s.catalog.db.R.QueryRowContext(ctx, "SELECT number, amount, promo, payer, state, created_at, paid_at FROM invoices WHERE portal_id = ? AND number = ?", portalID, number).
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

// ConfirmInvoice records that an invoice was paid: the payment, and bonuses
// for a first payment and a promo code, each its own line.
func (s *Service) ConfirmInvoice(ctx context.Context, number, actor string) (*PortalRecord, int64, error) {
	now := s.now()
	var portalID, balance int64
	err := s.catalogTx(ctx, func(tx *sql.Tx) error {
		var amount int64
		var promo, state string
		err := tx.QueryRowContext(ctx, "SELECT portal_id, amount, promo, state FROM invoices WHERE number = ?", number).Scan(&portalID, &amount, &promo, &state)
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
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger WHERE portal_id = ? AND kind = 'payment'", portalID).Scan(&payments); err != nil {
			return err
		}
		if balance, err = appendLedger(ctx, tx, portalID, "payment", amount, nil, actor, "invoice "+number, now); err != nil {
			return err
		}
		if pct := s.cfg.Billing.FirstPaymentBonus; payments == 0 && pct > 0 {
			if balance, err = appendLedger(ctx, tx, portalID, "bonus", amount*int64(pct)/100, nil, actor, fmt.Sprintf("first payment bonus %d%%", pct), now); err != nil {
				return err
			}
		}
		if promo != "" {
			if pct, err := s.promoPercent(ctx, tx, promo); err == nil && pct > 0 {
				if balance, err = appendLedger(ctx, tx, portalID, "bonus", amount*int64(pct)/100, nil, actor, fmt.Sprintf("promo code %s %d%%", promo, pct), now); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE invoices SET state = 'paid', paid_at = ? WHERE number = ?", now.Unix(), number)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	rec, err := s.catalog.recordByID(ctx, portalID)
	return rec, balance, err
}

// Adjust adds (or with a negative amount, takes) money by hand.
func (s *Service) Adjust(ctx context.Context, slug string, amount int64, note, actor string) (int64, error) {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return 0, err
	}
	var bal int64
	err = s.catalogTx(ctx, func(tx *sql.Tx) error {
		bal, err = appendLedger(ctx, tx, rec.ID, "adjustment", amount, nil, actor, note, s.now())
		return err
	})
	return bal, err
}

// Transactions lists the ledger, newest first.
func (s *Service) Transactions(ctx context.Context, portalID int64, limit int) ([]portal.Transaction, error) {
	rows, err := s.catalog.db.R.QueryContext(ctx, "SELECT id, kind, amount, balance_after, actor, note, created_at FROM ledger WHERE portal_id = ? ORDER BY id DESC LIMIT ?", portalID, limit)
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

// Tariffs lists the tariffs for portals.
func (s *Service) Tariffs(ctx context.Context) ([]portal.TariffInfo, error) {
	list, err := s.catalog.Tariffs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]portal.TariffInfo, len(list))
	for i, t := range list {
		out[i] = portal.TariffInfo{ID: t.ID, Name: t.Name, Price: t.PricePerOperator, MaxOperators: t.MaxOperators, DiskMB: t.DiskMB, DBMB: t.DBMB,
			Designer: t.Designer, Timing: t.Timing, APITokens: t.APITokens, CustomDomain: t.CustomDomain, OwnSMTP: t.OwnSMTP}
	}
	return out, nil
}

// SetAdminDBLimit is the admin's own, lower database limit (0 removes it).
func (s *Service) SetAdminDBLimit(ctx context.Context, portalID int64, mb int64) error {
	rec, err := s.catalog.recordByID(ctx, portalID)
	if err != nil {
		return err
	}
	if mb < 0 || mb > rec.Tariff.DBMB {
		return &portal.FieldErrors{Fields: map[string]string{"db_mb": fmt.Sprintf("Between 1 and %d MB, the tariff's limit.", rec.Tariff.DBMB)}}
	}
	var v any
	if mb > 0 {
		v = mb
	}
	if _, err := s.catalog.db.W.ExecContext(ctx, "UPDATE portals SET admin_db_mb = ? WHERE id = ?", v, portalID); err != nil {
		return err
	}
	s.registry.Invalidate(rec.Slug)
	return nil
}

// SetTariff puts a portal on a tariff without payment (ops: partners, support).
func (s *Service) SetTariff(ctx context.Context, slug, tariffID string, operators int, actor string) error {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if _, err := s.tariff(ctx, tariffID); err != nil {
		return fmt.Errorf("no tariff %q", tariffID)
	}
	if operators < 1 {
		operators = rec.Operators
	}
	err = s.catalogTx(ctx, func(tx *sql.Tx) error {
		if _, err := appendLedger(ctx, tx, rec.ID, "tariff", 0, nil, actor, fmt.Sprintf("%s → %s by ops", rec.TariffID, tariffID), s.now()); err != nil {
			return err
		}
		// paid_through far ahead: ops-granted plans are not charged.
		_, err := tx.ExecContext(ctx, "UPDATE portals SET tariff_id = ?, operators = ?, paid_through = ?, expired_at = NULL WHERE id = ?", tariffID, operators, Day(s.now())+36500, rec.ID)
		return err
	})
	if err != nil {
		return err
	}
	s.registry.Invalidate(slug)
	return nil
}

// SetLimits overrides the tariff's quotas for one portal (0 clears an override).
func (s *Service) SetLimits(ctx context.Context, slug string, dbMB, diskMB int64) error {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return err
	}
	null := func(v int64) any {
		if v <= 0 {
			return nil
		}
		return v
	}
	if _, err := s.catalog.db.W.ExecContext(ctx, "UPDATE portals SET db_mb = ?, disk_mb = ? WHERE id = ?", null(dbMB), null(diskMB), rec.ID); err != nil {
		return err
	}
	s.registry.Invalidate(slug)
	return nil
}

// AddPromo creates or replaces a promo code.
func (s *Service) AddPromo(ctx context.Context, code string, percent int, from, to time.Time) error {
	if code == "" || percent <= 0 || percent > 500 || !to.After(from) {
		return errors.New("promo: need a code, a percent between 1 and 500, and a valid window")
	}
	_, err := s.catalog.db.W.ExecContext(ctx, "INSERT OR REPLACE INTO promo_codes (code, percent, valid_from, valid_to) VALUES (?, ?, ?, ?)", code, percent, from.Unix(), to.Unix())
	return err
}

// ChargeThrough charges rec every day from the one after it was last charged
// through today, one transaction a day; it stops and downgrades the portal to
// the free tariff when the balance cannot pay a day.
func (s *Service) ChargeThrough(ctx context.Context, rec *PortalRecord, today int64, now time.Time) (charged int, expired bool, err error) {
	var paidThrough sql.NullInt64
	if err := s.catalog.db.R.QueryRowContext(ctx, "SELECT paid_through FROM portals WHERE id = ?", rec.ID).Scan(&paidThrough); err != nil {
		return 0, false, err
	}
	from := today
	if paidThrough.Valid {
		from = paidThrough.Int64 + 1
	}
	daily := DailyPrice(rec.Tariff.PricePerOperator, rec.Operators)
	for day := from; day <= today; day++ {
		err := s.catalogTx(ctx, func(tx *sql.Tx) error {
			bal, err := balanceOf(ctx, tx, rec.ID)
			if err != nil {
				return err
			}
			if bal < daily {
				expired = true
				if _, err := appendLedger(ctx, tx, rec.ID, "expiry", 0, nil, "billing", fmt.Sprintf("balance %d < %d: %s → free", bal, daily, rec.TariffID), now); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "UPDATE portals SET tariff_id = 'free', operators = 1, paid_through = NULL, expired_at = ? WHERE id = ?", now.Unix(), rec.ID)
				return err
			}
			res, err := tx.ExecContext(ctx, "INSERT INTO ledger (portal_id, kind, amount, balance_after, day, actor, note, created_at) VALUES (?, 'charge', ?, ?, ?, 'billing', ?, ?) ON CONFLICT DO NOTHING",
				rec.ID, -daily, bal-daily, day, "daily charge for "+DayTime(day).Format(time.DateOnly), now.Unix())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				charged++
			}
			_, err = tx.ExecContext(ctx, "UPDATE portals SET paid_through = ? WHERE id = ?", day, rec.ID)
			return err
		})
		if err != nil || expired {
			break
		}
	}
	if expired {
		s.registry.Invalidate(rec.Slug)
	}
	return charged, expired, err
}

// OpenInvoice is an invoice waiting for payment, for the ops console.
type OpenInvoice struct {
	Number    string
	Amount    int64
	Payer     string
	CreatedAt time.Time
}

// OpenInvoices lists a portal's unpaid invoices.
func (s *Service) OpenInvoices(ctx context.Context, slug string) ([]OpenInvoice, error) {
	rows, err := s.catalog.db.R.QueryContext(ctx, "SELECT i.number, i.amount, i.payer, i.created_at FROM invoices i JOIN portals p ON p.id = i.portal_id WHERE p.slug = ? AND p.state <> 'deleted' AND i.state = 'open' ORDER BY i.id", slug)
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
