package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBreadthLimit checks that documents whose validation is quadratic in
// their breadth are refused before gqlgen validates them, with the code
// BREADTH_LIMIT_EXCEEDED, and that documents up to the bounds run.
func TestBreadthLimit(t *testing.T) {
	t.Parallel()
	g, err := New(Options{Auth: OpenAuth(&Tenant{}), RequestTimeout: 10 * time.Second, MaxBodyBytes: 1 << 20, ParserTokenLimit: 15000})
	if err != nil {
		t.Fatal(err)
	}
	repeat := func(s string, n int) string { return strings.Repeat(s+" ", n) }
	nested := "{ " + repeat("a: __typename ... on Query { a: __typename }", 3) + "}"
	for _, tc := range []struct {
		name, query string
		message     string // a prefix of the refusal's; "" for a document that runs
	}{
		{"4,900 aliases of one name", "{ " + repeat("a: __typename", 4900) + "}", "a selection set has more than 100 fields named \"a\""},
		{"101 aliases of one name", "{ " + repeat("a: __typename", 101) + "}", "a selection set has more than 100 fields named \"a\""},
		{"100 aliases of one name", "{ " + repeat("a: __typename", 100) + "}", ""},
		{"4,900 distinct aliases", "{ " + strings.Join(aliases(4900), " ") + "}", ""},
		{"inline fragments count in", "{ " + repeat("... on Query { a: __typename }", 101) + "}", "a selection set has more than 100 fields named \"a\""},
		{"the same field beside inline fragments", nested, ""},
		{"2,000 spreads", "{ " + repeat("...F", 2000) + "} fragment F on Query { __typename }", "a selection set spreads 2000 fragments; at most 100"},
		{"100 spreads", "{ " + repeat("...F", 100) + "} fragment F on Query { __typename }", ""},
		{"repeats across selection sets", "{ " + repeat("a: activities(first: 1) { pageInfo { "+repeat("x: hasNextPage", 60)+"} }", 20) + "}",
			"the document repeats a response name in its selection sets more than 1000 times"},
	} {
		body, _ := json.Marshal(map[string]string{"query": tc.query})
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", mediaJSON)
		w := httptest.NewRecorder()
		g.Handler().ServeHTTP(w, r)
		var resp struct {
			Data   map[string]any
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: %v in %.300s", tc.name, err, w.Body)
		}
		if tc.message == "" {
			if len(resp.Errors) != 0 || resp.Data["__typename"] != "Query" && resp.Data["a"] != "Query" && resp.Data["a0"] != "Query" {
				t.Errorf("%s: %d %.300s; want it to run", tc.name, w.Code, w.Body)
			}
			continue
		}
		if len(resp.Errors) != 1 || resp.Data != nil || resp.Errors[0].Extensions["code"] != "BREADTH_LIMIT_EXCEEDED" ||
			!strings.HasPrefix(resp.Errors[0].Message, tc.message) {
			t.Errorf("%s: %d %.300s; want BREADTH_LIMIT_EXCEEDED %q…", tc.name, w.Code, w.Body, tc.message)
		}
	}
}

// aliases returns n distinct aliases of __typename: a0 … a<n-1>.
func aliases(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "a" + strconv.Itoa(i) + ": __typename"
	}
	return out
}
