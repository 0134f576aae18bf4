package main

// BenchmarkGatewayOverhead100 measures what the gateway adds to a 100-row
// page, over loopback HTTP on both sides (docs/benchmarks.md):
//
//	go test -run '^$' -bench GatewayOverhead -benchmem .
//
// Each iteration fetches the same first 100 activities twice, one client
// at a time: directly from the fake lemlist (GET
// /api/activities?version=v2&limit=100), then through the whole server
// handler (httptest.NewServer(app.Handler()) configured as in server mode:
// LEMLIST_API_KEY, LEMLIST_BASE_URL on the fake, LEMLIST_RATE_LIMIT=0,
// CACHE_TTL=0 so that every request reaches the fake).
// It reports the median of each (direct-p50-µs, gateway-p50-µs) and their
// ratio (p50-ratio; the target is at most 1.5 for the lean selection).
//
//   - lean: the page's own fields and the campaign, lead and user ids: one
//     upstream call, the same one the direct fetch makes.
//   - dashboard: cmd/loadgen's page100 selection: hasNextPage costs a
//     second, sequential call for row 101, and the lead and campaign
//     fields a row lacks cost a GET /leads or /campaigns/{id} each, after
//     the loaders' 1 ms wait.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

const benchGatewayLean = `query Lean {
  activities(first: 100) {
    edges { cursor node { __typename id type channel createdAt isFirst campaign { id } lead { id } user { id } ... on EmailActivity { sequenceStep subject } } }
    pageInfo { endCursor }
  }
}`

const benchGatewayDashboard = `query Page {
  activities(first: 100) {
    edges { cursor node { ...Row } }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Row on Activity {
  __typename id type channel createdAt isFirst
  campaign { id name }
  lead { id email firstName lastName companyName }
  user { id }
  ... on EmailActivity { sequenceStep subject }
}`

// benchGatewayServer starts the fake and the server's handler on loopback.
func benchGatewayServer(b *testing.B) (fake *lemlisttest.Server, gql string) {
	b.Helper()
	fake = lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 1, Activities: 100_000},
	})
	b.Cleanup(fake.Close)
	env := map[string]string{
		"LEMLIST_API_KEY":    lemlisttest.DefaultAPIKey,
		"LEMLIST_BASE_URL":   fake.URL,
		"LEMLIST_RATE_LIMIT": "0",
		"CACHE_TTL":          "0", // every request goes upstream, as the direct fetch does
		"RESPONSE_CACHE_TTL": "0",
		"HOST":               "127.0.0.1",
		"LOG_LEVEL":          "error",
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(cfg, newLogger(io.Discard, cfg.LogLevel))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	return fake, srv.URL + "/graphql"
}

// benchGatewayDo sends req and reads the whole answer; it fails on a non-200
// status or a GraphQL error.
func benchGatewayDo(b *testing.B, c *http.Client, req *http.Request) int {
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || bytes.HasPrefix(body, []byte(`{"errors"`)) {
		b.Fatalf("%s: HTTP %d: %.300s", req.URL.Path, resp.StatusCode, body)
	}
	return len(body)
}

func benchMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func BenchmarkGatewayOverhead100(b *testing.B) {
	fake, gql := benchGatewayServer(b)
	c := &http.Client{Timeout: 15 * time.Second}
	direct := func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, fake.URL+"/activities?version=v2&limit=100", nil)
		req.SetBasicAuth("", lemlisttest.DefaultAPIKey)
		return req
	}
	for _, bc := range []struct{ name, query string }{
		{"lean", benchGatewayLean},
		{"dashboard", benchGatewayDashboard},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]string{"query": bc.query})
			post := func() *http.Request {
				req, _ := http.NewRequest(http.MethodPost, gql, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				return req
			}
			// Warm both connections and check the page has 100 rows.
			benchGatewayDo(b, c, direct())
			resp, err := c.Do(post())
			if err != nil {
				b.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if n := strings.Count(string(page), `"cursor"`); n != 100 {
				b.Fatalf("gateway page has %d rows: %.300s", n, page)
			}
			var dd, gd []time.Duration
			var dBytes, gBytes int
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				dBytes = benchGatewayDo(b, c, direct())
				t1 := time.Now()
				gBytes = benchGatewayDo(b, c, post())
				gd = append(gd, time.Since(t1))
				dd = append(dd, t1.Sub(t0))
			}
			dp, gp := benchMedian(dd), benchMedian(gd)
			b.ReportMetric(float64(dp.Microseconds()), "direct-p50-µs")
			b.ReportMetric(float64(gp.Microseconds()), "gateway-p50-µs")
			b.ReportMetric(float64(gp)/float64(dp), "p50-ratio")
			b.ReportMetric(float64(dBytes), "direct-B")
			b.ReportMetric(float64(gBytes), "gateway-B")
		})
	}
}
