package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

const (
	testKey    = "hook-test-key-5c1e9a7b3d"
	testSecret = "hook-test-secret-8f2d6b4a"
)

// fakeHooks serves lemlist's /api/hooks routes from memory.
type fakeHooks struct {
	mu      sync.Mutex
	created []map[string]any
	query   []string
	hooks   map[string]string // id → target
	calls   int
	url     string // the fake's root URL
}

func (f *fakeHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if _, pass, _ := r.BasicAuth(); pass != testKey {
		http.Error(w, "The authentication you supplied is incorrect", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/hooks":
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		f.created = append(f.created, body)
		f.query = append(f.query, r.URL.RawQuery)
		id := fmt.Sprintf("hoo_%d", len(f.created))
		f.hooks[id] = body["targetUrl"].(string)
		typ, _ := body["type"].(string)
		fmt.Fprintf(w, `{"_id":%q,"targetUrl":%q,"type":%q,"createdAt":"2026-05-11T08:07:38.375Z"}`, id, body["targetUrl"], typ)
	case r.Method == http.MethodGet && r.URL.Path == "/api/hooks":
		var out []string
		for id, target := range f.hooks {
			out = append(out, fmt.Sprintf(`{"_id":%q,"targetUrl":%q,"createdAt":"2026-05-11T08:07:38.375Z"}`, id, target))
		}
		fmt.Fprint(w, "["+strings.Join(out, ",")+"]")
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/hooks/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/hooks/")
		target, ok := f.hooks[id]
		if !ok {
			http.Error(w, "Hook not found", http.StatusNotFound)
			return
		}
		delete(f.hooks, id)
		fmt.Fprintf(w, `{"_id":%q,"targetUrl":%q}`, id, target)
	default:
		http.Error(w, "no route", http.StatusNotFound)
	}
}

func setup(t *testing.T) (*fakeHooks, func(env map[string]string, args ...string) (int, string, string)) {
	t.Helper()
	f := &fakeHooks{hooks: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f, func(env map[string]string, args ...string) (int, string, string) {
		full := map[string]string{"LEMLIST_API_KEY": testKey, "LEMLIST_BASE_URL": srv.URL + "/api", "WEBHOOK_SECRET": testSecret}
		for k, v := range env {
			full[k] = v
		}
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, func(k string) string { return full[k] }, &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

func TestRegisterListDelete(t *testing.T) {
	f, run := setup(t)
	code, out, errOut := run(nil, "register", "-server", "https://gql.example.com/", "-type", "emailsReplied", "-campaign", "cam_1", "-first", "true")
	if code != 0 {
		t.Fatalf("register: %d %s", code, errOut)
	}
	if !strings.Contains(out, "registered hoo_1") || !strings.Contains(out, "https://gql.example.com/webhooks/lemlist") {
		t.Errorf("output %q", out)
	}
	body := f.created[0]
	if body["targetUrl"] != "https://gql.example.com/webhooks/lemlist" || body["secret"] != testSecret ||
		body["type"] != "emailsReplied" || body["campaignId"] != "cam_1" || body["isFirst"] != true {
		t.Errorf("body %v", body)
	}
	if f.query[0] != "campaignId=cam_1&isFirst=true" {
		t.Errorf("query %q", f.query[0])
	}
	code, out, _ = run(nil, "list")
	if code != 0 || !strings.Contains(out, "hoo_1") || !strings.Contains(out, "TARGET") {
		t.Errorf("list: %d %q", code, out)
	}
	code, out, _ = run(nil, "delete", "hoo_1")
	if code != 0 || !strings.Contains(out, "deleted hoo_1") || len(f.hooks) != 0 {
		t.Errorf("delete: %d %q", code, out)
	}
	if code, _, errOut = run(nil, "delete", "hoo_1"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("deleting again: %d %q", code, errOut)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, testKey) || strings.Contains(s, testSecret) {
			t.Errorf("output leaks a credential: %q", s)
		}
	}
}

// Issue 13, item 7: with -passthrough the tool asks the server to
// register the hook, with the tenant's key only (no WEBHOOK_SECRET): the
// hook points at the tenant's URL with the random secret the server keeps
// for it, which the tool never sees.
func TestRegisterPassthrough(t *testing.T) {
	f, run := setup(t)
	store := feed.NewMemorySecrets()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	reg, err := feed.NewRegistrar(feed.RegistrarOptions{Secrets: store, BaseURL: srv.URL, Hooks: func(key string) (feed.HookService, error) {
		c, err := lemlist.NewClient(key, lemlist.WithBaseURL(f.url+"/api/"))
		if err != nil {
			return nil, err
		}
		return c.Hooks, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("POST "+feed.RegisterPath, reg.Handler())
	noSecret := map[string]string{"WEBHOOK_SECRET": ""}
	code, out, errOut := run(noSecret, "register", "-server", srv.URL, "-passthrough", "-type", "emailsReplied")
	if code != 0 {
		t.Fatalf("register: %d %s", code, errOut)
	}
	tenant := upstream.TenantID(testKey)
	secret, err := store.Secret(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	body := f.created[0]
	if body["targetUrl"] != srv.URL+"/webhooks/lemlist/"+tenant || body["secret"] != secret || body["type"] != "emailsReplied" {
		t.Fatalf("body %v", body)
	}
	if !strings.Contains(out, "registered hoo_1") || strings.Contains(out+errOut, secret) || strings.Contains(out+errOut, testKey) {
		t.Errorf("output %q %q", out, errOut)
	}
	// A key lemlist refuses: the server answers 401, the tool exits 1.
	code, _, errOut = run(map[string]string{"WEBHOOK_SECRET": "", "LEMLIST_API_KEY": "wrong-key-123456"}, "register", "-server", srv.URL, "-passthrough")
	if code != 1 || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong-key-123456") {
		t.Fatalf("a refused key: %d %q", code, errOut)
	}
	// The key goes to the server: never over plain HTTP beyond loopback.
	if code, _, errOut := run(noSecret, "register", "-server", "http://gql.example.com", "-passthrough"); code != 2 || !strings.Contains(errOut, "https") {
		t.Fatalf("plain HTTP: %d %q", code, errOut)
	}
	if len(f.created) != 1 {
		t.Fatalf("%d hooks created, want 1", len(f.created))
	}
}

func TestUsageErrors(t *testing.T) {
	f, run := setup(t)
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, nil},
		{nil, []string{"frobnicate"}},
		{map[string]string{"LEMLIST_API_KEY": ""}, []string{"list"}},
		{nil, []string{"register"}},
		{nil, []string{"register", "-server", "gql.example.com"}},
		{nil, []string{"register", "-server", "https://gql.example.com", "-first", "maybe"}},
		{nil, []string{"register", "-server", "https://gql.example.com", "extra"}},
		{map[string]string{"WEBHOOK_SECRET": ""}, []string{"register", "-server", "https://gql.example.com"}},
		{nil, []string{"delete"}},
		{nil, []string{"list", "x"}},
	} {
		if code, _, errOut := run(tc.env, tc.args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v %v: status %d, %q", tc.env, tc.args, code, errOut)
		}
	}
	if f.calls != 0 {
		t.Errorf("%d calls to lemlist for bad usage", f.calls)
	}
	if code, _, _ := run(nil, "--help"); code != 0 {
		t.Errorf("--help: %d", code)
	}
}

func TestLemlistRefusal(t *testing.T) {
	_, run := setup(t)
	code, _, errOut := run(map[string]string{"LEMLIST_API_KEY": "wrong-key-123456"}, "list")
	if code != 1 || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong-key-123456") {
		t.Fatalf("status %d, %q", code, errOut)
	}
}
