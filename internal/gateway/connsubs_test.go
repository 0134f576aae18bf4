package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// One websocket holds at most MaxSubscriptionsPerConnection live
// subscriptions: the next subscribe gets TOO_MANY_SUBSCRIPTIONS, and a
// completed subscription frees its slot. Another connection has its own
// (issue 13, item 2).
func TestSubscriptionsPerConnection(t *testing.T) {
	t.Parallel()
	l, err := NewLiveFeed(LiveFeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	g, err := New(Options{Auth: OpenAuth(&Tenant{Upstream: fakeUpstream(t)}), Live: l, RequestTimeout: time.Minute, MaxBodyBytes: 1 << 20,
		MaxSubscriptionsPerConnection: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		var ack map[string]any
		if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init"}); err != nil {
			t.Fatal(err)
		}
		if err := wsjson.Read(ctx, c, &ack); err != nil || ack["type"] != "connection_ack" {
			t.Fatalf("init: %v %v", ack, err)
		}
		return c
	}
	subscribe := func(c *websocket.Conn, id int) {
		t.Helper()
		if err := wsjson.Write(ctx, c, map[string]any{"id": strconv.Itoa(id), "type": "subscribe",
			"payload": map[string]any{"query": "subscription { activityAdded { id } }"}}); err != nil {
			t.Fatal(err)
		}
	}
	// subscriptions waits until the hub holds n.
	subscriptions := func(n int) {
		t.Helper()
		for l.hub.Stats().Subscriptions != n {
			select {
			case <-ctx.Done():
				t.Fatalf("the hub holds %d subscriptions, want %d", l.hub.Stats().Subscriptions, n)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}

	c := dial()
	subscribe(c, 1)
	subscribe(c, 2)
	subscriptions(2)
	subscribe(c, 3)
	var msg struct {
		ID      string
		Type    string
		Payload json.RawMessage
	}
	if err := wsjson.Read(ctx, c, &msg); err != nil {
		t.Fatalf("no answer to the subscription beyond the cap: %v", err)
	}
	if msg.ID != "3" || msg.Type != "error" && msg.Type != "next" || !strings.Contains(string(msg.Payload), `"TOO_MANY_SUBSCRIPTIONS"`) {
		t.Fatalf("beyond the cap: %+v", msg)
	}
	// Completing one frees its slot.
	if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "complete"}); err != nil {
		t.Fatal(err)
	}
	subscriptions(1)
	subscribe(c, 4)
	subscriptions(2)
	// Another connection has slots of its own.
	other := dial()
	subscribe(other, 1)
	subscriptions(3)
}
