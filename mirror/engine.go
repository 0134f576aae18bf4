package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Defaults of Options.
const (
	DefaultSince             = 365 * 24 * time.Hour
	DefaultPollInterval      = 5 * time.Second
	DefaultReconcileInterval = 10 * time.Minute
	DefaultLookback          = 24 * time.Hour
	DefaultFullReconcile     = 7 * 24 * time.Hour
	DefaultHeadOverlap       = time.Minute
	DefaultRetryMin          = time.Second
	DefaultRetryMax          = time.Minute
	DefaultLeaseTTL          = 15 * time.Second
)

// pageSize is lemlist's largest page.
const pageSize = lemlist.MaxPageSize

// ListFunc lists one page of a tenant's activities: the tenant's uncached
// client, sharing the key's rate limiter with interactive queries.
type ListFunc func(ctx context.Context, opts *lemlist.ActivityListOptions) ([]*lemlist.Activity, error)

// ClientList adapts a client to a ListFunc.
func ClientList(c *lemlist.Client) ListFunc {
	return func(ctx context.Context, opts *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		page, _, err := c.Activities.List(ctx, opts)
		return page, err
	}
}

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	// ChannelOf maps an activity type to its channel; required (wire
	// graph/model.ChannelOf).
	ChannelOf func(typ string) string
	// Since is the oldest createdAt a new backfill reads; zero means
	// DefaultSince before now. A tenant that has a stored state keeps its
	// own.
	Since time.Time
	// PollInterval is how often the head is polled.
	PollInterval time.Duration
	// ReconcileInterval is how often the Lookback window is reconciled.
	ReconcileInterval time.Duration
	// Lookback is the window reconciliation re-reads.
	Lookback time.Duration
	// FullReconcileInterval is how often all history is reconciled.
	FullReconcileInterval time.Duration
	// HeadOverlap is how far below the head each poll re-reads.
	HeadOverlap time.Duration
	// RetryMin and RetryMax bound the backoff after a failed step.
	RetryMin, RetryMax time.Duration
	// LeaseTTL and Holder are used when the store is a Leaser.
	LeaseTTL time.Duration
	Holder   string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Background marks the context of each upstream call, e.g. with
	// lemlist's low-priority lane; nil means none.
	Background func(context.Context) context.Context
	// OnIngest receives the rows that are new to the mirror, oldest first,
	// once committed: from the head (polls and Ingest) and from
	// reconciliation (late arrivals), whichever stores a row first. The
	// backfill's rows are history and are not published. It must not
	// block.
	OnIngest func(tenant string, rows []*lemlist.Activity)
	// Logger logs failures; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	o.PollInterval = cmp.Or(o.PollInterval, DefaultPollInterval)
	o.ReconcileInterval = cmp.Or(o.ReconcileInterval, DefaultReconcileInterval)
	o.Lookback = cmp.Or(o.Lookback, DefaultLookback)
	o.FullReconcileInterval = cmp.Or(o.FullReconcileInterval, DefaultFullReconcile)
	o.HeadOverlap = cmp.Or(o.HeadOverlap, DefaultHeadOverlap)
	o.RetryMin = cmp.Or(o.RetryMin, DefaultRetryMin)
	o.RetryMax = max(cmp.Or(o.RetryMax, DefaultRetryMax), o.RetryMin)
	o.LeaseTTL = cmp.Or(o.LeaseTTL, DefaultLeaseTTL)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Background == nil {
		o.Background = func(ctx context.Context) context.Context { return ctx }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Engine syncs one tenant's activities into a Store. Run drives it; the
// step methods (Backfill, Poll, Reconcile, ReconcileAll) run one kind of
// work each and are serialized with Run's steps. It is safe for concurrent
// use and never panics on a store or upstream failure: the failure is its
// status, and Run retries with backoff.
type Engine struct {
	tenant string
	store  Store
	list   ListFunc
	o      Options

	work sync.Mutex // serializes steps; guards st and lastPoll

	st       State
	loaded   bool
	lastPoll time.Time
	// fence is the lease holder that fences commits (Batch.Holder) while
	// Run holds the tenant's lease in a shared store.
	fence string

	mu      sync.Mutex // guards the fields below
	pub     State      // st as last committed, for Status
	lastErr string
	failing bool
	syncing bool

	calls, written, inserted, added, removed, repeated, failures atomic.Int64
}

// NewEngine returns the engine of tenant. It does no I/O: the stored state
// is loaded by the first step.
func NewEngine(tenant string, store Store, list ListFunc, o Options) (*Engine, error) {
	if tenant == "" || store == nil || list == nil {
		return nil, errors.New("mirror: NewEngine needs a tenant, a store and a list function")
	}
	if o.ChannelOf == nil {
		return nil, errors.New("mirror: Options.ChannelOf is required")
	}
	return &Engine{tenant: tenant, store: store, list: list, o: o.withDefaults()}, nil
}

// Tenant returns the engine's tenant.
func (e *Engine) Tenant() string { return e.tenant }

func (e *Engine) now() time.Time { return e.o.Now().Truncate(time.Millisecond) }

// load reads the stored state, or starts a new one: the backfill of
// [Since, now]. A tenant with a stored state never starts over.
func (e *Engine) load(ctx context.Context) error {
	if e.loaded {
		return nil
	}
	st, ok, err := e.store.LoadState(ctx, e.tenant)
	if err != nil {
		return fmt.Errorf("load sync state: %w", err)
	}
	if !ok {
		now := e.now()
		since := e.o.Since
		if since.IsZero() {
			since = now.Add(-DefaultSince)
		}
		since = since.Truncate(time.Millisecond)
		st = State{Since: since, Start: now, Cursor: now, CoveredTo: now}
		if _, err := e.store.Apply(ctx, e.tenant, Batch{State: &st, At: now}); err != nil {
			return fmt.Errorf("save sync state: %w", err)
		}
	}
	e.st, e.loaded = st, true
	e.publish()
	return nil
}

// publish copies st for Status.
func (e *Engine) publish() {
	e.mu.Lock()
	e.pub = e.st
	e.mu.Unlock()
}

// commit writes rows, deletions and the new state in one batch; st becomes
// the engine's state only once committed.
func (e *Engine) commit(ctx context.Context, ups []Row, dels []string, st *State) (Applied, error) {
	res, err := e.store.Apply(ctx, e.tenant, Batch{Upserts: ups, Deletes: dels, State: st, At: e.now(), Holder: e.fence})
	if err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	e.written.Add(int64(len(ups)))
	e.inserted.Add(int64(len(res.Inserted)))
	if st != nil {
		e.st = *st
		e.publish()
	}
	return res, nil
}

// rows converts activities to rows.
func (e *Engine) rows(acts []*lemlist.Activity) []Row {
	out := make([]Row, len(acts))
	for i, a := range acts {
		out[i] = RowOf(a, e.o.ChannelOf)
	}
	return out
}

// notify hands the inserted activities to OnIngest, oldest first.
func (e *Engine) notify(acts []*lemlist.Activity, res Applied) {
	if e.o.OnIngest == nil || len(res.Inserted) == 0 {
		return
	}
	out := make([]*lemlist.Activity, 0, len(res.Inserted))
	for _, k := range res.Inserted {
		a, err := acts[k].Complete()
		if err != nil {
			// Stored (its summary decoded), but its other fields are not
			// what the full decode takes: nothing whole to publish.
			e.o.Logger.Warn("mirror: an activity stored but not published", "tenant", e.tenant, "id", acts[k].ID, "err", err)
			continue
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b *lemlist.Activity) int { return a.CreatedAt.Compare(b.CreatedAt) })
	e.o.OnIngest(e.tenant, out)
}

// span is what one read established: every activity created in
// [from, to] is among rows (which may hold a few outside it: the rest of
// the seconds at its ends, and with readHead anything newer).
type span struct {
	rows     []*lemlist.Activity
	from, to time.Time
	// last is set when the read reached lo.
	last bool
	// older is set when, probing, the read saw an activity older than lo.
	older bool
	// readAt is when the read began: a row written after it may be
	// missing from rows without being deleted upstream.
	readAt time.Time
}

// call makes one upstream call.
func (e *Engine) call(ctx context.Context, minDate, maxDate time.Time, offset int) ([]*lemlist.Activity, error) {
	e.calls.Add(1)
	opts := &lemlist.ActivityListOptions{MinDate: minDate, MaxDate: maxDate, Offset: offset, Limit: pageSize}
	// Summaries: the store needs only the fields a Row holds and Raw;
	// notify completes what it publishes.
	page, err := e.list(lemlist.WithSummaries(e.o.Background(ctx)), opts)
	if err != nil {
		if maxDate.IsZero() {
			return nil, fmt.Errorf("list the newest activities: %w", err)
		}
		return nil, fmt.Errorf("list activities up to %s: %w", lemlist.FormatTime(maxDate), err)
	}
	return page, nil
}

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// floorSec and ceilSec round t to a whole second, down and up.
func floorSec(t time.Time) time.Time { return t.Truncate(time.Second) }

func ceilSec(t time.Time) time.Time {
	if f := t.Truncate(time.Second); f.Before(t) {
		return f.Add(time.Second)
	}
	return t
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// readKind says how read bounds its first call.
type readKind int

const (
	// readWindow reads [lo, hi].
	readWindow readKind = iota
	// readProbe leaves minDate unset, so that the page that crosses lo
	// tells whether anything older exists (the backfill).
	readProbe
	// readHead leaves maxDate unset on the first call, so that activities
	// dated after hi (the engine's clock: lemlist's may run ahead, or
	// date an activity in the future) are read too (the head's poll).
	readHead
)

// read reads the newest activities created in [lo, hi], one page. The
// next read continues below the page's oldest createdAt, re-reading what
// shares its second (keyset paging: offsets never grow, and deletions or
// late arrivals elsewhere cannot make it skip or repeat; activities
// created meanwhile are above every maxDate after the first).
//
// Bounds go upstream as whole seconds, minDate rounded down and maxDate
// up: lemlist's docs show them only to the second and leave open whether
// milliseconds count, and a whole second means the same either way. The
// extra rows this brings (the rest of the seconds at the window's ends)
// are upserted by id, harmlessly, or left out by the callers. A page
// whose activities all fall in maxDate's last second (more than a page
// of them) is read to the end with offsets within that second.
func (e *Engine) read(ctx context.Context, lo, hi time.Time, kind readKind) (span, error) {
	sp := span{readAt: e.now(), to: hi}
	var minDate, maxDate time.Time
	if kind != readProbe {
		minDate = floorSec(lo)
	}
	if kind != readHead {
		maxDate = ceilSec(hi)
		if !minDate.IsZero() && !maxDate.After(minDate) { // lo = hi, a whole second
			minDate = minDate.Add(-time.Second)
		}
	}
	page, err := e.call(ctx, minDate, maxDate, 0)
	if err != nil {
		return sp, err
	}
	var oldest time.Time
	if len(page) > 0 {
		oldest = ms(page[len(page)-1].CreatedAt)
	}
	switch {
	case len(page) < pageSize || oldest.Before(lo):
		sp.from, sp.last = lo, true
		sp.older = kind == readProbe && len(page) > 0 && oldest.Before(lo)
		sp.rows = page
	case !maxDate.IsZero() && !ceilSec(oldest).Before(maxDate):
		// A page within maxDate's last second: walk it with offsets.
		bottom := maxDate.Add(-time.Second)
		sp.rows = page
		seen := make(map[string]bool, len(page))
		for _, a := range page {
			seen[a.ID] = true
		}
		for off := len(page); ; off += pageSize {
			more, err := e.call(ctx, bottom, maxDate, off)
			if err != nil {
				return sp, err
			}
			fresh := 0
			for _, a := range more {
				if !seen[a.ID] {
					seen[a.ID] = true
					fresh++
				}
			}
			if len(more) > 0 && fresh == 0 {
				e.repeated.Add(1)
			}
			sp.rows = append(sp.rows, more...)
			if len(more) < pageSize {
				break
			}
		}
		sp.from = bottom
		if !bottom.After(lo) {
			sp.from, sp.last = lo, true
			sp.older = kind == readProbe // not probed below: assume there is
		}
	default:
		sp.from, sp.rows = oldest.Add(time.Millisecond), page
	}
	if kind != readProbe { // below lo is another read's business
		sp.rows = slices.DeleteFunc(sp.rows, func(a *lemlist.Activity) bool { return ms(a.CreatedAt).Before(lo) })
	}
	return sp, nil
}

// Backfill reads history down to Since, one committed span at a time,
// until it is done or fails. Run calls backfillStep instead, to poll the
// head between spans.
func (e *Engine) Backfill(ctx context.Context) error { return e.untilDone(ctx, e.backfillStep) }

// untilDone runs step under the engine's work lock until it is done or
// fails, and records the outcome.
func (e *Engine) untilDone(ctx context.Context, step func(context.Context) (bool, error)) error {
	e.work.Lock()
	defer e.work.Unlock()
	for {
		done, err := step(ctx)
		if err != nil || done {
			return e.result(err)
		}
	}
}

// backfillStep reads and commits one span of the backfill, with the
// cursor that it completes.
func (e *Engine) backfillStep(ctx context.Context) (done bool, err error) {
	if err := e.load(ctx); err != nil {
		return false, err
	}
	if e.st.BackfillDone {
		return true, nil
	}
	sp, err := e.read(ctx, e.st.Since, e.st.Cursor, readProbe)
	if err != nil {
		return false, err
	}
	// Above the cursor is stored already (or, above Start, the head's:
	// left to it, it is published).
	keep := sp.rows[:0:0]
	for _, a := range sp.rows {
		if at := ms(a.CreatedAt); !at.Before(e.st.Since) && !at.After(e.st.Cursor) {
			keep = append(keep, a)
		}
	}
	st := e.st
	st.Cursor = sp.from.Add(-time.Millisecond)
	if sp.last {
		st.Cursor, st.BackfillDone, st.AllTime = st.Since.Add(-time.Millisecond), true, !sp.older
	}
	if _, err := e.commit(ctx, e.rows(keep), nil, &st); err != nil {
		return false, err
	}
	return st.BackfillDone, nil
}

// Poll reads the head: [CoveredTo-HeadOverlap, now] and anything dated
// later (stored as dated, counted), then moves CoveredTo to now, never
// further, in the batch of the last span.
func (e *Engine) Poll(ctx context.Context) error {
	e.work.Lock()
	defer e.work.Unlock()
	return e.result(e.poll(ctx))
}

func (e *Engine) poll(ctx context.Context) error {
	if err := e.load(ctx); err != nil {
		return err
	}
	now := e.now()
	// The next poll is due PollInterval after this one ends, so that
	// other work runs between polls however long they take.
	defer func() { e.lastPoll = e.now() }()
	if !now.After(e.st.CoveredTo) {
		return nil // a clock behind the head: nothing to read yet
	}
	lo := later(e.st.CoveredTo.Add(-e.o.HeadOverlap), e.st.Since)
	for hi, kind := now, readHead; ; kind = readWindow {
		sp, err := e.read(ctx, lo, hi, kind)
		if err != nil {
			return err
		}
		var st *State
		if sp.last {
			next := e.st
			next.CoveredTo = now
			st = &next
		}
		res, err := e.commit(ctx, e.rows(sp.rows), nil, st)
		if err != nil {
			return err
		}
		if !e.st.BackfillDone { // what lies below Start is the backfill's, not news
			res.Inserted = slices.DeleteFunc(res.Inserted, func(i int) bool { return !sp.rows[i].CreatedAt.After(e.st.Start) })
		}
		e.notify(sp.rows, res)
		if sp.last {
			return nil
		}
		hi = sp.from.Add(-time.Millisecond)
	}
}

// Ingest stores activities that reached the server another way (its
// webhook), and hands the new ones to OnIngest. Activities older than
// Since are dropped unless the mirror covers all time. It does not move
// the checkpoint: the next poll still reads the head.
func (e *Engine) Ingest(ctx context.Context, acts []*lemlist.Activity) error {
	e.mu.Lock()
	since, all := e.pub.Since, e.pub.AllTime
	e.mu.Unlock()
	if since.IsZero() {
		since = e.o.Since
	}
	keep := make([]*lemlist.Activity, 0, len(acts))
	for _, a := range acts {
		if a != nil && a.ID != "" && (all || !ms(a.CreatedAt).Before(since)) {
			keep = append(keep, a)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	res, err := e.store.Apply(ctx, e.tenant, Batch{Upserts: e.rows(keep), At: e.now()})
	if err != nil {
		err = fmt.Errorf("store: %w", err)
		e.fail(err)
		return err
	}
	e.written.Add(int64(len(keep)))
	e.inserted.Add(int64(len(res.Inserted)))
	e.notify(keep, res)
	return nil
}

// result records the outcome of a step for Status and returns err. A
// cancelled context is not a failure.
func (e *Engine) result(err error) error {
	switch {
	case err == nil:
		e.mu.Lock()
		e.failing, e.lastErr = false, ""
		e.mu.Unlock()
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	default:
		e.fail(err)
	}
	return err
}

func (e *Engine) fail(err error) {
	e.failures.Add(1)
	e.mu.Lock()
	e.failing, e.lastErr = true, err.Error()
	e.mu.Unlock()
	e.o.Logger.Warn("mirror sync failed", "tenant", e.tenant, "err", err)
}

// Status returns the tenant's status. When this engine is not syncing
// (another process holds the lease), the checkpoint is read from the store.
// A store failure is returned along with the status this engine knows.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	e.mu.Lock()
	st, failing, lastErr, syncing := e.pub, e.failing, e.lastErr, e.syncing
	e.mu.Unlock()
	var errs []error
	if !syncing || st.Start.IsZero() {
		stored, ok, err := e.store.LoadState(ctx, e.tenant)
		if err != nil {
			errs = append(errs, fmt.Errorf("load sync state: %w", err))
		}
		if ok {
			st = stored
		}
	}
	n, err := e.store.Count(ctx, e.tenant)
	if err != nil {
		errs = append(errs, fmt.Errorf("count: %w", err))
	}
	s := Status{
		Activities: n, LastError: lastErr, Syncing: syncing,
		AllTime: st.BackfillDone && st.AllTime, LastReconciledAt: st.LastReconciled,
		Counters: Counters{
			Calls: e.calls.Load(), RowsWritten: e.written.Load(), RowsInserted: e.inserted.Load(),
			ReconcileAdded: e.added.Load(), ReconcileRemoved: e.removed.Load(),
			RepeatedPages: e.repeated.Load(), Failures: e.failures.Load(),
		},
	}
	switch {
	case failing:
		s.State = StateFailing
	case st.BackfillDone:
		s.State = StateLive
	default:
		s.State = StateBackfilling
	}
	if !st.Start.IsZero() {
		s.CoveredFrom, s.CoveredTo = st.CoveredFrom(), st.CoveredTo
		s.Lag = max(e.now().Sub(st.CoveredTo), 0)
		s.BackfillProgress = 1
		if total := st.Start.Sub(st.Since); !st.BackfillDone && total > 0 {
			s.BackfillProgress = min(max(float64(st.Start.Sub(st.Cursor))/float64(total), 0), 1)
		}
	}
	return s, errors.Join(errs...)
}

// step does the most urgent due work, one span at most: a poll, a span of
// backfill, the lookback reconciliation, a span of the full one. idle is
// true when nothing was due.
func (e *Engine) step(ctx context.Context) (idle bool, err error) {
	e.work.Lock()
	defer e.work.Unlock()
	if err := e.load(ctx); err != nil {
		return false, err
	}
	now := e.now()
	switch {
	case !now.Before(e.lastPoll.Add(e.o.PollInterval)):
		return false, e.poll(ctx)
	case !e.st.BackfillDone:
		_, err := e.backfillStep(ctx)
		return false, err
	case !now.Before(e.st.LastReconciled.Add(e.o.ReconcileInterval)):
		return false, e.reconcile(ctx)
	case !e.st.FullTop.IsZero() || !now.Before(e.st.FullReconciled.Add(e.o.FullReconcileInterval)):
		_, err := e.fullStep(ctx)
		return false, err
	}
	return true, nil
}

// nextDue is how long until step has work, at most PollInterval.
func (e *Engine) nextDue() time.Duration {
	e.work.Lock()
	defer e.work.Unlock()
	return max(e.lastPoll.Add(e.o.PollInterval).Sub(e.now()), time.Millisecond)
}

// Run syncs until ctx is done, then returns nil. A failed step makes the
// status FAILING and is retried after a backoff (RetryMin doubling up to
// RetryMax); the next successful step clears it. With a Leaser store, it
// syncs only while it holds the tenant's lease.
func (e *Engine) Run(ctx context.Context) error {
	leaser, shared := e.store.(Leaser)
	holder := cmp.Or(e.o.Holder, "mirror")
	defer func() {
		e.mu.Lock()
		e.syncing = false
		e.mu.Unlock()
		if shared {
			_ = leaser.ReleaseLease(context.WithoutCancel(ctx), e.tenant, holder)
		}
	}()
	var leaseUntil time.Time
	holding := false
	fence := func(h string) {
		e.work.Lock()
		if h != "" && !holding {
			// Taken (again): another process may have synced meanwhile.
			e.loaded = false
		}
		e.fence = h
		e.work.Unlock()
		holding = h != ""
	}
	backoff := e.o.RetryMin
	for ctx.Err() == nil {
		if shared && !e.now().Before(leaseUntil) {
			held, err := leaser.AcquireLease(ctx, e.tenant, holder, e.o.LeaseTTL)
			if err != nil && ctx.Err() == nil {
				e.fail(fmt.Errorf("lease: %w", err))
			}
			e.mu.Lock()
			e.syncing = held && err == nil
			e.mu.Unlock()
			if held && err == nil {
				fence(holder)
			} else {
				fence("")
			}
			if !held || err != nil {
				if err == nil {
					// The store answers again: a failure reaching it
					// (another replica syncs) is over.
					e.result(nil)
				}
				sleep(ctx, e.o.LeaseTTL/3)
				continue
			}
			leaseUntil = e.now().Add(e.o.LeaseTTL / 3)
		} else if !shared {
			e.mu.Lock()
			e.syncing = true
			e.mu.Unlock()
		}
		idle, err := e.step(ctx)
		if shared && errors.Is(err, ErrLeaseLost) {
			// Another process took the tenant over (this one overran
			// its lease): the step wrote nothing, and it is no failure.
			e.o.Logger.Info("mirror lease lost during a step", "tenant", e.tenant)
			e.mu.Lock()
			e.syncing = false
			e.mu.Unlock()
			fence("")
			leaseUntil = time.Time{}
			continue
		}
		if err = e.result(err); err != nil {
			if ctx.Err() != nil {
				break
			}
			sleep(ctx, backoff)
			backoff = min(backoff*2, e.o.RetryMax)
			continue
		}
		backoff = e.o.RetryMin
		if idle {
			sleep(ctx, e.nextDue())
		}
	}
	return nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
