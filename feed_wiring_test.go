package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

const testWebhookSecret = "webhook-secret-4e8a1c"

// hookBody is a webhook call's body for activity id.
func hookBody(id, secret string) string {
	return `{"_id":"` + id + `","type":"emailsReplied","createdAt":"2026-05-11T08:07:38.375Z","secret":"` + secret + `"}`
}

func postHook(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Through the whole server (server.go wires the live feed into the
// gateway): a subscription over graphql-transport-ws, authenticated in
// connection_init, receives a webhook's activity.
func TestLiveFeedThroughTheServer(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne, "WEBHOOK_SECRET", testWebhookSecret, "POLL_INTERVAL", "1s"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + tokenOne}}))
	var msg struct {
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
	}
	must(wsjson.Read(ctx, c, &msg))
	if msg.Type != "connection_ack" {
		t.Fatalf("got %+v", msg)
	}
	must(wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { activityAdded(filter: {type: "emailsReplied"}) { id type } }`}}))
	// The subscription is registered asynchronously: post until it
	// receives (each call has a new id; the filter drops none).
	got := make(chan map[string]any, 1)
	go func() {
		var m struct {
			Type    string         `json:"type"`
			Payload map[string]any `json:"payload"`
		}
		if err := wsjson.Read(ctx, c, &m); err == nil {
			got <- map[string]any{"type": m.Type, "payload": m.Payload}
		}
		close(got)
	}()
	for i := 0; ; i++ {
		code := postHook(t, s.url+"/webhooks/lemlist", hookBody(fmt.Sprintf("act_srv%04d", i), testWebhookSecret))
		if code != http.StatusNoContent {
			t.Fatalf("webhook: %d", code)
		}
		select {
		case m, ok := <-got:
			if !ok {
				t.Fatal("the socket closed")
			}
			payload, _ := m["payload"].(map[string]any)
			if m["type"] != "next" || payload["data"] == nil {
				t.Fatalf("got %v", m)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no event")
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// An SSE subscription outlives REQUEST_TIMEOUT and WRITE_TIMEOUT, as a
// websocket does (the gateway's withDeadline must exempt event streams),
// and ends when the server closes the feed.
func TestLiveFeedSSEOutlivesRequestTimeout(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne, "WEBHOOK_SECRET", testWebhookSecret,
		"POLL_INTERVAL", "0", "REQUEST_TIMEOUT", "300ms", "WRITE_TIMEOUT", "600ms"))
	if code := postHook(t, s.url+"/webhooks/lemlist", hookBody("act_probe", testWebhookSecret)); code != http.StatusNoContent {
		t.Fatalf("webhook: %d", code)
	}
	// The server's own http.Server, for its read and write timeouts.
	hs := s.app.httpServer(s.app.Handler())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	ln := "http://" + l.Addr().String()

	body := `{"query":"subscription { activityAdded { id } }"}`
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ln+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tokenOne)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		b := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(b)
			if n > 0 {
				lines <- string(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	// Past both timeouts, the stream still carries a webhook's activity.
	time.Sleep(900 * time.Millisecond)
	if code := postHook(t, ln+"/webhooks/lemlist", hookBody("act_late", testWebhookSecret)); code != http.StatusNoContent {
		t.Fatalf("webhook: %d", code)
	}
	var got strings.Builder
	timeout := time.After(5 * time.Second)
	for !strings.Contains(got.String(), "act_late") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended: %q", got.String())
			}
			got.WriteString(l)
		case <-timeout:
			t.Fatalf("no event: %q", got.String())
		}
	}
	// Closing the app closes the feed, which ends the stream (so a graceful
	// shutdown need not wait for it).
	s.app.Close()
	for l := range lines {
		got.WriteString(l)
	}
	if !strings.Contains(got.String(), "FEED_UNAVAILABLE") || !strings.Contains(got.String(), "event: complete") {
		t.Fatalf("the stream did not end with the feed: %q", got.String())
	}
}
