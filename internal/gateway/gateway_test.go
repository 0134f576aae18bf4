package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/internal/tracing"
	"github.com/lemlist-graphql/server/internal/trusted"
)

// TestOrder pins the order of the /graphql middleware, of the executor's
// transports and of its extensions, with every optional step on and off.
// A change here changes what a request meets first: check the reasons in
// steps, transports and extensions before updating the lists.
func TestOrder(t *testing.T) {
	t.Parallel()
	tr, err := tracing.New(tracing.Config{Enabled: true, ServiceName: "test", SpanProcessor: tracetest.NewSpanRecorder()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Shutdown)
	minimal := Options{Auth: OpenAuth(&Tenant{}), RequestTimeout: time.Second, MaxBodyBytes: 1 << 10}
	full := minimal
	full.Tracing = tr
	full.FastRows = fastrows.New()
	full.Introspection = true
	full.ComplexityLimit, full.DepthLimit, full.MaxUpstreamCalls = 100, 5, 1000
	allowlist := minimal
	manifest, err := trusted.Parse([]byte(`{"q1": "{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	allowlist.TrustedDocuments = manifest

	steps := []string{"trace", "observe", "check host", "cors", "limit body", "authenticate", "deadline"}
	transports := []string{"transport.Websocket", "transport.Options", "gateway.getTransport", "gateway.sseTransport", "gateway.postTransport", "gateway.unsupportedTransport"}
	for _, tc := range []struct {
		name       string
		o          Options
		steps      []string
		extensions []string
	}{
		{"minimal", minimal, steps, []string{"ServiceSDL", "AutomaticPersistedQuery", "BreadthLimit", "Tenant", "Outcome", "LiveSubscriptions"}},
		{"full", full, steps, []string{"OpenTelemetry", "Introspection", "ServiceSDL", "AutomaticPersistedQuery", "BreadthLimit", "ShapeLimit", "ComplexityLimit",
			"UpstreamBudget", "Tenant", "FastRows", "Outcome", "LiveSubscriptions"}},
		{"trusted documents", allowlist, append(slices.Clone(steps), "document id"),
			[]string{"ServiceSDL", "TrustedDocuments", "BreadthLimit", "Tenant", "Outcome", "LiveSubscriptions"}},
	} {
		g, err := New(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range g.steps() {
			got = append(got, s.name)
		}
		if diff := cmp.Diff(tc.steps, got); diff != "" {
			t.Errorf("%s: middleware (-want +got):\n%s", tc.name, diff)
		}
		got = nil
		for _, tr := range g.transports() {
			got = append(got, fmt.Sprintf("%T", tr))
		}
		if diff := cmp.Diff(transports, got); diff != "" {
			t.Errorf("%s: transports (-want +got):\n%s", tc.name, diff)
		}
		got = nil
		for _, ext := range g.extensions() {
			got = append(got, ext.ExtensionName())
		}
		if diff := cmp.Diff(tc.extensions, got); diff != "" {
			t.Errorf("%s: extensions (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestNewRequires checks that New refuses options without an
// authenticator, a request deadline or a body limit.
func TestNewRequires(t *testing.T) {
	t.Parallel()
	ok := Options{Auth: OpenAuth(&Tenant{}), RequestTimeout: time.Second, MaxBodyBytes: 1 << 10}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, o := range map[string]func(*Options){
		"no Auth":           func(o *Options) { o.Auth = nil },
		"no RequestTimeout": func(o *Options) { o.RequestTimeout = 0 },
		"no MaxBodyBytes":   func(o *Options) { o.MaxBodyBytes = 0 },
	} {
		bad := ok
		o(&bad)
		if _, err := New(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestChain checks that chain makes the first step the outermost: a
// request meets the steps in the order of the list.
func TestChain(t *testing.T) {
	t.Parallel()
	var met []string
	mark := func(name string) step {
		return step{name, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				met = append(met, name)
				next.ServeHTTP(w, r)
			})
		}}
	}
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { met = append(met, "executor") }),
		[]step{mark("a"), mark("b"), mark("c")})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if diff := cmp.Diff([]string{"a", "b", "c", "executor"}, met); diff != "" {
		t.Errorf("order met (-want +got):\n%s", diff)
	}
}
