package gateway

import (
	"context"
	"net/http"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/upstream"
)

// The mirror (MIRROR, issue 12) at the edge: its engines answer the
// GraphQL layer (graph.Resolver.Mirror); in pass-through mode a tenant's
// engine starts with the tenant's first operation (tenantScope calls
// startMirror); and for the tenants it mirrors it is the live feed's one
// source of new activities (livefeed.go: webhooks go into the engine's
// Ingest, the engine's OnIngest goes to LiveFeed.Ingested, which relays
// the new rows to the other replicas (storedrelay.go), and their
// subscriptions start no poller of the hub's).

// mirrorSource returns the resolver's view of the manager: nil (the mirror
// is off) when there is none, never an interface holding a nil pointer.
func (g *Gateway) mirrorSource() graph.MirrorSource {
	if g.o.Mirror == nil {
		return nil
	}
	return g.o.Mirror
}

// startMirror starts the engine of t in pass-through mode, unless it runs
// or the manager is at its cap (the tenant is then answered from
// upstream, and its live feed polled by the hub).
func (g *Gateway) startMirror(t *Tenant) {
	m := g.o.Mirror
	if m == nil || !g.o.MirrorOnRequest || t.ID == "" || m.For(t.ID) != nil {
		return
	}
	_, _ = m.Start(t.ID, passthroughList(m, t.ID, t.Upstream))
}

// passthroughList is the list function of a pass-through tenant's engine:
// up's calls without its cache (upstream.ListUncached), through the same
// client and per-key rate limiter as the tenant's interactive queries (the
// engine marks them background work through mirror.Options.Background).
// When lemlist refuses the key (401 or 403), the engine is stopped, so
// that a wrong key holds no engine; the tenant's next request starts one
// again, which resumes from the stored checkpoint.
func passthroughList(m *mirror.Manager, tenant string, up upstream.Upstream) mirror.ListFunc {
	list := upstream.ListUncached(up)
	return func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		rows, err := list(ctx, o)
		if s := lemlist.StatusCode(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
			m.Stop(tenant)
		}
		return rows, err
	}
}
