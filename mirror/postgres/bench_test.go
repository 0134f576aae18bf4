package postgres_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	gmodel "github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
)

// The benchmarks start their own PostgreSQL (skipped when none is
// installed). Their data is the fake's: realistic JSON (about 1.2 kB an
// activity), 250 campaigns, a year of history.
//
//	go test -run '^$' -bench . -benchtime 3s ./mirror/postgres/
//
// MIRROR_BENCH_ROWS sets BenchmarkMillion's size (default 1,000,000).

// benchNow is the fake's present in the benchmarks.
var benchNow = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// fakeActivities returns n activities of the fake over a year, newest
// first.
func fakeActivities(b *testing.B, n int) []lemlisttest.Activity {
	b.Helper()
	srv := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{
		Seed: 1, Activities: n, Now: benchNow, Span: 365 * 24 * time.Hour,
	}})
	b.Cleanup(srv.Close)
	acts, err := srv.Tenant(lemlisttest.DefaultTenant).Expected(url.Values{})
	if err != nil {
		b.Fatal(err)
	}
	return acts
}

// rowOf converts a fake activity as the engine would: decoded by the
// client's types, columns by mirror.RowOf.
func rowOf(a lemlisttest.Activity) mirror.Row {
	raw := a.JSON()
	var la lemlist.Activity
	if err := json.Unmarshal(raw, &la); err != nil {
		panic(err) // the fake's JSON
	}
	la.Raw = raw
	return mirror.RowOf(&la, func(typ string) string { return string(gmodel.ChannelOf(typ)) })
}

// BenchmarkIngest measures Apply of new activities in batches of 100 (one
// upstream page), 1000, 2000 and 5000, by INSERT from arrays and by COPY into a
// temporary table and a merge. Each batch is one transaction.
func BenchmarkIngest(b *testing.B) {
	c := startCluster(b)
	acts := fakeActivities(b, 20000)
	rows := make([]mirror.Row, len(acts))
	for i, a := range acts {
		rows[i] = rowOf(a)
	}
	for _, size := range []int{100, 1000, 2000, 5000} {
		for _, mode := range []struct {
			name    string
			copyMin int
		}{{"insert", -1}, {"copy", 1}} {
			b.Run(fmt.Sprintf("batch=%d/%s", size, mode.name), func(b *testing.B) {
				s := open(b, c.URL(c.newDB(b)), postgres.Options{CopyThreshold: mode.copyMin})
				batch := make([]mirror.Row, size)
				n := 0
				for b.Loop() {
					for i := range batch {
						batch[i] = rows[n%len(rows)]
						batch[i].ID += "_" + strconv.Itoa(n/len(rows)) // always a new activity
						n++
					}
					if _, err := s.Apply(b.Context(), "t", mirror.Batch{Upserts: batch, At: benchNow}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

func benchSize(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("MIRROR_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("MIRROR_BENCH_ROWS=%q: %v", v, err)
		}
	}
	return n
}

// BenchmarkMillion loads a million activities (in batches of 1000) and
// measures what replicas do with them: the aggregates the issue bounds
// (p50 reported as p50-ms), the version check each read makes (Count), a
// replica's catch-up after another's write, a cold replica's first load,
// reconciliation's range read, and the table's size (logged with -v).
func BenchmarkMillion(b *testing.B) {
	c := startCluster(b)
	n := benchSize(b)
	acts := fakeActivities(b, n)
	db := c.newDB(b)
	u := c.URL(db)
	w := open(b, u, postgres.Options{})

	// Load: batches converted ahead by a goroutine; only Apply is timed.
	batches := make(chan []mirror.Row, 4)
	go func() {
		defer close(batches)
		for i := 0; i < len(acts); i += 1000 {
			batch := make([]mirror.Row, 0, 1000)
			for _, a := range acts[i:min(i+1000, len(acts))] {
				batch = append(batch, rowOf(a))
			}
			batches <- batch
		}
	}()
	var applying time.Duration
	for batch := range batches {
		t0 := time.Now()
		if _, err := w.Apply(b.Context(), "t", mirror.Batch{Upserts: batch, At: benchNow}); err != nil {
			b.Fatal(err)
		}
		applying += time.Since(t0)
	}
	b.Logf("loaded %d activities in %v of Apply: %.0f rows/s", n, applying.Round(time.Millisecond), float64(n)/applying.Seconds())
	c.admin(b, db, "VACUUM ANALYZE activities")
	sizes := c.ints(b, db, `SELECT pg_total_relation_size('activities') UNION ALL
		SELECT pg_relation_size('activities') UNION ALL SELECT pg_indexes_size('activities')`)
	per := func(bytes int64) float64 { return float64(bytes) / (1 << 20) * 1e6 / float64(n) }
	b.Logf("per 1M activities: total %.0f MiB (heap %.0f MiB, TOAST and others %.0f MiB, indexes %.0f MiB)",
		per(sizes[0]), per(sizes[1]), per(sizes[0]-sizes[1]-sizes[2]), per(sizes[2]))

	b.Run("Load", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(n)/applying.Seconds(), "rows/s")
		b.ReportMetric(per(sizes[0]), "MiB-per-1M")
	})

	r := open(b, u, postgres.Options{}) // another replica
	p50 := func(b *testing.B, op func() error) {
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := op(); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	}
	b.Run("Count", func(b *testing.B) {
		// The check every read makes (one round trip), and nothing else.
		p50(b, func() error { _, err := r.Count(b.Context(), "t"); return err })
	})
	paris, _ := time.LoadLocation("Europe/Paris")
	b.Run("Stats/day×campaign/90d", func(b *testing.B) {
		q := mirror.StatsQuery{Filter: mirror.Filter{From: benchNow.Add(-90 * 24 * time.Hour), To: benchNow},
			GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: paris}
		p50(b, func() error { _, err := r.Stats(b.Context(), "t", q); return err })
	})
	b.Run("Series/daily/365d", func(b *testing.B) {
		q := mirror.SeriesQuery{Filter: mirror.Filter{From: benchNow.Add(-365 * 24 * time.Hour), To: benchNow},
			Interval: mirror.Day, Location: paris}
		p50(b, func() error { _, err := r.Series(b.Context(), "t", q); return err })
	})
	b.Run("Stats/afterOtherReplicaWrote100", func(b *testing.B) {
		// Each read follows a 100-row batch written by the other replica
		// (not timed): the reader catches up from the change log.
		q := mirror.StatsQuery{Filter: mirror.Filter{From: benchNow.Add(-90 * 24 * time.Hour), To: benchNow},
			GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: paris}
		var ds []time.Duration
		k := 0
		for b.Loop() {
			b.StopTimer()
			batch := make([]mirror.Row, 100)
			for i := range batch {
				batch[i] = rowOf(acts[k%len(acts)])
				batch[i].ID += "_new"
				k++
			}
			if _, err := w.Apply(b.Context(), "t", mirror.Batch{Upserts: batch, At: benchNow}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t0 := time.Now()
			if _, err := r.Stats(b.Context(), "t", q); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	})
	b.Run("IDsInRange/24h", func(b *testing.B) {
		p50(b, func() error {
			_, err := r.IDsInRange(b.Context(), "t", benchNow.Add(-24*time.Hour), benchNow)
			return err
		})
	})
	b.Run("ColdColumns", func(b *testing.B) {
		// A replica's first read loads the tenant's columns (last: it
		// leaves garbage behind).
		p50(b, func() error {
			s, err := postgres.Open(b.Context(), u, postgres.Options{})
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.Count(b.Context(), "t")
			return err
		})
	})
}
