package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// doHost sends method path with Host h to s (Go takes a request's Host from
// req.Host, not from its header map), and returns the status.
func (s *testServer) doHost(t *testing.T, method, path, h string, hs ...header) int {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"query":"{ activities(first: 1) { nodes { id } } }"}`)
		hs = append(hs, header{"Content-Type", "application/json"})
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = h
	for _, x := range hs {
		req.Header.Set(x.k, x.v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Without tokens, the server answers only Host values that name loopback
// or ALLOWED_HOSTS, against DNS rebinding: a page on evil.example that
// rebinds its name to 127.0.0.1 gets 421, for queries, GraphiQL and
// websocket upgrades alike (issue 13, item 6).
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	open := startApp(t, serverEnv(fake, "ALLOWED_HOSTS", "App.Internal, 10.0.0.7"))
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8080", http.StatusOK},
		{"127.0.0.2", http.StatusOK},
		{"localhost:3000", http.StatusOK},
		{"LOCALHOST.", http.StatusOK},
		{"[::1]:8080", http.StatusOK},
		{"app.internal:8443", http.StatusOK},
		{"10.0.0.7", http.StatusOK},
		{"evil.example:8080", http.StatusMisdirectedRequest},
		{"evil.example", http.StatusMisdirectedRequest},
		{"localhost.evil.example", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io", http.StatusMisdirectedRequest},
		{"app.internal.evil.example", http.StatusMisdirectedRequest},
	} {
		for _, p := range []struct{ method, path string }{{http.MethodPost, "/graphql"}, {http.MethodGet, "/"}, {http.MethodGet, "/metrics"}} {
			if got := open.doHost(t, p.method, p.path, tc.host); got != tc.want {
				t.Errorf("%s %s with Host %s: %d, want %d", p.method, p.path, tc.host, got, tc.want)
			}
		}
	}
	// The probes answer any Host (load balancers use the pod's address).
	for _, p := range []string{"/healthz", "/readyz"} {
		if got := open.doHost(t, http.MethodGet, p, "10.1.2.3:8080"); got != http.StatusOK {
			t.Errorf("GET %s: %d", p, got)
		}
	}
	// A websocket upgrade with a foreign Host is refused before it opens.
	wsURL := "ws" + strings.TrimPrefix(open.url, "http") + "/graphql"
	_, resp, err := websocket.Dial(t.Context(), wsURL, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, Host: "evil.example",
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("websocket with Host evil.example: %v, %v", err, resp)
	}
	if _, _, err := websocket.Dial(t.Context(), wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, Host: "localhost"}); err != nil {
		t.Errorf("websocket with Host localhost: %v", err)
	}

	// With tokens, or per-client keys, a rebinding page has no credentials
	// to send: any Host is answered.
	tokens := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne))
	if got := tokens.doHost(t, http.MethodPost, "/graphql", "evil.example", bearerHeader(tokenOne)); got != http.StatusOK {
		t.Errorf("with a token: %d", got)
	}
	// ALLOWED_HOSTS=* turns the guard off.
	anyHost := startApp(t, serverEnv(fake, "ALLOWED_HOSTS", "*"))
	if got := anyHost.doHost(t, http.MethodPost, "/graphql", "evil.example"); got != http.StatusOK {
		t.Errorf("ALLOWED_HOSTS=*: %d", got)
	}
}
