package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Billing is what the control plane offers a portal about its subscription.
// The portal passes only its own catalog id; the money lives in the catalog.
type Billing interface {
	Subscription(ctx context.Context, portalID int64) (*portal.Subscription, error)
	Quote(ctx context.Context, portalID int64, tariff string, operators int) (*portal.Quote, error)
	ChangeSubscription(ctx context.Context, portalID int64, actor string, tariff *string, operators *int) (*portal.Subscription, error)
	TopUp(ctx context.Context, portalID int64, amount int64, promo, payer string) (*portal.Invoice, error)
	Invoice(ctx context.Context, portalID int64, number string) (*portal.Invoice, error)
	Invoices(ctx context.Context, portalID int64, limit int) ([]*portal.Invoice, error)
	Transactions(ctx context.Context, portalID int64, limit int) ([]portal.Transaction, error)
	Tariffs(ctx context.Context) ([]portal.TariffInfo, error)
	SetAdminDBLimit(ctx context.Context, portalID int64, mb int64) error
	Money(minor int64) string
}

func (s *Server) billingRoutes(m, api *mux.Router) {
	m.Handle("/admin/subscription", s.user(s.subscriptionPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/subscription", s.user(s.subscriptionSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/subscription/topup", s.user(s.topupSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/subscription/db-limit", s.user(s.dbLimitSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/invoices/{number}", s.user(s.invoicePage, portal.RoleAdmin)).Methods("GET")
	api.Handle("/subscription", s.user(s.apiSubscription, portal.RoleAdmin)).Methods("GET")
	api.Handle("/subscription", s.user(s.apiChangeSubscription, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/subscription/quote", s.user(s.apiQuote, portal.RoleAdmin)).Methods("GET")
	api.Handle("/subscription/topup", s.user(s.apiTopUp, portal.RoleAdmin)).Methods("POST")
	api.Handle("/transactions", s.user(s.apiTransactions, portal.RoleAdmin)).Methods("GET")
	api.Handle("/invoices", s.user(s.apiInvoices, portal.RoleAdmin)).Methods("GET")
	api.Handle("/invoices/{number}", s.user(s.apiInvoice, portal.RoleAdmin)).Methods("GET")
	api.Handle("/tariffs", s.user(s.apiTariffs)).Methods("GET")
}

func (s *Server) billing() (Billing, error) {
	if s.cfg.Billing == nil {
		return nil, errors.New("billing is not set up on this service")
	}
	return s.cfg.Billing, nil
}

// SubscriptionData is the admin's subscription page.
type SubscriptionData struct {
	Sub      *portal.Subscription
	Tariffs  []portal.TariffInfo
	Txns     []portal.Transaction
	Invoices []*portal.Invoice
	Quote    *portal.Quote
	Money    func(int64) string
	DBUsed   int64
	DBQuota  int64
}

func (s *Server) renderSubscription(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	ctx := r.Context()
	d := &SubscriptionData{Money: b.Money}
	if d.Sub, err = b.Subscription(ctx, rq.P.Plan().ID); err != nil {
		return err
	}
	if d.Tariffs, err = b.Tariffs(ctx); err != nil {
		return err
	}
	if d.Txns, err = b.Transactions(ctx, rq.P.Plan().ID, 100); err != nil {
		return err
	}
	if d.Invoices, err = b.Invoices(ctx, rq.P.Plan().ID, 50); err != nil {
		return err
	}
	d.DBQuota = rq.P.Plan().DBQuotaBytes
	d.DBUsed = d.Sub.DBBytes
	pg := s.withFlash(r, rq, s.page(r, rq, "Subscription", d))
	pg.Nav = "subscription"
	pg.Form = url.Values{"tariff": {d.Sub.Tariff}, "operators": {strconv.Itoa(d.Sub.Operators)}, "db_mb": {""}}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_subscription", pg)
}

func (s *Server) subscriptionPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderSubscription(w, r, rq, http.StatusOK, nil)
}

func (s *Server) billingFail(w http.ResponseWriter, r *http.Request, rq *Request, err error) error {
	we, ok := webError(err).(*web.Error)
	if !ok || we.Status == http.StatusNotFound || we.Status == http.StatusForbidden {
		return err
	}
	return s.renderSubscription(w, r, rq, we.Status, func(pg *templates.Page) {
		for k, v := range r.PostForm {
			pg.Form[k] = v
		}
		pg.Errors, pg.Error = we.Fields, we.Message
	})
}

// subscriptionSubmit shows the price of a change first, and makes it only
// when the admin confirms that price.
func (s *Server) subscriptionSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	tariff := r.PostForm.Get("tariff")
	ops, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("operators")))
	if err != nil {
		return s.billingFail(w, r, rq, &portal.FieldErrors{Fields: map[string]string{"operators": "Enter a whole number."}})
	}
	q, err := b.Quote(r.Context(), rq.P.Plan().ID, tariff, ops)
	if err != nil {
		return s.billingFail(w, r, rq, err)
	}
	if r.PostForm.Get("confirm") == "" {
		return s.renderSubscription(w, r, rq, http.StatusOK, func(pg *templates.Page) {
			pg.Data.(*SubscriptionData).Quote = q
			pg.Form.Set("tariff", q.Tariff)
			pg.Form.Set("operators", strconv.Itoa(q.Operators))
		})
	}
	if _, err := b.ChangeSubscription(r.Context(), rq.P.Plan().ID, rq.User.Email, &q.Tariff, &q.Operators); err != nil {
		return s.billingFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/subscription", "The subscription is changed."))
}

// parseMoney reads "850", "850.5" or "850,50" as minor units.
func parseMoney(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), ",", ".")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e12 || math.IsNaN(f) {
		return 0, false
	}
	return int64(math.Round(f * 100)), true
}

func (s *Server) topupSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	amount, ok := parseMoney(r.PostForm.Get("amount"))
	if !ok {
		return s.billingFail(w, r, rq, &portal.FieldErrors{Fields: map[string]string{"amount": "Enter an amount, like 8500 or 8500.50."}})
	}
	inv, err := b.TopUp(r.Context(), rq.P.Plan().ID, amount, r.PostForm.Get("promo"), r.PostForm.Get("payer"))
	if err != nil {
		return s.billingFail(w, r, rq, err)
	}
	return redirect(w, r, rq.Base+"/admin/invoices/"+url.PathEscape(inv.Number))
}

func (s *Server) dbLimitSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	mb, err := strconv.ParseInt(strings.TrimSpace(r.PostForm.Get("db_mb")), 10, 64)
	if err != nil {
		return s.billingFail(w, r, rq, &portal.FieldErrors{Fields: map[string]string{"db_mb": "Enter a whole number of megabytes, or 0 for the tariff's limit."}})
	}
	if err := b.SetAdminDBLimit(r.Context(), rq.P.Plan().ID, mb); err != nil {
		return s.billingFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/subscription", "The database limit is saved."))
}

// InvoiceData is a printable invoice.
type InvoiceData struct {
	Inv   *portal.Invoice
	Money func(int64) string
}

func (s *Server) invoicePage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	inv, err := b.Invoice(r.Context(), rq.P.Plan().ID, mux.Vars(r)["number"])
	if err != nil {
		return err
	}
	pg := s.page(r, rq, "Invoice "+inv.Number, &InvoiceData{Inv: inv, Money: b.Money})
	pg.Nav = "subscription"
	return s.tpl.Render(w, http.StatusOK, "invoice", pg)
}

func (s *Server) apiSubscription(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	sub, err := b.Subscription(r.Context(), rq.P.Plan().ID)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, sub)
	return nil
}

func (s *Server) apiChangeSubscription(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in PlanInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	sub, err := b.ChangeSubscription(r.Context(), rq.P.Plan().ID, rq.User.Email, in.Tariff, in.Operators)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, sub)
	return nil
}

func (s *Server) apiQuote(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	ops, _ := strconv.Atoi(r.URL.Query().Get("operators"))
	q, err := b.Quote(r.Context(), rq.P.Plan().ID, r.URL.Query().Get("tariff"), ops)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, q)
	return nil
}

func (s *Server) apiTopUp(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in TopUpInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	inv, err := b.TopUp(r.Context(), rq.P.Plan().ID, in.Amount, in.Promo, in.Payer)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/admin/invoices/%s", rq.Base, inv.Number))
	web.WriteJSON(w, http.StatusCreated, inv)
	return nil
}

func (s *Server) apiTransactions(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	txns, err := b.Transactions(r.Context(), rq.P.Plan().ID, 1000)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, TransactionList{nonNil(txns)})
	return nil
}

func (s *Server) apiInvoice(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	inv, err := b.Invoice(r.Context(), rq.P.Plan().ID, mux.Vars(r)["number"])
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, inv)
	return nil
}

func (s *Server) apiInvoices(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	list, err := b.Invoices(r.Context(), rq.P.Plan().ID, 200)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, InvoiceList{nonNil(list)})
	return nil
}

func (s *Server) apiTariffs(w http.ResponseWriter, r *http.Request, rq *Request) error {
	b, err := s.billing()
	if err != nil {
		return err
	}
	ts, err := b.Tariffs(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, TariffList{nonNil(ts)})
	return nil
}
