package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/lemlist"
)

const ttl = 30 * time.Second

func newTestCache(o CacheOptions) (*Cache, *clock, *counts) {
	clk := newClock()
	obs := &counts{}
	if o.Now == nil {
		o.Now = clk.Now
	}
	o.Observer = obs
	return NewCache(o), clk, obs
}

// call makes the call of kind k on up, returning the id of what it got.
func call(ctx context.Context, up Upstream, k kind, arg string) (string, error) {
	switch k {
	case kindActivities:
		rows, err := up.ListActivities(ctx, &lemlist.ActivityListOptions{CampaignID: arg, Limit: 2})
		if err != nil {
			return "", err
		}
		return rows[0].ID, nil
	case kindLead:
		l, err := up.GetLead(ctx, arg)
		if err != nil {
			return "", err
		}
		return l.ID, nil
	case kindContacts:
		cs, err := up.GetContacts(ctx, []string{arg})
		if err != nil {
			return "", err
		}
		if len(cs) == 0 {
			return "", nil
		}
		return cs[0].FullName + "/" + cs[0].ID, nil
	case kindCampaign:
		c, err := up.GetCampaign(ctx, arg)
		if err != nil {
			return "", err
		}
		return c.ID, nil
	case kindTeam:
		t, err := up.GetTeam(ctx)
		if err != nil {
			return "", err
		}
		return t.ID, nil
	}
	panic("unknown kind")
}

func TestTTLByKind(t *testing.T) {
	for k := range numKinds {
		long := k == kindCampaign || k == kindTeam
		t.Run(k.String(), func(t *testing.T) {
			c, clk, obs := newTestCache(CacheOptions{TTL: ttl})
			f := newFake("A")
			up := Cached(f, c, TenantID("key-a"))
			ctx := context.Background()
			mustCall := func() {
				t.Helper()
				if _, err := call(ctx, up, k, "x1"); err != nil {
					t.Fatal(err)
				}
			}
			mustCall()
			mustCall()
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("2 calls made %d upstream calls, want 1", n)
			}
			if h, m := obs.get("hit", k.String()), obs.get("miss", k.String()); h != 1 || m != 1 {
				t.Errorf("hits, misses = %d, %d; want 1, 1", h, m)
			}
			clk.Advance(ttl - time.Nanosecond)
			mustCall()
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("just before TTL: %d upstream calls, want 1", n)
			}
			clk.Advance(time.Nanosecond)
			mustCall()
			want := int64(2) // expired at TTL
			if long {
				want = 1 // kept for LongTTL = 10×TTL
			}
			if n := f.calls.Load(); n != want {
				t.Fatalf("at TTL: %d upstream calls, want %d", n, want)
			}
			if !long {
				return
			}
			clk.Advance(9*ttl - time.Nanosecond)
			mustCall()
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("just before LongTTL: %d upstream calls, want 1", n)
			}
			clk.Advance(time.Nanosecond)
			mustCall()
			if n := f.calls.Load(); n != 2 {
				t.Fatalf("at LongTTL: %d upstream calls, want 2", n)
			}
		})
	}
}

func TestExplicitLongTTL(t *testing.T) {
	c, clk, _ := newTestCache(CacheOptions{TTL: ttl, LongTTL: 2 * ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx := context.Background()
	for range 2 {
		if _, err := up.GetTeam(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(ttl)
	}
	if _, err := up.GetTeam(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls over 2×LongTTL, want 2", n)
	}
}

func TestExpiredEntriesDroppedOnRead(t *testing.T) {
	c, clk, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx := context.Background()
	if _, err := up.GetLead(ctx, "l1"); err != nil {
		t.Fatal(err)
	}
	if n, b := c.Size(); n != 1 || b <= 0 {
		t.Fatalf("Size() = %d, %d after one lead", n, b)
	}
	clk.Advance(ttl)
	f.setErr(errors.New("down")) // the refill fails: nothing is stored
	if _, err := up.GetLead(ctx, "l1"); err == nil {
		t.Fatal("no error")
	}
	if n, b := c.Size(); n != 0 || b != 0 {
		t.Fatalf("Size() = %d, %d after the entry expired, want 0, 0", n, b)
	}
}

func TestTTLZeroDisablesCaching(t *testing.T) {
	c, _, obs := newTestCache(CacheOptions{LongTTL: time.Hour}) // LongTTL ignored without TTL
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx := context.Background()
	for k := range numKinds {
		for range 3 {
			if _, err := call(ctx, up, k, "x"); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.byKind[k].Load(); n != 3 {
			t.Errorf("%s: %d upstream calls for 3 calls, want 3", k, n)
		}
		if h := obs.get("hit", k.String()); h != 0 {
			t.Errorf("%s: %d hits", k, h)
		}
	}
	if n, _ := c.Size(); n != 0 {
		t.Errorf("cache holds %d entries", n)
	}

	// Still coalescing.
	f2 := newFake("A")
	up = Cached(f2, c, "t")
	joins := watchJoins(c)
	release := f2.block()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := up.GetTeam(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	joins.wait(10)
	release()
	wg.Wait()
	if n := f2.calls.Load(); n != 1 {
		t.Fatalf("10 concurrent calls with TTL 0 made %d upstream calls, want 1", n)
	}
	if n := obs.get("coalesced", KindTeam); n != 9 {
		t.Errorf("coalesced = %d, want 9", n)
	}
}

func TestErrorsNotCached(t *testing.T) {
	errs := []error{
		errors.New("transport"),
		&lemlist.ErrorResponse{StatusCode: 500, Endpoint: "x", Message: "boom"},
		&lemlist.RateLimitError{Response: &http.Response{StatusCode: 429}},
		context.DeadlineExceeded,
	}
	for k := range numKinds {
		for _, e := range errs {
			t.Run(fmt.Sprintf("%s/%v", k, e), func(t *testing.T) {
				c, _, _ := newTestCache(CacheOptions{TTL: ttl})
				f := newFake("A")
				f.setErr(e)
				up := Cached(f, c, "t")
				ctx := context.Background()
				for range 2 {
					if _, err := call(ctx, up, k, "x"); !errors.Is(err, e) {
						t.Fatalf("err = %v, want %v", err, e)
					}
				}
				if n := f.calls.Load(); n != 2 {
					t.Fatalf("%d upstream calls for 2 failing calls, want 2", n)
				}
				f.setErr(nil)
				if _, err := call(ctx, up, k, "x"); err != nil {
					t.Fatalf("after recovery: %v", err)
				}
			})
		}
	}
}

func TestNotFoundRemembered(t *testing.T) {
	for _, k := range []kind{kindLead, kindCampaign, kindContacts} {
		t.Run(k.String(), func(t *testing.T) {
			c, clk, _ := newTestCache(CacheOptions{TTL: ttl, NotFoundTTL: 5 * time.Second})
			f := newFake("A")
			f.missing["gone"] = true
			up := Cached(f, c, "t")
			ctx := context.Background()
			check := func(wantCalls int64) {
				t.Helper()
				got, err := call(ctx, up, k, "gone")
				if k == kindContacts {
					if err != nil || got != "" {
						t.Fatalf("contacts: got %q, %v; want nothing", got, err)
					}
				} else {
					if !lemlist.IsNotFound(err) {
						t.Fatalf("err = %v, want a 404", err)
					}
				}
				if n := f.calls.Load(); n != wantCalls {
					t.Fatalf("%d upstream calls, want %d", n, wantCalls)
				}
			}
			check(1)
			clk.Advance(5*time.Second - time.Nanosecond)
			check(1)
			clk.Advance(time.Nanosecond)
			check(2)
		})
	}
}

func TestNotFoundRememberedWithoutResponse(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	f.missing["gone"] = true
	up := Cached(f, c, "t")
	ctx := context.Background()
	_, err1 := up.GetCampaign(ctx, "gone")
	_, err2 := up.GetCampaign(ctx, "gone")
	if f.calls.Load() != 1 {
		t.Fatalf("%d upstream calls", f.calls.Load())
	}
	if err1.Error() != err2.Error() {
		t.Errorf("remembered error %q, want %q", err2, err1)
	}
	e, ok := errors.AsType[*lemlist.ErrorResponse](err2)
	if !ok || e.Response != nil || e.StatusCode != 404 {
		t.Errorf("remembered error = %#v, want a 404 *ErrorResponse without Response", err2)
	}
}

func TestNotFoundTTLNegativeDisables(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl, NotFoundTTL: -1})
	f := newFake("A")
	f.missing["gone"] = true
	up := Cached(f, c, "t")
	for range 2 {
		if _, err := up.GetLead(context.Background(), "gone"); !lemlist.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls, want 2", n)
	}
}

func TestConcurrentIdenticalCallsCoalesce(t *testing.T) {
	const n = 50
	c, _, obs := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	f.delay = 20 * time.Millisecond
	up := Cached(f, c, "t")
	opts := func() *lemlist.ActivityListOptions { // a fresh, equal value per caller
		isFirst := true
		return &lemlist.ActivityListOptions{CampaignID: "cam_1", IsFirst: &isFirst, Offset: 100, Limit: 50,
			MaxDate: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	}
	results := make([][]*lemlist.Activity, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			rows, err := up.ListActivities(context.Background(), opts())
			if err != nil {
				t.Error(err)
			}
			results[i] = rows
		})
	}
	close(start)
	wg.Wait()
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent identical calls made %d upstream calls, want 1", n, got)
	}
	want, err := newFake("A").ListActivities(context.Background(), opts())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, results[0]); diff != "" {
		t.Fatalf("got (-want +got):\n%s", diff)
	}
	for i, rows := range results {
		if len(rows) != len(results[0]) || &rows[0] != &results[0][0] {
			t.Fatalf("caller %d got another page than caller 0", i)
		}
	}
	if h, co := obs.get("hit", KindActivities), obs.get("coalesced", KindActivities); h+co != n-1 {
		t.Errorf("hits %d + coalesced %d = %d, want %d", h, co, h+co, n-1)
	}
}

func TestEquivalentOptionsShareAnEntry(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx := context.Background()
	at := time.Date(2026, 9, 1, 12, 0, 0, 123_000_000, time.UTC)
	paris := time.FixedZone("CEST", 2*3600)
	yes1, yes2 := true, true
	same := []*lemlist.ActivityListOptions{
		{CampaignID: "cam_1", MaxDate: at, IsFirst: &yes1},
		{CampaignID: "cam_1", MaxDate: at.In(paris).Add(456 * time.Microsecond), IsFirst: &yes2}, // same query
	}
	for _, o := range same {
		if _, err := up.ListActivities(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("options encoding the same query made %d upstream calls, want 1", n)
	}
	no := false
	different := []*lemlist.ActivityListOptions{
		nil,
		{CampaignID: "cam_2", MaxDate: at, IsFirst: &yes1},
		{CampaignID: "cam_1", MaxDate: at, IsFirst: &no},
		{CampaignID: "cam_1", MaxDate: at},
		{CampaignID: "cam_1", MaxDate: at, IsFirst: &yes1, Offset: 1},
		{CampaignID: "cam_1", MaxDate: at, IsFirst: &yes1, Limit: 100}, // explicit 100 is another query
		{LeadID: "cam_1", MaxDate: at, IsFirst: &yes1},
	}
	for _, o := range different {
		if _, err := up.ListActivities(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if n, want := f.calls.Load(), int64(1+len(different)); n != want {
		t.Fatalf("%d upstream calls, want %d", n, want)
	}

	// Invalid options reach the upstream, which rejects them, uncached.
	for range 2 {
		if _, err := up.ListActivities(ctx, &lemlist.ActivityListOptions{Limit: 1000}); err == nil {
			t.Fatal("invalid options: no error")
		}
	}
}

func TestCallerMayReuseOptions(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	release := f.block()
	up := Cached(f, c, "t")
	yes := true
	o := &lemlist.ActivityListOptions{CampaignID: "cam_1", IsFirst: &yes}
	ctx, cancel := context.WithCancel(context.Background())
	f.started = make(chan struct{}, 1)
	done := make(chan error)
	go func() {
		_, err := up.ListActivities(ctx, o)
		done <- err
	}()
	<-f.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// The caller is gone and changes its options; the call in flight must
	// not see it, and must cache under the original query.
	o.CampaignID, *o.IsFirst = "cam_2", false
	release()
	rows, err := up.ListActivities(context.Background(), &lemlist.ActivityListOptions{CampaignID: "cam_1", IsFirst: &[]bool{true}[0]})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rows[0].ID, "campaignId=cam_1&isFirst=true") {
		t.Errorf("got row %q, from other options", rows[0].ID)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d upstream calls, want 1", n)
	}
}

// missHook is a CacheObserver that also runs a func, if set, on each
// miss: between a caller's cache lookup and its flight.
type missHook struct {
	counts
	onMiss atomic.Pointer[func()]
}

func (h *missHook) CacheMiss(kind string) {
	h.counts.CacheMiss(kind)
	if f := h.onMiss.Load(); f != nil {
		(*f)()
	}
}

// A caller that misses the cache just before a flight for its key keeps
// its answer, and reaches the flights just after that flight has ended,
// gets the kept answer: it neither misses both nor calls upstream again.
func TestMissJustBeforeFlightEnds(t *testing.T) {
	for k := range numKinds {
		t.Run(k.String(), func(t *testing.T) {
			obs := &missHook{}
			c := NewCache(CacheOptions{TTL: ttl, Now: newClock().Now, Observer: obs})
			f := newFake("A")
			f.started = make(chan struct{}, 1)
			release := f.block()
			up := Cached(f, c, "t")
			ctx := context.Background()

			type result struct {
				id  string
				err error
			}
			first := make(chan result, 1)
			go func() {
				id, err := call(ctx, up, k, "x")
				first <- result{id, err}
			}()
			<-f.started // the first call is upstream, its flight open
			var got result
			// The second caller has missed the cache: the first call ends
			// (its flight kept the answer and left the group) before the
			// second caller goes on to the flights.
			hook := func() {
				obs.onMiss.Store(nil)
				release()
				got = <-first
			}
			obs.onMiss.Store(&hook)
			id, err := call(ctx, up, k, "x")
			if got.err != nil || err != nil {
				t.Fatalf("first call: %v; second: %v", got.err, err)
			}
			if got.id == "" || id != got.id {
				t.Errorf("second call got %q, want the first's %q", id, got.id)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("%d upstream calls, want 1", n)
			}
			if m, co := obs.get("miss", k.String()), obs.get("coalesced", k.String()); m != 2 || co != 1 {
				t.Errorf("%d misses, %d coalesced; want 2 and 1", m, co)
			}
		})
	}
}

func TestFollowerCancelled(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	joins := watchJoins(c)
	f := newFake("A")
	release := f.block()
	up := Cached(f, c, "t")
	bg := context.Background()

	var wg sync.WaitGroup
	const others = 5
	for range others {
		wg.Go(func() {
			if _, err := up.GetLead(bg, "l1"); err != nil {
				t.Errorf("patient caller: %v", err)
			}
		})
	}
	joins.wait(others)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error)
	go func() {
		_, err := up.GetLead(ctx, "l1")
		done <- err
	}()
	joins.wait(others + 1)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled follower: err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled follower still waits for the flight")
	}
	release()
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1", n)
	}
}

func TestLeaderCancelledFollowersSucceed(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl, CallTimeout: time.Minute})
	joins := watchJoins(c)
	f := newFake("A")
	f.started = make(chan struct{}, 1)
	release := f.block()
	up := Cached(f, c, "t")

	type ctxKey struct{}
	lctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "leader"))
	leaderDone := make(chan error)
	go func() {
		_, err := up.GetCampaign(lctx, "c1")
		leaderDone <- err
	}()
	<-f.started // the leader's call is upstream
	const followers = 10
	var wg sync.WaitGroup
	got := make([]*lemlist.Campaign, followers)
	for i := range followers {
		wg.Go(func() {
			var err error
			got[i], err = up.GetCampaign(context.Background(), "c1")
			if err != nil {
				t.Errorf("follower %d: %v", i, err)
			}
		})
	}
	joins.wait(1 + followers)
	cancel()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: err = %v, want context.Canceled", err)
	}
	f.mu.Lock()
	fctx := f.ctxs[0]
	f.mu.Unlock()
	if fctx.Err() != nil {
		t.Fatalf("upstream call's ctx ended with its leader's: %v", fctx.Err())
	}
	if dl, ok := fctx.Deadline(); !ok || time.Until(dl) > time.Minute {
		t.Errorf("upstream call's deadline = %v, %v; want within CallTimeout", dl, ok)
	}
	if fctx.Value(ctxKey{}) != "leader" {
		t.Error("upstream call lost its ctx values")
	}
	release()
	wg.Wait()
	for i, cp := range got {
		if cp == nil || cp.ID != "A/cam/c1" {
			t.Fatalf("follower %d got %+v", i, cp)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1", n)
	}
	// The abandoned leader's call still filled the cache.
	if _, err := up.GetCampaign(context.Background(), "c1"); err != nil || f.calls.Load() != 1 {
		t.Fatalf("after: err %v, %d upstream calls", err, f.calls.Load())
	}
}

func TestCallTimeoutBoundsDetachedCall(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl, CallTimeout: 50 * time.Millisecond})
	f := newFake("A")
	release := f.block() // the upstream never answers
	defer release()
	up := Cached(f, c, "t")
	start := time.Now()
	_, err := up.GetTeam(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("call took %s", d)
	}
	if n, _ := c.Size(); n != 0 {
		t.Fatal("a timed out call was cached")
	}
}

func TestCancelledBeforeMissMakesNoCall(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := up.GetLead(ctx, "l1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if f.calls.Load() != 0 {
		t.Fatal("a cancelled caller started an upstream call")
	}
	// A hit is served even to a done ctx: it costs nothing.
	if _, err := up.GetLead(context.Background(), "l1"); err != nil {
		t.Fatal(err)
	}
	if l, err := up.GetLead(ctx, "l1"); err != nil || l == nil {
		t.Fatalf("hit with a done ctx: %v, %v", l, err)
	}
}

func TestPanicBecomesError(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	f.panicMsg = "kaboom"
	up := Cached(f, c, "t")
	_, err := up.GetTeam(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("err = %v, want the panic as an error", err)
	}
}

func TestContactsCachedPerID(t *testing.T) {
	c, _, obs := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	f.missing["gone"] = true
	up := Cached(f, c, "t")
	ctx := context.Background()
	ids := func(cs []*lemlist.Contact) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			m[c.ID] = true
		}
		return m
	}
	cs, err := up.GetContacts(ctx, []string{"b", "a", "gone", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "b": true}, ids(cs)); diff != "" {
		t.Fatalf("first call (-want +got):\n%s", diff)
	}
	cs, err = up.GetContacts(ctx, []string{"c", "gone", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"b": true, "c": true}, ids(cs)); diff != "" {
		t.Fatalf("second call (-want +got):\n%s", diff)
	}
	cs, err = up.GetContacts(ctx, []string{"gone", "c", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "c": true}, ids(cs)); diff != "" {
		t.Fatalf("third call (-want +got):\n%s", diff)
	}
	f.mu.Lock()
	asked := f.asked
	f.mu.Unlock()
	if diff := cmp.Diff([][]string{{"a", "b", "gone"}, {"c"}}, asked); diff != "" {
		t.Errorf("upstream asked for (-want +got):\n%s", diff)
	}
	if h, m := obs.get("hit", KindContacts), obs.get("miss", KindContacts); h != 1 || m != 2 {
		t.Errorf("hits, misses = %d, %d; want 1, 2", h, m)
	}
	if cs, err := up.GetContacts(ctx, nil); cs != nil || err != nil {
		t.Errorf("no ids: %v, %v", cs, err)
	}
}

func TestReturnedSlicesHaveNoSpareCapacity(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	ctx := context.Background()
	o := &lemlist.ActivityListOptions{Limit: 2}
	rows, err := up.ListActivities(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != cap(rows) {
		t.Fatalf("len %d, cap %d", len(rows), cap(rows))
	}
	_ = append(rows, &lemlist.Activity{ID: "mine"}) // must copy, not write into the cache's array
	again, _ := up.ListActivities(ctx, o)
	if len(again) != 2 || cap(again) != 2 {
		t.Fatalf("cached page changed: len %d cap %d", len(again), cap(again))
	}
}

func TestMemoryBound(t *testing.T) {
	const maxBytes = 64 << 10
	c, _, _ := newTestCache(CacheOptions{TTL: ttl, MaxBytes: maxBytes})
	ms := c.store.(*memStore)
	f := &bigFake{fake: newFake("A"), rawSize: 1 << 10}
	up := Cached(f, c, "t")
	ctx := context.Background()
	const n = 200 // about 3 KiB each: three times the bound
	for i := range n {
		if _, err := up.GetLead(ctx, fmt.Sprint("l", i)); err != nil {
			t.Fatal(err)
		}
		entries, bytes := c.Size()
		if bytes > maxBytes {
			t.Fatalf("after %d leads: %d bytes held, bound %d", i+1, bytes, maxBytes)
		}
		var sum int64
		values := ms.lru.Values()
		for _, e := range values {
			sum += e.size
		}
		if sum != bytes || entries != len(values) {
			t.Fatalf("accounting: %d bytes counted, entries sum to %d", bytes, sum)
		}
	}
	entries, bytes := c.Size()
	if entries >= n || bytes < maxBytes/2 {
		t.Fatalf("%d entries, %d bytes: eviction did not happen or went too far", entries, bytes)
	}
	// The newest are kept, the oldest gone.
	calls := f.calls.Load()
	if _, err := up.GetLead(ctx, fmt.Sprint("l", n-1)); err != nil || f.calls.Load() != calls {
		t.Fatalf("newest lead evicted")
	}
	if _, err := up.GetLead(ctx, "l0"); err != nil || f.calls.Load() != calls+1 {
		t.Fatalf("oldest lead not evicted")
	}

	// Replacing an entry keeps the accounting right.
	ms.put(ctx, key{"t", kindLead, "x"}, &entry{size: 1000, expires: time.Now().Add(time.Hour)})
	_, b1 := c.Size()
	ms.put(ctx, key{"t", kindLead, "x"}, &entry{size: 400, expires: time.Now().Add(time.Hour)})
	if _, b2 := c.Size(); b2 != b1-600 {
		t.Fatalf("replacing a 1000-byte entry by 400 bytes: %d → %d", b1, b2)
	}
	// An entry larger than the bound is not stored, and drops the old one.
	ms.put(ctx, key{"t", kindLead, "x"}, &entry{size: maxBytes + 1, expires: time.Now().Add(time.Hour)})
	if _, b3 := c.Size(); b3 != b1-1000 {
		t.Fatalf("oversized entry: %d bytes, want %d", b3, b1-1000)
	}
	if _, ok := ms.get(ctx, key{"t", kindLead, "x"}); ok {
		t.Fatal("oversized entry stored")
	}
}

func TestActivityPagesWeighedByRaw(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	up := Cached(f, c, "t")
	if _, err := up.ListActivities(context.Background(), &lemlist.ActivityListOptions{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	_, bytes := c.Size()
	rows, _ := f.ListActivities(context.Background(), &lemlist.ActivityListOptions{Limit: 100})
	var rawLen int64
	for _, a := range rows {
		rawLen += int64(len(a.Raw))
	}
	if bytes < 2*rawLen {
		t.Fatalf("page of %d raw bytes weighed %d bytes", rawLen, bytes)
	}
}

// bigFake answers leads with rawSize bytes of Raw.
type bigFake struct {
	*fake
	rawSize int
}

func (f *bigFake) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	l, err := f.fake.GetLead(ctx, id)
	if err != nil {
		return nil, err
	}
	l.Raw = raw(map[string]string{"_id": l.ID, "pad": strings.Repeat("x", f.rawSize)})
	return l, nil
}

// TestTenantIsolation hammers two tenants' upstreams, sharing one cache,
// with the same calls from many goroutines. With a TTL of a millisecond
// and a small bound, entries expire, refill, coalesce and get evicted all
// along. Each tenant must only ever see its own data. Run it with -race.
func TestTenantIsolation(t *testing.T) {
	obs := &counts{}
	c := NewCache(CacheOptions{TTL: time.Millisecond, LongTTL: 3 * time.Millisecond, MaxBytes: 8 << 10, Observer: obs})
	tenants := []struct {
		tag string
		up  Upstream
		f   *fake
	}{{tag: "A"}, {tag: "B"}}
	for i := range tenants {
		tn := &tenants[i]
		tn.f = newFake(tn.tag)
		tn.f.missing["gone"] = true
		tn.up = Cached(tn.f, c, TenantID("key-"+tn.tag))
	}
	var wg sync.WaitGroup
	iters := 300
	if testing.Short() {
		iters = 50
	}
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range iters {
				tn := tenants[rng.IntN(2)]
				k := kind(rng.IntN(int(numKinds)))
				arg := []string{"x1", "x2", "x3", "gone"}[rng.IntN(4)]
				if k == kindActivities && arg == "gone" {
					arg = "x4"
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if rng.IntN(10) == 0 { // some callers give up early
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(200))*time.Microsecond)
				}
				got, err := call(ctx, tn.up, k, arg)
				cancel()
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					continue
				case arg == "gone" && (k == kindLead || k == kindCampaign):
					if !lemlist.IsNotFound(err) {
						t.Errorf("%s %s gone: %v", tn.tag, k, err)
					}
					continue
				case err != nil:
					t.Errorf("%s %s: %v", tn.tag, k, err)
					return
				case arg == "gone" && k == kindContacts:
					if got != "" {
						t.Errorf("%s: got contact %q for a missing id", tn.tag, got)
					}
					continue
				}
				if !hasTag(got, tn.tag) {
					t.Errorf("tenant %s got %s data %q", tn.tag, k, got)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("upstream calls A %d, B %d; events %v", tenants[0].f.calls.Load(), tenants[1].f.calls.Load(), obs.m)
	if tenants[0].f.calls.Load() == 0 || tenants[1].f.calls.Load() == 0 {
		t.Fatal("a tenant's upstream was never called")
	}
}

func TestTenantsDoNotShareEntriesOrFlights(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	fa, fb := newFake("A"), newFake("B")
	upA, upB := Cached(fa, c, TenantID("ka")), Cached(fb, c, TenantID("kb"))
	ctx := context.Background()

	// Concurrent identical calls of two tenants make one call each.
	joins := watchJoins(c)
	ra, rb := fa.block(), fb.block()
	var wg sync.WaitGroup
	for _, x := range []struct {
		up  Upstream
		tag string
	}{{upA, "A"}, {upB, "B"}, {upA, "A"}, {upB, "B"}} {
		wg.Go(func() {
			tm, err := x.up.GetTeam(ctx)
			if err != nil || !hasTag(tm.ID, x.tag) {
				t.Errorf("tenant %s got %v, %v", x.tag, tm, err)
			}
		})
	}
	joins.wait(4)
	ra()
	rb()
	wg.Wait()
	if fa.calls.Load() != 1 || fb.calls.Load() != 1 {
		t.Fatalf("upstream calls: A %d, B %d; want 1 each", fa.calls.Load(), fb.calls.Load())
	}
	// A's cached entries are not B's.
	for _, id := range []string{"c1", "c2"} {
		if _, err := upA.GetContacts(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := upB.GetContacts(ctx, []string{"c1", "c2"})
	if err != nil || len(cs) != 2 || cs[0].FullName != "B" || cs[1].FullName != "B" {
		t.Fatalf("tenant B got %v, %v", cs, err)
	}
}

func TestCachedArguments(t *testing.T) {
	f := newFake("A")
	if got := Cached(f, nil, "t"); got != Upstream(f) {
		t.Error("Cached with a nil cache wraps its upstream")
	}
	defer func() {
		if recover() == nil {
			t.Error("Cached with an empty tenant did not panic")
		}
	}()
	Cached(f, NewCache(CacheOptions{}), "")
}

func TestKeyString(t *testing.T) {
	// A tenant that looks like a prefix of another tenant's key does not
	// collide with it.
	a := key{"ab", kindLead, "c"}.String()
	b := key{"a", kindLead, "b/lead/c"}.String()
	if a == b {
		t.Fatalf("keys collide: %q", a)
	}
	if got := encodeIDs([]string{"a,b"}); got == encodeIDs([]string{"a", "b"}) {
		t.Fatalf("id lists collide: %q", got)
	}
}

func TestTenantID(t *testing.T) {
	id := TenantID("secret-key-123")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("TenantID = %q, want 32 hex digits", id)
	}
	if id != TenantID("secret-key-123") {
		t.Fatal("TenantID is not stable")
	}
	if id == TenantID("secret-key-124") {
		t.Fatal("two keys, one TenantID")
	}
	if strings.Contains(id, "secret") {
		t.Fatal("TenantID shows the key")
	}
}

func TestKindNames(t *testing.T) {
	got := []string{kindActivities.String(), kindLead.String(), kindContacts.String(), kindCampaign.String(), kindTeam.String()}
	want := []string{"activities", "lead", "contacts", "campaign", "team"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
}

// BenchmarkCachedListActivitiesHit measures a cache hit on the call relay
// makes for a connection page: a pinned, filtered page of 100 rows.
func BenchmarkCachedListActivitiesHit(b *testing.B) {
	c := NewCache(CacheOptions{TTL: time.Hour})
	up := Cached(newFake("A"), c, TenantID("bench-key"))
	pin := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	o := &lemlist.ActivityListOptions{CampaignID: "cam_bSn8EORHQxbWPjHvu", Type: "emailsOpened", MaxDate: pin, Offset: 200, Limit: 100}
	ctx := context.Background()
	if _, err := up.ListActivities(ctx, o); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := up.ListActivities(ctx, o)
			if err != nil || len(rows) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := up.ListActivities(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkCachedGetLeadHit measures a hit on a lookup by id.
func BenchmarkCachedGetLeadHit(b *testing.B) {
	c := NewCache(CacheOptions{TTL: time.Hour})
	up := Cached(newFake("A"), c, TenantID("bench-key"))
	ctx := context.Background()
	if _, err := up.GetLead(ctx, "lea_1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := up.GetLead(ctx, "lea_1"); err != nil {
			b.Fatal(err)
		}
	}
}
