package mirror

import "context"

// The read side of an Engine: what the GraphQL layer asks of a tenant's
// mirror. Each method reads the engine's store for the engine's tenant;
// none waits for a sync step. Whether the
// mirror covers a question's range is Status.Covers.

// Stats answers q over the tenant's stored activities.
func (e *Engine) Stats(ctx context.Context, q StatsQuery) (*Stats, error) {
	return e.store.Stats(ctx, e.tenant, q)
}

// Series answers q over the tenant's stored activities.
func (e *Engine) Series(ctx context.Context, q SeriesQuery) (*Series, error) {
	return e.store.Series(ctx, e.tenant, q)
}

// Get returns one of the tenant's stored activities; ok is false when
// there is none.
func (e *Engine) Get(ctx context.Context, id string) (r Row, ok bool, err error) {
	return e.store.Get(ctx, e.tenant, id)
}
