package gateway

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
	"github.com/lemlist-graphql/server/upstream"
)

// memRelays is an in-process FeedRelay bus: what one member publishes
// reaches every other member's handler, at once, in the publisher's
// goroutine (Redis delivers in order, as this does).
type memRelays struct {
	mu       sync.Mutex
	handlers map[*memRelay]func(topic string, payload []byte)
	sent     []string // topics, in order
}

// memRelay is one process on a memRelays bus; down makes its Publish fail.
type memRelay struct {
	bus  *memRelays
	down bool
}

func (b *memRelays) member() *memRelay { return &memRelay{bus: b} }

func (r *memRelay) Publish(_ context.Context, topic string, payload []byte) error {
	b := r.bus
	b.mu.Lock()
	if r.down {
		b.mu.Unlock()
		return errors.New("relay down")
	}
	b.sent = append(b.sent, topic)
	var others []func(string, []byte)
	for m, h := range b.handlers {
		if m != r {
			others = append(others, h)
		}
	}
	b.mu.Unlock()
	for _, h := range others {
		h(topic, payload)
	}
	return nil
}

func (r *memRelay) Subscribe(_ context.Context, handle func(topic string, payload []byte)) (stop func()) {
	b := r.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handlers == nil {
		b.handlers = map[*memRelay]func(string, []byte){}
	}
	b.handlers[r] = handle
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.handlers, r)
	}
}

// topics returns the topics published so far.
func (b *memRelays) topics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sent...)
}

// idleManager is a mirror manager over a SQLite store of its own that runs
// no engine: enough for the live feed to relay what Ingested is given.
func idleManager(t *testing.T) *mirror.Manager {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mirror.NewManager(s, mirror.ManagerOptions{Engine: mirror.Options{ChannelOf: func(string) string { return "email" }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// act is an activity as the mirror hands it to Ingested.
func act(id string) *lemlist.Activity {
	return &lemlist.Activity{ID: id, Type: "emailsReplied", CreatedAt: time.Date(2026, 5, 11, 8, 7, 38, 0, time.UTC)}
}

// The rows one replica's mirror stores first reach the subscribers of the
// others once, on the tenant's stored topic; the receivers publish them
// and send nothing back; a webhook relay of the same activity is dropped
// as a repeat; a failing relay counts what it lost.
func TestLiveFeedStoredRelay(t *testing.T) {
	tenant := upstream.TenantID(lemlisttest.DefaultAPIKey)
	bus := &memRelays{}
	var feeds []*LiveFeed
	var subs []*feed.Subscription
	relays := []*memRelay{bus.member(), bus.member()}
	for _, r := range relays {
		l, _ := serveLiveFeed(t, LiveFeedOptions{Relay: r, ServerTenant: tenant, Mirror: idleManager(t)})
		s, err := l.resolverFeed(nil).Subscribe(withTenant(t.Context(), &Tenant{ID: tenant}), feed.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		feeds, subs = append(feeds, l), append(subs, s)
	}

	feeds[0].Ingested(tenant, []*lemlist.Activity{act("act_1"), act("act_2")})
	for i, s := range subs {
		for _, want := range []string{"act_1", "act_2"} {
			if a := next(t, s); a.ID != want {
				t.Fatalf("replica %d received %s, want %s", i, a.ID, want)
			}
		}
	}
	if got := bus.topics(); len(got) != 1 || got[0] != tenant+storedTopicSuffix {
		t.Fatalf("relayed on %v, want once on %s", got, tenant+storedTopicSuffix)
	}

	// A webhook relay of an activity the stored relay brought too: the
	// subscriber gets it once. (The mirror serves no engine here, so the
	// webhook relay publishes as without a mirror.)
	feeds[0].Ingested(tenant, []*lemlist.Activity{act("act_3")})
	for i, s := range subs {
		if a := next(t, s); a.ID != "act_3" {
			t.Fatalf("replica %d received %s, want act_3", i, a.ID)
		}
	}
	feeds[1].receive(tenant, []byte(`{"_id":"act_3","type":"emailsReplied","createdAt":"2026-05-11T08:07:38Z"}`))
	idle(t, subs[1])

	// Another deployment's stored topic, and a malformed payload: nothing.
	feeds[1].receive("0123456789abcdef0123456789abcdef"+storedTopicSuffix, []byte(`[{"_id":"act_x","type":"emailsReplied","createdAt":"2026-05-11T08:07:38Z"}]`))
	feeds[1].receive(tenant+storedTopicSuffix, []byte(`{"_id":"act_y"}`))
	idle(t, subs[1])

	// The relay down: the local subscriber still gets the row, and the
	// loss is counted.
	bus.mu.Lock()
	relays[0].down = true
	bus.mu.Unlock()
	feeds[0].Ingested(tenant, []*lemlist.Activity{act("act_4")})
	if a := next(t, subs[0]); a.ID != "act_4" {
		t.Fatalf("received %s, want act_4", a.ID)
	}
	deadline := time.Now().Add(5 * time.Second)
	for feeds[0].stored.dropped.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d, want 1", feeds[0].stored.dropped.Load())
		}
		time.Sleep(time.Millisecond)
	}
	idle(t, subs[1])
}
