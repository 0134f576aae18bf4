package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/internal/pgtest"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

// buildHookTool builds cmd/lemlist-hook and returns the binary's path.
func buildHookTool(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on the PATH to build cmd/lemlist-hook")
	}
	bin := filepath.Join(t.TempDir(), "lemlist-hook")
	if out, err := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, "./cmd/lemlist-hook").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lemlist-hook: %v\n%s", err, out)
	}
	return bin
}

// hookBackend is the raw store of the app's webhook secrets, as the
// server picked it.
func hookBackend(t *testing.T, s *testServer) feed.SecretBackend {
	t.Helper()
	var redis feed.SecretBackend
	if s.app.redis != nil {
		redis = s.app.redis
	}
	ws := pickWebhookStore(s.app.mstore, redis)
	if ws == nil {
		t.Fatal("the app has no webhook secret store")
	}
	return ws.backend
}

// startPublic starts a pass-through server whose PUBLIC_URL is its own
// address, with webhooks on, the settings of env added.
func startPublic(t *testing.T, fake *lemlisttest.Server, env map[string]string) *testServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	all := map[string]string{
		"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": fake.URL, "LEMLIST_RATE_LIMIT": "0", "HOST": "127.0.0.1",
		"WEBHOOK_SECRET": testWebhookSecret, "PUBLIC_URL": "http://" + srv.Listener.Addr().String(),
		"POLL_INTERVAL": "0", // webhooks only: an activity arrives by its call or not at all
	}
	for k, v := range env {
		all[k] = v
	}
	return startAppOn(t, srv, all, nil)
}

// Issue 13, item 7, through the whole server: a pass-through tenant
// registers its hook with lemlist-hook and its key alone; the server
// keeps a random secret for it in its persistent store (sealed), and
// checks the hook's calls against it: a call with the secret lemlist
// echoes is delivered, one with the secret derived from WEBHOOK_SECRET
// (or WEBHOOK_SECRET itself) is refused and never published, and the
// secret survives a restart over the same store. The registration refuses
// a key lemlist rejects and bad bodies, storing nothing.
func TestWebhookRegistration(t *testing.T) {
	bin := buildHookTool(t)
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"MIRROR": "sqlite:" + filepath.Join(t.TempDir(), "m.db")}
		testWebhookRegistration(t, bin, env)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testWebhookRegistration(t, bin, map[string]string{"MIRROR": pgtest.Start(t).URL("postgres")})
	})
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		// Redis is up throughout: generous timeouts keep a loaded machine
		// from taking a slow command for an outage (a webhook would then
		// rightly answer 503; redisx's own tests cover that).
		url := redistest.Start(t).URL() + "?dial_timeout=5s&read_timeout=5s&write_timeout=5s"
		env := map[string]string{"REDIS_URL": url, "REDIS_NAMESPACE": "hooks-test"}
		testWebhookRegistration(t, bin, env)
	})
}

// The registrar's calls to lemlist (the key's check and POST /hooks) take
// slots of the key's own rate budget, as its queries do: three
// registrations at once, six calls, never exceed LEMLIST_RATE_LIMIT in a
// window. Without the key's limiter they all land at once.
func TestRegistrationSpendsTheKeysBudget(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startPublic(t, fake, map[string]string{"MIRROR": "sqlite:" + filepath.Join(t.TempDir(), "m.db"), "LEMLIST_RATE_LIMIT": "2"})
	statuses := make(chan int, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+feed.RegisterPath, strings.NewReader(`{"type":"emailsReplied"}`))
			req.Header.Set("Authorization", "Bearer "+keyAlpha)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusCreated {
			t.Errorf("a registration answered %d, want 201\nserver logs:\n%s", st, s.logs)
		}
	}
	alpha := fake.Tenant("alpha")
	if n := len(alpha.Hooks()); n != 3 {
		t.Fatalf("%d hooks registered, want 3", n)
	}
	if n := alpha.MaxInWindow(); n > 2 {
		t.Fatalf("lemlist saw %d of the key's calls in one 2 s window; its budget is 2", n)
	}
}

func testWebhookRegistration(t *testing.T, bin string, env map[string]string) {
	fake := newFake(t, lemlisttest.Options{})
	s := startPublic(t, fake, env)
	alpha := upstream.TenantID(keyAlpha)

	// lemlist-hook register -passthrough, as a tenant runs it: its key
	// only, no WEBHOOK_SECRET.
	cmd := exec.CommandContext(t.Context(), bin, "register", "-server", s.url, "-passthrough", "-type", "emailsReplied")
	cmd.Env = []string{"LEMLIST_API_KEY=" + keyAlpha}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lemlist-hook register -passthrough: %v\n%s%s\nserver logs:\n%s", err, stdout.String(), stderr.String(), s.logs)
	}
	hooks := fake.Tenant("alpha").Hooks()
	if len(hooks) != 1 {
		t.Fatalf("the fake holds %d hooks of alpha, want 1", len(hooks))
	}
	h := hooks[0]
	if want := s.url + "/webhooks/lemlist/" + alpha; h.TargetURL != want || h.Type != "emailsReplied" {
		t.Fatalf("hook %+v, want target %s", h, want)
	}
	derived := feed.TenantSecret(testWebhookSecret, alpha)
	if len(h.Secret) != 43 || h.Secret == derived || h.Secret == testWebhookSecret {
		t.Fatalf("the hook's secret %q is not a random one", h.Secret)
	}
	if !strings.Contains(stdout.String(), "registered "+h.ID) || strings.Contains(stdout.String()+stderr.String(), h.Secret) {
		t.Fatalf("lemlist-hook printed %q %q", stdout.String(), stderr.String())
	}
	// At rest the secret is sealed: the store alone does not give it.
	stored, ok, err := hookBackend(t, s).WebhookSecret(t.Context(), alpha)
	if err != nil || !ok || strings.Contains(stored, h.Secret) {
		t.Fatalf("stored %q (%v, %v): want the secret sealed", stored, ok, err)
	}

	// Calls: the hook's own secret is delivered to alpha's subscriber.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	mustOK(t, s.post(t, `{ activities(first: 1) { edges { node { id } } } }`, bearerHeader(keyAlpha)))
	if s.app.mirror != nil {
		waitFor(t, "alpha's backfill", time.Minute, func() bool { return mirrorStatus(t, s, alpha).State == mirror.StateLive })
	}
	ids := sseIDs(t, s, bearerHeader(keyAlpha))
	deliver := func(hook lemlisttest.Hook) string { // an activity by the hook, until the subscription gets it
		t.Helper()
		for {
			acts, err := fake.Tenant("alpha").Insert(lemlisttest.ActivitySpec{Type: "emailsReplied"})
			if err != nil {
				t.Fatal(err)
			}
			if err := hook.Call(ctx, nil, acts[0]); err != nil {
				t.Fatalf("the hook's call: %v", err)
			}
			select {
			case id := <-ids:
				if id != acts[0].ID {
					t.Fatalf("received %s, want %s", id, acts[0].ID)
				}
				return id
			case <-time.After(50 * time.Millisecond): // not subscribed yet
			case <-ctx.Done():
				t.Fatal("the hook's activity never came")
			}
		}
	}
	deliver(h)
	// Forged calls: the derived secret, the master secret, another
	// tenant's derived secret.
	for i, secret := range []string{derived, testWebhookSecret, feed.TenantSecret(testWebhookSecret, upstream.TenantID(keyBeta))} {
		id := "act_forged" + string(rune('a'+i))
		if code := postHook(t, h.TargetURL, hookBody(id, secret)); code != http.StatusForbidden && code != http.StatusUnauthorized {
			t.Fatalf("forged call %d: %d, want 401 or 403", i, code)
		}
	}
	// The next activity the subscriber gets is the hook's: no forged one
	// was published before it.
	acts, err := fake.Tenant("alpha").Insert(lemlisttest.ActivitySpec{Type: "emailsReplied"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Tenant("alpha").CallHooks(ctx, nil, acts[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ids:
		if id != acts[0].ID {
			t.Fatalf("received %s, want the hook's %s (a forged call was published)", id, acts[0].ID)
		}
	case <-ctx.Done():
		t.Fatal("the hook's activity never came")
	}

	// The registration refuses a key lemlist rejects and bad input, with
	// a code, storing and registering nothing.
	reg := s.url + feed.RegisterPath
	for _, tc := range []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"a key lemlist rejects", "not-a-lemlist-key-0123", `{}`, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"no key", "", `{}`, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"not JSON", keyBeta, `type=emailsReplied`, http.StatusBadRequest, "BAD_REQUEST"},
		{"an unknown field", keyBeta, `{"secret":"mine"}`, http.StatusBadRequest, "BAD_REQUEST"},
		{"too large", keyBeta, `{"type":"` + strings.Repeat("x", feed.MaxRegisterBody) + `"}`, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
	} {
		var hs []header
		if tc.key != "" {
			hs = append(hs, bearerHeader(tc.key))
		}
		r := s.do(t, http.MethodPost, feed.RegisterPath, strings.NewReader(tc.body), hs...)
		if r.Status != tc.status || r.code() != tc.code {
			t.Errorf("%s: POST %s = %d %s, want %d %s", tc.name, reg, r.Status, r.Raw, tc.status, tc.code)
		}
		if tc.key != "" {
			if _, ok, err := hookBackend(t, s).WebhookSecret(t.Context(), upstream.TenantID(tc.key)); ok || err != nil {
				t.Errorf("%s: a secret was stored (%v)", tc.name, err)
			}
		}
	}
	if n := len(fake.Tenant("beta").Hooks()) + len(fake.Tenant(lemlisttest.DefaultTenant).Hooks()); n != 0 {
		t.Fatalf("%d hooks registered by refused requests", n)
	}
	if n := slices.IndexFunc(fake.Requests(), func(r lemlisttest.Request) bool { return r.Tenant == "beta" }); n >= 0 {
		t.Fatalf("bad input reached lemlist: %+v", fake.Requests()[n])
	}

	// A restart over the same store: the hook's secret still opens its
	// calls; the derived one is still refused.
	s.app.Close()
	s2 := startPublic(t, fake, env)
	mustOK(t, s2.post(t, `{ activities(first: 1) { edges { node { id } } } }`, bearerHeader(keyAlpha)))
	if s2.app.mirror != nil {
		waitFor(t, "alpha's engine", time.Minute, func() bool { return mirrorStatus(t, s2, alpha).State == mirror.StateLive })
	}
	ids = sseIDs(t, s2, bearerHeader(keyAlpha))
	moved := h
	moved.TargetURL = s2.url + "/webhooks/lemlist/" + alpha
	deliver(moved)
	if code := postHook(t, moved.TargetURL, hookBody("act_forgedz", derived)); code != http.StatusForbidden {
		t.Fatalf("the derived secret after the restart: %d, want 403", code)
	}
}

// Without registration: with no persistent store, pass-through webhooks
// keep the deprecated secret derived from WEBHOOK_SECRET and the server
// says so at start; with a store but no PUBLIC_URL, calls are checked
// against the stored secrets, so the derived one is refused. Neither
// offers the registration route.
func TestWebhookWithoutRegistration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mirror, log string
		derived           int // the derived secret's answer
	}{
		{"no store", "off", "deprecated per-tenant secrets derived from WEBHOOK_SECRET", http.StatusNoContent},
		{"a store without PUBLIC_URL", "sqlite:" + filepath.Join(t.TempDir(), "m.db"), "PUBLIC_URL is not set", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t, lemlisttest.Options{})
			env := map[string]string{"MIRROR": tc.mirror}
			if tc.mirror != "off" {
				env["PUBLIC_URL"] = ""
			}
			s := startPublic(t, fake, env)
			if !strings.Contains(s.logs.String(), tc.log) {
				t.Fatalf("no %q in the logs:\n%s", tc.log, s.logs)
			}
			if r := s.do(t, http.MethodPost, feed.RegisterPath, strings.NewReader(`{}`), bearerHeader(keyAlpha)); r.Status != http.StatusNotFound {
				t.Fatalf("registration: %d, want 404", r.Status)
			}
			alpha := upstream.TenantID(keyAlpha)
			if code := postHook(t, s.url+"/webhooks/lemlist/"+alpha, hookBody("act_derived1", feed.TenantSecret(testWebhookSecret, alpha))); code != tc.derived {
				t.Fatalf("the derived secret: %d, want %d", code, tc.derived)
			}
		})
	}
}

// The webhook secrets go to a store the replicas share first (the
// PostgreSQL mirror, then Redis), and only then to the SQLite mirror.
func TestPickWebhookStore(t *testing.T) {
	t.Parallel()
	type backend struct{ feed.SecretBackend }
	redis := backend{}
	sqlite := &mirrorStore{store: struct {
		mirror.Store
		feed.SecretBackend
	}{}, where: "m.db"}
	postgres := &mirrorStore{store: struct {
		mirror.Store
		feed.SecretBackend
		mirror.Leaser
	}{}, where: "postgres://db"}
	noSecrets := &mirrorStore{store: struct{ mirror.Store }{}}
	for _, tc := range []struct {
		name  string
		ms    *mirrorStore
		redis feed.SecretBackend
		want  string // "" for none
	}{
		{"nothing", nil, nil, ""},
		{"SQLite", sqlite, nil, "m.db"},
		{"Redis", nil, redis, "Redis"},
		{"Redis before SQLite", sqlite, redis, "Redis"},
		{"PostgreSQL before Redis", postgres, redis, "postgres://db"},
		{"a store without secrets", noSecrets, nil, ""},
		{"a store without secrets, and Redis", noSecrets, redis, "Redis"},
	} {
		got := pickWebhookStore(tc.ms, tc.redis)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: picked %s", tc.name, got.where)
		case tc.want != "" && (got == nil || !strings.Contains(got.where, tc.want)):
			t.Errorf("%s: picked %+v, want %s", tc.name, got, tc.want)
		}
	}
}
