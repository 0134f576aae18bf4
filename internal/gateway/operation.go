package gateway

import (
	"cmp"
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/internal/tracing"
	"github.com/lemlist-graphql/server/lemlist"
)

// tenantScope runs each operation as its tenant: over fresh loaders on the
// tenant's upstream (tracked, for the request's log line; budgeted, to its
// estimate of calls, budget.go), with its client's caller key for the rate
// limiter (Tenant.caller), so that the per-key limiter shares slots
// round-robin between clients and one client's parallel operations cannot
// starve the others. A pass-through tenant's key is checked first
// (keycheck.go).
// An operation that has no deadline yet (over a websocket or
// an event stream) gets RequestTimeout; a subscription gets none, and
// lifts the server's timeouts from its event stream. A query
// answered recently is answered from the response cache (respcache.go)
// without running.
type tenantScope struct{ g *Gateway }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = (*tenantScope)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*tenantScope) ExtensionName() string { return "Tenant" }

// Validate implements graphql.HandlerExtension.
func (*tenantScope) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (s *tenantScope) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	g := s.g
	t := tenantFrom(ctx)
	if t == nil {
		err := gqlerror.Errorf("unauthenticated")
		err.Extensions = map[string]any{"code": graph.CodeUnauthenticated}
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
	}
	if err := g.keys.check(ctx, t); err != nil {
		return g.presentOnce(ctx, err) // before any cache: a rejected key reads nothing
	}
	ctx = withKeyNote(ctx, g.keys, t)
	g.startMirror(t) // pass-through mode: the tenant's engine, on its first operation (a key lemlist accepts)
	var keep func(graphql.ResponseHandler) graphql.ResponseHandler
	if g.answers != nil {
		var hit graphql.ResponseHandler
		if hit, keep = g.answers.lookup(t.ID, graphql.GetOperationContext(ctx)); hit != nil {
			return hit
		}
	}
	ctx = lemlist.WithCaller(ctx, t.caller())
	lo := g.o.Loaders
	lo.OnBatch, lo.Tenant = g.o.Metrics.LoaderBatch, cmp.Or(t.ID, "server")
	up := t.Upstream
	if b := budgetFrom(graphql.GetOperationContext(ctx)); b != nil {
		up = budgeted{up: up, b: b} // never more calls than estimated
	}
	ctx = loaders.NewContext(ctx, loaders.New(tracked{up}, lo))
	rh := next(ctx)
	if keep != nil {
		rh = keep(rh)
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op != nil && op.Operation == ast.Subscription {
		liftDeadlines(ctx) // an event stream's: it outlives the server's timeouts
		return rh
	}
	if _, ok := ctx.Deadline(); ok || op == nil {
		return rh
	}
	d := g.o.RequestTimeout
	return func(ctx context.Context) *graphql.Response {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return rh(ctx)
	}
}

// presentOnce answers an operation with err alone, presented as the
// executor presents errors, and notes its code for the request's log line
// (the response interceptors, noteOutcome among them, do not run).
func (g *Gateway) presentOnce(ctx context.Context, err error) graphql.ResponseHandler {
	resp := &graphql.Response{Errors: gqlerror.List{g.present(ctx, err)}}
	if ri := infoFrom(ctx); ri != nil {
		ri.setOutcome(tracing.Outcome(resp))
	}
	return graphql.OneShot(resp)
}

// noteOutcome notes the operation's name and outcome (ok, or the first
// error's code) for the request's log line and metrics.
type noteOutcome struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = noteOutcome{}

// ExtensionName implements graphql.HandlerExtension.
func (noteOutcome) ExtensionName() string { return "Outcome" }

// Validate implements graphql.HandlerExtension.
func (noteOutcome) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (noteOutcome) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
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
	ri.setResult(name, tracing.Outcome(resp))
	return resp
}
