package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/lemlist"
)

// memShared is a SharedStore in memory, standing for Redis in the cache's
// own tests (package redisx tests the cache over a real Redis). It keeps
// what it is given forever and records the TTLs.
type memShared struct {
	mu       sync.Mutex
	m        map[string][]byte
	ttls     map[string]time.Duration
	gets     int
	sets     int
	getManys int
	setManys int
	err      error // if set, every call fails with it
}

func newMemShared() *memShared {
	return &memShared{m: map[string][]byte{}, ttls: map[string]time.Duration{}}
}

func (s *memShared) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.err != nil {
		return nil, false, s.err
	}
	b, ok := s.m[key]
	return b, ok, nil
}

func (s *memShared) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets++
	if s.err != nil {
		return s.err
	}
	s.m[key] = append([]byte(nil), val...)
	s.ttls[key] = ttl
	return nil
}

func (s *memShared) counts() (gets, sets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.sets
}

// batchShared is a memShared with batch calls.
type batchShared struct{ *memShared }

func (s batchShared) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	s.mu.Lock()
	s.getManys++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		s.mu.Lock()
		out[i] = s.m[k]
		s.mu.Unlock()
	}
	return out, nil
}

func (s batchShared) SetMany(ctx context.Context, es []SharedEntry) error {
	s.mu.Lock()
	s.setManys++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, e := range es {
		s.mu.Lock()
		s.m[e.Key] = e.Val
		s.ttls[e.Key] = e.TTL
		s.mu.Unlock()
	}
	return nil
}

// twoReplicas returns two caches over one shared store, as two replicas of
// the server would have, on one clock.
func twoReplicas(shared SharedStore) (c1, c2 *Cache, clk *clock) {
	clk = newClock()
	o := CacheOptions{TTL: ttl, Now: clk.Now, Shared: shared}
	return NewCache(o), NewCache(o), clk
}

func TestSharedStoreServesOtherReplicas(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "get-set", true: "batch"}[batch], func(t *testing.T) {
			ms := newMemShared()
			var shared SharedStore = ms
			if batch {
				shared = batchShared{ms}
			}
			c1, c2, _ := twoReplicas(shared)
			f1, f2 := newFake("one"), newFake("two")
			f1.missing["gone"] = true
			tenant := TenantID("key")
			up1, up2 := Cached(f1, c1, tenant), Cached(f2, c2, tenant)
			ctx := t.Context()
			for k := range numKinds {
				want, err := call(ctx, up1, k, "x")
				if err != nil {
					t.Fatal(err)
				}
				got, err := call(ctx, up2, k, "x")
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s: replica two got %q, want replica one's %q", k, got, want)
				}
			}
			// Remembered 404s and absent contacts travel too.
			for _, k := range []kind{kindLead, kindCampaign} {
				_, err1 := call(ctx, up1, k, "gone")
				_, err2 := call(ctx, up2, k, "gone")
				if !lemlist.IsNotFound(err1) || !lemlist.IsNotFound(err2) {
					t.Errorf("%s: errors %v, %v; want 404s", k, err1, err2)
				}
				if e, ok := errors.AsType[*lemlist.ErrorResponse](err2); !ok || e.Response != nil || e.Endpoint == "" || e.Message != "Not found" {
					t.Errorf("%s: shared 404 = %#v", k, err2)
				}
			}
			cs1, _ := up1.GetContacts(ctx, []string{"gone", "a", "b"})
			cs2, err := up2.GetContacts(ctx, []string{"b", "gone", "a"})
			if err != nil || len(cs1) != 2 || len(cs2) != 2 {
				t.Fatalf("contacts: %d then %d, %v; want 2, 2", len(cs1), len(cs2), err)
			}
			for _, c := range cs2 {
				if c.FullName != "one" {
					t.Errorf("contact %s from %q, want replica one's", c.ID, c.FullName)
				}
			}
			if n := f2.calls.Load(); n != 0 {
				t.Errorf("replica two made %d upstream calls, want 0", n)
			}
			if batch {
				if ms.getManys == 0 || ms.setManys == 0 {
					t.Errorf("batch store: %d GetMany, %d SetMany; want batches for contacts", ms.getManys, ms.setManys)
				}
			}
		})
	}
}

func TestSharedHitKeptInMemory(t *testing.T) {
	ms := newMemShared()
	c1, c2, _ := twoReplicas(ms)
	tenant := TenantID("key")
	up1, up2 := Cached(newFake("one"), c1, tenant), Cached(newFake("two"), c2, tenant)
	ctx := t.Context()
	if _, err := up1.GetLead(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if _, err := up2.GetLead(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	gets, _ := ms.counts()
	for range 3 {
		if _, err := up2.GetLead(ctx, "l"); err != nil {
			t.Fatal(err)
		}
	}
	if g, _ := ms.counts(); g != gets {
		t.Errorf("%d more shared Gets after the first hit, want 0: hits stay in memory", g-gets)
	}
	if n, _ := c2.Size(); n != 1 {
		t.Errorf("replica two holds %d entries, want 1", n)
	}
}

func TestSharedEntriesKeepTheirExpiry(t *testing.T) {
	ms := newMemShared()
	c1, c2, clk := twoReplicas(ms)
	tenant := TenantID("key")
	f2 := newFake("two")
	up1, up2 := Cached(newFake("one"), c1, tenant), Cached(f2, c2, tenant)
	ctx := t.Context()
	if _, err := up1.GetLead(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if _, err := up1.GetCampaign(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]time.Duration{
		key{tenant, kindLead, "l"}.String():     ttl,
		key{tenant, kindCampaign, "c"}.String(): 10 * ttl,
	} {
		if got := ms.ttls[k]; got != want {
			t.Errorf("TTL of %s = %v, want %v", k, got, want)
		}
	}
	clk.Advance(ttl) // the lead expired, even though the store still has it
	if id, _ := call(ctx, up2, kindLead, "l"); !hasTag(id, "two") {
		t.Errorf("expired lead served from the shared store: %q", id)
	}
	if id, _ := call(ctx, up2, kindCampaign, "c"); !hasTag(id, "one") {
		t.Errorf("live campaign not served from the shared store: %q", id)
	}
}

func TestSharedStoreFailuresAreMisses(t *testing.T) {
	ms := newMemShared()
	ms.err = errors.New("redis down")
	c := NewCache(CacheOptions{TTL: ttl, Shared: batchShared{ms}})
	f := newFake("one")
	up := Cached(f, c, TenantID("key"))
	ctx := t.Context()
	for k := range numKinds {
		for range 2 {
			if _, err := call(ctx, up, k, "x"); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
		if n := f.byKind[k].Load(); n != 1 {
			t.Errorf("%s: %d upstream calls, want 1 (the memory level still caches)", k, n)
		}
	}
}

func TestSharedStoreForeignValuesAreMisses(t *testing.T) {
	ms := newMemShared()
	c1, c2, _ := twoReplicas(ms)
	tenant := TenantID("key")
	f2 := newFake("two")
	up1, up2 := Cached(newFake("one"), c1, tenant), Cached(f2, c2, tenant)
	ctx := t.Context()
	for k := range numKinds {
		if _, err := call(ctx, up1, k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	ms.mu.Lock()
	i := 0
	for k, v := range ms.m {
		switch i % 3 {
		case 0:
			ms.m[k] = []byte("garbage")
		case 1:
			v[0] = 99 // another version
		default:
			ms.m[k] = v[:headerLen+1] // cut JSON
		}
		i++
	}
	ms.mu.Unlock()
	for k := range numKinds {
		if id, err := call(ctx, up2, k, "x"); err != nil || !strings.Contains(id, "two") {
			t.Errorf("%s: got %q, %v; want a fresh upstream answer", k, id, err)
		}
	}
}

func TestSharedKeysHoldTheTenantIDNotTheKey(t *testing.T) {
	const secret = "sk-very-secret-key-42"
	ms := newMemShared()
	c, _, _ := twoReplicas(ms)
	up := Cached(newFake("one"), c, TenantID(secret))
	for k := range numKinds {
		if _, err := call(t.Context(), up, k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if len(ms.m) < int(numKinds) {
		t.Fatalf("%d keys in the shared store, want one per kind at least", len(ms.m))
	}
	for k, v := range ms.m {
		if strings.Contains(k, secret) || strings.Contains(string(v), secret) {
			t.Errorf("API key in shared entry %q", k)
		}
		if !strings.HasPrefix(k, "32:"+TenantID(secret)+"/") {
			t.Errorf("shared key %q does not start with the tenant id", k)
		}
	}
}

// Values decoded from the shared store equal the originals, Raw and
// every typed field included, for real lemlist JSON.
func TestSharedEncodingRoundTrip(t *testing.T) {
	tenant := TenantID("key")
	decode := func(v any, s string) any {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var rows []*lemlist.Activity
	decode(&rows, `[{"_id":"act_1","type":"emailsOpened","createdAt":"2026-03-01T10:00:00.000Z","campaignId":"cam_1","isFirst":true,"sequenceStep":2,"lead":{"_id":"lea_1","variables":{"x":"y"}},"custom":{"n":1}},null]`)
	expires := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	for _, tc := range []struct {
		k key
		e *entry
	}{
		{key{tenant, kindActivities, "q"}, &entry{val: rows}},
		{key{tenant, kindActivities, "empty"}, &entry{val: []*lemlist.Activity{}}},
		{key{tenant, kindLead, "l"}, &entry{val: decode(new(lemlist.Lead), `{"_id":"lea_1","email":"a@b.c","isPaused":false,"extra":[1,2]}`)}},
		{key{tenant, kindContacts, "c"}, &entry{val: decode(new(lemlist.Contact), `{"_id":"ctc_1","fields":{"a":"b"},"campaigns":[{"campaignId":"cam_1","leadId":"lea_1"}],"createdAt":"2026-01-02T03:04:05Z"}`)}},
		{key{tenant, kindContacts, "gone"}, &entry{}},
		{key{tenant, kindCampaign, "c"}, &entry{val: decode(new(lemlist.Campaign), `{"_id":"cam_1","name":"Q1","senders":[{"email":"s@x.y"}]}`)}},
		{key{tenant, kindCampaign, "gone"}, &entry{err: &lemlist.ErrorResponse{StatusCode: 404, Endpoint: "campaigns/{id}", Code: "nf", Message: "Campaign not found"}}},
		{key{tenant, kindTeam, ""}, &entry{val: decode(new(lemlist.Team), `{"_id":"tea_1","name":"T","users":[{"userId":"usr_1","email":"u@x.y"}]}`)}},
	} {
		tc.e.expires = expires
		tc.e.size = entrySize(tc.k, tc.e)
		b, err := encodeEntry(tc.e)
		if err != nil {
			t.Fatalf("%s: encode: %v", tc.k, err)
		}
		got, err := decodeEntry(tc.k, b)
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.k, err)
		}
		if diff := cmp.Diff(tc.e, got, cmp.AllowUnexported(entry{})); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tc.k, diff)
		}
	}
	if _, err := decodeEntry(key{tenant, kindLead, "l"}, []byte{sharedVersion, tagAbsent, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("an absent lead decoded: only contacts can be absent")
	}
}

func TestPoolLimiterSource(t *testing.T) {
	srv := newTeamServer(t, map[string]string{"key-a": "A"})
	src := &countingSource{}
	p := newTestPool(t, PoolOptions{BaseURL: srv.URL + "/api", Limiters: src})
	up, err := p.For("key-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.GetTeam(t.Context()); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.keys) != 1 || src.keys[0] != "key-a" || src.waits != 1 {
		t.Errorf("source asked for %v, %d waits; want [key-a], 1", src.keys, src.waits)
	}
}

// countingSource is a LimiterSource whose limiters count Waits.
type countingSource struct {
	mu    sync.Mutex
	keys  []string
	waits int
}

func (s *countingSource) For(apiKey string) lemlist.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, apiKey)
	return s
}

func (s *countingSource) Wait(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits++
	return nil
}

func (s *countingSource) Pause(time.Time) {}
