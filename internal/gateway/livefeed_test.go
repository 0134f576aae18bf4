package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// Keys and tokens of the tests (as in the server's tests).
const (
	keyAlpha          = "alpha-key-1b9e7d3c5a2f4e6081"
	keyBeta           = "beta-key-6c2a8e4f1d3b5a7092"
	tokenOne          = "tok-one-e5d1c9b7a3f24068"
	testWebhookSecret = "webhook-secret-4e8a1c"
)

// fakeUpstream is the upstream of a fake lemlist's default tenant, which
// ends with the test.
func fakeUpstream(t *testing.T) upstream.Upstream {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Activities: 300}})
	t.Cleanup(fake.Close)
	return upstream.Client(fake.Tenant(lemlisttest.DefaultTenant).Client())
}

// fakePool is a pool of upstreams over a fake lemlist, one per key, without
// a rate limit.
func fakePool(t *testing.T) *upstream.Pool {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Activities: 300}})
	t.Cleanup(fake.Close)
	pool, err := upstream.NewPool(upstream.PoolOptions{BaseURL: fake.URL, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// serveLiveFeed builds the live feed of o and serves its webhook route on
// a loopback listener, whose root URL it returns; both end with the test.
func serveLiveFeed(t *testing.T, o LiveFeedOptions) (*LiveFeed, string) {
	t.Helper()
	l, err := NewLiveFeed(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	mux := http.NewServeMux()
	l.mount(mux, func(h http.Handler) http.Handler { return h })
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
	auth := TokenAuth(&Tenant{Upstream: fakeUpstream(t), ID: upstream.TenantID(lemlisttest.DefaultAPIKey)}, []string{tokenOne})
	l, srvURL := serveLiveFeed(t, LiveFeedOptions{WebhookSecret: testWebhookSecret})

	tn, aerr := auth.authenticate("Bearer " + tokenOne)
	if aerr != nil {
		t.Fatal(aerr)
	}
	sub, err := l.resolverFeed(nil).Subscribe(withTenant(t.Context(), tn), feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.resolverFeed(nil).Subscribe(t.Context(), feed.Filter{}); err == nil {
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
	auth := PassthroughAuth(fakePool(t))
	l, srvURL := serveLiveFeed(t, LiveFeedOptions{PerTenant: true, WebhookSecret: testWebhookSecret})

	sub := func(key string) *feed.Subscription {
		tn, aerr := auth.authenticate("Bearer " + key)
		if aerr != nil {
			t.Fatal(aerr)
		}
		sub, err := l.resolverFeed(nil).Subscribe(withTenant(t.Context(), tn), feed.Filter{})
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
	fake := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Activities: 300}})
	t.Cleanup(fake.Close)
	l, srvURL := serveLiveFeed(t, LiveFeedOptions{Demo: true})
	if len(l.secret) < minWebhookSecretLength {
		t.Fatalf("demo secret %q", l.secret)
	}
	l.emitInterval = 5 * time.Millisecond
	sub, err := l.resolverFeed(nil).Subscribe(withTenant(t.Context(), &Tenant{}), feed.Filter{})
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
	if _, err := NewLiveFeed(LiveFeedOptions{WebhookSecret: "short"}); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("a short secret: %v", err)
	}
	l, err := NewLiveFeed(LiveFeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mux := http.NewServeMux()
	l.mount(mux, func(h http.Handler) http.Handler { return h })
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/lemlist", strings.NewReader("{}")))
	if w.Code != http.StatusNotFound {
		t.Fatalf("without a secret the route answers %d", w.Code)
	}
	var nilFeed *LiveFeed
	nilFeed.mount(mux, nil)
	nilFeed.StartDemo(nil, "")
	nilFeed.Close()
	if nilFeed.resolverFeed(nil) != nil {
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
