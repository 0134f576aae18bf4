package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/lemlist-graphql/server/internal/lru"
)

// Kinds of call, as a CacheObserver is told them.
const (
	KindActivities = "activities" // ListActivities
	KindLead       = "lead"       // GetLead
	KindContacts   = "contacts"   // GetContacts
	KindCampaign   = "campaign"   // GetCampaign
	KindTeam       = "team"       // GetTeam
)

// Cache defaults.
const (
	// DefaultMaxBytes bounds a Cache's estimated memory unless
	// CacheOptions.MaxBytes says otherwise.
	DefaultMaxBytes = 64 << 20
	// DefaultCallTimeout bounds a shared upstream call unless
	// CacheOptions.CallTimeout says otherwise.
	DefaultCallTimeout = 30 * time.Second
)

// CacheObserver receives a Cache's metrics. kind is one of the Kind
// constants. Methods run on the calling goroutine, so they must be fast and
// safe for concurrent use.
type CacheObserver interface {
	// CacheHit reports a call answered from the cache.
	CacheHit(kind string)
	// CacheMiss reports a call not answered from the cache (every call when
	// caching is off for its kind). It then either makes an upstream call or
	// joins one in flight.
	CacheMiss(kind string)
	// Coalesced reports a missed call that got the result of another
	// caller's identical upstream call instead of making its own.
	Coalesced(kind string)
}

type nopObserver struct{}

func (nopObserver) CacheHit(string)  {}
func (nopObserver) CacheMiss(string) {}
func (nopObserver) Coalesced(string) {}

// CacheOptions configure a Cache. The zero value coalesces identical
// concurrent calls and caches nothing.
type CacheOptions struct {
	// TTL is how long activities pages, leads and contacts are kept. Zero
	// (or less) turns caching off for every kind; identical concurrent
	// calls are still coalesced.
	TTL time.Duration
	// LongTTL is how long campaigns and the team, which rarely change, are
	// kept. Zero means 10×TTL.
	LongTTL time.Duration
	// NotFoundTTL is how long a 404 from GetLead or GetCampaign, and an id
	// missing from a GetContacts answer, are remembered. Such ids come from
	// activities whose lead, contact or campaign was deleted, and would
	// otherwise cost a request each time a page shows them. Zero means TTL;
	// a negative value turns this off.
	NotFoundTTL time.Duration
	// MaxBytes bounds the cache's estimated memory; the least recently used
	// entries are evicted to stay under it. Zero means DefaultMaxBytes.
	MaxBytes int64
	// CallTimeout bounds an upstream call made on behalf of a cache miss.
	// The call runs detached from its first caller's cancellation, so that
	// callers who joined it are not failed when that caller goes away; this
	// timeout is then its only bound. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer receives hits, misses and coalesced calls; nil discards them.
	Observer CacheObserver
	// Shared, if set, is a second-level store shared with other processes
	// (Redis; see SharedStore): consulted on a miss in memory, written on
	// every fill. Nil keeps the cache in memory only.
	Shared SharedStore
	// SharedTimeout bounds each call to Shared. Zero means
	// DefaultSharedTimeout.
	SharedTimeout time.Duration
}

// Cache is an in-memory cache of upstream answers, shared by every tenant
// of a process and partitioned by tenant (see Cached). It also coalesces
// identical concurrent calls of a tenant into one upstream call. Its memory
// is bounded by CacheOptions.MaxBytes: entries are weighed by an estimate
// of their size (mostly the length of their objects' raw JSON), and the
// least recently used go first. With CacheOptions.Shared, a store shared
// with other replicas (Redis) backs the memory: answers one replica fetched
// serve the others, and a hit there is kept in memory and reported as a
// hit. It is safe for concurrent use.
type Cache struct {
	ttl         [numKinds]time.Duration
	notFoundTTL time.Duration
	callTimeout time.Duration
	now         func() time.Time
	obs         CacheObserver
	store       store
	mem         *memStore // store's first level (all of it without Shared)
	flights     singleflight.Group
	// waits holds the lemlist.SlotWait of each flight in progress, by
	// flight name: whether its call waits for a rate limit slot.
	waits sync.Map

	// joined, when set by a test, is called by every caller that waits for
	// a flight, once it is registered with it.
	joined func()
}

// NewCache returns a cache configured by o.
func NewCache(o CacheOptions) *Cache {
	if o.LongTTL <= 0 {
		o.LongTTL = 10 * o.TTL
	}
	if o.TTL <= 0 {
		o.TTL, o.LongTTL = 0, 0
	}
	if o.NotFoundTTL == 0 {
		o.NotFoundTTL = o.TTL
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.SharedTimeout <= 0 {
		o.SharedTimeout = DefaultSharedTimeout
	}
	mem := newMemStore(o.MaxBytes, o.Now)
	c := &Cache{
		notFoundTTL: max(o.NotFoundTTL, 0),
		callTimeout: o.CallTimeout,
		now:         o.Now,
		obs:         o.Observer,
		store:       mem,
		mem:         mem,
	}
	if o.Shared != nil {
		c.store = newTieredStore(mem, o.Shared, o.SharedTimeout, o.Now)
	}
	c.ttl = [numKinds]time.Duration{
		kindActivities: o.TTL,
		kindLead:       o.TTL,
		kindContacts:   o.TTL,
		kindCampaign:   o.LongTTL,
		kindTeam:       o.LongTTL,
	}
	return c
}

// Size returns the number of entries held and their estimated size in
// bytes, for a gauge.
func (c *Cache) Size() (entries int, bytes int64) { return c.store.size() }

// kind is a cached call, as a small integer.
type kind uint8

const (
	kindActivities kind = iota
	kindLead
	kindContacts
	kindCampaign
	kindTeam
	numKinds
)

var kindNames = [numKinds]string{KindActivities, KindLead, KindContacts, KindCampaign, KindTeam}

// kindRoutes are the lemlist routes of each kind's call, as errors name
// them (lemlist.RateLimitError.Endpoint).
var kindRoutes = [numKinds]string{"activities", "leads", "contacts", "campaigns/{id}", "team"}

func (k kind) String() string { return kindNames[k] }

// key identifies an entry: a tenant's call. arg is the call's canonical
// argument: the encoded query of an activities page, a lead, contact or
// campaign id, or nothing for the team. A struct rather than a joined string,
// so that lookups by id build nothing and no separator can be forged.
type key struct {
	tenant string
	kind   kind
	arg    string
}

// String encodes k unambiguously (the tenant is length-prefixed), as the
// singleflight key and a shared store's key.
func (k key) String() string {
	b := make([]byte, 0, 8+len(k.tenant)+len(k.arg))
	b = strconv.AppendInt(b, int64(len(k.tenant)), 10)
	b = append(b, ':')
	b = append(b, k.tenant...)
	b = append(b, '/')
	b = append(b, kindNames[k.kind]...)
	b = append(b, '/')
	b = append(b, k.arg...)
	return string(b)
}

// entry is a cached answer.
type entry struct {
	// val is the answer: []*lemlist.Activity, *lemlist.Lead,
	// *lemlist.Contact, *lemlist.Campaign or *lemlist.Team; nil with err,
	// or for a contact id lemlist does not know.
	val any
	// err is a remembered 404 of GetLead or GetCampaign.
	err error
	// size is the entry's estimated memory in bytes, key included.
	size    int64
	expires time.Time
}

// entryOverhead is the estimated memory of an entry beside its value: the
// entry, the LRU's list element and its map slot.
const entryOverhead = 256

// store holds the cache's entries: memStore, an in-process LRU bounded by
// bytes, or tieredStore, a memStore over a SharedStore (see shared.go),
// consulted on a first-level miss only: hits stay on decoded Go values and
// never pay for encoding. ctx is for a shared store's I/O. Entries expire
// on the cache's clock.
type store interface {
	// get returns k's entry if it has not expired.
	get(ctx context.Context, k key) (*entry, bool)
	// getMany is get for each of ks: the entry of ks[i], or nil.
	getMany(ctx context.Context, ks []key) []*entry
	// put stores e under k until e.expires, replacing any entry there.
	put(ctx context.Context, k key, e *entry)
	// putMany is put for each of ks and es.
	putMany(ctx context.Context, ks []key, es []*entry)
	// size returns the number of entries and their estimated bytes.
	size() (int, int64)
}

// memStore is a store in memory, bounded by the estimated size of its
// entries, evicting the least recently used first. An entry larger than
// the bound is not kept, and drops the entry it would replace.
type memStore struct {
	lru *lru.Cache[key, *entry]
}

func newMemStore(maxBytes int64, now func() time.Time) *memStore {
	return &memStore{lru: lru.New(lru.Options[key, *entry]{
		MaxBytes: maxBytes,
		Cost:     func(_ key, e *entry) int64 { return e.size },
		Now:      now,
	})}
}

func (s *memStore) get(_ context.Context, k key) (*entry, bool) { return s.lru.Get(k) }

func (s *memStore) getMany(ctx context.Context, ks []key) []*entry {
	es := make([]*entry, len(ks))
	for i, k := range ks {
		es[i], _ = s.get(ctx, k)
	}
	return es
}

func (s *memStore) put(_ context.Context, k key, e *entry) { s.lru.AddUntil(k, e, e.expires) }

func (s *memStore) putMany(ctx context.Context, ks []key, es []*entry) {
	for i, k := range ks {
		s.put(ctx, k, es[i])
	}
}

func (s *memStore) size() (int, int64) { return s.lru.Size() }

// tenantIDDomain separates TenantID's hashes from any other SHA-256 of an
// API key (lemlist.Limiters keys its limiters by the plain hash).
const tenantIDDomain = "lemlist-graphql/upstream.TenantID/v1\x00"

// TenantID returns the opaque tenant id of apiKey, for Cached: the hex
// encoding of the first 16 bytes of a domain-separated SHA-256 of the key.
// It is stable across processes, so it can key a shared store, and reveals
// nothing of the key.
func TenantID(apiKey string) string {
	sum := sha256.Sum256([]byte(tenantIDDomain + apiKey))
	return hex.EncodeToString(sum[:16])
}
