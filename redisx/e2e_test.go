package redisx

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

// Three replicas (a Pool each, with its own Redis client) against the
// lemlist fake, which enforces n per window per key and answers 429 past
// it: hammered with distinct leads, together they never draw a 429; then
// each serves what the others fetched from the shared cache. Without
// Redis, the same replicas draw 429s: the test can tell.
func TestReplicasAgainstLemlist(t *testing.T) {
	t.Parallel()
	const (
		n        = 10
		window   = 500 * time.Millisecond
		duration = 2 * time.Second
		workers  = 6
		// slack shortens the fake's window: a slot is counted from its
		// grant until its request is answered, and a request can reach
		// the fake that much after its grant on a loaded test machine.
		slack = 100 * time.Millisecond
	)
	srv := redistest.Start(t)
	run := func(t *testing.T, shared bool) (fake *lemlisttest.Server, pools []*upstream.Pool, fetched [][]string) {
		fake = lemlisttest.NewServer(lemlisttest.Options{
			RateLimit: n, RateWindow: window - slack, Latency: 2 * time.Millisecond,
			Dataset: lemlisttest.DatasetOptions{Activities: 3000},
		})
		t.Cleanup(fake.Close)
		leads := fake.Tenant(lemlisttest.DefaultTenant).Leads()
		for range 3 {
			o := upstream.PoolOptions{BaseURL: fake.URL, RateLimit: n, RateWindow: window}
			if shared {
				r := newReplica(t, srv)
				o.Limiters = r.Limiters(n, window, 3)
				o.Cache = upstream.NewCache(upstream.CacheOptions{TTL: time.Minute, Shared: r.CacheStore()})
			}
			p, err := upstream.NewPool(o)
			if err != nil {
				t.Fatal(err)
			}
			pools = append(pools, p)
		}
		fetched = make([][]string, len(pools))
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for i, p := range pools {
			up, err := p.For(lemlisttest.DefaultAPIKey)
			if err != nil {
				t.Fatal(err)
			}
			for range workers {
				wg.Go(func() {
					for time.Since(start) < duration {
						j := int(next.Add(1)) - 1
						if j >= len(leads) {
							return
						}
						_, err := up.GetLead(withTimeout(t, 5*time.Second), leads[j].ID)
						if err != nil {
							if shared {
								t.Errorf("replica %d: %v", i, err)
							}
							continue
						}
						mu.Lock()
						fetched[i] = append(fetched[i], leads[j].ID)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		return fake, pools, fetched
	}
	count429 := func(fake *lemlisttest.Server) (ok, refused int) {
		for _, r := range fake.Requests() {
			switch r.Status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				refused++
			}
		}
		return ok, refused
	}

	t.Run("with redis", func(t *testing.T) {
		fake, pools, fetched := run(t, true)
		ok, refused := count429(fake)
		if refused != 0 || fake.MaxInWindow() > n {
			t.Errorf("%d 429s, at most %d requests in one window; want 0 and <= %d", refused, fake.MaxInWindow(), n)
		}
		t.Logf("3 replicas × %d workers for %v: %d requests answered (%v per replica), %d refused, at most %d per %v",
			workers, duration, ok, []int{len(fetched[0]), len(fetched[1]), len(fetched[2])}, refused, fake.MaxInWindow(), window-slack)

		// Each replica now reads what the others fetched: from Redis.
		before := fake.CountRequests("/leads")
		for i, p := range pools {
			up, _ := p.For(lemlisttest.DefaultAPIKey)
			for j, ids := range fetched {
				if j == i {
					continue
				}
				for _, id := range ids {
					l, err := up.GetLead(t.Context(), id)
					if err != nil || l.ID != id {
						t.Fatalf("replica %d, lead %s fetched by replica %d: %v", i, id, j, err)
					}
				}
			}
		}
		if after := fake.CountRequests("/leads"); after != before {
			t.Errorf("%d requests to lemlist for leads another replica fetched, want 0", after-before)
		}
	})

	t.Run("without redis", func(t *testing.T) {
		fake, _, _ := run(t, false)
		ok, refused := count429(fake)
		if refused == 0 {
			t.Errorf("no 429 with three local budgets: the test cannot tell")
		}
		t.Logf("without Redis: %d answered, %d refused with 429, at most %d per %v", ok, refused, fake.MaxInWindow(), window-slack)
	})
}
