// Package graph is the GraphQL layer: the gqlgen-generated executor
// (generated.go), the resolvers, and the error presenter. Resolvers stay
// thin: arguments become a loader or client call, then a model conversion.
package graph

//go:generate go tool gqlgen generate

// Default connection sizes.
const (
	// DefaultPageSize is a connection's size without first or last.
	DefaultPageSize = 20
	// DefaultMaxPageSize caps first and last.
	DefaultMaxPageSize = 500
)

// Resolver is the root resolver. The upstream itself comes per request,
// through loaders.For(ctx), since each tenant has its own.
type Resolver struct {
	// MaxPageSize caps first and last; 0 means DefaultMaxPageSize.
	MaxPageSize int
	// Concurrency bounds one connection's upstream calls in flight; 0
	// means 4.
	Concurrency int
	// Stats caches activityStats answers per tenant (loaders.Options.Tenant)
	// and arguments; nil caches nothing, and neither does a request whose
	// loaders name no tenant. The pages a scan reads go through the
	// tenant's upstream, whose own cache is unaffected.
	Stats *StatsCache
	// Feed serves Subscription.activityAdded (subscription.go); nil turns
	// it off (FEED_UNAVAILABLE).
	Feed Feed
	// Mirror is the incremental mirror of each tenant's activities (MIRROR);
	// nil when it is off.
	Mirror MirrorSource
}

func (r *Resolver) concurrency() int {
	if r.Concurrency > 0 {
		return r.Concurrency
	}
	return 4
}

func (r *Resolver) maxPageSize() int {
	if r.MaxPageSize > 0 {
		return r.MaxPageSize
	}
	return DefaultMaxPageSize
}
