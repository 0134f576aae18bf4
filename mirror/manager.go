package mirror

import (
	"context"
	"errors"
	"sync"
)

// DefaultMaxTenants bounds the engines of a Manager unless
// ManagerOptions.MaxTenants says otherwise. It is no setting: in
// pass-through mode each engine's backfill spends its own tenant's budget,
// and a hundred teams syncing is already far more than one process should
// hold in one store; the tenants beyond it are answered from upstream.
const DefaultMaxTenants = 100

// Errors of Manager.Start.
var (
	// ErrTooManyTenants refuses an engine beyond ManagerOptions.MaxTenants.
	ErrTooManyTenants = errors.New("mirror: too many tenants mirrored by this server")
	// ErrManagerClosed refuses an engine after Close.
	ErrManagerClosed = errors.New("mirror: manager closed")
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Engine configures every engine; its OnIngest receives the new
	// activities of all of them.
	Engine Options
	// MaxTenants bounds the engines; zero means DefaultMaxTenants.
	MaxTenants int
}

// Manager runs one Engine per tenant over one Store: Start creates a
// tenant's engine and runs it in a goroutine of its own until Stop or
// Close. It is the server's graph.MirrorSource (For). In server and demo
// modes it holds one tenant, started with the server; in pass-through
// mode the server starts a tenant's engine on the tenant's first request,
// up to MaxTenants. It is safe for concurrent use.
type Manager struct {
	store Store
	o     ManagerOptions

	mu      sync.Mutex
	engines map[string]*running
	closed  bool
	wg      sync.WaitGroup

	// retired are the counters of stopped engines, so that the sums of
	// Counters never go down.
	retired Counters
}

type running struct {
	e    *Engine
	stop context.CancelFunc
	done chan struct{}
}

// NewManager returns a manager of engines over store. Close closes store.
func NewManager(store Store, o ManagerOptions) (*Manager, error) {
	if store == nil {
		return nil, errors.New("mirror: NewManager needs a store")
	}
	if o.Engine.ChannelOf == nil {
		return nil, errors.New("mirror: ManagerOptions.Engine.ChannelOf is required")
	}
	if o.MaxTenants <= 0 {
		o.MaxTenants = DefaultMaxTenants
	}
	return &Manager{store: store, o: o, engines: map[string]*running{}}, nil
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

// Start returns the engine of tenant, creating and running it over list
// when there is none (list is then the tenant's upstream: see ListFunc).
// It fails beyond MaxTenants (ErrTooManyTenants) and after Close
// (ErrManagerClosed).
func (m *Manager) Start(tenant string, list ListFunc) (*Engine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrManagerClosed
	}
	if r := m.engines[tenant]; r != nil {
		return r.e, nil
	}
	if len(m.engines) >= m.o.MaxTenants {
		return nil, ErrTooManyTenants
	}
	e, err := NewEngine(tenant, m.store, list, m.o.Engine)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &running{e: e, stop: stop, done: make(chan struct{})}
	m.engines[tenant] = r
	m.wg.Go(func() {
		defer close(r.done)
		_ = e.Run(ctx)
	})
	return e, nil
}

// Adopt makes e, an engine over the manager's store that its caller
// built and drives itself (Backfill, Poll, Ingest) rather than Run, the
// engine of its tenant: For returns it, Stop and Close forget it, and the
// manager never runs it. Tests use it to serve a mirror they filled
// through the server's stack. Like Start, it fails beyond MaxTenants
// (ErrTooManyTenants) and after Close (ErrManagerClosed); it also fails
// when the tenant has an engine.
func (m *Manager) Adopt(e *Engine) error {
	if e == nil {
		return errors.New("mirror: Adopt needs an engine")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrManagerClosed
	case m.engines[e.tenant] != nil:
		return errors.New("mirror: Adopt: the tenant has an engine")
	case len(m.engines) >= m.o.MaxTenants:
		return ErrTooManyTenants
	}
	m.engines[e.tenant] = &running{e: e, stop: func() {}}
	return nil
}

// For returns the engine of tenant, nil when the manager runs none (the
// tenant is then answered from upstream). It implements
// graph.MirrorSource.
func (m *Manager) For(tenant string) *Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.engines[tenant]; r != nil {
		return r.e
	}
	return nil
}

// Stop stops the engine of tenant and forgets it, without waiting for it
// to finish its step (so that it may be called from the engine's own
// upstream calls); its stored mirror is kept, and a later Start resumes
// from its checkpoint. It reports whether there was one.
func (m *Manager) Stop(tenant string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.engines[tenant]
	if r == nil {
		return false
	}
	r.stop()
	delete(m.engines, tenant)
	m.retire(r.e)
	return true
}

// retire adds e's counters to retired; m.mu is held.
func (m *Manager) retire(e *Engine) {
	c := e.counters()
	m.retired.add(c)
}

// Engines returns the running engines, in no particular order.
func (m *Manager) Engines() []*Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Engine, 0, len(m.engines))
	for _, r := range m.engines {
		out = append(out, r.e)
	}
	return out
}

// Len returns the number of running engines.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.engines)
}

// Counters returns the sums of every engine's counters, those of stopped
// engines included: they never go down.
func (m *Manager) Counters() Counters {
	m.mu.Lock()
	sum := m.retired
	es := make([]*Engine, 0, len(m.engines))
	for _, r := range m.engines {
		es = append(es, r.e)
	}
	m.mu.Unlock()
	for _, e := range es {
		sum.add(e.counters())
	}
	return sum
}

// Close stops every engine, waits for them, and closes the store. Start
// fails afterwards. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, r := range m.engines {
		r.stop()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return m.store.Close()
}

// counters reads e's counters without the store (Status reads it).
func (e *Engine) counters() Counters {
	return Counters{
		Calls: e.calls.Load(), RowsWritten: e.written.Load(), RowsInserted: e.inserted.Load(),
		ReconcileAdded: e.added.Load(), ReconcileRemoved: e.removed.Load(),
		RepeatedPages: e.repeated.Load(), Failures: e.failures.Load(),
	}
}

// add adds c to s.
func (s *Counters) add(c Counters) {
	s.Calls += c.Calls
	s.RowsWritten += c.RowsWritten
	s.RowsInserted += c.RowsInserted
	s.ReconcileAdded += c.ReconcileAdded
	s.ReconcileRemoved += c.ReconcileRemoved
	s.RepeatedPages += c.RepeatedPages
	s.Failures += c.Failures
}
