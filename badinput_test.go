package main

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// TestMalformedRequests sends malformed requests through the whole server
// (authentication, body limit, transports, limits, resolvers) in server
// mode. Each must get its 4xx, or a GraphQL error with its code: never a
// 5xx, never a panic, never an upstream call. The server keeps serving.
func TestMalformedRequests(t *testing.T) {
	fake := newFake(t, lemlisttest.Options{})
	s := startApp(t, serverEnv(fake, "GRAPHQL_TOKENS", "tok-1", "MAX_BODY_BYTES", "65536"))
	auth := bearerHeader("tok-1")
	jsonCT := header{"Content-Type", "application/json"}
	const page = `query($first: Int, $last: Int, $after: String, $before: String, $filter: ActivityFilter) {
  activities(first: $first, last: $last, after: $after, before: $before, filter: $filter) { nodes { id } pageInfo { endCursor } }
}`
	gql := func(query string, vars map[string]any) string {
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// pairs makes a map of key, value, key, value…
	pairs := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	pageVars := func(kv ...any) string { return gql(page, pairs(kv...)) }
	filter := func(kv ...any) string { return pageVars("first", 5, "filter", pairs(kv...)) }
	// A real cursor for one filter, to be replayed with another.
	r := s.post(t, map[string]any{"query": page, "variables": map[string]any{"first": 2, "filter": map[string]any{"type": "emailsSent"}}}, auth)
	mustOK(t, r)
	var cur struct {
		Activities struct{ PageInfo struct{ EndCursor string } }
	}
	if err := json.Unmarshal(r.Data, &cur); err != nil || cur.Activities.PageInfo.EndCursor == "" {
		t.Fatalf("no cursor: %v %s", err, r.Raw)
	}
	otherFilter := cur.Activities.PageInfo.EndCursor
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"o":-5}`))
	flipped := []byte(otherFilter)
	flipped[3] ^= 1 // still base64, no longer the cursor

	deep := "{ activities { nodes { " + strings.Repeat("... on EmailActivity { lead { activities { nodes { ", 4) +
		"id" + strings.Repeat(" } } } }", 4) + " } } }"
	var bomb strings.Builder
	bomb.WriteString("query { activities(first: 1) { nodes { ...F0 } } }\n")
	for i := range 20 {
		fmt.Fprintf(&bomb, "fragment F%d on Activity { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	bomb.WriteString("fragment F20 on Activity { id }\n")

	const (
		badRequest = "BAD_REQUEST"
		badInput   = "BAD_USER_INPUT"
		parse      = "GRAPHQL_PARSE_FAILED"
		validation = "GRAPHQL_VALIDATION_FAILED"
	)
	cases := []struct {
		name    string
		method  string // POST unless set
		path    string // /graphql unless set
		headers []header
		body    string
		status  int
		code    string // a code among the errors; "" for an answer that is not GraphQL
	}{
		// The HTTP request itself.
		{name: "no Content-Type", headers: []header{auth}, body: gql("{ __typename }", nil), status: 415, code: badRequest},
		{name: "text/plain", headers: []header{auth, {"Content-Type", "text/plain"}}, body: gql("{ __typename }", nil), status: 415, code: badRequest},
		{name: "form body", headers: []header{auth, {"Content-Type", "application/x-www-form-urlencoded"}}, body: "query=%7B__typename%7D", status: 415, code: badRequest},
		{name: "multipart", headers: []header{auth, {"Content-Type", "multipart/form-data; boundary=x"}}, body: "--x--", status: 415, code: badRequest},
		{name: "bad Content-Type", headers: []header{auth, {"Content-Type", ";;;"}}, body: gql("{ __typename }", nil), status: 400, code: badRequest},
		{name: "PUT", method: http.MethodPut, body: gql("{ __typename }", nil), status: 405},
		{name: "DELETE", method: http.MethodDelete, status: 405},
		{name: "PATCH", method: http.MethodPatch, body: gql("{ __typename }", nil), status: 405},
		{name: "GET without query", method: http.MethodGet, status: 400, code: validation},
		{name: "GET parse error", method: http.MethodGet, path: "/graphql?query=%7B", status: 200, code: parse},
		{name: "GET bad variables", method: http.MethodGet, path: "/graphql?query=%7B__typename%7D&variables=%5B", status: 400, code: badRequest},
		{name: "GET subscription", method: http.MethodGet, path: "/graphql?query=subscription%7BactivityAdded%7Bid%7D%7D", status: 405, code: badRequest},
		{name: "huge body", body: `{"query":"{ __typename }","x":"` + strings.Repeat("a", 70_000) + `"}`, status: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "no token", headers: []header{jsonCT}, body: gql("{ __typename }", nil), status: 401, code: "UNAUTHENTICATED"},
		{name: "wrong token", headers: []header{jsonCT, bearerHeader("tok-2")}, body: gql("{ __typename }", nil), status: 401, code: "UNAUTHENTICATED"},
		{name: "garbled Authorization", headers: []header{jsonCT, {"Authorization", "Bearer"}}, body: gql("{ __typename }", nil), status: 401, code: "UNAUTHENTICATED"},
		// The JSON body.
		{name: "empty body", body: "", status: 400, code: badRequest},
		{name: "truncated JSON", body: `{"query":"{ __typename }"`, status: 400, code: badRequest},
		{name: "not JSON", body: `query { __typename }`, status: 400, code: badRequest},
		{name: "JSON array (batch)", body: `[{"query":"{ __typename }"}]`, status: 400, code: badRequest},
		{name: "JSON null", body: `null`, status: 400},
		{name: "JSON string", body: `"{ __typename }"`, status: 400, code: badRequest},
		{name: "query a number", body: `{"query":1}`, status: 400, code: badRequest},
		{name: "query null", body: `{"query":null}`, status: 400, code: validation},
		{name: "no query", body: `{"qeury":"{ __typename }"}`, status: 400, code: validation},
		{name: "variables an array", body: `{"query":"{ __typename }","variables":[]}`, status: 400, code: badRequest},
		{name: "variables a string", body: `{"query":"{ __typename }","variables":"{}"}`, status: 400, code: badRequest},
		{name: "operationName a number", body: `{"query":"{ __typename }","operationName":1}`, status: 400, code: badRequest},
		{name: "extensions a string", body: `{"query":"{ __typename }","extensions":"x"}`, status: 400, code: badRequest},
		{name: "invalid UTF-8", body: "{\"query\":\"{ activities(filter: {type: \\\"\xff\xfe\\\"}) { nodes { id } } }\"}", status: 200, code: badInput},
		// The document.
		{name: "syntax error", body: gql("{ activities(first: ", nil), status: 200, code: parse},
		{name: "unknown field", body: gql("{ activities { nodes { id nope } } }", nil), status: 200, code: validation},
		{name: "unknown argument", body: gql("{ activities(size: 5) { nodes { id } } }", nil), status: 200, code: validation},
		{name: "unknown type condition", body: gql("{ activities { nodes { ... on FaxActivity { id } } } }", nil), status: 200, code: validation},
		{name: "scalar with selection", body: gql("{ activities { nodes { id { x } } } }", nil), status: 200, code: validation},
		{name: "object without selection", body: gql("{ activities }", nil), status: 200, code: validation},
		{name: "unknown operation name", body: `{"query":"query A { __typename }","operationName":"B"}`, status: 200, code: validation},
		{name: "two operations, no name", body: gql("query A { __typename } query B { __typename }", nil), status: 200, code: validation},
		{name: "mutation", body: gql("mutation { x }", nil), status: 200, code: validation},
		{name: "too deep", body: gql(deep, nil), status: 200, code: "DEPTH_LIMIT_EXCEEDED"},
		{name: "fragment bomb", body: gql(bomb.String(), nil), status: 200, code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "too costly", body: gql("{ activities(first: 500) { nodes { lead { activities(first: 500) { nodes { id } } } } } }", nil), status: 200, code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "too many tokens", body: gql("{ "+strings.Repeat("a ", 16000)+"}", nil), status: 200, code: parse},
		{name: "introspection off", body: gql("{ __schema { types { name } } }", nil), status: 200, code: "FORBIDDEN"},
		{name: "__type off", body: gql(`{ __type(name: "Activity") { name } }`, nil), status: 200, code: "FORBIDDEN"},
		{name: "unknown persisted query", body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"0000000000000000000000000000000000000000000000000000000000000000"}}}`, status: 200, code: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "persisted query hash mismatch", body: `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, status: 200, code: badRequest},
		// Variables.
		{name: "missing required variable", body: gql("query($n: Int!) { activities(first: $n) { nodes { id } } }", nil), status: 200, code: validation},
		{name: "string for Int", body: pageVars("first", "ten"), status: 200, code: validation},
		{name: "float for Int", body: pageVars("first", 1.5), status: 200, code: validation},
		{name: "Int overflow", body: pageVars("first", int64(1)<<40), status: 200, code: badInput},
		{name: "unknown filter field", body: filter("colour", "red"), status: 200, code: validation},
		{name: "unknown enum value", body: filter("channel", "FAX"), status: 200, code: validation},
		{name: "enum as a string literal", body: gql(`{ activities(filter: {channel: "EMAIL"}) { nodes { id } } }`, nil), status: 200, code: validation},
		// Paging arguments.
		{name: "negative first", body: pageVars("first", -1), status: 200, code: badInput},
		{name: "negative last", body: pageVars("last", -5), status: 200, code: badInput},
		{name: "first and last", body: pageVars("first", 5, "last", 5), status: 200, code: badInput},
		{name: "first over the cap", body: pageVars("first", 501), status: 200, code: badInput},
		{name: "huge last", body: pageVars("last", 1<<31-1), status: 200, code: badInput},
		{name: "garbled cursor", body: pageVars("first", 5, "after", "garbage!"), status: 200, code: badInput},
		{name: "empty cursor", body: pageVars("last", 5, "before", ""), status: 200, code: badInput},
		{name: "forged cursor", body: pageVars("first", 5, "after", forged), status: 200, code: badInput},
		{name: "other filter's cursor", body: pageVars("first", 5, "after", otherFilter), status: 200, code: badInput},
		{name: "cursor with a flipped byte", body: pageVars("first", 5, "after", string(flipped)), status: 200, code: badInput},
		// Filters.
		{name: "bad date", body: filter("minDate", "yesterday"), status: 200, code: badInput},
		{name: "month 13", body: filter("minDate", "2026-13-01"), status: 200, code: badInput},
		{name: "negative timestamp", body: filter("minDate", -5), status: 200, code: badInput},
		{name: "fractional timestamp", body: filter("maxDate", 1.5), status: 200, code: badInput},
		{name: "maxDate before minDate", body: filter("minDate", "2026-05-02", "maxDate", "2026-05-01"), status: 200, code: badInput},
		{name: "maxDate equals minDate", body: filter("minDate", "2026-05-01T00:00:00Z", "maxDate", "2026-05-01T00:00:00Z"), status: 200, code: badInput},
		{name: "type with query characters", body: filter("type", "emailsSent&limit=100"), status: 200, code: badInput},
		{name: "type and types", body: filter("type", "emailsSent", "types", []string{"emailsOpened"}), status: 200, code: badInput},
		{name: "too many types", body: filter("types", slices.Repeat([]string{"emailsSent", "emailsOpened", "emailsClicked"}, 7)), status: 200, code: badInput},
		{name: "channel OTHER", body: filter("channel", "OTHER"), status: 200, code: badInput},
		{name: "path in campaign id", body: filter("campaignId", "cam/../x"), status: 200, code: badInput},
		{name: "path in lead id", body: gql(`{ lead(id: "lea_../../x") { id } }`, nil), status: 200, code: badInput},
	}
	if len(cases) < 50 {
		t.Fatalf("%d cases, the issue asks for at least 50", len(cases))
	}
	fake.ResetRequests()
	for _, tc := range cases {
		method, path := cmp.Or(tc.method, http.MethodPost), cmp.Or(tc.path, "/graphql")
		hs := tc.headers
		if hs == nil {
			hs = []header{auth, jsonCT}
		}
		var resp *gqlResponse
		if tc.body == "" && method != http.MethodPost {
			resp = s.do(t, method, path, nil, hs...)
		} else {
			resp = s.do(t, method, path, strings.NewReader(tc.body), hs...)
		}
		if resp.Status >= 500 || resp.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %.300s", tc.name, resp.Status, tc.status, resp.Raw)
		}
		if tc.code != "" && !slices.Contains(resp.codes(), tc.code) {
			t.Errorf("%s: codes %v, want %s: %.300s", tc.name, resp.codes(), tc.code, resp.Raw)
		}
		if slices.Contains(resp.codes(), "INTERNAL") {
			t.Errorf("%s: INTERNAL for a bad request: %.300s", tc.name, resp.Raw)
		}
		if resp.Status == http.StatusOK && len(resp.Errors) == 0 {
			t.Errorf("%s: 200 without errors: %.300s", tc.name, resp.Raw)
		}
		if n := fake.Requests(); len(n) != 0 {
			t.Fatalf("%s: reached the upstream: %v", tc.name, n)
		}
	}
	if strings.Contains(s.logs.String(), "panic") {
		t.Errorf("a request panicked:\n%s", s.logs.String())
	}
	mustOK(t, s.post(t, "{ activities(first: 3) { nodes { id } } }", auth))
}
