package graph

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
)

// A stats scan that nears its request's deadline stops and answers what it
// counted, partial with coveredFrom, as when maxUpstreamCalls runs out,
// rather than failing with RATE_LIMITED and no data: on a team of tens of
// thousands of activities, the 500 calls a scan may make take longer than
// a request may (lemlist allows 20 per 2 s).
//
// The scan runs under a deadline a reserve earlier than its request's, and
// its list calls fail as if the budget were spent (relay.ErrBudget) once
// that deadline has passed, or when the rate limiter knows that the next
// slot comes after it (lemlist.ErrRateLimitWait). Such an answer is not
// cached: a retry, whose pages are now in the upstream cache, gets further.

// Reserve of a stats scan: the part of the time left kept for the answer,
// bounded.
const (
	scanReserveShare = 10 // a tenth of the time left…
	minScanReserve   = 50 * time.Millisecond
	maxScanReserve   = time.Second // …between these
)

// scanDeadline is one stats scan's deadline.
type scanDeadline struct {
	parent, ctx context.Context
	cancel      context.CancelFunc
	cut         atomic.Bool // a call was stopped by it
}

// newScanDeadline returns the deadline of a scan under ctx: none when ctx
// has no deadline. Call stop when the scan is over.
func newScanDeadline(ctx context.Context) *scanDeadline {
	d := &scanDeadline{parent: ctx, ctx: ctx, cancel: func() {}}
	if end, ok := ctx.Deadline(); ok {
		reserve := min(max(time.Until(end)/scanReserveShare, minScanReserve), maxScanReserve)
		d.ctx, d.cancel = context.WithDeadline(ctx, end.Add(-reserve))
	}
	return d
}

// list returns list failing with relay.ErrBudget once the scan's deadline
// has passed (its request's has not) or cannot be met.
func (d *scanDeadline) list(list relay.Lister) relay.Lister {
	return func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		rows, err := list(ctx, o)
		if err != nil && d.parent.Err() == nil && (d.ctx.Err() != nil || errors.Is(err, lemlist.ErrRateLimitWait)) {
			d.cut.Store(true)
			return nil, relay.ErrBudget
		}
		return rows, err
	}
}

// cutShort reports whether the deadline stopped a call of the scan.
func (d *scanDeadline) cutShort() bool { return d.cut.Load() }

// stop releases the deadline's timer.
func (d *scanDeadline) stop() { d.cancel() }
