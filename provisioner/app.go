package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
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
	a.Portals = handlers.New(handlers.Config{PublicURL: svc.cfg.PublicURL, Templates: tpl, Mailer: svc.mailer, Billing: svc, Domains: svc, Mailboxes: svc, Clocks: svc, MinFill: svc.cfg.FormMinFill, Assets: assets})
	a.Router = NewRouter(svc, a.Site, a.Portals)
	cop := http.NewCrossOriginProtection()
	// The widget sends requests from the business's own website; it carries
	// no cookie of ours and its handler checks the site itself.
	for _, p := range []string{"POST /{portal}/api/v1/widget/tickets", "POST /api/v1/widget/tickets"} {
		cop.AddInsecureBypassPattern(p)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Site.RenderError(w, r, web.Errorf(http.StatusForbidden, "cross_origin", "This form was sent from another site and was refused. Please reload the page and try again."))
	}))
	a.handler = observe(svc.metrics, a.clientOf, cop.Handler(a.received(a.Router)))
	return a, nil
}

// clientOf is where a request comes from and whether over https: the
// remote address, unless it is a trusted proxy, whose forwarding headers
// then say. A request counts as secure when the public address is https.
func (a *App) clientOf(r *http.Request) (ip string, secure bool) {
	cfg := a.Svc.cfg
	if c := a.Svc.cluster; c != nil && c.hop(r) > 0 {
		// Passed on by another node, which saw the client.
		return r.Header.Get(hdrClient), r.Header.Get(hdrSecure) == "1"
	}
	secure = r.TLS != nil || strings.HasPrefix(cfg.PublicURL, "https://")
	ip = web.ClientIP(r)
	trusted := func(s string) bool {
		addr, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return false
		}
		for _, p := range cfg.TrustedProxies {
			if p.Contains(addr.Unmap()) {
				return true
			}
		}
		return false
	}
	if len(cfg.TrustedProxies) == 0 || !trusted(ip) {
		return ip, secure
	}
	var chain []string
	proto := ""
	if f := r.Header.Get("Forwarded"); f != "" {
		for _, elem := range strings.Split(f, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				v = strings.Trim(v, `"`)
				switch strings.ToLower(k) {
				case "for":
					if host, _, err := net.SplitHostPort(v); err == nil {
						v = host
					}
					chain = append(chain, v)
				case "proto":
					proto = strings.ToLower(v)
				}
			}
		}
	} else {
		for _, v := range strings.Split(r.Header.Get("X-Forwarded-For"), ",") {
			if v = strings.TrimSpace(v); v != "" {
				chain = append(chain, v)
			}
		}
		proto = strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")))
	}
	// The client is the last address on the way that is not a trusted proxy.
	for i := len(chain) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(strings.Trim(chain[i], "[]")); err != nil {
			break
		}
		ip = strings.Trim(chain[i], "[]")
		if !trusted(chain[i]) {
			break
		}
	}
	if proto == "https" {
		secure = true
	}
	return ip, secure
}

// ServeHTTP serves every request of the service.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := a.Svc.cluster
	if c == nil {
		a.handler.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	a.handler.ServeHTTP(w, r)
	c.observe(min(time.Since(start), time.Second)) // a live page's hours are not its latency
}

type requestIDKey struct{}

// RequestID is the id the request log gave this request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// observe writes one structured line per request — portal, route, status,
// duration, request id — and feeds the request metrics.
func observe(m *Metrics, client func(*http.Request) (string, bool), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, ri := web.WithRouteInfo(r.Context())
		ri.IP, ri.Secure = client(r)
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		sw := &web.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, requestIDKey{}, id)))
		d := time.Since(start)
		route := ri.Route
		if route == "" {
			route = "other"
		}
		if sw.Status == 0 {
			sw.Status = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.Status)).Inc()
		m.latency.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelInfo
		if route == "other" && strings.HasPrefix(r.URL.Path, ClusterPrefix+"catalog") {
			level = slog.LevelDebug // another node's catalog statement: one per query, too many to log
		}
		if slog.Default().Enabled(ctx, level) {
			slog.LogAttrs(ctx, level, "request",
				slog.String("id", id), slog.String("method", r.Method), slog.String("portal", ri.Portal), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", sw.Status), slog.Duration("duration", d), slog.String("ip", ri.IP))
		}
	})
}

// received makes every request's body arrive whole before next sees it
// (Router.receive): a portal is opened only for a request that is all
// there, so a client sending slowly holds no portal, however many it
// keeps busy.
func (a *App) received(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done, err := a.Router.receive(w, r)
		defer done()
		if err != nil {
			a.Site.RenderError(w, r, web.AsError(r, err))
			return
		}
		next.ServeHTTP(w, r)
	})
}
