package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

const firstFive = `{ activities(first: 5) { edges { node { id } } } }`

// checkUnauthenticated asserts a 401 with a GraphQL-shaped body and a
// challenge.
func checkUnauthenticated(t *testing.T, r *gqlResponse, challenge string) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" || len(r.Errors) != 1 || r.Errors[0].Message == "" {
		t.Errorf("want 401 UNAUTHENTICATED, got %d: %s", r.Status, r.Raw)
	}
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) {
		t.Errorf("WWW-Authenticate = %q, want prefix %q", got, challenge)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestServerModeTokens(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne+","+tokenTwo, "HOST", "0.0.0.0"))

	checkUnauthenticated(t, s.post(t, firstFive), `Bearer realm="lemlist-graphql"`)
	wrong := s.post(t, firstFive, bearerHeader(tokenOne+"x"))
	checkUnauthenticated(t, wrong, `Bearer realm="lemlist-graphql", error="invalid_token"`)
	checkUnauthenticated(t, s.post(t, firstFive, bearerHeader(tokenOne[:10])), "Bearer")
	checkUnauthenticated(t, s.post(t, firstFive, basicHeader("", tokenOne)), "Bearer")
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("refused requests made %d upstream calls", n)
	}

	for _, tok := range []string{tokenOne, tokenTwo} {
		r := s.post(t, firstFive, bearerHeader(tok))
		mustOK(t, r)
		if got, want := activityIDs(t, r), expectedIDs(t, fake, lemlisttest.DefaultTenant, 5); !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
	}
	for _, req := range fake.Requests() {
		if req.Tenant != lemlisttest.DefaultTenant {
			t.Errorf("upstream call as tenant %q, want the server's", req.Tenant)
		}
	}
	// GraphiQL and the probes stay open.
	for _, p := range []string{"/", "/healthz", "/readyz"} {
		if r := s.do(t, http.MethodGet, p, nil); r.Status != http.StatusOK {
			t.Errorf("GET %s = %d", p, r.Status)
		}
	}
}

func TestServerModeLoopbackWithoutTokensIsOpen(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))
	mustOK(t, s.post(t, firstFive))
	if s.app.auth.String() != "open" {
		t.Errorf("auth = %s", s.app.auth)
	}
}

func TestDemoModeIsOpen(t *testing.T) {
	t.Parallel()
	s := startApp(t, map[string]string{"DEMO_ACTIVITIES": "200", "LEMLIST_RATE_LIMIT": "0"})
	r := s.post(t, firstFive)
	mustOK(t, r)
	if n := len(activityIDs(t, r)); n != 5 {
		t.Errorf("%d activities", n)
	}
}

func TestPassthroughTwoTenants(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0"})

	// No key: 401, and lemlist is not called.
	checkUnauthenticated(t, s.post(t, firstFive), `Basic realm="lemlist-graphql"`)
	checkUnauthenticated(t, s.post(t, firstFive, header{"Authorization", "Basic !!notbase64"}), "Basic")
	checkUnauthenticated(t, s.post(t, firstFive, header{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(keyAlpha))}), "Basic")
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("refused requests made %d upstream calls", n)
	}

	// A wrong key reaches lemlist, which refuses it.
	wrong := s.post(t, firstFive, bearerHeader("not-a-key-00000000"))
	if wrong.Status != http.StatusOK || wrong.code() != "UNAUTHENTICATED" {
		t.Errorf("wrong key: %d %s", wrong.Status, wrong.Raw)
	}

	// Each key sees its own tenant's data, in either header form.
	for _, tc := range []struct {
		tenant string
		auth   header
	}{
		{"alpha", basicHeader("", keyAlpha)},
		{"beta", basicHeader("anyone", keyBeta)},
		{"alpha", bearerHeader(keyAlpha)},
		{"beta", bearerHeader(keyBeta)},
	} {
		fake.ResetRequests()
		r := s.post(t, `{ activities(first: 3, filter: {type: "emailsSent"}) { edges { node { id } } } }`, tc.auth)
		mustOK(t, r)
		want, err := fake.Tenant(tc.tenant).Expected(map[string][]string{"type": {"emailsSent"}})
		if err != nil {
			t.Fatal(err)
		}
		got := activityIDs(t, r)
		if len(got) != 3 || got[0] != want[0].ID || got[2] != want[2].ID {
			t.Errorf("%s: ids %v, want the first 3 of %s's", tc.tenant, got, tc.tenant)
		}
		for _, req := range fake.Requests() {
			if req.Tenant != tc.tenant {
				t.Errorf("%s's query called lemlist as tenant %q", tc.tenant, req.Tenant)
			}
		}
	}
	if n := s.app.pool.Len(); n != 3 { // alpha, beta and the wrong key
		t.Errorf("pool holds %d tenants", n)
	}
}

// TestCacheIsolation makes two tenants send the same upstream request:
// each gets its own answer, and each tenant's repeat comes from its own
// partition.
func TestCacheIsolation(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0", "CACHE_TTL": "1m"})
	query := `{ activities(first: 4) { edges { node { id } } } }`
	alpha1 := activityIDs(t, s.post(t, query, bearerHeader(keyAlpha)))
	beta1 := activityIDs(t, s.post(t, query, bearerHeader(keyBeta)))
	if !slices.Equal(alpha1, expectedIDs(t, fake, "alpha", 4)) || !slices.Equal(beta1, expectedIDs(t, fake, "beta", 4)) {
		t.Fatalf("alpha %v, beta %v: each should see its own", alpha1, beta1)
	}
	// Each key was checked once (GET /team, keycheck.go), then listed.
	var reqs []lemlisttest.Request
	for _, r := range fake.Requests() {
		if r.Path == "/team" {
			continue
		}
		reqs = append(reqs, r)
	}
	if len(reqs) != 2 || reqs[0].Tenant != "alpha" || reqs[1].Tenant != "beta" || reqs[0].Query.Encode() != reqs[1].Query.Encode() {
		t.Fatalf("upstream calls: %+v", reqs)
	}
	if n := fake.CountRequests("/team"); n != 2 {
		t.Fatalf("%d key checks, want one per key", n)
	}
	alpha2 := activityIDs(t, s.post(t, query, basicHeader("", keyAlpha)))
	beta2 := activityIDs(t, s.post(t, query, basicHeader("", keyBeta)))
	if !slices.Equal(alpha1, alpha2) || !slices.Equal(beta1, beta2) {
		t.Errorf("cached answers differ: alpha %v/%v beta %v/%v", alpha1, alpha2, beta1, beta2)
	}
	if n := len(fake.Requests()); n != 4 {
		t.Errorf("repeats made %d more upstream calls, want 0 (cached, and the keys' verdicts too)", n-4)
	}
}

// TestCoalescing fires 20 identical queries at once with caching off: the
// cache's single flight makes one upstream call for all of them.
func TestCoalescing(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{Latency: 300 * time.Millisecond})
	s := startApp(t, serverEnv(fake, "CACHE_TTL", "0"))
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]*gqlResponse, n)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = s.post(t, firstFive)
		})
	}
	close(start)
	wg.Wait()
	want := expectedIDs(t, fake, lemlisttest.DefaultTenant, 5)
	for i, r := range results {
		mustOK(t, r)
		if !slices.Equal(activityIDs(t, r), want) {
			t.Errorf("query %d: wrong ids", i)
		}
	}
	if got := fake.CountRequests("/activities"); got != 1 {
		t.Errorf("%d concurrent identical queries made %d /activities calls, want 1", n, got)
	}
}

// TestWebsocketAuth runs a query over graphql-transport-ws, authenticated
// by the connection_init payload as browsers must.
func TestWebsocketAuth(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0",
		"CORS_ORIGINS": "https://app.example.com"})
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/graphql"
	dial := func(origin string) (*websocket.Conn, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, _, err := websocket.Dial(t.Context(), wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
		return c, err
	}
	if _, err := dial("https://evil.example.com"); err == nil {
		t.Error("a websocket from a disallowed origin was accepted")
	}

	query := func(c *websocket.Conn, auth string) map[string]any {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": auth}}); err != nil {
			t.Fatal(err)
		}
		var ack map[string]any
		if err := wsjson.Read(ctx, c, &ack); err != nil {
			return map[string]any{"closed": err.Error()}
		}
		if ack["type"] != "connection_ack" {
			return ack
		}
		if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": firstFive}}); err != nil {
			t.Fatal(err)
		}
		var next map[string]any
		if err := wsjson.Read(ctx, c, &next); err != nil {
			t.Fatal(err)
		}
		return next
	}

	c, err := dial("https://app.example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	msg := query(c, "Bearer "+keyBeta)
	data, _ := msg["payload"].(map[string]any)["data"].(map[string]any)
	if msg["type"] != "next" || data == nil {
		t.Fatalf("got %v", msg)
	}
	edges := data["activities"].(map[string]any)["edges"].([]any)
	first := edges[0].(map[string]any)["node"].(map[string]any)["id"]
	if want := expectedIDs(t, fake, "beta", 1)[0]; first != want {
		t.Errorf("first id %v, want beta's %v", first, want)
	}

	c2, err := dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	if msg := query(c2, ""); msg["type"] == "connection_ack" || msg["type"] == "next" {
		t.Errorf("unauthenticated websocket got %v", msg)
	}
}
