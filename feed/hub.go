package feed

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// Options configure a Hub. The zero value takes every default.
type Options struct {
	// PollInterval is the wait between a poller's polls. Zero means
	// DefaultPollInterval; a negative value turns polling off (webhooks
	// only).
	PollInterval time.Duration
	// MaxBackoff caps the wait after failed polls (it doubles from
	// PollInterval with each failure in a row, and is at least a 429's
	// Retry-After). Zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// PollTimeout bounds one poll, paging included. Zero means
	// DefaultPollTimeout.
	PollTimeout time.Duration
	// MaxPages bounds the pages of 100 activities one poll reads. When more
	// activities than that arrived, the poll goes on at the next tick from
	// where it stopped (before asking for newer ones), and delivers them
	// all, oldest first, once it has read them all. Zero means
	// DefaultMaxPages.
	MaxPages int
	// Lookback is how far before the newest createdAt it saw each poll
	// looks again, so that an activity lemlist lists only after newer
	// ones (a late arrival) is still delivered; one created longer before
	// is not. Zero means DefaultLookback; a negative value turns it off.
	Lookback time.Duration
	// Checkpoint keeps each poller's position, so that after a restart
	// the pollers resume where they stood: what arrived meanwhile is
	// delivered to the subscriptions made after the restart. A poller
	// resumes only a position saved before its hub started: within one
	// hub, a poller started anew (its filter had no subscription for a
	// while) takes a new baseline. Replicas sharing a store must not
	// share positions: each replica's Checkpoint should scope its keys by
	// a name of the replica that outlives its restarts. Nil means a
	// MemoryCheckpoint of the hub's own.
	Checkpoint Checkpoint
	// ResumeWithin bounds the age of a checkpoint a poller resumes from;
	// an older one (or none) gives a new baseline. Zero means
	// DefaultResumeWithin; a negative value turns resuming off.
	ResumeWithin time.Duration
	// Buffer bounds each subscription's queue: a subscription with that
	// many activities not taken yet is dropped (ErrTooSlow) when the next
	// one comes. It must hold a burst: a poll may bring up to MaxPages×100
	// activities at once (more when it went on over several ticks). Zero
	// means DefaultBuffer.
	Buffer int
	// RecentIDs is how many delivered ids each subscription remembers to
	// drop repeats (an activity arriving by webhook then by poll). It must
	// cover the largest poll. Zero means 2×MaxPages×100: a whole poll
	// from each source.
	RecentIDs int
	// MaxSubscriptions bounds the subscriptions of the hub, all tenants
	// together. Zero means DefaultMaxSubscriptions.
	MaxSubscriptions int
	// MaxSubscriptionsPerTenant bounds the subscriptions of one tenant, so
	// that one tenant cannot take the whole of MaxSubscriptions. Zero
	// means DefaultMaxSubscriptionsPerTenant. (Server and demo modes have
	// a single tenant: set it to MaxSubscriptions there.)
	MaxSubscriptionsPerTenant int
	// MaxPollersPerTenant bounds the distinct upstream filters polled for
	// one tenant: each costs a call per PollInterval from the tenant's
	// budget. Zero means DefaultMaxPollersPerTenant.
	MaxPollersPerTenant int
	// Caller is the rate limiter's caller key of every poll call (see
	// lemlist.WithCaller). Empty means DefaultCaller.
	Caller string
	// Logger receives poll failures, skipped activities, refused webhooks
	// and dropped subscribers. Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	def(&o.MaxPages, DefaultMaxPages)
	def(&o.Buffer, DefaultBuffer)
	def(&o.RecentIDs, 2*o.MaxPages*lemlist.MaxPageSize)
	def(&o.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&o.MaxSubscriptionsPerTenant, DefaultMaxSubscriptionsPerTenant)
	switch {
	case o.Lookback == 0:
		o.Lookback = DefaultLookback
	case o.Lookback < 0:
		o.Lookback = 0
	}
	if o.ResumeWithin == 0 {
		o.ResumeWithin = DefaultResumeWithin
	}
	if o.Checkpoint == nil {
		o.Checkpoint = NewMemoryCheckpoint()
	}
	def(&o.MaxPollersPerTenant, DefaultMaxPollersPerTenant)
	if o.Caller == "" {
		o.Caller = DefaultCaller
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats are a Hub's gauges and counters.
type Stats struct {
	// Subscriptions and Pollers are the live ones.
	Subscriptions, Pollers int
	// Polls counts the polls done, failed ones included; PollErrors the
	// failed ones; PollsContinued those that stopped at MaxPages and went
	// on at the next tick.
	Polls, PollErrors, PollsContinued uint64
	// Delivered counts activities queued to subscriptions.
	Delivered uint64
	// Dropped counts subscriptions ended with ErrTooSlow.
	Dropped uint64
	// WebhooksAccepted, WebhooksRefused, WebhooksReplayed (an activity
	// _id handled within the replay window) and WebhooksRelayFailed
	// (answered 503) count webhook calls.
	WebhooksAccepted, WebhooksRefused, WebhooksReplayed, WebhooksRelayFailed uint64
}

// Hub fans activities out to subscriptions. It is safe for concurrent use.
type Hub struct {
	o       Options
	started time.Time // pollers resume only positions saved before it

	ctx    context.Context // the pollers' parent; done when the hub closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // running pollers

	mu      sync.Mutex
	closed  bool
	tenants map[string]*tenantState
	nsubs   int

	polls, pollErrors, continued, delivered, dropped       atomic.Uint64
	hooksOK, hooksRefused, hooksReplayed, hooksRelayFailed atomic.Uint64
}

// tenantState is one tenant's subscriptions and pollers. Its slices are
// copy-on-write: a publisher reads one under Hub.mu, then ranges over it
// without the lock.
type tenantState struct {
	subs    []*Subscription
	pollers map[string]*poller
}

// NewHub returns a hub configured by o. Close it to stop its pollers.
func NewHub(o Options) *Hub {
	h := &Hub{o: o.withDefaults(), started: time.Now(), tenants: map[string]*tenantState{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// Subscribe starts a subscription for tenant t to the activities matching
// f, and the poller of t and f's upstream part unless one runs already. It
// ends when ctx is done or Close is called (ErrEnded), when it falls behind
// (ErrTooSlow) or when the hub closes (ErrClosed). It fails for a filter
// lemlist would refuse (a *activityfilter.InputError), and beyond the
// hub's bounds (ErrTooManySubscriptions, ErrTooManyTenantSubscriptions,
// ErrTooManyFilters) or the connection's (ErrTooManyOnConnection, when ctx
// carries a ConnectionLimit).
func (h *Hub) Subscribe(ctx context.Context, t Tenant, f Filter) (*Subscription, error) {
	key, err := pollKey(f.Filter)
	if err != nil {
		return nil, &activityfilter.InputError{Arg: "filter", Msg: err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newSubscription(h, t, f)
	if l := connectionLimit(ctx); l != nil {
		if !l.acquire() {
			return nil, ErrTooManyOnConnection
		}
		s.conn = l
	}
	refuse := func(err error) (*Subscription, error) {
		h.mu.Unlock()
		if s.conn != nil {
			s.conn.release()
		}
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		return refuse(ErrClosed)
	}
	if h.nsubs >= h.o.MaxSubscriptions {
		return refuse(ErrTooManySubscriptions)
	}
	ts := h.tenants[t.ID]
	if ts == nil {
		ts = &tenantState{pollers: map[string]*poller{}}
	}
	if len(ts.subs) >= h.o.MaxSubscriptionsPerTenant {
		return refuse(ErrTooManyTenantSubscriptions)
	}
	if h.o.PollInterval > 0 && t.Upstream != nil {
		p := ts.pollers[key]
		if p == nil {
			if len(ts.pollers) >= h.o.MaxPollersPerTenant {
				return refuse(ErrTooManyFilters)
			}
			p = newPoller(h, t, f.Filter, key)
			ts.pollers[key] = p
			h.wg.Add(1)
			go p.run()
		}
		p.subs = append(slices.Clip(p.subs), s)
		s.poller = p
	}
	ts.subs = append(slices.Clip(ts.subs), s)
	h.tenants[t.ID] = ts
	h.nsubs++
	h.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.end(nil) })
	s.mu.Lock()
	if s.closed { // ended already (dropped, or the hub closed)
		s.mu.Unlock()
		stop()
		return s, nil
	}
	s.stopWatch = stop
	s.mu.Unlock()
	return s, nil
}

// Publish delivers a to the subscriptions of the tenant tenantID whose
// filter it matches and which were not sent its id yet, and returns how
// many it was queued for. It never blocks: a subscription whose queue is
// full is dropped with ErrTooSlow. a is shared: nobody may modify it.
func (h *Hub) Publish(tenantID string, a *lemlist.Activity) int {
	h.mu.Lock()
	var subs []*Subscription
	if ts := h.tenants[tenantID]; ts != nil {
		subs = ts.subs
	}
	h.mu.Unlock()
	return deliverAll(subs, a)
}

func deliverAll(subs []*Subscription, a *lemlist.Activity) int {
	n := 0
	for _, s := range subs {
		if s.deliver(a) {
			n++
		}
	}
	return n
}

// Stats returns the hub's gauges and counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	st := Stats{Subscriptions: h.nsubs}
	for _, ts := range h.tenants {
		st.Pollers += len(ts.pollers)
	}
	h.mu.Unlock()
	st.Polls, st.PollErrors, st.PollsContinued = h.polls.Load(), h.pollErrors.Load(), h.continued.Load()
	st.Delivered, st.Dropped = h.delivered.Load(), h.dropped.Load()
	st.WebhooksAccepted, st.WebhooksRefused = h.hooksOK.Load(), h.hooksRefused.Load()
	st.WebhooksReplayed, st.WebhooksRelayFailed = h.hooksReplayed.Load(), h.hooksRelayFailed.Load()
	return st
}

// isClosed reports whether Close was called.
func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close ends every subscription with ErrClosed, refuses new ones, and
// waits for the pollers to stop.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*Subscription
	for _, ts := range h.tenants {
		all = append(all, ts.subs...)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end(ErrClosed)
	}
	h.cancel()
	h.wg.Wait()
}

// remove forgets s, and stops its poller if s was the poller's last
// subscription.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := h.tenants[s.tenant]
	if ts == nil {
		return
	}
	n := len(ts.subs)
	ts.subs = deleteSub(ts.subs, s)
	if len(ts.subs) == n {
		return // removed already
	}
	h.nsubs--
	if s.conn != nil {
		s.conn.release()
	}
	if p := s.poller; p != nil {
		p.subs = deleteSub(p.subs, s)
		if len(p.subs) == 0 {
			p.cancel()
			delete(ts.pollers, p.key)
		}
	}
	if len(ts.subs) == 0 && len(ts.pollers) == 0 {
		delete(h.tenants, s.tenant)
	}
}

// deleteSub returns subs without s, in a new slice (subs is shared with
// publishers).
func deleteSub(subs []*Subscription, s *Subscription) []*Subscription {
	i := slices.Index(subs, s)
	if i < 0 {
		return subs
	}
	out := make([]*Subscription, 0, len(subs)-1)
	out = append(out, subs[:i]...)
	return append(out, subs[i+1:]...)
}

// Subscription is one subscriber's stream of activities: a queue that the
// hub fills without ever waiting, bounded by Options.Buffer, and that the
// subscriber drains with Next.
type Subscription struct {
	hub    *Hub
	tenant string
	filter Filter
	poller *poller          // nil without polling
	conn   *ConnectionLimit // nil without one
	max    int              // queue bound

	wake chan struct{} // capacity 1: something was queued, or the end came

	mu        sync.Mutex
	queue     []*lemlist.Activity // queue[head:] are pending, oldest first
	head      int
	recent    *recentIDs
	closed    bool
	err       error
	stopWatch func() bool // stops the ctx watch
}

func newSubscription(h *Hub, t Tenant, f Filter) *Subscription {
	return &Subscription{
		hub: h, tenant: t.ID, filter: f, max: h.o.Buffer,
		wake:   make(chan struct{}, 1),
		recent: newRecentIDs(h.o.RecentIDs),
	}
}

// Next returns the next activity, oldest first within each source, waiting
// for one until ctx is done (then it returns ctx's error). Once the
// subscription has ended it returns why: ErrEnded after its ctx ended or
// Close (the activities still queued are returned first), ErrTooSlow or
// ErrClosed (at once: what was queued is dropped). Activities are shared
// with other subscriptions: nobody may modify them. Next is meant for one
// goroutine.
func (s *Subscription) Next(ctx context.Context) (*lemlist.Activity, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.queue) {
			a := s.queue[s.head]
			s.queue[s.head] = nil
			s.head++
			if s.head == len(s.queue) {
				s.queue, s.head = s.queue[:0], 0
			}
			s.mu.Unlock()
			return a, nil
		}
		closed, err := s.closed, s.err
		s.mu.Unlock()
		if closed {
			return nil, cmp.Or(err, ErrEnded)
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Err returns why the subscription ended: ErrEnded (its ctx ended, or
// Close), ErrTooSlow or ErrClosed; nil while it runs.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return cmp.Or(s.err, ErrEnded)
	}
	return nil
}

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() { s.end(nil) }

// pending returns the number of activities queued.
func (s *Subscription) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) - s.head
}

// deliver queues a if it matches and was not sent yet; it reports whether
// it queued it. It never blocks: a full queue ends the subscription with
// ErrTooSlow.
func (s *Subscription) deliver(a *lemlist.Activity) bool {
	if !s.filter.Matches(a) {
		return false
	}
	s.mu.Lock()
	if s.closed || s.recent.has(a.ID) {
		s.mu.Unlock()
		return false
	}
	if len(s.queue)-s.head >= s.max {
		s.mu.Unlock()
		if s.end(ErrTooSlow) {
			s.hub.dropped.Add(1)
			s.hub.o.Logger.Warn("live feed: subscriber too slow, dropped", "tenant", s.tenant, "queued", s.max)
		}
		return false
	}
	if s.head > 0 && len(s.queue) == cap(s.queue) {
		// Slide the pending ones down rather than grow the array.
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue, s.head = s.queue[:n], 0
	}
	s.queue = append(s.queue, a)
	s.recent.add(a.ID)
	s.mu.Unlock()
	s.signal()
	s.hub.delivered.Add(1)
	return true
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// end closes the subscription with err (nil: ErrEnded), unless it is
// closed already; it reports whether it closed it. A subscription ended
// by the hub (ErrTooSlow, ErrClosed) drops what it queued.
func (s *Subscription) end(err error) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed, s.err = true, err
	if err != nil {
		s.queue, s.head = nil, 0
	}
	stop := s.stopWatch
	s.stopWatch = nil
	s.mu.Unlock()
	s.signal()
	if stop != nil {
		stop()
	}
	s.hub.remove(s)
	return true
}
