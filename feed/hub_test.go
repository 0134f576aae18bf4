package feed

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

func TestFilterMatches(t *testing.T) {
	yes, no := true, false
	at := base.Add(1500 * time.Millisecond)
	a := &lemlist.Activity{
		ID: "act_1", Type: "emailsOpened", CreatedAt: at.Add(400 * time.Microsecond),
		MetaData: &lemlist.ActivityMetaData{CampaignID: "cam_1"},
		Lead:     &lemlist.ActivityLead{ID: "lea_1"},
		IsFirst:  &yes,
	}
	noFlag := &lemlist.Activity{ID: "act_2", Type: "paused", CreatedAt: at}
	for _, tc := range []struct {
		name string
		f    Filter
		a    *lemlist.Activity
		want bool
	}{
		{"empty", Filter{}, a, true},
		{"type", Filter{Filter: activityfilter.Filter{Type: "emailsOpened"}}, a, true},
		{"other type", Filter{Filter: activityfilter.Filter{Type: "emailsSent"}}, a, false},
		{"campaign from metaData", Filter{Filter: activityfilter.Filter{CampaignID: "cam_1"}}, a, true},
		{"other campaign", Filter{Filter: activityfilter.Filter{CampaignID: "cam_2"}}, a, false},
		{"lead from snapshot", Filter{Filter: activityfilter.Filter{LeadID: "lea_1"}}, a, true},
		{"other lead", Filter{Filter: activityfilter.Filter{LeadID: "lea_2"}}, a, false},
		{"isFirst true", Filter{Filter: activityfilter.Filter{IsFirst: &yes}}, a, true},
		{"isFirst false", Filter{Filter: activityfilter.Filter{IsFirst: &no}}, a, false},
		{"isFirst false, no flag", Filter{Filter: activityfilter.Filter{IsFirst: &no}}, noFlag, true},
		{"isFirst true, no flag", Filter{Filter: activityfilter.Filter{IsFirst: &yes}}, noFlag, false},
		{"minDate inclusive at ms", Filter{Filter: activityfilter.Filter{MinDate: at}}, a, true},
		{"minDate after", Filter{Filter: activityfilter.Filter{MinDate: at.Add(time.Millisecond)}}, a, false},
		{"maxDate inclusive at ms", Filter{Filter: activityfilter.Filter{MaxDate: at}}, a, true},
		{"maxDate before", Filter{Filter: activityfilter.Filter{MaxDate: at.Add(-time.Millisecond)}}, a, false},
		{"match", Filter{Match: func(a *lemlist.Activity) bool { return a.Type == "emailsOpened" }}, a, true},
		{"match refuses", Filter{Match: func(*lemlist.Activity) bool { return false }}, a, false},
		{"match and filter", Filter{Filter: activityfilter.Filter{Type: "paused"}, Match: func(*lemlist.Activity) bool { return true }}, a, false},
	} {
		if got := tc.f.Matches(tc.a); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPublishFansOutByTenantAndFilter(t *testing.T) {
	h := NewHub(Options{PollInterval: -1})
	defer h.Close()
	ctx := t.Context()
	sub := func(tenant string, f Filter) *Subscription {
		t.Helper()
		s, err := h.Subscribe(ctx, Tenant{ID: tenant}, f)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	all := sub("A", Filter{})
	sent := sub("A", Filter{Filter: activityfilter.Filter{Type: "emailsSent"}})
	opened := sub("A", Filter{Filter: activityfilter.Filter{Type: "emailsOpened"}})
	other := sub("B", Filter{})

	if n := h.Publish("A", act("act_1", 1)); n != 2 {
		t.Errorf("Publish queued %d, want 2", n)
	}
	if n := h.Publish("nobody", act("act_2", 2)); n != 0 {
		t.Errorf("Publish to a tenant without subscriptions queued %d", n)
	}
	for s, want := range map[*Subscription]string{all: "act_1", sent: "act_1", opened: "", other: ""} {
		if got := ids(queued(s)); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if st := h.Stats(); st.Subscriptions != 4 || st.Pollers != 0 || st.Delivered != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPublishDeliversAnIDOncePerSubscription(t *testing.T) {
	h := NewHub(Options{PollInterval: -1, RecentIDs: 3})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "a", "b", "a", "c", "b"} {
		h.Publish("", act(id, 1))
	}
	if got := ids(queued(s)); got != "a,b,c" {
		t.Fatalf("got %s, want a,b,c", got)
	}
	// The set is bounded: after 3 newer ids, "a" is forgotten.
	h.Publish("", act("d", 1))
	h.Publish("", act("a", 1))
	if got := ids(queued(s)); got != "d,a" {
		t.Fatalf("got %s, want d,a", got)
	}
}

// A subscriber that does not read is dropped once its queue is full; the
// publisher never waits for it, the others get everything, and the slow
// one holds no more than its buffer.
func TestSlowSubscriberDropped(t *testing.T) {
	const buffer, total = 4, 2000
	h := NewHub(Options{PollInterval: -1, Buffer: buffer})
	defer h.Close()
	slow, err := h.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if slow.Err() != nil {
		t.Fatalf("Err of a running subscription: %v", slow.Err())
	}
	fast, err := h.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// The fast subscriber acknowledges each activity; the publisher paces
	// itself on those acknowledgements only (the hub would not wait).
	ack := make(chan string)
	go func() {
		defer close(ack)
		for {
			a, err := fast.Next(context.Background())
			if err != nil {
				return
			}
			ack <- a.ID
		}
	}()
	maxHeld := 0
	for i := range total {
		id := fmt.Sprint("act_", i)
		h.Publish("", act(id, i))
		maxHeld = max(maxHeld, slow.pending())
		select {
		case got := <-ack:
			if got != id {
				t.Fatalf("fast subscriber got %s, want %s", got, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber stalled at %s: the slow one holds the publisher", id)
		}
	}
	if maxHeld > buffer {
		t.Fatalf("slow subscriber held %d activities, more than its buffer of %d", maxHeld, buffer)
	}
	if a, err := slow.Next(context.Background()); !errors.Is(err, ErrTooSlow) || a != nil || slow.pending() != 0 {
		t.Fatalf("slow subscriber: Next = %v, %v; %d still held", a, err, slow.pending())
	}
	if !errors.Is(slow.Err(), ErrTooSlow) || fast.Err() != nil {
		t.Fatalf("errors: slow %v, fast %v", slow.Err(), fast.Err())
	}
	if st := h.Stats(); st.Dropped != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	fast.Close()
	if _, open := <-ack; open {
		t.Fatal("fast reader still running")
	}
}

func TestSubscriptionEndsWithItsContext(t *testing.T) {
	h := NewHub(Options{PollInterval: -1})
	defer h.Close()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := h.Subscribe(ctx, Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish("", act("act_1", 1))
	cancel()
	// What was queued is still served, then ErrEnded.
	if a, err := s.Next(context.Background()); err != nil || a.ID != "act_1" {
		t.Fatalf("Next = %v, %v", a, err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrEnded) || !errors.Is(s.Err(), ErrEnded) {
		t.Fatalf("Next after cancel: %v; Err %v", err, s.Err())
	}
	eventually(t, "no subscriptions", func() bool { return h.Stats().Subscriptions == 0 })
	s.Close() // idempotent
	if _, err := h.Subscribe(ctx, Tenant{}, Filter{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with a done ctx: %v", err)
	}
}

func TestHubClose(t *testing.T) {
	up := &fakeUp{}
	h := NewHub(Options{PollInterval: 5 * time.Millisecond})
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) || !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("after Close: Next %v, Err %v", err, s.Err())
	}
	if _, err := h.Subscribe(t.Context(), Tenant{}, Filter{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if st := h.Stats(); st.Pollers != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubscribeLimits(t *testing.T) {
	up := &fakeUp{}
	h := NewHub(Options{PollInterval: time.Hour, MaxSubscriptions: 3, MaxPollersPerTenant: 2})
	defer h.Close()
	ctx := t.Context()
	typ := func(s string) Filter { return Filter{Filter: activityfilter.Filter{Type: s}} }
	for _, f := range []Filter{typ("a"), typ("b"), typ("a")} {
		if _, err := h.Subscribe(ctx, Tenant{ID: "T", Upstream: up}, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Subscribe(ctx, Tenant{ID: "U", Upstream: up}, typ("a")); !errors.Is(err, ErrTooManySubscriptions) {
		t.Fatalf("4th subscription: %v", err)
	}
	h2 := NewHub(Options{PollInterval: time.Hour, MaxPollersPerTenant: 2})
	defer h2.Close()
	for _, f := range []Filter{typ("a"), typ("b")} {
		if _, err := h2.Subscribe(ctx, Tenant{ID: "T", Upstream: up}, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h2.Subscribe(ctx, Tenant{ID: "T", Upstream: up}, typ("c")); !errors.Is(err, ErrTooManyFilters) {
		t.Fatalf("3rd filter: %v", err)
	}
	// Another tenant has its own pollers; a known filter needs none.
	if _, err := h2.Subscribe(ctx, Tenant{ID: "U", Upstream: up}, typ("c")); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.Subscribe(ctx, Tenant{ID: "T", Upstream: up}, Filter{Filter: activityfilter.Filter{Type: "a"}, Match: func(*lemlist.Activity) bool { return true }}); err != nil {
		t.Fatal(err)
	}
	bad := Filter{Filter: activityfilter.Filter{MinDate: base, MaxDate: base}}
	var ie *activityfilter.InputError
	if _, err := h2.Subscribe(ctx, Tenant{ID: "T", Upstream: up}, bad); !errors.As(err, &ie) {
		t.Fatalf("maxDate = minDate: %v", err)
	}
}

func TestRecentIDs(t *testing.T) {
	r := newRecentIDs(2)
	r.add("a")
	r.add("b")
	if !r.has("a") || !r.has("b") {
		t.Fatal("lost an id under the bound")
	}
	r.add("c")
	if r.has("a") || !r.has("b") || !r.has("c") {
		t.Fatal("did not forget the oldest")
	}
	r.add("d")
	r.add("e")
	if r.has("b") || r.has("c") || !r.has("d") || !r.has("e") || len(r.set) != 2 {
		t.Fatalf("set %v", r.set)
	}
}

// matches applies every condition of activityfilter.Filter in-process: a field
// added there must be added to matches (and this list).
func TestMatchesKnowsEveryRelayFilterField(t *testing.T) {
	known := map[string]bool{"Type": true, "CampaignID": true, "LeadID": true, "IsFirst": true, "MinDate": true, "MaxDate": true}
	rt := reflect.TypeFor[activityfilter.Filter]()
	for i := range rt.NumField() {
		if name := rt.Field(i).Name; !known[name] {
			t.Errorf("activityfilter.Filter.%s is not applied by feed's in-process matching", name)
		}
	}
}
