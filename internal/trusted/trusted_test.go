package trusted_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/internal/trusted"
)

const (
	relayID   = "5d0bbd7d1c0ebdcc5a5bfe5ecb7a1a43" // an MD5, as relay-compiler's default
	relayText = "query A {\n  name\n}\n"
	apolloOp  = "query B {\n  find(id: 1)\n}"
)

func sha(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// manifests writes a Relay and an Apollo manifest and returns their paths.
func manifests(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	relay, _ := json.Marshal(map[string]string{relayID: relayText})
	apollo, _ := json.Marshal(map[string]any{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]string{{"id": sha(apolloOp), "name": "B", "type": "query", "body": apolloOp}},
	})
	var paths []string
	for name, b := range map[string][]byte{"relay.json": relay, "apollo.json": apollo} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// server is gqlgen's test executor behind trusted.Documents (then, with
// apq, automatic persisted queries), and LiftDocumentID. ran records the
// text of each operation that reached execution.
type server struct {
	h   http.Handler
	mu  sync.Mutex
	ran []string
}

func newServer(t *testing.T, d trusted.Documents, apq bool) *server {
	t.Helper()
	s := &server{}
	ts := testserver.New()
	ts.AddTransport(transport.GET{})
	ts.AddTransport(transport.POST{})
	ts.Use(d)
	if apq {
		ts.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](10)})
	}
	ts.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		s.mu.Lock()
		s.ran = append(s.ran, graphql.GetOperationContext(ctx).RawQuery)
		s.mu.Unlock()
		return next(ctx)
	})
	s.h = trusted.LiftDocumentID(ts)
	return s
}

// result is what a request got: the data, or the first error's code.
type result struct {
	Data string
	Code string
	Ran  string // the text that ran, if any
}

func (s *server) do(t *testing.T, r *http.Request) result {
	t.Helper()
	s.mu.Lock()
	s.ran = nil
	s.mu.Unlock()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	var resp struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	var out result
	if len(resp.Data) > 0 && string(resp.Data) != "null" {
		out.Data = string(resp.Data)
	}
	if len(resp.Errors) > 0 {
		out.Code, _ = resp.Errors[0].Extensions["code"].(string)
		if out.Code == "" {
			out.Code = resp.Errors[0].Message
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ran) > 0 {
		out.Ran = s.ran[0]
	}
	return out
}

func post(body any) *http.Request {
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func get(params url.Values) *http.Request {
	return httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	m, err := trusted.Load(manifests(t)...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
	ok := func(text string) result { return result{Data: `{"name":"test"}`, Ran: text} }
	refused := func(code string) result { return result{Code: code} }
	pq := func(hash string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	}
	for _, apq := range []bool{false, true} {
		s := newServer(t, trusted.Documents{Manifest: m}, apq)
		for _, tc := range []struct {
			name string
			req  *http.Request
			want result
		}{
			{"relay text", post(map[string]any{"query": relayText}), ok(relayText)},
			{"apollo text", post(map[string]any{"query": apolloOp}), ok(apolloOp)},
			{"other text", post(map[string]any{"query": "query C { name }"}), refused(trusted.CodeNotAllowed)},
			{"relay text, reformatted", post(map[string]any{"query": "query A { name }"}), refused(trusted.CodeNotAllowed)},
			{"apollo hash", post(map[string]any{"extensions": pq(sha(apolloOp))}), ok(apolloOp)},
			{"apollo hash and its text", post(map[string]any{"query": apolloOp, "extensions": pq(sha(apolloOp))}), ok(apolloOp)},
			{"apollo hash, other text", post(map[string]any{"query": "query C { name }", "extensions": pq(sha(apolloOp))}), refused(trusted.CodeNotAllowed)},
			{"unknown hash", post(map[string]any{"extensions": pq(sha("query C { name }"))}), refused(trusted.CodeNotFound)},
			{"relay id as a hash", post(map[string]any{"extensions": pq(relayID)}), ok(relayText)},
			{"extensions.documentId", post(map[string]any{"extensions": map[string]any{"documentId": relayID}}), ok(relayText)},
			{"prefixed documentId", post(map[string]any{"extensions": map[string]any{"documentId": "sha256:" + sha(apolloOp)}}), ok(apolloOp)},
			{"relay doc_id", post(map[string]any{"doc_id": relayID, "variables": map[string]any{}}), ok(relayText)},
			{"documentId", post(map[string]any{"documentId": relayID, "extensions": map[string]any{"x": 1}}), ok(relayText)},
			{"unknown doc_id", post(map[string]any{"doc_id": "nope"}), refused(trusted.CodeNotFound)},
			{"doc_id not a string", post(map[string]any{"doc_id": 7}), refused(trusted.CodeNotAllowed)},
			{"GET doc_id", get(url.Values{"doc_id": {relayID}}), ok(relayText)},
			{"GET documentId with extensions", get(url.Values{"documentId": {sha(apolloOp)}, "extensions": {`{"x":1}`}}), ok(apolloOp)},
			{"GET text", get(url.Values{"query": {relayText}}), ok(relayText)},
			{"GET other text", get(url.Values{"query": {"{ name }"}}), refused(trusted.CodeNotAllowed)},
		} {
			if got := s.do(t, tc.req); got != tc.want {
				t.Errorf("apq=%v %s: got %+v, want %+v", apq, tc.name, got, tc.want)
			}
		}
	}
}

func TestDocumentsBypass(t *testing.T) {
	t.Parallel()
	m, err := trusted.Parse([]byte(`{"a": "query A { name }"}`))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{}
	s := newServer(t, trusted.Documents{Manifest: m, Bypass: func(ctx context.Context) bool { return ctx.Value(key{}) != nil }}, false)
	r := post(map[string]any{"query": "{ name }"})
	if got := s.do(t, r); got.Code != trusted.CodeNotAllowed {
		t.Errorf("without bypass: %+v", got)
	}
	r = post(map[string]any{"query": "{ name }"})
	r = r.WithContext(context.WithValue(r.Context(), key{}, true))
	if got := s.do(t, r); got.Ran != "{ name }" {
		t.Errorf("with bypass: %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `[1]`, "not a JSON object"},
		{"relay value", `{"a": 1}`, `"a": the value must be the document's text`},
		{"relay empty", `{"a": " "}`, `document "a" is empty`},
		{"apollo version", `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`, "version 2"},
		{"apollo id", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"name":"X","body":"{ a }"}]}`, "operations[0] (X): a document without id"},
	} {
		_, err := trusted.Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	_ = os.WriteFile(a, []byte(`{"x": "{ a }"}`), 0o644)
	_ = os.WriteFile(b, []byte(`{"x": "{ b }"}`), 0o644)
	if _, err := trusted.Load(a, b); err == nil || !strings.Contains(err.Error(), `id "x" names two different documents`) {
		t.Errorf("conflicting files: %v", err)
	}
	if m, err := trusted.Load(a, a); err != nil || m.Len() != 1 {
		t.Errorf("the same file twice: %v, %v", m, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `type Query { name: String! find(id: Int!): String! }`})
	m, err := trusted.Parse([]byte(`{"ok": "query A { name }", "gone": "query G { gone }", "bad": "query {"}`))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Check(schema)
	if err == nil {
		t.Fatal("Check passed a manifest with a field the schema lacks")
	}
	var docs []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if id, _, ok := strings.Cut(strings.TrimPrefix(line, "trusted documents do not match the schema: "), ":"); ok && strings.HasPrefix(id, "document ") {
			docs = append(docs, id)
		}
	}
	if diff := cmp.Diff([]string{"document bad", "document gone"}, docs); diff != "" {
		t.Errorf("documents named (-want +got):\n%s\nin %v", diff, err)
	}
	good, _ := trusted.Parse([]byte(`{"ok": "query A { name find(id: 2) }"}`))
	if err := good.Check(schema); err != nil {
		t.Errorf("Check: %v", err)
	}
}
