package redisx

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/redisx/redistest"
)

// newReplicaOpts is newReplica with the feed's Namespace and FeedSecret.
func newReplicaOpts(t *testing.T, srv *redistest.Server, ns, secret string) replica {
	t.Helper()
	logs := &logBuffer{}
	r, err := NewWithOptions(t.Context(), Options{
		URL: srv.URL(), Logger: slog.New(slog.NewTextHandler(logs, nil)), Timeout: 2 * time.Second,
		ProbeInterval: 20 * time.Millisecond, ProbeMaxInterval: 200 * time.Millisecond,
		Namespace: ns, FeedSecret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return replica{r, logs}
}

// Issue 13, item 7: deployments sharing a Redis do not see each other's
// feed messages.
func TestPubSubNamespaces(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const secret = "a-deployment-secret-0123456789"
	a, b := newReplicaOpts(t, srv, "prod", secret), newReplicaOpts(t, srv, "prod", secret)
	other := newReplicaOpts(t, srv, "staging", secret)
	var inB, inOther inbox
	defer b.Subscribe(t.Context(), inB.handle)()
	defer other.Subscribe(t.Context(), inOther.handle)()
	waitUntil(t, "B's subscription", 5*time.Second, func() bool {
		if err := a.Publish(t.Context(), "t1", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inB.all()) > 0
	})
	// other's subscription started with B's; make sure it runs before
	// concluding that it gets nothing.
	o2 := newReplicaOpts(t, srv, "staging", secret)
	waitUntil(t, "the other deployment's subscription", 5*time.Second, func() bool {
		if err := o2.Publish(t.Context(), "t1", []byte("staging's own")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inOther.all()) > 0
	})
	for _, m := range inOther.all() {
		if m != "t1 staging's own" {
			t.Fatalf("another deployment's message reached staging: %q", m)
		}
	}
	for _, m := range inB.all() {
		if m != "t1 hello" {
			t.Fatalf("B got %q", m)
		}
	}
	if _, err := NewWithOptions(t.Context(), Options{URL: srv.URL(), Namespace: "a*b"}); err == nil {
		t.Fatal("a namespace with a glob character")
	}
}

// Issue 13, item 7: a message on the feed's channels that does not carry
// a valid HMAC under the deployment's secret is dropped and counted.
func TestPubSubDropsUnauthenticatedMessages(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const secret = "a-deployment-secret-0123456789"
	a, b := newReplicaOpts(t, srv, "", secret), newReplicaOpts(t, srv, "", secret)
	forger := newReplicaOpts(t, srv, "", "another-secret-0123456789")
	var inB inbox
	defer b.Subscribe(t.Context(), inB.handle)()
	waitUntil(t, "B's subscription", 5*time.Second, func() bool {
		if err := a.Publish(t.Context(), "t1", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inB.all()) > 0
	})
	ropt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(ropt)
	defer raw.Close()
	forged := []string{
		"0123456789abcdef\n" + `{"_id":"act_forged1"}`, // the format without a MAC
		"v1:" + strings.Repeat("0", 64) + "\nffff\n" + `{"_id":"act_forged2"}`,
		"v1:zz\nffff\n" + `{"_id":"act_forged3"}`,
		"",
	}
	for _, m := range forged {
		if err := raw.Publish(t.Context(), FeedChannelPrefix+"t1", m).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := forger.Publish(t.Context(), "t1", []byte(`{"_id":"act_forged4"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(t.Context(), "t1", []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the authentic message after the forged ones", 5*time.Second, inB.has("t1 after"))
	for _, m := range inB.all() {
		if strings.Contains(m, "forged") {
			t.Fatalf("B handled a forged message: %q", m)
		}
	}
	if n := b.FeedRejected(); n != uint64(len(forged)+1) {
		t.Fatalf("FeedRejected = %d, want %d", n, len(forged)+1)
	}
	if !strings.Contains(b.logs.String(), "dropped a feed message") {
		t.Errorf("no log of the dropped messages:\n%s", b.logs)
	}
}
