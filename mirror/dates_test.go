package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// sameIDs fails t unless the store holds exactly the fake's activities,
// by id and createdAt: checkExact without the aggregates.
func sameIDs(t *testing.T, store mirror.Store, fake *lemlisttest.Server) {
	t.Helper()
	stored, err := store.IDsInRange(t.Context(), "tenant", t0.Add(-365*24*time.Hour), t0.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]time.Time, len(stored))
	for _, s := range stored {
		have[s.ID] = s.CreatedAt
	}
	all, _ := fake.Expected(nil)
	for _, a := range all {
		if at, ok := have[a.ID]; !ok || !at.Equal(a.CreatedAt) {
			t.Fatalf("%s (%s) stored %v at %s", a.ID, a.CreatedAt, ok, at)
		}
	}
	if len(stored) != len(all) {
		t.Fatalf("store holds %d activities, the fake %d", len(stored), len(all))
	}
}

// reconcile runs the lookback reconciliation, then the full one when
// full, and fails t unless the engine's counters then show added and
// removed rows in all.
func reconcile(t *testing.T, e *mirror.Engine, full bool, added, removed int64) {
	t.Helper()
	if err := e.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if full {
		if err := e.ReconcileAll(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if c := status(t, e).Counters; c.ReconcileAdded != added || c.ReconcileRemoved != removed {
		t.Errorf("reconciliation added %d and removed %d, want %d and %d", c.ReconcileAdded, c.ReconcileRemoved, added, removed)
	}
}

func actIDs(acts []lemlisttest.Activity) []string {
	return ids(acts, func(a lemlisttest.Activity) string { return a.ID })
}

// TestSecondPrecisionUpstream syncs a dense history (several activities
// per second, more than a page within one second, a page at one
// millisecond) from a fake that honours milliseconds in minDate and
// maxDate, and from one that truncates them to the second, as lemlist's
// docs leave possible: no row is missed, none is doubled (published
// twice, or removed and added back by reconciliation).
func TestSecondPrecisionUpstream(t *testing.T) {
	t.Parallel()
	for _, prec := range []time.Duration{0, time.Second} {
		t.Run(prec.String(), func(t *testing.T) {
			t.Parallel()
			base := storetest.Scale(3000) // about 2.5 a second
			fake := lemlisttest.NewServer(lemlisttest.Options{
				Dataset:       lemlisttest.DatasetOptions{Seed: 5, Activities: base, Now: t0, Span: time.Duration(base) * 400 * time.Millisecond},
				RateLimit:     lemlisttest.NoRateLimit,
				DatePrecision: prec,
			})
			t.Cleanup(fake.Close)
			all, _ := fake.Expected(nil)
			sec := all[base/2].CreatedAt.Truncate(time.Second).Add(-5 * time.Second)
			var specs []lemlisttest.ActivitySpec
			for i := range 150 { // 150 at distinct milliseconds of one second
				specs = append(specs, lemlisttest.ActivitySpec{CreatedAt: sec.Add(time.Duration(i*6) * time.Millisecond)})
			}
			for range 120 { // and 120 at one of them
				specs = append(specs, lemlisttest.ActivitySpec{CreatedAt: sec.Add(900 * time.Millisecond)})
			}
			if _, err := fake.Insert(specs...); err != nil {
				t.Fatal(err)
			}
			n := base + len(specs)

			clk := &clock{now: t0.Add(time.Minute).Add(345 * time.Millisecond)}
			store := openStore(t, "")
			pub := &published{}
			e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-time.Hour), OnIngest: pub.on})
			if err := e.Backfill(t.Context()); err != nil {
				t.Fatal(err)
			}
			sameIDs(t, store, fake)
			if got, most := calls(fake), n/95+6; got > most {
				t.Errorf("backfill of %d activities: %d calls, want at most %d", n, got, most)
			}

			// The head: activities within the clock's second, around
			// CoveredTo, between polls.
			var head []string
			for round := range 3 {
				now := clk.Now()
				late, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: now.Add(-300 * time.Millisecond)},
					lemlisttest.ActivitySpec{CreatedAt: now}, lemlisttest.ActivitySpec{CreatedAt: now.Add(-time.Duration(round+1) * time.Millisecond)})
				if err != nil {
					t.Fatal(err)
				}
				head = append(head, actIDs(late)...)
				clk.Add(1300 * time.Millisecond)
				if err := e.Poll(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			sameIDs(t, store, fake)

			// Late arrivals in crowded seconds, and deletions; then the
			// lookback (all of it) and the full reconciliation.
			all, _ = fake.Expected(nil)
			late, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: sec.Add(901 * time.Millisecond)},
				lemlisttest.ActivitySpec{CreatedAt: all[99].CreatedAt}, lemlisttest.ActivitySpec{CreatedAt: all[base/4].CreatedAt.Add(time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			if fake.Delete(all[100].ID, all[base*2/3].ID) != 2 {
				t.Fatal("delete")
			}
			clk.Add(10 * time.Minute)
			reconcile(t, e, true, 3, 2)
			checkExact(t, store, truth(t, fake, time.Time{}))
			pub.check(t, append(head, actIDs(late)...))
		})
	}
}

// TestFutureCreatedAt: an activity lemlist dates after the engine's clock
// (its clock may run ahead, or it dates one in the future) is stored as
// dated and counted from the first poll that sees it, but the checkpoint
// stays at the engine's clock: an activity dated in between is still
// read. Reconciliation, which stops at CoveredTo, neither deletes it nor
// adds it back, and it is published once.
func TestFutureCreatedAt(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 300)
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	pub := &published{}
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour), OnIngest: pub.on})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	future, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	poll := func() {
		t.Helper()
		if err := e.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := status(t, e); !s.CoveredTo.Equal(clk.Now()) {
			t.Fatalf("CoveredTo %s, want the engine's clock %s", s.CoveredTo, clk.Now())
		}
	}
	poll()
	if s := status(t, e); s.Activities != 301 {
		t.Errorf("%d activities stored, want 301: the future one counts", s.Activities)
	}
	if st, err := store.Stats(context.Background(), "tenant", mirror.StatsQuery{Filter: mirror.Filter{From: clk.Now()}}); err != nil || st.Total != 1 {
		t.Errorf("stats from now: %+v %v", st, err)
	}

	// (a) The checkpoint stayed at the clock: an activity dated between
	// it and the future one is read by the next poll.
	soon, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: clk.Now().Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	poll()

	// (c) Reconciliation leaves it alone and adds nothing.
	clk.Add(10 * time.Minute)
	poll()
	reconcile(t, e, true, 0, 0)
	if _, ok, _ := store.Get(t.Context(), "tenant", future[0].ID); !ok {
		t.Fatal("reconciliation deleted the future activity")
	}

	// Once the clock passes it, it is an ordinary activity.
	clk.Add(time.Hour)
	poll()
	reconcile(t, e, false, 0, 0)
	checkExact(t, store, truth(t, fake, time.Time{}))
	pub.check(t, []string{future[0].ID, soon[0].ID})
}
