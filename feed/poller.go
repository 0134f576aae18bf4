package feed

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// poller polls lemlist for one tenant and upstream filter, on behalf of its
// subscriptions. Its fields below the mark belong to its goroutine.
type poller struct {
	h      *Hub
	tenant string
	up     upstream.Upstream
	f      activityfilter.Filter
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	subs   []*Subscription // guarded by h.mu, copy-on-write

	// primed is set once the poller knows where it starts: its baseline,
	// or a checkpoint's position.
	primed bool
	// floor bounds every read from below: activities created before it
	// are history (older than the baseline, or than a resumed position).
	floor time.Time
	// newest is the newest createdAt delivered or in the baseline: the
	// high-water mark, whose Lookback the next read covers again.
	newest time.Time
	// seen are the ids delivered (or in the baseline) that a later read
	// can meet again, with their createdAt: those created at or after the
	// next read's minDate.
	seen map[string]time.Time
	// rest, when set, is the part of a read still to go: the read stopped
	// at MaxPages (or at an error) and goes on from there at the next
	// tick, before anything newer is asked. held are the new activities
	// it found so far, delivered when it completes.
	rest *window
	held []*lemlist.Activity
}

// window is one read: the activities created within [from, to] (to zero:
// open, until the first page fixes it at the newest createdAt it shows),
// newest first, of which offset were read already. Fixing to keeps the
// offsets of the later pages: activities created meanwhile fall outside.
type window struct {
	from, to time.Time
	offset   int
}

func newPoller(h *Hub, t Tenant, f activityfilter.Filter, key string) *poller {
	p := &poller{h: h, tenant: t.ID, up: t.Upstream, f: f, key: key, seen: map[string]time.Time{}}
	p.ctx, p.cancel = context.WithCancel(h.ctx)
	return p
}

// run polls until the poller is stopped: at once (the baseline, or the
// resumed checkpoint), then every PollInterval, backing off after
// failures.
func (p *poller) run() {
	defer p.h.wg.Done()
	defer p.cancel()
	defer p.forget()
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

// forget deletes the poller's checkpoint when it stopped because its last
// subscription ended; a hub that closes (a shutdown) keeps them, for the
// next process to resume from.
func (p *poller) forget() {
	if !p.primed || p.h.isClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.h.o.PollTimeout)
	defer cancel()
	if err := p.h.o.Checkpoint.Delete(ctx, p.tenant, p.key); err != nil {
		p.h.o.Logger.Warn("live feed: cannot delete a checkpoint", "tenant", p.tenant, "error", err.Error())
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

// poll makes one poll: the start first (baseline or checkpoint), then the
// activities since, going on with an unfinished read first.
func (p *poller) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.h.o.PollTimeout)
	defer cancel()
	if !p.primed {
		if resumed := p.resume(ctx); !resumed {
			return p.prime(ctx)
		}
	}
	w := p.rest
	if w == nil {
		from := p.from()
		if !p.f.MaxDate.IsZero() && !p.f.MaxDate.After(from) {
			return nil // nothing newer can match: lemlist refuses maxDate <= minDate
		}
		w = &window{from: from, to: p.f.MaxDate}
	}
	p.rest = nil
	done, err := p.read(ctx, w)
	if !done {
		p.rest = w
		if err == nil {
			p.h.continued.Add(1)
			p.h.o.Logger.Info("live feed: more new activities than one poll reads; reading on at the next tick",
				"tenant", p.tenant, "pages", p.h.o.MaxPages, "held", len(p.held))
		}
		return err
	}
	fresh := p.held
	p.held = nil
	p.deliver(fresh)
	return nil
}

// from is the minDate of the next read: Lookback before the newest
// createdAt seen, and never before the floor nor the filter's minDate.
func (p *poller) from() time.Time {
	from := p.floor
	if !p.newest.IsZero() {
		if lb := p.newest.Add(-p.h.o.Lookback); lb.After(from) {
			from = lb
		}
	}
	if p.f.MinDate.After(from) {
		from = p.f.MinDate
	}
	return from
}

// read reads up to MaxPages pages of w, holding the activities not seen
// yet; it reports whether it reached the end of w. On an error, w stays
// where it was.
func (p *poller) read(ctx context.Context, w *window) (done bool, err error) {
	for range p.h.o.MaxPages {
		o := p.f.Options(time.Time{}, w.offset, lemlist.MaxPageSize)
		o.MinDate = w.from
		if w.to.After(w.from) {
			o.MaxDate = w.to
		}
		rows, err := p.up.ListActivities(ctx, o)
		if err != nil {
			return false, err
		}
		if w.to.IsZero() {
			for _, a := range rows {
				if a != nil && a.CreatedAt.After(w.to) {
					w.to = a.CreatedAt
				}
			}
		}
		w.offset += len(rows)
		for _, a := range rows {
			if a == nil || a.ID == "" || a.CreatedAt.Before(w.from) || a.CreatedAt.After(w.to) {
				continue // offsets shift when rows arrive while paging: later reads get them
			}
			if _, dup := p.seen[a.ID]; dup {
				continue
			}
			p.seen[a.ID] = a.CreatedAt
			p.held = append(p.held, a)
		}
		if len(rows) < lemlist.MaxPageSize {
			return true, nil
		}
	}
	return false, nil
}

// deliver publishes the activities a completed read found, oldest first,
// moves the high-water mark, forgets the ids no later read can meet, and
// saves the checkpoint.
func (p *poller) deliver(fresh []*lemlist.Activity) {
	if len(fresh) > 0 {
		// lemlist served them newest first: reversing keeps its order
		// among equal createdAt.
		slices.Reverse(fresh)
		slices.SortStableFunc(fresh, func(a, b *lemlist.Activity) int { return a.CreatedAt.Compare(b.CreatedAt) })
		p.newest = maxTime(p.newest, fresh[len(fresh)-1].CreatedAt)
		p.publish(fresh)
	}
	from := p.from()
	maps.DeleteFunc(p.seen, func(_ string, at time.Time) bool { return at.Before(from) })
	if len(fresh) > 0 {
		p.save()
	}
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
	for _, a := range rows {
		if a != nil && a.ID != "" {
			p.newest = maxTime(p.newest, a.CreatedAt)
		}
	}
	for _, a := range rows {
		if a != nil && a.ID != "" && a.CreatedAt.Equal(p.newest) {
			p.seen[a.ID] = a.CreatedAt
		}
	}
	p.floor = p.newest
	p.primed = true
	p.save()
	return nil
}

// resume starts the poller from its checkpoint, if one was saved within
// ResumeWithin; it reports whether it did.
func (p *poller) resume(ctx context.Context) bool {
	o := &p.h.o
	if o.ResumeWithin < 0 {
		return false
	}
	pos, ok, err := o.Checkpoint.Load(ctx, p.tenant, p.key)
	if err != nil {
		o.Logger.Warn("live feed: cannot load a checkpoint; starting from a new baseline", "tenant", p.tenant, "error", err.Error())
		return false
	}
	if !ok || !pos.Saved.Before(p.h.started) || time.Since(pos.Saved) > o.ResumeWithin {
		return false // none, this hub's own (a poller of it stopping), or too old
	}
	p.floor, p.newest = pos.From, pos.Newest
	for _, id := range pos.Seen {
		// Their createdAt is at most Newest: tagged with it, they are
		// forgotten only once no read can meet them.
		p.seen[id] = pos.Newest
	}
	p.primed = true
	o.Logger.Info("live feed: poller resumed from its checkpoint", "tenant", p.tenant, "from", pos.From)
	return true
}

// save writes the poller's position to the checkpoint.
func (p *poller) save() {
	pos := Position{From: p.from(), Newest: p.newest, Seen: slices.Sorted(maps.Keys(p.seen)), Saved: time.Now()}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), p.h.o.PollTimeout)
	defer cancel()
	if err := p.h.o.Checkpoint.Save(ctx, p.tenant, p.key, pos); err != nil {
		p.h.o.Logger.Warn("live feed: cannot save a checkpoint", "tenant", p.tenant, "error", err.Error())
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
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
