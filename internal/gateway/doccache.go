package gateway

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The executor's two caches of documents: the automatic persisted
// queries (APQ: a query's text by its SHA-256) and the parsed queries
// (a query's validated AST by its text). Both are bounded by the
// estimated bytes of their entries rather than by their number, since a
// client chooses the size of each document (up to MAX_BODY_BYTES).
const (
	// DefaultAPQMaxBytes bounds the persisted queries' text: a typical
	// document is a few KB, so thousands of them.
	DefaultAPQMaxBytes = 8 << 20
	// DefaultQueryCacheMaxBytes bounds the parsed queries: hundreds of
	// typical documents (see docCost). With DefaultAPQMaxBytes, 24 MiB.
	DefaultQueryCacheMaxBytes = 16 << 20
	// maxDocShare is the largest share of a cache one entry may take: a
	// larger document is not kept (it is parsed again, or sent again
	// whole), so that one client cannot flush everyone's documents with
	// one.
	maxDocShare = 16
)

// textCost is the memory of an APQ entry: the query text, its hash key
// and the entry's own bookkeeping.
func textCost(hash, query string) int64 { return int64(len(hash) + len(query) + 128) }

// docCost is the memory of a parsed query: gqlparser's AST, measured at
// 15 to 32 times the text it was parsed from (25 for a dashboard's query,
// 32 for the densest text of single-letter aliases), which it keeps as
// its source, plus the entry's own bookkeeping.
func docCost(query string, _ *ast.QueryDocument) int64 { return 40*int64(len(query)) + 1024 }

// sizedCache is a least-recently-used graphql.Cache bounded by the sum of
// its entries' costs; an entry costing more than a maxDocShare-th of the
// bound is not kept. It is safe for concurrent use.
//
// (internal/lru, from branch shared, is the same with a TTL: when it is
// on main, sizedCache becomes an lru.Cache with MaxBytes and Cost.)
type sizedCache[V any] struct {
	maxBytes, maxEntry int64
	cost               func(string, V) int64

	mu    sync.Mutex
	lru   *simplelru.LRU[string, sizedEntry[V]]
	bytes int64
}

type sizedEntry[V any] struct {
	v    V
	cost int64
}

var _ graphql.Cache[string] = (*sizedCache[string])(nil)

func newSizedCache[V any](maxBytes int64, cost func(string, V) int64) *sizedCache[V] {
	c := &sizedCache[V]{maxBytes: maxBytes, maxEntry: maxBytes / maxDocShare, cost: cost}
	c.lru, _ = simplelru.NewLRU(1<<30, func(_ string, e sizedEntry[V]) { c.bytes -= e.cost })
	return c
}

// Get implements graphql.Cache.
func (c *sizedCache[V]) Get(_ context.Context, key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	return e.v, ok
}

// Add implements graphql.Cache: it keeps v unless it costs more than its
// share, and evicts the least recently used entries beyond the bound.
func (c *sizedCache[V]) Add(_ context.Context, key string, v V) {
	e := sizedEntry[V]{v: v, cost: c.cost(key, v)}
	if e.cost > c.maxEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(key); ok {
		c.bytes -= old.cost // Add replaces it without an eviction
	}
	c.lru.Add(key, e)
	c.bytes += e.cost
	for c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// size returns the entries held and the sum of their costs.
func (c *sizedCache[V]) size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// persistedQueries is gqlgen's AutomaticPersistedQuery, except that it
// keeps a document only once it has parsed and validated: gqlgen's stores
// the text as soon as its hash matches, before parsing, so any string a
// client hashes would take room. Here gqlgen's extension stores into a
// pending slot of the operation (pendingAPQ), and MutateOperationContext,
// which gqlgen runs only for operations that parsed and validated, moves
// it into the byte-bounded store.
type persistedQueries struct {
	extension.AutomaticPersistedQuery
	store *sizedCache[string]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = persistedQueries{}

func newPersistedQueries(maxBytes int64) persistedQueries {
	store := newSizedCache(maxBytes, textCost)
	return persistedQueries{AutomaticPersistedQuery: extension.AutomaticPersistedQuery{Cache: pendingAPQ{store}}, store: store}
}

// MutateOperationContext implements graphql.OperationContextMutator: it
// keeps the operation's persisted query, now that it has parsed and
// validated.
func (p persistedQueries) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if q, ok := oc.Stats.GetExtension(pendingAPQKey).(*pendingQuery); ok {
		p.store.Add(ctx, q.hash, q.query)
	}
	return nil
}

// pendingAPQKey names the operation's pending persisted query among its
// Stats extensions.
const pendingAPQKey = "lemlist-graphql:pendingAPQ"

type pendingQuery struct{ hash, query string }

// pendingAPQ is the cache gqlgen's APQ extension sees: it reads from the
// store, and its Add only notes the text in the operation, for
// persistedQueries.MutateOperationContext to keep.
type pendingAPQ struct{ store *sizedCache[string] }

func (c pendingAPQ) Get(ctx context.Context, hash string) (string, bool) {
	return c.store.Get(ctx, hash)
}

func (c pendingAPQ) Add(ctx context.Context, hash, query string) {
	if graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(pendingAPQKey, &pendingQuery{hash: hash, query: query})
	}
}
