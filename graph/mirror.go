package graph

import "github.com/lemlist-graphql/server/mirror"

// MirrorSource finds the mirror of a tenant (issue 12): the server's
// mirror.Manager. Resolver.Mirror nil means the mirror is off.
type MirrorSource interface {
	// For returns the engine syncing (or, on a replica that does not
	// hold the tenant's lease, reading) the tenant's mirror, named as
	// loaders.Options.Tenant names it; nil when the mirror does not serve
	// the tenant.
	For(tenant string) *mirror.Engine
}
