package redisx

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

const testKey = "sk-test-key-0123456789"

// Three replicas, each with its own client and limiter, hammering one key
// concurrently: the grants Redis made never exceed n per window, and they
// use the budget.
func TestSharedBudgetAcrossReplicas(t *testing.T) {
	t.Parallel()
	const (
		n        = 10
		window   = 500 * time.Millisecond
		duration = 2200 * time.Millisecond
		workers  = 8
	)
	srv := redistest.Start(t)
	var g grants
	var ls []*Limiter
	for i := range 3 {
		l := limiterOf(newReplica(t, srv).Limiters(n, window, 3), testKey)
		g.watch(l, string(rune('A'+i)))
		ls = append(ls, l)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range ls {
		for w := range workers {
			wg.Go(func() {
				ctx := lemlist.WithCaller(t.Context(), string(rune('a'+w)))
				for time.Since(start) < duration {
					if err := l.Wait(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	shared, local := g.sharedCount()
	if local != 0 {
		t.Errorf("%d fallback grants with Redis up", local)
	}
	most := checkWindow(t, "Redis grants", g.at, n, window)
	// The first window grants n at once, each later one n more.
	span := slices.MaxFunc(g.at, time.Time.Compare).Sub(slices.MinFunc(g.at, time.Time.Compare))
	ideal := n + int(span/window)*n
	if shared < ideal/2 { // loose: a loaded test machine slows the callers
		t.Errorf("%d grants in %v, want about %d: the budget goes unused", shared, span, ideal)
	}
	per := map[string]int{}
	for _, w := range g.who {
		per[w]++
	}
	t.Logf("%d grants in %v by 3 replicas × %d callers (ideal %d), at most %d per %v; per replica %v",
		shared, span.Round(time.Millisecond), workers, ideal, most, window, per)
}

// Within a replica, calls are served round-robin between callers: a
// caller arriving behind another's backlog is served next, not after it.
func TestLocalFairness(t *testing.T) {
	t.Parallel()
	const (
		n      = 4
		window = 300 * time.Millisecond
	)
	srv := redistest.Start(t)
	r := newReplica(t, srv)
	l := limiterOf(r.Limiters(n, window, 1), testKey)
	var mu sync.Mutex
	var order []string
	call := func(wg *sync.WaitGroup, who string) {
		wg.Go(func() {
			if err := l.Wait(lemlist.WithCaller(t.Context(), who)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, who)
			mu.Unlock()
		})
	}
	var wg sync.WaitGroup
	for range 4 * n {
		call(&wg, "bulk")
	}
	waitUntil(t, "the backlog to queue", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == n && l.queued() == 3*n-1
	})
	mu.Lock()
	before := len(order)
	mu.Unlock()
	call(&wg, "vip")
	call(&wg, "vip")
	waitUntil(t, "the vip calls to queue", 5*time.Second, func() bool { return l.queued() == 3*n+1 })
	wg.Wait()
	// The bulk call at the head gets the next slot, the turn then passes
	// to the next bulk call (bulk's was the turn when vip arrived), then
	// turns alternate.
	var vipAt []int
	for i, who := range order[before:] {
		if who == "vip" {
			vipAt = append(vipAt, i)
		}
	}
	if len(vipAt) != 2 || vipAt[0] > 2 || vipAt[1] > 4 {
		t.Errorf("vip calls served at positions %v after they arrived behind %d bulk calls, want [2 4] or earlier", vipAt, 3*n-1)
	}
}

func TestFailFastPastDeadline(t *testing.T) {
	t.Parallel()
	const window = time.Second
	srv := redistest.Start(t)
	a := limiterOf(newReplica(t, srv).Limiters(2, window, 3), testKey)
	b := limiterOf(newReplica(t, srv).Limiters(2, window, 3), testKey)
	for range 2 {
		if err := a.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for name, l := range map[string]*Limiter{"same replica": a, "other replica": b} {
		start := time.Now()
		err := l.Wait(withTimeout(t, 100*time.Millisecond))
		var rle *lemlist.RateLimitError
		if !errors.As(err, &rle) || !errors.Is(err, lemlist.ErrRateLimitWait) {
			t.Fatalf("%s: err = %v, want a *RateLimitError matching ErrRateLimitWait", name, err)
		}
		if el := time.Since(start); el >= 100*time.Millisecond {
			t.Errorf("%s: failed after %v, want before the deadline", name, el)
		}
		if rle.RetryAfter <= 100*time.Millisecond || rle.RetryAfter > window {
			t.Errorf("%s: RetryAfter = %v, want the wait for the oldest grant (≤ %v)", name, rle.RetryAfter, window)
		}
	}

	// A call queued behind one waiting for the next slot fails fast too.
	go func() { _ = b.Wait(withTimeout(t, 5*time.Second)) }()
	waitUntil(t, "a call to wait at Redis", 5*time.Second, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return !b.notBefore.IsZero()
	})
	start := time.Now()
	if err := b.Wait(withTimeout(t, 100*time.Millisecond)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("queued call: err = %v, want ErrRateLimitWait", err)
	}
	if el := time.Since(start); el >= 100*time.Millisecond {
		t.Errorf("queued call failed after %v, want before the deadline", el)
	}
}

// A call whose deadline passes while it waits in the gate (behind a call
// that another replica's pause holds back) fails with a RateLimitError,
// not with the deadline; a cancelled call fails with context.Canceled.
func TestDeadlineWhileQueued(t *testing.T) {
	t.Parallel()
	const window = time.Second
	srv := redistest.Start(t)
	a := limiterOf(newReplica(t, srv).Limiters(1, window, 3), testKey)
	b := limiterOf(newReplica(t, srv).Limiters(1, window, 3), testKey)
	if err := a.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	headCtx, cancelHead := context.WithCancel(lemlist.WithCaller(t.Context(), "head"))
	defer cancelHead()
	headErr := make(chan error, 1)
	go func() { headErr <- a.Wait(headCtx) }()
	waitUntil(t, "a call to wait at Redis", 5*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.notBefore.IsZero()
	})
	// Its deadline comes after the next slot: the call queues.
	queuedErr := make(chan error, 1)
	go func() { queuedErr <- a.Wait(withTimeout(t, 3*window/2)) }()
	waitUntil(t, "a call to queue", 5*time.Second, func() bool { return a.queued() == 1 })
	b.Pause(time.Now().Add(time.Minute)) // the head's slot does not come

	err := <-queuedErr
	rle, ok := errors.AsType[*lemlist.RateLimitError](err)
	if !ok || !errors.Is(err, lemlist.ErrRateLimitWait) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline while queued: err = %v, want a *RateLimitError matching ErrRateLimitWait", err)
	}
	if rle.RetryAfter < 30*time.Second {
		t.Errorf("RetryAfter = %v, want the minute's pause", rle.RetryAfter)
	}
	cancelHead()
	if err := <-headErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled head: err = %v, want context.Canceled", err)
	}
	if n := a.queued(); n != 0 {
		t.Errorf("%d calls left in the gate", n)
	}
}

// Pause on one replica holds every replica's grants.
func TestPauseIsShared(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := limiterOf(newReplica(t, srv).Limiters(10, time.Second, 3), testKey)
	b := limiterOf(newReplica(t, srv).Limiters(10, time.Second, 3), testKey)
	const pause = 300 * time.Millisecond
	a.Pause(time.Now().Add(pause))
	if err := b.Wait(withTimeout(t, 100*time.Millisecond)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("short deadline during another replica's pause: err = %v, want ErrRateLimitWait", err)
	}
	start := time.Now()
	if err := b.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < pause-150*time.Millisecond {
		t.Errorf("granted %v into another replica's %v pause", el, pause)
	}
}

// Killing Redis mid-way: calls go on through the fallback's conservative
// share, health reports it; once Redis is back (empty, on the same port)
// the replica goes back to it on its own, telling it of its fallback
// grants.
func TestRedisDownFallsBackAndRecovers(t *testing.T) {
	t.Parallel()
	const (
		n        = 6
		replicas = 3 // fallback share 2
		window   = 2 * time.Second
	)
	srv := redistest.Start(t)
	r := newReplica(t, srv)
	l := limiterOf(r.Limiters(n, window, replicas), testKey)
	var g grants
	g.watch(l, "")
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !r.Healthy() || r.Err() != nil || r.Up() != 1 {
		t.Fatalf("healthy Redis reported %v, %v", r.Healthy(), r.Err())
	}

	srv.Kill()
	time.Sleep(window) // the shared grant leaves the fallback's window
	start := time.Now()
	if err := l.Wait(withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("Wait with Redis down: %v", err)
	}
	// The fallback grants nothing for a window after Redis went down:
	// other replicas may have used the shared window's every slot.
	if el := time.Since(start); el < window-100*time.Millisecond || el > window+time.Second {
		t.Errorf("first Wait with Redis down took %v, want about the %v window", el, window)
	}
	if r.Healthy() || r.Up() != 0 || !errors.Is(r.Err(), ErrUnavailable) || r.Failures() != 1 {
		t.Errorf("dead Redis reported healthy=%v err=%v failures=%d", r.Healthy(), r.Err(), r.Failures())
	}
	// The fallback holds ⌊6/3⌋ = 2 per window.
	if err := l.Wait(withTimeout(t, time.Second)); err != nil {
		t.Fatalf("second fallback Wait: %v", err)
	}
	start = time.Now()
	if err := l.Wait(withTimeout(t, 200*time.Millisecond)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("third fallback Wait in one window: err = %v, want ErrRateLimitWait", err)
	}
	if el := time.Since(start); el >= 200*time.Millisecond {
		t.Errorf("third fallback Wait failed after %v, want before the deadline", el)
	}
	if shared, local := g.sharedCount(); shared != 1 || local != 2 {
		t.Errorf("%d shared and %d fallback grants, want 1 and 2", shared, local)
	}
	if !contains(r.logs.String(), "redis unavailable") {
		t.Errorf("failure not logged: %s", r.logs)
	}

	srv.Restart()
	waitUntil(t, "Redis to be healthy again", 5*time.Second, r.Healthy)
	if !contains(r.logs.String(), "redis recovered") {
		t.Errorf("recovery not logged: %s", r.logs)
	}
	// The fallback's 2 grants are still in the window: Redis learns of
	// them, and grants the 4 left, then makes the next call wait.
	for i := range n - 2 {
		if err := l.Wait(withTimeout(t, time.Second)); err != nil {
			t.Fatalf("Wait %d after recovery: %v", i, err)
		}
	}
	if err := l.Wait(withTimeout(t, 100*time.Millisecond)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("Wait past the budget after recovery: err = %v, want ErrRateLimitWait", err)
	}
	if shared, local := g.sharedCount(); shared != 1+n-2 || local != 2 {
		t.Errorf("%d shared and %d fallback grants, want %d and 2", shared, local, 1+n-2)
	}
	if got := sharedGrants(t, srv); got != n {
		t.Errorf("shared log holds %d grants, want %d (the fallback's included)", got, n)
	}
}

// A hung Redis (stopped: connections open, no answers) holds a call for
// the command timeout at most, once; the calls after it do not wait for
// it.
func TestHungRedisBoundedByTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	srv := redistest.Start(t)
	r := newReplicaTimeout(t, srv, timeout)
	const window = 100 * time.Millisecond // the fallback's hold after the failure
	l := limiterOf(r.Limiters(20, window, 3), testKey)
	c := upstream.NewCache(upstream.CacheOptions{TTL: time.Minute, Shared: r.CacheStore()})
	up := upstream.Cached(&origin{tag: "one"}, c, upstream.TenantID(testKey))
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	defer srv.Resume()
	start := time.Now()
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	if first < timeout/2 || first > timeout+window+time.Second {
		t.Errorf("first Wait on a hung Redis took %v, want about the %v timeout and the %v window", first, timeout, window)
	}
	if r.Healthy() {
		t.Fatal("hung Redis reported healthy")
	}
	start = time.Now()
	for range 3 {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := up.GetLead(t.Context(), "l"); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > timeout {
		t.Errorf("3 Waits and lookups after the first failure took %v, want no wait on Redis", el)
	}
	srv.Resume()
	waitUntil(t, "Redis to be healthy again", 5*time.Second, r.Healthy)
}

// A Redis down when the server starts is no error: it is used once up.
func TestRedisDownAtStart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Kill()
	r := newReplica(t, srv)
	if r.Healthy() || r.Err() == nil {
		t.Fatalf("dead Redis at start reported healthy=%v err=%v", r.Healthy(), r.Err())
	}
	const window = 200 * time.Millisecond
	l := limiterOf(r.Limiters(20, window, 3), testKey)
	start := time.Now()
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	// No wait on Redis: only the fallback's hold of a window after the
	// failure was found.
	if el := time.Since(start); el > window+300*time.Millisecond {
		t.Errorf("Wait took %v with Redis known down, want at most the %v window", el, window)
	}
	srv.Restart()
	waitUntil(t, "Redis to be healthy", 5*time.Second, r.Healthy)
	var g grants
	g.watch(l, "")
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if shared, _ := g.sharedCount(); shared != 1 {
		t.Error("grant after recovery not made by Redis")
	}
}

// Answered moves the slot to when its request was answered, on Redis's
// clock.
func TestAnsweredMovesTheSharedSlot(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	srv := redistest.Start(t)
	l := limiterOf(newReplica(t, srv).Limiters(1, window, 1), testKey)
	answered, err := l.WaitSlot(t.Context())
	if err != nil || answered == nil {
		t.Fatalf("WaitSlot = %v, %v", answered != nil, err)
	}
	const latency = 200 * time.Millisecond
	time.Sleep(latency)
	answered(time.Now())
	answeredAt := time.Now()
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(answeredAt); el < window-20*time.Millisecond {
		t.Errorf("next slot %v after the answer, want a window (%v)", el, window)
	}
}

// A slot's move to its answer that Redis misses (down when the answer
// comes) is made with the next grant once Redis is back: lemlist counts the
// request from when it saw it, so the shared log must too. Redis restarts
// empty here; without the move, the log would not hold the slot at all.
func TestMissedMoveMadeOnRecovery(t *testing.T) {
	t.Parallel()
	const window = time.Minute // longer than the test: no slot leaves it
	srv := redistest.Start(t)
	r := newReplica(t, srv)
	l := limiterOf(r.Limiters(1, window, 1), testKey)
	answered, err := l.WaitSlot(t.Context())
	if err != nil || answered == nil {
		t.Fatalf("WaitSlot = %v, %v", answered != nil, err)
	}
	srv.Kill()
	answered(time.Now()) // Redis fails the move
	if r.Healthy() {
		t.Fatal("Redis killed, still healthy after a failed move")
	}
	srv.Restart()
	waitUntil(t, "Redis to be healthy again", 5*time.Second, r.Healthy)
	// The one slot of the window is the answered request's.
	if err := l.Wait(withTimeout(t, time.Second)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("Wait after recovery: err = %v, want ErrRateLimitWait", err)
	}
	if got := sharedGrants(t, srv); got != 1 {
		t.Errorf("shared log holds %d slots, want 1 (the answered request's)", got)
	}
}

// A call waiting in the fallback when Redis recovers asks Redis instead:
// the fallback cannot see what the other replicas were granted meanwhile.
// (Its hold of a window after the failure outlasts the test here: without
// the move, the call would still wait.)
func TestFallbackWaitMovesToRedisOnRecovery(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	srv := redistest.Start(t)
	r := newReplica(t, srv)
	l := limiterOf(r.Limiters(20, window, 1), testKey)
	var g grants
	g.watch(l, "")
	waiting := make(chan struct{}, 1)
	l.mu.Lock()
	l.onWait = func() { waiting <- struct{}{} }
	l.mu.Unlock()
	srv.Kill()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	<-waiting // Redis failed it: it waits in the fallback
	if r.Healthy() {
		t.Fatal("Redis killed, still healthy")
	}
	srv.Restart()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after recovery: %v", err)
		}
	case <-time.After(10 * time.Second): // a hang guard: the fallback holds for a minute
		cancel()
		t.Fatalf("the call still waits in the fallback after Redis recovered: %v", <-done)
	}
	if shared, local := g.sharedCount(); shared != 1 || local != 0 {
		t.Errorf("%d shared and %d fallback grants, want 1 and 0", shared, local)
	}
}

func TestLimitersSource(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := newReplica(t, srv)
	src := r.Limiters(20, 2*time.Second, 3)
	a, b := src.For("key-a"), src.For("key-b")
	if a != src.For("key-a") || a == b {
		t.Error("For: want one limiter per key, the same on every call")
	}
	if la := a.(*Limiter); la.key != "lgql:rl:"+upstream.TenantID("key-a") || contains(la.key, "key-a") {
		t.Errorf("Redis key %q, want lgql:rl:<tenant id>", la.key)
	}
	if _, ok := r.Limiters(0, 0, 3).For("k").(*lemlist.WindowLimiter); !ok {
		t.Error("n = 0: want lemlist's unlimited limiters")
	}
	for _, tc := range []struct{ n, replicas, want int }{{20, 3, 6}, {20, 1, 20}, {20, 0, 20}, {2, 3, 1}, {20, 4, 5}} {
		if got := FallbackShare(tc.n, tc.replicas); got != tc.want {
			t.Errorf("FallbackShare(%d, %d) = %d, want %d", tc.n, tc.replicas, got, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("negative n: no panic")
		}
	}()
	r.Limiters(-1, time.Second, 3)
}

// Background calls never take the last lemlist.ForegroundReserve(n) slots
// of the shared window, on any replica: foreground calls find them free.
func TestBackgroundLeavesTheReserve(t *testing.T) {
	t.Parallel()
	const (
		n      = 10 // reserve 2
		window = 5 * time.Second
	)
	srv := redistest.Start(t)
	a := limiterOf(newReplica(t, srv).Limiters(n, window, 3), testKey)
	b := limiterOf(newReplica(t, srv).Limiters(n, window, 3), testKey)
	bg := lemlist.Background(t.Context())
	for i := range n - lemlist.ForegroundReserve(n) {
		if err := a.Wait(bg); err != nil {
			t.Fatalf("background call %d: %v", i, err)
		}
	}
	if err := a.Wait(lemlist.Background(withTimeout(t, 300*time.Millisecond))); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("background call past its share: err = %v, want ErrRateLimitWait", err)
	}
	for _, l := range []*Limiter{a, b} { // the reserve, from either replica
		if err := l.Wait(withTimeout(t, 300*time.Millisecond)); err != nil {
			t.Errorf("foreground call: %v, want a reserved slot", err)
		}
	}
	if err := b.Wait(withTimeout(t, 300*time.Millisecond)); !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Errorf("foreground call past the budget: err = %v, want ErrRateLimitWait", err)
	}
	if got := sharedGrants(t, srv); got != n {
		t.Errorf("shared log holds %d grants, want %d", got, n)
	}
}

// A background call waiting at Redis for its next slot steps aside for a
// foreground call, which gets the slot background calls may not take at
// once rather than after the background call's wait.
func TestForegroundPreemptsBackground(t *testing.T) {
	t.Parallel()
	const (
		n      = 5 // reserve 1
		window = 2 * time.Second
	)
	srv := redistest.Start(t)
	l := limiterOf(newReplica(t, srv).Limiters(n, window, 1), testKey)
	bg := lemlist.Background(t.Context())
	for range n - 1 {
		if err := l.Wait(bg); err != nil {
			t.Fatal(err)
		}
	}
	bgErr := make(chan error, 2)
	go func() { bgErr <- l.Wait(bg) }()
	waitUntil(t, "a background call to wait at Redis", 5*time.Second, func() bool {
		l.gate.mu.Lock()
		defer l.gate.mu.Unlock()
		return l.gate.busy && l.gate.preempt != nil
	})
	go func() { bgErr <- l.Wait(bg) }()
	waitUntil(t, "a second background call to queue", 5*time.Second, func() bool { return l.queued() == 1 })

	start := time.Now()
	if err := l.Wait(withTimeout(t, window/2)); err != nil {
		t.Fatalf("foreground call behind a waiting background call: %v, want the reserved slot", err)
	}
	if el := time.Since(start); el >= window/2 {
		t.Errorf("foreground call took %v", el)
	}
	for range 2 {
		if err := <-bgErr; err != nil {
			t.Errorf("background call: %v", err)
		}
	}
}

// The gate serves foreground calls first; a background holder that yields
// to them gets its turn back before the other background calls.
func TestGateForegroundFirst(t *testing.T) {
	t.Parallel()
	var g fairGate
	ctx := t.Context()
	if err := g.acquire(ctx, true); err != nil { // bg1 holds the turn
		t.Fatal(err)
	}
	preempted := g.preempted()
	var order []string
	turns := make(chan string)
	queue := func(name string, bg bool, want int) {
		go func() {
			if err := g.acquire(lemlist.WithCaller(ctx, name), bg); err != nil {
				t.Error(err)
			}
			turns <- name
		}()
		waitUntil(t, name+" to queue", 5*time.Second, func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.foreground.Len()+g.background.Len() == want
		})
	}
	queue("bg2", true, 1)
	select {
	case <-preempted:
		t.Fatal("preempted by a background call")
	default:
	}
	queue("fg1", false, 2)
	queue("fg2", false, 3)
	<-preempted // a foreground call queued behind the background holder
	yielded := make(chan error, 1)
	go func() { yielded <- g.yield(ctx) }()
	for range 2 {
		name := <-turns
		order = append(order, name)
		g.release()
	}
	if err := <-yielded; err != nil {
		t.Fatal(err)
	}
	order = append(order, "bg1")
	g.release()
	order = append(order, <-turns)
	g.release()
	if want := []string{"fg1", "fg2", "bg1", "bg2"}; !slices.Equal(order, want) {
		t.Errorf("turns %v, want %v", order, want)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy || g.resumed != nil {
		t.Errorf("gate busy %v, resumed %v after every release", g.busy, g.resumed != nil)
	}
}

// sharedGrants returns the number of grants in testKey's shared log.
func sharedGrants(t *testing.T, srv *redistest.Server) int64 {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	n, err := rdb.ZCard(context.Background(), "lgql:rl:"+upstream.TenantID(testKey)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
