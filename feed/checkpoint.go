package feed

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Checkpoint keeps each poller's Position, so that a restarted server
// resumes its pollers where they stood instead of from a new baseline.
// Keys are a tenant id (Tenant.ID) and a filter key: the query string the
// poller sends lemlist, which identifies its upstream filter. A poller
// saves after each poll that delivered something, and deletes its
// position when it stops because its last subscription ended (not when
// the hub closes). Implementations must be safe for concurrent use; their
// errors are logged, and a poller whose Load fails starts from a baseline.
type Checkpoint interface {
	// Load returns the position saved for tenant and filter; ok is false
	// when there is none.
	Load(ctx context.Context, tenant, filter string) (pos Position, ok bool, err error)
	// Save replaces the position of tenant and filter.
	Save(ctx context.Context, tenant, filter string, pos Position) error
	// Delete forgets the position of tenant and filter, if any.
	Delete(ctx context.Context, tenant, filter string) error
}

// Position is where a poller stands in the activities of its filter.
type Position struct {
	// From is the minDate of the poller's next read: it is done with
	// every activity created before From (delivered, part of its
	// baseline, or beyond its lookback).
	From time.Time
	// Newest is the newest createdAt it delivered or saw in its baseline.
	Newest time.Time
	// Seen are the ids created at or after From that it delivered or saw
	// in its baseline: its next read meets them again and drops them.
	Seen []string
	// Saved is when the position was saved (the server's clock). A
	// position older than Options.ResumeWithin is not resumed.
	Saved time.Time
}

// MemoryCheckpoint is a Checkpoint in memory: the default of a Hub. It
// survives a Hub, not the process.
type MemoryCheckpoint struct {
	mu  sync.Mutex
	pos map[[2]string]Position
}

// NewMemoryCheckpoint returns an empty MemoryCheckpoint.
func NewMemoryCheckpoint() *MemoryCheckpoint {
	return &MemoryCheckpoint{pos: map[[2]string]Position{}}
}

// Load implements Checkpoint.
func (m *MemoryCheckpoint) Load(_ context.Context, tenant, filter string) (Position, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pos[[2]string{tenant, filter}]
	p.Seen = slices.Clone(p.Seen)
	return p, ok, nil
}

// Save implements Checkpoint.
func (m *MemoryCheckpoint) Save(_ context.Context, tenant, filter string, pos Position) error {
	pos.Seen = slices.Clone(pos.Seen)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pos[[2]string{tenant, filter}] = pos
	return nil
}

// Delete implements Checkpoint.
func (m *MemoryCheckpoint) Delete(_ context.Context, tenant, filter string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pos, [2]string{tenant, filter})
	return nil
}
