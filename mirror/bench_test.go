package mirror_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
)

// BenchmarkBackfillAtRateLimit backfills N activities (MIRROR_BENCH_N,
// default 20000) from a fake that enforces lemlist's 20 requests per 2 s,
// through a client limited the same way, as the server's is. It reports
// the time against the floor of N/100 calls at 10 per second (x-floor;
// the target is at most 1.3), and the calls made.
func BenchmarkBackfillAtRateLimit(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("MIRROR_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	fake := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 9, Activities: n}})
	defer fake.Close()
	var elapsed time.Duration
	for b.Loop() {
		fake.ResetRequests()
		store := openStore(b, "")
		c := fake.Client(lemlist.WithRateLimit(lemlist.DefaultRateLimit, lemlist.DefaultRateWindow))
		e := newEngine(b, store, mirror.ClientList(c), mirror.Options{Now: func() time.Time { return t0.Add(time.Minute) }, Since: t0.Add(-100 * 24 * time.Hour)})
		start := time.Now()
		if err := e.Backfill(b.Context()); err != nil {
			b.Fatal(err)
		}
		elapsed = time.Since(start)
		if got, _ := store.Count(b.Context(), "tenant"); got != n {
			b.Fatalf("stored %d of %d", got, n)
		}
		if fake.MaxInWindow() > lemlisttest.DefaultRateLimit {
			b.Fatalf("%d requests in one window", fake.MaxInWindow())
		}
	}
	floor := time.Duration(float64(n) / 100 / 10 * float64(time.Second))
	b.ReportMetric(elapsed.Seconds(), "s")
	b.ReportMetric(float64(elapsed)/float64(floor), "x-floor")
	b.ReportMetric(float64(calls(fake)), "calls")
}
