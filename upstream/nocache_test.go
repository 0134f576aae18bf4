package upstream

import (
	"context"
	"testing"

	"github.com/lemlist-graphql/server/lemlist"
)

func TestNoCacheBypassesEveryKind(t *testing.T) {
	for k := range numKinds {
		t.Run(k.String(), func(t *testing.T) {
			c, _, obs := newTestCache(CacheOptions{TTL: ttl})
			f := newFake("A")
			up := Cached(f, c, TenantID("key-a"))
			ctx := context.Background()
			if _, err := call(ctx, up, k, "x1"); err != nil { // fills the cache
				t.Fatal(err)
			}
			nc := NoCache(ctx)
			for range 2 {
				if _, err := call(nc, up, k, "x1"); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.calls.Load(); n != 3 {
				t.Fatalf("1 cached + 2 NoCache calls made %d upstream calls, want 3", n)
			}
			if h, m := obs.get("hit", k.String()), obs.get("miss", k.String()); h != 0 || m != 1 {
				t.Errorf("hits, misses = %d, %d; want 0, 1: NoCache calls are not counted", h, m)
			}
			// The cached entry is still served to ordinary calls.
			if _, err := call(ctx, up, k, "x1"); err != nil {
				t.Fatal(err)
			}
			if n := f.calls.Load(); n != 3 {
				t.Fatalf("a cached call after NoCache calls went upstream (%d calls)", n)
			}
		})
	}
}

// Neither NoCache calls nor lemlist.WithSummaries calls (whose partial
// activities must reach no one else) fill the cache.
func TestNoCacheDoesNotFillTheCache(t *testing.T) {
	for name, ctx := range map[string]context.Context{
		"NoCache":       NoCache(context.Background()),
		"WithSummaries": lemlist.WithSummaries(context.Background()),
	} {
		t.Run(name, func(t *testing.T) {
			c, _, _ := newTestCache(CacheOptions{TTL: ttl})
			f := newFake("A")
			up := Cached(f, c, TenantID("key-a"))
			for range 2 {
				if _, err := call(ctx, up, kindActivities, "x1"); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.calls.Load(); n != 2 {
				t.Fatalf("2 calls made %d upstream calls, want 2", n)
			}
			if n, _ := c.Size(); n != 0 {
				t.Fatalf("the calls left %d entries in the cache", n)
			}
		})
	}
}

// ListUncached's calls go upstream every time, and leave the cache empty.
func TestListUncached(t *testing.T) {
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	f := newFake("A")
	list := ListUncached(Cached(f, c, TenantID("key-a")))
	for range 2 {
		if _, err := list(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("2 calls made %d upstream calls", n)
	}
	if n, _ := c.Size(); n != 0 {
		t.Fatalf("ListUncached left %d entries in the cache", n)
	}
}
