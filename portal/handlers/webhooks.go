package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Webhooks (portal/webhooks.go): the admin's page and the API.
func (s *Server) webhookRoutes(m, api *mux.Router) {
	admin := portal.RoleAdmin
	m.Handle("/admin/webhooks", s.user(s.webhooksPage, admin)).Methods("GET")
	m.Handle("/admin/webhooks", s.user(s.webhookSubmit, admin)).Methods("POST")
	m.Handle("/admin/webhooks/{id:[0-9]+}", s.user(s.webhookSubmit, admin)).Methods("POST")
	m.Handle("/admin/webhooks/{id:[0-9]+}/{do:test|rotate|delete}", s.user(s.webhookDoSubmit, admin)).Methods("POST")
	m.Handle("/admin/webhooks/{id:[0-9]+}/deliveries/{did:[0-9]+}/resend", s.user(s.webhookDoSubmit, admin)).Methods("POST")
	api.Handle("/webhooks", s.user(s.apiWebhooks, admin)).Methods("GET")
	api.Handle("/webhooks", s.user(apiSave((*portal.Portal).SaveWebhook), admin)).Methods("POST")
	api.Handle("/webhooks/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveWebhook), admin)).Methods("PATCH")
	api.Handle("/webhooks/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteWebhook), admin)).Methods("DELETE")
	api.Handle("/webhooks/{id:[0-9]+}/deliveries", s.user(s.apiWebhookDeliveries, admin)).Methods("GET")
	api.Handle("/webhooks/{id:[0-9]+}/deliveries/{did:[0-9]+}/resend", s.user(s.apiResendDelivery, admin)).Methods("POST")
	api.Handle("/webhooks/{id:[0-9]+}/test", s.user(s.apiTestWebhook, admin)).Methods("POST")
	api.Handle("/webhooks/{id:[0-9]+}/rotate", s.user(s.apiRotateWebhook, admin)).Methods("POST")
}

// HookClientData is client.registered's object.
type HookClientData struct {
	Client portal.Person `json:"client"`
}

// HookPingData is a test event's object.
type HookPingData struct {
	Message string `json:"message"`
}

// WebhookList is the portal's endpoints.
type WebhookList struct {
	Webhooks []portal.Webhook `json:"webhooks"`
}

// DeliveryList is an endpoint's log, the newest first.
type DeliveryList struct {
	Deliveries []portal.HookDelivery `json:"deliveries"`
}

func (s *Server) apiWebhooks(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.Webhooks(r.Context(), rq.User)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, WebhookList{Webhooks: list})
	return nil
}

func (s *Server) apiWebhookDeliveries(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.WebhookDeliveries(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, DeliveryList{Deliveries: list})
	return nil
}

func deliveryID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(mux.Vars(r)["did"], 10, 64)
	return n
}

func (s *Server) apiResendDelivery(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.ResendDelivery(r.Context(), rq.User, pathID(r), deliveryID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) apiTestWebhook(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.TestWebhook(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) apiRotateWebhook(w http.ResponseWriter, r *http.Request, rq *Request) error {
	h, err := rq.P.RotateWebhookSecret(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, h)
	return nil
}

// WebhooksData is the admin's webhooks page.
type WebhooksData struct {
	Allowed    bool // the tariff includes the API
	Hooks      []portal.Webhook
	Deliveries map[int64][]portal.HookDelivery
	Events     []struct{ ID, Label string }
	Secret     string // a secret just made or rotated, shown once
	SecretFor  int64
	EditID     int64
}

// Wants says whether endpoint h asks for event e.
func (d *WebhooksData) Wants(h portal.Webhook, e string) bool { return slices.Contains(h.Events, e) }

func (s *Server) renderWebhooks(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &WebhooksData{Allowed: rq.P.Plan().APITokens, Events: portal.HookEvents, Deliveries: map[int64][]portal.HookDelivery{}, EditID: -1}
	var err error
	if d.Hooks, err = rq.P.Webhooks(ctx, rq.User); err != nil {
		return err
	}
	for _, h := range d.Hooks {
		list, err := rq.P.WebhookDeliveries(ctx, rq.User, h.ID)
		if err != nil {
			return err
		}
		d.Deliveries[h.ID] = list[:min(len(list), 10)]
	}
	return s.renderPage(w, r, rq, status, "admin_webhooks", "Webhooks", "webhooks", d, fix)
}

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderWebhooks(w, r, rq, http.StatusOK, nil)
}

// webhookSubmit makes or changes an endpoint from the page; a new one's
// secret is shown once, on the page that answers.
func (s *Server) webhookSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	u, events, active := r.PostForm.Get("url"), r.PostForm["events"], r.PostForm.Get("active") != ""
	if events == nil {
		events = []string{}
	}
	h, err := rq.P.SaveWebhook(r.Context(), rq.User, id, portal.WebhookInput{URL: &u, Events: &events, Active: &active})
	if err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderWebhooks(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*WebhooksData).EditID = id })
	}
	if id == 0 {
		return s.renderWebhooks(w, r, rq, http.StatusOK, func(pg *templates.Page) {
			d := pg.Data.(*WebhooksData)
			d.Secret, d.SecretFor = h.Secret, h.ID
			pg.Flash = "The endpoint is added. Copy its secret now: it is not shown again."
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/webhooks", "The endpoint is saved.")+fmt.Sprintf("#hook-%d", id))
}

// webhookDoSubmit tests, rotates the secret of, deletes, or resends a
// delivery of an endpoint.
func (s *Server) webhookDoSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ctx, id := r.Context(), pathID(r)
	back := rq.Base + "/admin/webhooks"
	var err error
	msg := ""
	switch {
	case deliveryID(r) != 0:
		err, msg = rq.P.ResendDelivery(ctx, rq.User, id, deliveryID(r)), "The delivery is queued again."
	case mux.Vars(r)["do"] == "test":
		err, msg = rq.P.TestWebhook(ctx, rq.User, id), "A test event is queued: its delivery shows below in a moment."
	case mux.Vars(r)["do"] == "delete":
		err, msg = rq.P.DeleteWebhook(ctx, rq.User, id), "The endpoint is deleted."
	default:
		h, rerr := rq.P.RotateWebhookSecret(ctx, rq.User, id)
		if rerr != nil {
			return rerr
		}
		return s.renderWebhooks(w, r, rq, http.StatusOK, func(pg *templates.Page) {
			d := pg.Data.(*WebhooksData)
			d.Secret, d.SecretFor = h.Secret, h.ID
			pg.Flash = "The endpoint has a new secret: copy it now. The old one still signs, beside it, for a day."
		})
	}
	if err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderWebhooks(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, back, msg)+fmt.Sprintf("#hook-%d", id))
}
