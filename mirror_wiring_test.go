package main

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/metrics"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/upstream"
)

// mirrorStatus returns the status of tenant's engine, failing t when the
// server runs none.
func mirrorStatus(t *testing.T, s *testServer, tenant string) mirror.Status {
	t.Helper()
	e := s.app.mirror.For(tenant)
	if e == nil {
		t.Fatalf("no engine for tenant %s", tenant)
	}
	st, _ := e.Status(t.Context()) // a store error: st says FAILING
	return st
}

// mirrorFake is a fake whose dataset ends now (the engine reads up to its
// clock), with n activities for the default tenant; limited is lemlist's
// own rate limit, else none.
func mirrorFake(t *testing.T, n int, limited bool) *lemlisttest.Server {
	t.Helper()
	// A minute back, so that activities inserted now (insertNow) are the newest.
	o := lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: n, Now: time.Now().Add(-time.Minute), Span: 30 * 24 * time.Hour}}
	if limited {
		o.RateLimit = lemlisttest.DefaultRateLimit
	}
	return newFake(t, o)
}

// insertNow inserts an activity created now into fake's default tenant:
// the head the engine polls (an insert without a date would go one second
// above the newest, into the future after a few).
func insertNow(t *testing.T, fake *lemlisttest.Server) lemlisttest.Activity {
	t.Helper()
	acts, err := fake.Insert(lemlisttest.ActivitySpec{CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return acts[0]
}

// Demo mode mirrors its fake by default, into a temporary file removed
// with the server, and the metrics show it.
func TestMirrorDemo(t *testing.T) {
	t.Parallel()
	s := startApp(t, map[string]string{"DEMO_ACTIVITIES": "450", "LEMLIST_RATE_LIMIT": "0"})
	tenant := upstream.TenantID(lemlisttest.DefaultAPIKey)
	waitFor(t, "the demo's backfill", time.Minute, func() bool { return mirrorStatus(t, s, tenant).State == mirror.StateLive })
	st := mirrorStatus(t, s, tenant)
	if st.Activities < 450 || !st.AllTime || !st.Syncing || st.LastError != "" {
		t.Fatalf("status %+v, want the 450 activities of the demo (or more, emitted since), all time, syncing", st)
	}
	path := s.app.mstore.where
	if !strings.HasPrefix(filepath.Base(filepath.Dir(path)), "lemlist-graphql-mirror-") {
		t.Fatalf("demo store at %s, want a temporary directory", path)
	}
	if !strings.Contains(s.logs.String(), path) {
		t.Error("the startup log does not say where the mirror lives")
	}
	fams := scrape(t, s)
	if v := value(fams, "mirror_tenants", map[string]string{"state": "LIVE"}); v != 1 {
		t.Errorf("mirror_tenants{state=LIVE} = %v, want 1", v)
	}
	if v := value(fams, "mirror_activities", nil); v < 450 {
		t.Errorf("mirror_activities = %v, want at least 450", v)
	}
	if v := value(fams, "mirror_backfill_progress", nil); v != 1 {
		t.Errorf("mirror_backfill_progress = %v, want 1", v)
	}
	calls := value(fams, "mirror_upstream_calls_total", nil)
	if bg := value(fams, "lemlist_requests_by_lane_total", map[string]string{"lane": metrics.LaneBackground}); calls < 5 || bg < 5 {
		t.Errorf("mirror_upstream_calls_total = %v, background lane = %v: want the backfill's 5 calls or more in each", calls, bg)
	}
	s.app.Close()
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the demo's mirror %s outlived the server (%v)", path, err)
	}
}

// sseIDs subscribes to activityAdded over SSE, with the headers hs, and
// sends the id of each activity received.
func sseIDs(t *testing.T, s *testServer, hs ...header) <-chan string {
	t.Helper()
	return subscribeSSE(t, s.url, `subscription { activityAdded { id } }`, hs...).ids
}

// With the mirror on, activityAdded publishes what the mirror ingests: an
// activity a webhook brings reaches a subscriber once, though the
// engine's polls then see it too, and one only a poll finds follows it;
// the hub runs no poller of its own.
func TestMirrorFeedsTheLiveFeed(t *testing.T) {
	t.Parallel()
	fake := mirrorFake(t, 300, false)
	s := startApp(t, serverEnv(fake, "MIRROR", "sqlite:"+filepath.Join(t.TempDir(), "m.db"),
		"WEBHOOK_SECRET", testWebhookSecret, "POLL_INTERVAL", "1s"))
	tenant := upstream.TenantID(keyDefault)
	waitFor(t, "the backfill", time.Minute, func() bool { return mirrorStatus(t, s, tenant).State == mirror.StateLive })
	if st := mirrorStatus(t, s, tenant); st.Activities != 300 {
		t.Fatalf("mirrored %d activities, the fake has 300", st.Activities)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ids := sseIDs(t, s)
	// The subscription is registered asynchronously: post activities by
	// webhook until one arrives.
	var posted []string
	var first string
	for first == "" {
		a := insertNow(t, fake)
		posted = append(posted, a.ID)
		hook := strings.TrimSuffix(string(a.JSON()), "}") + `,"secret":"` + testWebhookSecret + `"}`
		if code := postHook(t, s.url+"/webhooks/lemlist", hook); code != http.StatusNoContent {
			t.Fatalf("webhook: %d", code)
		}
		select {
		case first = <-ids:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no event")
		}
	}
	if !slices.Contains(posted, first) {
		t.Fatalf("received %s, not one of the posted %v", first, posted)
	}
	// The mirror stored it (webhook → Ingest): a later poll finds it there.
	if _, ok, err := s.app.mirror.Store().Get(t.Context(), tenant, first); err != nil || !ok {
		t.Fatalf("the webhook's activity is not in the mirror: %v %v", ok, err)
	}
	// One only the engine's poll can find, created after the webhook's.
	byPoll := insertNow(t, fake).ID
	var got []string
	for !slices.Contains(got, byPoll) {
		select {
		case id, ok := <-ids:
			if !ok {
				t.Fatalf("the stream ended after %v", got)
			}
			got = append(got, id)
		case <-ctx.Done():
			t.Fatalf("the polled activity never came; got %v", got)
		}
	}
	// Nothing twice: the activities posted after the first one received
	// may come (each once), then the polled one, last.
	seen := map[string]bool{first: true}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s received twice: %s then %v", id, first, got)
		}
		seen[id] = true
		if id != byPoll && !slices.Contains(posted, id) {
			t.Fatalf("received %s, neither posted nor inserted", id)
		}
	}
	if got[len(got)-1] != byPoll {
		t.Fatalf("received %v, want the polled %s last", got, byPoll)
	}
	if v := value(scrape(t, s), "feed_pollers", nil); v != 0 {
		t.Errorf("feed_pollers = %v, want 0: the mirror polls for the feed", v)
	}
}

// An interactive query made while the backfill runs against a
// rate-limited upstream succeeds; the calls of the two are counted by
// lane, and the backfill then completes.
func TestMirrorQueryDuringBackfill(t *testing.T) {
	t.Parallel()
	const n = 4000 // 40 calls: 5 s at 16 per 2 s
	fake := mirrorFake(t, n, true)
	s := startApp(t, serverEnv(fake, "MIRROR", "sqlite:"+filepath.Join(t.TempDir(), "m.db"), "LEMLIST_RATE_LIMIT", "20"))
	tenant := upstream.TenantID(keyDefault)
	waitFor(t, "the backfill's first pages", time.Minute, func() bool {
		st := mirrorStatus(t, s, tenant)
		return st.Activities > 0
	})
	if st := mirrorStatus(t, s, tenant); st.State != mirror.StateBackfilling || st.BackfillProgress >= 1 {
		t.Fatalf("status %+v: the backfill should still run", st)
	}
	r := s.post(t, `{ activities(first: 5) { edges { node { id } } } }`)
	mustOK(t, r)
	if got, want := activityIDs(t, r), expectedIDs(t, fake, lemlisttest.DefaultTenant, 5); !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	waitFor(t, "the backfill", time.Minute, func() bool { return mirrorStatus(t, s, tenant).State == mirror.StateLive })
	if st := mirrorStatus(t, s, tenant); st.Activities != n {
		t.Fatalf("mirrored %d activities, the fake has %d", st.Activities, n)
	}
	fams := scrape(t, s)
	bg := value(fams, "lemlist_requests_by_lane_total", map[string]string{"lane": metrics.LaneBackground})
	fg := value(fams, "lemlist_requests_by_lane_total", map[string]string{"lane": metrics.LaneInteractive})
	if bg < n/100 || fg < 1 {
		t.Fatalf("calls by lane: background %v, interactive %v; want at least %d and 1", bg, fg, n/100)
	}
	if sync := value(fams, "mirror_upstream_calls_total", nil); sync < n/100 {
		t.Fatalf("mirror_upstream_calls_total %v, want at least %d", sync, n/100)
	}
}

// A store that breaks after startup makes the engine FAILING with its
// error, and queries are still answered from upstream.
func TestMirrorBrokenStore(t *testing.T) {
	t.Parallel()
	fake := mirrorFake(t, 200, false)
	s := startApp(t, serverEnv(fake, "MIRROR", "sqlite:"+filepath.Join(t.TempDir(), "m.db"), "POLL_INTERVAL", "1s"))
	tenant := upstream.TenantID(keyDefault)
	waitFor(t, "the backfill", time.Minute, func() bool { return mirrorStatus(t, s, tenant).State == mirror.StateLive })
	if err := s.app.mirror.Store().Close(); err != nil { // as a lost disk would
		t.Fatal(err)
	}
	waitFor(t, "FAILING", time.Minute, func() bool { return mirrorStatus(t, s, tenant).State == mirror.StateFailing })
	if st := mirrorStatus(t, s, tenant); st.LastError == "" {
		t.Fatalf("FAILING without lastError: %+v", st)
	}
	r := s.post(t, `{ activities(first: 3) { edges { node { id } } } }`)
	mustOK(t, r)
	if got, want := activityIDs(t, r), expectedIDs(t, fake, lemlisttest.DefaultTenant, 3); !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
}

// In pass-through mode a tenant's engine starts with its first request;
// tenants that never asked have none.
func TestMirrorPassthroughStartsOnRequest(t *testing.T) {
	t.Parallel()
	fake := mirrorFake(t, 100, false)
	s := startApp(t, map[string]string{
		"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0", "HOST": "127.0.0.1",
		"MIRROR": "sqlite:" + filepath.Join(t.TempDir(), "m.db"),
	})
	alpha, beta := upstream.TenantID(keyAlpha), upstream.TenantID(keyBeta)
	if s.app.mirror.Len() != 0 {
		t.Fatalf("%d engines before any request", s.app.mirror.Len())
	}
	mustOK(t, s.post(t, `{ activities(first: 1) { edges { node { id } } } }`, basicHeader("", keyAlpha)))
	if s.app.mirror.For(alpha) == nil || s.app.mirror.For(beta) != nil {
		t.Fatal("want an engine for alpha, which asked, and none for beta")
	}
	want, err := fake.Tenant("alpha").Expected(nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alpha's backfill", time.Minute, func() bool { return mirrorStatus(t, s, alpha).State == mirror.StateLive })
	if st := mirrorStatus(t, s, alpha); st.Activities != len(want) {
		t.Fatalf("alpha: mirrored %d, the fake has %d", st.Activities, len(want))
	}
}
