package sdl_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/internal/sdl"
)

// federated is a subgraph schema as gqlgen's federation plugin builds it:
// the plugin's definitions come from built-in sources.
func federated(t *testing.T) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(
		&ast.Source{Name: "federation/directives.graphql", BuiltIn: true, Input: `
			directive @key(fields: String!) repeatable on OBJECT
			directive @shareable on OBJECT | FIELD_DEFINITION
			directive @link(url: String!, import: [String!]) repeatable on SCHEMA
			scalar _Any`},
		&ast.Source{Name: "schema.graphqls", Input: `
			extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
			directive @cost(weight: Int!) on FIELD_DEFINITION
			"A lead."
			type Lead @key(fields: "id") {
			  "Its id."
			  id: ID!
			  old: String @deprecated(reason: "Use email.")
			  score: Int @cost(weight: 2)
			}
			type PageInfo @shareable { hasNextPage: Boolean! }
			enum Kind { A B @deprecated }
			type Query { lead(id: ID!): Lead page: PageInfo }`},
		&ast.Source{Name: "federation/entity.graphql", BuiltIn: true, Input: `
			type _Service { sdl: String }
			extend type Query { _service: _Service! _entities(representations: [_Any!]!): [Lead]! }`},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublic(t *testing.T) {
	t.Parallel()
	got := sdl.Public(federated(t))
	want := `directive @cost(weight: Int!) on FIELD_DEFINITION

enum Kind {
  A
  B @deprecated
}

"""
A lead.
"""
type Lead {
  """
  Its id.
  """
  id: ID!
  old: String @deprecated(reason: "Use email.")
  score: Int @cost(weight: 2)
}

type PageInfo {
  hasNextPage: Boolean!
}

type Query {
  lead(id: ID!): Lead
  page: PageInfo
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Public (-want +got):\n%s", diff)
	}
	// Loaded back and printed again, it is the same text.
	again, err := gqlparser.LoadSchema(&ast.Source{Name: "public.graphql", Input: got})
	if err != nil {
		t.Fatalf("the public schema does not load: %v", err)
	}
	if diff := cmp.Diff(got, sdl.Public(again)); diff != "" {
		t.Errorf("printed twice (-first +second):\n%s", diff)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := sdl.Handler(federated(t))
	get := func(method string, header http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/graphql/schema.graphql", nil)
		for k, v := range header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := get(http.MethodGet, nil)
	if w.Code != http.StatusOK || w.Body.String() != sdl.Public(federated(t)) {
		t.Fatalf("GET: %d %q", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) != 34 {
		t.Fatalf("ETag = %q", etag)
	}
	if w := get(http.MethodGet, http.Header{"If-None-Match": {etag}}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("GET If-None-Match: %d, %d bytes; want 304 and no body", w.Code, w.Body.Len())
	}
	if w := get(http.MethodHead, nil); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
}
