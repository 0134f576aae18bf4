package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/redisx/redistest"
)

// TestScaleOut runs three replicas against one fake lemlist, which enforces
// lemlist's budget of 20 requests per 2 s per key (answering 429 past it),
// and one real Redis. Load goes through all three, while Redis is up, then
// killed, then back:
//
//   - the fake never saw more than 20 requests in any 2 s, and never
//     refused one;
//   - every query succeeded, by waiting for budget within its deadline;
//   - a webhook received by one replica reaches a subscriber of another,
//     and does so again once Redis is back after the outage;
//   - what one replica fetched, another serves from the shared cache;
//   - /readyz and redis_up show the outage, and the recovery.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s of load")
	}
	t.Parallel()
	const budget, window = 20, 2 * time.Second
	rs := redistest.Start(t)
	fake := lemlisttest.NewServer(lemlisttest.Options{
		APIKey:  keyDefault,
		Dataset: lemlisttest.DatasetOptions{Activities: 5000},
		// RateLimit 0: lemlist's own, 20 per 2 s per key.
	})
	t.Cleanup(fake.Close)
	var replicas []*testServer
	for range 3 {
		replicas = append(replicas, startApp(t, map[string]string{
			"LEMLIST_API_KEY": keyDefault, "LEMLIST_BASE_URL": fake.URL, "HOST": "127.0.0.1",
			"LEMLIST_RATE_LIMIT": "20", "CACHE_TTL": "1m", "REQUEST_TIMEOUT": "20s", "WRITE_TIMEOUT": "30s",
			"REDIS_URL": rs.URL(), "REDIS_FALLBACK_REPLICAS": "3",
			"WEBHOOK_SECRET": testWebhookSecret, "POLL_INTERVAL": "0",
		}))
	}
	a, b, c := replicas[0], replicas[1], replicas[2]

	// A subscriber on B and one on C, over SSE.
	subB := subscribeSSE(t, b.url, `subscription { activityAdded { id type } }`)
	subC := subscribeSSE(t, c.url, `subscription { activityAdded(filter: {type: "emailsReplied"}) { id } }`)
	hooks := 0
	hook := func(to *testServer) string {
		hooks++
		id := fmt.Sprintf("act_scale%04d", hooks)
		if code := postHook(t, to.url+"/webhooks/lemlist", hookBody(id, testWebhookSecret)); code != http.StatusNoContent {
			t.Fatalf("webhook on %s: %d", to.url, code)
		}
		return id
	}
	// The subscriptions start asynchronously: post to A until both got one.
	var firstB, firstC string
	waitFor(t, "a webhook on A to reach B and C", 10*time.Second, func() bool {
		id := hook(a)
		firstB = cmp.Or(firstB, subB.take(id, 100*time.Millisecond))
		firstC = cmp.Or(firstC, subC.take(id, 100*time.Millisecond))
		return firstB != "" && firstC != ""
	})
	id := hook(a)
	if got := subB.take(id, 5*time.Second); got != id {
		t.Fatalf("B: the activity %s from A's webhook did not arrive", id)
	}
	if got := subC.take(id, 5*time.Second); got != id {
		t.Fatalf("C: the activity %s from A's webhook did not arrive", id)
	}

	// Load: 3 clients per replica, each query a lead's timeline (distinct
	// leads, so the cache answers none and each costs one upstream call).
	leads := fake.Tenant(lemlisttest.DefaultTenant).Leads()
	var next atomic.Int64
	var failures atomic.Int64
	var fetched sync.Map // lead id -> replica index, since Redis (re)started
	var redisUp atomic.Bool
	redisUp.Store(true)
	start := time.Now()
	load := func(d time.Duration) int {
		var done atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for i, s := range replicas {
			for range 3 {
				wg.Go(func() {
					for time.Now().Before(stop) {
						lead := leads[int(next.Add(1))%len(leads)].ID
						r := s.post(t, map[string]any{
							"query":     `query($lead: ID!) { activities(first: 5, filter: {leadId: $lead}) { nodes { id type } } }`,
							"variables": map[string]any{"lead": lead},
						})
						if r.Status != http.StatusOK || len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"nodes"`) {
							failures.Add(1)
							t.Errorf("replica %d, lead %s: %d %s", i, lead, r.Status, r.Raw)
							continue
						}
						if redisUp.Load() {
							fetched.Store(lead, i)
						}
						done.Add(1)
					}
				})
			}
		}
		wg.Wait()
		return int(done.Load())
	}

	served := load(5 * time.Second)
	t.Logf("Redis up: %d queries", served)

	killed := time.Since(start)
	rs.Kill()
	redisUp.Store(false) // answers fetched now are not shared
	served = load(5 * time.Second)
	t.Logf("Redis killed: %d queries", served)
	for i, s := range replicas {
		if s.app.redis.Healthy() {
			t.Errorf("replica %d still takes Redis for healthy", i)
		}
		if body := get(t, s.url+"/readyz"); body.status != http.StatusOK || !strings.Contains(body.text, "degraded") {
			t.Errorf("replica %d /readyz during the outage: %d %q", i, body.status, body.text)
		}
		if m := get(t, s.url+"/metrics").text; !strings.Contains(m, "\nredis_up 0\n") {
			t.Errorf("replica %d: redis_up is not 0 during the outage", i)
		}
	}
	// During the outage A delivers a webhook to its own subscribers (none
	// here) but cannot pass it on: it answers 503, so that lemlist calls
	// again (issue 13, item 7).
	if code := postHook(t, a.url+"/webhooks/lemlist", hookBody("act_scale_outage", testWebhookSecret)); code != http.StatusServiceUnavailable {
		t.Fatalf("webhook on A while Redis is down: %d, want 503", code)
	}

	restarted := time.Since(start)
	rs.Restart()
	waitFor(t, "every replica to use Redis again", 15*time.Second, func() bool {
		for _, s := range replicas {
			if !s.app.redis.Healthy() {
				return false
			}
		}
		return true
	})
	var back string
	waitFor(t, "a webhook on C to reach B through the restored subscription", 15*time.Second, func() bool {
		back = cmp.Or(back, subB.take(hook(c), 100*time.Millisecond))
		return back != ""
	})
	fetched.Clear() // the restarted Redis is empty
	redisUp.Store(true)
	served = load(4 * time.Second)
	t.Logf("Redis back: %d queries", served)
	for i, s := range replicas {
		if body := get(t, s.url+"/readyz"); body.status != http.StatusOK || !strings.Contains(body.text, "redis: ok") {
			t.Errorf("replica %d /readyz after recovery: %d %q", i, body.status, body.text)
		}
	}

	// The budget held throughout, and nothing failed.
	refused := 0
	for _, r := range fake.Requests() {
		if r.Status == http.StatusTooManyRequests {
			refused++
			t.Logf("429 at %v (Redis killed at %v, restarted at %v)", r.Time.Sub(start), killed, restarted)
		}
	}
	most := fake.MaxInWindow()
	t.Logf("upstream: %d requests, at most %d in any %v, %d refused; %d queries failed",
		len(fake.Requests()), most, window, refused, failures.Load())
	if most > budget || refused > 0 {
		t.Errorf("the fake saw up to %d requests in %v and refused %d; want <= %d and 0", most, window, refused, budget)
	}
	if failures.Load() > 0 {
		t.Errorf("%d queries failed", failures.Load())
	}

	// Each replica serves what another fetched while Redis was up from the
	// shared cache.
	before := fake.CountRequests("/activities")
	checked := 0
	fetched.Range(func(k, v any) bool {
		s := replicas[(v.(int)+1)%3]
		r := s.post(t, map[string]any{
			"query":     `query($lead: ID!) { activities(first: 5, filter: {leadId: $lead}) { nodes { id type } } }`,
			"variables": map[string]any{"lead": k},
		})
		mustOK(t, r)
		checked++
		return checked < 30
	})
	if n := fake.CountRequests("/activities") - before; n != 0 {
		t.Errorf("%d queries already answered by another replica made %d upstream calls; want 0 (shared cache)", checked, n)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

type getResult struct {
	status int
	text   string
}

func get(t *testing.T, url string) getResult {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		sb.WriteString(sc.Text() + "\n")
	}
	return getResult{resp.StatusCode, sb.String()}
}

// sseSub is a GraphQL subscription over SSE: the ids of the activities it
// receives, in order.
type sseSub struct {
	ids chan string
}

// subscribeSSE starts query (an activityAdded subscription) on the server
// at url, with the headers hs, and collects the ids it delivers until the
// test ends; ids is closed when the stream ends.
func subscribeSSE(t *testing.T, url, query string, hs ...header) *sseSub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range hs {
		req.Header.Set(h.k, h.v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	s := &sseSub{ids: make(chan string, 1000)}
	go func() {
		defer close(s.ids)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev struct {
				Data struct {
					ActivityAdded struct{ ID string } `json:"activityAdded"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(data), &ev) == nil && ev.Data.ActivityAdded.ID != "" {
				s.ids <- ev.Data.ActivityAdded.ID
			}
		}
	}()
	return s
}

// take waits up to d for the activity id and returns it, or "" when it
// did not come. Other activities received meanwhile are skipped; each id
// must arrive once.
func (s *sseSub) take(id string, d time.Duration) string {
	timeout := time.After(d)
	for {
		select {
		case got, ok := <-s.ids:
			if !ok {
				return "" // the stream ended
			}
			if got == id {
				return id
			}
		case <-timeout:
			return ""
		}
	}
}

// TestRedisSettings: an unreachable Redis does not stop the server from
// starting or serving (it starts degraded), and its URL's password never
// reaches the logs.
func TestRedisSettings(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	const password = "redis-pass-8d2f6b1e4c7a"
	s := startApp(t, serverEnv(fake, "REDIS_URL", "redis://:"+password+"@127.0.0.1:1/0"))
	mustOK(t, s.post(t, map[string]any{"query": `{ activities(first: 3) { nodes { id } } }`}))
	if s.app.redis.Healthy() {
		t.Error("Redis on port 1 taken for healthy")
	}
	if r := get(t, s.url+"/readyz"); r.status != http.StatusOK || !strings.Contains(r.text, "degraded") {
		t.Errorf("/readyz: %d %q", r.status, r.text)
	}
	if strings.Contains(s.logs.String(), password) {
		t.Errorf("the Redis password reached the logs:\n%s", s.logs.String())
	}
	if !strings.Contains(s.logs.String(), "redis unavailable") {
		t.Errorf("the failure was not logged:\n%s", s.logs.String())
	}
}
