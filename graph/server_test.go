package graph_test

import (
	"cmp"
	"net/http"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/upstream"
)

// stackOptions are the test options of the server's stack.
type stackOptions struct {
	up     upstream.Upstream // the one tenant's upstream
	tenant string            // its id, which names it to the loaders and the stats cache
	// rows is fastrows.Extension, which the server runs by default; nil
	// leaves every field to gqlgen.
	rows     *fastrows.Extension
	stats    *graph.StatsCache
	deadline time.Duration // the request deadline
	loaders  loaders.Options
	// complexity is the complexity limit; 0 means the server's default.
	complexity int
	// tokens, when set, are the bearer tokens requests must carry (the
	// server's GRAPHQL_TOKENS); none lets every request in.
	tokens []string
	// live is the live feed (Subscription.activityAdded and its webhook
	// route), nil for none; the test closes it.
	live *gateway.LiveFeed
	// mirror answers the tenant from its mirror when it holds the
	// tenant's engine (mirror.Manager.Adopt); nil for none.
	mirror *mirror.Manager
}

// graphServer is the server's HTTP stack (gateway.New) for the tests of
// this package, serving /graphql (and the live feed's webhook route with
// o.live): every request runs as one tenant over o.up, with the server's
// default limits, introspection off and without the response cache, so
// that each query reaches the upstream.
func graphServer(t testing.TB, o stackOptions) http.Handler {
	t.Helper()
	tenant := &gateway.Tenant{Upstream: o.up, ID: o.tenant}
	auth := gateway.OpenAuth(tenant)
	if len(o.tokens) > 0 {
		auth = gateway.TokenAuth(tenant, o.tokens)
	}
	g, err := gateway.New(gateway.Options{
		Auth:     auth,
		Live:     o.live,
		Mirror:   o.mirror,
		FastRows: o.rows,
		Stats:    o.stats,
		Loaders:  o.loaders,

		RequestTimeout: o.deadline,
		// The defaults of config.go.
		MaxBodyBytes:    1 << 20,
		ComplexityLimit: cmp.Or(o.complexity, 20000),
		DepthLimit:      12,
		// Every query runs over its budget of upstream calls, as in the
		// server; a limit no test reaches, so that an underestimate shows
		// as UPSTREAM_BUDGET_EXCEEDED rather than as a refusal.
		MaxUpstreamCalls: 1 << 30,
		ParserTokenLimit: 15000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g.Handler()
}

// counted gives a client the server's upstream transport over base (nil:
// http.DefaultTransport), which tells the gateway when a call's HTTP
// exchange was under way: a deadline then means a slow upstream, not a
// wait for the rate limit.
func counted(base http.RoundTripper) lemlist.Option {
	if base == nil {
		base = http.DefaultTransport
	}
	return lemlist.WithHTTPClient(&http.Client{Transport: gateway.UpstreamTransport(base)})
}
