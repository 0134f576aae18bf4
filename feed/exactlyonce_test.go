package feed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Issue 13, item 8: the feed's "exactly once".

// One poll can bring MaxPages×100 activities: a subscription that got them
// all by webhook first must not get any of them again from the poll.
func TestDedupeCoversTheLargestPoll(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 0))
	h := NewHub(Options{PollInterval: 20 * time.Millisecond})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	n := DefaultMaxPages * lemlist.MaxPageSize
	rows := make([]*lemlist.Activity, n)
	for i := range rows {
		rows[i] = act(fmt.Sprintf("act_w%04d", i), 1+i/10)
		h.Publish("", rows[i]) // by webhook first
	}
	if got := recv(t, s, n); got[0].ID != "act_w0000" || got[n-1].ID != rows[n-1].ID {
		t.Fatalf("webhook deliveries %s … %s", got[0].ID, got[n-1].ID)
	}
	up.add(rows...) // then the poll lists the same ones
	nothingAfter(t, h, 3, s, "delivered twice")
}

// An activity that lemlist lists only after newer ones (a late arrival)
// is delivered, once, when its createdAt is within Lookback of the newest
// one seen; older than that, it is not (the documented bound).
func TestPollerDeliversLateArrivals(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 100))
	h := NewHub(Options{PollInterval: tick, Lookback: 30 * time.Second})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	up.add(act("act_new", 120))
	next(t, s, "act_new")
	waitPolls(t, h, 2)
	up.add(act("act_late", 110)) // 10 s before act_new, listed after it
	next(t, s, "act_late")
	nothingAfter(t, h, 3, s, "repeated")
	up.add(act("act_new2", 200))
	next(t, s, "act_new2")
	up.add(act("act_too_late", 160), act("act_new3", 201)) // 40 s before the newest
	next(t, s, "act_new3")
	nothingAfter(t, h, 3, s, "beyond the lookback")
}

// More activities than one poll reads (MaxPages pages) are all delivered,
// once and oldest first: the poll goes on at the next tick from where it
// stopped, and skips nothing.
func TestPollerReadsEveryPage(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 0))
	h := NewHub(Options{PollInterval: 20 * time.Millisecond, MaxPages: 2})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	const n = 450
	var rows []*lemlist.Activity
	for i := range n {
		rows = append(rows, act(fmt.Sprintf("act_n%04d", i), 1+i/3))
	}
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
	nothingAfter(t, h, 3, s, "repeated")
	if st := h.Stats(); st.PollsContinued < 2 {
		t.Fatalf("stats %+v: want at least 2 polls continued at the next tick", st)
	}
}

// A restarted hub resumes each poller from its checkpoint: what arrived
// while it was down is delivered, what was delivered before is not. A
// poller stopped because its last subscription ended forgets its
// checkpoint: a later subscription starts from a fresh baseline.
func TestPollerResumesAfterRestart(t *testing.T) {
	cp := NewMemoryCheckpoint()
	up := &fakeUp{}
	up.add(act("act_base", 1))
	h1 := NewHub(Options{PollInterval: tick, Checkpoint: cp})
	s1, err := h1.Subscribe(t.Context(), Tenant{ID: "T", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h1, 1)
	up.add(act("act_1", 2))
	if got := ids(recv(t, s1, 1)); got != "act_1" {
		t.Fatalf("got %s", got)
	}
	waitPolls(t, h1, 2)
	h1.Close() // a restart: the checkpoint stays

	up.add(act("act_2", 3), act("act_3", 4)) // while the server is down
	h2 := NewHub(Options{PollInterval: tick, Checkpoint: cp})
	defer h2.Close()
	s2, err := h2.Subscribe(t.Context(), Tenant{ID: "T", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(recv(t, s2, 2)); got != "act_2,act_3" {
		t.Fatalf("after the restart got %s, want act_2,act_3", got)
	}
	waitPolls(t, h2, 3)
	if more := queued(s2); len(more) != 0 {
		t.Fatalf("repeated after the restart: %s", ids(more))
	}

	key, err := pollKey(Filter{}.Filter)
	if err != nil {
		t.Fatal(err)
	}
	if pos, ok, _ := cp.Load(t.Context(), "T", key); !ok || !pos.Newest.Equal(base.Add(4*time.Second)) {
		t.Fatalf("checkpoint %+v, %v: want newest act_3's createdAt", pos, ok)
	}
	s2.Close()
	eventually(t, "the poller to stop", func() bool { return h2.Stats().Pollers == 0 })
	eventually(t, "the checkpoint to be forgotten", func() bool {
		_, ok, _ := cp.Load(t.Context(), "T", key)
		return !ok
	})
	up.add(act("act_4", 5))
	s3, err := h2.Subscribe(t.Context(), Tenant{ID: "T", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h2, 3)
	if got := queued(s3); len(got) != 0 {
		t.Fatalf("a new subscription got history: %s", ids(got))
	}
}

// keepCheckpoint is a Checkpoint that never forgets: as when a stopping
// poller has not deleted its position yet.
type keepCheckpoint struct{ *MemoryCheckpoint }

func (keepCheckpoint) Delete(context.Context, string, string) error { return nil }

// Within one hub, a poller started anew takes a new baseline, even when
// the position of the poller before it is still in the checkpoint: only a
// position saved before the hub started is resumed.
func TestPollerDoesNotResumeItsOwnHub(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 1))
	h := NewHub(Options{PollInterval: tick, Checkpoint: keepCheckpoint{NewMemoryCheckpoint()}})
	defer h.Close()
	s, err := h.Subscribe(t.Context(), Tenant{ID: "T", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 1)
	up.add(act("act_1", 2))
	next(t, s, "act_1")
	s.Close()
	eventually(t, "the poller to stop", func() bool { return h.Stats().Pollers == 0 })
	up.add(act("act_2", 3)) // before the next subscription: history to it
	s2, err := h.Subscribe(t.Context(), Tenant{ID: "T", Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, h, 3)
	if got := queued(s2); len(got) != 0 {
		t.Fatalf("a new poller of the same hub resumed: got %s", ids(got))
	}
}
