package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// testEngineFailover: two replicas run the tenant's engine on one
// database. Only the lease holder syncs; when it stops dead mid-backfill
// (its upstream calls hang, it renews nothing and releases nothing, as
// after kill -9), the other takes the lease after the TTL, resumes from
// the shared checkpoint and finishes: the mirror then holds exactly the
// fake's activities, and the two together read the history about once.
func testEngineFailover(t *testing.T, c *cluster) {
	n := storetest.Scale(3000)
	fake := lemlisttest.NewServer(lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: n},
		RateLimit: lemlisttest.NoRateLimit,
	})
	t.Cleanup(fake.Close)
	present := time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC) // the fake's present, plus an hour
	start := time.Now()
	now := func() time.Time { return present.Add(time.Since(start)) }
	client := fake.Client(lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1}))
	list := mirror.ClientList(client)

	url := c.URL(c.newDB(t))
	const ttl = time.Second
	var callsA, callsB, rowsA, rowsB atomic.Int64
	dead := make(chan struct{}) // closed when A stops dead
	listA := func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		if callsA.Add(1) == int64(n/130) { // about three quarters of the history

			close(dead)
		}
		select {
		case <-dead:
			<-ctx.Done() // hangs until the test ends
			return nil, ctx.Err()
		default:
		}
		page, err := list(ctx, o)
		rowsA.Add(int64(len(page)))
		return page, err
	}
	listB := func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		callsB.Add(1)
		page, err := list(ctx, o)
		rowsB.Add(int64(len(page)))
		return page, err
	}
	engine := func(holder string, l mirror.ListFunc) (*mirror.Engine, *postgres.Store) {
		s := open(t, url, postgres.Options{})
		e, err := mirror.NewEngine("tenant", s, l, mirror.Options{
			ChannelOf: func(typ string) string { return strings.ToUpper(strings.TrimSuffix(typ, "Sent")) },
			Since:     present.Add(-100 * 24 * time.Hour), Now: now, LeaseTTL: ttl, Holder: holder,
			RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return e, s
	}
	ea, _ := engine("replica-a", listA)
	eb, sb := engine("replica-b", listB)
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan struct{}, 2)
	t.Cleanup(func() { cancel(); <-ended; <-ended })
	go func() { ea.Run(ctx); ended <- struct{}{} }()
	<-dead // A holds the lease and has synced part of the history
	go func() { eb.Run(ctx); ended <- struct{}{} }()
	if st := status(t, eb); st.Syncing {
		t.Errorf("B syncs while A holds the lease: %+v", st)
	}

	var st mirror.Status
	for tries := 0; ; tries++ {
		if st = status(t, eb); st.Syncing && st.BackfillProgress == 1 && st.State == mirror.StateLive {
			break
		}
		if tries > 600 {
			t.Fatalf("B never finished the backfill: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, b := callsA.Load()-1, callsB.Load() // A's last call never reached the fake
	t.Logf("A made %d calls (%d rows) before it stopped, B %d (%d rows); %d activities", a, rowsA.Load(), b, rowsB.Load(), n)
	// B resumed from A's checkpoint: it did not read the whole history
	// again (only the window A left unfinished, and head polls).
	if rowsB.Load() >= int64(n) || rowsA.Load()+rowsB.Load() >= int64(2*n) {
		t.Errorf("A read %d rows and B %d of %d activities: B started over", rowsA.Load(), rowsB.Load(), n)
	}

	all, err := fake.Expected(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	for _, act := range all {
		var la lemlist.Activity
		if err := json.Unmarshal(act.JSON(), &la); err != nil {
			t.Fatal(err)
		}
		m[la.ID] = mirror.RowOf(&la, func(typ string) string { return strings.ToUpper(strings.TrimSuffix(typ, "Sent")) })
	}
	rows := m.rows()
	if got, err := sb.Count(t.Context(), "tenant"); err != nil || got != len(rows) {
		t.Fatalf("B's store holds %d activities (%v), the fake %d", got, err, len(rows))
	}
	storetest.CheckStats(t, sb, "tenant", rows, storetest.Queries(61, rows, 10))
}

func status(t *testing.T, e *mirror.Engine) mirror.Status {
	t.Helper()
	st, err := e.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
