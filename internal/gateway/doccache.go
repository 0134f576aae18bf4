package gateway

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/internal/lru"
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

// sizedCache is a graphql.Cache over an internal/lru cache bounded by
// the sum of its entries' costs, which keeps no entry costing more than a
// maxDocShare-th of the bound. It is safe for concurrent use.
type sizedCache[V any] struct {
	c        *lru.Cache[string, V]
	cost     func(string, V) int64
	maxEntry int64
}

var _ graphql.Cache[string] = (*sizedCache[string])(nil)

func newSizedCache[V any](maxBytes int64, cost func(string, V) int64) *sizedCache[V] {
	return &sizedCache[V]{
		c:    lru.New(lru.Options[string, V]{MaxBytes: maxBytes, Cost: cost}),
		cost: cost, maxEntry: maxBytes / maxDocShare,
	}
}

// Get implements graphql.Cache.
func (c *sizedCache[V]) Get(_ context.Context, key string) (V, bool) { return c.c.Get(key) }

// Add implements graphql.Cache: it keeps v unless it costs more than its
// share; the least recently used entries beyond the bound go.
func (c *sizedCache[V]) Add(_ context.Context, key string, v V) {
	if c.cost(key, v) > c.maxEntry {
		return
	}
	c.c.Add(key, v)
}

// size returns the entries held and the sum of their costs.
func (c *sizedCache[V]) size() (entries int, bytes int64) { return c.c.Size() }

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

// MutateOperationParameters implements graphql.OperationParameterMutator:
// gqlgen's, except that its errors about the persistedQuery extension
// (data that does not decode, an unsupported version, a hash that does not
// match the query) get the code BAD_REQUEST, where gqlgen gives them none
// (and the error presenter would make them INTERNAL).
func (p persistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, raw)
	if err != nil && err.Extensions["code"] == nil {
		errcode.Set(err, outcomeBadRequest)
	}
	return err
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

// Get implements graphql.Cache: the persisted query of hash.
func (c pendingAPQ) Get(ctx context.Context, hash string) (string, bool) {
	return c.store.Get(ctx, hash)
}

// Add implements graphql.Cache: it notes query as the operation's pending
// persisted query.
func (c pendingAPQ) Add(ctx context.Context, hash, query string) {
	if graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(pendingAPQKey, &pendingQuery{hash: hash, query: query})
	}
}
