package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// teamServer is a lemlist stand-in answering GET /api/team with a team
// named after the caller's key, and 401 quoting the key for unknown keys.
type teamServer struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	keys  map[string]string // key → team name
}

func newTeamServer(t *testing.T, keys map[string]string) *teamServer {
	s := &teamServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		_, key, _ := r.BasicAuth()
		s.mu.Lock()
		name, ok := s.keys[key]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || r.URL.Path != "/api/team" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "Invalid API key " + key})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"_id": "tea_" + name, "name": name})
	}))
	t.Cleanup(s.Close)
	return s
}

func newTestPool(t *testing.T, o PoolOptions) *Pool {
	t.Helper()
	p, err := NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPoolSameKeySameUpstream(t *testing.T) {
	srv := newTeamServer(t, map[string]string{"key-a": "A", "key-b": "B"})
	p := newTestPool(t, PoolOptions{BaseURL: srv.URL + "/api", RateLimit: -1, Cache: NewCache(CacheOptions{TTL: time.Minute})})
	a1, err := p.For("key-a")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := p.For("key-a")
	b, _ := p.For("key-b")
	if a1 != a2 {
		t.Error("two Upstreams for one key")
	}
	if a1 == b {
		t.Error("one Upstream for two keys")
	}
	ctx := context.Background()
	for _, x := range []struct {
		up   Upstream
		name string
	}{{a1, "A"}, {b, "B"}, {a2, "A"}, {b, "B"}} {
		tm, err := x.up.GetTeam(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tm.Name != x.name {
			t.Errorf("got team %q, want %q", tm.Name, x.name)
		}
	}
	if n := srv.calls.Load(); n != 2 {
		t.Errorf("%d upstream calls, want 2 (one per tenant, then cached)", n)
	}
	if p.Len() != 2 {
		t.Errorf("Len() = %d", p.Len())
	}
	// The pool indexes tenants by TenantID, never by key.
	p.mu.Lock()
	keys := p.tenants.Keys()
	p.mu.Unlock()
	for _, k := range keys {
		if strings.Contains(k, "key-") {
			t.Errorf("pool indexed by %q", k)
		}
	}
}

func TestPoolConcurrentFor(t *testing.T) {
	p := newTestPool(t, PoolOptions{RateLimit: -1})
	var wg sync.WaitGroup
	got := make([]Upstream, 32)
	for i := range got {
		wg.Go(func() { got[i], _ = p.For("key-" + string(rune('a'+i%2))) })
	}
	wg.Wait()
	for i, up := range got {
		if up != got[i%2] {
			t.Fatalf("For(%d) gave another Upstream", i)
		}
	}
}

func TestPoolEvictionKeepsLimiter(t *testing.T) {
	srv := newTeamServer(t, map[string]string{"key-a": "A", "key-b": "B"})
	// One request per hour per key, no caching: the second call of a key
	// must wait for the budget even through a rebuilt client.
	p := newTestPool(t, PoolOptions{BaseURL: srv.URL + "/api", RateLimit: 1, RateWindow: time.Hour, MaxTenants: 1})
	ctx := context.Background()
	a1, _ := p.For("key-a")
	if _, err := a1.GetTeam(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.For("key-b"); err != nil { // evicts key-a
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", p.Len())
	}
	a2, _ := p.For("key-a")
	if a2 == a1 {
		t.Fatal("evicted tenant's Upstream came back")
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := a2.GetTeam(short)
	if !errors.Is(err, lemlist.ErrRateLimitWait) {
		t.Fatalf("rebuilt client: err = %v, want the key's spent budget (ErrRateLimitWait)", err)
	}
	// key-b's budget is its own.
	b, _ := p.For("key-b")
	if _, err := b.GetTeam(ctx); err != nil {
		t.Fatalf("other key: %v", err)
	}
}

func TestPoolKeysNeverInErrors(t *testing.T) {
	const secret = "sk-very-secret-key-42"
	srv := newTeamServer(t, map[string]string{})
	p := newTestPool(t, PoolOptions{BaseURL: srv.URL + "/api", RateLimit: -1})
	up, err := p.For(secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	_, err = up.GetTeam(ctx) // 401 quoting the key
	errs = append(errs, err)
	_, err = up.GetCampaign(ctx, "cam_1")
	errs = append(errs, err)
	_, err = p.For("")
	if !errors.Is(err, ErrNoAPIKey) {
		t.Errorf("empty key: err = %v, want ErrNoAPIKey", err)
	}
	errs = append(errs, err)
	for _, bad := range []PoolOptions{
		{BaseURL: "::not a url"},
		{RateWindow: -time.Second},
		{MaxTenants: -1},
	} {
		_, err := NewPool(bad)
		if err == nil {
			t.Errorf("NewPool(%+v): no error", bad)
		}
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err == nil {
			t.Error("want an error")
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the key: %v", err)
		}
	}
}

func TestPoolClientOptionsApplied(t *testing.T) {
	srv := newTeamServer(t, map[string]string{"key-a": "A"})
	var requests atomic.Int64
	obs := observerFunc(func() { requests.Add(1) })
	p := newTestPool(t, PoolOptions{BaseURL: srv.URL + "/api", RateLimit: -1, ClientOptions: []lemlist.Option{lemlist.WithObserver(obs)}})
	up, _ := p.For("key-a")
	if _, err := up.GetTeam(context.Background()); err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 1 {
		t.Fatalf("observer saw %d requests, want 1", requests.Load())
	}
}

type observerFunc func()

func (f observerFunc) Request(string, int, int, time.Duration) { f() }
func (observerFunc) Retry(string, string)                      {}
func (observerFunc) RateLimitWait(time.Duration)               {}

// BenchmarkPoolFor measures For on a known key, once per request in
// pass-through mode.
func BenchmarkPoolFor(b *testing.B) {
	p, err := NewPool(PoolOptions{RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.For("bench-key-0123456789abcdef"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.For("bench-key-0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}
