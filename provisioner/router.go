package provisioner

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/handlers"
	"portaldesk/portal/web"
)

// domainTTL is how long the map of custom domains is trusted before it is re-read.
const domainTTL = 2 * time.Second

// Router is the one place that maps a request to a portal: by custom domain
// (Host) or by the first path segment. Everything below it receives one
// *portal.Portal and cannot name another.
type Router struct {
	svc     *Service
	site    http.Handler // the service's own pages
	portals http.Handler // every portal's pages and API

	domains   atomic.Pointer[map[string]string]
	domainsAt atomic.Int64
	domainsMu sync.Mutex
}

// NewRouter routes between the service's pages (site) and the portals' (portals).
func NewRouter(svc *Service, site, portals http.Handler) *Router {
	rt := &Router{svc: svc, site: site, portals: portals}
	m := map[string]string{}
	rt.domains.Store(&m)
	return rt
}

func (rt *Router) domainSlug(ctx context.Context, host string) (string, bool) {
	if time.Now().UnixNano()-rt.domainsAt.Load() > int64(domainTTL) && rt.domainsMu.TryLock() {
		if m, err := rt.svc.catalog.Domains(ctx); err == nil {
			rt.domains.Store(&m)
		}
		rt.domainsAt.Store(time.Now().UnixNano())
		rt.domainsMu.Unlock()
	}
	slug, ok := (*rt.domains.Load())[host]
	return slug, ok
}

// InvalidateDomains makes the next request re-read the custom domains.
func (rt *Router) InvalidateDomains() { rt.domainsAt.Store(0) }

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(h)
}

// ServeHTTP resolves the portal of a request, or hands it to the service's pages.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/static/") {
		rt.site.ServeHTTP(w, r)
		return
	}
	if slug, ok := rt.domainSlug(r.Context(), hostOnly(r.Host)); ok {
		rt.servePortal(w, r, slug, "")
		return
	}
	seg := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	if !looksLikeSlug(seg) || reservedSlugs[seg] {
		rt.site.ServeHTTP(w, r)
		return
	}
	if len(path) == len(seg)+1 { // "/acme" without the slash
		http.Redirect(w, r, path+"/", http.StatusMovedPermanently)
		return
	}
	rt.servePortal(w, r, seg, "/"+seg)
}

func (rt *Router) servePortal(w http.ResponseWriter, r *http.Request, slug, base string) {
	ri := web.Info(r)
	ri.Portal, ri.Route = slug, "/{portal}/*"
	ctx := r.Context()
	if !short(r) {
		ctx = ordinaryOpen(ctx)
	}
	h, err := rt.svc.registry.Acquire(ctx, slug)
	if err != nil {
		if errors.Is(err, portal.ErrNotFound) {
			rt.siteError(w, r, &web.Error{Status: http.StatusNotFound, Code: "no_such_portal", Message: "There is no portal at this address."})
			return
		}
		rt.siteError(w, r, web.AsError(r, err))
		return
	}
	defer h.Release()
	p := h.Portal
	switch p.Plan().State {
	case portal.StateSuspended:
		rt.siteError(w, r, &web.Error{Status: http.StatusForbidden, Code: "portal_suspended", Message: "This portal is suspended. If it is yours, please contact support."})
		return
	case portal.StateDeleted:
		rt.siteError(w, r, &web.Error{Status: http.StatusNotFound, Code: "no_such_portal", Message: "There is no portal at this address."})
		return
	}
	r2 := new(http.Request)
	*r2 = *r
	r2 = r2.WithContext(handlers.WithPortal(r.Context(), p, base, h.Release))
	if base != "" {
		u := *r.URL
		u.Path = strings.TrimPrefix(r.URL.Path, base)
		u.RawPath = ""
		r2.URL = &u
	}
	rt.portals.ServeHTTP(w, r2)
}

// siteError is set by the site handler so that router errors look like the rest.
func (rt *Router) siteError(w http.ResponseWriter, r *http.Request, e *web.Error) {
	if s, ok := rt.site.(interface {
		RenderError(http.ResponseWriter, *http.Request, *web.Error)
	}); ok {
		s.RenderError(w, r, e)
		return
	}
	if web.IsAPI(r) {
		web.JSONError(w, e)
		return
	}
	http.Error(w, e.Message, e.Status)
}

// shortBody is the largest request body a request may bring and still open
// a passing portal for this process alone (see Service.openPortal): an
// upload can last minutes, and meanwhile another process could not use
// the portal's database at all.
const shortBody = 64 << 10

// short says whether r brings no body larger than shortBody.
func short(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	return r.ContentLength >= 0 && r.ContentLength <= shortBody
}

type ordinaryKey struct{}

// ordinaryOpen marks ctx: a portal opened for it is opened the ordinary way.
func ordinaryOpen(ctx context.Context) context.Context {
	return context.WithValue(ctx, ordinaryKey{}, true)
}
