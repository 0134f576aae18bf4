package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// Keys and tokens of the tests; each is long and unique enough that
// finding it in a log cannot be a coincidence.
const (
	keyDefault = "srv-key-7f3a9c1e5b2d4f60a8c3"
	keyAlpha   = "alpha-key-1b9e7d3c5a2f4e6081"
	keyBeta    = "beta-key-6c2a8e4f1d3b5a7092"
	tokenOne   = "tok-one-e5d1c9b7a3f24068"
	tokenTwo   = "tok-two-93a7c1e5b9d24f60"
)

// newFake starts a fake lemlist with a default tenant (keyDefault) and two
// more, "alpha" and "beta", with distinct data, and no rate limit.
func newFake(t *testing.T, o lemlisttest.Options) *lemlisttest.Server {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = keyDefault
	}
	if o.RateLimit == 0 {
		o.RateLimit = lemlisttest.NoRateLimit
	}
	small := lemlisttest.DatasetOptions{Activities: 300}
	if o.Dataset.Activities == 0 {
		o.Dataset = small
	}
	o.Tenants = append(o.Tenants,
		lemlisttest.TenantOptions{Name: "alpha", APIKey: keyAlpha, Dataset: small},
		lemlisttest.TenantOptions{Name: "beta", APIKey: keyBeta, Dataset: small},
	)
	f := lemlisttest.NewServer(o)
	t.Cleanup(f.Close)
	return f
}

// syncBuffer is a log sink safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log lines, decoded.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// testServer is the app under test behind a real HTTP listener.
type testServer struct {
	app  *app
	url  string // root, no trailing slash
	logs *syncBuffer
}

// startApp builds the app from env (as if from the environment) and serves
// its handler on a loopback listener.
func startApp(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	return startAppWith(t, env, nil)
}

// startAppWith is startApp, with tweak (if not nil) applied to the parsed
// configuration before the app is built.
func startAppWith(t *testing.T, env map[string]string, tweak func(*config)) *testServer {
	t.Helper()
	return startAppOn(t, httptest.NewUnstartedServer(nil), env, tweak)
}

// startAppOn is startAppWith on srv, an unstarted server whose address
// env may name (PUBLIC_URL), which it starts.
func startAppOn(t *testing.T, srv *httptest.Server, env map[string]string, tweak func(*config)) *testServer {
	t.Helper()
	t.Cleanup(srv.Close)
	cfg, err := parseConfig(nil, envFunc(env), io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	if tweak != nil {
		tweak(cfg)
	}
	logs := &syncBuffer{}
	a, err := newApp(cfg, newLogger(logs, "debug"))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	t.Cleanup(a.Close)
	srv.Config.Handler = a.Handler()
	srv.Start()
	return &testServer{app: a, url: srv.URL, logs: logs}
}

// serverEnv is server mode on fake with the given extra settings.
func serverEnv(fake *lemlisttest.Server, kv ...string) map[string]string {
	env := map[string]string{
		"LEMLIST_API_KEY":    keyDefault,
		"LEMLIST_BASE_URL":   fake.URL,
		"LEMLIST_RATE_LIMIT": "0",
		"HOST":               "127.0.0.1",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// gqlResponse is a decoded GraphQL answer with its HTTP status and headers.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw string
}

// code returns the first error's code, or "".
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// codes returns every error's code.
func (r *gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// header is a request header for post.
type header struct{ k, v string }

func bearerHeader(tok string) header { return header{"Authorization", "Bearer " + tok} }

func basicHeader(user, key string) header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, key)
	return header{"Authorization", req.Header.Get("Authorization")}
}

// post sends a GraphQL request body (a query string, or any JSON-able
// value) to the server's /graphql.
func (s *testServer) post(t *testing.T, body any, hs ...header) *gqlResponse {
	t.Helper()
	if q, ok := body.(string); ok {
		body = map[string]any{"query": q}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, "/graphql", bytes.NewReader(b), append([]header{{"Content-Type", "application/json"}}, hs...)...)
}

func (s *testServer) do(t *testing.T, method, path string, body io.Reader, hs ...header) *gqlResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		req.Header.Set(h.k, h.v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return out
}

// mustOK fails unless r is a 200 without errors.
func mustOK(t *testing.T, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("want 200 without errors, got %d: %.500s", r.Status, r.Raw)
	}
}

// activityIDs returns the ids of data.activities.edges[].node.
func activityIDs(t *testing.T, r *gqlResponse) []string {
	t.Helper()
	var d struct {
		Activities struct {
			Edges []struct {
				Node struct {
					ID string `json:"id"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"activities"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("data: %v: %.300s", err, r.Raw)
	}
	var ids []string
	for _, e := range d.Activities.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// expectedIDs returns the ids of the first n activities of tenant.
func expectedIDs(t *testing.T, fake *lemlisttest.Server, tenant string, n int) []string {
	t.Helper()
	all, err := fake.Tenant(tenant).Expected(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range all[:n] {
		ids = append(ids, a.ID)
	}
	return ids
}
