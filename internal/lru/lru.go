// Package lru is the one in-memory cache of the server: least recently used
// entries go first, bounded in entries and in bytes, each entry kept until
// its expiry. The upstream cache, the stats cache and the response cache
// are all one of these.
//
// The list, the map and the count bound are hashicorp/golang-lru's
// simplelru. What it cannot do is written here: a bound on the sum of the
// entries' sizes (simplelru counts entries only), an expiry per entry read
// from an injected clock (golang-lru's expirable package has one TTL for
// every entry, reads time.Now, and starts a goroutine per cache that is
// never stopped), and the lock (simplelru is not safe for concurrent use).
package lru

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Options configure a Cache. The zero value bounds nothing and keeps
// entries added with Add until they are evicted or replaced.
type Options[K comparable, V any] struct {
	// MaxEntries bounds the number of entries; zero (or less) means no
	// bound.
	MaxEntries int
	// MaxBytes bounds the sum of the entries' costs; zero (or less) means
	// no bound. An entry costing more than MaxBytes on its own is never
	// kept.
	MaxBytes int64
	// Cost is an entry's size in bytes, as MaxBytes counts it: the caller's
	// estimate of its memory. It is called once, when the entry is added.
	// Nil weighs every entry 0.
	Cost func(K, V) int64
	// TTL is how long Add keeps an entry; zero (or less) keeps it until it
	// is evicted or replaced. AddUntil sets an entry's expiry itself.
	TTL time.Duration
	// Now is the clock that expiries are read against; nil means time.Now.
	Now func() time.Time
}

// Cache is a least-recently-used cache bounded in entries and bytes, whose
// entries expire. An expired entry is a miss, and is dropped when looked
// up; until then it holds its place like any other. Adding beyond a bound
// evicts the least recently used entries until the cache is within it. A
// Cache is safe for concurrent use.
type Cache[K comparable, V any] struct {
	maxBytes int64
	cost     func(K, V) int64
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	lru   *simplelru.LRU[K, item[V]]
	bytes int64
}

// item is an entry's value with its cost and expiry.
type item[V any] struct {
	v       V
	cost    int64
	expires time.Time // zero: never
}

// New returns an empty cache configured by o.
func New[K comparable, V any](o Options[K, V]) *Cache[K, V] {
	if o.MaxEntries <= 0 {
		o.MaxEntries = math.MaxInt
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = math.MaxInt64
	}
	if o.Cost == nil {
		o.Cost = func(K, V) int64 { return 0 }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache[K, V]{maxBytes: o.MaxBytes, cost: o.Cost, ttl: max(o.TTL, 0), now: o.Now}
	// Every removal, eviction included, goes through the callback; only a
	// replacement by Add does not (see add).
	c.lru, _ = simplelru.NewLRU(o.MaxEntries, func(_ K, it item[V]) { c.bytes -= it.cost })
	return c
}

// Get returns the value under k and true, if there is one that has not
// expired; it is then the most recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.lru.Get(k)
	if ok && !it.expires.IsZero() && !c.now().Before(it.expires) {
		c.lru.Remove(k)
		ok = false
	}
	if !ok {
		var zero V
		return zero, false
	}
	return it.v, true
}

// Add keeps v under k for the cache's TTL, replacing any value there, and
// evicts the least recently used entries beyond the bounds. A value costing
// more than MaxBytes is not kept, and drops the value it would replace,
// which is older still.
func (c *Cache[K, V]) Add(k K, v V) {
	var expires time.Time
	if c.ttl > 0 {
		expires = c.now().Add(c.ttl)
	}
	c.add(k, v, expires)
}

// AddUntil is Add, keeping v until expires rather than for the cache's TTL.
func (c *Cache[K, V]) AddUntil(k K, v V, expires time.Time) {
	c.add(k, v, expires)
}

func (c *Cache[K, V]) add(k K, v V, expires time.Time) {
	it := item[V]{v: v, cost: c.cost(k, v), expires: expires}
	c.mu.Lock()
	defer c.mu.Unlock()
	if it.cost > c.maxBytes {
		c.lru.Remove(k)
		return
	}
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= old.cost // simplelru replaces without calling back
	}
	c.lru.Add(k, it) // may evict the oldest, beyond MaxEntries
	c.bytes += it.cost
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// Remove drops the value under k, if any.
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k)
}

// Size returns the number of entries held, expired ones included, and the
// sum of their costs.
func (c *Cache[K, V]) Size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// Values returns the values held, expired ones included, from the least
// to the most recently used, without changing their order. It is for
// tests and diagnostics: it copies every value.
func (c *Cache[K, V]) Values() []V {
	c.mu.Lock()
	defer c.mu.Unlock()
	its := c.lru.Values()
	vs := make([]V, len(its))
	for i, it := range its {
		vs[i] = it.v
	}
	return vs
}
