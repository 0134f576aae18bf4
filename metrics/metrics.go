// Package metrics is the server's Prometheus instrumentation, on a private
// registry (no global state): GraphQL requests, lemlist calls, the upstream
// cache, the loaders' batches, the mirror (mirror.go: its state, and
// lemlist calls by rate limiter lane), and the Go runtime and process.
//
// A *Metrics is the lemlist.Observer of every client and the
// upstream.CacheObserver of the cache, so those packages stay free of
// Prometheus. Every label value is bounded: endpoints, kinds, loaders and
// retry reasons come from the code; statuses are numbers; operation names,
// which clients choose, go through an allow-list pattern, a cap on
// distinct names and a share of it per tenant (see OperationFor); outcomes
// through a code pattern.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values that stand for many.
const (
	// Anonymous is the operation label of an operation without a name.
	Anonymous = "anonymous"
	// Other is the label of a name or code that is invalid, or of an
	// operation name seen after MaxOperations distinct ones.
	Other = "other"
	// OutcomeOK is the outcome of a request answered without errors.
	OutcomeOK = "ok"
)

// MaxOperations bounds the distinct operation names used as labels; later
// names are counted as Other.
const MaxOperations = 100

// DefaultMaxOperationsPerTenant bounds the names one tenant can add to the
// MaxOperations labelled ones, so that junk names from one tenant cannot
// push the real operations of the others into Other.
const DefaultMaxOperationsPerTenant = 20

var (
	opNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	codeRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,47}$`)
)

// Metrics holds the server's collectors and its registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	inFlight         prometheus.Gauge
	perRequestCalls  prometheus.Histogram
	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	retries          *prometheus.CounterVec
	rateLimitWait    prometheus.Histogram
	cacheRequests    *prometheus.CounterVec
	cacheCoalesced   *prometheus.CounterVec
	loaderBatch      *prometheus.HistogramVec

	laneOnce sync.Once
	lanes    *prometheus.CounterVec // LaneTransport's

	mu        sync.Mutex
	ops       map[string]struct{} // the labelled names
	perTenant map[string]int      // how many of them each tenant added
}

// New returns the server's metrics, registered with a fresh registry along
// with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		ops:       map[string]struct{}{},
		perTenant: map[string]int{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_requests_total",
			Help: "GraphQL HTTP requests by operation name and outcome (ok, or the first error's code).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphql_request_duration_seconds",
			Help:    "Latency of GraphQL HTTP requests by operation name.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_requests_in_flight",
			Help: "GraphQL HTTP requests being served.",
		}),
		perRequestCalls: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "graphql_request_upstream_calls",
			Help:    "lemlist HTTP requests made on behalf of one GraphQL request.",
			Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100},
		}),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lemlist_requests_total",
			Help: "HTTP attempts to lemlist by endpoint template and status (0: no response).",
		}, []string{"endpoint", "status"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lemlist_request_duration_seconds",
			Help:    "Duration of HTTP attempts to lemlist, body read included, by endpoint template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lemlist_retries_total",
			Help: "Retried lemlist calls by endpoint template and reason.",
		}, []string{"endpoint", "reason"}),
		rateLimitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lemlist_rate_limit_wait_seconds",
			Help:    "Time each attempt spent waiting for a slot of the per-key rate limiter.",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2, 5, 10},
		}),
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_cache_requests_total",
			Help: "Upstream calls looked up in the cache by kind and result (hit or miss).",
		}, []string{"kind", "result"}),
		cacheCoalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_cache_coalesced_total",
			Help: "Cache misses that shared another caller's identical upstream call, by kind.",
		}, []string{"kind"}),
		loaderBatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loader_batch_size",
			Help:    "Keys per dataloader batch, by loader.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100},
		}, []string{"loader"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.perRequestCalls,
		m.upstreamRequests, m.upstreamDuration, m.retries, m.rateLimitWait,
		m.cacheRequests, m.cacheCoalesced, m.loaderBatch,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the private registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// GaugeFunc registers a gauge whose value f returns at each scrape.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc registers a counter whose value f reads at each scrape; f
// must never decrease.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// Operation returns the label for a client-chosen operation name when the
// server trusts all its clients alike (one tenant, no per-client share):
// Anonymous for "", Other for a name that does not match
// ^[A-Za-z_][A-Za-z0-9_]{0,63}$ or comes after MaxOperations distinct
// names, else the name. Where clients are not trusted alike, use
// OperationFor.
func (m *Metrics) Operation(name string) string { return m.operation("", name, MaxOperations) }

// OperationFor returns the label for an operation name that a client of
// tenant chose: Anonymous for "", Other for a name that does not match
// ^[A-Za-z_][A-Za-z0-9_]{0,63}$, and otherwise the name if it is labelled
// already (whichever tenant added it) or can be added: the labelled names
// stay within MaxOperations, and each tenant adds at most
// DefaultMaxOperationsPerTenant of them. tenant is who the names count
// against: the tenant id in pass-through mode, or the client (its token's
// name) in server mode; it is never a label.
func (m *Metrics) OperationFor(tenant, name string) string {
	return m.operation(tenant, name, DefaultMaxOperationsPerTenant)
}

// operation labels name, which tenant may add if it added fewer than share.
func (m *Metrics) operation(tenant, name string, share int) string {
	if name == "" {
		return Anonymous
	}
	if !opNameRE.MatchString(name) {
		return Other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ops[name]; ok {
		return name
	}
	if len(m.ops) >= MaxOperations || m.perTenant[tenant] >= share {
		return Other
	}
	m.ops[name] = struct{}{}
	m.perTenant[tenant]++
	return name
}

// Outcome returns the label for an outcome: OutcomeOK or an error code
// matching ^[A-Z][A-Z0-9_]{0,47}$, else Other.
func Outcome(code string) string {
	if code == OutcomeOK || codeRE.MatchString(code) {
		return code
	}
	return Other
}

// RequestStarted counts a GraphQL request in flight; call the function it
// returns when the request ends.
func (m *Metrics) RequestStarted() (done func()) {
	m.inFlight.Inc()
	return m.inFlight.Dec
}

// ObserveRequest records a finished GraphQL request. operation is a label
// from Operation; outcome goes through Outcome.
func (m *Metrics) ObserveRequest(operation, outcome string, d time.Duration, upstreamCalls int) {
	m.requests.WithLabelValues(operation, Outcome(outcome)).Inc()
	m.duration.WithLabelValues(operation).Observe(d.Seconds())
	m.perRequestCalls.Observe(float64(upstreamCalls))
}

// Request records one HTTP attempt to lemlist. It implements
// lemlist.Observer.
func (m *Metrics) Request(endpoint string, status int, _ int, d time.Duration) {
	m.upstreamRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.upstreamDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// Retry records a retried lemlist call. It implements lemlist.Observer.
func (m *Metrics) Retry(endpoint, reason string) {
	m.retries.WithLabelValues(endpoint, reason).Inc()
}

// RateLimitWait records the time an attempt waited for a rate-limit slot.
// It implements lemlist.Observer.
func (m *Metrics) RateLimitWait(d time.Duration) {
	m.rateLimitWait.Observe(d.Seconds())
}

// CacheHit records a call answered from the cache. It implements
// upstream.CacheObserver.
func (m *Metrics) CacheHit(kind string) {
	m.cacheRequests.WithLabelValues(kind, "hit").Inc()
}

// CacheMiss records a call the cache could not answer. It implements
// upstream.CacheObserver.
func (m *Metrics) CacheMiss(kind string) {
	m.cacheRequests.WithLabelValues(kind, "miss").Inc()
}

// Coalesced records a miss that joined another caller's upstream call. It
// implements upstream.CacheObserver.
func (m *Metrics) Coalesced(kind string) {
	m.cacheCoalesced.WithLabelValues(kind).Inc()
}

// LoaderBatch records the size of one loader batch; it fits
// loaders.Options.OnBatch.
func (m *Metrics) LoaderBatch(loader string, size int) {
	m.loaderBatch.WithLabelValues(loader).Observe(float64(size))
}
