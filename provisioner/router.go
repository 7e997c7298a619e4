package provisioner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

	domains    atomic.Pointer[map[string]string]
	domainsAt  atomic.Int64
	domainsGen int64 // the service's domain generation the map was read at
	domainsMu  sync.Mutex
}

// NewRouter routes between the service's pages (site) and the portals' (portals).
func NewRouter(svc *Service, site, portals http.Handler) *Router {
	rt := &Router{svc: svc, site: site, portals: portals}
	m := map[string]string{}
	rt.domains.Store(&m)
	return rt
}

func (rt *Router) domainSlug(ctx context.Context, host string) (string, bool) {
	// Re-read after the TTL (another process, the shell, may have changed
	// them) or at once when this service changed them.
	gen := rt.svc.domainGen.Load()
	if (time.Now().UnixNano()-rt.domainsAt.Load() > int64(domainTTL) || gen != atomic.LoadInt64(&rt.domainsGen)) && rt.domainsMu.TryLock() {
		if m, err := rt.svc.catalog.Domains(ctx); err == nil {
			rt.domains.Store(&m)
			atomic.StoreInt64(&rt.domainsGen, gen)
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
	if c := rt.svc.cluster; c != nil {
		if strings.HasPrefix(path, ClusterPrefix) {
			c.serveAPI(w, r)
			return
		}
		if r.Method == "POST" && (path == "/signup" || path == "/api/v1/portals") && c.placeSignup(w, r) {
			return
		}
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
	c := rt.svc.cluster
	var h *Handle
	var err error
	for try := 0; ; try++ {
		if c != nil && c.elsewhere(w, r, slug) {
			return
		}
		h, err = rt.svc.registry.Acquire(ctx, slug)
		// Placed elsewhere since this node last looked, or being moved
		// away right now: look again (after the move).
		if c != nil && try < 3 && (errors.Is(err, errElsewhere) || errors.Is(err, ErrPortalMoving) && c.gate(slug) != nil) {
			c.forget(slug)
			continue
		}
		if errors.Is(err, errElsewhere) {
			err = ErrPortalMoving
		}
		break
	}
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
// a passing portal for this process alone (see Service.openPortal): a big
// upload takes a while to store, and meanwhile another process could not
// use the portal's database at all.
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

// memBody is the largest body kept in memory; a larger one is written to
// a temporary file while it arrives.
const memBody = 256 << 10

// minBodyRate is the slowest a body may arrive, on average, once its grace
// period (Config.BodyGrace) is over.
const minBodyRate = 16 << 10 // bytes a second

// receive reads r's body whole, into memory or a temporary file under
// DATA/tmp, and puts it back as a body that can be read again. Its read
// deadline grows with what has arrived — the grace period plus a second
// for every minBodyRate bytes — so a client dribbling a byte a second is
// cut off after the grace period. done removes the temporary file.
func (rt *Router) receive(w http.ResponseWriter, r *http.Request) (done func(), err error) {
	done = func() {}
	if r.Body == nil || r.Body == http.NoBody {
		return done, nil
	}
	limit := rt.svc.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return done, web.Errorf(http.StatusRequestEntityTooLarge, "too_large", "The request is larger than the service accepts (%s).", portal.HumanBytes(limit))
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	grace := rt.svc.cfg.BodyGrace
	var (
		mem  []byte
		file *os.File
		n    int64
		buf  = make([]byte, 32<<10)
	)
	fail := func(err error) (func(), error) {
		if file != nil {
			file.Close()
			os.Remove(file.Name())
		}
		// The rest of the body is not read: the connection closes after the
		// answer (the deadline, left as it is, stops the server waiting for
		// that rest), and no other request comes on it.
		w.Header().Set("Connection", "close")
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
			return func() {}, web.Errorf(http.StatusRequestTimeout, "too_slow", "The request arrived too slowly and was not accepted. Please try again.")
		}
		return func() {}, err
	}
	for {
		_ = rc.SetReadDeadline(start.Add(grace + time.Duration(n/minBodyRate)*time.Second))
		k, rerr := r.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				return fail(web.Errorf(http.StatusRequestEntityTooLarge, "too_large", "The request is larger than the service accepts (%s).", portal.HumanBytes(limit)))
			}
			if file == nil && len(mem)+k > memBody {
				if file, err = os.CreateTemp(filepath.Join(rt.svc.cfg.DataDir, "tmp"), "body-*"); err != nil {
					return fail(err)
				}
				if _, err := file.Write(mem); err != nil {
					return fail(err)
				}
				mem = nil
			}
			if file != nil {
				if _, err := file.Write(buf[:k]); err != nil {
					return fail(err)
				}
			} else {
				mem = append(mem, buf[:k]...)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	_ = rc.SetReadDeadline(time.Time{})
	r.Body.Close()
	r.ContentLength = n
	if file == nil {
		r.Body = &memReader{Reader: bytes.NewReader(mem)}
		return done, nil
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	r.Body = file
	return func() { file.Close(); os.Remove(file.Name()) }, nil
}

// memReader is a received body kept in memory.
type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }
