package redisx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/internal/fairqueue"
	"github.com/lemlist-graphql/server/internal/weakmap"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// grantScript grants a slot of a sliding-window log shared by every
// replica, atomically, on Redis's clock.
//
// KEYS[1] is the log: a ZSET of grants scored by their time in µs. KEYS[2]
// holds the time, in µs, before which nothing is granted (Pause). ARGV: the
// most grants a window may hold for this call (n, or fewer for a
// background call), the window in µs, the new grant's member (unique), the
// log's TTL in ms, then pairs of a member and an age in µs: slots to count
// first, at now minus their age unless the log holds them later (a
// replica's pending slot moves: see Limiter.pending).
//
// It returns {1, 0, now} on a grant, else {0, wait, now}: wait µs until
// enough grants leave the window (or the pause ends).
var grantScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if #ARGV >= 6 then
  for i = 5, #ARGV - 1, 2 do
    local at = now - tonumber(ARGV[i + 1])
    local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if not s or tonumber(s) < at then
      redis.call('ZADD', KEYS[1], at, ARGV[i])
    end
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return {0, paused - now, now}
end
local card = redis.call('ZCARD', KEYS[1])
if card < n then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, 0, now}
end
local last = redis.call('ZRANGE', KEYS[1], card - n, card - n, 'WITHSCORES')
return {0, tonumber(last[2]) + window - now, now}
`)

// moveScript puts slot ARGV[2] of log KEYS[1] at now minus ARGV[3] µs,
// when its request got its answer (see lemlist.SlotLimiter), unless the
// log holds it later; a slot that already left the log comes back, since
// lemlist still counts it. ARGV[1] is the log's TTL in ms.
var moveScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local at = now - tonumber(ARGV[3])
local s = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not s or tonumber(s) < at then
  redis.call('ZADD', KEYS[1], at, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0
`)

// pauseScript pauses grants for ARGV[1] µs from now, unless they already
// are for longer: KEYS[1] holds the end of the pause in µs.
var pauseScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local d = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + d > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', now + d), 'PX', math.ceil(d / 1000))
end
return 0
`)

// Limiters returns a source of rate limiters granting at most n requests
// per window per API key across every replica sharing r, for
// upstream.PoolOptions.Limiters. Each key's limiter is a *Limiter, the same
// one on every call for a key.
//
// While Redis is down, each key's limiter falls back to a local
// lemlist.WindowLimiter granting ⌊n/replicas⌋ (at least 1) per window: with
// replicas replicas all falling back, they stay within n together. Set
// replicas to the number of replicas (REDIS_FALLBACK_REPLICAS; 3 turns
// lemlist's 20 per 2 s into 6 per 2 s each). n = 0 turns limiting off. It
// panics if n < 0, or if n > 0 and window <= 0, as lemlist.NewLimiters does.
func (r *Redis) Limiters(n int, window time.Duration, replicas int) upstream.LimiterSource {
	if n == 0 {
		return lemlist.NewLimiters(0, window)
	}
	if n < 0 || window <= 0 {
		panic(fmt.Sprintf("redisx: invalid rate limit of %d per %s", n, window))
	}
	return &limiterSource{r: r, n: n, window: window, share: FallbackShare(n, replicas)}
}

// FallbackShare returns the budget of one replica of replicas while Redis
// is down: ⌊n/replicas⌋, at least 1 (replicas < 1 counts as 1).
func FallbackShare(n, replicas int) int {
	return max(n/max(replicas, 1), 1)
}

// limiterSource holds its limiters weakly, as lemlist.Limiters does: a
// tenant's limiter lives while a client uses it, and is dropped after.
type limiterSource struct {
	r      *Redis
	n      int
	window time.Duration
	share  int

	byTenant weakmap.Map[string, Limiter]
}

// For returns the limiter of apiKey, known to Redis by its TenantID.
func (s *limiterSource) For(apiKey string) lemlist.Limiter {
	return s.forTenant(upstream.TenantID(apiKey))
}

func (s *limiterSource) forTenant(tenant string) *Limiter {
	return s.byTenant.Get(tenant, func() *Limiter {
		l := &Limiter{
			r:        s.r,
			key:      "lgql:rl:" + tenant,
			pauseKey: "lgql:rl:" + tenant + ":pause",
			n:        s.n,
			window:   s.window,
			fallback: lemlist.NewWindowLimiter(s.share, s.window),
		}
		return l
	})
}

// Limiter is the rate limiter of one API key shared by every replica: a
// sliding-window log in Redis (see the package doc for its keys), updated
// atomically by a script on Redis's clock, so that the replicas' clocks do
// not matter. It implements lemlist.Limiter and lemlist.SlotLimiter: a
// grant's slot is counted from the moment its request got its answer.
//
// Fairness stays local: the calls of one replica queue in a fair gate,
// round-robin between callers (lemlist.WithCaller) and FIFO within one, and
// only the call at the head asks Redis, waiting there for the next slot.
// Between replicas, the first to ask for a freed slot gets it.
//
// A call fails at once with a *lemlist.RateLimitError matching
// lemlist.ErrRateLimitWait when its deadline comes before the next slot:
// the one Redis reported last, for a call that joins the queue, or the one
// Redis reports to the call at the head. A call whose deadline passes while
// it waits (in the queue, or at the head for the next slot) fails with the
// same error; a cancelled call fails with ctx.Err().
//
// Background calls (lemlist.Background) wait behind every foreground call
// of this replica, in a fair line of their own, and Redis grants them a
// slot only while fewer than n - lemlist.ForegroundReserve(n) grants fall in
// the shared window (16 of 20): the reserve is kept across replicas. A
// background call waiting at Redis for its next slot steps aside when a
// foreground call arrives, and goes on ahead of the other background calls
// once the foreground calls are served.
//
// While Redis is down, calls go to a local lemlist.WindowLimiter holding
// ⌊n/replicas⌋ slots per window, which is told of this replica's Redis
// grants as they happen; once Redis is back, the grants the fallback made
// in the last window are added to the shared log before the next grant.
// Likewise a slot whose move to its answer Redis missed (down, or too slow
// to answer) is moved with the next grant: else the log would count it from
// its grant, which can be long before lemlist saw the request, and free it
// early.
type Limiter struct {
	r        *Redis
	key      string
	pauseKey string
	n        int
	window   time.Duration
	fallback *lemlist.WindowLimiter
	gate     fairGate
	seq      atomic.Uint64

	mu        sync.Mutex
	notBefore time.Time  // the next slot, as Redis reported it; zero after a grant
	pending   []slotMove // slots Redis has not been told of, oldest first
	fellBack  bool       // the fallback decides: Redis failed since its last grant
	onGrant   func(at time.Time, shared bool)
	onWait    func() // a test's: a call is about to wait in the fallback
}

// slotMove is a slot the shared log must hold at (at the latest): a grant
// of the fallback, or the answer to a request whose move Redis missed.
type slotMove struct {
	member string
	at     time.Time
}

// Wait blocks until a request may be sent. It implements lemlist.Limiter.
func (l *Limiter) Wait(ctx context.Context) error {
	_, err := l.WaitSlot(ctx)
	return err
}

// WaitSlot is Wait, also returning the function that moves the slot to the
// time its request got its answer. It implements lemlist.SlotLimiter.
func (l *Limiter) WaitSlot(ctx context.Context) (func(time.Time), error) {
	if ctx.Err() != nil {
		return nil, l.waitError(ctx)
	}
	var (
		answered func(time.Time)
		err      error
	)
	for {
		if l.r.Healthy() {
			if err := l.failFast(ctx); err != nil {
				return nil, err
			}
			answered, err := l.acquire(ctx, lemlist.IsBackground(ctx))
			if err != errFallback {
				return answered, err
			}
		}
		l.enterFallback()
		var again bool
		answered, again, err = l.fallbackSlot(ctx)
		if !again {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	member := l.newMember()
	l.mu.Lock()
	l.pendLocked(slotMove{member, now})
	hook := l.onGrant
	l.mu.Unlock()
	if hook != nil {
		hook(now, false)
	}
	return func(at time.Time) {
		if answered != nil {
			answered(at)
		}
		l.move(member, at)
	}, nil
}

// errRecovered cancels a wait in the fallback when Redis recovers.
var errRecovered = errors.New("redisx: redis recovered")

// fallbackSlot waits for a slot of the fallback, unless Redis recovers
// first: then again is set, and the call must ask Redis, since the
// fallback does not see the grants other replicas made meanwhile.
func (l *Limiter) fallbackSlot(ctx context.Context) (answered func(time.Time), again bool, err error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	up, waited := l.r.recovered(), make(chan struct{})
	defer close(waited)
	go func() {
		select {
		case <-up:
			cancel(errRecovered)
		case <-waited:
		}
	}()
	l.mu.Lock()
	hook := l.onWait
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	answered, err = l.fallback.WaitSlot(fctx)
	if err != nil && ctx.Err() == nil && context.Cause(fctx) == errRecovered {
		return nil, true, nil
	}
	return answered, false, err
}

// newMember returns a unique member for a slot in the shared log.
func (l *Limiter) newMember() string {
	return l.r.procID + ":" + strconv.FormatUint(l.seq.Add(1), 36)
}

// pendLocked queues m for the shared log, dropping what has left the
// window. l.mu is held.
func (l *Limiter) pendLocked(m slotMove) {
	cut := time.Now().Add(-l.window)
	i := 0
	for i < len(l.pending) && !l.pending[i].at.After(cut) {
		i++
	}
	l.pending = append(l.pending[i:], m)
	if most := 4 * l.n; len(l.pending) > most {
		l.pending = l.pending[len(l.pending)-most:]
	}
}

// enterFallback holds the fallback back until a window after Redis went
// down, the first time it decides since Redis last granted: the shared
// log's last window may hold every slot, granted by replicas this one
// cannot see, and lemlist still counts them.
func (l *Limiter) enterFallback() {
	l.mu.Lock()
	first := !l.fellBack
	l.fellBack = true
	l.mu.Unlock()
	if first {
		l.fallback.Pause(l.r.downSince().Add(l.window))
	}
}

// failFast returns a RateLimitError if ctx's deadline comes before the
// next slot Redis reported.
func (l *Limiter) failFast(ctx context.Context) error {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	l.mu.Lock()
	at := l.notBefore
	l.mu.Unlock()
	if now := time.Now(); at.After(now) && dl.Before(at) {
		return &lemlist.RateLimitError{RetryAfter: at.Sub(now)}
	}
	return nil
}

// waitError is the error of a call whose ctx ended while it waited for a
// slot: a *lemlist.RateLimitError matching lemlist.ErrRateLimitWait if its
// deadline passed, ctx.Err() if it was cancelled.
func (l *Limiter) waitError(ctx context.Context) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	l.mu.Lock()
	at := l.notBefore
	l.mu.Unlock()
	return &lemlist.RateLimitError{RetryAfter: max(time.Until(at), 0)}
}

// errFallback tells WaitSlot that Redis could not answer, and the fallback
// must decide.
var errFallback = errors.New("redisx: fall back")

// acquire waits for the call's turn in the gate, then asks Redis for a
// slot until it grants one, sleeping as told in between. A background call
// (bg) sleeping there steps aside when a foreground call queues, and
// resumes after it. It returns errFallback if Redis does not answer.
func (l *Limiter) acquire(ctx context.Context, bg bool) (answered func(time.Time), err error) {
	if l.gate.acquire(ctx, bg) != nil {
		return nil, l.waitError(ctx)
	}
	held := true
	defer func() {
		if held {
			l.gate.release()
		}
	}()
	limit := l.n
	if bg {
		limit -= lemlist.ForegroundReserve(l.n)
	}
	for {
		if !l.r.Healthy() {
			return nil, errFallback
		}
		g, err := l.try(ctx, limit)
		if err != nil {
			return nil, errFallback
		}
		now := time.Now()
		if g.granted {
			l.fallback.Record(now)
			l.mu.Lock()
			l.notBefore = time.Time{}
			l.fellBack = false
			hook := l.onGrant
			l.mu.Unlock()
			if hook != nil {
				hook(g.at, true)
			}
			member := g.member
			return func(at time.Time) { l.move(member, at) }, nil
		}
		at := now.Add(g.wait)
		if !bg { // a background call's slot says nothing of a foreground call's
			l.mu.Lock()
			if at.After(l.notBefore) {
				l.notBefore = at
			}
			l.mu.Unlock()
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(at) {
			return nil, &lemlist.RateLimitError{RetryAfter: g.wait}
		}
		var preempted <-chan struct{} // nil, never ready, for a foreground call
		if bg {
			preempted = l.gate.preempted()
		}
		t := time.NewTimer(g.wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, l.waitError(ctx)
		case <-t.C:
		case <-preempted:
			t.Stop()
			held = false
			if l.gate.yield(ctx) != nil {
				return nil, l.waitError(ctx)
			}
			held = true
		}
	}
}

// grant is an answer of grantScript.
type grant struct {
	granted bool
	wait    time.Duration // until the next slot, if not granted
	at      time.Time     // Redis's clock
	member  string
}

// try runs grantScript once for a call that may hold at most limit of a
// window's grants, telling Redis of the pending slot moves first.
func (l *Limiter) try(ctx context.Context, limit int) (grant, error) {
	g := grant{member: l.newMember()}
	args := []any{limit, l.window.Microseconds(), g.member, l.ttl()}
	l.mu.Lock()
	sent := l.pending // given back if Redis does not take them
	l.pending = nil
	l.mu.Unlock()
	now := time.Now()
	for _, m := range sent {
		if age := now.Sub(m.at); age < l.window {
			args = append(args, m.member, max(age, 0).Microseconds())
		}
	}
	octx, cancel := l.r.opContext(ctx)
	defer cancel()
	res, err := grantScript.Run(octx, l.r.rdb, []string{l.key, l.pauseKey}, args...).Int64Slice()
	if err = l.r.check(err); err != nil {
		l.unsend(sent)
		return g, err
	}
	if len(res) != 3 {
		return g, l.r.check(fmt.Errorf("redisx: grant script answered %v", res))
	}
	g.granted = res[0] == 1
	g.wait = max(time.Duration(res[1])*time.Microsecond, time.Microsecond)
	g.at = time.UnixMicro(res[2])
	return g, nil
}

// unsend puts back sent, the slot moves a failed grantScript run was to
// make, before those queued since.
func (l *Limiter) unsend(sent []slotMove) {
	if len(sent) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	queued := l.pending
	l.pending = sent
	for _, m := range queued {
		l.pendLocked(m)
	}
}

// ttl is the log's TTL in ms: it outlives its newest grant by a window.
func (l *Limiter) ttl() int64 { return l.window.Milliseconds() + 1000 }

// move puts the slot member at, when its request got its answer, in the
// shared log; if Redis is down or fails, the move waits in l.pending for
// the next grant.
func (l *Limiter) move(member string, at time.Time) {
	if l.r.Healthy() {
		ctx, cancel := l.r.opContext(context.Background())
		defer cancel()
		age := max(time.Since(at), 0)
		err := moveScript.Run(ctx, l.r.rdb, []string{l.key}, l.ttl(), member, age.Microseconds()).Err()
		if l.r.check(err) == nil {
			return
		}
	}
	l.mu.Lock()
	l.pendLocked(slotMove{member, at})
	l.mu.Unlock()
}

// Pause grants nothing before until, on every replica. It implements
// lemlist.Limiter.
func (l *Limiter) Pause(until time.Time) {
	l.fallback.Pause(until)
	d := time.Until(until)
	if d <= 0 {
		return
	}
	l.mu.Lock()
	if until.After(l.notBefore) {
		l.notBefore = until
	}
	l.mu.Unlock()
	if !l.r.Healthy() {
		return
	}
	ctx, cancel := l.r.opContext(context.Background())
	defer cancel()
	_ = l.r.check(pauseScript.Run(ctx, l.r.rdb, []string{l.pauseKey}, d.Microseconds()).Err())
}

// fairGate lets one call at a time through: foreground calls first, then
// background calls (lemlist.IsBackground), each round-robin between
// callers with waiting calls (lemlist.CallerOf) and FIFO within one. A
// background holder learns from preempted when a foreground call queues,
// and may yield its turn to it.
type fairGate struct {
	mu         sync.Mutex
	busy       bool
	preempt    chan struct{} // a background holder's: closed once a foreground call queues; nil for a foreground holder
	resumed    chan struct{} // the turn of a background holder that yielded, served before other background calls
	foreground fairqueue.Queue[string, chan struct{}]
	background fairqueue.Queue[string, chan struct{}]
}

// acquire waits for the call's turn; it returns ctx.Err() if ctx ends
// first.
func (g *fairGate) acquire(ctx context.Context, bg bool) error {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.holderLocked(bg)
		g.mu.Unlock()
		return nil
	}
	key := lemlist.CallerOf(ctx)
	q := &g.foreground
	if bg {
		q = &g.background
	}
	turn := make(chan struct{})
	q.Push(key, turn)
	if !bg && g.preempt != nil { // a background call holds the turn
		select {
		case <-g.preempt: // already told
		default:
			close(g.preempt)
		}
	}
	g.mu.Unlock()
	return g.await(ctx, turn, func() bool { return q.Remove(key, turn) })
}

// await waits for turn. If ctx ends first, it takes the call out of line
// with leave, which reports false if the turn was handed to it meanwhile:
// the turn then passes on. It returns ctx.Err() without the turn.
func (g *fairGate) await(ctx context.Context, turn chan struct{}, leave func() bool) error {
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !leave() {
		g.releaseLocked()
	}
	return ctx.Err()
}

// preempted returns a channel closed once a foreground call queues behind
// the holder, a background call.
func (g *fairGate) preempted() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.preempt
}

// yield hands the holder's turn, a background call's, to the calls ahead of
// it (the foreground calls waiting), and waits to get it back before any
// other background call. It returns ctx.Err() if ctx ends first, without
// the turn.
func (g *fairGate) yield(ctx context.Context) error {
	turn := make(chan struct{})
	g.mu.Lock()
	g.resumed = turn
	g.releaseLocked()
	g.mu.Unlock()
	return g.await(ctx, turn, func() bool {
		if g.resumed != turn {
			return false
		}
		g.resumed = nil
		return true
	})
}

// release ends the holder's turn, handing it to the next call.
func (g *fairGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

func (g *fairGate) releaseLocked() {
	var turn chan struct{}
	bg := false
	if t, ok := g.foreground.Pop(); ok {
		turn = t
	} else if g.resumed != nil {
		turn, g.resumed, bg = g.resumed, nil, true
	} else if t, ok := g.background.Pop(); ok {
		turn, bg = t, true
	} else {
		g.busy = false
		g.preempt = nil
		return
	}
	g.holderLocked(bg)
	close(turn) // busy stays set: the turn is the waiter's
}

// holderLocked records who holds the turn: a background call gets a
// preempt channel.
func (g *fairGate) holderLocked(bg bool) {
	g.preempt = nil
	if bg {
		g.preempt = make(chan struct{})
	}
}

// newProcID returns a random id of this process, to keep the members of
// different replicas' grants apart.
func newProcID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
