package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// rowQuery needs lookups beyond the activities page: campaigns (status is
// not on activities), contacts and the team.
const rowQuery = `query Rows { activities(first: 10) { edges { node { id campaign { status } contact { fullName } user { name } } } } }`

// scrape fetches and parses /metrics.
func scrape(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value sums the samples of family name whose labels include want: the
// counter or gauge value, or the histogram's sample count.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	// No response cache: the repeated query must reach the upstream cache
	// (TestResponseCache covers the response cache's metrics).
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", tokenOne, "LEMLIST_RATE_LIMIT", "20", "RESPONSE_CACHE_TTL", "0"))
	auth := bearerHeader(tokenOne)

	fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: http.StatusServiceUnavailable}, 1)
	mustOK(t, s.post(t, rowQuery, auth)) // a retry, then lookups through the loaders
	mustOK(t, s.post(t, rowQuery, auth)) // from the cache
	mustOK(t, s.post(t, firstFive, auth))
	long := strings.Repeat("A", 70)
	mustOK(t, s.post(t, `query `+long+` { activities(first: 1) { edges { node { id } } } }`, auth))
	s.post(t, firstFive) // unauthenticated

	fams := scrape(t, s)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"graphql_requests_total", map[string]string{"operation": "Rows", "outcome": "ok"}},
		{"graphql_requests_total", map[string]string{"operation": "anonymous", "outcome": "ok"}},
		{"graphql_requests_total", map[string]string{"operation": "other", "outcome": "ok"}},
		{"graphql_requests_total", map[string]string{"outcome": "UNAUTHENTICATED"}},
		{"graphql_request_duration_seconds", map[string]string{"operation": "Rows"}},
		{"graphql_request_upstream_calls", nil},
		{"lemlist_requests_total", map[string]string{"endpoint": "activities", "status": "200"}},
		{"lemlist_requests_total", map[string]string{"endpoint": "activities", "status": "503"}},
		{"lemlist_requests_total", map[string]string{"endpoint": "campaigns/{id}", "status": "200"}},
		{"lemlist_request_duration_seconds", map[string]string{"endpoint": "team"}},
		{"lemlist_retries_total", map[string]string{"endpoint": "activities", "reason": "server_error"}},
		{"lemlist_rate_limit_wait_seconds", nil},
		{"upstream_cache_requests_total", map[string]string{"kind": "activities", "result": "hit"}},
		{"upstream_cache_requests_total", map[string]string{"kind": "activities", "result": "miss"}},
		{"upstream_cache_requests_total", map[string]string{"kind": "campaign", "result": "hit"}},
		{"upstream_cache_entries", nil},
		{"upstream_cache_bytes", nil},
		{"upstream_tenants", nil},
		{"loader_batch_size", map[string]string{"loader": "campaign"}},
		{"loader_batch_size", map[string]string{"loader": "contact"}},
		{"go_goroutines", nil},
		{"process_cpu_seconds_total", nil},
	} {
		if v := value(fams, c.name, c.labels); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, v)
		}
	}
	if v := value(fams, "graphql_requests_total", map[string]string{"operation": long}); v > 0 {
		t.Errorf("a 70-character operation name became a label")
	}
	// No label anywhere carries a credential.
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), tokenOne) || strings.Contains(l.GetValue(), keyDefault) {
					t.Errorf("%s has a credential in label %s", name, l.GetName())
				}
			}
		}
	}
}

func TestMetricsOperationCardinality(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "CACHE_TTL", "1m"))
	for i := range 110 {
		name := "Op" + strings.Repeat("x", i%50) + string(rune('a'+i/50))
		s.post(t, map[string]any{"query": "query " + name + " { activities(first: 1) { edges { node { id } } } }"})
	}
	ops := map[string]bool{}
	for _, m := range scrape(t, s)["graphql_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "operation" {
				ops[l.GetValue()] = true
			}
		}
	}
	if len(ops) > 101 || !ops["other"] {
		t.Errorf("%d distinct operation labels, other=%v", len(ops), ops["other"])
	}
}

// TestRequestLog checks the one log line per request: its id, operation,
// outcome, duration, and upstream calls equal to what the fake saw.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))

	r := s.post(t, rowQuery, header{"X-Request-Id", "req-rows-1"})
	mustOK(t, r)
	if got := r.Header.Get("X-Request-Id"); got != "req-rows-1" {
		t.Errorf("X-Request-Id echoed as %q", got)
	}
	upstreamCalls := len(fake.Requests())
	if upstreamCalls < 3 {
		t.Fatalf("the query made only %d upstream calls; it should need lookups", upstreamCalls)
	}

	bad := s.post(t, `{ activities(first: 1) { edges { node { nope } } } }`, header{"X-Request-Id", strings.Repeat("x", 129)})
	generated := bad.Header.Get("X-Request-Id")
	if len(generated) == 0 || len(generated) > 128 || strings.Contains(generated, "xxxx") {
		t.Errorf("an overlong request id was kept: %q", generated)
	}

	byID := map[string][]map[string]any{}
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request" {
			id, _ := l["request_id"].(string)
			byID[id] = append(byID[id], l)
		}
	}
	lines := byID["req-rows-1"]
	if len(lines) != 1 {
		t.Fatalf("%d log lines for the request, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["operation"] != "Rows" || l["outcome"] != "ok" || l["status"] != float64(200) || l["level"] != "INFO" {
		t.Errorf("log line %v", l)
	}
	if d, _ := l["duration_ms"].(float64); d <= 0 {
		t.Errorf("duration_ms = %v", l["duration_ms"])
	}
	if got := l["upstream_calls"]; got != float64(upstreamCalls) {
		t.Errorf("upstream_calls = %v, the fake saw %d", got, upstreamCalls)
	}
	if ls := byID[generated]; len(ls) != 1 || ls[0]["outcome"] != "GRAPHQL_VALIDATION_FAILED" || ls[0]["upstream_calls"] != float64(0) {
		t.Errorf("log of the invalid query: %v", ls)
	}
}

// TestRateLimitedAtDeadline gives the server one upstream request per 2 s
// and a 300 ms deadline: a query needing several calls gets RATE_LIMITED
// at once instead of hanging, and the server keeps serving.
func TestRateLimitedAtDeadline(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "LEMLIST_RATE_LIMIT", "1", "REQUEST_TIMEOUT", "300ms", "WRITE_TIMEOUT", "5s"))

	start := time.Now()
	r := s.post(t, rowQuery)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %s with a 300ms deadline", d)
	}
	if r.Status != http.StatusOK || !strings.Contains(strings.Join(r.codes(), ","), "RATE_LIMITED") {
		t.Fatalf("%d %.500s", r.Status, r.Raw)
	}
	for _, c := range r.codes() {
		if c != "RATE_LIMITED" {
			t.Errorf("error code %s beside RATE_LIMITED: %.500s", c, r.Raw)
		}
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d upstream calls, the budget was 1", n)
	}

	// The server keeps serving: the page comes from the cache.
	if r := s.do(t, http.MethodGet, "/healthz", nil); r.Status != http.StatusOK {
		t.Errorf("healthz %d", r.Status)
	}
	page := s.post(t, `{ activities(first: 10) { edges { node { id } } } }`)
	mustOK(t, page)
	if len(activityIDs(t, page)) != 10 {
		t.Errorf("page: %s", page.Raw)
	}
}

// TestLogsHoldNoSecrets runs the whole program (run) in server mode and in
// pass-through mode, with refused, accepted and failing requests, upstream
// errors quoting the key included, then searches the captured logs for
// every key and token, raw and base64-encoded.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	logs := &syncBuffer{}

	// good pairs each accepted header with the lemlist key it runs on.
	type goodAuth struct {
		h   header
		key string
	}
	exercise := func(env map[string]string, good []goodAuth, bad []header) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		env["PORT"] = "0"
		env["HOST"] = "127.0.0.1"
		env["LOG_LEVEL"] = "debug"
		env["LEMLIST_BASE_URL"] = fake.URL
		env["LEMLIST_RATE_LIMIT"] = "0"
		env["CACHE_TTL"] = "0" // every request reaches the fake and its faults
		start := len(logs.String())
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, envFunc(env), logs) }()
		var base string
		addrRE := regexp.MustCompile(`"msg":"listening".*?"addr":"([^"]+)"`)
		for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
			if m := addrRE.FindStringSubmatch(logs.String()[start:]); m != nil {
				base = "http://" + m[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no listening line: %s", logs.String())
			}
		}
		s := &testServer{url: base}
		for _, h := range bad {
			s.post(t, rowQuery, h)
		}
		s.post(t, rowQuery)
		for i, g := range good {
			mustOK(t, s.post(t, rowQuery, g.h))
			if i > 0 {
				continue // the faults below take retries: once per mode will do
			}
			// Upstream failures, each quoting the key it was sent (as
			// some APIs do): a 401, a 500 on every retry, a body that is
			// not JSON, and a lookup failing beside a good page.
			basic := base64.StdEncoding.EncodeToString([]byte(":" + g.key))
			for _, f := range []lemlisttest.Fault{
				{Path: "/activities", Status: http.StatusUnauthorized, Body: "Invalid API key " + g.key},
				{Path: "/activities", Status: http.StatusInternalServerError, Body: "boom Basic " + basic},
				{Path: "/activities", Body: "<html>" + g.key},
				{Path: "/team", Status: http.StatusBadGateway, Body: "bad gateway for " + g.key},
			} {
				fake.InjectFault(f, 4)
				if r := s.post(t, `{ activities(first: 3, filter: {type: "emailsOpened"}) { edges { node { id user { name } } } } }`, g.h); len(r.Errors) == 0 {
					t.Errorf("fault %+v: no error: %s", f, r.Raw)
				}
				fake.ClearFaults()
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}

	exercise(map[string]string{"LEMLIST_API_KEY": keyDefault, "GRAPHQL_TOKENS": tokenOne + "," + tokenTwo},
		[]goodAuth{{bearerHeader(tokenOne), keyDefault}, {bearerHeader(tokenTwo), keyDefault}},
		[]header{bearerHeader(tokenOne + "x"), bearerHeader("x" + tokenTwo), basicHeader("", tokenOne), bearerHeader(keyDefault)})
	exercise(map[string]string{"AUTH_MODE": "passthrough"},
		[]goodAuth{{basicHeader("", keyAlpha), keyAlpha}, {bearerHeader(keyBeta), keyBeta}, {basicHeader("me", keyDefault), keyDefault}},
		[]header{bearerHeader(keyAlpha + "x"), basicHeader("", "x"+keyBeta), header{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(keyAlpha))}})

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, `"outcome":"UNAUTHENTICATED"`) ||
		!strings.Contains(out, `"mode":"passthrough"`) || !strings.Contains(out, `"mode":"server"`) || !strings.Contains(out, `"upstream_error":`) {
		t.Fatalf("the logs miss expected lines:\n%s", out)
	}
	for _, secret := range []string{keyDefault, keyAlpha, keyBeta, tokenOne, tokenTwo} {
		forms := []string{secret}
		for _, prefix := range []string{"", ":", "me:"} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
				forms = append(forms, enc.EncodeToString([]byte(prefix+secret)))
			}
		}
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("the logs hold %q (a form of a secret)", f)
			}
		}
		// The base64 of a secret with a prefix shares no aligned substring
		// with the secret's own; also look for its middle part.
		if mid := base64.StdEncoding.EncodeToString([]byte(secret))[4:20]; strings.Contains(out, mid) {
			t.Errorf("the logs hold part of a base64-encoded secret")
		}
	}
}
