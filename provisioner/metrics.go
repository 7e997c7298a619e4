package provisioner

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics. Requests are labelled by
// route template, never by portal, so cardinality stays bounded.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	provision prometheus.Histogram
	jobRuns   *prometheus.CounterVec
	jobTime   *prometheus.HistogramVec
	mailSent  prometheus.Counter
	mailFail  prometheus.Counter

	mu      sync.Mutex
	pending map[string]int // outbox depth per portal, as last delivered
}

func newMetrics(s *Service) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), pending: map[string]int{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portaldesk_http_requests_total", Help: "HTTP requests by route template, method and status."}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portaldesk_http_request_duration_seconds", Help: "HTTP request latency by route template.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	m.provision = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "portaldesk_provision_duration_seconds", Help: "Time to provision a portal (without password hashing).",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25}})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portaldesk_job_runs_total", Help: "Scheduled job runs by job and outcome."}, []string{"job", "outcome"})
	m.jobTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portaldesk_job_duration_seconds", Help: "Scheduled job durations.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)}, []string{"job"})
	m.mailSent = prometheus.NewCounter(prometheus.CounterOpts{Name: "portaldesk_mail_sent_total", Help: "Mail delivered."})
	m.mailFail = prometheus.NewCounter(prometheus.CounterOpts{Name: "portaldesk_mail_failed_attempts_total", Help: "Failed delivery attempts (retried or final)."})
	m.reg.MustRegister(m.requests, m.latency, m.provision, m.jobRuns, m.jobTime, m.mailSent, m.mailFail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portaldesk_open_portals", Help: "Portal databases open now (in the LRU, or held by a request)."}, func() float64 { return float64(s.registry.Live()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portaldesk_portal_cold_opens_total", Help: "Portals opened because a request needed them."}, func() float64 { return float64(s.registry.ColdOpens.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portaldesk_portal_evictions_total", Help: "Portals evicted from the registry."}, func() float64 { return float64(s.registry.Evictions.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portaldesk_portals_provisioned_total", Help: "Portals provisioned by this process."}, func() float64 { return float64(s.provisioned.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portaldesk_outbox_pending", Help: "Mail waiting in the outboxes, as the deliverer last saw them."}, func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			n := 0
			for _, v := range m.pending {
				n += v
			}
			return float64(n)
		}),
		&stateCollector{s: s, desc: prometheus.NewDesc("portaldesk_portals", "Portals by state and quota level.", []string{"state", "quota_level"}, nil)},
	)
	return m
}

// stateCollector reads portal states and quota levels from the catalog at scrape time.
type stateCollector struct {
	s    *Service
	desc *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.s.catalog.StateCounts(ctx)
	if err != nil {
		return
	}
	for _, sc := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(sc.N), sc.State, strconv.Itoa(sc.Level))
	}
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// ObserveJob records a job run.
func (m *Metrics) ObserveJob(job string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.jobRuns.WithLabelValues(job, outcome).Inc()
	m.jobTime.WithLabelValues(job).Observe(d.Seconds())
}

func (m *Metrics) observeMail(slug string, sent, failed, pending int) {
	m.mailSent.Add(float64(sent))
	m.mailFail.Add(float64(failed))
	m.mu.Lock()
	if pending == 0 {
		delete(m.pending, slug)
	} else {
		m.pending[slug] = pending
	}
	m.mu.Unlock()
}
