package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/internal/trusted"
)

// executor is gqlgen's server with the transports of transports and the
// extensions of extensions. The middleware of steps sits in front of it.
func (g *Gateway) executor() http.Handler {
	es := graph.NewExecutableSchema(graph.Config{
		Resolvers:  &graph.Resolver{MaxPageSize: g.o.MaxPageSize, Feed: g.o.Live.resolverFeed(g.keys), Stats: g.o.Stats, Mirror: g.mirrorSource()},
		Complexity: complexityRoot(g.o.MaxPageSize),
	})
	srv := handler.New(es)
	for _, t := range g.transports() {
		srv.AddTransport(t)
	}
	srv.SetQueryCache(g.docs)
	if n := g.o.ParserTokenLimit; n > 0 {
		srv.SetParserTokenLimit(n)
	}
	if !g.o.Introspection {
		// Suggestions ("Did you mean …?") would leak the schema.
		srv.SetDisableSuggestion(true)
	}
	for _, ext := range g.extensions() {
		srv.Use(ext)
	}
	srv.SetErrorPresenter(g.present)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		g.o.Logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v))
		return gqlerror.Errorf("internal error")
	})
	return srv
}

// transports returns the executor's transports in the order gqlgen tries
// them, the first that supports a request taking it.
func (g *Gateway) transports() []graphql.Transport {
	return []graphql.Transport{
		transport.Websocket{ // the upgrade first
			Implementation: transport.CoderWebsocketImplementation{
				AcceptOptions: websocket.AcceptOptions{OriginPatterns: g.o.CORSOrigins},
			},
			InitFunc:              g.wsInit,
			InitTimeout:           10 * time.Second,
			KeepAlivePingInterval: 15 * time.Second,
		},
		transport.Options{},
		getTransport{},
		sseTransport{}, // before POST: both take a JSON POST, SSE only when text/event-stream is accepted
		postTransport{},
		unsupportedTransport{}, // last: the POSTs the others did not take
	}
}

// extensions returns the executor's extensions in the order gqlgen runs
// them: each operation interceptor wraps those after it, and each response
// interceptor sees the response of those after it.
func (g *Gateway) extensions() []graphql.HandlerExtension {
	var exts []graphql.HandlerExtension
	if span := g.o.Tracing.Extension(); span != nil {
		exts = append(exts, span) // its span wraps everything below
	}
	if g.o.Introspection {
		exts = append(exts, extension.Introspection{})
	}
	// Federation gateways compose from _service { sdl }, introspection on
	// or off.
	exts = append(exts, graph.ServiceSDL{})
	if m := g.o.TrustedDocuments; m != nil {
		// Only the manifest's documents run: automatic persisted queries,
		// which register whatever a client sends, would defeat it.
		exts = append(exts, trusted.Documents{Manifest: m})
	} else {
		exts = append(exts, g.apq) // keeps only documents that parsed and validated
	}
	// Once the document's text is known (above), before gqlgen validates
	// it: validation is quadratic in a document's breadth.
	exts = append(exts, breadthLimit{docs: g.docs, tokenLimit: g.o.ParserTokenLimit})
	if g.o.DepthLimit > 0 || g.o.ComplexityLimit > 0 {
		// Before gqlgen's complexity walker, which the shape walk guards.
		exts = append(exts, shapeLimit{maxDepth: g.o.DepthLimit, maxFields: g.o.ComplexityLimit})
	}
	if n := g.o.ComplexityLimit; n > 0 {
		exts = append(exts, extension.FixedComplexityLimit(n))
	}
	if n := g.o.MaxUpstreamCalls; n > 0 {
		// Last of the limits: the dearest to compute, on the valid
		// operations of a sane shape only.
		exts = append(exts, upstreamBudget{limit: n, maxPage: g.o.MaxPageSize})
	}
	exts = append(exts, &tenantScope{g: g}) // the operation's tenant, loaders and cached answer
	if g.o.FastRows != nil {
		exts = append(exts, g.o.FastRows)
	}
	exts = append(exts, noteOutcome{})
	// After noteOutcome, which then logs the error that ends a stream:
	// fresh loaders per subscription event, and why the feed ended a stream.
	exts = append(exts, graph.Subscriptions{})
	return exts
}
