package lemlisttest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// newServer starts a fake closed at the end of the test.
func newServer(t testing.TB, opts lemlisttest.Options) *lemlisttest.Server {
	t.Helper()
	s := lemlisttest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// twoTenants is a fake with 50 activities for its default tenant and 50
// for tenant "b" (key "key-b").
func twoTenants(t testing.TB) *lemlisttest.Server {
	return newServer(t, lemlisttest.Options{
		Dataset: lemlisttest.DatasetOptions{Activities: 50},
		Tenants: []lemlisttest.TenantOptions{{Name: "b", APIKey: "key-b", Dataset: lemlisttest.DatasetOptions{Activities: 50}}},
	})
}

// small is a fake with n activities and no rate limiting.
func small(t testing.TB, n int) *lemlisttest.Server {
	t.Helper()
	return newServer(t, lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Seed: 42, Activities: n},
		RateLimit: lemlisttest.NoRateLimit,
	})
}

// noRetry makes the client report the first failure.
func noRetry() lemlist.Option { return lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1}) }

type rawResp struct {
	status int
	body   string
	header http.Header
}

// rawGet sends GET s.URL+pathQuery with key as Basic password ("" sends no
// credentials).
func rawGet(t testing.TB, s *lemlisttest.Server, key, pathQuery string) rawResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+pathQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth("", key)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) rawResp {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResp{res.StatusCode, string(b), res.Header}
}

// activitiesIDs decodes a GET /activities body into its ids.
func activitiesIDs(t testing.TB, body string) []string {
	t.Helper()
	var page []struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("decode %.200q: %v", body, err)
	}
	out := make([]string, len(page))
	for i, a := range page {
		out[i] = a.ID
	}
	return out
}

func ids(page []*lemlist.Activity) []string {
	out := make([]string, len(page))
	for i, a := range page {
		out[i] = a.ID
	}
	return out
}

func expIDs(acts []lemlisttest.Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}

// expected is Server.Expected that fails the test on error.
func expected(t testing.TB, s *lemlisttest.Server, q url.Values) []lemlisttest.Activity {
	t.Helper()
	acts, err := s.Expected(q)
	if err != nil {
		t.Fatalf("Expected(%v): %v", q, err)
	}
	return acts
}

// filterAll is an independent brute-force filter over the full list.
func filterAll(all []lemlisttest.Activity, keep func(a lemlisttest.Activity) bool) []string {
	var out []string
	for _, a := range all {
		if keep(a) {
			out = append(out, a.ID)
		}
	}
	return out
}

func equalIDs(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %d ids, want %d\n got: %.300v\nwant: %.300v", what, len(got), len(want), got, want)
	}
}

func isoMs(tm time.Time) string { return lemlist.FormatTime(tm) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
