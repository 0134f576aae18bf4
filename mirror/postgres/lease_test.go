package postgres_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
)

func acquire(t *testing.T, s *postgres.Store, tenant, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.AcquireLease(t.Context(), tenant, holder, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", tenant, holder, err)
	}
	return ok
}

// testLeases: one holder at a time per tenant, renewal, release.
func testLeases(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	if !acquire(t, a, "t1", "replica-a", time.Hour) {
		t.Fatal("a could not take a free lease")
	}
	if acquire(t, b, "t1", "replica-b", time.Hour) {
		t.Fatal("b took a lease a holds")
	}
	if !acquire(t, b, "t2", "replica-b", time.Hour) {
		t.Fatal("b could not take another tenant's free lease")
	}
	if !acquire(t, a, "t1", "replica-a", time.Hour) {
		t.Fatal("a could not renew its lease")
	}
	// Releasing a lease one does not hold changes nothing.
	if err := b.ReleaseLease(t.Context(), "t1", "replica-b"); err != nil {
		t.Fatal(err)
	}
	if acquire(t, b, "t1", "replica-b", time.Hour) {
		t.Fatal("b took a's lease after releasing a lease it did not hold")
	}
	if err := a.ReleaseLease(t.Context(), "t1", "replica-a"); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, b, "t1", "replica-b", time.Hour) {
		t.Fatal("b could not take a released lease")
	}
	if acquire(t, a, "t1", "replica-a", time.Hour) {
		t.Fatal("a took back a lease b holds")
	}
	if _, err := a.AcquireLease(t.Context(), "t3", "replica-a", 0); err == nil {
		t.Error("a zero TTL was accepted")
	}

	// Many replicas race for one lease: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			ok, err := []*postgres.Store{a, b}[i%2].AcquireLease(t.Context(), "race", fmt.Sprintf("h%d", i), time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d holders won the race, want 1", wins.Load())
	}
}

// testLeaseTakeover: the holder dies without releasing (its store is
// closed, as by kill -9); another replica takes the lease once the TTL
// has passed, and the old holder cannot renew it.
func testLeaseTakeover(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	const ttl = 300 * time.Millisecond
	if !acquire(t, a, "t", "replica-a", time.Hour) || acquire(t, b, "t", "replica-b", ttl) {
		t.Fatal("a should hold the lease, b not")
	}
	if !acquire(t, a, "t", "replica-a", ttl) { // the renewal sets the new TTL
		t.Fatal("a could not renew")
	}
	a.Close() // dies holding the lease
	tries := 0
	for !acquire(t, b, "t", "replica-b", time.Hour) {
		tries++
		if tries > 500 {
			t.Fatal("b never took the expired lease")
		}
		time.Sleep(ttl / 10)
	}
	a2 := open(t, url, postgres.Options{}) // a restarts under its old name
	if acquire(t, a2, "t", "replica-a", ttl) {
		t.Error("the old holder took the lease back from b")
	}
}

// testLeaseFence: a write fenced by a holder (Batch.Holder) goes through
// only while that holder has the tenant's lease; a refused one writes
// nothing, and unfenced writes (webhooks) go through whoever holds it.
func testLeaseFence(t *testing.T, c *cluster) {
	url := c.URL(c.newDB(t))
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	row := func(id string) mirror.Row {
		return mirror.Row{ID: id, Type: "emailsSent", Channel: "EMAIL", CreatedAt: at, Raw: json.RawMessage(`{}`)}
	}
	write := func(s *postgres.Store, holder, id string) error {
		st := mirror.State{Since: at, Start: at, Cursor: at, CoveredTo: at.Add(time.Minute)}
		_, err := s.Apply(ctx, "t", mirror.Batch{Upserts: []mirror.Row{row(id)}, State: &st, At: at, Holder: holder})
		return err
	}
	count := func() int {
		n, err := b.Count(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const ttl = 200 * time.Millisecond
	if !acquire(t, a, "t", "replica-a", ttl) {
		t.Fatal("a could not take the lease")
	}
	if err := write(a, "replica-a", "act_a1"); err != nil {
		t.Fatalf("the holder's write: %v", err)
	}
	if err := write(b, "replica-b", "act_b1"); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Fatalf("another holder's write: %v, want ErrLeaseLost", err)
	}
	if err := write(b, "", "act_hook"); err != nil {
		t.Fatalf("an unfenced write: %v", err)
	}
	// a overruns its lease; b takes it over.
	for tries := 0; !acquire(t, b, "t", "replica-b", time.Hour); tries++ {
		if tries > 500 {
			t.Fatal("b never took the expired lease")
		}
		time.Sleep(ttl / 10)
	}
	if err := write(a, "replica-a", "act_a2"); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Fatalf("the old holder's write after the takeover: %v, want ErrLeaseLost", err)
	}
	if err := write(b, "replica-b", "act_b2"); err != nil {
		t.Fatalf("the new holder's write: %v", err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d activities stored, want 3 (act_a1, act_hook, act_b2)", n)
	}
	for _, id := range []string{"act_b1", "act_a2"} {
		if _, ok, _ := b.Get(ctx, "t", id); ok {
			t.Errorf("refused write of %s was stored", id)
		}
	}
}
