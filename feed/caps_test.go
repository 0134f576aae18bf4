package feed

import (
	"context"
	"errors"
	"testing"
)

// Issue 13, item 2: one tenant cannot take every subscription of the hub.
func TestSubscribeCapPerTenant(t *testing.T) {
	h := NewHub(Options{PollInterval: -1})
	defer h.Close()
	ctx := t.Context()
	var subs []*Subscription
	for range DefaultMaxSubscriptionsPerTenant {
		s, err := h.Subscribe(ctx, Tenant{ID: "A"}, Filter{})
		if err != nil {
			t.Fatalf("subscription %d of A: %v", len(subs)+1, err)
		}
		subs = append(subs, s)
	}
	if _, err := h.Subscribe(ctx, Tenant{ID: "A"}, Filter{}); !errors.Is(err, ErrTooManyTenantSubscriptions) {
		t.Fatalf("A beyond its cap: %v, want ErrTooManyTenantSubscriptions", err)
	}
	b, err := h.Subscribe(ctx, Tenant{ID: "B"}, Filter{})
	if err != nil {
		t.Fatalf("B, while A is at its cap: %v", err)
	}
	if h.Publish("B", act("act_b", 1)) != 1 || ids(queued(b)) != "act_b" {
		t.Fatal("B's subscription does not work")
	}
	subs[0].Close()
	if _, err := h.Subscribe(ctx, Tenant{ID: "A"}, Filter{}); err != nil {
		t.Fatalf("A after closing one: %v", err)
	}
	if st := h.Stats(); st.Subscriptions != DefaultMaxSubscriptionsPerTenant+1 {
		t.Fatalf("stats %+v", st)
	}
	// The setting is honoured, and the global cap still holds.
	h2 := NewHub(Options{PollInterval: -1, MaxSubscriptions: 3, MaxSubscriptionsPerTenant: 2})
	defer h2.Close()
	for _, tc := range []struct {
		tenant string
		want   error
	}{{"A", nil}, {"A", nil}, {"A", ErrTooManyTenantSubscriptions}, {"B", nil}, {"C", ErrTooManySubscriptions}} {
		if _, err := h2.Subscribe(ctx, Tenant{ID: tc.tenant}, Filter{}); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.tenant, err, tc.want)
		}
	}
}

// A connection's limit, carried by the context of the subscriptions the
// transport starts for it, bounds them; ending one frees its slot.
func TestSubscribeCapPerConnection(t *testing.T) {
	h := NewHub(Options{PollInterval: -1})
	defer h.Close()
	conn := WithConnectionLimit(t.Context(), NewConnectionLimit(2))
	other := WithConnectionLimit(t.Context(), NewConnectionLimit(2))
	a, err := h.Subscribe(conn, Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	sub2ctx, cancel := context.WithCancel(conn)
	if _, err := h.Subscribe(sub2ctx, Tenant{}, Filter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(conn, Tenant{}, Filter{}); !errors.Is(err, ErrTooManyOnConnection) {
		t.Fatalf("3rd on one connection: %v, want ErrTooManyOnConnection", err)
	}
	if _, err := h.Subscribe(other, Tenant{}, Filter{}); err != nil {
		t.Fatalf("another connection: %v", err)
	}
	a.Close()
	if _, err := h.Subscribe(conn, Tenant{}, Filter{}); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	cancel() // a subscription's own ctx ending frees its slot too
	eventually(t, "the slot to be freed", func() bool {
		s, err := h.Subscribe(conn, Tenant{}, Filter{})
		if err == nil {
			s.Close()
		}
		return err == nil
	})
	// A refused subscription takes no slot: the hub's cap refuses it.
	h2 := NewHub(Options{PollInterval: -1, MaxSubscriptions: 1})
	defer h2.Close()
	l := NewConnectionLimit(5)
	if _, err := h2.Subscribe(WithConnectionLimit(t.Context(), l), Tenant{}, Filter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.Subscribe(WithConnectionLimit(t.Context(), l), Tenant{}, Filter{}); !errors.Is(err, ErrTooManySubscriptions) {
		t.Fatal(err)
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("the connection holds %d slots, want 1", n)
	}
}
