package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// dashboard is the README's dashboard query: a page of 100 with the
// nested lead, campaign and user fields.
const dashboard = `query Dashboard {
  activities(first: 100) {
    edges { cursor node { ...Row } }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Row on Activity {
  __typename id type channel createdAt isFirst
  campaign { id name status }
  lead { id email firstName lastName companyName }
  contact { id fullName }
  user { id name }
  ... on EmailActivity { sequenceStep subject }
}`

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: 1000}})
	s := startApp(t, serverEnv(fake))

	mustOK(t, s.post(t, dashboard))
	mustOK(t, s.post(t, strings.Replace(dashboard, "first: 100", "first: 500", 1)))
	mustOK(t, s.post(t, `{ activities(first: 100) { edges { node { id lead { id activities(first: 10) { edges { node { id type } } } } } } } }`))

	fake.ResetRequests()
	heavy := s.post(t, `{ activities(first: 500) { edges { node { id lead { activities(first: 500) { edges { node { id } } } } } } } }`)
	if heavy.Status != http.StatusOK || heavy.code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("nested 500×500: %d %.300s", heavy.Status, heavy.Raw)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("a rejected query made %d upstream calls", n)
	}

	// Argument validation comes first: first above the cap is the
	// resolver's BAD_USER_INPUT, even nested under a large page.
	for _, q := range []string{
		`{ activities(first: 501) { edges { node { id } } } }`,
		`{ activities(first: -1) { edges { node { id } } } }`,
		`{ activities(first: 100000) { edges { node { id lead { id email } } } } }`,
		`{ activities(first: 5) { edges { node { lead { activities(last: 100000) { edges { node { id } } } } } } } }`,
	} {
		if r := s.post(t, q); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", q, r.Raw)
		}
	}
}

// fragmentBomb has k fragments that each spread the next one twice: 2^k
// copies of leaf once expanded, in a few hundred tokens.
func fragmentBomb(k int, leaf string) string {
	var b strings.Builder
	b.WriteString("{ activities(first: 1) { edges { node { ...F0 } } } }\n")
	for i := range k {
		fmt.Fprintf(&b, "fragment F%d on Activity { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Activity { %s }\n", k, leaf)
	return b.String()
}

// TestFragmentBombIsCheap checks that the shape limit's linear walk
// refuses a fragment bomb (its message, not gqlgen's complexity walker's,
// which expands every spread and would run for 2^60 steps), whatever its
// leaf: __typename counts as a field too.
func TestFragmentBombIsCheap(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))
	for _, leaf := range []string{"id", "__typename", "id __typename"} {
		r := s.post(t, fragmentBomb(60, leaf))
		if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "once its fragments are expanded") {
			t.Errorf("leaf %q: got %.300s", leaf, r.Raw)
		}
		mustOK(t, s.post(t, fragmentBomb(8, leaf))) // 256 or 512 fields: fine
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "DEPTH_LIMIT", "6"))

	// Depth 6: activities edges node lead campaign id.
	mustOK(t, s.post(t, `{ activities(first: 1) { edges { node { lead { campaign { id } } } } } }`))
	for _, q := range []string{
		`{ activities(first: 1) { edges { node { lead { campaign { activities(first: 1) { pageInfo { hasNextPage } } } } } } } }`,
		// The same depth reached through fragments, named and inline.
		`query { activities(first: 1) { ...C } }
		 fragment C on ActivityConnection { edges { node { ... on EmailActivity { lead { ...L } } } } }
		 fragment L on Lead { campaign { activities(first: 1) { pageInfo { hasNextPage } } } }`,
	} {
		r := s.post(t, q)
		if r.Status != http.StatusOK || r.code() != "DEPTH_LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "depth 8") {
			t.Errorf("%d %.300s", r.Status, r.Raw)
		}
	}
}

// TestIntrospection checks INTROSPECTION=auto: on in demo mode (where
// GraphiQL's deep introspection query passes the depth limit), off in
// server mode, where field suggestions are off too.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	deep := `{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } } } } }`
	demo := startApp(t, map[string]string{"DEMO_ACTIVITIES": "100", "LEMLIST_RATE_LIMIT": "0"})
	mustOK(t, demo.post(t, deep))
	if r := demo.post(t, `{ activitys { id } }`); !strings.Contains(r.Raw, "Did you mean") {
		t.Errorf("demo mode has no suggestions: %s", r.Raw)
	}

	fake := newFake(t, lemlisttest.Options{})
	srv := startApp(t, serverEnv(fake))
	if r := srv.post(t, `{ __schema { types { name } } }`); len(r.Errors) == 0 {
		t.Errorf("introspection is on in server mode: %.200s", r.Raw)
	}
	if r := srv.post(t, `{ activitys { id } }`); len(r.Errors) == 0 || strings.Contains(r.Raw, "Did you mean") {
		t.Errorf("server mode suggests fields: %s", r.Raw)
	}
	on := startApp(t, serverEnv(fake, "INTROSPECTION", "true"))
	mustOK(t, on.post(t, `{ __schema { types { name } } }`))
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "MAX_BODY_BYTES", "2KiB"))
	big := fmt.Sprintf(`{"query":"{ activities(first: 1) { edges { node { id } } } }","variables":{"pad":%q}}`, strings.Repeat("x", 4096))

	check := func(name string, r *gqlResponse) {
		t.Helper()
		if r.Status != http.StatusRequestEntityTooLarge || r.code() != "PAYLOAD_TOO_LARGE" {
			t.Errorf("%s: %d %.200s", name, r.Status, r.Raw)
		}
	}
	check("with Content-Length", s.do(t, http.MethodPost, "/graphql", strings.NewReader(big), header{"Content-Type", "application/json"}))
	// Chunked, without a Content-Length: the limit applies while reading.
	check("chunked", s.do(t, http.MethodPost, "/graphql", io.MultiReader(strings.NewReader(big)), header{"Content-Type", "application/json"}))
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d upstream calls", n)
	}
	mustOK(t, s.do(t, http.MethodPost, "/graphql", bytes.NewReader([]byte(`{"query":"{ activities(first: 1) { edges { node { id } } } }"}`)),
		header{"Content-Type", "application/json"}))
}

func TestParserTokenLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "PARSER_TOKEN_LIMIT", "60"))
	mustOK(t, s.post(t, firstFive))
	long := `{ activities(first: 1) { edges { node { ` + strings.Repeat("id ", 60) + `} } } }`
	r := s.post(t, long)
	if r.code() != "GRAPHQL_PARSE_FAILED" || !strings.Contains(r.Raw, "token limit") {
		t.Errorf("%d %.300s", r.Status, r.Raw)
	}
}

func TestAPQRoundTrip(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))
	sum := sha256.Sum256([]byte(firstFive))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}

	if r := s.post(t, map[string]any{"extensions": ext}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %s", r.Raw)
	}
	first := s.post(t, map[string]any{"query": firstFive, "extensions": ext})
	mustOK(t, first)
	again := s.post(t, map[string]any{"extensions": ext})
	mustOK(t, again)
	if string(first.Data) != string(again.Data) {
		t.Errorf("hash-only answer differs: %s vs %s", first.Data, again.Data)
	}
	// And over GET, as CDNs cache it.
	get := s.do(t, http.MethodGet, "/graphql?extensions="+url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"`+hex.EncodeToString(sum[:])+`"}}`), nil)
	mustOK(t, get)
	// A hash that does not match its query is refused.
	bad := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := s.post(t, map[string]any{"query": firstFive, "extensions": bad}); len(r.Errors) == 0 {
		t.Errorf("mismatched hash accepted: %s", r.Raw)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "CORS_ORIGINS", "https://app.example.com,http://localhost:3000", "GRAPHQL_TOKENS", tokenOne))
	preflight := func(origin string) *gqlResponse {
		return s.do(t, http.MethodOptions, "/graphql", nil,
			header{"Origin", origin}, header{"Access-Control-Request-Method", "POST"},
			header{"Access-Control-Request-Headers", "authorization, content-type"})
	}

	ok := preflight("https://app.example.com")
	h := ok.Header
	if ok.Status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		h.Get("Access-Control-Max-Age") == "" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("allowed preflight (no token needed): %d %v", ok.Status, h)
	}

	bad := preflight("https://evil.example.com")
	if bad.Status != http.StatusForbidden || bad.Header.Get("Access-Control-Allow-Origin") != "" || bad.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("disallowed preflight: %d %v", bad.Status, bad.Header)
	}

	r := s.post(t, firstFive, bearerHeader(tokenOne), header{"Origin", "http://localhost:3000"})
	mustOK(t, r)
	if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || r.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("simple request from an allowed origin: %v", r.Header)
	}
	r = s.post(t, firstFive, bearerHeader(tokenOne), header{"Origin", "https://evil.example.com"})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got %q", r.Header.Get("Access-Control-Allow-Origin"))
	}

	wild := startApp(t, serverEnv(fake, "CORS_ORIGINS", "*"))
	if r := wild.do(t, http.MethodOptions, "/graphql", nil, header{"Origin", "https://x.example"}, header{"Access-Control-Request-Method", "POST"}); r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %v", r.Header)
	}
}

func TestSSETransport(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))
	r := s.do(t, http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ activities(first: 1) { edges { node { id } } } }"}`),
		header{"Content-Type", "application/json"}, header{"Accept", "text/event-stream"})
	if r.Status != http.StatusOK || !strings.Contains(r.Raw, "event: next") || !strings.Contains(r.Raw, "event: complete") ||
		!strings.Contains(r.Raw, expectedIDs(t, fake, lemlisttest.DefaultTenant, 1)[0]) {
		t.Errorf("SSE: %d %q", r.Status, r.Raw)
	}
}

// FAST_ROWS is on by default, counted in /metrics, and off gives the same
// answer through gqlgen alone.
func TestFastRowsSetting(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	const q = `{ activities(first: 30) { edges { cursor node { __typename id createdAt lead { id email } ... on EmailActivity { subject } } } } }`
	var answers []string
	for _, setting := range []string{"", "false"} {
		s := startApp(t, serverEnv(fake, "FAST_ROWS", setting, "RESPONSE_CACHE_TTL", "0"))
		r := s.post(t, q)
		mustOK(t, r)
		answers = append(answers, r.Raw)
		want := 1.0 // lists written
		if setting == "false" {
			want = -1 // no such metric
		}
		if got := value(scrape(t, s), "graphql_fast_rows_written_total", nil); got != want {
			t.Errorf("FAST_ROWS=%q: graphql_fast_rows_written_total %v, want %v", setting, got, want)
		}
	}
	if answers[0] != answers[1] {
		t.Errorf("answers differ:\n on  %.500s\n off %.500s", answers[0], answers[1])
	}
}
