package mirror_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
)

// faulty is a store whose writes fail while err is set: the faults a real
// database does not produce on demand (a full disk).
type faulty struct {
	mirror.Store
	err atomic.Pointer[error]
}

func (f *faulty) Apply(ctx context.Context, tenant string, b mirror.Batch) (mirror.Applied, error) {
	if p := f.err.Load(); p != nil {
		return mirror.Applied{}, *p
	}
	return f.Store.Apply(ctx, tenant, b)
}

func TestFullDiskFailsThenRecovers(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 800)
	clk := &clock{now: t0.Add(time.Minute)}
	store := &faulty{Store: openStore(t, "")}
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	full := errors.New("database or disk is full")
	store.err.Store(&full)
	fake.InsertActivities(2)
	clk.Add(10 * time.Second)
	if err := e.Poll(t.Context()); !errors.Is(err, full) {
		t.Fatalf("poll on a full disk: %v", err)
	}
	s := status(t, e)
	if s.State != mirror.StateFailing || !strings.Contains(s.LastError, "disk is full") || s.Counters.Failures != 1 || s.Activities != 800 {
		t.Errorf("status on a full disk: %+v", s)
	}
	// Webhooks fail too, and say so.
	if err := e.Ingest(t.Context(), []*lemlist.Activity{{ID: "act_x", Type: "emailsSent", CreatedAt: t0}}); !errors.Is(err, full) {
		t.Errorf("ingest on a full disk: %v", err)
	}
	store.err.Store(nil)
	if err := e.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := status(t, e); s.State != mirror.StateLive || s.LastError != "" {
		t.Errorf("status after recovery: %+v", s)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
}

func TestLockedDatabaseFailsThenRecovers(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 300)
	clk := &clock{now: t0.Add(time.Minute)}
	path := filepath.Join(t.TempDir(), "mirror.db")
	store, err := sqlite.Open(t.Context(), path, sqlite.Options{BusyTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Another process holds the write lock.
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	fake.InsertActivities(1)
	clk.Add(10 * time.Second)
	if err := e.Poll(t.Context()); err == nil {
		t.Fatal("poll wrote through another process's lock")
	}
	s := status(t, e)
	if s.State != mirror.StateFailing || !strings.Contains(s.LastError, "locked") {
		t.Errorf("status with a locked database: %+v", s)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := e.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := status(t, e); s.State != mirror.StateLive {
		t.Errorf("status after the lock: %+v", s)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
}

func TestUpstreamFailureIsFailing(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 300)
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	fake.FailNext(503, 1)
	if err := e.Backfill(t.Context()); lemlist.StatusCode(err) != 503 {
		t.Fatalf("backfill: %v", err)
	}
	if s := status(t, e); s.State != mirror.StateFailing || !strings.Contains(s.LastError, "503") || s.Activities != 0 {
		t.Errorf("status: %+v", s)
	}
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := status(t, e); s.State != mirror.StateLive {
		t.Errorf("status: %+v", s)
	}
}

// leased is a store with leases: held is whether the engine gets it. Its
// writes are fenced as a shared store's are: one with a Holder fails with
// mirror.ErrLeaseLost while held is false.
type leased struct {
	mirror.Store
	held     atomic.Bool
	fenced   atomic.Int64 // writes with a Holder
	mu       sync.Mutex
	acquired int
	released []string
}

func (l *leased) Apply(ctx context.Context, tenant string, b mirror.Batch) (mirror.Applied, error) {
	if b.Holder != "" {
		l.fenced.Add(1)
		if !l.held.Load() {
			return mirror.Applied{}, mirror.ErrLeaseLost
		}
	}
	return l.Store.Apply(ctx, tenant, b)
}

func (l *leased) AcquireLease(_ context.Context, tenant, holder string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquired++
	return l.held.Load(), nil
}

func (l *leased) ReleaseLease(_ context.Context, tenant, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released = append(l.released, tenant+"/"+holder)
	return nil
}

// waitFor polls cond until it holds; the test's deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	give := time.After(2 * time.Minute)
	for !cond() {
		select {
		case <-give:
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestRunSyncsOnlyWithTheLease(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	fake := liveFake(t, 3, 400, now)
	store := &leased{Store: openStore(t, "")}
	pub := &published{}
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{
		PollInterval: 20 * time.Millisecond, LeaseTTL: 60 * time.Millisecond, Holder: "replica-1",
		OnIngest: pub.on,
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()

	// Without the lease: nothing synced.
	waitFor(t, "a lease attempt", func() bool { store.mu.Lock(); defer store.mu.Unlock(); return store.acquired >= 2 })
	if s := status(t, e); s.Syncing || calls(fake) != 0 {
		t.Errorf("without the lease: %+v, %d calls", s, calls(fake))
	}
	store.held.Store(true)
	waitFor(t, "LIVE", func() bool { s := status(t, e); return s.State == mirror.StateLive && s.Syncing })
	late, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new activity", func() bool { return len(pub.list()) == 1 })
	if got := pub.list(); got[0] != late[0].ID {
		t.Errorf("published %v, want %s", got, late[0].ID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if s := status(t, e); s.Syncing || len(store.released) != 1 || store.released[0] != "tenant/replica-1" {
		t.Errorf("after Run: syncing %v, released %v", s.Syncing, store.released)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
}

// TestLeaseLostMidStep: another process takes the lease while a step
// runs (this one overran it). The step's fenced write is refused; the
// engine stops syncing without calling it a failure; meanwhile the other
// process finishes the backfill; when the lease comes back, the engine
// reads the state the other one left instead of its own, and does not
// read the history again.
func TestLeaseLostMidStep(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	fake := liveFake(t, 5, 1500, now)
	shared := openStore(t, "")
	store := &leased{Store: shared}
	store.held.Store(true)
	list := newCounted(fake)
	list.hook = func(n int64) error {
		if n == 5 { // mid-backfill: the lease is taken over
			store.held.Store(false)
		}
		return nil
	}
	e := newEngine(t, store, list.List, mirror.Options{
		PollInterval: 20 * time.Millisecond, LeaseTTL: 60 * time.Millisecond, Holder: "replica-a",
		Since: now.Add(-400 * 24 * time.Hour),
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	waitFor(t, "the lease lost", func() bool { return !store.held.Load() && !status(t, e).Syncing })
	if s := status(t, e); s.State == mirror.StateFailing || s.LastError != "" || s.Counters.Failures != 0 {
		t.Errorf("a lost lease is no failure: %+v", s)
	}
	if store.fenced.Load() == 0 {
		t.Error("the engine's writes carried no Holder")
	}
	// The other process (another engine on the same database) finishes.
	other := newEngine(t, shared, newCounted(fake).List, mirror.Options{Since: now.Add(-400 * 24 * time.Hour)})
	if err := other.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := list.calls.Load()
	store.held.Store(true)
	waitFor(t, "LIVE again", func() bool { s := status(t, e); return s.Syncing && s.State == mirror.StateLive })
	// Head polls only: a few calls, not the 15 of the history.
	if n := list.calls.Load() - before; n > 8 {
		t.Errorf("%d calls after the lease came back: the engine read the history again", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	checkExact(t, shared, truth(t, fake, time.Time{}))
}

// TestOddSummaryStoredNotPublished: a summary whose other fields the full
// decode refuses (lemlist sent "bot" as a string) is stored, counted, and
// not published half-decoded; the engine says so in its log.
func TestOddSummaryStoredNotPublished(t *testing.T) {
	t.Parallel()
	at := time.Now().UTC().Add(-time.Second).Truncate(time.Millisecond)
	raw := `{"_id":"act_odd","type":"emailsSent","createdAt":"` + at.Format(time.RFC3339Nano) + `","bot":"true"}`
	odd := &lemlist.Activity{ID: "act_odd", Type: "emailsSent", CreatedAt: at, Summary: true, Raw: []byte(raw)}
	fine := &lemlist.Activity{ID: "act_fine", Type: "emailsSent", CreatedAt: at}
	store := openStore(t, "")
	pub := &published{}
	var logs strings.Builder // Ingest logs from this goroutine
	e := newEngine(t, store, func(context.Context, *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) { return nil, nil },
		mirror.Options{OnIngest: pub.on, Since: at.Add(-time.Hour), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := e.Ingest(t.Context(), []*lemlist.Activity{odd, fine}); err != nil {
		t.Fatal(err)
	}
	if n, err := store.Count(t.Context(), "tenant"); n != 2 || err != nil {
		t.Fatalf("stored %d (%v), want 2", n, err)
	}
	pub.check(t, []string{"act_fine"})
	if !strings.Contains(logs.String(), "stored but not published") || !strings.Contains(logs.String(), "act_odd") {
		t.Errorf("no warning for act_odd in the log:\n%s", logs.String())
	}
}
