package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// A query with @defer over SSE: the schema declares no @defer, so gqlgen
// answers it whole, in one event; the response cache keeps that whole
// answer, and a plain POST of the same query gets it, deferred fields
// included, without an upstream call. (That the cache never keeps the
// parts of an incremental delivery, whatever the executor does, is pinned
// by gateway's TestResponseCacheKeepsOnlyCompleteAnswers; issue 13, item
// 12.)
func TestResponseCacheDeferOverSSE(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "CACHE_TTL", "0", "RESPONSE_CACHE_TTL", "1m"))
	const query = `{ activities(first: 2) { nodes { id ... @defer(label: "more") { type } } } }`
	body, _ := json.Marshal(map[string]any{"query": query})
	r := s.do(t, http.MethodPost, "/graphql", strings.NewReader(string(body)), header{"Content-Type", "application/json"}, header{"Accept", "text/event-stream"})
	var events []string
	for _, line := range strings.Split(r.Raw, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, d)
		}
	}
	if r.Status != http.StatusOK || len(events) != 1 || strings.Contains(events[0], "hasNext") {
		t.Fatalf("@defer over SSE: want one whole event, got %d: %q", len(events), r.Raw)
	}
	var sse struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(events[0]), &sse); err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(sse.Data), `"type":`) != 2 {
		t.Fatalf("the deferred field is missing: %s", sse.Data)
	}
	before := fake.CountRequests("/activities")
	again := s.post(t, query)
	mustOK(t, again)
	if string(again.Data) != string(sse.Data) {
		t.Errorf("cached answer %s, want the whole %s", again.Data, sse.Data)
	}
	if n := fake.CountRequests("/activities") - before; n != 0 {
		t.Errorf("the repeated query made %d upstream calls, want 0 (from the cache)", n)
	}
}
