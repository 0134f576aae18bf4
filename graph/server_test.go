package graph_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/upstream"
)

// graphServer is the server's GraphQL stack for the tests of this package:
// gqlgen's handler over res with the POST transport, the query cache and
// the error presenter; rows (fastrows.Extension, which the server runs by
// default; nil leaves every field to gqlgen); and per-request loaders over
// the upstream up returns.
func graphServer(res *graph.Resolver, rows *fastrows.Extension, up func(*http.Request) upstream.Upstream, lo loaders.Options) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetErrorPresenter(graph.ErrorPresenter(slog.New(slog.DiscardHandler)))
	if rows != nil {
		srv.Use(rows)
	}
	return loaders.Middleware(up, lo, srv)
}

// withDeadline bounds each request to d, like the server.
func withDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
