package lemlisttest_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

const million = 1_000_000

// bigFake is one 1M-activity fake shared by the benchmarks, built once.
var bigFake = sync.OnceValue(func() *lemlisttest.Server {
	return lemlisttest.NewServer(lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Seed: 1, Activities: million},
		RateLimit: lemlisttest.NoRateLimit,
	})
})

// BenchmarkGenerate1M generates a 1M-activity tenant per iteration and
// reports the heap it keeps.
func BenchmarkGenerate1M(b *testing.B) {
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 2, Activities: million}})
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Tenant(lemlisttest.DefaultTenant).Len() != million {
			b.Fatal("short dataset")
		}
		s.Close()
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heapMiB")
}

// BenchmarkFilteredPage1M serves a campaignId+type page at an offset from a
// 1M-activity tenant through Handler.
func BenchmarkFilteredPage1M(b *testing.B) {
	s := bigFake()
	tn := s.Tenant(lemlisttest.DefaultTenant)
	camp := tn.Campaigns()[0].ID
	h := s.Handler()
	for _, bc := range []struct{ name, query string }{
		{"campaign+type", "campaignId=" + camp + "&type=emailsOpened&offset=500&limit=100"},
		{"campaign+type+dates", "campaignId=" + camp + "&type=emailsOpened&offset=100&limit=100&minDate=2026-08-01T00:00:00Z&maxDate=2026-09-01T00:00:00Z"},
		{"campaign+isFirst", "campaignId=" + camp + "&isFirst=true&offset=200&limit=100"},
		{"unfiltered deep", "offset=900000&limit=100"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/activities?version=v2&"+bc.query, nil)
			req.SetBasicAuth("", lemlisttest.DefaultAPIKey)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 || rec.Body.Len() < 1000 {
					b.Fatalf("%d %.200s", rec.Code, rec.Body)
				}
			}
			s.ResetRequests()
		})
	}
}
