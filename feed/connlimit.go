package feed

import (
	"context"
	"sync"
)

// ConnectionLimit bounds the subscriptions of one client connection (a
// websocket, which can carry any number of subscribe messages). The
// transport makes one per connection and puts it in the context of every
// subscription it starts there (WithConnectionLimit); Hub.Subscribe
// refuses a subscription beyond it with ErrTooManyOnConnection, and a
// subscription frees its slot when it ends. It is safe for concurrent use.
type ConnectionLimit struct {
	max int

	mu sync.Mutex
	n  int
}

// NewConnectionLimit returns a limit of n subscriptions (at least 1);
// DefaultMaxSubscriptionsPerConnection is a sensible n.
func NewConnectionLimit(n int) *ConnectionLimit {
	return &ConnectionLimit{max: max(n, 1)}
}

// Len returns the subscriptions holding a slot.
func (l *ConnectionLimit) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *ConnectionLimit) acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		return false
	}
	l.n++
	return true
}

func (l *ConnectionLimit) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
}

type connectionKey struct{}

// WithConnectionLimit returns ctx carrying l: Hub.Subscribe under it (or a
// context derived from it) counts against l.
func WithConnectionLimit(ctx context.Context, l *ConnectionLimit) context.Context {
	return context.WithValue(ctx, connectionKey{}, l)
}

func connectionLimit(ctx context.Context) *ConnectionLimit {
	l, _ := ctx.Value(connectionKey{}).(*ConnectionLimit)
	return l
}
