package graph_test

// Benchmarks of the GraphQL layer (issue 5, docs/benchmarks.md):
//
//	go test -run '^$' -bench . -benchmem ./graph/
//
// The query benchmarks go through the same stack as the server: gqlgen's
// handler with the POST transport, the per-request loaders and an
// upstream.Client over a lemlist.Client. Two upstreams:
//
//   - loopback: the lemlisttest fake over HTTP on 127.0.0.1, as in the
//     end-to-end tests. ns/op is the request's latency; cpu-ms/op counts
//     the whole process, so it includes the fake's own work.
//   - replay: the fake's answers recorded once and replayed from memory
//     by the HTTP client's transport. No sockets, no fake: cpu-ms/op is the
//     gateway's cost alone (client decode, resolvers, loaders, encoding).
//   - memory: the upstream's decoded answers memoised: no HTTP, no JSON
//     decoding. cpu-ms/op is GraphQL execution alone; replay minus memory
//     is the lemlist client's share (mostly decoding).
//
// cpu-ms/op is process CPU time (getrusage) per operation; with the
// loader's 1 ms batching wait in the path, ns/op is not CPU.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// benchActivities is the fake's dataset size, as in the load runs.
const benchActivities = 100_000

// benchRow is the dashboard's selection (cmd/loadgen's page queries): the
// common fields, the campaign's name, the lead's name, email and company
// (from the activity's snapshot; a row without one costs a GET /leads) and
// the email step.
const benchRow = `fragment Row on Activity {
  __typename id type channel createdAt isFirst
  campaign { id name }
  lead { id email firstName lastName companyName }
  user { id }
  ... on EmailActivity { sequenceStep subject }
}`

const benchPageQuery = `query Page($first: Int!) {
  activities(first: $first) {
    edges { cursor node { ...Row } }
    pageInfo { hasNextPage endCursor }
  }
}
` + benchRow

// benchLeanQuery is a 100-row page answerable from one upstream call: no
// hasNextPage (a lookahead call for row 101) and only ids of the campaign,
// lead and user (a row may lack their other fields).
const benchLeanQuery = `query Lean {
  activities(first: 100) {
    edges { cursor node { __typename id type channel createdAt isFirst campaign { id } lead { id } user { id } ... on EmailActivity { sequenceStep subject } } }
    pageInfo { endCursor }
  }
}`

const benchRepliesQuery = `query Replies($campaign: ID!) {
  activities(first: 20, filter: {campaignId: $campaign, type: "emailsReplied", minDate: "2026-09-01", isFirst: false}) {
    nodes { id createdAt lead { id email firstName lastName companyName } ... on EmailActivity { subject sequenceStep } }
    pageInfo { hasNextPage endCursor }
  }
}`

// benchFake is one fake shared by every benchmark of the package.
var benchFake = sync.OnceValue(func() *lemlisttest.Server {
	return lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 1, Activities: benchActivities},
	})
})

// replayTransport answers from memory what the fake answered the first
// time it was asked the same URL.
type replayTransport struct {
	h  http.Handler
	mu sync.RWMutex
	m  map[string]*httptest.ResponseRecorder
}

func (t *replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.URL.RequestURI()
	t.mu.RLock()
	rec, ok := t.m[key]
	t.mu.RUnlock()
	if !ok {
		rec = httptest.NewRecorder()
		t.h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.mu.Lock()
			t.m[key] = rec
			t.mu.Unlock()
		}
	}
	body := rec.Body.Bytes()
	return &http.Response{
		Status: http.StatusText(rec.Code), StatusCode: rec.Code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.Header().Clone(), Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}, nil
}

// memoUpstream answers each distinct call once from up, then from memory.
type memoUpstream struct {
	upstream.Upstream
	mu    sync.Mutex
	pages map[string][]*lemlist.Activity
	leads map[string]*lemlist.Lead
	camps map[string]*lemlist.Campaign
}

func (m *memoUpstream) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	q, err := o.Values()
	if err != nil {
		return nil, err
	}
	return memo(m, m.pages, q.Encode(), func() ([]*lemlist.Activity, error) { return m.Upstream.ListActivities(ctx, o) })
}

func (m *memoUpstream) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	return memo(m, m.leads, id, func() (*lemlist.Lead, error) { return m.Upstream.GetLead(ctx, id) })
}

func (m *memoUpstream) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	return memo(m, m.camps, id, func() (*lemlist.Campaign, error) { return m.Upstream.GetCampaign(ctx, id) })
}

func memo[T any](m *memoUpstream, cache map[string]T, key string, call func() (T, error)) (T, error) {
	m.mu.Lock()
	v, ok := cache[key]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := call()
	if err == nil {
		m.mu.Lock()
		cache[key] = v
		m.mu.Unlock()
	}
	return v, err
}

// benchHandler is the server's GraphQL stack over the shared fake, reached
// as mode says: loopback, replay or memory.
func benchHandler(b *testing.B, mode string) http.Handler {
	b.Helper()
	fake := benchFake()
	var base http.RoundTripper // loopback: http.DefaultTransport
	if mode != "loopback" {
		base = &replayTransport{h: fake.Handler(), m: map[string]*httptest.ResponseRecorder{}}
	}
	opts := []lemlist.Option{counted(base)}
	up := upstream.Client(fake.Tenant(lemlisttest.DefaultTenant).Client(opts...))
	if mode == "memory" {
		up = &memoUpstream{Upstream: up, pages: map[string][]*lemlist.Activity{},
			leads: map[string]*lemlist.Lead{}, camps: map[string]*lemlist.Campaign{}}
	}
	return graphServer(b, stackOptions{up: up, rows: fastrows.New(), deadline: 15 * time.Second})
}

// benchBody marshals a GraphQL request.
func benchBody(b *testing.B, query string, vars map[string]any) []byte {
	b.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// benchPost serves one request in-process and fails on any error.
func benchPost(b *testing.B, h http.Handler, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(req.Context(), 15*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code != http.StatusOK || bytes.HasPrefix(rec.Body.Bytes(), []byte(`{"errors"`)) {
		b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body.String())
	}
	return rec
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runQuery benchmarks one query over both upstreams and reports the
// process CPU per operation and the response size.
func runQuery(b *testing.B, query string, vars map[string]any, rows int) {
	body := benchBody(b, query, vars)
	for _, mode := range []string{"loopback", "replay", "memory"} {
		b.Run("upstream="+mode, func(b *testing.B) {
			h := benchHandler(b, mode)
			rec := benchPost(b, h, body) // warm: replay records, caches parse
			if n := strings.Count(rec.Body.String(), `"cursor"`); rows > 0 && n != rows {
				b.Fatalf("got %d rows, want %d", n, rows)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				benchPost(b, h, body)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(rec.Body.Len()), "resp-B")
		})
	}
}

// BenchmarkQueryPage20 is the dashboard's first page of 20 activities.
func BenchmarkQueryPage20(b *testing.B) {
	runQuery(b, benchPageQuery, map[string]any{"first": 20}, 20)
}

// BenchmarkQueryPage100 is the same selection, 100 activities.
func BenchmarkQueryPage100(b *testing.B) {
	runQuery(b, benchPageQuery, map[string]any{"first": 100}, 100)
}

// BenchmarkQueryLean100 is a 100-row page in one upstream call: the
// gateway's floor for 100 rows.
func BenchmarkQueryLean100(b *testing.B) {
	runQuery(b, benchLeanQuery, nil, 100)
}

// BenchmarkQueryReplies is a filtered page: campaignId, type, a date and
// isFirst go through argument validation (toFilter) to the upstream query.
func BenchmarkQueryReplies(b *testing.B) {
	camp := benchFake().Tenant(lemlisttest.DefaultTenant).Campaigns()[0].ID
	runQuery(b, benchRepliesQuery, map[string]any{"campaign": camp}, 0)
}

// benchRows decodes n activities from the fake, as the client does.
func benchRows(b *testing.B, n int) []*lemlist.Activity {
	b.Helper()
	rows, _, err := benchFake().Client().Activities.List(context.Background(), &lemlist.ActivityListOptions{Limit: n})
	if err != nil || len(rows) != n {
		b.Fatalf("list: %d rows, %v", len(rows), err)
	}
	return rows
}

// BenchmarkModelConversion100 converts a 100-row page to GraphQL models:
// the Activity views alone, and with the snapshot lead, campaign and user
// each row of the dashboard selection builds.
func BenchmarkModelConversion100(b *testing.B) {
	rows := benchRows(b, 100)
	b.Run("activity", func(b *testing.B) {
		b.ReportAllocs()
		out := make([]model.Activity, len(rows))
		for b.Loop() {
			for i, r := range rows {
				out[i] = model.FromLemlist(r)
			}
		}
	})
	b.Run("activity+snapshots", func(b *testing.B) {
		b.ReportAllocs()
		var sink int
		for b.Loop() {
			for _, r := range rows {
				a := model.FromLemlist(r)
				if l := model.LeadFromSnapshot(a.Source()); l != nil && l.Has("email") {
					sink++
				}
				if c := model.CampaignFromActivity(r); c != nil {
					sink++
				}
				if u := model.UserFromActivity(r); u != nil {
					sink++
				}
			}
		}
		_ = sink
	})
}

// BenchmarkModelDecode100 decodes a 100-row GET /activities answer into
// lemlist.Activity values (typed fields plus Raw), the client's share of a
// page's cost: through the client (client, as the server does, from an
// HTTP answer held in memory), and with json.Unmarshal of []*Activity
// (unmarshal, which the client did before it decoded in one pass).
func BenchmarkModelDecode100(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/api/activities?version=v2&limit=100", nil)
	req.SetBasicAuth("", lemlisttest.DefaultAPIKey)
	rec := httptest.NewRecorder()
	benchFake().Handler().ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	b.Run("client", func(b *testing.B) {
		hc := &http.Client{Transport: fixedTransport(body)}
		c, err := lemlist.NewClient("k", lemlist.WithHTTPClient(hc), lemlist.WithRateLimit(0, time.Second),
			lemlist.WithBaseURL("http://lemlist.invalid/api"))
		if err != nil {
			b.Fatal(err)
		}
		opts := &lemlist.ActivityListOptions{Limit: 100}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			rows, _, err := c.Activities.List(context.Background(), opts)
			if err != nil || len(rows) != 100 {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			var rows []*lemlist.Activity
			if err := json.Unmarshal(body, &rows); err != nil || len(rows) != 100 {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
}

// fixedTransport answers every request with 200 and body.
type fixedTransport []byte

func (t fixedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(t)),
		ContentLength: int64(len(t)), Request: req,
	}, nil
}

// BenchmarkRelayPaginate turns connection arguments into upstream calls
// over an in-memory list: a first page, a page after a cursor, and a last
// page (which gallops to find the end).
func BenchmarkRelayPaginate(b *testing.B) {
	all := benchRows(b, 100)
	for len(all) < 1000 {
		all = append(all, all[:100]...)
	}
	list := func(_ context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		lim := o.Limit
		if lim == 0 {
			lim = lemlist.MaxPageSize
		}
		if o.Offset >= len(all) {
			return nil, nil
		}
		return all[o.Offset:min(o.Offset+lim, len(all))], nil
	}
	twenty := 20
	first := &relay.Request{Args: relay.Args{First: &twenty}, NeedHasNextPage: true, DefaultSize: 20, MaxSize: 500, Concurrency: 4}
	p, err := relay.Paginate(context.Background(), list, first)
	if err != nil {
		b.Fatal(err)
	}
	after := p.Cursors[len(p.Cursors)-1]
	for _, bc := range []struct {
		name string
		req  relay.Request
	}{
		{"first20", *first},
		{"first20-after", relay.Request{Args: relay.Args{First: &twenty, After: &after}, NeedHasNextPage: true, DefaultSize: 20, MaxSize: 500, Concurrency: 4}},
		{"first20-filtered", relay.Request{Args: relay.Args{First: &twenty}, Filter: activityfilter.Filter{Type: "emailsReplied", CampaignID: "cam_x", MinDate: time.Unix(1, 0)}, NeedHasNextPage: true, DefaultSize: 20, MaxSize: 500, Concurrency: 4}},
		{"last20", relay.Request{Args: relay.Args{Last: &twenty}, DefaultSize: 20, MaxSize: 500, Concurrency: 4}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := bc.req
				if _, err := relay.Paginate(context.Background(), list, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
