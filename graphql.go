package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/lemlist"
)

// graphqlHandler is gqlgen's server with explicit transports and
// extensions. Authentication, the body limit and the deadline sit in front
// of it (see Handler); each operation gets its loaders and its caller key
// from aroundOperations.
func (a *app) graphqlHandler() http.Handler {
	es := graph.NewExecutableSchema(graph.Config{
		Resolvers:  &graph.Resolver{MaxPageSize: a.cfg.MaxPageSize, Feed: a.live.Feed(), Stats: graph.NewStatsCache(a.cfg.CacheTTL, 256)},
		Complexity: complexityRoot(a.cfg.MaxPageSize),
	})
	srv := handler.New(es)
	// Transports are tried in order: the upgrade first, SSE before POST
	// (both take a JSON POST; SSE only when text/event-stream is accepted).
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: a.cfg.CORSOrigins},
		},
		InitFunc:              a.wsInit,
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: 15 * time.Second,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(postTransport{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if n := a.cfg.ParserTokenLimit; n > 0 {
		srv.SetParserTokenLimit(n)
	}
	if ext := a.tracing.extension(); ext != nil {
		srv.Use(ext) // first, so that its span wraps the operation interceptors below
	}
	if a.cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// Suggestions ("Did you mean …?") would leak the schema.
		srv.SetDisableSuggestion(true)
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	if a.cfg.DepthLimit > 0 || a.cfg.ComplexityLimit > 0 {
		srv.Use(shapeLimit{maxDepth: a.cfg.DepthLimit, maxFields: a.cfg.ComplexityLimit})
	}
	if n := a.cfg.ComplexityLimit; n > 0 {
		srv.Use(extension.FixedComplexityLimit(n))
	}
	var callers atomic.Uint64
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return a.aroundOperation(ctx, strconv.FormatUint(callers.Add(1), 10), next)
	})
	if a.fastRows != nil {
		srv.Use(a.fastRows)
	}
	srv.AroundResponses(aroundResponse)
	// After aroundResponse, which then logs the error that ends a stream:
	// fresh loaders per subscription event, and why the feed ended a stream.
	srv.Use(graph.Subscriptions{})
	srv.SetErrorPresenter(graph.ErrorPresenter(a.logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		a.logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v))
		return gqlerror.Errorf("internal error")
	})
	return srv
}

// aroundOperation runs an operation as its tenant: over fresh loaders on
// the tenant's upstream, with caller as the rate limiter's caller key, so
// that the per-key limiter shares slots round-robin between operations
// and one heavy query cannot starve the others. An operation that has no
// deadline yet (over a websocket) gets REQUEST_TIMEOUT, subscriptions
// excepted. A query answered recently is answered from the response cache
// (respcache.go) without running.
func (a *app) aroundOperation(ctx context.Context, caller string, next graphql.OperationHandler) graphql.ResponseHandler {
	t := tenantFrom(ctx)
	if t == nil {
		err := gqlerror.Errorf("unauthenticated")
		err.Extensions = map[string]any{"code": graph.CodeUnauthenticated}
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
	}
	var keep func(graphql.ResponseHandler) graphql.ResponseHandler
	if a.answers != nil {
		var hit graphql.ResponseHandler
		if hit, keep = a.answers.lookup(t.id, graphql.GetOperationContext(ctx)); hit != nil {
			return hit
		}
	}
	ctx = lemlist.WithCaller(ctx, caller)
	ctx = loaders.NewContext(ctx, loaders.New(tracked{t.up}, loaders.Options{OnBatch: a.metrics.LoaderBatch, Tenant: cmp.Or(t.id, "server")}))
	rh := next(ctx)
	if keep != nil {
		rh = keep(rh)
	}
	op := graphql.GetOperationContext(ctx).Operation
	if _, ok := ctx.Deadline(); ok || op == nil || op.Operation == ast.Subscription {
		return rh
	}
	d := a.cfg.RequestTimeout
	return func(ctx context.Context) *graphql.Response {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return rh(ctx)
	}
}

// aroundResponse notes the operation's name and outcome (ok, or the first
// error's code) for the request's log line and metrics.
func aroundResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	ri := infoFrom(ctx)
	if ri == nil || resp == nil {
		return resp
	}
	name := ""
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		name = oc.OperationName
		if name == "" && oc.Operation != nil {
			name = oc.Operation.Name
		}
	}
	ri.setResult(name, outcomeOf(resp))
	return resp
}
