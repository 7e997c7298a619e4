package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"portaldesk/portal/handlers"
	"portaldesk/portal/web"
	"portaldesk/static"
	"portaldesk/templates"
)

// App is the whole HTTP service: the tenant router in front of the service's
// pages and the portals', with cross-origin protection and request logs.
type App struct {
	Svc     *Service
	Router  *Router
	Site    *Site
	Portals *handlers.Server
	Assets  *static.Assets
	Tpl     *templates.Set
	handler http.Handler
}

// NewApp parses the templates and wires the handlers.
func NewApp(svc *Service) (*App, error) {
	assets := static.New()
	tpl, err := templates.Parse(template.FuncMap{"static": assets.URL})
	if err != nil {
		return nil, err
	}
	a := &App{Svc: svc, Assets: assets, Tpl: tpl}
	a.Site = NewSite(svc, tpl, assets)
	a.Portals = handlers.New(handlers.Config{PublicURL: svc.cfg.PublicURL, Templates: tpl, Mailer: svc.mailer, Billing: svc})
	a.Router = NewRouter(svc, a.Site, a.Portals)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Site.RenderError(w, r, web.Errorf(http.StatusForbidden, "cross_origin", "This form was sent from another site and was refused. Please reload the page and try again."))
	}))
	a.handler = observe(svc.metrics, cop.Handler(a.Router))
	return a, nil
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming responses through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

// RequestID is the id the request log gave this request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// observe writes one structured line per request — portal, route, status,
// duration, request id — and feeds the request metrics.
func observe(m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, ri := web.WithRouteInfo(r.Context())
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, requestIDKey{}, id)))
		d := time.Since(start)
		route := ri.Route
		if route == "" {
			route = "other"
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route).Observe(d.Seconds())
		if slog.Default().Enabled(ctx, slog.LevelInfo) {
			slog.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("id", id), slog.String("method", r.Method), slog.String("portal", ri.Portal), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Duration("duration", d))
		}
	})
}
