package handlers

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// audited are the requests the audit log records, by method and route,
// with the action each is; the page and the API alike. A request that
// answers an error changed nothing and is not recorded.
var audited = map[string]string{
	"POST /profile/password": "password_changed", "POST /api/v1/password": "password_changed",
	"POST /profile/two-factor/{action:start|enable|disable|codes}": "two_factor",
	"POST /profile/sessions/{id:others|[0-9a-f]{12}}/end":          "sessions_ended",
	"POST /profile/tokens": "token_created", "POST /api/v1/tokens": "token_created",
	"POST /profile/tokens/{id}/revoke": "token_revoked", "DELETE /api/v1/tokens/{id}": "token_revoked",
	"POST /people": "user_invited", "POST /api/v1/users": "user_invited",
	"POST /people/{id:[0-9]+}": "user_changed", "PATCH /api/v1/users/{id:[0-9]+}": "user_changed",
	"POST /people/{id:[0-9]+}/password-link": "password_link",
	"POST /admin/settings":                   "settings", "PUT /api/v1/settings": "settings",
	"POST /admin/workflow": "settings", "PUT /api/v1/workflow": "settings", "PATCH /api/v1/workflow": "settings",
	"POST /admin/statuses": "status", "POST /admin/statuses/{id:[0-9]+}": "status",
	"POST /api/v1/statuses": "status", "PATCH /api/v1/statuses/{id:[0-9]+}": "status",
	"POST /admin/form/fields": "form", "POST /admin/form/fields/{id:[0-9]+}": "form",
	"POST /admin/form/preamble": "form", "PUT /api/v1/form": "form",
	"POST /admin/mail/smtp": "mail", "PUT /api/v1/mail/smtp": "mail",
	"POST /admin/mail/templates/{kind}/{lang}": "mail", "PUT /api/v1/mail/templates/{kind}/{lang}": "mail",
	"DELETE /api/v1/mail/templates/{kind}/{lang}": "mail",
	"POST /admin/logo":                            "logo",
	"POST /admin/work-types":                      "price_list", "POST /admin/work-types/{id:[0-9]+}": "price_list",
	"POST /api/v1/work-types": "price_list", "PATCH /api/v1/work-types/{id:[0-9]+}": "price_list",
	"POST /admin/subscription": "subscription", "POST /admin/subscription/topup": "subscription",
	"POST /admin/subscription/db-limit": "subscription",
	"PATCH /api/v1/subscription":        "subscription", "POST /api/v1/subscription/topup": "subscription",
	"POST /tickets/{n:[0-9]+}/delete": "ticket_deleted", "DELETE /api/v1/tickets/{n:[0-9]+}": "ticket_deleted",
	"POST /people/{id:[0-9]+}/erase": "person_erased", "POST /api/v1/users/{id:[0-9]+}/erase": "person_erased",
	"POST /admin/channels/{kind:telegram|vk}": "channel", "PUT /api/v1/channels/{kind:telegram|vk}": "channel",
	"POST /admin/channels/{kind:telegram|vk}/delete": "channel", "DELETE /api/v1/channels/{kind:telegram|vk}": "channel",
	"GET /people/{id:[0-9]+}/export": "person_exported", "GET /api/v1/users/{id:[0-9]+}/export": "person_exported",
}

// exports are the reports whose CSV is recorded as an export.
var exports = map[string]bool{"/stats": true, "/reports/labour": true, "/api/v1/stats": true, "/api/v1/reports/labour": true, "/admin/audit": true, "/api/v1/audit": true}

// auditAction is what the audit log calls r, or "" when it does not record it.
func auditAction(r *http.Request) string {
	cr := mux.CurrentRoute(r)
	if cr == nil {
		return ""
	}
	tpl, _ := cr.GetPathTemplate()
	if r.Method == http.MethodGet && exports[tpl] && r.URL.Query().Get("format") == "csv" {
		return "export"
	}
	return audited[r.Method+" "+tpl]
}

// audit records what rq's person did with r. Its failure never fails
// the request, which has already been answered: it is logged.
func (s *Server) audit(r *http.Request, rq *Request, action, target, detail string) {
	e := portal.AuditEntry{Action: action, Target: target, Detail: detail, IP: web.Info(r).IP}
	if rq.User != nil {
		e.ActorID, e.Actor = rq.User.ID, rq.User.FullName()+" <"+rq.User.Email+">"
	}
	if err := rq.P.Audit(r.Context(), e); err != nil {
		slog.Error("audit", "action", action, "path", r.URL.Path, "err", err)
	}
}

// auditTarget names what a request acted on, from its route's variables
// and the form's role and access fields.
func auditTarget(r *http.Request) (target, detail string) {
	v := mux.Vars(r)
	switch {
	case v["n"] != "":
		target = "#" + v["n"]
	case v["kind"] != "":
		target = v["kind"] + "/" + v["lang"]
	case v["id"] != "":
		target = v["id"]
	case v["action"] != "":
		target = v["action"]
	}
	if r.Method == http.MethodGet { // an export: what was read
		target = strings.TrimSpace(target + " " + r.URL.Path)
	}
	var parts []string
	for _, k := range []string{"role", "active", "name", "email"} {
		if val := r.PostForm.Get(k); val != "" {
			parts = append(parts, k+": "+val)
		}
	}
	return target, strings.Join(parts, ", ")
}
