package feed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// Issue 13, item 7: a relay failure (Redis down) answers 5xx, so that
// lemlist retries; the retry is delivered locally once and relayed.
func TestWebhookRelayFailureIs5xx(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	var mu sync.Mutex
	down, relayed := true, 0
	wh, err := hub.Webhook(WebhookOptions{Secret: secret, Relay: func(_ context.Context, tenant string, activity []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return errors.New("redisx: redis unavailable")
		}
		relayed++
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := hub.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	w := post(wh, "/webhooks/lemlist", payload)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("relay down: status %d, Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if got := ids(queued(s)); got != "act_w1" { // this replica's subscribers have it
		t.Fatalf("local delivery: %q", got)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if w := post(wh, "/webhooks/lemlist", payload); w.Code != http.StatusNoContent { // lemlist's retry
		t.Fatalf("retry: status %d", w.Code)
	}
	if got := queued(s); len(got) != 0 || relayed != 1 {
		t.Fatalf("after the retry: queued %q, relayed %d; want nothing more, relayed once", ids(got), relayed)
	}
	if st := hub.Stats(); st.WebhooksAccepted != 1 || st.WebhooksRelayFailed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Issue 13, item 7: replaying a call (the same activity _id for the same
// tenant) within the window publishes and relays nothing; another tenant's
// activity with the same _id is its own.
func TestWebhookReplayDropped(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	var mu sync.Mutex
	var relayed []string
	store := NewMemorySecrets()
	wh, err := hub.Webhook(WebhookOptions{PerTenant: true, Secrets: store, Relay: func(_ context.Context, tenant string, activity []byte) error {
		mu.Lock()
		defer mu.Unlock()
		relayed = append(relayed, tenant)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/lemlist/{tenant}", wh)
	a, b := upstream.TenantID("key-a"), upstream.TenantID("key-b")
	sa, _ := store.Ensure(t.Context(), a, NewSecret())
	sb, _ := store.Ensure(t.Context(), b, NewSecret())
	body := func(s string) string { return strings.Replace(payload, secret, s, 1) }
	for range 3 {
		if w := post(mux, "/webhooks/lemlist/"+a, body(sa)); w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
	}
	if w := post(mux, "/webhooks/lemlist/"+b, body(sb)); w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	if len(relayed) != 2 || relayed[0] != a || relayed[1] != b {
		t.Fatalf("relayed for %q, want once for a, once for b", relayed)
	}
	if st := hub.Stats(); st.WebhooksAccepted != 2 || st.WebhooksReplayed != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplaySet(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newReplaySet(time.Hour, 3)
	if !r.claim("a", t0) || r.claim("a", t0.Add(time.Minute)) {
		t.Fatal("a claimed twice within the window")
	}
	r.release("a") // a failed call: the retry may claim it
	if !r.claim("a", t0.Add(2*time.Minute)) {
		t.Fatal("a released id cannot be claimed again")
	}
	if !r.claim("b", t0.Add(3*time.Minute)) || !r.claim("c", t0.Add(4*time.Minute)) {
		t.Fatal("b, c")
	}
	if !r.claim("d", t0.Add(5*time.Minute)) || !r.claim("a", t0.Add(6*time.Minute)) {
		t.Fatal("beyond the bound, the oldest (a) is forgotten")
	}
	if r.claim("c", t0.Add(61*time.Minute)) {
		t.Fatal("c forgotten within the window")
	}
	if !r.claim("c", t0.Add(65*time.Minute)) {
		t.Fatal("c still held after the window")
	}
	if len(r.at) > 3 {
		t.Fatalf("%d ids held, bound 3", len(r.at))
	}
}

// Issue 13, item 7: with a SecretStore, each tenant's secret is a random
// one the server keeps: a secret derived from the server's master secret
// (which let its holder forge into any tenant) is refused, and so is
// another tenant's.
func TestWebhookPerTenantStoreSecrets(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	store := NewMemorySecrets()
	wh, err := hub.Webhook(WebhookOptions{Secret: secret, PerTenant: true, Secrets: store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/lemlist/{tenant}", wh)
	a, b, c := upstream.TenantID("key-a"), upstream.TenantID("key-b"), upstream.TenantID("key-c")
	sa, err := store.Ensure(t.Context(), a, NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := store.Ensure(t.Context(), a, NewSecret()); again != sa {
		t.Fatal("Ensure replaced a tenant's secret")
	}
	sb, _ := store.Ensure(t.Context(), b, NewSecret())
	if len(sa) < 43 || sa == sb {
		t.Fatalf("secrets %q, %q", sa, sb)
	}
	subA, err := hub.Subscribe(t.Context(), Tenant{ID: a}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	body := func(s string) string { return strings.Replace(payload, secret, s, 1) }
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"secret derived from the master", "/webhooks/lemlist/" + a, body(TenantSecret(secret, a)), http.StatusForbidden},
		{"the master secret", "/webhooks/lemlist/" + a, payload, http.StatusForbidden},
		{"another tenant's secret", "/webhooks/lemlist/" + a, body(sb), http.StatusForbidden},
		{"a tenant without a secret", "/webhooks/lemlist/" + c, body(TenantSecret(secret, c)), http.StatusForbidden},
		{"the tenant's secret", "/webhooks/lemlist/" + a, body(sa), http.StatusNoContent},
	} {
		if w := post(mux, tc.path, tc.body); w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
		}
	}
	if got := ids(queued(subA)); got != "act_w1" {
		t.Fatalf("tenant a got %q", got)
	}
	// A store failure is the server's: 503, lemlist retries.
	failing, _ := hub.Webhook(WebhookOptions{PerTenant: true, Secrets: failingSecrets{}})
	mux2 := http.NewServeMux()
	mux2.Handle("/webhooks/lemlist/{tenant}", failing)
	if w := post(mux2, "/webhooks/lemlist/"+a, body(sa)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("store down: status %d", w.Code)
	}
	if _, err := hub.Webhook(WebhookOptions{Secrets: store}); err == nil {
		t.Fatal("a SecretStore outside PerTenant mode, without a secret")
	}
}

type failingSecrets struct{}

func (failingSecrets) Secret(context.Context, string) (string, error) {
	return "", errors.New("store down")
}
func (failingSecrets) Ensure(context.Context, string, string) (string, error) {
	return "", errors.New("store down")
}
func (failingSecrets) Delete(context.Context, string) error { return errors.New("store down") }

// fakeHookService is lemlist's /hooks for one key, in memory.
type fakeHookService struct {
	mu      sync.Mutex
	key     string // the valid key
	calls   []string
	created []*lemlist.HookOptions
}

func (f *fakeHookService) client(key string) (HookService, error) {
	return &keyedHooks{f, key}, nil
}

type keyedHooks struct {
	f   *fakeHookService
	key string
}

func (k *keyedHooks) check(call string) error {
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	k.f.calls = append(k.f.calls, call)
	if k.key != k.f.key {
		return &lemlist.ErrorResponse{Response: &http.Response{StatusCode: http.StatusUnauthorized, Request: &http.Request{Method: "GET"}}, Message: "The authentication you supplied is incorrect"}
	}
	return nil
}

func (k *keyedHooks) List(context.Context) ([]*lemlist.Hook, *lemlist.Response, error) {
	return nil, nil, k.check("list")
}

func (k *keyedHooks) Create(_ context.Context, o *lemlist.HookOptions) (*lemlist.Hook, *lemlist.Response, error) {
	if err := k.check("create"); err != nil {
		return nil, nil, err
	}
	k.f.mu.Lock()
	defer k.f.mu.Unlock()
	k.f.created = append(k.f.created, o)
	return &lemlist.Hook{ID: "hoo_1", TargetURL: o.TargetURL, Type: o.Type, CampaignID: o.CampaignID}, nil, nil
}

// Issue 13, item 7: registering a tenant's hook needs only its lemlist
// key. The server makes the tenant's secret, keeps it, and registers the
// hook with it; a key lemlist refuses stores nothing.
func TestRegistrar(t *testing.T) {
	const key = "the-tenant-key-0123"
	fake := &fakeHookService{key: key}
	store := NewMemorySecrets()
	reg, err := NewRegistrar(RegistrarOptions{Secrets: store, BaseURL: "https://gql.example.com/", Hooks: fake.client})
	if err != nil {
		t.Fatal(err)
	}
	h := reg.Handler()
	call := func(auth, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, RegisterPath, strings.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := call("", `{}`); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d", w.Code)
	}
	if w := call("Bearer wrong-key", `{}`); w.Code != http.StatusUnauthorized || len(fake.created) != 0 {
		t.Fatalf("a key lemlist refuses: %d, %d hooks", w.Code, len(fake.created))
	}
	if _, err := store.Secret(t.Context(), upstream.TenantID("wrong-key")); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("a refused key got a secret: %v", err)
	}
	// Bad input is refused with a code before any call to lemlist.
	calls := len(fake.calls)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"a wrong type", `{"type":1}`, http.StatusBadRequest, "BAD_REQUEST"},
		{"not JSON", `type=emailsReplied`, http.StatusBadRequest, "BAD_REQUEST"},
		{"two objects", `{}{}`, http.StatusBadRequest, "BAD_REQUEST"},
		{"too large", `{"type":"` + strings.Repeat("x", MaxRegisterBody) + `"}`, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
	} {
		w := call("Bearer "+key, tc.body)
		if w.Code != tc.status || !strings.HasPrefix(w.Body.String(), tc.code+": ") {
			t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.code)
		}
	}
	if len(fake.calls) != calls {
		t.Fatalf("bad input made %d calls to lemlist", len(fake.calls)-calls)
	}
	w := call("Bearer "+key, `{"type":"emailsReplied","campaignId":"cam_1","isFirst":true}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	tenant := upstream.TenantID(key)
	var got struct{ ID, TargetURL, Type, CampaignID string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := "https://gql.example.com/webhooks/lemlist/" + tenant
	if got.ID != "hoo_1" || got.TargetURL != want || got.Type != "emailsReplied" || got.CampaignID != "cam_1" {
		t.Fatalf("answer %+v", got)
	}
	if strings.Contains(w.Body.String(), key) {
		t.Fatal("the answer quotes the key")
	}
	stored, err := store.Secret(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	o := fake.created[0]
	if o.TargetURL != want || o.Secret != stored || o.Type != "emailsReplied" || o.CampaignID != "cam_1" || o.IsFirst == nil || !*o.IsFirst {
		t.Fatalf("hook created with %+v", o)
	}
	if strings.Contains(w.Body.String(), stored) {
		t.Fatal("the answer quotes the secret")
	}
	// A second hook of the tenant shares its secret.
	if w := call("Basic "+basic(key), `{}`); w.Code != http.StatusCreated || fake.created[1].Secret != stored {
		t.Fatalf("second hook: %d, secret shared: %v", w.Code, fake.created[1].Secret == stored)
	}
	if _, err := NewRegistrar(RegistrarOptions{Secrets: store, BaseURL: "gql.example.com", Hooks: fake.client}); err == nil {
		t.Fatal("a base URL without a scheme")
	}
}

func basic(key string) string { return base64.StdEncoding.EncodeToString([]byte(":" + key)) }
