package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

const testWebhookSecret = "webhook-secret-4e8a1c"

// serveLiveFeed builds the live feed of o and serves its webhook route on
// a loopback listener, whose root URL it returns; both end with the test.
func serveLiveFeed(t *testing.T, o liveFeedOptions) (*liveFeed, string) {
	t.Helper()
	l, err := newLiveFeed(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	mux := http.NewServeMux()
	l.Mount(mux, func(h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return l, srv.URL
}

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

// next returns the subscription's next activity within 5 s.
func next(t *testing.T, s *feed.Subscription) *lemlist.Activity {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	a, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return a
}

// idle fails if the subscription holds an activity now.
func idle(t *testing.T, s *feed.Subscription) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if a, err := s.Next(ctx); err == nil {
		t.Fatalf("unexpected activity %s", a.ID)
	}
}

// In server mode, one tenant: POST /webhooks/lemlist with WEBHOOK_SECRET
// publishes to the subscriptions of whoever authenticated with a token.
func TestLiveFeedServerModeWebhook(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne))
	l, srvURL := serveLiveFeed(t, liveFeedOptions{Mode: modeServer, WebhookSecret: testWebhookSecret})

	tn, aerr := s.app.auth.authenticate("Bearer " + tokenOne)
	if aerr != nil {
		t.Fatal(aerr)
	}
	sub, err := l.Feed().Subscribe(withTenant(t.Context(), tn), feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Feed().Subscribe(t.Context(), feed.Filter{}); err == nil {
		t.Fatal("a subscription without a tenant")
	}
	if code := postHook(t, srvURL+"/webhooks/lemlist", hookBody("act_1", "wrong-secret-123456")); code != http.StatusForbidden {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := postHook(t, srvURL+"/webhooks/lemlist", hookBody("act_1", testWebhookSecret)); code != http.StatusNoContent {
		t.Fatalf("right secret: %d", code)
	}
	if a := next(t, sub); a.ID != "act_1" || strings.Contains(string(a.Raw), testWebhookSecret) {
		t.Fatalf("got %s %s", a.ID, a.Raw)
	}
	resp, err := http.Get(srvURL + "/webhooks/lemlist")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// In pass-through mode the webhook URL names the tenant, upstream.TenantID
// of its key, with a secret derived for it: a call reaches that tenant's
// subscriptions only.
func TestLiveFeedPassthroughWebhook(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, map[string]string{"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0"})
	l, srvURL := serveLiveFeed(t, liveFeedOptions{Mode: modePassthrough, WebhookSecret: testWebhookSecret})

	sub := func(key string) *feed.Subscription {
		tn, aerr := s.app.auth.authenticate("Bearer " + key)
		if aerr != nil {
			t.Fatal(aerr)
		}
		sub, err := l.Feed().Subscribe(withTenant(t.Context(), tn), feed.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	alpha, beta := sub(keyAlpha), sub(keyBeta)
	id := upstream.TenantID(keyAlpha)
	url := srvURL + "/webhooks/lemlist/" + id
	if code := postHook(t, url, hookBody("act_1", testWebhookSecret)); code != http.StatusForbidden {
		t.Fatalf("the server's own secret: %d", code)
	}
	if code := postHook(t, srvURL+"/webhooks/lemlist", hookBody("act_1", testWebhookSecret)); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Fatalf("no tenant in the URL: %d", code)
	}
	if code := postHook(t, url, hookBody("act_1", feed.TenantSecret(testWebhookSecret, id))); code != http.StatusNoContent {
		t.Fatalf("the tenant's secret: %d", code)
	}
	if a := next(t, alpha); a.ID != "act_1" {
		t.Fatalf("alpha got %s", a.ID)
	}
	idle(t, beta)
}

// In demo mode the fake emits activities and calls the server's webhook,
// with a secret made up at start.
func TestLiveFeedDemoEmitter(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{APIKey: lemlisttest.DefaultAPIKey})
	l, srvURL := serveLiveFeed(t, liveFeedOptions{Mode: modeDemo})
	if len(l.secret) < minWebhookSecretLength {
		t.Fatalf("demo secret %q", l.secret)
	}
	l.emitInterval = 5 * time.Millisecond
	sub, err := l.Feed().Subscribe(withTenant(t.Context(), &tenant{}), feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	l.StartDemo(fake, srvURL+"/")
	for range 3 {
		a := next(t, sub)
		if !strings.HasPrefix(a.ID, "act_") {
			t.Fatalf("got %+v", a)
		}
	}
	l.Close()
	l.Close() // idempotent
	if _, err := sub.Next(context.Background()); !errors.Is(err, feed.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestLiveFeedOptions(t *testing.T) {
	if _, err := newLiveFeed(liveFeedOptions{Mode: modeServer, WebhookSecret: "short"}); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("a short secret: %v", err)
	}
	l, err := newLiveFeed(liveFeedOptions{Mode: modeServer})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mux := http.NewServeMux()
	l.Mount(mux, func(h http.Handler) http.Handler { return h })
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/lemlist", strings.NewReader("{}")))
	if w.Code != http.StatusNotFound {
		t.Fatalf("without a secret the route answers %d", w.Code)
	}
	var nilFeed *liveFeed
	nilFeed.Mount(mux, nil)
	nilFeed.StartDemo(nil, "")
	nilFeed.Close()
	if nilFeed.Feed() != nil {
		t.Fatal("a nil live feed has a Feed")
	}
	for accept, want := range map[string]bool{"text/event-stream": true, "application/json, text/event-stream": true, "application/json": false, "": false} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Accept", accept)
		if isEventStream(r) != want {
			t.Errorf("isEventStream(%q) = %v", accept, !want)
		}
	}
}

// Through the whole server (once server.go, config.go and graphql.go carry
// the live feed's wiring; skipped before): a subscription over
// graphql-transport-ws, authenticated in connection_init, receives a
// webhook's activity.
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
// websocket does (middleware.go's withDeadline must exempt event streams),
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
