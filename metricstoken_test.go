package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// METRICS_TOKEN guards /metrics on the main port: 401 without the bearer
// token or with another, the metrics with it (issue 13, item 10).
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-tok-4c1e9a7b3d5f2086"
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne, "METRICS_TOKEN", token))
	mustOK(t, s.post(t, firstFive, bearerHeader(tokenOne)))
	for name, hs := range map[string][]header{
		"no token":           nil,
		"a client token":     {bearerHeader(tokenOne)},
		"a prefix":           {bearerHeader(token[:16])},
		"basic":              {basicHeader("", token)},
		"the token and more": {bearerHeader(token + "x")},
	} {
		r := s.do(t, http.MethodGet, "/metrics", nil, hs...)
		if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %.200q", name, r.Status, r.Raw)
		}
		if strings.Contains(r.Raw, "graphql_requests_total") {
			t.Errorf("%s: metrics served", name)
		}
	}
	r := s.do(t, http.MethodGet, "/metrics", nil, bearerHeader(token))
	if r.Status != http.StatusOK || !strings.Contains(r.Raw, "graphql_requests_total") {
		t.Errorf("with the token: %d %.300q", r.Status, r.Raw)
	}
	// Without METRICS_TOKEN, /metrics stays open.
	open := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne))
	if r := open.do(t, http.MethodGet, "/metrics", nil); r.Status != http.StatusOK {
		t.Errorf("without METRICS_TOKEN: %d", r.Status)
	}
}
