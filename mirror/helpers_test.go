package mirror_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// t0 is the fake dataset's present (its default Now).
var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// channelOf is a stand-in for graph/model.ChannelOf, which the server
// wires: the engine only needs some function of the type.
func channelOf(typ string) string {
	for _, p := range []struct{ prefix, ch string }{
		{"emails", "EMAIL"}, {"linkedin", "LINKEDIN"}, {"whatsapp", "WHATSAPP"}, {"sms", "SMS"},
		{"aircall", "CALL"}, {"manual", "MANUAL"}, {"api", "API"}, {"annotated", "NOTE"},
	} {
		if strings.HasPrefix(typ, p.prefix) {
			return p.ch
		}
	}
	return "OTHER"
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// liveFake starts a fake with n activities (dataset seed) whose history
// ends a minute before the wall clock's now, and no rate limit: for tests
// of Run, which runs on the wall clock.
func liveFake(t testing.TB, seed int64, n int, now time.Time) *lemlisttest.Server {
	t.Helper()
	s := lemlisttest.NewServer(lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Seed: seed, Activities: n, Now: now.Add(-time.Minute)},
		RateLimit: lemlisttest.NoRateLimit,
	})
	t.Cleanup(s.Close)
	return s
}

// newFake starts a fake with n activities over 90 days before t0 and no
// rate limit.
func newFake(t testing.TB, n int) *lemlisttest.Server {
	t.Helper()
	s := lemlisttest.NewServer(lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: n},
		RateLimit: lemlisttest.NoRateLimit,
	})
	t.Cleanup(s.Close)
	return s
}

// counted wraps a ListFunc, counting its calls and running hook (if set)
// before each.
type counted struct {
	list  mirror.ListFunc
	calls atomic.Int64
	hook  func(n int64) error
}

func (c *counted) List(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	n := c.calls.Add(1)
	if c.hook != nil {
		if err := c.hook(n); err != nil {
			return nil, err
		}
	}
	return c.list(ctx, o)
}

func newCounted(fake *lemlisttest.Server) *counted {
	return &counted{list: mirror.ClientList(fake.Client(lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1})))}
}

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "mirror.db")
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newEngine(t testing.TB, store mirror.Store, list mirror.ListFunc, o mirror.Options) *mirror.Engine {
	t.Helper()
	if o.ChannelOf == nil {
		o.ChannelOf = channelOf
	}
	e, err := mirror.NewEngine("tenant", store, list, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// truth is the fake's activities created at or after since, as rows: the
// brute-force side of every exactness check.
func truth(t testing.TB, fake *lemlisttest.Server, since time.Time) []mirror.Row {
	t.Helper()
	all, err := fake.Expected(nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]mirror.Row, 0, len(all))
	for _, a := range all {
		if a.CreatedAt.Before(since) {
			continue
		}
		var act lemlist.Activity
		if err := json.Unmarshal(a.JSON(), &act); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, mirror.RowOf(&act, channelOf))
	}
	return rows
}

// checkExact fails t unless the store holds exactly rows: the same count,
// every id, and aggregates equal to brute force.
func checkExact(t testing.TB, store mirror.Store, rows []mirror.Row) {
	t.Helper()
	ctx := context.Background()
	n, err := store.Count(ctx, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(rows) {
		t.Fatalf("store holds %d activities, the fake %d", n, len(rows))
	}
	for i := 0; i < len(rows); i += max(len(rows)/50, 1) {
		got, ok, err := store.Get(ctx, "tenant", rows[i].ID)
		if err != nil || !ok || got.Type != rows[i].Type || !got.CreatedAt.Equal(rows[i].CreatedAt) {
			t.Fatalf("Get %s: %+v %v %v", rows[i].ID, got, ok, err)
		}
	}
	if len(rows) == 0 {
		return
	}
	storetest.CheckStats(t, store, "tenant", rows, storetest.Queries(11, rows, storetest.Scale(40)))
	all := storetest.BruteStats(rows, mirror.StatsQuery{})
	if all.Total != len(rows) {
		t.Fatalf("brute total %d", all.Total)
	}
	storetest.CheckSeries(t, store, "tenant", rows, t0.Add(-30*24*time.Hour), t0.Add(time.Hour),
		[]mirror.Dim{mirror.DimCampaign}, mirror.Filter{})
}

func status(t testing.TB, e *mirror.Engine) mirror.Status {
	t.Helper()
	s, err := e.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ids returns the ids of acts.
func ids[T any](acts []T, id func(T) string) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = id(a)
	}
	return out
}

// published records the ids OnIngest received, in order (its on method
// is an OnIngest), and the partial activities among them: the engine
// lists summaries (lemlist.WithSummaries) and must publish them whole.
type published struct {
	mu      sync.Mutex
	ids     []string
	partial []string
}

func (p *published) on(_ string, rows []*lemlist.Activity) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range rows {
		p.ids = append(p.ids, a.ID)
		if a.Summary {
			p.partial = append(p.partial, a.ID)
		}
	}
}

// list returns a copy of the ids published so far, in order.
func (p *published) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ids)
}

// check fails t unless exactly ids were published, each once and whole.
func (p *published) check(t *testing.T, ids []string) {
	t.Helper()
	n := map[string]int{}
	for _, id := range p.list() {
		n[id]++
	}
	for id, c := range n {
		if c != 1 {
			t.Errorf("%s published %d times", id, c)
		}
	}
	for _, id := range ids {
		if n[id] == 0 {
			t.Errorf("%s never published", id)
		}
	}
	if len(n) != len(ids) {
		t.Errorf("published %d ids, want %d", len(n), len(ids))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		t.Errorf("published partial activities (summaries): %v", p.partial)
	}
}
