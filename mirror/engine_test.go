package mirror_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// calls returns the fake's GET /activities count.
func calls(fake *lemlisttest.Server) int { return fake.CountRequests("/activities") }

func TestBackfillIsExactAndCostsAPagePerHundred(t *testing.T) {
	t.Parallel()
	n := storetest.Scale(5000)
	fake := newFake(t, n)
	clk := &clock{now: t0.Add(time.Hour)}
	store := openStore(t, "")
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Keyset pages re-read the activities sharing each page's oldest
	// createdAt: about one row per page.
	if got, most := calls(fake), n/99+2; got < n/100 || got > most {
		t.Errorf("backfill of %d activities took %d calls, want %d to %d", n, got, n/100, most)
	}
	s := status(t, e)
	if s.State != mirror.StateLive || s.Activities != n || !s.AllTime || s.BackfillProgress != 1 ||
		!s.CoveredTo.Equal(t0.Add(time.Hour)) || s.LastError != "" || s.Counters.Calls != int64(calls(fake)) {
		t.Errorf("status after backfill: %+v", s)
	}
	if !s.Covers(time.Time{}) || !s.Covers(t0.Add(-100*24*time.Hour)) || s.Covers(t0.Add(-101*24*time.Hour)) {
		t.Errorf("coverage: %+v", s)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
	// Backfill again: nothing to do, no call.
	before := calls(fake)
	if err := e.Backfill(t.Context()); err != nil || calls(fake) != before {
		t.Errorf("second backfill: %v, %d calls", err, calls(fake)-before)
	}
}

func TestEmptyHistoryCostsOneCall(t *testing.T) {
	t.Parallel()
	fake := newFake(t, -1)
	clk := &clock{now: t0}
	store := openStore(t, "")
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := calls(fake); got != 1 {
		t.Errorf("empty history: %d calls, want 1", got)
	}
	s := status(t, e)
	if s.State != mirror.StateLive || s.Activities != 0 || !s.AllTime || !s.Covers(time.Time{}) {
		t.Errorf("status: %+v", s)
	}
}

func TestSinceCutsHistory(t *testing.T) {
	t.Parallel()
	fake := newFake(t, storetest.Scale(3000))
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	since := t0.Add(-30 * 24 * time.Hour)
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: since})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows := truth(t, fake, since)
	if got, most := calls(fake), len(rows)/99+2; got > most {
		t.Errorf("%d activities since %s: %d calls, want at most %d", len(rows), since, got, most)
	}
	s := status(t, e)
	if s.AllTime || s.Covers(time.Time{}) || !s.CoveredFrom.Equal(since) || !s.Covers(since) || s.Covers(since.Add(-time.Millisecond)) {
		t.Errorf("older activities exist: %+v", s)
	}
	checkExact(t, store, rows)

	// A webhook for an activity older than Since is dropped: the mirror
	// does not cover that time.
	old := &lemlist.Activity{ID: "act_tooOld", Type: "emailsSent", CreatedAt: since.Add(-time.Hour)}
	if err := e.Ingest(t.Context(), []*lemlist.Activity{old}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := store.Get(t.Context(), "tenant", old.ID); ok {
		t.Error("an activity older than Since was stored")
	}
}

func TestHeadInsertsDuringBackfill(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 1000)
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	pub := &published{}
	list := newCounted(fake)
	var inserted []string
	// Every third call, three activities arrive at the head, dated after
	// the backfill began, as lemlist sees them while offsets are walked.
	list.hook = func(n int64) error {
		if n%3 == 0 && n < 40 {
			for _, a := range fake.InsertActivities(3) {
				inserted = append(inserted, a.ID)
			}
			clk.Add(3 * time.Second)
		}
		return nil
	}
	e := newEngine(t, store, list.List, mirror.Options{
		Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour),
		OnIngest: pub.on,
	})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := store.Count(t.Context(), "tenant"); n != 1000 {
		t.Errorf("the backfill stored %d, want the 1000 older than its start", n)
	}
	clk.Add(time.Minute)
	if err := e.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
	pub.check(t, inserted)
	// A second poll re-reads the overlap and publishes nothing again.
	before := len(pub.list())
	clk.Add(5 * time.Second)
	if err := e.Poll(t.Context()); err != nil || len(pub.list()) != before {
		t.Errorf("second poll: %v, published %d more", err, len(pub.list())-before)
	}
}

func TestReconcileLateArrivalsAndDeletions(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 1500)
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	pub := &published{}
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{
		Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour), OnIngest: pub.on,
	})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	all, _ := fake.Expected(nil)
	// Late arrivals within the lookback (24 h) and older; deletions too.
	late, err := fake.Insert(
		lemlisttest.ActivitySpec{CreatedAt: t0.Add(-2 * time.Hour)},
		lemlisttest.ActivitySpec{CreatedAt: t0.Add(-20 * time.Hour), Type: "emailsSent"},
		lemlisttest.ActivitySpec{CreatedAt: all[5].CreatedAt}, // shares a createdAt
		lemlisttest.ActivitySpec{CreatedAt: t0.Add(-40 * 24 * time.Hour)},
	)
	if err != nil {
		t.Fatal(err)
	}
	recent := []string{all[0].ID, all[3].ID, all[10].ID}
	old := []string{all[1000].ID, all[1200].ID}
	fake.Delete(append(slices.Clone(recent), old...)...)
	if !all[10].CreatedAt.After(t0.Add(-24 * time.Hour)) {
		t.Fatalf("all[10] at %s is outside the lookback", all[10].CreatedAt)
	}

	clk.Add(10 * time.Minute)
	if err := e.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := status(t, e)
	if s.Counters.ReconcileAdded != 3 || s.Counters.ReconcileRemoved != 3 || !s.LastReconciledAt.Equal(clk.Now()) {
		t.Errorf("lookback reconciliation: %+v", s.Counters)
	}
	got := pub.list()
	slices.Sort(got)
	want := []string{late[0].ID, late[1].ID, late[2].ID} // late is newest first; late[3] is 40 days old
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("published %v, want the recent late arrivals %v", got, want)
	}
	if n, _ := store.Count(t.Context(), "tenant"); n != 1500+3-3 {
		t.Errorf("after the lookback reconciliation: %d", n)
	}

	// The full reconciliation finds the older ones.
	before := calls(fake)
	if err := e.ReconcileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := calls(fake) - before; got > 1500/99+2 {
		t.Errorf("full reconciliation of 1500 activities: %d calls", got)
	}
	s = status(t, e)
	if s.Counters.ReconcileAdded != 4 || s.Counters.ReconcileRemoved != 5 {
		t.Errorf("full reconciliation: %+v", s.Counters)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
	if got := pub.list(); len(got) != 4 || got[3] != late[3].ID {
		t.Errorf("published %v, want the old late arrival %s fourth, after the full reconciliation", got, late[3].ID)
	}
}

func TestTiesBeyondAPage(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 500)
	all, _ := fake.Expected(nil)
	at := all[200].CreatedAt
	specs := make([]lemlisttest.ActivitySpec, 250)
	for i := range specs {
		specs[i].CreatedAt = at
	}
	if _, err := fake.Insert(specs...); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
	if got := calls(fake); got > 750/99+6 {
		t.Errorf("%d calls for 750 activities, 251 of them at one instant", got)
	}
	if err := e.ReconcileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := status(t, e); s.Counters.ReconcileAdded != 0 || s.Counters.ReconcileRemoved != 0 {
		t.Errorf("reconciling an exact mirror changed it: %+v", s.Counters)
	}
}

func TestRestartResumesWithoutNewBackfill(t *testing.T) {
	t.Parallel()
	const n = 2000
	fake := newFake(t, n)
	clk := &clock{now: t0.Add(time.Minute)}
	path := t.TempDir() + "/mirror.db"
	store := openStore(t, path)
	list := newCounted(fake)
	list.hook = func(c int64) error {
		if c == 11 {
			return errors.New("connection reset")
		}
		return nil
	}
	e := newEngine(t, store, list.List, mirror.Options{Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour)})
	if err := e.Backfill(t.Context()); err == nil {
		t.Fatal("backfill survived the failing call")
	}
	s := status(t, e)
	if s.State != mirror.StateFailing || !strings.Contains(s.LastError, "connection reset") || s.Activities < 900 || s.Activities > 1000 ||
		s.BackfillProgress <= 0 || s.BackfillProgress >= 1 {
		t.Fatalf("status after 10 pages and a failure: %+v", s)
	}
	stored, _, _ := store.LoadState(t.Context(), "tenant")
	done := s.Activities
	store.Close()

	// A new process: same file, later clock.
	clk.Add(time.Hour)
	store2 := openStore(t, path)
	before := calls(fake)
	e2 := newEngine(t, store2, newCounted(fake).List, mirror.Options{Now: clk.Now, Since: t0.Add(-10 * 24 * time.Hour)})
	if s := status(t, e2); s.State != mirror.StateBackfilling || s.Activities != done {
		t.Errorf("status before the first step: %+v", s)
	}
	if err := e2.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, _, _ := store2.LoadState(t.Context(), "tenant")
	if !st.Start.Equal(stored.Start) || !st.Since.Equal(stored.Since) {
		t.Errorf("a new backfill started: %+v, was %+v", st, stored)
	}
	if got, most := calls(fake)-before, (n-900)/99+3; got > most {
		t.Errorf("resumed backfill took %d calls, want at most %d", got, most)
	}
	if err := e2.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, store2, truth(t, fake, time.Time{}))
	if s := status(t, e2); s.State != mirror.StateLive || s.LastError != "" {
		t.Errorf("status: %+v", s)
	}

	// Restart once more after the backfill: one poll, one call.
	store2.Close()
	store3 := openStore(t, path)
	before = calls(fake)
	e3 := newEngine(t, store3, newCounted(fake).List, mirror.Options{Now: clk.Now})
	if err := e3.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if err := e3.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := calls(fake) - before; got != 1 {
		t.Errorf("restart after the backfill: %d calls, want 1 (the poll)", got)
	}
	checkExact(t, store3, truth(t, fake, time.Time{}))
}

func TestIngestPublishesOnce(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 300)
	clk := &clock{now: t0.Add(time.Minute)}
	store := openStore(t, "")
	pub := &published{}
	e := newEngine(t, store, newCounted(fake).List, mirror.Options{
		Now: clk.Now, Since: t0.Add(-100 * 24 * time.Hour), OnIngest: pub.on,
	})
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	late, _ := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: t0.Add(30 * time.Second)}, lemlisttest.ActivitySpec{CreatedAt: t0.Add(40 * time.Second)})
	// The webhook brings them first (decoded by the lemlist client's types).
	var hook []*lemlist.Activity
	for _, a := range late {
		act := new(lemlist.Activity)
		if err := act.UnmarshalJSON(a.JSON()); err != nil {
			t.Fatal(err)
		}
		hook = append(hook, act)
	}
	if err := e.Ingest(t.Context(), append(hook, hook[0])); err != nil {
		t.Fatal(err)
	}
	want := []string{late[1].ID, late[0].ID} // oldest first
	if got := pub.list(); !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
	clk.Add(5 * time.Second)
	if err := e.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := pub.list(); !slices.Equal(got, want) {
		t.Errorf("the poll published again: %v", got)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
}
