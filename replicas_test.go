package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lemlist-graphql/server/internal/pgtest"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

// replicaStatus is mirrorStatus and activityStats as one replica answers
// them over GraphQL.
type replicaStatus struct {
	MirrorStatus struct {
		State      string
		Syncing    bool
		Activities int
		CoveredTo  *string
	} `json:"mirrorStatus"`
	ActivityStats *struct {
		Source string
		Total  int
	} `json:"activityStats"`
}

// status asks s for its mirrorStatus and, with stats, for activityStats
// over all time.
func (s *testServer) replicaStatus(t *testing.T, stats bool) (replicaStatus, *gqlResponse) {
	t.Helper()
	q := `{ mirrorStatus { state syncing activities coveredTo } }`
	if stats {
		q = `{ mirrorStatus { state syncing activities coveredTo } activityStats(groupBy: [], maxUpstreamCalls: 500) { source total } }`
	}
	r := s.post(t, q)
	var out replicaStatus
	if len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatalf("%s: %v", r.Raw, err)
		}
	}
	return out, r
}

// TestMirrorReplicas runs three replicas on one key against one fake
// lemlist at lemlist's own budget (20 requests per 2 s, 429 past it), one
// real Redis (the shared limiter) and one real PostgreSQL as MIRROR, with
// a 2 s lease:
//
//   - one replica syncs, the others answer from what it writes, and the
//     history is downloaded once;
//   - the syncing replica is abandoned mid-backfill without releasing its
//     lease; another takes it after the TTL and finishes, with no gap and
//     no duplicate;
//   - PostgreSQL is killed and restarted: the replicas report FAILING,
//     then LIVE again without a second backfill;
//   - the fake never saw more than 20 requests in any 2 s, nor a 429.
func TestMirrorReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three replicas, Redis and PostgreSQL: about 30 s")
	}
	const n, budget, window = 3000, 20, 2 * time.Second
	const ttl = 2 * time.Second
	pg := pgtest.Start(t)
	rs := redistest.Start(t)
	fake := newFake(t, lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Activities: n, Now: time.Now(), Span: 30 * 24 * time.Hour},
		RateLimit: lemlisttest.DefaultRateLimit,
	})
	all, err := fake.Expected(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	want := len(all) // the brute-force count of the fake's dataset
	start := time.Now()
	var replicas []*testServer
	for range 3 {
		replicas = append(replicas, startApp(t, serverEnv(fake,
			"LEMLIST_RATE_LIMIT", "20", "REQUEST_TIMEOUT", "20s", "WRITE_TIMEOUT", "30s",
			"REDIS_URL", rs.URL(), "REDIS_FALLBACK_REPLICAS", "3",
			"MIRROR", pg.URL("postgres"), "MIRROR_LEASE_TTL", ttl.String(), "POLL_INTERVAL", "1s",
			"WEBHOOK_SECRET", testWebhookSecret)))
	}
	syncers := func(rs []*testServer) []int {
		var out []int
		for i, s := range rs {
			if st, _ := s.replicaStatus(t, false); st.MirrorStatus.Syncing {
				out = append(out, i)
			}
		}
		return out
	}

	// 1. One replica syncs; stop it abruptly once it has written part of
	// the history.
	var killed int
	waitFor(t, "one replica to sync and write part of the history", 30*time.Second, func() bool {
		s := syncers(replicas)
		if len(s) > 1 {
			t.Fatalf("replicas %v all report syncing", s)
		}
		if len(s) == 0 {
			return false
		}
		killed = s[0]
		st, _ := replicas[killed].replicaStatus(t, false)
		return st.MirrorStatus.Activities > 0
	})
	st, _ := replicas[killed].replicaStatus(t, false)
	t.Logf("replica %d syncs; abandoned at %s with %d of %d activities written, after %v",
		killed, st.MirrorStatus.State, st.MirrorStatus.Activities, want, time.Since(start).Round(time.Millisecond))
	// As close to kill -9 as in-process allows: its connection pool is
	// closed first, so that the engine's release of the lease on the way
	// out fails and the lease row stays until its TTL runs out; then its
	// engines and the rest of the app stop.
	k := replicas[killed]
	_ = k.app.mstore.store.Close()
	k.app.Close()
	abandoned := time.Now()
	var rest []*testServer
	for i, s := range replicas {
		if i != killed {
			rest = append(rest, s)
		}
	}

	// 2. Another takes the lease about a TTL later and finishes.
	waitFor(t, "another replica to take the lease", 5*ttl, func() bool { return len(syncers(rest)) == 1 })
	t.Logf("the lease moved %v after the syncer was abandoned (TTL %v)", time.Since(abandoned).Round(time.Millisecond), ttl)
	waitFor(t, "the backfill to finish, seen by both replicas", 45*time.Second, func() bool {
		for _, s := range rest {
			if st, _ := s.replicaStatus(t, false); st.MirrorStatus.State != "LIVE" {
				return false
			}
		}
		return true
	})
	backfilled := fake.CountRequests("/activities")
	for i, s := range rest {
		st, r := s.replicaStatus(t, true)
		if st.ActivityStats == nil {
			t.Fatalf("replica %d activityStats: %s", i, r.Raw)
		}
		if st.ActivityStats.Source != "MIRROR" || st.ActivityStats.Total != want || st.MirrorStatus.Activities != want {
			t.Errorf("replica %d: activityStats %+v, mirror %+v; want source MIRROR and total %d", i, *st.ActivityStats, st.MirrorStatus, want)
		}
	}
	if s := syncers(rest); len(s) != 1 {
		t.Errorf("syncing replicas after the failover: %v, want one", s)
	}
	// The history was read once: n/100 pages, plus the killed syncer's
	// page in flight, and the polls (1 s) since.
	pages := (want + 99) / 100
	t.Logf("/activities calls at the end of the backfill: %d (history %d pages), after %v", backfilled, pages, time.Since(start).Round(time.Millisecond))
	if backfilled > pages+pages/2+10 {
		t.Errorf("%d /activities calls for a %d-page history: it was read more than once", backfilled, pages)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM activities`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if rows != want || distinct != want {
		t.Errorf("the store holds %d rows, %d distinct ids; want %d of each", rows, distinct, want)
	}

	// 3. PostgreSQL crashes and comes back.
	pg.Kill()
	waitFor(t, "both replicas to report FAILING", 30*time.Second, func() bool {
		for _, s := range rest {
			if st, _ := s.replicaStatus(t, false); st.MirrorStatus.State != "FAILING" {
				return false
			}
		}
		return true
	})
	for i, s := range rest {
		st, r := s.replicaStatus(t, true)
		if st.ActivityStats != nil {
			t.Logf("replica %d during the outage: activityStats source %s total %d", i, st.ActivityStats.Source, st.ActivityStats.Total)
		} else {
			t.Logf("replica %d during the outage: activityStats %s", i, r.Raw)
		}
	}
	// The fallback's scans above read the history from upstream (and may
	// still be paging): count the mirror's own calls, which its engines
	// count, from here.
	mirrorCalls := func() int {
		n := 0
		for _, s := range rest {
			n += int(mirrorStatus(t, s, upstream.TenantID(keyDefault)).Counters.Calls)
		}
		return n
	}
	down := mirrorCalls()
	pg.Restart()
	restarted := time.Now()
	waitFor(t, "both replicas LIVE again", 30*time.Second, func() bool {
		live := true
		for i, s := range rest {
			st, _ := s.replicaStatus(t, false)
			if st.MirrorStatus.State != "LIVE" {
				live = false
				if time.Since(restarted) > 25*time.Second {
					t.Logf("replica %d: %+v; engine %+v", i, st.MirrorStatus, mirrorStatus(t, s, upstream.TenantID(keyDefault)))
				}
			}
		}
		return live
	})
	t.Logf("LIVE again %v after PostgreSQL's restart", time.Since(restarted).Round(time.Millisecond))
	for i, s := range rest {
		st, r := s.replicaStatus(t, true)
		if st.ActivityStats == nil || st.ActivityStats.Source != "MIRROR" || st.ActivityStats.Total != want {
			t.Errorf("replica %d after PostgreSQL's restart: %s", i, r.Raw)
		}
	}
	after := mirrorCalls()
	t.Logf("the mirror's upstream calls: %d before PostgreSQL's restart, %d once LIVE again", down, after)
	if after-down >= pages {
		t.Errorf("the mirror made %d upstream calls from PostgreSQL's restart to LIVE: a new backfill (%d pages)", after-down, pages)
	}

	// 4. The budget held.
	refused := 0
	for _, r := range fake.Requests() {
		if r.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	most := fake.MaxInWindow()
	t.Logf("upstream: %d requests, at most %d in any %v, %d refused; %v in all", len(fake.Requests()), most, window, refused, time.Since(start).Round(time.Millisecond))
	if most > budget || refused > 0 {
		t.Errorf("the fake saw up to %d requests in %v and refused %d; want <= %d and 0", most, window, refused, budget)
	}
}

// feedRecord is what one replica's subscriber received, in order.
type feedRecord struct {
	sub *sseSub
	got []string
}

// await reads the subscriber's stream until every id of want has come,
// failing t after d.
func (r *feedRecord) await(t *testing.T, replica int, d time.Duration, want ...string) {
	t.Helper()
	timeout := time.After(d)
	for slices.ContainsFunc(want, func(id string) bool { return !slices.Contains(r.got, id) }) {
		select {
		case id, ok := <-r.sub.ids:
			if !ok {
				t.Fatalf("replica %d's subscriber: the stream ended; received %v", replica, r.got)
			}
			r.got = append(r.got, id)
		case <-timeout:
			t.Fatalf("replica %d's subscriber: %v did not all come within %v; received %v", replica, want, d, r.got)
		}
	}
}

// hookNow is a webhook call's body for an activity created now.
func hookNow(id string) string {
	return `{"_id":"` + id + `","type":"emailsReplied","createdAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","secret":"` + testWebhookSecret + `"}`
}

// TestMirrorReplicasFeed runs three replicas on one key with Redis and a
// mirror, and a subscriber to activityAdded (SSE) on each: every
// subscriber receives each new activity exactly once, whichever replica
// stored it. Two topologies:
//
//   - one PostgreSQL shared by the replicas: only the lease holder polls
//     the head, and a webhook is stored by the replica it reaches; the
//     others learn of the new rows from the storing replica's relay;
//   - a SQLite file per replica: each syncs on its own, and each stores
//     every activity; the subscribers drop the repeats.
//
// The activities: one that appears upstream and is found by the head poll;
// one that a webhook brings to a replica that does not sync, posted again
// (lemlist's retry) to the third; then two markers, one of each kind.
// Once every subscriber has both markers, nothing received earlier may
// come again: a repeat would have travelled ahead of the markers, on the
// same relay and in the same order.
func TestMirrorReplicasFeed(t *testing.T) {
	if testing.Short() {
		t.Skip("three replicas, Redis and a mirror, twice")
	}
	t.Parallel()
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "shared PostgreSQL", false: "SQLite per replica"}[shared]
		t.Run(name, func(t *testing.T) {
			rs := redistest.Start(t)
			fake := mirrorFake(t, 200, true)
			var pgURL string
			if shared {
				pgURL = pgtest.Start(t).URL("postgres")
			}
			var replicas []*testServer
			for i := range 3 {
				store := pgURL
				if !shared {
					store = "sqlite:" + filepath.Join(t.TempDir(), fmt.Sprintf("replica%d.db", i))
				}
				replicas = append(replicas, startApp(t, serverEnv(fake,
					"LEMLIST_RATE_LIMIT", "20", "REDIS_URL", rs.URL(), "REDIS_FALLBACK_REPLICAS", "3",
					"MIRROR", store, "MIRROR_LEASE_TTL", "2s", "POLL_INTERVAL", "1s",
					"WEBHOOK_SECRET", testWebhookSecret)))
			}
			tenant := upstream.TenantID(keyDefault)
			var syncing []int
			waitFor(t, "every replica LIVE", time.Minute, func() bool {
				syncing = syncing[:0]
				for i, s := range replicas {
					st := mirrorStatus(t, s, tenant)
					if st.State != mirror.StateLive {
						return false
					}
					if st.Syncing {
						syncing = append(syncing, i)
					}
				}
				return true
			})
			// The replicas a webhook goes to: two that do not sync when
			// the store is shared.
			hookTo := []int{1, 2}
			if shared {
				if len(syncing) != 1 {
					t.Fatalf("replicas %v sync, want one", syncing)
				}
				hookTo = slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return i == syncing[0] })
			}
			post := func(to int, body string) {
				t.Helper()
				if code := postHook(t, replicas[to].url+"/webhooks/lemlist", body); code != http.StatusNoContent {
					t.Fatalf("webhook on replica %d: %d", to, code)
				}
			}

			// The subscriptions start asynchronously: post webhooks to each
			// replica until its own subscriber gets one.
			recs := make([]*feedRecord, len(replicas))
			var warm []string
			for i, s := range replicas {
				recs[i] = &feedRecord{sub: subscribeSSE(t, s.url, `subscription { activityAdded { id } }`)}
				waitFor(t, fmt.Sprintf("replica %d's subscription", i), 10*time.Second, func() bool {
					id := fmt.Sprintf("act_warm%d_%d", i, len(warm))
					warm = append(warm, id)
					post(i, hookNow(id))
					select {
					case got, ok := <-recs[i].sub.ids:
						if !ok {
							t.Fatalf("replica %d's subscription ended", i)
						}
						recs[i].got = append(recs[i].got, got)
						return true
					case <-time.After(100 * time.Millisecond):
						return false
					}
				})
			}

			// One the head poll finds upstream (only the lease holder's,
			// when the store is shared).
			polled := insertNow(t, fake).ID
			for i, r := range recs {
				r.await(t, i, 15*time.Second, polled)
			}
			// One a webhook brings to a replica that does not sync, and
			// lemlist's retry brings to another.
			hooked := "act_relay_hooked"
			post(hookTo[0], hookNow(hooked))
			post(hookTo[1], hookNow(hooked))
			for i, r := range recs {
				r.await(t, i, 15*time.Second, hooked)
			}
			// The markers.
			markPoll := insertNow(t, fake).ID
			markHook := "act_relay_marker"
			post(hookTo[0], hookNow(markHook))
			for i, r := range recs {
				r.await(t, i, 15*time.Second, markPoll, markHook)
			}

			for i, r := range recs {
				count := map[string]int{}
				for _, id := range r.got {
					count[id]++
					if count[id] > 1 || (!slices.Contains(warm, id) && !slices.Contains([]string{polled, hooked, markPoll, markHook}, id)) {
						t.Errorf("replica %d's subscriber received %s %d times (all: %v)", i, id, count[id], r.got)
					}
				}
			}
			if shared {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				conn, err := pgx.Connect(ctx, pgURL)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				var rows int
				if err := conn.QueryRow(ctx, `SELECT count(*) FROM activities WHERE id = $1`, hooked).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				if rows != 1 {
					t.Errorf("the webhook's activity is stored %d times, want once", rows)
				}
			}
		})
	}
}
