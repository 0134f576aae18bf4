package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lemlist-graphql/server/lemlist"
)

// MirrorStats is the mirror's state (MIRROR) as its metrics show it, all
// mirrored tenants together: read once per scrape.
type MirrorStats struct {
	// Activities are the activities stored.
	Activities int
	// LagSeconds is the largest lag of a tenant's head behind now.
	LagSeconds float64
	// BackfillProgress is the least backfill progress of a tenant, 0 to 1
	// (1 when every backfill is done, or there is no tenant).
	BackfillProgress float64
	// States counts the tenants in each state (BACKFILLING, LIVE,
	// FAILING).
	States map[string]int
	// The counters: upstream calls of the syncs, rows written (replays
	// included), rows the reconciliations added and removed, failed steps.
	SyncCalls, RowsWritten, ReconcileAdded, ReconcileRemoved, Failures int64
}

var (
	mirrorActivities = prometheus.NewDesc("mirror_activities", "Activities held by the mirror, all tenants together.", nil, nil)
	mirrorLag        = prometheus.NewDesc("mirror_lag_seconds", "How far the mirror's head is behind now: the largest of its tenants'.", nil, nil)
	mirrorProgress   = prometheus.NewDesc("mirror_backfill_progress", "Share of the history back to MIRROR_SINCE the backfill has read, 0 to 1: the least of its tenants'.", nil, nil)
	mirrorTenants    = prometheus.NewDesc("mirror_tenants", "Tenants mirrored by this process, by state.", []string{"state"}, nil)
	mirrorCalls      = prometheus.NewDesc("mirror_upstream_calls_total", "lemlist list calls made by the mirror's syncs (backfill, head polls, reconciliation).", nil, nil)
	mirrorWritten    = prometheus.NewDesc("mirror_rows_written_total", "Rows the mirror wrote, replays included.", nil, nil)
	mirrorAdded      = prometheus.NewDesc("mirror_reconcile_added_total", "Activities reconciliation added to the mirror (late arrivals).", nil, nil)
	mirrorRemoved    = prometheus.NewDesc("mirror_reconcile_removed_total", "Activities reconciliation removed from the mirror (deleted upstream).", nil, nil)
	mirrorFailures   = prometheus.NewDesc("mirror_failures_total", "Failed sync steps (upstream or store); the state is FAILING until the next good one.", nil, nil)
)

// Mirror registers the mirror's metrics, read from f at each scrape;
// mirror_tenants has a series for each of states, zero when no tenant is
// in it.
func (m *Metrics) Mirror(states []string, f func() MirrorStats) {
	m.reg.MustRegister(mirrorCollector{states: states, f: f})
}

type mirrorCollector struct {
	states []string
	f      func() MirrorStats
}

func (c mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mirrorActivities, mirrorLag, mirrorProgress, mirrorTenants, mirrorCalls, mirrorWritten, mirrorAdded, mirrorRemoved, mirrorFailures} {
		ch <- d
	}
}

func (c mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.f()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(mirrorActivities, float64(s.Activities))
	gauge(mirrorLag, s.LagSeconds)
	gauge(mirrorProgress, s.BackfillProgress)
	for _, st := range c.states {
		gauge(mirrorTenants, float64(s.States[st]), st)
	}
	counter(mirrorCalls, s.SyncCalls)
	counter(mirrorWritten, s.RowsWritten)
	counter(mirrorAdded, s.ReconcileAdded)
	counter(mirrorRemoved, s.ReconcileRemoved)
	counter(mirrorFailures, s.Failures)
}

// Lane labels of lemlist_requests_by_lane_total.
const (
	LaneInteractive = "interactive"
	LaneBackground  = "background"
)

// LaneTransport returns base counting each HTTP request to lemlist in
// lemlist_requests_by_lane_total by its rate limiter lane: background
// (lemlist.Background: the mirror's sync) or interactive (queries and the
// live feed's polls). The server's upstream HTTP client uses it.
func (m *Metrics) LaneTransport(base http.RoundTripper) http.RoundTripper {
	m.laneOnce.Do(func() {
		m.lanes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lemlist_requests_by_lane_total",
			Help: "HTTP attempts to lemlist by rate limiter lane: background (the mirror's sync) or interactive (queries, live feed polls).",
		}, []string{"lane"})
		m.lanes.WithLabelValues(LaneInteractive)
		m.lanes.WithLabelValues(LaneBackground)
		m.reg.MustRegister(m.lanes)
	})
	return laneTransport{base: base, lanes: m.lanes}
}

type laneTransport struct {
	base  http.RoundTripper
	lanes *prometheus.CounterVec
}

// RoundTrip implements http.RoundTripper.
func (t laneTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	lane := LaneInteractive
	if lemlist.IsBackground(r.Context()) {
		lane = LaneBackground
	}
	t.lanes.WithLabelValues(lane).Inc()
	return t.base.RoundTrip(r)
}
