package lemlist

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// queued returns the number of calls of caller key waiting in l.
func (l *WindowLimiter) queued(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queue.LenOf(key)
}

// idle reports whether no call waits in l.
func (l *WindowLimiter) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queue.Len() == 0 && l.background.Len() == 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recorder records, in order, who was granted a slot and when.
type recorder struct {
	mu    sync.Mutex
	who   []string
	times []time.Time
}

func (r *recorder) add(who string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.who = append(r.who, who)
	r.times = append(r.times, time.Now())
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.who)
}

func TestWindowLimiterEarliest(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	l := NewWindowLimiter(2, time.Second)
	l.log = []time.Time{ms(0), ms(100)}
	for k, want := range []int{1000, 1100, 2000, 2100, 3000} {
		if got := l.earliestLocked(ms(200), k); !got.Equal(ms(want)) {
			t.Errorf("grant %d: at %s, want %dms", k, got.Sub(t0), want)
		}
	}
	l.pausedUntil = ms(1500)
	for k, want := range []int{1500, 1500, 2500, 2500} {
		if got := l.earliestLocked(ms(200), k); !got.Equal(ms(want)) {
			t.Errorf("paused, grant %d: at %s, want %dms", k, got.Sub(t0), want)
		}
	}
	l.log = l.log[:1] // one grant in the window: the next is free now
	if got := l.earliestLocked(ms(200), 0); !got.Equal(ms(1500)) {
		t.Errorf("paused, one logged: at %s", got.Sub(t0))
	}
	l.pausedUntil = time.Time{}
	for k, want := range []int{200, 1000, 1200, 2000} {
		if got := l.earliestLocked(ms(200), k); !got.Equal(ms(want)) {
			t.Errorf("one logged, grant %d: at %s, want %dms", k, got.Sub(t0), want)
		}
	}
}

func TestWindowLimiterNeverExceedsN(t *testing.T) {
	t.Parallel()
	// Grant times are read after Wait returns, so up to a scheduling delay
	// late; slack absorbs that delay without hiding a real burst (a token
	// bucket or an off-by-one grants n+1 within a few milliseconds).
	const (
		n      = 5
		window = 150 * time.Millisecond
		slack  = 50 * time.Millisecond
	)
	l := NewWindowLimiter(n, window)
	var rec recorder
	var wg sync.WaitGroup
	for g := range 10 { // 30 grants from 10 goroutines of 3 callers
		ctx := WithCaller(t.Context(), fmt.Sprint("caller", g%3))
		wg.Go(func() {
			for range 3 {
				if err := l.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
				rec.add("")
			}
		})
	}
	for range 20 { // impatient callers that come and go, granted or not
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), rand.N(300*time.Millisecond))
			defer cancel()
			if l.Wait(ctx) == nil {
				rec.add("")
			}
		})
	}
	wg.Wait()
	slices.SortFunc(rec.times, time.Time.Compare)
	if len(rec.times) < 30 {
		t.Fatalf("%d grants, want at least 30", len(rec.times))
	}
	for i := n; i < len(rec.times); i++ {
		if d := rec.times[i].Sub(rec.times[i-n]); d < window-slack {
			t.Errorf("grants %d and %d only %s apart: %d grants within one window", i-n, i, d, n+1)
		}
	}
	if !l.idle() {
		t.Error("waiters left in the queue")
	}
}

func TestWindowLimiterRoundRobin(t *testing.T) {
	t.Parallel()
	l := NewWindowLimiter(2, 40*time.Millisecond)
	var rec recorder
	var wg sync.WaitGroup
	wait := func(caller string) {
		ctx := WithCaller(t.Context(), caller)
		wg.Go(func() {
			if err := l.Wait(ctx); err != nil {
				t.Error(err)
				return
			}
			rec.add(caller)
		})
	}
	for range 30 {
		wait("A")
	}
	waitFor(t, "A's calls to queue", func() bool { return l.queued("A")+rec.len() == 30 })
	arrival := rec.len()
	for range 3 {
		wait("B")
	}
	wg.Wait()

	var bs []int // grant numbers of B's calls
	for i, who := range rec.who {
		if who == "B" {
			bs = append(bs, i)
		}
	}
	if len(bs) != 3 || len(rec.who) != 33 {
		t.Fatalf("grants %v", rec.who)
	}
	lastB := bs[2]
	// Round-robin serves B every other grant: its 3 calls by the 6th grant
	// after it arrives (8 allows for grants recorded out of order).
	if lastB-arrival >= 8 {
		t.Errorf("B's last call was grant %d after its arrival: %v", lastB-arrival, rec.who)
	}
	if rest := len(rec.who) - 1 - lastB; rest < 10 {
		t.Errorf("only %d of A's calls left after B's: %v", rest, rec.who)
	}
}

func TestWindowLimiterCancelledWaiterFreesItsPlace(t *testing.T) {
	t.Parallel()
	const window = 200 * time.Millisecond
	l := NewWindowLimiter(1, window)
	if err := l.Wait(t.Context()); err != nil { // takes the slot
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(WithCaller(t.Context(), "a"))
	errA := make(chan error, 1)
	go func() { errA <- l.Wait(ctxA) }()
	waitFor(t, "a to queue", func() bool { return l.queued("a") == 1 })

	// a is served first, one window from now; b, one window later, would
	// miss its deadline unless a gives its place back.
	ctxB, cancelB := context.WithTimeout(WithCaller(t.Context(), "b"), window*7/4)
	defer cancelB()
	errB := make(chan error, 1)
	go func() { errB <- l.Wait(ctxB) }()
	waitFor(t, "b to queue", func() bool { return l.queued("b") == 1 })

	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter got %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("next waiter got %v, want the freed slot", err)
	}
	if !l.idle() {
		t.Error("waiters left in the queue")
	}
}

func TestWindowLimiterFailsFastPastDeadline(t *testing.T) {
	t.Parallel()
	l := NewWindowLimiter(1, time.Hour)
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	withDeadline := func(caller string, d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(WithCaller(t.Context(), caller), d)
		t.Cleanup(cancel)
		return ctx
	}

	err := l.Wait(withDeadline("a", time.Minute))
	rle, ok := errors.AsType[*RateLimitError](err)
	if !ok || !errors.Is(err, ErrRateLimitWait) || rle.RetryAfter < 59*time.Minute || rle.Response != nil {
		t.Fatalf("got %v, want a *RateLimitError matching ErrRateLimitWait", err)
	}

	// a queues a call for the next slot (in 1h); a second call of a could be
	// served in 2h at best, while b's first call could in 1h.
	queuedA := withDeadline("a", 3*time.Hour)
	errA := make(chan error, 1)
	go func() { errA <- l.Wait(queuedA) }()
	waitFor(t, "a to queue", func() bool { return l.queued("a") == 1 })
	if err := l.Wait(withDeadline("a", 90*time.Minute)); !errors.Is(err, ErrRateLimitWait) {
		t.Errorf("a's second call: got %v, want ErrRateLimitWait", err)
	}
	ctxB, cancelB := context.WithTimeout(WithCaller(t.Context(), "b"), 90*time.Minute)
	errB := make(chan error, 1)
	go func() { errB <- l.Wait(ctxB) }()
	waitFor(t, "b to queue", func() bool { return l.queued("b") == 1 })
	cancelB()
	if err := <-errB; !errors.Is(err, context.Canceled) {
		t.Errorf("b: got %v, want context.Canceled", err)
	}
	if l.queued("a") != 1 {
		t.Error("a's queued call is gone")
	}
}

func TestWindowLimiterPause(t *testing.T) {
	t.Parallel()
	l := NewWindowLimiter(10, time.Second)
	l.Pause(time.Now().Add(time.Hour))
	l.Pause(time.Now()) // an earlier pause does not shorten the current one
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rle, ok := errors.AsType[*RateLimitError](l.Wait(ctx))
	if !ok || rle.RetryAfter < 59*time.Minute {
		t.Errorf("got %v, want a fail-fast *RateLimitError for the paused hour", rle)
	}
}

func TestWindowLimiterZeroDisablesLimiting(t *testing.T) {
	t.Parallel()
	l := NewWindowLimiter(0, 0)
	l.Pause(time.Now().Add(time.Hour))
	for range 1000 {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: got %v", err)
	}
}

func TestInvalidRatesPanic(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"negative n":          func() { NewWindowLimiter(-1, time.Second) },
		"zero window":         func() { NewWindowLimiter(5, 0) },
		"registry negative n": func() { NewLimiters(-1, time.Second) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestLimitersOnePerKey(t *testing.T) {
	t.Parallel()
	ls := NewLimiters(DefaultRateLimit, DefaultRateWindow)
	got := make([]Limiter, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = ls.For("key-one") })
	}
	wg.Wait()
	for _, l := range got {
		if l != got[0] {
			t.Fatal("two limiters for one key")
		}
	}
	if ls.For("key-two") == got[0] {
		t.Error("two keys share a limiter")
	}
	if ls.Len() != 2 {
		t.Errorf("%d limiters, want 2", ls.Len())
	}
	runtime.KeepAlive(got)
}

// A limiter nobody uses any more is dropped: many keys seen once do not
// grow the registry for ever. One still in use stays, the same one.
func TestLimitersDropUnused(t *testing.T) {
	t.Parallel()
	ls := NewLimiters(DefaultRateLimit, DefaultRateWindow)
	kept := ls.For("kept-key")
	for i := range 1000 {
		_ = ls.For(fmt.Sprintf("probe-key-%d", i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for ls.Len() > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := ls.Len(); n != 1 {
		t.Errorf("%d limiters after the probes were dropped, want 1", n)
	}
	if ls.For("kept-key") != kept {
		t.Error("the limiter in use was replaced")
	}
	runtime.KeepAlive(kept)
}
