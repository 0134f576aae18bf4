package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/lemlist-graphql/server/lemlist"
)

// DefaultMaxTenants bounds a Pool unless PoolOptions.MaxTenants says
// otherwise.
const DefaultMaxTenants = 10_000

// ErrNoAPIKey is returned by Pool.For for an empty API key.
var ErrNoAPIKey = errors.New("upstream: no lemlist API key")

// LimiterSource hands out the Limiter of an API key: the same one, or one
// sharing its budget, on every call. *lemlist.Limiters is one (a budget per
// process); package redisx has one whose budget is shared by every replica.
// It must be safe for concurrent use.
type LimiterSource interface {
	For(apiKey string) lemlist.Limiter
}

var _ LimiterSource = (*lemlist.Limiters)(nil)

// PoolOptions configure a Pool.
type PoolOptions struct {
	// BaseURL is lemlist's API root; "" means lemlist.DefaultBaseURL.
	BaseURL string
	// HTTPClient is shared by every tenant's client. Nil means a client
	// over a clone of http.DefaultTransport keeping up to 64 idle
	// connections to lemlist rather than 2: every tenant talks to the same
	// host.
	HTTPClient *http.Client
	// RateLimit is the budget of requests per RateWindow of each API key.
	// Zero means lemlist.DefaultRateLimit; a negative value turns limiting
	// off (for tests and fake upstreams).
	RateLimit int
	// RateWindow is the rate limit's window; zero means
	// lemlist.DefaultRateWindow.
	RateWindow time.Duration
	// Limiters, if set, hands out each key's limiter, and RateLimit and
	// RateWindow are ignored (the source has its own budget). Nil means
	// lemlist.NewLimiters(RateLimit, RateWindow): a budget per process.
	Limiters LimiterSource
	// Cache is shared by every tenant, partitioned by TenantID; nil means a
	// cache that only coalesces identical concurrent calls.
	Cache *Cache
	// ClientOptions are applied to every client before the pool's own
	// (base URL, HTTP client, limiter), e.g. lemlist.WithObserver or
	// lemlist.WithRetry. A limiter option here is overridden: a key's
	// budget comes from the pool.
	ClientOptions []lemlist.Option
	// MaxTenants bounds the tenants held; the least recently used are
	// dropped beyond it. Zero means DefaultMaxTenants.
	MaxTenants int
}

// Pool holds one Upstream per API key: a *lemlist.Client authenticated with
// the key, taking its request slots from the key's limiter, behind the
// pool's Cache partitioned by TenantID(key). It serves pass-through mode
// (a key per request) and server mode (one key) alike. It is safe for
// concurrent use.
//
// Keys are held only inside the clients; the pool indexes them by
// TenantID. Dropping a least recently used tenant is harmless: requests
// holding its Upstream finish with it, and the next For builds a new
// client that shares the old one's limiter (one LimiterSource per pool, so a
// key's budget survives its client) and its cache entries.
type Pool struct {
	cache    *Cache
	limiters LimiterSource
	opts     []lemlist.Option

	mu      sync.Mutex
	tenants *simplelru.LRU[string, Upstream]
}

// NewPool returns a pool configured by o, or an error if o is invalid.
func NewPool(o PoolOptions) (*Pool, error) {
	switch {
	case o.RateLimit == 0:
		o.RateLimit = lemlist.DefaultRateLimit
	case o.RateLimit < 0:
		o.RateLimit = 0 // lemlist: no limiting
	}
	if o.RateWindow == 0 {
		o.RateWindow = lemlist.DefaultRateWindow
	}
	if o.RateWindow < 0 {
		return nil, fmt.Errorf("upstream: negative rate window %s", o.RateWindow)
	}
	if o.MaxTenants < 0 {
		return nil, fmt.Errorf("upstream: negative MaxTenants %d", o.MaxTenants)
	}
	if o.MaxTenants == 0 {
		o.MaxTenants = DefaultMaxTenants
	}
	if o.Cache == nil {
		o.Cache = NewCache(CacheOptions{})
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	opts := slices.Clone(o.ClientOptions)
	if o.BaseURL != "" {
		opts = append(opts, lemlist.WithBaseURL(o.BaseURL))
	}
	opts = append(opts, lemlist.WithHTTPClient(o.HTTPClient))
	// Check the options once, rather than on a tenant's first request.
	if _, err := lemlist.NewClient("", opts...); err != nil {
		return nil, fmt.Errorf("upstream: pool options: %w", err)
	}
	if o.Limiters == nil {
		o.Limiters = lemlist.NewLimiters(o.RateLimit, o.RateWindow)
	}
	p := &Pool{cache: o.Cache, limiters: o.Limiters, opts: opts}
	p.tenants, _ = simplelru.NewLRU[string, Upstream](o.MaxTenants, nil)
	return p, nil
}

// For returns the Upstream of apiKey: the same one on every call while the
// key's tenant stays in the pool. It returns ErrNoAPIKey for an empty key.
// Its errors never contain the key.
func (p *Pool) For(apiKey string) (Upstream, error) {
	if apiKey == "" {
		return nil, ErrNoAPIKey
	}
	id := TenantID(apiKey)
	p.mu.Lock()
	defer p.mu.Unlock()
	if up, ok := p.tenants.Get(id); ok {
		return up, nil
	}
	opts := append(slices.Clip(p.opts), lemlist.WithLimiter(p.limiters.For(apiKey)))
	c, err := lemlist.NewClient(apiKey, opts...)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), apiKey, "[REDACTED]"))
	}
	up := Cached(Client(c), p.cache, id)
	p.tenants.Add(id, up)
	return up, nil
}

// Limiter returns the limiter of apiKey's budget, the one its Upstream
// takes its request slots from, for calls to lemlist made with the key
// outside the pool (registering a webhook), so that they count against
// the same budget.
func (p *Pool) Limiter(apiKey string) lemlist.Limiter {
	return p.limiters.For(apiKey)
}

func defaultHTTPClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// Len returns the number of tenants held.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tenants.Len()
}
