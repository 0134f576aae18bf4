package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// newNodeEnv is newEnv with a second team ("other") in the fake, whose ids
// the server's key must not see. It also returns the default team's
// upstream.
func newNodeEnv(t *testing.T) (e *env, other *lemlisttest.Tenant, up upstream.Upstream) {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: 300},
		Tenants: []lemlisttest.TenantOptions{{
			Name: "other", APIKey: "other-key",
			Dataset: lemlisttest.DatasetOptions{Seed: 8, Activities: 300},
		}},
	})
	t.Cleanup(fake.Close)
	tenant := fake.Tenant(lemlisttest.DefaultTenant)
	up = upstream.Client(tenant.Client(counted(nil), lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})))
	h := graphServer(t, stackOptions{up: up, rows: fastrows.New(), deadline: 5 * time.Second})
	return &env{c: client.New(h, client.Path("/graphql")), fake: fake, t: tenant}, fake.Tenant("other"), up
}

// nodeData is what the node tests select on every Node type.
type nodeData struct {
	Typename  string `json:"__typename"`
	ID        string `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	FirstName string `json:"firstName"`
}

const nodeFields = `__typename id
  ... on Lead { email firstName }
  ... on Campaign { name }
  ... on Contact { email }
  ... on User { name email }`

// Each kind of id is answered through its loader; what lemlist does not
// find for the server's key (unknown, another team's) and what is not a
// lemlist id are null entries without errors, in the order of ids.
func TestNodes(t *testing.T) {
	t.Parallel()
	e, other, _ := newNodeEnv(t)
	lead, camp, contact, user := e.t.Leads()[3], e.t.Campaigns()[1], e.t.Contacts()[5], e.t.Users()[0]
	foreign := other.Leads()[0].ID
	for _, l := range e.t.Leads() {
		if l.ID == foreign {
			t.Fatalf("both teams have lead %s: pick other seeds", foreign)
		}
	}
	ids := []string{lead.ID, "lea_unknown0000000", camp.ID, "not an id", contact.ID, foreign, user.ID, "usr_unknown", "xyz_123", "act_whatever", lead.ID}
	var data struct{ Nodes []*nodeData }
	e.mustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { `+nodeFields+` } }`, map[string]any{"ids": ids}, &data)
	leadNode := &nodeData{Typename: "Lead", ID: lead.ID, Email: lead.Email, FirstName: lead.FirstName}
	want := []*nodeData{
		leadNode, nil,
		{Typename: "Campaign", ID: camp.ID, Name: camp.Name}, nil,
		{Typename: "Contact", ID: contact.ID, Email: contact.Email}, nil,
		{Typename: "User", ID: user.ID, Name: user.Name, Email: user.Email}, nil,
		nil, nil, leadNode,
	}
	if diff := cmp.Diff(want, data.Nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}

	// node answers as nodes does.
	for i, id := range ids {
		var one struct{ Node *nodeData }
		e.mustDo(t, `query($id: ID!) { node(id: $id) { `+nodeFields+` } }`, map[string]any{"id": id}, &one)
		if diff := cmp.Diff(want[i], one.Node); diff != "" {
			t.Errorf("node(%q) (-want +got):\n%s", id, diff)
		}
	}
}

// nodes batches its lookups with the request's loaders: contacts in one
// call, users from one team call, each distinct lead once.
func TestNodesAreBatched(t *testing.T) {
	t.Parallel()
	e, _, _ := newNodeEnv(t)
	var ids []string
	for _, c := range e.t.Contacts()[:5] {
		ids = append(ids, c.ID)
	}
	for _, u := range e.t.Users()[:2] {
		ids = append(ids, u.ID)
	}
	leads := e.t.Leads()[:3]
	for _, l := range leads {
		ids = append(ids, l.ID, l.ID)
	}
	e.fake.ResetRequests()
	var data struct{ Nodes []*struct{ ID string } }
	e.mustDo(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}, &data)
	var got []string
	for _, n := range data.Nodes {
		if n == nil {
			t.Fatalf("a null node in %+v", data.Nodes)
		}
		got = append(got, n.ID)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	calls := map[string]int{}
	for _, r := range e.fake.Requests() {
		calls[r.Path]++
	}
	if diff := cmp.Diff(map[string]int{"/contacts": 1, "/team": 1, "/leads": len(leads)}, calls); diff != "" {
		t.Errorf("upstream calls (-want +got):\n%s", diff)
	}
}

// An upstream failure nulls only its own entry, with an error at its
// index; the list and its other entries stand.
func TestNodesUpstreamErrorNullsOneEntry(t *testing.T) {
	t.Parallel()
	e, _, _ := newNodeEnv(t)
	lead, camp, user := e.t.Leads()[0], e.t.Campaigns()[0], e.t.Users()[0]
	e.fake.InjectFault(lemlisttest.Fault{Path: "/campaigns/", Status: http.StatusServiceUnavailable}, 10)
	var data struct{ List []*nodeData }
	errs := e.do(t, `query($ids: [ID!]!) { list: nodes(ids: $ids) { `+nodeFields+` } }`,
		map[string]any{"ids": []string{lead.ID, camp.ID, user.ID}}, &data)
	want := []*nodeData{
		{Typename: "Lead", ID: lead.ID, Email: lead.Email, FirstName: lead.FirstName},
		nil,
		{Typename: "User", ID: user.ID, Name: user.Name, Email: user.Email},
	}
	if diff := cmp.Diff(want, data.List); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if len(errs) != 1 {
		t.Fatalf("errors = %+v, want one", errs)
	}
	if diff := cmp.Diff([]any{"list", float64(1)}, errs[0].Path); diff != "" {
		t.Errorf("error path (-want +got):\n%s", diff)
	}
	if code := errs[0].Extensions["code"]; code != graph.CodeUpstreamUnavailable {
		t.Errorf("error code = %v, want %s", code, graph.CodeUpstreamUnavailable)
	}
}

func TestNodesRefusesMoreThanMaxNodes(t *testing.T) {
	t.Parallel()
	e, _, _ := newNodeEnv(t)
	ids := make([]string, graph.MaxNodes+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("lea_%d", i)
	}
	e.fake.ResetRequests()
	errs := e.do(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}, nil)
	if len(errs) != 1 || errs[0].Extensions["code"] != graph.CodeBadUserInput || errs[0].Extensions["argument"] != "ids" {
		t.Fatalf("errors = %+v, want one BAD_USER_INPUT on ids", errs)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("%d upstream calls, want 0", n)
	}
}

// An activity is a Node when the tenant's mirror holds it, with its object
// fields answered as in a connection; without the mirror, act_ ids are
// null.
func TestActivityNode(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 300, time.Time{})
	rows, err := e.tn.Expected(url.Values{"type": {"emailsSent"}})
	if err != nil || len(rows) == 0 {
		t.Fatalf("no emailsSent in the fake: %v", err)
	}
	act := rows[0]
	var lead lemlisttest.Lead
	for _, l := range e.tn.Leads() {
		if l.ID == act.LeadID {
			lead = l
		}
	}
	const q = `query($id: ID!) { node(id: $id) { __typename id
	  ... on Activity { type }
	  ... on EmailActivity { lead { id email firstName } } } }`
	type leadData struct{ ID, Email, FirstName string }
	type nodeAnswer struct {
		Node *struct {
			Typename string `json:"__typename"`
			ID, Type string
			Lead     *leadData
		}
	}
	var data nodeAnswer
	if errs := run(t, e.mirrored, q, map[string]any{"id": act.ID}, &data); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if data.Node == nil {
		t.Fatalf("node(%s) is null", act.ID)
	}
	if got, want := *data.Node.Lead, (leadData{lead.ID, lead.Email, lead.FirstName}); data.Node.Typename != "EmailActivity" || data.Node.ID != act.ID || data.Node.Type != "emailsSent" || got != want {
		t.Errorf("node = %+v lead %+v, want an EmailActivity %s with lead %+v", *data.Node, got, act.ID, want)
	}
	data = nodeAnswer{}
	if errs := run(t, e.mirrored, q, map[string]any{"id": "act_unknown"}, &data); len(errs) > 0 || data.Node != nil {
		t.Errorf("node(act_unknown) = %+v, %+v; want null without error", data.Node, errs)
	}
	// The same stack without a mirror.
	data = nodeAnswer{}
	if errs := run(t, e.upstream, q, map[string]any{"id": act.ID}, &data); len(errs) > 0 || data.Node != nil {
		t.Errorf("without the mirror, node(%s) = %+v, %+v; want null without error", act.ID, data.Node, errs)
	}
}

// _entities, which federation gateways call, answers through the same
// lookups: in order, null for an unknown id.
func TestEntities(t *testing.T) {
	t.Parallel()
	e, other, _ := newNodeEnv(t)
	lead, camp, contact := e.t.Leads()[2], e.t.Campaigns()[0], e.t.Contacts()[1]
	reps := []map[string]any{
		{"__typename": "Lead", "id": lead.ID},
		{"__typename": "Campaign", "id": camp.ID},
		{"__typename": "Contact", "id": contact.ID},
		{"__typename": "Lead", "id": other.Leads()[0].ID},
		{"__typename": "Contact", "id": "ctc_unknown"},
	}
	var data struct {
		Entities []*nodeData `json:"_entities"`
	}
	e.mustDo(t, `query($r: [_Any!]!) { _entities(representations: $r) {
	  __typename
	  ... on Lead { id email firstName }
	  ... on Campaign { id name }
	  ... on Contact { id email } } }`, map[string]any{"r": reps}, &data)
	want := []*nodeData{
		{Typename: "Lead", ID: lead.ID, Email: lead.Email, FirstName: lead.FirstName},
		{Typename: "Campaign", ID: camp.ID, Name: camp.Name},
		{Typename: "Contact", ID: contact.ID, Email: contact.Email},
		nil, nil,
	}
	if diff := cmp.Diff(want, data.Entities); diff != "" {
		t.Errorf("_entities (-want +got):\n%s", diff)
	}
}

// _service answers when introspection is off (graph.ServiceSDL, which the
// server runs), alone or through fragments; beside another root field it
// gets gqlgen's default, FORBIDDEN. __schema and __type stay off, alone
// or beside it.
func TestServiceSDLWithoutIntrospection(t *testing.T) {
	t.Parallel()
	c := client.New(graphServer(t, stackOptions{deadline: 5 * time.Second}), client.Path("/graphql"))
	for _, tc := range []struct {
		query string
		ok    bool // ServiceSDL lets _service answer
	}{
		{`query Compose { __typename ...F } fragment F on Query { _service { sdl } }`, true},
		{`query Compose { _entities(representations: []) { __typename } ...F } fragment F on Query { _service { sdl } }`, false},
	} {
		var data struct {
			Service *struct{ SDL string } `json:"_service"`
		}
		resp, err := c.RawPost(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(resp.Data)
		_ = json.Unmarshal(b, &data)
		switch {
		case tc.ok && (data.Service == nil || !strings.Contains(data.Service.SDL, `type Lead implements Node @key(fields: "id")`)):
			t.Errorf("%s: _service = %s, errors %s; want the SDL with Lead's @key", tc.query, b, resp.Errors)
		case !tc.ok && (!strings.Contains(string(resp.Errors), `"code":"FORBIDDEN"`) || data.Service != nil):
			t.Errorf("%s: _service = %s, errors %s; want FORBIDDEN (gqlgen's default)", tc.query, b, resp.Errors)
		}
	}
	for _, q := range []string{
		`{ _service { sdl } __schema { queryType { name } } }`,
		`{ _service { sdl } ... on Query { __type(name: "Lead") { name } } }`,
		`{ __schema { queryType { name } } }`,
	} {
		resp, err := c.RawPost(q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(resp.Errors), "introspection is disabled") {
			t.Errorf("%s answered %s %s, want introspection disabled", q, resp.Data, resp.Errors)
		}
	}
}
