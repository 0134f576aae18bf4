package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// blockingUpstream waits for ctx, as a call queued in the rate limiter
// does, or as one whose HTTP exchange hangs when exchanging is set.
type blockingUpstream struct {
	upstream.Upstream
	exchanging bool
}

func (b blockingUpstream) GetLead(ctx context.Context, _ string) (*lemlist.Lead, error) {
	if cs, _ := ctx.Value(callStateKey{}).(*callState); cs != nil && b.exchanging {
		cs.attempts.Add(1)
		cs.inFlight.Add(1)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTrackedDeadlineWhileQueued(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := tracked{blockingUpstream{}}.GetLead(ctx, "lea_1")
	if e, ok := errors.AsType[*lemlist.RateLimitError](err); !ok || e.Endpoint != "leads" {
		t.Errorf("queued at the deadline: %v, want a *lemlist.RateLimitError", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = tracked{blockingUpstream{exchanging: true}}.GetLead(ctx, "lea_1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow exchange at the deadline: %v, want the deadline", err)
	}
}
