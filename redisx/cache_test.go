package redisx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

// origin is an upstream.Upstream answering real-looking lemlist JSON,
// decoded by package lemlist (so Raw is set), counting its calls.
type origin struct {
	tag   string
	calls atomic.Int64
}

func decodeJSON[T any](s string) *T {
	v := new(T)
	if err := json.Unmarshal([]byte(s), v); err != nil {
		panic(err)
	}
	return v
}

func (o *origin) ListActivities(_ context.Context, opts *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	o.calls.Add(1)
	var rows []*lemlist.Activity
	err := json.Unmarshal(fmt.Appendf(nil, `[{"_id":"act_%s_1","type":"emailsOpened","createdAt":"2026-03-01T10:00:00.000Z","campaignId":%q,"lead":{"_id":"lea_1","variables":{"k":"v"}},"unknownField":[1,{"a":null}]},{"_id":"act_%s_2","type":"hologramSent","createdAt":"2026-03-01T09:00:00Z"}]`, o.tag, opts.CampaignID, o.tag), &rows)
	return rows, err
}

func (o *origin) GetLead(_ context.Context, id string) (*lemlist.Lead, error) {
	o.calls.Add(1)
	if id == "gone" {
		return nil, &lemlist.ErrorResponse{StatusCode: 404, Endpoint: "leads", Message: "Lead not found"}
	}
	return decodeJSON[lemlist.Lead](fmt.Sprintf(`{"_id":%q,"email":"%s@x.y","isPaused":false,"custom":"é"}`, id, o.tag)), nil
}

func (o *origin) GetContacts(_ context.Context, ids []string) ([]*lemlist.Contact, error) {
	o.calls.Add(1)
	var out []*lemlist.Contact
	for _, id := range ids {
		if id != "gone" {
			out = append(out, decodeJSON[lemlist.Contact](fmt.Sprintf(`{"_id":%q,"fullName":%q,"campaigns":[{"campaignId":"cam_1","leadId":"lea_1"}]}`, id, o.tag)))
		}
	}
	return out, nil
}

func (o *origin) GetCampaign(_ context.Context, id string) (*lemlist.Campaign, error) {
	o.calls.Add(1)
	return decodeJSON[lemlist.Campaign](fmt.Sprintf(`{"_id":%q,"name":%q,"senders":[{"email":"s@x.y"}]}`, id, o.tag)), nil
}

func (o *origin) GetTeam(context.Context) (*lemlist.Team, error) {
	o.calls.Add(1)
	return decodeJSON[lemlist.Team](fmt.Sprintf(`{"_id":"tea_1","name":%q,"users":[{"userId":"usr_1"}]}`, o.tag)), nil
}

// everything makes every kind of call on up and returns what it got.
func everything(ctx context.Context, up upstream.Upstream) (map[string]any, error) {
	out := map[string]any{}
	var err error
	set := func(name string, v any, e error) {
		out[name] = v
		if e != nil && err == nil && !lemlist.IsNotFound(e) {
			err = e
		}
		if e != nil {
			out[name+" error"] = e.Error()
		}
	}
	rows, e := up.ListActivities(ctx, &lemlist.ActivityListOptions{CampaignID: "cam_1"})
	set("activities", rows, e)
	l, e := up.GetLead(ctx, "lea_1")
	set("lead", l, e)
	l, e = up.GetLead(ctx, "gone")
	set("gone lead", l, e)
	cs, e := up.GetContacts(ctx, []string{"ctc_1", "gone", "ctc_2"})
	if len(cs) == 2 && cs[0].ID > cs[1].ID {
		cs[0], cs[1] = cs[1], cs[0]
	}
	set("contacts", cs, e)
	c, e := up.GetCampaign(ctx, "cam_1")
	set("campaign", c, e)
	tm, e := up.GetTeam(ctx)
	set("team", tm, e)
	return out, err
}

func newCache(r replica) *upstream.Cache {
	return upstream.NewCache(upstream.CacheOptions{TTL: time.Minute, Shared: r.CacheStore()})
}

// Two replicas, each with its own client and cache, over one Redis: what
// one fetched, the other serves without calling lemlist, decoded into the
// same values (Raw included); other tenants see none of it.
func TestSharedCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r1, r2 := newReplica(t, srv), newReplica(t, srv)
	c1, c2 := newCache(r1), newCache(r2)
	o1, o2 := &origin{tag: "one"}, &origin{tag: "two"}
	tenant := upstream.TenantID(testKey)
	ctx := t.Context()

	want, err := everything(ctx, upstream.Cached(o1, c1, tenant))
	if err != nil {
		t.Fatal(err)
	}
	got, err := everything(ctx, upstream.Cached(o2, c2, tenant))
	if err != nil {
		t.Fatal(err)
	}
	if n := o2.calls.Load(); n != 0 {
		t.Errorf("replica two called lemlist %d times, want 0", n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replica two's answers differ from replica one's (-one +two):\n%s", diff)
	}
	if !strings.Contains(fmt.Sprint(got["gone lead error"]), "404") {
		t.Errorf("remembered 404 not shared: %v", got["gone lead error"])
	}

	// Another tenant on replica two: nothing shared.
	o3 := &origin{tag: "three"}
	if _, err := everything(ctx, upstream.Cached(o3, c2, upstream.TenantID("another-key"))); err != nil {
		t.Fatal(err)
	}
	if n := o3.calls.Load(); n != 6 {
		t.Errorf("another tenant made %d upstream calls, want 6 (nothing served across tenants)", n)
	}

	// Keys hold tenant ids, never the API key; entries expire with their
	// TTL.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	cacheKeys := 0
	for _, k := range keys {
		if strings.Contains(k, testKey) || strings.Contains(k, "another-key") {
			t.Errorf("API key in Redis key %q", k)
		}
		if !strings.HasPrefix(k, cachePrefix) {
			continue
		}
		cacheKeys++
		pttl := rdb.PTTL(ctx, k).Val()
		long := strings.Contains(k, "/campaign/") || strings.Contains(k, "/team/")
		switch {
		case long && (pttl <= 9*time.Minute || pttl > 10*time.Minute):
			t.Errorf("%s: TTL %v, want about 10m", k, pttl)
		case !long && (pttl <= 50*time.Second || pttl > time.Minute):
			t.Errorf("%s: TTL %v, want about 1m", k, pttl)
		}
	}
	// Per tenant: a page, 2 leads, 3 contacts, a campaign, the team.
	if cacheKeys != 2*8 {
		t.Errorf("%d cache keys in Redis, want 16: %q", cacheKeys, keys)
	}
}

// With Redis down, each replica's memory cache goes on, and no error
// reaches callers; filling goes back to Redis once it is up.
func TestSharedCacheRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r1, r2 := newReplica(t, srv), newReplica(t, srv)
	c1, c2 := newCache(r1), newCache(r2)
	o1, o2 := &origin{tag: "one"}, &origin{tag: "two"}
	tenant := upstream.TenantID(testKey)
	up1, up2 := upstream.Cached(o1, c1, tenant), upstream.Cached(o2, c2, tenant)
	ctx := t.Context()
	if _, err := up1.GetLead(ctx, "before"); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	start := time.Now()
	for i := range 3 { // a hit, a miss filled locally, then its hit
		for _, id := range []string{"before", "during"} {
			if _, err := up1.GetLead(ctx, id); err != nil {
				t.Fatalf("call %d of %s with Redis down: %v", i, id, err)
			}
		}
		if _, err := up1.GetContacts(ctx, []string{"ctc_1", "ctc_2"}); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("9 calls took %v with Redis down", el)
	}
	if n := o1.calls.Load(); n != 3 {
		t.Errorf("%d upstream calls, want 3: the memory cache keeps working", n)
	}
	if _, err := up2.GetLead(ctx, "before"); err != nil { // replica two: its own fetch
		t.Fatal(err)
	}
	if r1.Healthy() || r2.Healthy() {
		t.Error("replicas report a dead Redis healthy")
	}

	srv.Restart()
	waitUntil(t, "both replicas to see Redis again", 5*time.Second, func() bool { return r1.Healthy() && r2.Healthy() })
	if _, err := up1.GetCampaign(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if _, err := up2.GetCampaign(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if n := o2.calls.Load(); n != 1 {
		t.Errorf("replica two made %d upstream calls, want 1: the campaign filled after recovery is shared", n)
	}
}

func TestCacheStoreUnavailableFailsAtOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Kill()
	r := newReplica(t, srv)
	s := r.CacheStore()
	ctx := t.Context()
	start := time.Now()
	if _, _, err := s.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get: %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx, "k", []byte("v"), time.Second); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set: %v, want ErrUnavailable", err)
	}
	if _, err := s.GetMany(ctx, []string{"k"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("GetMany: %v, want ErrUnavailable", err)
	}
	if err := s.SetMany(ctx, []upstream.SharedEntry{{Key: "k", Val: []byte("v"), TTL: time.Second}}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("SetMany: %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Errorf("4 calls on a known-dead Redis took %v", el)
	}
}

func TestCacheStoreBatches(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newReplica(t, srv).CacheStore()
	ctx := t.Context()
	err := s.SetMany(ctx, []upstream.SharedEntry{
		{Key: "a", Val: []byte("1"), TTL: time.Minute},
		{Key: "b", Val: []byte{0, 255, '\n'}, TTL: 300 * time.Microsecond}, // rounds up to 1ms
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	vals, err := s.GetMany(ctx, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{[]byte("1"), nil, nil}, vals); diff != "" {
		t.Errorf("GetMany (-want +got):\n%s", diff)
	}
	if err := s.Set(ctx, "bin", []byte{0, 1, 2, 255}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := s.Get(ctx, "bin"); err != nil || !ok || string(b) != "\x00\x01\x02\xff" {
		t.Errorf("Get(bin) = %q, %v, %v", b, ok, err)
	}
	if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
		t.Errorf("Get(missing) = %v, %v; want a miss without error", ok, err)
	}
}

func TestInvalidURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "http://localhost:6379", "redis://:hunter2@host:notaport/0", "redis://:hunter2@host/x"} {
		r, err := New(t.Context(), u, nil)
		if err == nil {
			_ = r.Close()
			t.Errorf("New(%q): no error", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q): password in error %q", u, err)
		}
	}
}
