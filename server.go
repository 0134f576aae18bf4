// Command lemlist-graphql serves a GraphQL API over lemlist's activities.
//
// With no configuration it runs a demo: an in-process fake of lemlist with a
// generated dataset. LEMLIST_API_KEY switches to the real API with the
// server's key (clients present GRAPHQL_TOKENS); AUTH_MODE=passthrough has
// each client send its own lemlist key. Run with --help for every setting;
// docs/operations.md describes them.
//
// Package main is wiring only, in three files: server.go (main, run, and
// newApp, which builds every part from the settings and connects them),
// config.go (the settings table, flags and environment) and stores.go
// (what the server keeps: the mirror's store, engines and metrics, MIRROR;
// where pass-through tenants' webhook secrets are kept, and the
// registration of their hooks, PUBLIC_URL). The HTTP edge, the
// path of a request through the server, is package internal/gateway;
// OpenTelemetry tracing is package internal/tracing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/internal/tracing"
	"github.com/lemlist-graphql/server/internal/trusted"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/metrics"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/redisx"
	"github.com/lemlist-graphql/server/upstream"
)

// defaultGOGC is the garbage collector's target unless GOGC says otherwise:
// the server allocates much per request and keeps little, and 200 took
// 18-22% off its CPU per request for 5-13 MB more peak RSS
// (docs/benchmarks.md, round 3).
const defaultGOGC = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "lemlist-graphql:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps run's error to the process status: 0 for success or
// --help, 2 for an invalid setting, 1 for anything else.
func exitCode(err error) int {
	var cerr *configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &cerr):
		return 2
	}
	return 1
}

// run starts the server and blocks until ctx is done, then shuts down
// gracefully. Logs go to stdout as JSON lines.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	logger := newLogger(stdout, cfg.LogLevel)
	app, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	app.tracing.SetGlobal()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	servers := []*http.Server{app.httpServer(app.Handler())}
	listeners := []net.Listener{ln}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", gateway.MetricsHandler(app.metrics, cfg.MetricsToken))
		servers = append(servers, app.httpServer(mux))
		listeners = append(listeners, mln)
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	url := "http://" + ln.Addr().String() + "/"
	logger.Info("listening", "addr", ln.Addr().String(), "mode", cfg.Mode, "auth", app.auth.String(),
		"introspection", cfg.Introspection, "cache_ttl", cfg.CacheTTL.String(), "redis", cfg.RedisURL != "", "graphiql", url, "endpoint", url+"graphql")
	if app.fake != nil {
		app.live.StartDemo(app.fake, "http://"+ln.Addr().String())
		logger.Info("demo mode: serving a generated dataset from an in-process fake of lemlist; set LEMLIST_API_KEY for the real API",
			"activities", cfg.DemoSize)
	}
	if app.auth.String() == "open" && !isLoopback(cfg.Host) {
		logger.Warn("no client authentication on a non-loopback interface: anyone who can reach the server may query", "host", cfg.Host, "mode", cfg.Mode)
		if len(cfg.AllowedHosts) == 0 {
			// The DNS rebinding guard: a client reaching the interface by
			// any other name than loopback's gets 421.
			logger.Warn("without client tokens only loopback names are answered (Host localhost, 127.0.0.1 or [::1]); list the names clients use in ALLOWED_HOSTS", "host", cfg.Host)
		}
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		for _, srv := range servers {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	app.live.Close() // ends subscriptions: SSE streams finish, Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// app is the wired server: upstream, the HTTP edge and its routes.
type app struct {
	cfg      *config
	logger   *slog.Logger
	metrics  *metrics.Metrics
	auth     gateway.Authenticator
	pool     *upstream.Pool
	cache    *upstream.Cache
	fake     *lemlisttest.Server // demo mode's upstream
	tracing  *tracing.Tracing    // OTEL_*; nil when tracing is off
	live     *gateway.LiveFeed   // Subscription.activityAdded and its webhooks
	redis    *redisx.Redis       // shared by the replicas (REDIS_URL); nil without
	fastRows *fastrows.Extension // FAST_ROWS; nil when off
	gateway  *gateway.Gateway    // the routes
	mirror   *mirror.Manager     // MIRROR; nil when off
	mstore   *mirrorStore        // the mirror's store; nil when off
}

var (
	_ lemlist.Observer       = (*metrics.Metrics)(nil)
	_ upstream.CacheObserver = (*metrics.Metrics)(nil)
)

// newApp wires the upstream pool (over the fake in demo mode), the
// authenticator of cfg's mode, the metrics, the live feed and the gateway.
func newApp(cfg *config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, logger: logger, metrics: metrics.New()}
	tc, err := tracing.New(cfg.Tracing, logger)
	if err != nil {
		return nil, &configError{err.Error()}
	}
	if a.tracing = tc; tc != nil {
		logger.Info("tracing: OpenTelemetry spans exported over OTLP/HTTP", "service", cfg.Tracing.ServiceName)
	}
	base := cfg.BaseURL
	if cfg.demo() {
		fakeLimit := 0 // lemlist's own budget
		if cfg.RateLimit == 0 {
			fakeLimit = lemlisttest.NoRateLimit
		}
		a.fake = lemlisttest.NewServer(lemlisttest.Options{
			RateLimit: fakeLimit,
			Dataset: lemlisttest.DatasetOptions{
				Seed: cfg.DemoSeed, Activities: cfg.DemoSize,
				Now: time.Now(), Span: 28 * 24 * time.Hour,
			},
		})
		base = a.fake.URL
	}
	// Redis, when set, shares the rate budget, the cache and the live
	// feed's webhooks between replicas (docs/scale-out.md).
	var (
		limiters upstream.LimiterSource // nil: per process
		shared   upstream.SharedStore   // nil: memory only
	)
	if cfg.RedisURL != "" {
		redisx.RouteLibraryLogs(logger)
		ctx, cancel := context.WithTimeout(context.Background(), redisx.DefaultTimeout)
		// The feed's messages between replicas are signed with the
		// webhook secret, which every replica of a deployment shares.
		r, err := redisx.NewWithOptions(ctx, redisx.Options{ // fails only for an invalid URL
			URL: cfg.RedisURL, Logger: logger, Namespace: cfg.RedisNamespace, FeedSecret: cfg.WebhookSecret,
		})
		cancel()
		if err != nil {
			a.Close()
			return nil, settingError("redis-url", "%v", err)
		}
		a.redis = r
		limiters = r.Limiters(cfg.RateLimit, lemlist.DefaultRateWindow, cfg.RedisFallbackReplicas)
		shared = r.CacheStore()
		a.metrics.GaugeFunc("redis_up", "1 while Redis is in use, 0 while this replica works on its own (local limiter share and cache).", r.Up)
		a.metrics.CounterFunc("redis_failures_total", "Times Redis went out of use.", func() float64 { return float64(r.Failures()) })
		a.metrics.CounterFunc("redis_feed_rejected_total", "Live feed messages from Redis dropped for a missing or wrong signature.", func() float64 { return float64(r.FeedRejected()) })
	}
	a.cache = upstream.NewCache(upstream.CacheOptions{
		Shared:   shared,
		TTL:      cfg.CacheTTL,
		MaxBytes: cfg.CacheMaxBytes,
		// A shared call outlives its first caller by at most a request's
		// span, and the limiter sees that deadline.
		CallTimeout: cfg.RequestTimeout,
		Observer:    a.metrics,
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // the default 2 churns connections under load
	rate := cfg.RateLimit
	if rate == 0 {
		rate = -1 // the pool's "off"
	}
	upstreamHTTP := &http.Client{Transport: a.metrics.LaneTransport(gateway.UpstreamTransport(a.tracing.Transport(tr)))}
	pool, err := upstream.NewPool(upstream.PoolOptions{
		BaseURL:       base,
		HTTPClient:    upstreamHTTP,
		RateLimit:     rate,
		Limiters:      limiters,
		Cache:         a.cache,
		ClientOptions: []lemlist.Option{lemlist.WithObserver(a.metrics)},
	})
	if err != nil {
		a.Close()
		return nil, &configError{err.Error()}
	}
	a.pool = pool
	a.metrics.GaugeFunc("upstream_cache_entries", "Entries held by the upstream cache.", func() float64 {
		n, _ := a.cache.Size()
		return float64(n)
	})
	a.metrics.GaugeFunc("upstream_cache_bytes", "Estimated memory of the upstream cache's entries.", func() float64 {
		_, b := a.cache.Size()
		return float64(b)
	})
	if cfg.FastRows {
		a.fastRows = fastrows.New()
		a.metrics.CounterFunc("graphql_fast_rows_written_total", "Lists of activity rows written by FAST_ROWS.",
			func() float64 { w, _ := a.fastRows.Stats(); return float64(w) })
		a.metrics.CounterFunc("graphql_fast_rows_declined_total", "Lists of activity rows FAST_ROWS left to gqlgen (a selection it does not write, or an error).",
			func() float64 { _, d := a.fastRows.Stats(); return float64(d) })
	}
	a.metrics.GaugeFunc("upstream_tenants", "lemlist keys with a client in the pool.", func() float64 {
		return float64(a.pool.Len())
	})

	serverTenant := "" // the live feed's topic between replicas, and the mirror's tenant
	var serverUp upstream.Upstream
	switch cfg.Mode {
	case modePassthrough:
		a.auth = gateway.PassthroughAuth(pool)
	default:
		key := cfg.APIKey
		if cfg.demo() {
			key = lemlisttest.DefaultAPIKey
		}
		up, err := pool.For(key)
		if err != nil {
			a.Close()
			return nil, err
		}
		t := &gateway.Tenant{Upstream: up, ID: upstream.TenantID(key)}
		serverTenant, serverUp = t.ID, up
		if len(cfg.Tokens) > 0 {
			a.auth = gateway.TokenAuth(t, cfg.Tokens)
		} else {
			a.auth = gateway.OpenAuth(t)
		}
	}
	// The mirror: its store is opened (and migrated) now, so that a bad
	// MIRROR exits 2; its engines start below, once the live feed they
	// publish to exists.
	if a.mstore, err = openMirrorStore(cfg); err != nil {
		a.Close()
		return nil, err
	}
	if a.mstore != nil {
		a.mirror, err = newMirrorManager(cfg, a.mstore, logger, func(tenant string, acts []*lemlist.Activity) {
			a.live.Ingested(tenant, acts)
		})
		if err != nil {
			a.mstore.store.Close()
			a.mstore = nil
			a.Close()
			return nil, err
		}
		a.metrics.Mirror(mirrorStates, func() metrics.MirrorStats { return mirrorStats(a.mirror) })
	}
	// Pass-through tenants' webhook secrets and hook registration
	// (stores.go).
	secrets, registration, err := a.webhooks(cfg, base, upstreamHTTP)
	if err != nil {
		a.Close()
		return nil, err
	}
	lo := gateway.LiveFeedOptions{
		PerTenant: cfg.Mode == modePassthrough, Demo: cfg.demo(),
		PollInterval: cfg.PollInterval, WebhookSecret: cfg.WebhookSecret,
		MaxBodyBytes: cfg.MaxBodyBytes, Logger: logger, Metrics: a.metrics,
		ServerTenant: serverTenant, Mirror: a.mirror, Secrets: secrets,
	}
	if a.redis != nil {
		lo.Relay = a.redis
	}
	a.live, err = gateway.NewLiveFeed(lo)
	if err != nil {
		a.Close()
		return nil, &configError{err.Error()}
	}
	var manifest *trusted.Manifest
	if len(cfg.TrustedDocuments) > 0 {
		if manifest, err = loadManifest(cfg.TrustedDocuments); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.gateway, err = gateway.New(gateway.Options{
		Auth:      a.auth,
		LogTenant: cfg.Mode == modePassthrough, // the one tenant of other modes goes unsaid
		// A revoked pass-through key stops getting cached answers within
		// CACHE_TTL.
		KeyVerdictTTL: keyVerdictTTL(cfg.CacheTTL),
		Logger:        logger,
		Metrics:       a.metrics,
		Tracing:       a.tracing,
		Live:          a.live,
		// One websocket's subscriptions; the hub caps the server's.
		MaxSubscriptionsPerConnection: cfg.MaxSubsPerConn,
		FastRows:                      a.fastRows,
		Stats:                         graph.NewStatsCache(cfg.CacheTTL, 256),
		Mirror:                        a.mirror,
		// Pass-through mode starts a tenant's engine with its first
		// operation: its backfill spends that tenant's budget.
		MirrorOnRequest: cfg.Mode == modePassthrough,

		RequestTimeout:   cfg.RequestTimeout,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		CORSOrigins:      cfg.CORSOrigins,
		GuardHosts:       true, // for OpenAuth only
		AllowedHosts:     cfg.AllowedHosts,
		MaxPageSize:      cfg.MaxPageSize,
		ComplexityLimit:  cfg.ComplexityLimit,
		MaxUpstreamCalls: cfg.MaxUpstreamCalls,
		DepthLimit:       cfg.DepthLimit,
		ParserTokenLimit: cfg.ParserTokenLimit,
		Introspection:    cfg.Introspection,
		ResponseTTL:      cfg.ResponseTTL,
		// Whole answers take a quarter of the cache's memory budget.
		ResponseMaxBytes: int(cfg.CacheMaxBytes / 4),
		TrustedDocuments: manifest,
		Registration:     registration,

		Ready:        a.ready,
		ServeMetrics: cfg.MetricsAddr == "",
		MetricsToken: cfg.MetricsToken,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	if a.mirror != nil {
		if serverUp != nil {
			// The one tenant of server and demo modes, through the same
			// client and limiter as its queries, without the cache.
			if _, err := a.mirror.Start(serverTenant, upstream.ListUncached(serverUp)); err != nil {
				a.Close()
				return nil, err
			}
		}
		engines := "one, for the server's key"
		if cfg.Mode == modePassthrough {
			engines = fmt.Sprintf("one per tenant, started by its first request (at most %d)", mirror.DefaultMaxTenants)
		}
		since := cfg.MirrorSinceDate.Format(time.DateOnly)
		if cfg.MirrorSinceDate.IsZero() {
			since = fmt.Sprintf("%gd ago", cfg.MirrorSince.Hours()/24)
		}
		logger.Info("mirror on: activities are synced into a store that answers stats and series; its backfill and polls take the key's background lane, after queries",
			"store", a.mstore.where, "temporary", cfg.MirrorTemp, "since", since, "engines", engines)
	}
	return a, nil
}

// keyVerdictTTL is how long lemlist's verdict on a pass-through key is
// trusted: gateway.DefaultKeyVerdictTTL, or CACHE_TTL when that is
// shorter, so that a revoked key stops getting the caches' answers within
// CACHE_TTL. Without caching (0), the default: answers are then at most
// RESPONSE_CACHE_TTL old, and a revoked key's next upstream call gets 401.
func keyVerdictTTL(cacheTTL time.Duration) time.Duration {
	if cacheTTL > 0 {
		return min(cacheTTL, gateway.DefaultKeyVerdictTTL)
	}
	return gateway.DefaultKeyVerdictTTL
}

// Close stops the mirror's engines and closes its store, ends the live
// feed, and releases Redis and the demo upstream.
func (a *app) Close() {
	if a.mirror != nil {
		if err := a.mirror.Close(); err != nil {
			a.logger.Warn("mirror: closing the store failed", "error", err.Error())
		}
	} else if a.mstore != nil {
		_ = a.mstore.store.Close()
	}
	if a.mstore != nil && a.mstore.cleanup != nil {
		a.mstore.cleanup()
	}
	a.mirror, a.mstore = nil, nil
	a.live.Close()
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.fake != nil {
		a.fake.Close()
	}
	a.tracing.Shutdown() // last: flushes the spans of everything above
}

// httpServer returns a server for h with the configured timeouts.
func (a *app) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.ReadTimeout,
		WriteTimeout:      a.cfg.WriteTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
}

// Handler returns the routes (gateway.Gateway.Handler).
func (a *app) Handler() http.Handler { return a.gateway.Handler() }

// ready answers /readyz: 200 whenever the replica can serve, Redis or not
// (taking every replica out of the load balancer during a Redis outage
// would turn it into a full outage). A degraded Redis is reported in the
// body, and by the redis_up gauge.
func (a *app) ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.redis == nil {
		_, _ = io.WriteString(w, "ready\n")
		return
	}
	if err := a.redis.Err(); err != nil {
		_, _ = io.WriteString(w, "ready (degraded): redis unavailable, serving on the local rate limit share and cache\n")
		return
	}
	_, _ = io.WriteString(w, "ready\nredis: ok\n")
}

// loadManifest reads the trusted documents of TRUSTED_DOCUMENTS and checks
// each against the schema, so that a stale manifest stops the server at
// startup rather than failing its clients one by one.
func loadManifest(paths []string) (*trusted.Manifest, error) {
	m, err := trusted.Load(paths...)
	if err != nil {
		return nil, settingError("trusted-documents", "%v", err)
	}
	if err := m.Check(graph.NewExecutableSchema(graph.Config{}).Schema()); err != nil {
		return nil, settingError("trusted-documents", "%v", err)
	}
	return m, nil
}
