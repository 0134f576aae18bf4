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
	"time"

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
	unreadable        // a body or query string that does not decode: 400, BAD_REQUEST
	notQuery          // a GET of a mutation: 405, BAD_REQUEST
)

// TestTransports sends the same requests to gqlgen's test server over
// gqlgen's POST and GET transports and over this package's. Answers to
// operations that ran must be the same byte for byte. Answers to requests
// that failed before execution must have gqlgen's content type and errors,
// without "data", and the status the GraphQL over HTTP spec asks for; the
// errors the transports make themselves also have the code BAD_REQUEST.
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
		{"POST", ``, unreadable},
		{"POST", `{`, unreadable},
		{"POST", `[]`, unreadable},
		{"POST", `{"query":1}`, unreadable},
		{"POST", `{"query":"{ name }","variables":"<&>"}`, unreadable},
		{"GET", `query={name}`, ran},
		{"GET", `query=query Q {name}&operationName=Q&variables={}`, ran},
		{"GET", `query={name}&operationName=Nope`, wellFormed},
		{"GET", `query={nope}`, wellFormed},
		{"GET", `query={`, wellFormed},
		{"GET", `extensions=` + url.QueryEscape(unknownHash), wellFormed},
		{"GET", ``, malformed},
		{"GET", `query={name}&variables=[`, unreadable},
		{"GET", `query={name}&extensions=x`, unreadable},
		{"GET", `query=%zz`, unreadable},
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
			case tc.kind == malformed || tc.kind == unreadable || ct == mediaGraphQLResponse:
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
			if tc.kind == unreadable || tc.kind == notQuery {
				for _, e := range wantBody["errors"].([]any) {
					e.(map[string]any)["extensions"] = map[string]any{"code": "BAD_REQUEST"}
				}
			}
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

// TestBadRequestsHaveACode sends requests that are not GraphQL requests
// through the gateway, its error presenter included: each gets its status
// (a 4xx, or 200 for a well-formed request with application/json) and one
// error with the code BAD_REQUEST and a message saying what is wrong,
// never INTERNAL.
func TestBadRequestsHaveACode(t *testing.T) {
	t.Parallel()
	g, err := New(Options{Auth: OpenAuth(&Tenant{}), RequestTimeout: time.Second, MaxBodyBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	const notDecoded = "json request body could not be decoded: "
	for _, tc := range []struct {
		name, method, contentType, accept, body string
		status                                  int
		message                                 string // a prefix of the error's message
		wantCT                                  string // the answer's Content-Type
	}{
		{"not JSON", "POST", mediaJSON, "", "not json", 400, notDecoded, mediaJSON},
		{"not JSON, graphql-response+json", "POST", mediaJSON, mediaGraphQLResponse, "not json", 400, notDecoded, mediaGraphQLResponse},
		{"JSON array", "POST", mediaJSON, "", `[{"query":"{ __typename }"}]`, 400, notDecoded + "json: cannot unmarshal array", mediaJSON},
		{"truncated JSON", "POST", mediaJSON, "", `{"query":"{ __typename }"`, 400, notDecoded + "unexpected EOF", mediaJSON},
		{"empty body", "POST", mediaJSON, "", "", 400, notDecoded + "EOF", mediaJSON},
		{"query a number", "POST", mediaJSON, "", `{"query":1}`, 400, notDecoded, mediaJSON},
		{"form", "POST", "application/x-www-form-urlencoded", "", "query=%7B__typename%7D", 415, `unsupported Content-Type "application/x-www-form-urlencoded": send application/json`, mediaJSON},
		{"multipart", "POST", "multipart/form-data; boundary=x", "", "--x--", 415, `unsupported Content-Type "multipart/form-data; boundary=x"`, mediaJSON},
		{"text/plain", "POST", "text/plain", mediaGraphQLResponse, `{"query":"{ __typename }"}`, 415, `unsupported Content-Type "text/plain"`, mediaGraphQLResponse},
		{"no Content-Type", "POST", "", "", `{"query":"{ __typename }"}`, 415, "no Content-Type: send application/json", mediaJSON},
		{"garbled Content-Type", "POST", ";;;", "", `{"query":"{ __typename }"}`, 400, `invalid Content-Type ";;;"`, mediaJSON},
		{"not JSON over SSE", "POST", mediaJSON, "text/event-stream", "not json", 400, notDecoded, mediaJSON},
		{"GET of a subscription", "GET", "", "", "query=subscription%7BactivityAdded%7Bid%7D%7D", 405, "GET requests only allow query operations", mediaJSON},
		{"APQ hash mismatch", "POST", mediaJSON, "", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, 200, "provided APQ hash does not match query", mediaJSON},
		{"APQ version 2", "POST", mediaJSON, mediaGraphQLResponse, `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"00"}}}`, 400, "unsupported APQ version", mediaGraphQLResponse},
		{"GET with bad variables", "GET", "", "", "query=%7B__typename%7D&variables=%5B", 400, "variables could not be decoded", mediaJSON},
	} {
		var r *http.Request
		if tc.method == http.MethodGet {
			r = httptest.NewRequest(http.MethodGet, "/graphql?"+tc.body, nil)
		} else {
			r = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
		}
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		g.Handler().ServeHTTP(w, r)
		var body struct {
			Data   *json.RawMessage `json:"data"`
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s: %v in %d %s", tc.name, err, w.Code, w.Body)
			continue
		}
		if w.Code != tc.status || len(body.Errors) != 1 || body.Data != nil {
			t.Errorf("%s: %d %s; want %d and one error, no data", tc.name, w.Code, w.Body, tc.status)
			continue
		}
		e := body.Errors[0]
		if e.Extensions["code"] != "BAD_REQUEST" || !strings.HasPrefix(e.Message, tc.message) {
			t.Errorf("%s: %q (code %v); want %q… with code BAD_REQUEST", tc.name, e.Message, e.Extensions["code"], tc.message)
		}
		if ct := w.Header().Get("Content-Type"); ct != tc.wantCT {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, ct, tc.wantCT)
		}
		if a := w.Header().Get("Accept"); w.Code == http.StatusUnsupportedMediaType && a != mediaJSON {
			t.Errorf("%s: 415 with Accept %q, want %q", tc.name, a, mediaJSON)
		}
	}
}
