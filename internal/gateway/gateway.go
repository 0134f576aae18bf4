// Package gateway is the server's HTTP edge: the routes, and the path of
// one /graphql request from the socket to the executor and back.
//
// New builds it from Options. A /graphql request meets, in this order (the
// order is the list in steps; TestOrder pins it):
//
//   - the tracing span (package tracing), outermost so that it covers the
//     whole request;
//   - observe.go: the request id, and when the request ends its one log
//     line and its metrics, with what the steps below noted in its
//     requestInfo;
//   - hosts.go: an open server (no tokens) answers only Host values that
//     name loopback or ALLOWED_HOSTS, against DNS rebinding;
//   - cors.go: browsers' preflights end here, without credentials;
//   - body.go: the body, read whole up to its limit (413 beyond it);
//   - auth.go: who the request runs as (its tenant: an upstream and an id),
//     or a 401;
//   - deadline.go: the request's deadline, lifted from websockets, and
//     from event streams once their operation is a subscription;
//   - then gqlgen's executor (executor.go), which picks a transport
//     (transport.go has our own POST and GET, sse.go wraps gqlgen's SSE)
//     and runs the operation through its extensions, in the order of
//     the list in extensions: tracing's operation span, introspection,
//     persisted queries (doccache.go, which also bounds the parsed
//     queries), the shape and complexity limits (limits.go), the price
//     in upstream calls (budget.go), the operation's tenant scope (operation.go: a pass-through key's check
//     of keycheck.go, the response cache of respcache.go, the
//     per-operation loaders over the tenant's upstream, tracked by
//     tracking.go), graph/fastrows, the outcome noted for the log line,
//     and the live subscriptions.
//
// tracking.go also holds UpstreamTransport, which the server puts in the
// upstream HTTP client so that each call to lemlist is counted for the
// request that made it. livefeed.go is the live feed's HTTP side: its
// webhook route is a route of this handler, and its subscriptions run as
// the tenant auth.go found, so it lives here rather than in a package of
// its own; the hub itself is package feed. register.go mounts the
// registration of pass-through tenants' hooks (feed.Registrar) beside it.
// mirror.go connects the mirror (package mirror's Manager) to the
// resolvers, to pass-through tenants and to the live feed.
//
// Beside gqlgen, it imports graph (the schema, resolvers and error codes),
// graph/fastrows (the optional row writer), graph/loaders, lemlist (caller
// keys, typed errors), lemlisttest (the demo's emitter), upstream, feed,
// mirror, metrics, tracing, internal/lru (its caches), internal/sdl and
// internal/trusted (the schema route, trusted documents) and web. Nothing
// imports it but the server's main package and tests.
package gateway

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/internal/sdl"
	"github.com/lemlist-graphql/server/internal/tracing"
	"github.com/lemlist-graphql/server/internal/trusted"
	"github.com/lemlist-graphql/server/metrics"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/web"
)

// Options configure the gateway. Auth, RequestTimeout and MaxBodyBytes
// are required; the zero value of every other field turns its feature off
// or takes the default its comment gives.
type Options struct {
	// Auth decides who may query, and with which upstream.
	Auth Authenticator
	// LogTenant adds each request's tenant id to its log line: pass-through
	// mode, where tenants are many (the one tenant of other modes goes
	// unsaid).
	LogTenant bool
	// KeyVerdictTTL is how long lemlist's verdict on a pass-through key
	// (accepted or rejected) is trusted before the key is checked again
	// (keycheck.go); 0 means DefaultKeyVerdictTTL. The server takes the
	// smaller of that and CACHE_TTL.
	KeyVerdictTTL time.Duration

	// Logger receives the request log and the executor's errors; nil
	// discards them.
	Logger *slog.Logger
	// Metrics receives the request metrics; nil makes a registry of the
	// gateway's own.
	Metrics *metrics.Metrics
	// Tracing gives requests and operations their spans; nil is off.
	Tracing *tracing.Tracing
	// Live is the live feed (Subscription.activityAdded and its webhook
	// route); nil turns both off.
	Live *LiveFeed
	// MaxSubscriptionsPerConnection caps the live subscriptions of one
	// websocket (MAX_SUBSCRIPTIONS_PER_CONNECTION); 0 means
	// feed.DefaultMaxSubscriptionsPerConnection.
	MaxSubscriptionsPerConnection int
	// FastRows writes the rows of activity connections (FAST_ROWS); nil
	// leaves every field to gqlgen.
	FastRows *fastrows.Extension
	// Stats caches activityStats answers; nil keeps none.
	Stats *graph.StatsCache
	// Mirror runs the mirror of each tenant's activities (MIRROR); nil
	// when it is off. Its engines answer the GraphQL layer
	// (graph.Resolver.Mirror); the live feed takes it in
	// LiveFeedOptions.Mirror.
	Mirror *mirror.Manager
	// MirrorOnRequest starts a tenant's engine on the tenant's first
	// operation (pass-through mode, up to the manager's cap); other modes
	// start their one tenant's engine with the server.
	MirrorOnRequest bool
	// Loaders are the settings of each operation's loaders; the gateway
	// sets their OnBatch (the loader_batch_size metric) and Tenant.
	Loaders loaders.Options

	// RequestTimeout is the deadline of one request, upstream calls
	// included (REQUEST_TIMEOUT).
	RequestTimeout time.Duration
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes int64
	// CORSOrigins are the origins browsers may call from (exact, or "*");
	// also the websocket origin check. None: same-origin only.
	CORSOrigins []string
	// GuardHosts turns on the DNS rebinding guard of an open server
	// (OpenAuth): it then answers only Host values naming loopback or one
	// of AllowedHosts (ALLOWED_HOSTS; "*" allows any), 421 otherwise; see
	// hosts.go. /healthz, /readyz and the webhooks are not guarded.
	GuardHosts   bool
	AllowedHosts []string
	// MaxPageSize caps first and last; 0 means graph.DefaultMaxPageSize.
	MaxPageSize int
	// ComplexityLimit, DepthLimit and ParserTokenLimit bound an operation;
	// 0 turns each off.
	ComplexityLimit, DepthLimit, ParserTokenLimit int
	// MaxUpstreamCalls bounds a query's estimated upstream calls
	// (MAX_UPSTREAM_CALLS, budget.go); 0 turns the check off.
	MaxUpstreamCalls int
	// Introspection turns introspection on, and field suggestions with it.
	Introspection bool
	// ResponseTTL keeps the answers of queries that succeeded that long
	// (RESPONSE_CACHE_TTL), within ResponseMaxBytes; 0 turns the response
	// cache off.
	ResponseTTL      time.Duration
	ResponseMaxBytes int
	// APQMaxBytes and QueryCacheMaxBytes bound the persisted queries'
	// text and the parsed queries (doccache.go); 0 means
	// DefaultAPQMaxBytes and DefaultQueryCacheMaxBytes.
	APQMaxBytes, QueryCacheMaxBytes int64

	// TrustedDocuments, when set, is the allowlist of the only operations
	// clients may run (TRUSTED_DOCUMENTS), by id or exact text; automatic
	// persisted queries are then off.
	TrustedDocuments *trusted.Manifest

	// Registration, in pass-through mode with a persistent webhook secret
	// store, configures the registrar of tenants' hooks at POST
	// /webhooks/lemlist/register (register.go; its WriteError is the
	// gateway's); nil leaves the route out.
	Registration *feed.RegistrarOptions

	// Ready answers GET /readyz; nil answers "ready".
	Ready http.HandlerFunc
	// ServeMetrics serves GET /metrics from Metrics on this handler
	// (false when METRICS_ADDR gives it a listener of its own).
	ServeMetrics bool
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (METRICS_TOKEN); see MetricsHandler.
	MetricsToken string
}

// Gateway is the server's HTTP handler and what it holds.
type Gateway struct {
	o       Options
	answers *responseCache // nil when off
	keys    *keyVerdicts   // pass-through keys' verdicts
	present graphql.ErrorPresenterFunc
	apq     persistedQueries
	docs    *sizedCache[*ast.QueryDocument] // parsed queries
	handler http.Handler
	hooks   *feed.Registrar // nil without Registration
}

// New builds the gateway of o.
func New(o Options) (*Gateway, error) {
	switch {
	case o.Auth == nil:
		return nil, errors.New("gateway: no Authenticator")
	case o.RequestTimeout <= 0:
		return nil, errors.New("gateway: RequestTimeout must be positive")
	case o.MaxBodyBytes <= 0:
		return nil, errors.New("gateway: MaxBodyBytes must be positive")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = graph.DefaultMaxPageSize
	}
	if o.MaxSubscriptionsPerConnection <= 0 {
		o.MaxSubscriptionsPerConnection = feed.DefaultMaxSubscriptionsPerConnection
	}
	if o.APQMaxBytes <= 0 {
		o.APQMaxBytes = DefaultAPQMaxBytes
	}
	if o.QueryCacheMaxBytes <= 0 {
		o.QueryCacheMaxBytes = DefaultQueryCacheMaxBytes
	}
	present := graph.ErrorPresenter(o.Logger)
	if o.KeyVerdictTTL <= 0 {
		o.KeyVerdictTTL = DefaultKeyVerdictTTL
	}
	g := &Gateway{
		o: o, answers: newResponseCache(o.ResponseTTL, o.ResponseMaxBytes), keys: newKeyVerdicts(o.KeyVerdictTTL, o.RequestTimeout, nil), present: present,
		apq: newPersistedQueries(o.APQMaxBytes), docs: newSizedCache(o.QueryCacheMaxBytes, docCost),
	}
	o.Metrics.CounterFunc("lemlist_key_checks_total", "Checks of pass-through keys with lemlist (GET /team) for want of a fresh verdict.",
		func() float64 { return float64(g.keys.checks.Load()) })
	o.Metrics.GaugeFunc("graphql_apq_cache_bytes", "Estimated memory of the persisted queries (APQ) kept; bounded.", func() float64 {
		_, b := g.apq.store.size()
		return float64(b)
	})
	o.Metrics.GaugeFunc("graphql_query_cache_bytes", "Estimated memory of the parsed queries kept; bounded.", func() float64 {
		_, b := g.docs.size()
		return float64(b)
	})
	if c := g.answers; c != nil {
		o.Metrics.CounterFunc("graphql_response_cache_hits_total", "Queries answered from the response cache (RESPONSE_CACHE_TTL).",
			func() float64 { return float64(c.hits.Load()) })
		o.Metrics.CounterFunc("graphql_response_cache_misses_total", "Cacheable queries executed.",
			func() float64 { return float64(c.misses.Load()) })
		o.Metrics.GaugeFunc("graphql_response_cache_bytes", "Memory held by the response cache's answers.", func() float64 {
			_, b := c.size()
			return float64(b)
		})
	}
	if o.Registration != nil {
		ro := *o.Registration
		ro.WriteError = writeError
		hooks, err := feed.NewRegistrar(ro)
		if err != nil {
			return nil, errors.New("gateway: hook registration: " + err.Error())
		}
		g.hooks = hooks
	}
	g.handler = g.routes()
	return g, nil
}

// Handler returns the routes: /graphql, GraphiQL at / (its files below
// /static/graphiql/), /healthz, /readyz, the live feed's webhooks, and
// /metrics with ServeMetrics. Other methods get 405 with an Allow header.
func (g *Gateway) Handler() http.Handler { return g.handler }

func (g *Gateway) routes() http.Handler {
	mux := http.NewServeMux()
	gql := chain(g.executor(), g.steps())
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodOptions} {
		mux.Handle(m+" /graphql", gql)
	}
	// The public schema as SDL for codegen tools, behind the same steps
	// (auth included) as /graphql, introspection on or off.
	mux.Handle("GET /graphql/schema.graphql", chain(sdl.Handler(graph.NewExecutableSchema(graph.Config{}).Schema()), g.steps()))
	g.o.Live.mount(mux, g.observe) // POST /webhooks/lemlist[/{tenant}]
	g.mountRegistrar(mux)          // POST /webhooks/lemlist/register
	// GraphiQL, with its scripts embedded rather than from a CDN.
	mux.Handle("GET /{$}", g.checkHost(web.Handler("lemlist GraphQL", "/graphql")))
	mux.Handle("GET "+web.AssetsPath, web.Assets())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	ready := g.o.Ready
	if ready == nil {
		ready = func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ready\n") }
	}
	mux.HandleFunc("GET /readyz", ready)
	if g.o.ServeMetrics {
		mux.Handle("GET /metrics", g.checkHost(MetricsHandler(g.o.Metrics, g.o.MetricsToken)))
	}
	return mux
}

// A step is one middleware of the /graphql route.
type step struct {
	name string
	wrap func(http.Handler) http.Handler
}

// steps returns the middleware of the /graphql route, outermost first: a
// request meets them in this order, then the executor.
func (g *Gateway) steps() []step {
	steps := []step{
		{"trace", g.o.Tracing.Handler}, // its span covers the whole request
		{"observe", g.observe},         // the request id; the log line and metrics of whatever follows
		{"check host", g.checkHost},    // DNS rebinding, before anything answers
		{"cors", g.cors},               // preflights carry no credentials
		{"limit body", g.limitBody},
		{"authenticate", g.authenticate},
		{"deadline", func(next http.Handler) http.Handler { return withDeadline(g.o.RequestTimeout, next) }},
	}
	if g.o.TrustedDocuments != nil {
		// Relay sends its persisted query's id as a top-level doc_id.
		steps = append(steps, step{"document id", trusted.LiftDocumentID})
	}
	return steps
}

// chain wraps h in steps, the first outermost.
func chain(h http.Handler, steps []step) http.Handler {
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i].wrap(h)
	}
	return h
}
