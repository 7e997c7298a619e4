package portal

import (
	"context"
	"errors"
	"portaldesk/templates/i18n"
	"time"
)

// Subscription is a portal's account as its admin sees it.
type Subscription struct {
	Account      string    `json:"account"`
	Tariff       string    `json:"tariff"`
	TariffName   string    `json:"tariff_name"`
	Operators    int       `json:"operators"`
	PaidUntil    string    `json:"paid_until"` // the day the balance lasts to, YYYY-MM-DD; empty on the free tariff
	Balance      int64     `json:"balance"`
	Currency     string    `json:"currency"`
	Monthly      int64     `json:"monthly"`
	Daily        int64     `json:"daily"`
	Expired      bool      `json:"expired"`
	DBQuotaMB    int64     `json:"db_quota_mb"`
	DiskQuotaMB  int64     `json:"disk_quota_mb"`
	TariffDBMB   int64     `json:"tariff_db_mb"`
	DBBytes      int64     `json:"db_bytes"`
	DiskBytes    int64     `json:"disk_bytes"`
	MeasuredAt   time.Time `json:"measured_at"`
	ActiveStaff  int       `json:"-"`
	FirstPayment bool      `json:"-"`
	BonusPercent int       `json:"-"`
}

// Quote is the price of a plan before it is confirmed.
type Quote struct {
	Tariff     string `json:"tariff"`
	TariffName string `json:"tariff_name"`
	Operators  int    `json:"operators"`
	Monthly    int64  `json:"monthly"`
	Daily      int64  `json:"daily"`
	Days       int64  `json:"days"` // how long the current balance lasts on it
}

// Invoice is a top-up to be paid.
type Invoice struct {
	Number    string    `json:"invoice"`
	Amount    int64     `json:"amount"`
	Promo     string    `json:"promo,omitempty"`
	Payer     string    `json:"payer"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	PaidAt    time.Time `json:"paid_at,omitzero"`
	Account   string    `json:"account"`
	Vendor    Vendor    `json:"vendor"`
	Currency  string    `json:"currency"`
}

// Vendor is the service's company as its invoices name it.
type Vendor struct {
	Name    string `json:"name"`              // the company
	TaxID   string `json:"tax_id,omitempty"`  // e.g. ИНН/КПП or a VAT number
	Address string `json:"address,omitempty"` // the legal address
	Bank    string `json:"bank,omitempty"`    // the bank details a payment goes to
}

// Transaction is one line of the ledger.
type Transaction struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount"`
	BalanceAfter int64     `json:"balance_after"`
	Actor        string    `json:"actor"`
	Note         string    `json:"note"`
	CreatedAt    time.Time `json:"created_at"`
}

// TariffInfo is a tariff on offer.
type TariffInfo struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Price        int64  `json:"price"` // per operator per month, minor units
	MaxOperators int    `json:"max_operators"`
	DiskMB       int64  `json:"disk_mb"`
	DBMB         int64  `json:"db_mb"`
	Designer     bool   `json:"designer"`
	Timing       bool   `json:"timing"`
	APITokens    bool   `json:"api_tokens"`
	CustomDomain bool   `json:"custom_domain"`
	OwnSMTP      bool   `json:"own_smtp"`
}

// ErrPaymentRequired is returned when the balance cannot pay for a change.
var ErrPaymentRequired = errors.New("the balance does not cover a day of this plan: top up first")

// NotifyAdmins queues a mail to every active admin of the portal (the control
// plane's warnings and reminders).
func (p *Portal) NotifyAdmins(ctx context.Context, kind string, render func(lang string) (subject, text string)) error {
	admins, err := p.Users(ctx, RoleAdmin)
	if err != nil {
		return err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		for _, a := range admins {
			if !a.Active {
				continue
			}
			lang := a.Lang
			if lang == "" {
				lang = p.Setting(ctx, "lang", "en")
			}
			subject, text := render(lang)
			if err := tp.enqueue(ctx, kind, a, subject, i18n.T(lang, "Hello, %s!", a.Name)+"\n\n"+text+"\n\n"+p.URL()+"admin/subscription\n", 0, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		p.kickOutbox()
	}
	return err
}

// Domain is a portal's own host name as its admin sees it: the DNS record
// to create and whether it is in place.
type Domain struct {
	Host        string    `json:"host"`
	RecordType  string    `json:"record_type"`  // CNAME, A or AAAA
	RecordValue string    `json:"record_value"` // what the record points to
	Verified    bool      `json:"verified"`     // served there, and mail links use it
	VerifiedAt  time.Time `json:"verified_at,omitzero"`
	CheckedAt   time.Time `json:"checked_at,omitzero"`
	Problem     string    `json:"problem,omitempty"` // what the last check found
}
