package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// Ids of the incoming traceparent the tests continue.
const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpanID  = "00f067aa0ba902b7"
	// variableMarker is a query variable, sent upstream in the query
	// string: it must appear in no span.
	variableMarker = "cam_variableMarker7d41c"
)

// tracedQuery makes upstream calls of two kinds (activities, contacts) and
// has a variable that ends up in an upstream query string.
const tracedQuery = `query Recent($campaign: ID) {
  recent: activities(first: 3) { edges { node { id contact { id fullName } } } }
  other: activities(first: 1, filter: {campaignId: $campaign}) { edges { node { id } } }
}`

// startTracedApp is startApp with tracing on, its spans going to the
// returned recorder instead of an OTLP exporter.
func startTracedApp(t *testing.T, env map[string]string) (*testServer, *tracetest.SpanRecorder) {
	t.Helper()
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1" // never used: the recorder replaces the exporter
	rec := tracetest.NewSpanRecorder()
	s := startAppWith(t, env, func(cfg *config) {
		if !cfg.Tracing.Enabled {
			t.Fatal("tracing is off")
		}
		cfg.Tracing.SpanProcessor = rec
	})
	return s, rec
}

// headerLog is an upstream in front of the fake that notes the
// traceparent header of each request.
type headerLog struct {
	mu           sync.Mutex
	traceparents []string
}

func (h *headerLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.traceparents = append(h.traceparents, r.Header.Get("traceparent"))
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (h *headerLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.traceparents...)
}

// endedSpans waits until a span named name has ended (the server span ends
// after the client has its answer), then returns every ended span.
func endedSpans(t *testing.T, rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := rec.Ended()
		for _, s := range spans {
			if s.Name() == name {
				return spans
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q among %d: %v", name, len(spans), spanNames(spans))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// spanText is every string a span carries to an exporter.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	add := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
		}
	}
	b.WriteString(s.Name() + "\n" + s.Status().Description + "\n")
	add(s.Attributes())
	add(s.Resource().Attributes())
	for _, e := range s.Events() {
		b.WriteString(e.Name + "\n")
		add(e.Attributes)
	}
	for _, l := range s.Links() {
		add(l.Attributes)
	}
	return b.String()
}

// TestTracing runs a query with a traceparent through the app in each
// auth mode and checks the trace: the server span continues the caller's
// trace, the operation span is its child and the upstream calls the
// operation's, upstream requests carry the trace on, and no span holds a
// credential, the query variables or an upstream query string.
func TestTracing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     func(base string) map[string]string
		auth    header
		service string // the resource's service.name
		secrets []string
	}{
		{
			name: "server key and token",
			env: func(base string) map[string]string {
				return map[string]string{
					"LEMLIST_API_KEY": keyDefault, "LEMLIST_BASE_URL": base, "LEMLIST_RATE_LIMIT": "0",
					"HOST": "127.0.0.1", "GRAPHQL_TOKENS": tokenOne + "," + tokenTwo, "OTEL_SERVICE_NAME": "gql-test",
				}
			},
			auth:    bearerHeader(tokenOne),
			service: "gql-test",
			secrets: []string{keyDefault, tokenOne, tokenTwo, base64.StdEncoding.EncodeToString([]byte(":" + keyDefault))},
		},
		{
			name: "passthrough",
			env: func(base string) map[string]string {
				return map[string]string{
					"AUTH_MODE": "passthrough", "LEMLIST_BASE_URL": base, "LEMLIST_RATE_LIMIT": "0", "HOST": "127.0.0.1",
				}
			},
			auth:    basicHeader("", keyAlpha),
			service: "lemlist-graphql",
			secrets: []string{keyAlpha, base64.StdEncoding.EncodeToString([]byte(":" + keyAlpha))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, lemlisttest.Options{})
			hl := &headerLog{}
			front := httptest.NewServer(hl.wrap(fake.Handler()))
			t.Cleanup(front.Close)
			s, rec := startTracedApp(t, tc.env(front.URL+"/api"))

			r := s.post(t, map[string]any{"query": tracedQuery, "operationName": "Recent", "variables": map[string]any{"campaign": variableMarker}},
				tc.auth, header{"traceparent", "00-" + incomingTraceID + "-" + incomingSpanID + "-01"})
			mustOK(t, r)
			spans := endedSpans(t, rec, "POST /graphql")

			byID := map[string]sdktrace.ReadOnlySpan{}
			var server, op sdktrace.ReadOnlySpan
			var upstream []sdktrace.ReadOnlySpan
			for _, sp := range spans {
				byID[sp.SpanContext().SpanID().String()] = sp
				if got := sp.SpanContext().TraceID().String(); got != incomingTraceID {
					t.Errorf("span %q: trace id %s, want the caller's %s", sp.Name(), got, incomingTraceID)
				}
				switch {
				case sp.Name() == "POST /graphql":
					server = sp
				case sp.Name() == "query Recent":
					op = sp
				case strings.HasPrefix(sp.Name(), "lemlist GET "):
					upstream = append(upstream, sp)
				}
			}
			if op == nil {
				t.Fatalf("no operation span among %v", spanNames(spans))
			}
			if v, _ := op.Resource().Set().Value("service.name"); v.AsString() != tc.service {
				t.Errorf("service.name = %q, want %q", v.AsString(), tc.service)
			}
			if got := server.Parent().SpanID().String(); got != incomingSpanID || !server.Parent().IsRemote() {
				t.Errorf("server span's parent = %s (remote %v), want the caller's %s", got, server.Parent().IsRemote(), incomingSpanID)
			}
			if op.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Errorf("operation span's parent is not the server span")
			}
			if v, _ := attrOf(server, "http.response.status_code"); v.AsInt64() != 200 {
				t.Errorf("server span status = %v, want 200", v.Emit())
			}
			for key, want := range map[attribute.Key]string{
				"graphql.operation.name": "Recent",
				"graphql.operation.type": "query",
				"graphql.outcome":        "ok",
			} {
				if v, _ := attrOf(op, key); v.AsString() != want {
					t.Errorf("operation span %s = %q, want %q", key, v.AsString(), want)
				}
			}

			routes := map[string]bool{}
			for _, sp := range upstream {
				// Descends from the operation span, through loader and
				// cache calls that keep their first caller's context.
				p := sp.Parent().SpanID()
				for p != op.SpanContext().SpanID() {
					parent, ok := byID[p.String()]
					if !ok {
						t.Fatalf("upstream span %q does not descend from the operation span", sp.Name())
					}
					p = parent.Parent().SpanID()
				}
				if v, _ := attrOf(sp, "http.response.status_code"); v.AsInt64() != 200 {
					t.Errorf("upstream span %q status = %s, want 200", sp.Name(), v.Emit())
				}
				full, _ := attrOf(sp, "url.full")
				if !strings.HasPrefix(full.AsString(), front.URL+"/api/") || strings.Contains(full.AsString(), "?") {
					t.Errorf("upstream span %q url.full = %q, want a URL below the base without a query", sp.Name(), full.AsString())
				}
				tmpl, _ := attrOf(sp, "url.template")
				routes[tmpl.AsString()] = true
			}
			wantRoutes := map[string]bool{"activities": true, "contacts": true}
			if tc.name == "passthrough" {
				wantRoutes["team"] = true // the key's check (gateway/keycheck.go)
			}
			if diff := cmp.Diff(wantRoutes, routes); diff != "" {
				t.Errorf("upstream routes (-want +got):\n%s", diff)
			}

			tps := hl.all()
			if len(tps) != len(upstream) {
				t.Errorf("%d upstream requests, %d upstream spans", len(tps), len(upstream))
			}
			for _, tp := range tps {
				if !strings.HasPrefix(tp, "00-"+incomingTraceID+"-") {
					t.Errorf("upstream request's traceparent = %q, want the trace %s", tp, incomingTraceID)
				}
			}

			for _, sp := range spans {
				text := spanText(sp)
				for _, secret := range append(tc.secrets, variableMarker, "Basic ", "Bearer ") {
					if strings.Contains(text, secret) {
						t.Errorf("span %q holds %q:\n%s", sp.Name(), secret, text)
					}
				}
			}

			var logged bool
			for _, l := range s.logs.lines(t) {
				if l["msg"] == "request" {
					logged = true
					if l["trace_id"] != incomingTraceID {
						t.Errorf("request log trace_id = %v, want %s", l["trace_id"], incomingTraceID)
					}
				}
			}
			if !logged {
				t.Error("no request log line")
			}
		})
	}
}

// TestTracingRetriesAndErrors checks that a retried upstream call shows as
// one span per attempt, and that an operation's error code is its span's
// status.
func TestTracingRetriesAndErrors(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s, rec := startTracedApp(t, serverEnv(fake))

	fake.FailNext(http.StatusBadGateway, 1)
	mustOK(t, s.post(t, `query Retried { activities(first: 2) { edges { node { id } } } }`))
	spans := endedSpans(t, rec, "POST /graphql")
	var statuses []int64
	for _, sp := range spans {
		if sp.Name() == "lemlist GET activities" {
			v, _ := attrOf(sp, "http.response.status_code")
			statuses = append(statuses, v.AsInt64())
		}
	}
	if diff := cmp.Diff([]int64{502, 200}, statuses); diff != "" {
		t.Errorf("attempts' statuses (-want +got):\n%s", diff)
	}

	r := s.post(t, `query Bad { activities(first: -1) { edges { node { id } } } }`)
	if r.code() == "" {
		t.Fatalf("want an error with a code, got %s", r.Raw)
	}
	for _, sp := range endedSpans(t, rec, "query Bad") {
		if sp.Name() != "query Bad" {
			continue
		}
		if v, _ := attrOf(sp, "graphql.outcome"); v.AsString() != r.code() {
			t.Errorf("graphql.outcome = %q, want %q", v.AsString(), r.code())
		}
		if sp.Status().Code != codes.Error || sp.Status().Description != r.code() {
			t.Errorf("status = %v, want Error %q", sp.Status(), r.code())
		}
		return
	}
	t.Error("no operation span")
}

// TestTracingOff checks that without OTEL_* settings nothing is traced:
// no provider, no wrapped handler or transport, the global provider left
// alone.
func TestTracingOff(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake))
	if s.app.tracing != nil {
		t.Fatal("tracing is on without OTEL_* settings")
	}
	if s.app.tracing.Extension() != nil {
		t.Error("an operation extension without tracing")
	}
	base := http.DefaultTransport
	if got := s.app.tracing.Transport(base); got != base {
		t.Errorf("transport wrapped without tracing: %T", got)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Error("a global SDK tracer provider is installed")
	}
	r := s.post(t, firstFive, header{"traceparent", "00-" + incomingTraceID + "-" + incomingSpanID + "-01"})
	mustOK(t, r)
	for _, l := range s.logs.lines(t) {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("trace_id logged without tracing: %v", l)
		}
	}
}

// TestTracingConfigError checks that an invalid OTEL_* setting
// (tracing.ParseEnv) stops the server with status 2.
func TestTracingConfigError(t *testing.T) {
	t.Parallel()
	// A bad exporter stops the server with status 2.
	_, err := parseConfig(nil, envFunc(map[string]string{"OTEL_TRACES_EXPORTER": "console"}), io.Discard)
	if exitCode(err) != 2 {
		t.Errorf("exit code %d for %v, want 2", exitCode(err), err)
	}
}
