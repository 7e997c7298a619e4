package provisioner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"portaldesk/portal"
	"portaldesk/provisioner/catalog"
)

// BillingConfig is the vendor's side of money: currency, promotion, details.
type BillingConfig struct {
	Currency          string        // shown after amounts, e.g. "RUB"
	FirstPaymentBonus int           // percent credited with a portal's first payment
	Vendor            portal.Vendor // who is paid: printed on invoices
}

func (c *BillingConfig) defaults() {
	if c.Currency == "" {
		c.Currency = "RUB"
	}
	if c.Vendor.Name == "" {
		c.Vendor.Name = "Portaldesk"
	}
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

// Subscription is the portal's account as its admin sees it.
func (s *Service) Subscription(ctx context.Context, portalID int64) (*portal.Subscription, error) {
	rec, err := s.catalog.PortalByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	// The admin sees storage as it is now, not as the hourly sweep left it.
	if db, files, _ := s.MeasureDisk(rec.Slug); db > 0 {
		if err := s.catalog.RecordUsage(ctx, rec.ID, db, files, s.now(), nil); err != nil {
			return nil, err
		}
	}
	a, err := s.catalog.Account(ctx, portalID)
	if err != nil {
		return nil, err
	}
	return &portal.Subscription{Account: account(rec.ID), Tariff: rec.TariffID, TariffName: rec.Tariff.Name, Operators: rec.Operators,
		Balance: a.Balance, Currency: s.cfg.Billing.Currency, Monthly: rec.Tariff.PricePerOperator * int64(rec.Operators),
		Daily: catalog.DailyPrice(rec.Tariff.PricePerOperator, rec.Operators), DBQuotaMB: rec.DBMB, DiskQuotaMB: rec.DiskMB, TariffDBMB: rec.Tariff.DBMB,
		BonusPercent: s.cfg.Billing.FirstPaymentBonus, Expired: a.Expired && rec.Tariff.PricePerOperator == 0,
		DBBytes: a.DBBytes, DiskBytes: a.DiskBytes, MeasuredAt: a.MeasuredAt, PaidUntil: catalog.PaidUntil(rec, a, s.now()),
		FirstPayment: a.Payments == 0}, nil
}

func (s *Service) tariff(ctx context.Context, id string) (*catalog.Tariff, error) {
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
	q := &portal.Quote{Tariff: t.ID, TariffName: t.Name, Operators: operators, Monthly: t.PricePerOperator * int64(operators), Daily: catalog.DailyPrice(t.PricePerOperator, operators)}
	if q.Daily > 0 {
		bal, err := s.catalog.Balance(ctx, portalID)
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
	rec, err := s.catalog.PortalByID(ctx, portalID)
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
	if err := s.catalog.ChangePlan(ctx, catalog.PlanChange{From: rec, Tariff: q.Tariff, Operators: q.Operators, Daily: q.Daily, Actor: actor}); err != nil {
		return nil, err
	}
	s.registry.Invalidate(rec.Slug)
	return s.Subscription(ctx, portalID)
}

// MinTopUp and MaxTopUp bound a top-up, in minor units.
const (
	MinTopUp = 100
	MaxTopUp = 100_000_000_00
)

// TopUp issues an invoice for amount; the balance grows when ops confirm it.
func (s *Service) TopUp(ctx context.Context, portalID int64, amount int64, promo, payer string) (*portal.Invoice, error) {
	rec, err := s.catalog.PortalByID(ctx, portalID)
	if err != nil {
		return nil, err
	}
	errs := map[string]string{}
	if amount < MinTopUp || amount > MaxTopUp {
		errs["amount"] = fmt.Sprintf("Between %s and %s.", s.Money(MinTopUp), s.Money(MaxTopUp))
	}
	promo = strings.TrimSpace(promo)
	if promo != "" {
		if _, err := s.catalog.PromoPercent(ctx, promo); err != nil {
			errs["promo"] = err.Error()
		}
	}
	if len(errs) > 0 {
		return nil, &portal.FieldErrors{Fields: errs}
	}
	payer = strings.TrimSpace(portal.Text(payer))
	if payer == "" {
		payer = rec.Company
	}
	number, err := s.catalog.CreateInvoice(ctx, portalID, amount, promo, payer)
	if err != nil {
		return nil, err
	}
	return s.Invoice(ctx, portalID, number)
}

// Invoices lists the portal's invoices, the newest first, with their state.
func (s *Service) Invoices(ctx context.Context, portalID int64, limit int) ([]*portal.Invoice, error) {
	list, err := s.catalog.Invoices(ctx, portalID, limit)
	for _, inv := range list {
		inv.Currency, inv.Vendor, inv.Account = s.cfg.Billing.Currency, s.cfg.Billing.Vendor, account(portalID)
	}
	return list, err
}

// Invoice returns one of the portal's invoices with the vendor's details.
func (s *Service) Invoice(ctx context.Context, portalID int64, number string) (*portal.Invoice, error) {
	inv, err := s.catalog.Invoice(ctx, portalID, number)
	if err != nil {
		return nil, err
	}
	inv.Currency, inv.Vendor, inv.Account = s.cfg.Billing.Currency, s.cfg.Billing.Vendor, account(portalID)
	return inv, nil
}

// ConfirmInvoice records that an invoice was paid: the payment, and bonuses
// for a first payment and a promo code, each its own line.
func (s *Service) ConfirmInvoice(ctx context.Context, number, actor string) (*catalog.Portal, int64, error) {
	id, bal, err := s.catalog.ConfirmInvoice(ctx, number, actor, s.cfg.Billing.FirstPaymentBonus)
	if err != nil {
		return nil, 0, err
	}
	rec, err := s.catalog.PortalByID(ctx, id)
	return rec, bal, err
}

// Adjust adds (or with a negative amount, takes) money by hand.
func (s *Service) Adjust(ctx context.Context, slug string, amount int64, note, actor string) (int64, error) {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return 0, err
	}
	return s.catalog.Adjust(ctx, rec.ID, amount, note, actor)
}

// Transactions lists the ledger, newest first.
func (s *Service) Transactions(ctx context.Context, portalID int64, limit int) ([]portal.Transaction, error) {
	return s.catalog.Transactions(ctx, portalID, limit)
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
	rec, err := s.catalog.PortalByID(ctx, portalID)
	if err != nil {
		return err
	}
	if mb < 0 || mb > rec.Tariff.DBMB {
		return &portal.FieldErrors{Fields: map[string]string{"db_mb": fmt.Sprintf("Between 1 and %d MB, the tariff's limit.", rec.Tariff.DBMB)}}
	}
	if err := s.catalog.SetAdminDBLimit(ctx, portalID, mb); err != nil {
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
	if err := s.catalog.GrantTariff(ctx, rec, tariffID, operators, actor); err != nil {
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
	if err := s.catalog.SetLimits(ctx, rec.ID, dbMB, diskMB); err != nil {
		return err
	}
	s.registry.Invalidate(slug)
	return nil
}

// AddPromo creates or replaces a promo code.
func (s *Service) AddPromo(ctx context.Context, code string, percent int, from, to time.Time) error {
	return s.catalog.AddPromo(ctx, code, percent, from, to)
}

// ChargeThrough charges rec every day from the one after it was last charged
// through today; when the balance cannot pay a day the portal falls back to
// the free tariff, and is reopened with its new plan.
func (s *Service) ChargeThrough(ctx context.Context, rec *catalog.Portal, today int64) (charged int, expired bool, err error) {
	charged, expired, err = s.catalog.ChargeThrough(ctx, rec, today)
	if expired {
		s.registry.Invalidate(rec.Slug)
	}
	return charged, expired, err
}
