package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/internal/lru"
)

// responseCache keeps the answers of queries for a short time
// (RESPONSE_CACHE_TTL), so that dashboards polling the same query are
// answered without executing it again: no resolver, no loader, no upstream
// cache lookup. It sits under the upstream cache, which already bounds
// staleness to CACHE_TTL; an answer here adds at most its own TTL to that.
//
// An entry's key is a hash of the tenant, the operation name, the query
// text and the variables, so tenants never share an entry. Only queries
// that succeeded without any error are kept, and only as one complete
// answer: the parts of an incremental delivery (@defer) never are. The cache is bounded both in
// entries and in bytes, and an answer larger than maxEntry is never kept.
type responseCache struct {
	maxEntry int
	lru      *lru.Cache[[sha256.Size]byte, json.RawMessage]

	hits, misses atomic.Uint64
}

// Bounds of the response cache.
const (
	responseCacheEntries  = 4096
	responseCacheMaxEntry = 256 << 10
)

// newResponseCache returns a cache keeping answers for ttl, within
// maxBytes; nil (no cache) when ttl or maxBytes is not positive.
func newResponseCache(ttl time.Duration, maxBytes int) *responseCache {
	if ttl <= 0 || maxBytes <= 0 {
		return nil
	}
	return &responseCache{
		maxEntry: min(responseCacheMaxEntry, maxBytes),
		lru: lru.New(lru.Options[[sha256.Size]byte, json.RawMessage]{
			MaxEntries: responseCacheEntries,
			MaxBytes:   int64(maxBytes),
			Cost:       func(_ [sha256.Size]byte, data json.RawMessage) int64 { return int64(len(data)) },
			TTL:        ttl,
		}),
	}
}

// uncachedFields are fields whose answers must be current: an operation
// selecting one anywhere (aliased, nested, or in a fragment) is never
// answered from the cache. mirrorStatus reports the mirror's progress,
// which a dashboard polls to see it move.
var uncachedFields = []string{"mirrorStatus"}

// responseKey returns the key of operation oc for tenant, and false for
// operations that are never cached (anything but a query, and a query
// selecting one of uncachedFields).
func responseKey(tenant string, oc *graphql.OperationContext) ([sha256.Size]byte, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return [sha256.Size]byte{}, false
	}
	if selects(oc.Doc, oc.Operation.SelectionSet, uncachedFields, map[string]bool{}) {
		return [sha256.Size]byte{}, false
	}
	vars, err := json.Marshal(oc.Variables) // map keys sorted: canonical
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	h := sha256.New()
	for _, part := range []string{tenant, oc.OperationName, oc.RawQuery} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(vars)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k, true
}

// selects reports whether set selects a field named (not aliased) one of
// names, at any depth, following inline fragments and the fragment
// spreads doc defines; seen holds the fragments already walked. It needs no
// schema, so it works on documents before and after validation.
func selects(doc *ast.QueryDocument, set ast.SelectionSet, names []string, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if slices.Contains(names, s.Name) || selects(doc, s.SelectionSet, names, seen) {
				return true
			}
		case *ast.InlineFragment:
			if selects(doc, s.SelectionSet, names, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			def := s.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(s.Name)
			}
			if def != nil && selects(doc, def.SelectionSet, names, seen) {
				return true
			}
		}
	}
	return false
}

// lookup returns the operation oc of tenant answered from the cache, if it
// is there; otherwise, for a cacheable operation, keep wraps its handler.
func (c *responseCache) lookup(tenant string, oc *graphql.OperationContext) (hit graphql.ResponseHandler, keep func(graphql.ResponseHandler) graphql.ResponseHandler) {
	key, ok := responseKey(tenant, oc)
	if !ok {
		return nil, nil
	}
	if data, ok := c.get(key); ok {
		c.hits.Add(1)
		return graphql.OneShot(&graphql.Response{Data: data}), nil
	}
	c.misses.Add(1)
	return nil, func(next graphql.ResponseHandler) graphql.ResponseHandler {
		first := true
		return func(ctx context.Context) *graphql.Response {
			resp := next(ctx)
			if first && complete(resp) {
				c.put(key, resp.Data)
			}
			first = false
			return resp
		}
	}
}

// complete reports whether resp is a whole answer that succeeded: data,
// no error, no extension, and none of the marks of incremental delivery
// (@defer over SSE or multipart: an initial payload with hasNext, then
// payloads with a label and a path), whose parts must never be kept as an
// answer, nor replace one.
func complete(resp *graphql.Response) bool {
	return resp != nil && len(resp.Errors) == 0 && len(resp.Data) > 0 && len(resp.Extensions) == 0 &&
		resp.HasNext == nil && resp.Label == "" && len(resp.Path) == 0
}

func (c *responseCache) get(key [sha256.Size]byte) (json.RawMessage, bool) {
	return c.lru.Get(key)
}

func (c *responseCache) put(key [sha256.Size]byte, data json.RawMessage) {
	if len(data) > c.maxEntry {
		return
	}
	c.lru.Add(key, data)
}

// size returns the entries and bytes held.
func (c *responseCache) size() (entries int, bytes int64) { return c.lru.Size() }
