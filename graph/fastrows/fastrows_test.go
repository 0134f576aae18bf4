package fastrows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// fastRowsEnv serves one fake through two servers: gqlgen alone, and with
// the extension.
type fastRowsEnv struct {
	fake        *lemlisttest.Server
	plain, fast http.Handler
	rows        *fastrows.Extension
	schema      *ast.Schema
}

// server is the server's HTTP stack (gateway.New) over up, serving POST
// /graphql as one tenant, with rows (nil: every field is gqlgen's): what
// differs between the two servers of a fastRowsEnv is the extension only.
// The complexity limit is raised: every field of every type, 100 rows,
// costs more than the server's limit allows.
func server(t *testing.T, rows *fastrows.Extension, up upstream.Upstream) http.Handler {
	t.Helper()
	g, err := gateway.New(gateway.Options{
		Auth:           gateway.OpenAuth(&gateway.Tenant{Upstream: up}),
		FastRows:       rows,
		RequestTimeout: 5 * time.Second,
		// The defaults of config.go, but the complexity.
		MaxBodyBytes:     1 << 20,
		ComplexityLimit:  1 << 20,
		DepthLimit:       12,
		ParserTokenLimit: 15000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g.Handler()
}

func newFastRowsEnv(t *testing.T) *fastRowsEnv {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: 3000},
	})
	t.Cleanup(fake.Close)
	counted := lemlist.WithHTTPClient(&http.Client{Transport: gateway.UpstreamTransport(http.DefaultTransport)})
	up := upstream.Client(fake.Tenant(lemlisttest.DefaultTenant).Client(counted,
		lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})))
	e := &fastRowsEnv{fake: fake, rows: fastrows.New(), schema: graph.NewExecutableSchema(graph.Config{}).Schema()}
	e.plain = server(t, nil, up)
	e.fast = server(t, e.rows, up)
	return e
}

func (e *fastRowsEnv) post(t *testing.T, h http.Handler, query string, vars map[string]any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// allFields selects every field of def that takes no argument, objects
// depth levels deep, and every possible type of an interface.
func allFields(s *ast.Schema, def *ast.Definition, depth int) string {
	var b strings.Builder
	b.WriteString("__typename")
	if def.Kind == ast.Interface {
		for _, p := range s.GetPossibleTypes(def) {
			fmt.Fprintf(&b, " ... on %s { %s }", p.Name, allFields(s, p, depth))
		}
		return b.String()
	}
	for _, f := range def.Fields {
		if len(f.Arguments) > 0 || strings.HasPrefix(f.Name, "__") {
			continue
		}
		sub := s.Types[f.Type.Name()]
		switch sub.Kind {
		case ast.Scalar, ast.Enum:
			b.WriteString(" " + f.Name)
		case ast.Object, ast.Interface:
			if depth > 0 {
				fmt.Fprintf(&b, " %s { %s }", f.Name, allFields(s, sub, depth-1))
			}
		}
	}
	return b.String()
}

// TestFastRowsMatchesGqlgen runs queries through gqlgen alone and with
// FastRows: the answers must be the same, byte for byte, and FastRows must
// have written the lists it can.
func TestFastRowsMatchesGqlgen(t *testing.T) {
	e := newFastRowsEnv(t)
	all := allFields(e.schema, e.schema.Types["Activity"], 1)
	tenant := e.fake.Tenant(lemlisttest.DefaultTenant)
	lead, campaign, contact := tenant.Leads()[0], tenant.Campaigns()[0], tenant.Contacts()[0]
	cases := []struct {
		name    string
		query   string
		vars    map[string]any
		written bool // FastRows writes at least one list
	}{
		{"every field, edges and nodes", `{ activities(first: 100) { edges { cursor node { ` + all + ` } } nodes { ` + all + ` } pageInfo { hasNextPage endCursor } } }`, nil, true},
		{"dashboard rows", `query($first: Int!) { activities(first: $first) { edges { cursor node { ...Row } } pageInfo { hasNextPage endCursor } } }
fragment Row on Activity { __typename id type channel createdAt isFirst campaign { id name } lead { id email firstName lastName companyName } user { id } ... on EmailActivity { sequenceStep subject } }`, map[string]any{"first": 20}, true},
		{"aliases and merged fields", `{ activities(first: 50) { nodes { a: id id t: __typename ... on EmailActivity { lead { id } subject } lead { email } l2: lead { firstName id } ... on Activity { campaign { name } } campaign { id } } } }`, nil, true},
		{"skip and include, true", `query($s: Boolean!) { activities(first: 40) { nodes { id lead @skip(if: $s) { id email } ... on EmailActivity @include(if: $s) { subject relatedSentAt } user @include(if: $s) { id name } } } }`, map[string]any{"s": true}, true},
		{"skip and include, false", `query($s: Boolean!) { activities(first: 40) { nodes { id lead @skip(if: $s) { id email } ... on EmailActivity @include(if: $s) { subject relatedSentAt } user @include(if: $s) { id name } } } }`, map[string]any{"s": false}, true},
		{"a resolver field under the rows", `{ activities(first: 10) { nodes { id lead { id campaign { name } activities(first: 2) { edges { cursor node { id type } } } } } } }`, nil, true},
		{"a lead's activities", `query($id: ID!) { lead(id: $id) { id activities(first: 10) { edges { cursor node { ` + all + ` } } pageInfo { hasNextPage } } } }`, map[string]any{"id": lead.ID}, true},
		{"a campaign's activities", `query($id: ID!) { campaign(id: $id) { name activities(first: 30, filter: {type: "emailsOpened"}) { nodes { id createdAt lead { email } } } } }`, map[string]any{"id": campaign.ID}, true},
		{"a contact's activities (merged leads)", `query($id: ID!) { contact(id: $id) { fullName activities(first: 20) { edges { cursor node { __typename id lead { id } } } } } }`, map[string]any{"id": contact.ID}, true},
		{"rare types, every field", `{ activities(first: 50, filter: {types: ["apiDone", "apiFailed", "apiInterested", "annotated", "quantumTeleported", "hologramSent", "deliverable"]}) { nodes { ` + all + ` } } }`, nil, true},
		{"merged types", `{ activities(first: 30, filter: {types: ["emailsSent", "emailsReplied", "linkedinSent"]}) { edges { cursor node { __typename id type createdAt } } } }`, nil, true},
		{"an empty list", `{ activities(first: 5, filter: {type: "noSuchType"}) { edges { cursor node { id } } nodes { id } } }`, nil, true},
		{"last and before", `{ activities(last: 7) { edges { cursor node { id channel } } pageInfo { hasPreviousPage startCursor } } }`, nil, true},
	}
	var answers [][]byte
	for _, tc := range cases {
		before, _ := e.rows.Stats()
		want := e.post(t, e.plain, tc.query, tc.vars)
		got := e.post(t, e.fast, tc.query, tc.vars)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: answers differ\n fast %.2000s\n want %.2000s", tc.name, got, want)
		}
		var top struct{ Errors []any }
		if err := json.Unmarshal(want, &top); err != nil || len(top.Errors) > 0 {
			t.Errorf("%s: %v %v", tc.name, err, top.Errors)
		}
		if written, _ := e.rows.Stats(); tc.written && written == before {
			t.Errorf("%s: FastRows wrote no list", tc.name)
		}
		answers = append(answers, want)
	}
	// The answers must meet every type of activity, or they prove little.
	for _, p := range e.schema.GetPossibleTypes(e.schema.Types["Activity"]) {
		if !bytes.Contains(bytes.Join(answers, nil), []byte(`"__typename":"`+p.Name+`"`)) {
			t.Errorf("no %s among the answers", p.Name)
		}
	}
}

// TestFastRowsLeavesErrorsToGqlgen fails the nested lookups: the lists go
// to gqlgen, which reports each error with its path, as without FastRows.
func TestFastRowsLeavesErrorsToGqlgen(t *testing.T) {
	e := newFastRowsEnv(t)
	query := `{ activities(first: 30) { nodes { id lead { id jobTitle } } } }`
	answer := func(h http.Handler) (data string, errs []string) {
		e.fake.InjectFault(lemlisttest.Fault{Path: "/leads", Status: http.StatusInternalServerError}, 1000)
		defer e.fake.ClearFaults()
		var resp struct {
			Data   json.RawMessage
			Errors []struct {
				Message string
				Path    []any
			}
		}
		if err := json.Unmarshal(e.post(t, h, query, nil), &resp); err != nil {
			t.Fatal(err)
		}
		for _, er := range resp.Errors {
			errs = append(errs, fmt.Sprint(er.Path, er.Message))
		}
		slices.Sort(errs) // rows' goroutines report in any order
		return string(resp.Data), errs
	}
	wantData, wantErrs := answer(e.plain)
	_, declined := e.rows.Stats()
	gotData, gotErrs := answer(e.fast)
	if len(wantErrs) == 0 {
		t.Fatal("the fault caused no error")
	}
	if gotData != wantData || !slices.Equal(gotErrs, wantErrs) {
		t.Errorf("answers differ:\n fast %s %v\n want %s %v", gotData, gotErrs, wantData, wantErrs)
	}
	if _, d := e.rows.Stats(); d == declined {
		t.Error("FastRows did not leave the failing list to gqlgen")
	}
}

// TestFastRowsRandomQueries compares gqlgen alone and with FastRows on
// random selections of activity rows: random fields, aliases, duplicates,
// inline fragments on random types, @skip and @include, nested objects.
func TestFastRowsRandomQueries(t *testing.T) {
	e := newFastRowsEnv(t)
	rnd := rand.New(rand.NewPCG(5, 9))
	alias := 0
	var sel func(def *ast.Definition, depth int) string
	sel = func(def *ast.Definition, depth int) string {
		var parts []string
		if def.Kind == ast.Interface {
			for _, p := range e.schema.GetPossibleTypes(def) {
				if rnd.IntN(3) == 0 {
					parts = append(parts, fmt.Sprintf("... on %s { %s }", p.Name, sel(p, depth)))
				}
			}
		}
		for _, f := range def.Fields {
			if len(f.Arguments) > 0 || strings.HasPrefix(f.Name, "__") || rnd.IntN(3) != 0 {
				continue
			}
			name := f.Name
			if rnd.IntN(4) == 0 {
				alias++
				name = fmt.Sprintf("a%d: %s", alias, f.Name)
			}
			switch rnd.IntN(8) {
			case 0:
				name += " @skip(if: $v)"
			case 1:
				name += " @include(if: $v)"
			}
			if sub := e.schema.Types[f.Type.Name()]; sub.Kind == ast.Object || sub.Kind == ast.Interface {
				if depth == 0 {
					continue
				}
				name += " { " + sel(sub, depth-1) + " }"
			}
			if rnd.IntN(8) == 0 {
				name = "... @include(if: $w) { " + name + " }"
			}
			parts = append(parts, name)
			if rnd.IntN(6) == 0 { // the same field again: merged
				parts = append(parts, name)
			}
		}
		parts = append(parts, "__typename")
		rnd.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		return strings.Join(parts, " ")
	}
	activity := e.schema.Types["Activity"]
	const useVars = " tv: __typename @include(if: $v) tw: __typename @skip(if: $w)"
	for i := range 150 {
		list := fmt.Sprintf("nodes { %s }", sel(activity, 2)+useVars)
		if rnd.IntN(2) == 0 {
			list = fmt.Sprintf("edges { cursor node { %s } }", sel(activity, 2)+useVars)
		}
		query := fmt.Sprintf(`query($v: Boolean!, $w: Boolean!) { activities(first: %d) { %s } }`, 1+rnd.IntN(60), list)
		vars := map[string]any{"v": rnd.IntN(2) == 0, "w": rnd.IntN(2) == 0}
		want := e.post(t, e.plain, query, vars)
		got := e.post(t, e.fast, query, vars)
		if !bytes.Equal(got, want) {
			t.Fatalf("query %d differs: %s %v\n fast %.1500s\n want %.1500s", i, query, vars, got, want)
		}
	}
	written, declined := e.rows.Stats()
	if written < 100 {
		t.Errorf("FastRows wrote %d lists of 150 (declined %d)", written, declined)
	}
	t.Logf("FastRows wrote %d lists, declined %d", written, declined)
}
