package feed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

const tick = 2 * time.Millisecond

// history returns n activities, the newest of which share createdAt
// base+n/2 s in pairs.
func history(n int) []*lemlist.Activity {
	out := make([]*lemlist.Activity, n)
	for i := range n {
		out[i] = act(fmt.Sprintf("act_h%04d", i), i/2)
	}
	return out
}

func TestPollerBaselineReplaysNoHistory(t *testing.T) {
	up := &fakeUp{}
	up.add(history(150)...)
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 3)
	if got := queued(s); len(got) != 0 {
		t.Fatalf("history replayed: %s", ids(got))
	}
	up.add(act("act_n1", 200), act("act_n2", 201))
	if got := ids(recv(t, s, 2)); got != "act_n1,act_n2" {
		t.Fatalf("got %s", got)
	}
}

// Activities sharing the newest createdAt with the baseline, or with each
// other, are each delivered once: minDate is inclusive, and the poller
// drops the ids it saw at the boundary.
func TestPollerEqualCreatedAt(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_a", 10), act("act_b", 10), act("act_0", 9))
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1) // the baseline: createdAt 10, {a, b}
	up.add(act("act_c", 10), act("act_d", 10), act("act_e", 11), act("act_f", 11))
	got := recv(t, s, 4)
	// Oldest first; equal createdAt in lemlist's order reversed (it serves
	// them by _id descending).
	if ids(got) != "act_c,act_d,act_e,act_f" {
		t.Fatalf("got %s: want c and d (createdAt 10), then e and f (11)", ids(got))
	}
	nothingAfter(t, h, 3, s, "repeated")
	up.add(act("act_g", 11)) // at the new boundary
	next(t, s, "act_g")
	nothingAfter(t, h, 3, s, "repeated")
}

// More than 100 new activities between two polls are paged through by
// offset, each delivered once and oldest first, ties included.
func TestPollerPagesThroughManyNewRows(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base1", 100), act("act_base2", 100))
	h := NewHub(Options{PollInterval: 20 * time.Millisecond})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	const n = 357
	var rows []*lemlist.Activity
	for i := range n {
		// In groups of 7 sharing a createdAt; the first group shares the
		// baseline's.
		rows = append(rows, act(fmt.Sprintf("act_n%04d", i), 100+i/7))
	}
	calls := up.numCalls()
	up.add(rows...)
	got := recv(t, s, n)
	seen := map[string]bool{}
	for i, a := range got {
		if seen[a.ID] {
			t.Fatalf("%s delivered twice", a.ID)
		}
		seen[a.ID] = true
		if i > 0 && a.CreatedAt.Before(got[i-1].CreatedAt) {
			t.Fatalf("%s delivered after a newer activity", a.ID)
		}
	}
	if made := up.numCalls() - calls; made < 4 {
		t.Errorf("%d calls for %d new rows, want at least 4 pages", made, n)
	}
	nothingAfter(t, h, 3, s, "repeated")
}

// Activities arriving while a poll pages through shift the offsets: the
// poll sees some rows twice and delivers them once; the new ones come with
// the next poll.
func TestPollerRowsArrivingWhilePaging(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 1))
	h := NewHub(Options{PollInterval: 20 * time.Millisecond})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	var rows []*lemlist.Activity
	for i := range 250 {
		rows = append(rows, act(fmt.Sprintf("act_n%04d", i), 2+i))
	}
	up.onList = nil
	up.mu.Lock()
	up.onList = func(_ int, o *lemlist.ActivityListOptions) {
		if o.Offset == lemlist.MaxPageSize { // between page 1 and page 2
			up.add(act("act_late1", 1000), act("act_late2", 1000))
		}
	}
	up.mu.Unlock()
	up.add(rows...)
	got := recv(t, s, 252)
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a.ID] {
			t.Fatalf("%s delivered twice", a.ID)
		}
		seen[a.ID] = true
	}
	if !seen["act_late1"] || !seen["act_late2"] {
		t.Fatal("late rows missed")
	}
	up.mu.Lock()
	up.onList = nil
	up.mu.Unlock()
	nothingAfter(t, h, 3, s, "repeated")
}

// One poller serves every subscription of a tenant and upstream filter; it
// stops with the last one.
func TestPollerRefCounted(t *testing.T) {
	up, upB := &fakeUp{}, &fakeUp{} // tenant A's and B's
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	ctx := t.Context()
	sub := func(tenant string, f Filter) *Subscription {
		t.Helper()
		u := up
		if tenant == "B" {
			u = upB
		}
		s, err := h.Subscribe(ctx, Tenant{ID: tenant, Upstream: u}, f)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	replied := Filter{Filter: activityfilter.Filter{Type: "emailsReplied"}}
	a1 := sub("A", Filter{})
	a2 := sub("A", Filter{Match: func(a *lemlist.Activity) bool { return a.ID != "act_x" }})
	a3 := sub("A", replied)
	b1 := sub("B", Filter{})
	if st := h.Stats(); st.Pollers != 3 || st.Subscriptions != 4 {
		t.Fatalf("stats %+v, want 3 pollers for 4 subscriptions", st)
	}
	// Each poller has its baseline once it made a second call.
	eventually(t, "every poller's baseline", func() bool {
		return up.numCallsOfType("") >= 2 && up.numCallsOfType("emailsReplied") >= 2 && upB.numCalls() >= 2
	})
	up.add(act("act_x", 50), act("act_y", 51))
	upB.add(act("act_x", 50), act("act_y", 51))
	if got := ids(recv(t, a1, 2)); got != "act_x,act_y" {
		t.Errorf("a1 got %s", got)
	}
	if got := ids(recv(t, a2, 1)); got != "act_y" {
		t.Errorf("a2 got %s", got)
	}
	if got := ids(recv(t, b1, 2)); got != "act_x,act_y" {
		t.Errorf("b1 got %s", got)
	}
	a1.Close()
	if st := h.Stats(); st.Pollers != 3 {
		t.Fatalf("stats %+v after closing one of two", st)
	}
	a2.Close()
	if st := h.Stats(); st.Pollers != 2 || st.Subscriptions != 2 {
		t.Fatalf("stats %+v after closing both", st)
	}
	a3.Close()
	b1.Close()
	if st := h.Stats(); st.Pollers != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats %+v after closing all", st)
	}
	// A new subscription starts a new poller, with a new baseline.
	calls := up.numCalls()
	c := sub("A", Filter{})
	waitPolls(t, h, 2)
	if up.numCalls() <= calls {
		t.Fatal("no poller after resubscribing")
	}
	if got := queued(c); len(got) != 0 {
		t.Fatalf("new poller replayed %s", ids(got))
	}
	// goleak (TestMain) checks that stopped pollers' goroutines ended.
}

func TestPollerUsesTheFilter(t *testing.T) {
	up := &fakeUp{}
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	yes := true
	f := activityfilter.Filter{Type: "emailsReplied", CampaignID: "cam_1", IsFirst: &yes, MinDate: base.Add(time.Hour)}
	if _, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{Filter: f}); err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 2)
	up.mu.Lock()
	defer up.mu.Unlock()
	for _, o := range up.calls {
		if o.Type != f.Type || o.CampaignID != f.CampaignID || o.IsFirst == nil || !*o.IsFirst || !o.MinDate.Equal(f.MinDate) || o.Limit != 100 {
			t.Fatalf("call %+v does not carry the filter", o)
		}
	}
}

// The poller goes around the cache: its query repeats every interval, and
// a cached answer would hide new activities for a whole TTL.
func TestPollerBypassesTheCache(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 1))
	cache := upstream.NewCache(upstream.CacheOptions{TTL: time.Hour})
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{ID: "T", Upstream: upstream.Cached(up, cache, "T")}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 3)
	up.add(act("act_new", 2))
	next(t, s, "act_new")
	if n, _ := cache.Size(); n != 0 {
		t.Fatalf("the poller filled the cache with %d entries", n)
	}
}

func TestPollerRecoversFromErrors(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 1))
	h := NewHub(Options{PollInterval: tick, MaxBackoff: 4 * tick})
	defer h.Close()
	rateLimited := &lemlist.RateLimitError{Response: &http.Response{StatusCode: 429}, RetryAfter: tick}
	up.failNext(rateLimited, errors.New("boom")) // the baseline fails twice
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a baseline", func() bool { return h.Stats().Polls >= 3 })
	up.add(act("act_new", 2))
	up.failNext(errors.New("boom"))
	next(t, s, "act_new")
	if st := h.Stats(); st.PollErrors != 3 {
		t.Fatalf("stats %+v, want 3 poll errors", st)
	}
	nothingAfter(t, h, 2, s, "history or repeats after errors")
}

func TestBackoff(t *testing.T) {
	const interval, max = time.Second, time.Minute
	rl := &lemlist.RateLimitError{RetryAfter: 3 * time.Second}
	for _, tc := range []struct {
		n    int
		err  error
		want time.Duration
	}{
		{1, errors.New("x"), 2 * time.Second},
		{2, errors.New("x"), 4 * time.Second},
		{10, errors.New("x"), time.Minute},
		{100, errors.New("x"), time.Minute},
		{1, rl, 3 * time.Second},
		{2, rl, 4 * time.Second},
		{1, fmt.Errorf("wrapped: %w", &lemlist.RateLimitError{RetryAfter: 2 * time.Minute}), 2 * time.Minute},
	} {
		if got := backoff(interval, max, tc.n, tc.err); got != tc.want {
			t.Errorf("backoff(n=%d, %v) = %s, want %s", tc.n, tc.err, got, tc.want)
		}
	}
}

// A poller that is stopped mid-call delivers nothing and its goroutine ends.
func TestPollerStopsMidCall(t *testing.T) {
	up := &fakeUp{}
	entered := make(chan struct{}, 1)
	up.onList = func(int, *lemlist.ActivityListOptions) {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := h.Subscribe(ctx, Tenant{Upstream: up}, Filter{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	cancel()
	eventually(t, "the poller to stop", func() bool { return h.Stats().Pollers == 0 })
}

// A poll that lemlist refuses with 401 (a revoked key) ends the poller's
// subscriptions with ErrUnauthorized and stops the poller; the tenant's
// other pollers carry on until their own 401 (issue 13, item 1).
func TestPollerUnauthorizedEndsItsSubscriptions(t *testing.T) {
	up, other := &fakeUp{}, &fakeUp{}
	h := NewHub(Options{PollInterval: tick})
	defer h.Close()
	a, err := h.Subscribe(t.Context(), Tenant{ID: "A", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := h.Subscribe(t.Context(), Tenant{ID: "A", Upstream: up}, Filter{Match: func(*lemlist.Activity) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Subscribe(t.Context(), Tenant{ID: "B", Upstream: other}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 2)
	up.failNext(&lemlist.ErrorResponse{StatusCode: http.StatusUnauthorized, Message: "The authentication you supplied is incorrect"})
	for _, s := range []*Subscription{a, a2} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := s.Next(ctx)
		cancel()
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("after a 401: %v, want ErrUnauthorized", err)
		}
	}
	if st := h.Stats(); st.Pollers != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v: want B's poller and subscription only", st)
	}
	calls := up.numCalls()
	other.add(act("act_b1", 50))
	if got := ids(recv(t, b, 1)); got != "act_b1" {
		t.Errorf("B got %s", got)
	}
	if up.numCalls() != calls {
		t.Errorf("the stopped poller called %d more times", up.numCalls()-calls)
	}
}
