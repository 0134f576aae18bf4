// Package redisx is the server's optional Redis: what several replicas
// share so that together they behave like one server.
//
//   - CacheStore is a second-level store for upstream.Cache: an answer one
//     replica fetched from lemlist serves the others until it expires.
//   - Limiters hands out a rate limiter per lemlist API key whose budget is
//     counted in Redis, so that all replicas together stay inside lemlist's
//     20 requests per 2 s per key.
//   - Publish and Subscribe pass the live feed's activities between
//     replicas, so that a webhook reaching one replica, or a row the
//     mirror stored on one replica, reaches the subscribers of all of them.
//   - Redis is a feed.SecretBackend: it keeps pass-through tenants' sealed
//     webhook secrets when no shared mirror store does (secrets.go).
//
// Redis is a help, never a dependency: when it fails, the server keeps
// serving on a local limiter holding a conservative share of each key's
// budget and on its in-memory cache, logs the failure, reports it through
// Healthy and Err, and goes back to Redis on its own once a PING succeeds.
// No request waits long on a dead Redis: each command is bounded by a short
// timeout (Options.Timeout), and while Redis is known down no command is
// sent at all.
//
// Keys never hold an API key: they hold upstream.TenantID of it. They are
// "lgql:rl:<tenant>" (a ZSET of grant times) and "lgql:rl:<tenant>:pause"
// for the limiter, "lgql:cache:<upstream cache key>" for the cache. The
// limiter's scripts touch two keys per tenant, so they need a single Redis
// (or Sentinel) rather than a Cluster.
//
// Publish and Subscribe carry the live feed's activities between replicas
// over Redis pub/sub, on channels "lgql:feed:<topic>" (or
// "lgql:<namespace>:feed:<topic>", Options.Namespace), authenticated with
// an HMAC under Options.FeedSecret, over the same client and health
// tracking. The gateway chooses the topics: a tenant's webhook activities,
// and "<tenant>/stored" for the rows its mirror stored. Webhook secrets
// are kept under "lgql:[<namespace>:]webhook-secret:<tenant>", without
// expiry, so a Redis that keeps them must not evict them (noeviction or a
// volatile-* policy).
//
// In pass-through mode it also keeps each tenant's webhook secret
// (secrets.go, a feed.SecretBackend) under
// "lgql:[<namespace>:]webhook-secret:<tenant>", without expiry: a Redis
// that holds them must not use an allkeys-* eviction policy.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of Options.
const (
	DefaultTimeout          = 200 * time.Millisecond
	DefaultProbeInterval    = 100 * time.Millisecond
	DefaultProbeMaxInterval = 5 * time.Second
)

// ErrUnavailable is returned, at once, by operations attempted while Redis
// is known to be down.
var ErrUnavailable = errors.New("redisx: redis unavailable")

// Options configure a Redis.
type Options struct {
	// URL is Redis's URL, e.g. redis://:password@redis:6379/0 (rediss://
	// for TLS). Required.
	URL string
	// Logger receives failures and recoveries; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds the dial, the write and the read of each command,
	// unless the URL sets dial_timeout, read_timeout or write_timeout.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// ProbeInterval is the first delay between PINGs while Redis is down;
	// it doubles after each failed PING up to ProbeMaxInterval. Zero means
	// DefaultProbeInterval and DefaultProbeMaxInterval.
	ProbeInterval, ProbeMaxInterval time.Duration
	// Namespace separates deployments that share a Redis: the live feed's
	// channels are "lgql:<Namespace>:feed:<topic>" ("lgql:feed:<topic>"
	// without one), so that one deployment never receives another's
	// activities. 1 to 64 letters, digits, '.', '-' or '_'.
	Namespace string
	// FeedSecret authenticates the live feed's messages between replicas:
	// each carries an HMAC-SHA256 of its channel, origin and payload under
	// a key derived from FeedSecret, and a message without a valid one is
	// dropped, logged and counted (FeedRejected). Every replica of a
	// deployment must have the same one (e.g. its WEBHOOK_SECRET). Empty,
	// messages are neither signed nor checked: anyone who can publish on
	// the Redis can inject activities into the feed.
	FeedSecret string
}

// namespaceRE is what Options.Namespace may hold: no glob character, since
// it goes into a PSUBSCRIBE pattern, and no colon.
var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Redis is a client of the server's Redis, tracking its health. It is safe
// for concurrent use.
type Redis struct {
	rdb     *redis.Client
	log     *slog.Logger
	timeout time.Duration
	probe   [2]time.Duration // first and max interval
	procID  string           // this process, in the limiter's ZSET members

	feedPrefix string // the live feed's channel prefix (FeedChannelPrefix, namespaced)
	feedKey    []byte // HMAC key of the feed's messages; nil: not authenticated

	healthy      atomic.Bool
	failures     atomic.Uint64
	feedRejected atomic.Uint64

	mu           sync.Mutex
	err          error         // the last failure while down
	downAt       time.Time     // when it went down
	up           chan struct{} // closed when Redis is healthy; a new one each time it goes down
	closed       bool
	closing      chan struct{}
	probing      sync.WaitGroup
	lastWarn     time.Time // of a logged server error, to bound their rate
	lastFeedWarn time.Time // of a logged rejected feed message, likewise
}

// New connects to the Redis at url, logging to logger (nil means
// slog.Default()), with the default Options. See NewWithOptions.
func New(ctx context.Context, url string, logger *slog.Logger) (*Redis, error) {
	return NewWithOptions(ctx, Options{URL: url, Logger: logger})
}

// NewWithOptions returns a Redis configured by o. It fails only if o is
// invalid: a Redis that does not answer the first PING (bounded by ctx and
// the timeout) is reported down, and the returned Redis keeps probing it
// and starts using it as soon as it answers.
func NewWithOptions(ctx context.Context, o Options) (*Redis, error) {
	if o.URL == "" {
		return nil, errors.New("redisx: no URL")
	}
	if o.Namespace != "" && !namespaceRE.MatchString(o.Namespace) {
		return nil, errors.New("redisx: invalid namespace: 1 to 64 letters, digits, '.', '-' or '_'")
	}
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redisx: invalid URL: %w", redactURLError(err, o.URL))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.ProbeMaxInterval < o.ProbeInterval {
		o.ProbeMaxInterval = max(DefaultProbeMaxInterval, o.ProbeInterval)
	}
	for _, d := range []*time.Duration{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout} {
		if *d == 0 {
			*d = o.Timeout
		}
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = o.Timeout
	}
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1   // a failed command falls back; it is not retried
	opt.DialerRetries = 1 // one dial per attempt: the prober retries
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	r := &Redis{
		rdb:     redis.NewClient(opt),
		log:     o.Logger.With("component", "redis"),
		timeout: o.Timeout,
		probe:   [2]time.Duration{o.ProbeInterval, o.ProbeMaxInterval},
		procID:  newProcID(),
		closing: make(chan struct{}),
		up:      make(chan struct{}),

		feedPrefix: feedChannelPrefix(o.Namespace),
		feedKey:    feedKey(o.FeedSecret),
	}
	r.healthy.Store(true)
	close(r.up)
	pctx, cancel := r.opContext(ctx)
	defer cancel()
	if err := r.rdb.Ping(pctx).Err(); err != nil {
		r.down(err)
	} else {
		r.log.Info("redis connected", "addr", opt.Addr, "db", opt.DB)
	}
	return r, nil
}

// Healthy reports whether Redis is in use: it answered its last command, or
// the PING since its last failure. While it is not, limiters and the cache
// work locally. Healthy is cheap enough for every request.
func (r *Redis) Healthy() bool { return r.healthy.Load() }

// Err returns why Redis is not in use: the last failure since it went
// down; nil while it is healthy. For /readyz, which should report it but
// stay ready: the server serves without Redis.
func (r *Redis) Err() error {
	if r.Healthy() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return ErrUnavailable
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, r.err)
}

// downSince returns when Redis last went down; zero if it never did.
func (r *Redis) downSince() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downAt
}

// recovered returns a channel closed once Redis is healthy: already closed
// while it is.
func (r *Redis) recovered() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up
}

// Up returns 1 while Redis is healthy and 0 otherwise: a gauge callback.
func (r *Redis) Up() float64 {
	if r.Healthy() {
		return 1
	}
	return 0
}

// Failures returns how many times Redis went down: a counter callback.
func (r *Redis) Failures() uint64 { return r.failures.Load() }

// Close stops the prober and closes the connections. Limiters and cache
// stores of r then work locally.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.closing)
	r.up = make(chan struct{}) // never closed: r is not used again
	r.mu.Unlock()
	r.probing.Wait()
	r.healthy.Store(false)
	return r.rdb.Close()
}

// opContext bounds a command: ctx's values, not its cancellation (a command
// takes at most the timeout, and its failure is then always Redis's), and
// the timeout.
func (r *Redis) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
}

// warnDue reports whether a warning last logged at *last may be logged
// again (10 s on), and if so, notes now in *last: a flood of failures must
// not flood the logs. r.mu guards *last.
func (r *Redis) warnDue(last *time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(*last) < 10*time.Second {
		return false
	}
	*last = time.Now()
	return true
}

// check returns err, having recorded it: redis.Nil (no such key) is no
// failure; an error Redis answered (a script error, OOM, LOADING) fails the
// command but leaves Redis in use; any other (a timeout, a refused or broken
// connection) takes Redis out of use until a PING succeeds.
func (r *Redis) check(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if _, ok := errors.AsType[redis.Error](err); ok {
		if r.warnDue(&r.lastWarn) {
			r.log.Warn("redis command failed", "err", err)
		}
		return err
	}
	r.down(err)
	return err
}

// down takes Redis out of use after err and starts the prober, if it was in
// use.
func (r *Redis) down(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	if r.closed || !r.healthy.Load() {
		return
	}
	r.healthy.Store(false)
	r.up = make(chan struct{})
	r.downAt = time.Now()
	r.failures.Add(1)
	r.log.Warn("redis unavailable: using local rate limits and cache until it answers", "err", err)
	r.probing.Go(r.probeLoop)
}

// probeLoop PINGs Redis, backing off, until it answers or r is closed.
func (r *Redis) probeLoop() {
	d := r.probe[0]
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-r.closing:
			return
		case <-t.C:
		}
		ctx, cancel := r.opContext(context.Background())
		err := r.rdb.Ping(ctx).Err()
		cancel()
		r.mu.Lock()
		if err == nil {
			if !r.closed {
				r.healthy.Store(true)
				close(r.up)
				r.err = nil
				r.log.Info("redis recovered", "down_for", time.Since(r.downAt).Round(time.Millisecond))
			}
			r.mu.Unlock()
			return
		}
		r.err = err
		r.mu.Unlock()
		d = min(2*d, r.probe[1])
		t.Reset(d)
	}
}

// redactURLError keeps the password of url out of err.
func redactURLError(err error, raw string) error {
	u, perr := neturl.Parse(raw)
	if perr != nil {
		return errors.New("not a URL") // its parse error would quote it
	}
	return errors.New(strings.ReplaceAll(err.Error(), raw, u.Redacted()))
}

// RouteLibraryLogs sends go-redis's own log lines (a failed dial of its
// pool, for one) to logger at debug level, instead of the standard
// logger's stderr. go-redis has one logger per process: call this once, at
// start-up. Failures and recoveries that matter are logged by Redis itself.
func RouteLibraryLogs(logger *slog.Logger) {
	redis.SetLogger(libraryLogger{logger.With("component", "go-redis")})
}

type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
