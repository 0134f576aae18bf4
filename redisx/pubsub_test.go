package redisx

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/redisx/redistest"
)

// inbox records what a subscription handled.
type inbox struct {
	mu   sync.Mutex
	msgs []string // "topic payload"
}

func (b *inbox) handle(topic string, payload []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, topic+" "+string(payload))
}

func (b *inbox) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

func (b *inbox) has(msg string) func() bool {
	return func() bool { return slices.Contains(b.all(), msg) }
}

// A message published by one replica reaches every other replica's
// subscription with its topic, and not the publisher's own.
func TestPubSubAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b, c := newReplica(t, srv), newReplica(t, srv), newReplica(t, srv)
	var inA, inB, inC inbox
	stopA := a.Subscribe(t.Context(), inA.handle)
	defer stopA()
	defer b.Subscribe(t.Context(), inB.handle)()
	defer c.Subscribe(t.Context(), inC.handle)()

	// Subscriptions start asynchronously: publish until B receives.
	waitUntil(t, "B's subscription", 5*time.Second, func() bool {
		if err := a.Publish(t.Context(), "t1", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inB.all()) > 0 && len(inC.all()) > 0
	})
	if err := a.Publish(t.Context(), "tenant-2", []byte(`{"_id":"act_1"}`)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second message on B and C", 5*time.Second, func() bool {
		return inB.has(`tenant-2 {"_id":"act_1"}`)() && inC.has(`tenant-2 {"_id":"act_1"}`)()
	})
	if got := inA.all(); len(got) != 0 {
		t.Errorf("the publisher handled its own messages: %q", got)
	}
	for _, got := range [][]string{inB.all(), inC.all()} {
		for _, m := range got {
			if m != "t1 hello" && m != `tenant-2 {"_id":"act_1"}` {
				t.Errorf("unexpected message %q", m)
			}
		}
	}

	// Stopping a subscription ends its deliveries.
	stopA()
	if err := b.Publish(t.Context(), "t1", []byte("after stop")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "C's copy", 5*time.Second, inC.has("t1 after stop"))
	if slices.Contains(inA.all(), "t1 after stop") {
		t.Error("a stopped subscription still handles messages")
	}
}

// Killing Redis fails Publish at once with ErrUnavailable; once Redis is
// back, the subscriptions restore themselves and messages flow again.
func TestPubSubSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := newReplica(t, srv), newReplica(t, srv)
	var inB inbox
	defer b.Subscribe(t.Context(), inB.handle)()
	n := 0
	publish := func() (string, error) {
		n++
		msg := fmt.Sprintf("m%d", n)
		return "t " + msg, a.Publish(t.Context(), "t", []byte(msg))
	}
	waitUntil(t, "the subscription", 5*time.Second, func() bool {
		if _, err := publish(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inB.all()) > 0
	})

	srv.Kill()
	waitUntil(t, "both replicas to see Redis down", 5*time.Second, func() bool {
		_, _ = publish() // A finds out by publishing, B by its subscription
		return !a.Healthy() && !b.Healthy()
	})
	if _, err := publish(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish while Redis is down: %v, want ErrUnavailable", err)
	}
	if !contains(b.logs.String(), "feed subscription lost") {
		t.Errorf("B did not log the lost subscription:\n%s", b.logs.String())
	}

	srv.Restart()
	var last string
	waitUntil(t, "a message through the restored subscription", 10*time.Second, func() bool {
		msg, err := publish()
		if err == nil {
			last = msg
		}
		time.Sleep(20 * time.Millisecond)
		return last != "" && inB.has(last)()
	})
	if !contains(b.logs.String(), "feed subscription restored") {
		t.Errorf("B did not log the restored subscription:\n%s", b.logs.String())
	}
}

// A suspended Redis (connections open, no answers) is found out by the
// subscription's PING within about two DefaultPubSubPing.
func TestPubSubDetectsHungRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := newReplica(t, srv), newReplicaTimeout(t, srv, 300*time.Millisecond)
	var inB inbox
	defer b.Subscribe(t.Context(), inB.handle)()
	waitUntil(t, "the subscription", 5*time.Second, func() bool {
		if err := a.Publish(t.Context(), "t", []byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return len(inB.all()) > 0
	})
	srv.Stop()
	defer srv.Resume()
	waitUntil(t, "B to mark Redis down", 10*time.Second, func() bool { return !b.Healthy() })
	srv.Resume()
	waitUntil(t, "B to recover", 10*time.Second, b.Healthy)
}
