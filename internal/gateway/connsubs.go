package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
)

// DefaultMaxSubscriptionsPerConnection bounds the live subscriptions of
// one websocket (MAX_SUBSCRIPTIONS_PER_CONNECTION): a page rarely needs
// more than a few live feeds.
const DefaultMaxSubscriptionsPerConnection = 100

// connSubs counts the live subscriptions (activityAdded) of one websocket
// connection, which may carry any number of subscribe messages: wsInit
// puts one in the connection's context, and tenantFeed.Subscribe takes a
// slot for each subscription, freed when its operation ends. An SSE
// request carries one operation, and has none.
//
// (feed.ConnectionLimit, from branch harden, does the same inside the
// hub: when it is on main, wsInit puts one of those in the context
// instead, and this file goes.)
type connSubs struct {
	max int

	mu sync.Mutex
	n  int
}

type connSubsKey struct{}

func withConnSubs(ctx context.Context, max int) context.Context {
	return context.WithValue(ctx, connSubsKey{}, &connSubs{max: max})
}

// acquireConnSlot takes a slot of the connection of ctx, if it has a
// limit, until ctx ends; it fails with TOO_MANY_SUBSCRIPTIONS when none
// is left.
func acquireConnSlot(ctx context.Context) error {
	c, _ := ctx.Value(connSubsKey{}).(*connSubs)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("too many live subscriptions on this connection (at most %d): complete one first, or open another connection", c.max),
			Extensions: map[string]any{"code": graph.CodeTooManySubscriptions, "limit": c.max},
		}
	}
	c.n++
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.n--
		c.mu.Unlock()
	})
	return nil
}
