package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// A repeated query is answered from the response cache: same data, no
// upstream call, counted by the metrics. Other variables, another tenant,
// an answer with errors and an expired answer all run again.
func TestResponseCache(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	// CACHE_TTL=0: every execution reaches the fake, so calls count runs.
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL,
		"LEMLIST_RATE_LIMIT": "0", "CACHE_TTL": "0", "RESPONSE_CACHE_TTL": "1m"})
	query := func(key string, first int) *gqlResponse {
		t.Helper()
		return s.post(t, map[string]any{
			"query":     `query Recent($n: Int) { activities(first: $n) { edges { node { id type } } } }`,
			"variables": map[string]any{"n": first},
		}, bearerHeader(key))
	}
	calls := func() int { return fake.CountRequests("/activities") }

	first := query(keyAlpha, 3)
	mustOK(t, first)
	if got, want := activityIDs(t, first), expectedIDs(t, fake, "alpha", 3); !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	before := calls()
	again := query(keyAlpha, 3)
	mustOK(t, again)
	if again.Raw != first.Raw {
		t.Errorf("cached answer differs:\n%s\n%s", again.Raw, first.Raw)
	}
	if n := calls() - before; n != 0 {
		t.Errorf("the repeated query made %d upstream calls, want 0", n)
	}

	// Other variables, another tenant: executed, with their own data.
	before = calls()
	mustOK(t, query(keyAlpha, 4))
	beta := query(keyBeta, 3)
	mustOK(t, beta)
	if n := calls() - before; n != 2 {
		t.Errorf("other variables and another tenant made %d upstream calls, want 2", n)
	}
	if got, want := activityIDs(t, beta), expectedIDs(t, fake, "beta", 3); !slices.Equal(got, want) {
		t.Errorf("beta got %v, want its own %v", got, want)
	}

	// An answer with errors is not kept. (Not a 401, which would tell the
	// server that lemlist rejects the key: see TestRevokedKey.)
	fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 400}, 1)
	if r := query(keyAlpha, 7); len(r.Errors) == 0 {
		t.Fatalf("the injected 401 gave no error: %s", r.Raw)
	}
	before = calls()
	mustOK(t, query(keyAlpha, 7))
	if n := calls() - before; n != 1 {
		t.Errorf("after an answer with errors, the same query made %d upstream calls, want 1", n)
	}

	m := get(t, s.url+"/metrics").text
	for _, want := range []string{"graphql_response_cache_hits_total 1\n", "graphql_response_cache_misses_total "} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Answers expire after RESPONSE_CACHE_TTL, and 0 turns the cache off.
func TestResponseCacheTTL(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	for _, tc := range []struct {
		ttl  string
		wait time.Duration
		want int // upstream calls of the second query
	}{
		{"0", 0, 1},
		{"150ms", 0, 0},
		{"150ms", 300 * time.Millisecond, 1},
	} {
		s := startApp(t, serverEnv(fake, "CACHE_TTL", "0", "RESPONSE_CACHE_TTL", tc.ttl))
		q := `{ activities(first: 2) { nodes { id } } }`
		mustOK(t, s.post(t, q))
		time.Sleep(tc.wait)
		before := fake.CountRequests("/activities")
		mustOK(t, s.post(t, q))
		if n := fake.CountRequests("/activities") - before; n != tc.want {
			t.Errorf("RESPONSE_CACHE_TTL=%s, after %v: %d upstream calls, want %d", tc.ttl, tc.wait, n, tc.want)
		}
	}
}
