package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// TestStore runs the store's tests against one PostgreSQL server, each
// subtest in databases of its own.
func TestStore(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	t.Run("Contract", func(t *testing.T) {
		t.Parallel()
		// The suite's large batches (500 rows) take the COPY path, its
		// small ones the INSERT.
		storetest.Run(t, func(t *testing.T) mirror.Store {
			return open(t, c.URL(c.newDB(t)), postgres.Options{CopyThreshold: 200})
		})
	})
	storetest.RunSecrets(t, func(t *testing.T) feed.SecretBackend { return open(t, c.URL(c.newDB(t)), postgres.Options{}) })
	t.Run("WebhookSecretsShared", func(t *testing.T) { t.Parallel(); testSecretsShared(t, c) })
	t.Run("CopyRoundTrip", func(t *testing.T) { t.Parallel(); testCopyRoundTrip(t, c) })
	t.Run("Replicas", func(t *testing.T) { t.Parallel(); testReplicas(t, c, postgres.Options{}) })
	t.Run("ReplicasCopy", func(t *testing.T) { t.Parallel(); testReplicas(t, c, postgres.Options{CopyThreshold: 1}) })
	t.Run("ConcurrentWriters", func(t *testing.T) { t.Parallel(); testConcurrentWriters(t, c) })
	t.Run("InsertedOnce", func(t *testing.T) { t.Parallel(); testInsertedOnce(t, c) })
	t.Run("PrunedTombstones", func(t *testing.T) { t.Parallel(); testPrunedTombstones(t, c) })
	t.Run("Migrations", func(t *testing.T) { t.Parallel(); testMigrations(t, c) })
	t.Run("Leases", func(t *testing.T) { t.Parallel(); testLeases(t, c) })
	t.Run("LeaseTakeover", func(t *testing.T) { t.Parallel(); testLeaseTakeover(t, c) })
	t.Run("LeaseFence", func(t *testing.T) { t.Parallel(); testLeaseFence(t, c) })
	t.Run("OpenErrors", func(t *testing.T) { t.Parallel(); testOpenErrors(t, c) })
	t.Run("EngineFailover", func(t *testing.T) { t.Parallel(); testEngineFailover(t, c) })
}

// end closes the tests' rows: three weeks without DST changes (the
// contract suite covers those).
var end = time.Date(2026, 2, 25, 0, 0, 0, 0, time.UTC)

func apply(t *testing.T, s mirror.Store, tenant string, b mirror.Batch) mirror.Applied {
	t.Helper()
	if b.At.IsZero() {
		b.At = end
	}
	res, err := s.Apply(t.Context(), tenant, b)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// model is what a tenant should hold: rows by id.
type model map[string]mirror.Row

func (m model) apply(b mirror.Batch) {
	for _, r := range b.Upserts {
		m[r.ID] = r
	}
	for _, id := range b.Deletes {
		delete(m, id)
	}
}

func (m model) rows() []mirror.Row {
	var out []mirror.Row
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

// check fails t when s's count and aggregates for tenant differ from
// brute force over m (a few queries: the contract suite checks the
// aggregates themselves; this checks that s holds the right rows).
func check(t *testing.T, s mirror.Store, tenant string, m model, queries []mirror.StatsQuery) {
	t.Helper()
	n, err := s.Count(t.Context(), tenant)
	if err != nil || n != len(m) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(m))
	}
	rows := m.rows()
	storetest.CheckStats(t, s, tenant, rows, queries)
	q := mirror.SeriesQuery{Filter: mirror.Filter{From: end.Add(-20 * 24 * time.Hour), To: end}, Interval: mirror.Day,
		GroupBy: []mirror.Dim{mirror.DimCampaign, mirror.DimType}}
	got, err := s.Series(t.Context(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := storetest.BruteSeries(rows, q)
	if diff := cmp.Diff(want.Lines, got.Lines); diff != "" {
		t.Fatalf("series differ from brute force (-want +got):\n%s", diff)
	}
}

// testReplicas: two Stores on one database see each other's writes as
// soon as they commit, incrementally after their first read.
func testReplicas(t *testing.T, c *cluster, opts postgres.Options) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, opts), open(t, url, opts)
	rows := storetest.RandomRows(11, 2000, end, 20*24*time.Hour)
	queries := storetest.Queries(12, rows, 8)
	m := model{}

	first := mirror.Batch{Upserts: rows[:1000]}
	apply(t, a, "t", first)
	m.apply(first)
	check(t, a, "t", m, queries) // read-your-writes
	check(t, b, "t", m, queries) // the other replica, loading its columns

	// Writes on either side, each read at once by both.
	for i, w := range []mirror.Store{b, a, b, a} {
		batch := mirror.Batch{Upserts: rows[1000+250*i : 1000+250*(i+1)]}
		for j := range 40 { // updates move rows between groups
			r := rows[(i*97+j*31)%1000]
			r.Type, r.Channel, r.CampaignID = "emailsReplied", "EMAIL", fmt.Sprintf("cam_%d%d", i, j%3)
			batch.Upserts = append(batch.Upserts, r)
		}
		for j := range 30 {
			batch.Deletes = append(batch.Deletes, rows[(i*131+j*17)%(1000+250*i)].ID)
		}
		apply(t, w, "t", batch)
		m.apply(batch)
		check(t, a, "t", m, queries)
		check(t, b, "t", m, queries)
	}
	// The sync state is shared too.
	st := mirror.State{Since: end.Add(-time.Hour), Start: end, Cursor: end, CoveredTo: end.Add(time.Minute)}
	apply(t, a, "t", mirror.Batch{State: &st})
	got, ok, err := b.LoadState(t.Context(), "t")
	if err != nil || !ok || !got.CoveredTo.Equal(st.CoveredTo) {
		t.Errorf("LoadState on the other replica: %+v %v %v", got, ok, err)
	}
	// A third replica starting now loads the same rows.
	check(t, open(t, url, postgres.Options{}), "t", m, queries)
}

// testCopyRoundTrip: rows written by COPY read back as written, and
// replays and duplicates in a batch behave as with INSERT.
func testCopyRoundTrip(t *testing.T, c *cluster) {
	s := open(t, c.URL(c.newDB(t)), postgres.Options{CopyThreshold: 1})
	step := 3
	r1 := mirror.Row{ID: "act_1", Type: "emailsSent", Channel: "EMAIL", CampaignID: "cam_1", LeadID: "lea_1",
		ContactID: "ctc_1", UserID: "usr_1", CreatedAt: end.Add(-time.Hour + 7*time.Millisecond), IsFirst: true,
		SequenceStep: &step, Raw: []byte(`{"_id": "act_1",  "x":[1]}`)}
	r2 := mirror.Row{ID: "act_2", Type: "annotated", Channel: "NOTE", CreatedAt: end}
	res := apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{r2, r1, r2}})
	if !slices.Equal(res.Inserted, []int{1, 2}) {
		t.Errorf("Inserted %v, want [1 2]", res.Inserted)
	}
	r1.Type = "emailsOpened"
	res = apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{r1, r2}})
	if len(res.Inserted) != 0 {
		t.Errorf("replay Inserted %v", res.Inserted)
	}
	for _, want := range []mirror.Row{r1, r2} {
		got, ok, err := s.Get(t.Context(), "t", want.ID)
		if !ok || err != nil {
			t.Fatalf("Get %s: %v %v", want.ID, ok, err)
		}
		if want.Raw == nil {
			want.Raw = []byte{}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get %s (-want +got):\n%s", want.ID, diff)
		}
	}
}

// testConcurrentWriters: two replicas write one tenant at once, as a
// syncer and a webhook would, while both read; afterwards every replica
// agrees with brute force. Their commits interleave, so a replica's
// columns receive other writers' rows between its own.
func testConcurrentWriters(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	stores := []*postgres.Store{a, b}
	rows := storetest.RandomRows(21, 4000, end, 20*24*time.Hour)
	for i := range rows { // two disjoint id spaces
		rows[i].ID = fmt.Sprintf("w%d_%s", i%2, rows[i].ID)
	}
	var batches [2][]mirror.Batch
	for w := range 2 {
		var mine []mirror.Row
		for i := w; i < len(rows); i += 2 {
			mine = append(mine, rows[i])
		}
		for i := 0; i < len(mine); i += 50 {
			bt := mirror.Batch{Upserts: mine[i : i+50]}
			if i >= 100 {
				bt.Deletes = []string{mine[i-100].ID, mine[i-97].ID}
			}
			batches[w] = append(batches[w], bt)
		}
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	done := make(chan struct{})
	for w := range 2 {
		wg.Go(func() {
			for _, bt := range batches[w] {
				bt.At = end
				if _, err := stores[w].Apply(ctx, "t", bt); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for _, s := range stores {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Stats(ctx, "t", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimCampaign}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := model{}
	for w := range 2 {
		for _, bt := range batches[w] {
			m.apply(bt) // the id spaces are disjoint: the order across writers does not matter
		}
	}
	queries := storetest.Queries(22, rows, 8)
	check(t, a, "t", m, queries)
	check(t, b, "t", m, queries)
	check(t, open(t, url, postgres.Options{}), "t", m, queries)
}

// testInsertedOnce: when two replicas write the same new activity at
// once (a webhook reaching both), exactly one reports it inserted.
func testInsertedOnce(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	rows := storetest.RandomRows(31, 40, end, time.Hour)
	inserted := make([][2]int, len(rows))
	var wg sync.WaitGroup
	for w, s := range []*postgres.Store{a, b} {
		wg.Go(func() {
			for i, r := range rows {
				res, err := s.Apply(t.Context(), "t", mirror.Batch{Upserts: []mirror.Row{r}, At: end})
				if err != nil {
					t.Error(err)
					return
				}
				inserted[i][w] = len(res.Inserted)
			}
		})
	}
	wg.Wait()
	for i, n := range inserted {
		if n[0]+n[1] != 1 {
			t.Errorf("row %d reported inserted %d times", i, n[0]+n[1])
		}
	}
	if n, _ := b.Count(t.Context(), "t"); n != len(rows) {
		t.Errorf("Count %d, want %d", n, len(rows))
	}
}

// testPrunedTombstones: a replica whose columns are older than the
// pruned tombstones reloads them instead of missing deletions.
func testPrunedTombstones(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	opts := postgres.Options{TombstoneRetention: time.Microsecond}
	a, b := open(t, url, opts), open(t, url, opts)
	rows := storetest.RandomRows(41, 300, end, 24*time.Hour)
	m := model{}
	for _, bt := range []mirror.Batch{{Upserts: rows}} {
		apply(t, a, "t", bt)
		m.apply(bt)
	}
	queries := storetest.Queries(42, rows, 5)
	check(t, b, "t", m, queries) // b's columns at version 1
	for _, bt := range []mirror.Batch{
		{Deletes: []string{rows[0].ID, rows[1].ID}},
		{Upserts: rows[10:20], Deletes: []string{rows[2].ID}}, // prunes the first tombstones
	} {
		time.Sleep(2 * time.Millisecond) // the tombstones age past the retention
		apply(t, a, "t", bt)
		m.apply(bt)
	}
	check(t, b, "t", m, queries)
}

// testMigrations: replicas opening a new database together migrate it
// once, and reopening changes nothing.
func testMigrations(t *testing.T, c *cluster) {
	db := c.newDB(t)
	url := c.URL(db)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 4)
	for i := range stores {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), url, postgres.Options{})
			if err != nil {
				t.Errorf("concurrent Open %d: %v", i, err)
				return
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, s := range append(stores, open(t, url, postgres.Options{})) {
		if v, err := s.Version(t.Context()); v != 2 || err != nil {
			t.Errorf("Version = %d, %v; want 2", v, err)
		}
	}
	if got := c.ints(t, db, "SELECT version FROM schema_migrations ORDER BY version"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("schema_migrations holds %v, want [1 2]", got)
	}
}

// testSecretsShared: replicas sharing the database share the webhook
// secrets: one registers, another checks.
func testSecretsShared(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	if _, err := a.EnsureWebhookSecret(t.Context(), "t1", "sealed-a"); err != nil {
		t.Fatal(err)
	}
	if v, err := b.EnsureWebhookSecret(t.Context(), "t1", "sealed-b"); v != "sealed-a" || err != nil {
		t.Fatalf("the other replica: %q, %v", v, err)
	}
	if v, ok, err := b.WebhookSecret(t.Context(), "t1"); v != "sealed-a" || !ok || err != nil {
		t.Fatalf("the other replica reads %q, %v, %v", v, ok, err)
	}
}
