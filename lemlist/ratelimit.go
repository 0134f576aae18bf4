package lemlist

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/internal/fairqueue"
	"github.com/lemlist-graphql/server/internal/weakmap"
)

// Limiter grants request slots. The client calls Wait before every attempt
// and Pause when lemlist reports the budget spent (a 429, or
// X-RateLimit-Remaining: 0). Implementations must be safe for concurrent use.
type Limiter interface {
	// Wait blocks until a request may be sent. When ctx's deadline comes
	// first, it returns a *RateLimitError matching ErrRateLimitWait: at
	// once if it knows the deadline comes too early, else when the deadline
	// passes. When ctx is cancelled first, it returns ctx.Err().
	Wait(ctx context.Context) error
	// Pause grants nothing before until.
	Pause(until time.Time)
}

// SlotLimiter is a Limiter that can count a request's slot from the moment
// the request was answered rather than from its grant, as WindowLimiter does
// (lemlist counts a request when it arrives, after the grant by the
// network's delay). A Client whose limiter implements SlotLimiter calls
// WaitSlot instead of Wait, and calls the returned answered once the attempt
// got its answer or failed.
type SlotLimiter interface {
	Limiter
	// WaitSlot is Wait. On success it also returns answered, nil when
	// there is nothing to move, to be called at most once with the time the
	// request got its answer.
	WaitSlot(ctx context.Context) (answered func(at time.Time), err error)
}

type callerKey struct{}

// WithCaller returns a copy of ctx whose calls a WindowLimiter attributes to
// caller key (a tenant, a user, a GraphQL operation). Slots are shared
// round-robin between callers with waiting calls, so one caller's backlog
// cannot starve another. Calls without a key form a group of their own.
func WithCaller(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, callerKey{}, key)
}

// CallerOf returns the caller key WithCaller put in ctx, or "", for
// Limiters other than WindowLimiter that share slots between callers.
func CallerOf(ctx context.Context) string { return callerOf(ctx) }

func callerOf(ctx context.Context) string {
	k, _ := ctx.Value(callerKey{}).(string)
	return k
}

// SlotWait tells whether the calls of a context (see WithSlotWait) are
// waiting for a request slot. A caller that shares a call made on another
// context, such as a cache coalescing identical calls, uses it to tell why
// its own deadline came first: the shared call was waiting for its turn
// (the caller is rate limited), or for lemlist's answer. The zero value is
// ready to use; it is safe for concurrent use.
type SlotWait struct{ n atomic.Int32 }

// Waiting reports whether a call of w's context is waiting for a slot now.
func (w *SlotWait) Waiting() bool { return w.n.Load() > 0 }

func (w *SlotWait) begin() {
	if w != nil {
		w.n.Add(1)
	}
}

func (w *SlotWait) end() {
	if w != nil {
		w.n.Add(-1)
	}
}

type slotWaitKey struct{}

// WithSlotWait returns a copy of ctx whose calls count themselves in w
// while they wait for a request slot: in the Client's Limiter, or for a
// 429's Retry-After before a retry.
func WithSlotWait(ctx context.Context, w *SlotWait) context.Context {
	return context.WithValue(ctx, slotWaitKey{}, w)
}

func slotWaitOf(ctx context.Context) *SlotWait {
	w, _ := ctx.Value(slotWaitKey{}).(*SlotWait)
	return w
}

type backgroundKey struct{}

// Background returns a copy of ctx whose calls are background work, such as
// a mirror's sync, which must leave the budget to interactive (foreground)
// calls. A WindowLimiter, and redisx's Limiter, grant a background call a
// slot only while no foreground call waits, and never one of the last
// ForegroundReserve(n) slots of a window: a foreground call arriving while
// background work runs finds a slot free, unless foreground calls used the
// reserve in the last window. Other Limiters treat background calls like
// any other.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx's calls are background work (see
// Background).
func IsBackground(ctx context.Context) bool {
	bg, _ := ctx.Value(backgroundKey{}).(bool)
	return bg
}

// ForegroundReserve returns how many of a window's n slots background calls
// leave to foreground calls: n/5, rounded down (none below 5). Background
// work alone thus gets n - n/5 slots per window, at least three quarters of
// the budget: 16 of lemlist's 20 per 2 s, leaving 4 at once for an
// interactive query (a page of activities and the contacts, campaigns and
// team it shows).
func ForegroundReserve(n int) int { return n / 5 }

// WindowLimiter is a sliding-window-log Limiter: it never grants more than n
// slots in any window-long interval, bursts included. (A token bucket does not
// give that guarantee: with burst 20 refilling at 10/s it lets 30 requests
// through in 2 s, and lemlist counts 20 per 2 s.)
//
// Waiters are served round-robin across callers (see WithCaller) and FIFO
// within one caller. A waiter whose ctx ends leaves the queue, handing back
// its slot if it had just been granted one. A call whose deadline comes
// before the earliest moment it could be served fails with a
// *RateLimitError matching ErrRateLimitWait: at once when that is known as
// it arrives (a deadline already past included), else when the deadline
// passes while it waits. A cancelled call returns ctx.Err(). A
// WindowLimiter starts no goroutine: one time.AfterFunc timer, armed only
// while calls wait, hands out the slots.
//
// Background calls (see Background) wait in a line of their own, also
// round-robin across callers. One is granted a slot only while no
// foreground call waits, and only if fewer than n - ForegroundReserve(n)
// grants fall in the last window: with n = 20, background work alone gets
// 16 slots per window, and a foreground call always finds the other 4
// unless foreground calls used them. Foreground calls are served as if
// there were no background calls, except for the slots those hold.
type WindowLimiter struct {
	n      int
	window time.Duration
	bgMax  int // the most background grants may be of a window's grants

	mu          sync.Mutex
	log         []time.Time // the last n grants, oldest first
	pausedUntil time.Time
	queue       fairqueue.Queue[string, *waiter] // foreground calls, by caller key
	background  fairqueue.Queue[string, *waiter] // background calls, by caller key
	timer       *time.Timer                      // runs dispatch when the next slot frees up
}

type waiter struct {
	ready chan struct{} // closed on grant
	at    time.Time     // grant time; zero while queued
}

// NewWindowLimiter returns a limiter granting at most n slots per window.
// n = 0 disables limiting. It panics if n < 0, or if n > 0 and window <= 0.
func NewWindowLimiter(n int, window time.Duration) *WindowLimiter {
	if err := checkRate(n, window); err != nil {
		panic(err)
	}
	return &WindowLimiter{n: n, window: window, bgMax: n - ForegroundReserve(n)}
}

func checkRate(n int, window time.Duration) error {
	if n < 0 || n > 0 && window <= 0 {
		return fmt.Errorf("lemlist: invalid rate limit of %d per %s", n, window)
	}
	return nil
}

// Wait blocks until a slot is granted to the call. It implements Limiter.
func (l *WindowLimiter) Wait(ctx context.Context) error {
	_, err := l.wait(ctx)
	return err
}

// WaitSlot is Wait, returning answered for the slot granted. It implements
// SlotLimiter.
func (l *WindowLimiter) WaitSlot(ctx context.Context) (func(at time.Time), error) {
	grant, err := l.wait(ctx)
	if err != nil || grant.IsZero() {
		return nil, err
	}
	return func(at time.Time) { l.answered(grant, at) }, nil
}

// wait is Wait; it also returns the grant's time in the log (zero when
// limiting is off), for answered.
func (l *WindowLimiter) wait(ctx context.Context) (time.Time, error) {
	if l.n == 0 {
		return time.Time{}, ctx.Err()
	}
	expired := false // the deadline has passed: no grant can come before it
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		expired = true
	} else if err != nil {
		return time.Time{}, err
	}
	key := callerOf(ctx)
	q, limit := &l.queue, l.n
	if IsBackground(ctx) {
		q, limit = &l.background, l.bgMax
	}
	l.mu.Lock()
	now := time.Now()
	at := l.earliestWithinLocked(now, q.LenOf(key), limit)
	// Nobody ahead: no foreground call, nor a background one for a
	// background call.
	first := l.queue.Len() == 0 && q.Len() == 0
	if !expired && first && !at.After(now) {
		l.grantLocked(now)
		l.mu.Unlock()
		return now, nil
	}
	if dl, ok := ctx.Deadline(); ok && (expired || dl.Before(at)) {
		l.mu.Unlock()
		return time.Time{}, &RateLimitError{RetryAfter: at.Sub(now)}
	}
	w := &waiter{ready: make(chan struct{})}
	q.Push(key, w)
	l.dispatchLocked(now)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return w.at, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.at.IsZero() {
		q.Remove(key, w)
	} else if i := slices.IndexFunc(l.log, w.at.Equal); i >= 0 {
		// Granted while ctx ended: the slot goes unused, so refund it.
		l.log = slices.Delete(l.log, i, i+1)
	}
	now = time.Now()
	l.dispatchLocked(now)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		at := l.earliestWithinLocked(now, q.LenOf(key), limit)
		return time.Time{}, &RateLimitError{RetryAfter: max(at.Sub(now), 0)}
	}
	return time.Time{}, ctx.Err()
}

// answered moves the slot granted at grant to at, when the request it was
// granted for got its answer (or failed). lemlist counts a request when it
// arrives, which is after the grant by the network's delay (a new
// connection's handshake included) and before the answer. Counted from the
// grant, a burst granted one window after an earlier burst can reach lemlist
// while the earlier burst's late arrivals are still in lemlist's window, and
// be refused with 429s; counted from the answer, it cannot. The price is
// that each slot also holds for its request's latency. A slot no longer in
// the log (n grants came since) is left alone.
func (l *WindowLimiter) answered(grant, at time.Time) {
	if l.n == 0 || grant.IsZero() || !at.After(grant) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.IndexFunc(l.log, grant.Equal); i >= 0 {
		l.log[i] = at
		slices.SortFunc(l.log, time.Time.Compare)
	}
	// An armed timer may now fire early; dispatch then re-arms it.
}

// Record counts a slot granted at at by another limiter against l's budget,
// as if l had granted it then. A WindowLimiter standing in for another (a
// local fallback for a limiter shared between processes) thereby starts
// from the requests already sent. A grant older than l's last n changes
// nothing.
func (l *WindowLimiter) Record(at time.Time) {
	if l.n == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.log) == l.n && !at.After(l.log[0]) {
		return
	}
	i, _ := slices.BinarySearchFunc(l.log, at, time.Time.Compare)
	l.log = slices.Insert(l.log, i, at)
	if len(l.log) > l.n {
		l.log = slices.Delete(l.log, 0, 1)
	}
	// An armed timer may now fire early; dispatch then re-arms it.
}

// Pause grants nothing before until. It implements Limiter.
func (l *WindowLimiter) Pause(until time.Time) {
	if l.n == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	// An armed timer may now fire early; dispatch then re-arms it.
}

// earliestLocked returns the earliest time of the k-th next grant (k = 0 for
// the next one) if no waiter left: after any pause, and at least window after
// the grant n before it.
func (l *WindowLimiter) earliestLocked(now time.Time, k int) time.Time {
	return l.earliestWithinLocked(now, k, l.n)
}

// earliestWithinLocked is earliestLocked for grants that may be at most
// limit (1 to n) of a window's grants: each at least window after the grant
// limit before it. For background calls (limit n - ForegroundReserve(n))
// it is a lower bound: foreground calls may come first.
func (l *WindowLimiter) earliestWithinLocked(now time.Time, k, limit int) time.Time {
	start := now
	if l.pausedUntil.After(now) {
		start = l.pausedUntil
	}
	var future []time.Time // grant j of the k before the one asked for is at j%limit
	for j := 0; ; j++ {
		t := start
		var prev time.Time // the grant limit before grant j
		switch i := len(l.log) + j - limit; {
		case i >= len(l.log):
			prev = future[j%limit]
		case i >= 0:
			prev = l.log[i]
		}
		if !prev.IsZero() && prev.Add(l.window).After(t) {
			t = prev.Add(l.window)
		}
		switch {
		case j == k:
			return t
		case len(future) < limit:
			future = append(future, t)
		default:
			future[j%limit] = t
		}
	}
}

// dispatchLocked grants every slot available now, round-robin, foreground
// calls first, and arms the timer for the next one while calls are waiting.
// While a foreground call waits, background calls get nothing.
func (l *WindowLimiter) dispatchLocked(now time.Time) {
	for {
		q, limit := &l.queue, l.n
		if q.Len() == 0 {
			q, limit = &l.background, l.bgMax
		}
		if q.Len() == 0 {
			break
		}
		if at := l.earliestWithinLocked(now, 0, limit); at.After(now) {
			if l.timer == nil {
				l.timer = time.AfterFunc(at.Sub(now), l.fire)
			} else {
				l.timer.Reset(at.Sub(now))
			}
			return
		}
		w, _ := q.Pop()
		w.at = now
		l.grantLocked(now)
		close(w.ready)
	}
	if l.timer != nil {
		l.timer.Stop()
	}
}

func (l *WindowLimiter) fire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dispatchLocked(time.Now())
}

// grantLocked logs a grant at now, keeping the last n.
func (l *WindowLimiter) grantLocked(now time.Time) {
	if len(l.log) < l.n {
		l.log = append(l.log, now)
		return
	}
	copy(l.log, l.log[1:])
	l.log[l.n-1] = now
}

// Limiters hands out one WindowLimiter per API key, for servers that hold one
// Client per tenant key: every client of a key shares the key's budget. Keys
// are kept only as SHA-256 hashes. It is safe for concurrent use.
//
// The registry holds its limiters weakly: a key's limiter lives as long as
// a client (or anyone) uses it, so every client of a key gets the same
// one, and is dropped once nothing does. A server that sees many keys (a
// pass-through server, or one probed with made-up keys) does not grow
// without bound; its client pool bounds what stays alive.
type Limiters struct {
	n      int
	window time.Duration
	byKey  weakmap.Map[[sha256.Size]byte, WindowLimiter]
}

// NewLimiters returns a registry of limiters granting n slots per window, as
// NewWindowLimiter does (and panicking on the same invalid values).
func NewLimiters(n int, window time.Duration) *Limiters {
	if err := checkRate(n, window); err != nil {
		panic(err)
	}
	return &Limiters{n: n, window: window}
}

// For returns the limiter of apiKey: the same one on every call while it
// is in use.
func (ls *Limiters) For(apiKey string) Limiter {
	return ls.byKey.Get(sha256.Sum256([]byte(apiKey)), func() *WindowLimiter {
		return NewWindowLimiter(ls.n, ls.window)
	})
}

// Len returns how many keys have a limiter in use.
func (ls *Limiters) Len() int { return ls.byKey.Len() }
