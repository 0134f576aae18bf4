package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// A key that lemlist no longer accepts stops getting answers from any
// cache within CACHE_TTL: the response cache (its TTL here is a minute),
// the upstream cache (campaigns are kept 10× CACHE_TTL) and the stats
// cache all answer UNAUTHENTICATED once the key's verdict is older than
// CACHE_TTL, the next check finding the 401. Other keys are unaffected
// (issue 13, item 1).
func TestRevokedKey(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	const cacheTTL = 300 * time.Millisecond
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0",
		"CACHE_TTL": cacheTTL.String(), "RESPONSE_CACHE_TTL": "1m"})
	alpha, beta := bearerHeader(keyAlpha), bearerHeader(keyBeta)
	campaign := fake.Tenant("alpha").Campaigns()[0].ID
	queries := map[string]any{
		"response cache": `{ activities(first: 3) { nodes { id } } }`,
		"upstream cache": map[string]any{"query": `query C($id: ID!) { campaign(id: $id) { id name status } }`, "variables": map[string]any{"id": campaign}},
		"stats cache":    `{ activityStats(groupBy: [TYPE], filter: {type: "emailsSent"}) { total } }`,
	}
	for _, q := range queries {
		mustOK(t, s.post(t, q, alpha))
	}
	mustOK(t, s.post(t, queries["response cache"], beta))
	fake.Tenant("alpha").Revoke()
	time.Sleep(cacheTTL + 50*time.Millisecond)

	// Other texts of the same queries (an alias), so that the response
	// cache does not hide the upstream and stats caches behind it.
	variants := map[string]any{
		"response cache": queries["response cache"],
		"upstream cache": map[string]any{"query": `query C($id: ID!) { c: campaign(id: $id) { id name status } }`, "variables": map[string]any{"id": campaign}},
		"stats cache":    `{ s: activityStats(groupBy: [TYPE], filter: {type: "emailsSent"}) { total } }`,
	}
	before := len(fake.Requests())
	for name, q := range variants {
		if r := s.post(t, q, alpha); r.code() != "UNAUTHENTICATED" || string(r.Data) != "null" && len(r.Data) != 0 {
			t.Errorf("%s after the key was revoked: %d %.300s", name, r.Status, r.Raw)
		}
	}
	// One check found the 401; the verdict is kept, the others asked no one.
	if n := len(fake.Requests()) - before; n != 1 {
		t.Errorf("%d upstream calls after the revocation, want 1 (the check)", n)
	}
	mustOK(t, s.post(t, queries["response cache"], beta))
}

// A subscription opens only for a key lemlist accepts: a junk key gets
// UNAUTHENTICATED over SSE and over a websocket, and starts no poller. A
// subscription whose poller gets a 401 (the key revoked meanwhile) ends
// with UNAUTHENTICATED, and the key cannot subscribe again (issue 13,
// item 1).
func TestSubscriptionKeyChecked(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0", "POLL_INTERVAL": "1s"})
	const junk = "not-a-lemlist-key-7e2c"
	sub := `{"query":"subscription { activityAdded { id } }"}`
	sse := func(ctx context.Context, key string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/graphql", strings.NewReader(sub))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+key)
		return http.DefaultClient.Do(req)
	}
	readAll := func(resp *http.Response) string {
		t.Helper()
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return b.String()
			}
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := sse(ctx, junk)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(resp); !strings.Contains(got, `"UNAUTHENTICATED"`) || !strings.Contains(got, "event: complete") {
		t.Fatalf("SSE with a junk key: %q", got)
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var msg map[string]any
	for _, m := range []map[string]any{
		{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + junk}},
		{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { activityAdded { id } }"}},
	} {
		if err := wsjson.Write(ctx, c, m); err != nil {
			t.Fatal(err)
		}
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := json.Marshal(msg); msg["id"] != "1" || !strings.Contains(string(b), `"UNAUTHENTICATED"`) {
		t.Fatalf("websocket with a junk key: %v", msg)
	}
	if p, n := feedGauges(t, s); p != 0 || n != 0 {
		t.Errorf("a junk key started %v pollers, %v subscriptions", p, n)
	}
	if n := fake.CountRequests("/activities"); n != 0 {
		t.Errorf("a junk key made %d calls to /activities", n)
	}

	// A valid key subscribes; once it is revoked, its poller's 401 ends
	// the stream with UNAUTHENTICATED.
	resp, err = sse(ctx, keyBeta)
	if err != nil {
		t.Fatal(err)
	}
	for p, _ := feedGauges(t, s); p != 1; p, _ = feedGauges(t, s) {
		select {
		case <-ctx.Done():
			t.Fatal("no poller for beta")
		case <-time.After(5 * time.Millisecond):
		}
	}
	fake.Tenant("beta").Revoke()
	if got := readAll(resp); !strings.Contains(got, `"UNAUTHENTICATED"`) || !strings.Contains(got, "event: complete") {
		t.Fatalf("beta's stream after the revocation: %q", got)
	}
	before := len(fake.Requests())
	resp, err = sse(ctx, keyBeta)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(resp); !strings.Contains(got, `"UNAUTHENTICATED"`) {
		t.Fatalf("beta subscribing again: %q", got)
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Errorf("subscribing again with the revoked key made %d upstream calls (its verdict is known)", n)
	}
	if p, _ := feedGauges(t, s); p != 0 {
		t.Errorf("%v pollers left", p)
	}
}

// feedGauges returns the live feed's pollers and subscriptions, from
// /metrics.
func feedGauges(t *testing.T, s *testServer) (pollers, subscriptions float64) {
	t.Helper()
	fams := scrape(t, s)
	return value(fams, "feed_pollers", nil), value(fams, "feed_subscriptions", nil)
}
