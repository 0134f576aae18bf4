package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// TestRestart: while PostgreSQL is down every call fails with an error
// (no hang, no panic); once it is back the same Store works again, with
// its data, without being reopened. A batch in flight when the server
// dies is written wholly or not at all.
func TestRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	// A commit must survive the crash: the test cluster runs with
	// synchronous_commit off, which loses the last commits when postgres
	// dies.
	url := c.URL(c.newDB(t)) + "&synchronous_commit=on"
	s := open(t, url, postgres.Options{})
	rows := storetest.RandomRows(51, 3000, end, 20*24*time.Hour)
	m := model{}
	first := mirror.Batch{Upserts: rows[:1000]}
	apply(t, s, "t", first)
	m.apply(first)
	if !acquire(t, s, "t", "replica-a", time.Hour) {
		t.Fatal("no lease")
	}
	queries := storetest.Queries(52, rows, 5)
	check(t, s, "t", m, queries)

	// A big batch races the crash: it must be all there or not at all.
	inFlight := mirror.Batch{Upserts: rows[1000:], At: end}
	applied := make(chan error, 1)
	go func() {
		_, err := s.Apply(context.Background(), "t", inFlight)
		applied <- err
	}()
	c.Kill()
	inFlightErr := <-applied

	// Down: each call returns an error. The deadline only turns a hang
	// into a failure.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	calls := map[string]func() error{
		"Apply": func() error {
			_, err := s.Apply(ctx, "t", mirror.Batch{Upserts: rows[:1], At: end})
			return err
		},
		"LoadState": func() error { _, _, err := s.LoadState(ctx, "t"); return err },
		"Count":     func() error { _, err := s.Count(ctx, "t"); return err },
		"Get":       func() error { _, _, err := s.Get(ctx, "t", rows[0].ID); return err },
		"IDsInRange": func() error {
			_, err := s.IDsInRange(ctx, "t", end.Add(-time.Hour), end)
			return err
		},
		"Stats": func() error { _, err := s.Stats(ctx, "t", mirror.StatsQuery{}); return err },
		"Series": func() error {
			_, err := s.Series(ctx, "t", mirror.SeriesQuery{Filter: mirror.Filter{From: end.Add(-time.Hour), To: end}, Interval: mirror.Hour})
			return err
		},
		"AcquireLease": func() error { _, err := s.AcquireLease(ctx, "t", "replica-a", time.Hour); return err },
		"ReleaseLease": func() error { return s.ReleaseLease(ctx, "t", "replica-a") },
	}
	for name, call := range calls {
		err := call()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the server is down: %v, want an error at once", name, err)
		}
	}

	c.Restart()
	// The pool reconnects: the first calls may still meet dead
	// connections, so retry for a while.
	var n int
	var err error
	for range 100 {
		if n, err = s.Count(ctx, "t"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Count after restart: %v", err)
	}
	switch n {
	case 1000:
		if inFlightErr == nil {
			t.Fatal("a committed batch was lost")
		}
		t.Logf("the batch in flight was lost (%v)", inFlightErr)
	case 3000:
		if inFlightErr == nil {
			t.Log("the batch in flight committed before the crash")
		} else {
			t.Logf("the batch in flight committed though Apply failed (%v)", inFlightErr)
		}
		m.apply(inFlight)
	default:
		t.Fatalf("Count after restart = %d: the batch in flight was partly written", n)
	}
	for name, call := range calls {
		if name == "ReleaseLease" {
			continue
		}
		if err := call(); err != nil {
			t.Errorf("%s after restart: %v", name, err)
		}
	}
	if !acquire(t, s, "t", "replica-a", time.Hour) {
		t.Error("the lease did not survive the restart")
	}
	more := mirror.Batch{Upserts: rows[2000:2100], Deletes: []string{rows[0].ID, rows[1].ID}}
	apply(t, s, "t", more)
	m.apply(more)
	check(t, s, "t", m, queries)
	check(t, open(t, url, postgres.Options{}), "t", m, queries)
}
