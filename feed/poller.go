package feed

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// poller polls lemlist for one tenant and upstream filter, on behalf of its
// subscriptions. Its fields below the mark belong to its goroutine.
type poller struct {
	h      *Hub
	tenant string
	up     upstream.Upstream
	f      relay.Filter
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	subs   []*Subscription // guarded by h.mu, copy-on-write

	// primed is set once the baseline is known.
	primed bool
	// newest is the newest createdAt seen (zero: none yet), and boundary
	// the ids seen with exactly that createdAt: the next poll asks for
	// createdAt >= newest and drops them.
	newest   time.Time
	boundary map[string]struct{}
}

func newPoller(h *Hub, t Tenant, f relay.Filter, key string) *poller {
	p := &poller{h: h, tenant: t.ID, up: t.Upstream, f: f, key: key, boundary: map[string]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(h.ctx)
	return p
}

// run polls until the poller is stopped: at once (the baseline), then every
// PollInterval, backing off after failures.
func (p *poller) run() {
	defer p.h.wg.Done()
	defer p.cancel()
	o := &p.h.o
	ctx := lemlist.WithCaller(upstream.NoCache(p.ctx), o.Caller)
	failures := 0
	for {
		err := p.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		p.h.polls.Add(1)
		if unauthorized(err) {
			p.h.pollErrors.Add(1)
			o.Logger.Warn("live feed: lemlist rejected the API key; ending its subscriptions", "tenant", p.tenant)
			p.h.endPoller(p, ErrUnauthorized)
			return
		}
		wait := o.PollInterval
		if err != nil {
			p.h.pollErrors.Add(1)
			failures++
			wait = backoff(o.PollInterval, o.MaxBackoff, failures, err)
			o.Logger.Warn("live feed: poll failed", "tenant", p.tenant, "failures", failures,
				"retry_in", wait.String(), "error", err.Error())
		} else if failures > 0 {
			o.Logger.Info("live feed: polling recovered", "tenant", p.tenant, "failures", failures)
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after the n-th failure in a row: interval doubled
// n times, capped at max, and at least the Retry-After of a rate limit.
func backoff(interval, max time.Duration, n int, err error) time.Duration {
	d := interval
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if e, ok := errors.AsType[*lemlist.RateLimitError](err); ok && e.RetryAfter > d {
		d = e.RetryAfter
	}
	return d
}

// poll makes one poll: the baseline first, then the activities since.
func (p *poller) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.h.o.PollTimeout)
	defer cancel()
	if !p.primed {
		return p.prime(ctx)
	}
	minDate := p.newest
	if minDate.IsZero() || p.f.MinDate.After(minDate) {
		minDate = p.f.MinDate
	}
	if !minDate.IsZero() && !p.f.MaxDate.IsZero() && !p.f.MaxDate.After(minDate) {
		return nil // nothing newer can match: lemlist refuses maxDate <= minDate
	}
	seen := map[string]struct{}{} // offsets shift when rows arrive while paging
	var fresh []*lemlist.Activity
	truncated := true
	for page := range p.h.o.MaxPages {
		o := p.f.Options(time.Time{}, page*lemlist.MaxPageSize, lemlist.MaxPageSize)
		o.MinDate = minDate
		rows, err := p.up.ListActivities(ctx, o)
		if err != nil {
			return err // nothing changes: the next poll asks again
		}
		for _, a := range rows {
			if a == nil || a.ID == "" || a.CreatedAt.Before(p.newest) {
				continue
			}
			if _, dup := seen[a.ID]; dup {
				continue
			}
			seen[a.ID] = struct{}{}
			if _, old := p.boundary[a.ID]; old {
				continue
			}
			fresh = append(fresh, a)
		}
		if len(rows) < lemlist.MaxPageSize {
			truncated = false
			break
		}
	}
	if truncated {
		p.h.o.Logger.Warn("live feed: more new activities than one poll reads; the oldest of them are skipped",
			"tenant", p.tenant, "pages", p.h.o.MaxPages)
	}
	if len(fresh) == 0 {
		return nil
	}
	p.advance(fresh)
	// Oldest first; lemlist served them newest first, so reversing keeps
	// its order among equal createdAt.
	slices.Reverse(fresh)
	slices.SortStableFunc(fresh, func(a, b *lemlist.Activity) int { return a.CreatedAt.Compare(b.CreatedAt) })
	p.publish(fresh)
	return nil
}

// prime sets the baseline: the newest createdAt matching the filter, and
// the ids at it. It pages on only while a whole page shares that createdAt.
func (p *poller) prime(ctx context.Context) error {
	var rows []*lemlist.Activity
	for page := range p.h.o.MaxPages {
		o := p.f.Options(time.Time{}, page*lemlist.MaxPageSize, lemlist.MaxPageSize)
		got, err := p.up.ListActivities(ctx, o)
		if err != nil {
			return err
		}
		rows = append(rows, got...)
		if len(got) < lemlist.MaxPageSize || !got[len(got)-1].CreatedAt.Equal(rows[0].CreatedAt) {
			break
		}
	}
	var valid []*lemlist.Activity
	for _, a := range rows {
		if a != nil && a.ID != "" {
			valid = append(valid, a)
		}
	}
	p.advance(valid)
	p.primed = true
	return nil
}

// advance moves the baseline to the newest createdAt of rows, which are
// all at or after the current one.
func (p *poller) advance(rows []*lemlist.Activity) {
	if len(rows) == 0 {
		return
	}
	newest := rows[0].CreatedAt
	for _, a := range rows[1:] {
		if a.CreatedAt.After(newest) {
			newest = a.CreatedAt
		}
	}
	if newest.After(p.newest) {
		p.newest, p.boundary = newest, map[string]struct{}{}
	}
	for _, a := range rows {
		if a.CreatedAt.Equal(p.newest) {
			p.boundary[a.ID] = struct{}{}
		}
	}
}

// publish delivers rows to the poller's subscriptions, unless the poller
// was stopped meanwhile.
func (p *poller) publish(rows []*lemlist.Activity) {
	p.h.mu.Lock()
	subs := p.subs
	if p.ctx.Err() != nil {
		subs = nil
	}
	p.h.mu.Unlock()
	for _, a := range rows {
		deliverAll(subs, a)
	}
}
