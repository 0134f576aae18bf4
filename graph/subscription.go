package graph

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
)

// Error codes of subscriptions, in extensions.code.
const (
	// CodeSubscriberTooSlow ends a subscription that fell behind.
	CodeSubscriberTooSlow = "SUBSCRIBER_TOO_SLOW"
	// CodeTooManySubscriptions refuses a subscription beyond the server's
	// bounds.
	CodeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	// CodeFeedUnavailable refuses (or ends) a subscription when the live
	// feed is off or shutting down.
	CodeFeedUnavailable = "FEED_UNAVAILABLE"
)

// Feed is the live feed behind Subscription.activityAdded: a feed.Hub bound
// to the request's tenant by the server.
type Feed interface {
	// Subscribe subscribes the tenant of ctx to the activities matching f,
	// until ctx ends.
	Subscribe(ctx context.Context, f feed.Filter) (*feed.Subscription, error)
}

// activityAdded answers Subscription.activityAdded: a subscription to the
// live feed, each activity converted as the activities connection does.
func (r *Resolver) activityAdded(ctx context.Context, in *model.ActivityFilter) (<-chan model.Activity, error) {
	if r.Feed == nil {
		return nil, codeError("the live feed is not enabled on this server", CodeFeedUnavailable)
	}
	f, none, err := liveFilter(in)
	if err != nil {
		return nil, err
	}
	out := make(chan model.Activity)
	if none { // e.g. types none of which is of the channel
		go func() {
			<-ctx.Done()
			close(out)
		}()
		return out, nil
	}
	sub, err := r.Feed.Subscribe(ctx, f)
	switch {
	case errors.Is(err, feed.ErrTooManySubscriptions), errors.Is(err, feed.ErrTooManyTenantSubscriptions),
		errors.Is(err, feed.ErrTooManyOnConnection), errors.Is(err, feed.ErrTooManyFilters):
		return nil, codeError(err.Error(), CodeTooManySubscriptions)
	case errors.Is(err, feed.ErrClosed):
		return nil, codeError(err.Error(), CodeFeedUnavailable)
	case err != nil:
		return nil, err
	}
	sels := map[string]*nodeSelection{} // per activity type, for every event
	sel := graphql.GetFieldContext(ctx).Field.Selections
	opCtx := graphql.GetOperationContext(ctx)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			a, err := sub.Next(ctx)
			switch {
			case errors.Is(err, feed.ErrTooSlow):
				endStream(ctx, codeError(err.Error(), CodeSubscriberTooSlow))
				return
			case errors.Is(err, feed.ErrClosed):
				endStream(ctx, codeError(err.Error(), CodeFeedUnavailable))
				return
			case errors.Is(err, feed.ErrUnauthorized): // the key was revoked
				endStream(ctx, codeError(err.Error(), CodeUnauthenticated))
				return
			case err != nil:
				return
			}
			select {
			case out <- model.NewActivity(a, eventNested(ctx, opCtx, sel, sels)):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// eventNested returns what answers the object fields of one event's
// activity: its own fresh loaders, as every event gets (Subscriptions), and
// the subscription's selection for the activity's type, collected once per
// type into sels.
func eventNested(ctx context.Context, opCtx *graphql.OperationContext, sel ast.SelectionSet, sels map[string]*nodeSelection) func(string) model.Nested {
	if l, ok := loaders.FromContext(ctx); ok {
		ctx = loaders.NewContext(ctx, l.Fresh())
	}
	return func(typeName string) model.Nested {
		s, ok := sels[typeName]
		if !ok {
			s = selectionOf(opCtx, sel, typeName)
			sels[typeName] = s
		}
		return &nodePlan{ctx: ctx, sel: s}
	}
}

// liveFilter validates a subscription's filter as a connection's: type,
// types and channel select a set of types. lemlist filters on one type:
// with one, the poller asks lemlist for it; with several, it asks for all
// and the set is matched in-process. none reports that no type can match.
func liveFilter(in *model.ActivityFilter) (f feed.Filter, none bool, err error) {
	f.Filter, err = toFilter(in, scope{})
	if err != nil {
		return f, false, err
	}
	types, none, err := filterTypes(in)
	if err != nil || none {
		return f, none, err
	}
	switch len(types) {
	case 0:
	case 1:
		f.Type = types[0]
	default:
		f.Type = ""
		set := slices.Clone(types)
		f.Match = func(a *lemlist.Activity) bool { return slices.Contains(set, a.Type) }
	}
	return f, false, nil
}

func codeError(msg, code string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// Subscriptions is the gqlgen extension a server serving
// Subscription.activityAdded should use (srv.Use(graph.Subscriptions{})).
// For each subscription operation:
//
//   - every event is resolved with fresh loaders (loaders.Loaders.Fresh),
//     so that a subscription's nested lookups (lead, campaign, user) are
//     batched per event and its loader caches do not grow for its whole
//     life;
//   - when the feed ends a subscription with an error (the subscriber fell
//     behind, the server shuts down), the error is sent as a last event
//     before the stream completes, over the websocket and SSE alike.
//
// Without it, subscriptions work, but keep their first loaders and end
// without saying why.
type Subscriptions struct{}

var (
	_ graphql.HandlerExtension     = Subscriptions{}
	_ graphql.OperationInterceptor = Subscriptions{}
	_ graphql.ResponseInterceptor  = Subscriptions{}
)

// ExtensionName names the extension.
func (Subscriptions) ExtensionName() string { return "LiveSubscriptions" }

// Validate accepts any schema.
func (Subscriptions) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation gives a subscription the state its events share.
func (Subscriptions) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, streamKey{}, &stream{})
	}
	return next(ctx)
}

// InterceptResponse runs each event of a subscription with fresh loaders,
// and turns the end of a stream the feed ended into an error event.
func (Subscriptions) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	st, _ := ctx.Value(streamKey{}).(*stream)
	if st == nil {
		return next(ctx)
	}
	if l, ok := loaders.FromContext(ctx); ok {
		ctx = loaders.NewContext(ctx, l.Fresh())
	}
	if resp := next(ctx); resp != nil {
		return resp
	}
	if err := st.take(); err != nil {
		err.Path = ast.Path{ast.PathName(firstField(ctx))}
		return &graphql.Response{Errors: gqlerror.List{err}}
	}
	return nil
}

// firstField names the subscription's root field (a subscription has
// one), for the error's path.
func firstField(ctx context.Context) string {
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"}) {
		return f.Alias
	}
	return ""
}

type streamKey struct{}

// stream is a subscription operation's state: the error that ended it.
type stream struct {
	mu   sync.Mutex
	err  *gqlerror.Error
	sent bool
}

// take returns the error once.
func (s *stream) take() *gqlerror.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent || s.err == nil {
		return nil
	}
	s.sent = true
	return s.err
}

// endStream records why the feed ended the subscription of ctx, for the
// Subscriptions extension to send. Call it before closing the stream.
func endStream(ctx context.Context, err *gqlerror.Error) {
	if s, ok := ctx.Value(streamKey{}).(*stream); ok {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
}
