package mirror_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// waitLive waits until e's backfill is done.
func waitLive(t *testing.T, e *mirror.Engine) mirror.Status {
	t.Helper()
	for {
		s := status(t, e)
		if s.State == mirror.StateLive {
			return s
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("engine never got LIVE: %+v", s)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// A Manager runs an engine per tenant up to its cap, each syncing its
// tenant, and keeps the counters of stopped engines in its sums.
func TestManager(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 450)
	store := openStore(t, "")
	c := newCounted(fake)
	m, err := mirror.NewManager(store, mirror.ManagerOptions{
		Engine:     mirror.Options{ChannelOf: channelOf, Since: t0.Add(-100 * 24 * time.Hour), PollInterval: time.Hour},
		MaxTenants: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Start("tenant", c.List)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := m.Start("tenant", c.List); err != nil || again != e {
		t.Fatalf("second Start = %p, %v; want the same engine", again, err)
	}
	if m.For("tenant") != e || m.For("other") != nil {
		t.Fatal("For does not find the engines Start made")
	}
	if _, err := m.Start("other", c.List); !errors.Is(err, mirror.ErrTooManyTenants) {
		t.Fatalf("Start beyond the cap = %v, want ErrTooManyTenants", err)
	}
	s := waitLive(t, e)
	if s.Activities != 450 || !s.Syncing {
		t.Fatalf("status %+v, want the fake's 450 activities, syncing", s)
	}
	// The engine counts a call just before making it, and a head poll may
	// be starting as it turns LIVE: wait for the counter and the calls
	// that reached the upstream to agree (no further call comes for an
	// hour).
	waitFor(t, "the calls counted to reach the upstream", func() bool { return m.Counters().Calls == c.calls.Load() })
	before := m.Counters()
	if before.Calls == 0 || before.Calls != c.calls.Load() || before.RowsInserted != 450 {
		t.Fatalf("counters %+v, want the %d calls made and 450 rows", before, c.calls.Load())
	}
	if !m.Stop("tenant") || m.For("tenant") != nil || m.Len() != 0 {
		t.Fatal("Stop did not forget the engine")
	}
	if after := m.Counters(); after.Calls < before.Calls || after.RowsInserted != 450 {
		t.Fatalf("counters went down after Stop: %+v, then %+v", before, after)
	}
	// A new engine resumes from the checkpoint: no second backfill.
	e2, err := m.Start("tenant", c.List)
	if err != nil {
		t.Fatal(err)
	}
	if s := waitLive(t, e2); s.Activities != 450 || s.Counters.RowsInserted != 0 {
		t.Fatalf("restarted engine: %+v, want the 450 stored, none inserted again", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start("tenant", c.List); !errors.Is(err, mirror.ErrManagerClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// Adopt serves an engine its caller filled, without running it: For finds
// it, the manager makes no call of its own, and the cap and Close apply as
// to Start.
func TestManagerAdopt(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 300)
	store := openStore(t, "")
	c := newCounted(fake)
	m, err := mirror.NewManager(store, mirror.ManagerOptions{Engine: mirror.Options{ChannelOf: channelOf}, MaxTenants: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, store, c.List, mirror.Options{Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	filled := c.calls.Load()
	if err := m.Adopt(e); err != nil {
		t.Fatal(err)
	}
	if m.For("tenant") != e || m.Len() != 1 {
		t.Fatal("For does not find the adopted engine")
	}
	if s := status(t, e); s.Activities != 300 || s.Syncing || c.calls.Load() != filled {
		t.Fatalf("status %+v after %d calls, want the 300 backfilled, not syncing, after %d", s, c.calls.Load(), filled)
	}
	if err := m.Adopt(e); err == nil {
		t.Error("a second Adopt of the tenant succeeded")
	}
	other, err := mirror.NewEngine("other", store, c.List, mirror.Options{ChannelOf: channelOf})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Adopt(other); !errors.Is(err, mirror.ErrTooManyTenants) {
		t.Fatalf("Adopt beyond the cap = %v, want ErrTooManyTenants", err)
	}
	if !m.Stop("tenant") || m.For("tenant") != nil {
		t.Fatal("Stop did not forget the adopted engine")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Adopt(e); !errors.Is(err, mirror.ErrManagerClosed) {
		t.Fatalf("Adopt after Close = %v, want ErrManagerClosed", err)
	}
}
