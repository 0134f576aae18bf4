package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Kinds of requests in TestTransports.
const (
	ran        = iota // executed: the same answer as gqlgen's, byte for byte
	wellFormed        // a request error in a well-formed request
	malformed         // a request error in a request that is not one
	notQuery          // a GET of a mutation: 405
)

// TestTransports sends the same requests to gqlgen's test server over
// gqlgen's POST and GET transports and over this package's. Answers to
// operations that ran must be the same byte for byte. Answers to requests
// that failed before execution must have gqlgen's content type and errors,
// without "data", and the status the GraphQL over HTTP spec asks for.
func TestTransports(t *testing.T) {
	serve := func(trs ...graphql.Transport) http.Handler {
		srv := testserver.New()
		for _, tr := range trs {
			srv.AddTransport(tr)
		}
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](10)})
		return srv
	}
	theirs, ours := serve(transport.GET{}, transport.POST{}), serve(getTransport{}, postTransport{})
	type request struct {
		method, body string // the body of a POST, the query string of a GET
		kind         int
	}
	const unknownHash = `{"persistedQuery":{"version":1,"sha256Hash":"0000000000000000000000000000000000000000000000000000000000000000"}}`
	reqs := []request{
		{"POST", `{"query":"{ name }"}`, ran},
		{"POST", `{"query":"query Q { name }","operationName":"Q","variables":{}}`, ran},
		{"POST", `{"query":"mutation { name }"}`, ran}, // the test server answers with an error
		{"POST", `{"query":"{ name }","operationName":"Nope"}`, wellFormed},
		{"POST", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`, wellFormed},
		{"POST", `{"query":"{ nope }"}`, wellFormed},
		{"POST", `{"query":"{"}`, wellFormed},
		{"POST", `{"query":"{ name }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, wellFormed},
		{"POST", `{"extensions":` + unknownHash + `}`, wellFormed},
		{"POST", `{}`, malformed},
		{"POST", ``, malformed},
		{"POST", `{`, malformed},
		{"POST", `[]`, malformed},
		{"POST", `{"query":1}`, malformed},
		{"POST", `{"query":"{ name }","variables":"<&>"}`, malformed},
		{"GET", `query={name}`, ran},
		{"GET", `query=query Q {name}&operationName=Q&variables={}`, ran},
		{"GET", `query={name}&operationName=Nope`, wellFormed},
		{"GET", `query={nope}`, wellFormed},
		{"GET", `query={`, wellFormed},
		{"GET", `extensions=` + url.QueryEscape(unknownHash), wellFormed},
		{"GET", ``, malformed},
		{"GET", `query={name}&variables=[`, malformed},
		{"GET", `query={name}&extensions=x`, malformed},
		{"GET", `query=%zz`, malformed},
		{"GET", `query=mutation{name}`, notQuery},
	}
	accepts := []string{"", "application/json", "application/graphql-response+json", "*/*", "application/*",
		"text/html", "application/graphql-response+json, application/json;q=0.9", "text/html, application/json", ";;;"}
	for _, tc := range reqs {
		for _, accept := range accepts {
			send := func(h http.Handler) *httptest.ResponseRecorder {
				var r *http.Request
				if tc.method == http.MethodGet {
					u := "/graphql?" + strings.NewReplacer(" ", "%20", "{", "%7B", "}", "%7D", "$", "%24").Replace(tc.body)
					r = httptest.NewRequest(http.MethodGet, u, nil)
				} else {
					r = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
					r.Header.Set("Content-Type", "application/json")
				}
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			want, got := send(theirs), send(ours)
			what := fmt.Sprintf("%s %q, Accept %q", tc.method, tc.body, accept)
			// gqlgen's GET sets none on a query string it cannot parse.
			ct := got.Header().Get("Content-Type")
			if wantCT := want.Header().Get("Content-Type"); ct != wantCT && (wantCT != "" || ct != responseContentType(accept)) {
				t.Errorf("%s: Content-Type %q, gqlgen %q", what, ct, want.Header().Get("Content-Type"))
			}
			if tc.kind == ran {
				if got.Code != want.Code || got.Body.String() != want.Body.String() {
					t.Errorf("%s:\n ours   %d %s\n gqlgen %d %s", what, got.Code, got.Body, want.Code, want.Body)
				}
				continue
			}
			wantCode := http.StatusOK
			switch {
			case tc.kind == notQuery:
				wantCode = http.StatusMethodNotAllowed
				if a := got.Header().Get("Allow"); a != http.MethodPost {
					t.Errorf("%s: Allow %q", what, a)
				}
			case tc.kind == malformed || ct == mediaGraphQLResponse:
				wantCode = http.StatusBadRequest
			}
			var gotBody, wantBody map[string]any
			if err := json.Unmarshal(got.Body.Bytes(), &gotBody); err != nil {
				t.Fatalf("%s: %v in %s", what, err, got.Body)
			}
			if err := json.Unmarshal(want.Body.Bytes(), &wantBody); err != nil {
				t.Fatal(err)
			}
			delete(wantBody, "data")
			if got.Code != wantCode || !reflect.DeepEqual(gotBody, wantBody) || wantBody["errors"] == nil {
				t.Errorf("%s:\n ours   %d %s\n want   %d %v (gqlgen: %d %s)", what,
					got.Code, got.Body, wantCode, wantBody, want.Code, want.Body)
			}
		}
	}
}

// TestWriteResponse checks writeResponse against json.Marshal for every
// member of graphql.Response, and that it copies the data as it is.
func TestWriteResponse(t *testing.T) {
	yes := true
	for _, resp := range []*graphql.Response{
		{},
		{Data: json.RawMessage(`{"a":1}`)},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "boom <&>", Path: ast.Path{ast.PathName("a"), ast.PathIndex(0)}, Extensions: map[string]any{"code": "X", "data": 0}}}},
		{Data: json.RawMessage(`{"b":[true]}`), Label: "l", Path: ast.Path{ast.PathName("a")}, HasNext: &yes, Extensions: map[string]any{"k": []int{1}}},
		{Errors: gqlerror.List{{Message: "only errors"}}},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		writeResponse(&got, resp)
		if got.String() != string(want) {
			t.Errorf("writeResponse\n got %s\nwant %s", got.String(), want)
		}
	}
	var got strings.Builder
	writeResponse(&got, &graphql.Response{Data: json.RawMessage(`{"s":"a<b&c>"}`)})
	if got.String() != `{"data":{"s":"a<b&c>"}}` {
		t.Errorf("data not copied as it is: %s", got.String())
	}
}
