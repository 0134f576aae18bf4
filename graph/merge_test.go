package graph_test

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// mergedExpected is what a merged connection serves: the union of
// GET /activities?q&key=v for each value, ordered as the fake orders one
// list (createdAt descending, equal createdAt by _id descending).
func (e *env) mergedExpected(t *testing.T, q url.Values, key string, values []string) []string {
	t.Helper()
	var all []lemlisttest.Activity
	for _, v := range values {
		qv := url.Values{}
		for k, vs := range q {
			qv[k] = vs
		}
		qv.Set(key, v)
		acts, err := e.t.Expected(qv)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, acts...)
	}
	slices.SortFunc(all, func(a, b lemlisttest.Activity) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	ids := make([]string, len(all))
	for i, a := range all {
		ids[i] = a.ID
	}
	return ids
}

// pager runs one page of some connection for vars.
type pager func(t *testing.T, vars map[string]any) conn

func (e *env) activitiesPager(filter map[string]any) pager {
	return func(t *testing.T, vars map[string]any) conn {
		t.Helper()
		vars["filter"] = filter
		return e.page(t, vars)
	}
}

const contactPageQuery = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: ActivityFilter) {
  contact(id: $id) { activities(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { __typename id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }
}`

func (e *env) contactPager(id string, filter map[string]any) pager {
	return func(t *testing.T, vars map[string]any) conn {
		t.Helper()
		vars["id"], vars["filter"] = id, filter
		var data struct{ Contact struct{ Activities conn } }
		e.mustDo(t, contactPageQuery, vars, &data)
		return data.Contact.Activities
	}
}

// forwardAll pages with first=size until hasNextPage is false.
func forwardAll(t *testing.T, run pager, size int, between func()) []string {
	t.Helper()
	var got []string
	vars := map[string]any{"first": size}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("forward paging does not end")
		}
		p := run(t, vars)
		if p.PageInfo.HasPreviousPage != (i > 0) {
			t.Fatalf("page %d: hasPreviousPage = %v", i, p.PageInfo.HasPreviousPage)
		}
		got = append(got, p.ids()...)
		if !p.PageInfo.HasNextPage {
			return got
		}
		if len(p.Edges) != size {
			t.Fatalf("page %d: %d edges of %d with hasNextPage", i, len(p.Edges), size)
		}
		if between != nil {
			between()
		}
		vars = map[string]any{"first": size, "after": *p.PageInfo.EndCursor}
	}
}

// backwardAll pages from the end with last=size, before=startCursor.
func backwardAll(t *testing.T, run pager, size int, between func()) []string {
	t.Helper()
	var got []string
	vars := map[string]any{"last": size}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("backward paging does not end")
		}
		p := run(t, vars)
		if p.PageInfo.HasNextPage != (i > 0) {
			t.Fatalf("page %d: hasNextPage = %v", i, p.PageInfo.HasNextPage)
		}
		got = append(p.ids(), got...)
		if !p.PageInfo.HasPreviousPage {
			return got
		}
		if between != nil {
			between()
		}
		vars = map[string]any{"last": size, "before": *p.PageInfo.StartCursor}
	}
}

func TestMultiTypePaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3000)
	camp := e.t.Campaigns()[1].ID
	for _, tc := range []struct {
		filter map[string]any
		q      url.Values
		types  []string
	}{
		{map[string]any{"types": []string{"emailsReplied", "linkedinSent", "smsSent"}}, url.Values{}, []string{"emailsReplied", "linkedinSent", "smsSent"}},
		// Duplicates are dropped.
		{map[string]any{"types": []string{"emailsOpened", "emailsSent", "emailsOpened"}, "campaignId": camp}, url.Values{"campaignId": {camp}}, []string{"emailsOpened", "emailsSent"}},
		{map[string]any{"types": []string{"emailsClicked", "paused", "annotated"}, "minDate": "2026-06-01"}, url.Values{"minDate": {"2026-06-01"}}, []string{"emailsClicked", "paused", "annotated"}},
	} {
		want := e.mergedExpected(t, tc.q, "type", tc.types)
		if len(want) < 60 {
			t.Fatalf("%v: only %d activities; pick a larger filter", tc.filter, len(want))
		}
		run := e.activitiesPager(tc.filter)
		for _, size := range []int{37, 100} {
			if diff := cmp.Diff(want, forwardAll(t, run, size, nil)); diff != "" {
				t.Fatalf("%v first %d (-want +got):\n%s", tc.filter, size, diff)
			}
			if diff := cmp.Diff(want, backwardAll(t, run, size, nil)); diff != "" {
				t.Fatalf("%v last %d (-want +got):\n%s", tc.filter, size, diff)
			}
		}
	}
}

func TestMultiTypeCallBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5000)
	types := []string{"emailsSent", "emailsOpened", "linkedinSent"}
	k := len(types)
	want := e.mergedExpected(t, url.Values{}, "type", types)
	for _, n := range []int{1, 20, 99, 100, 250, 500} {
		e.fake.ResetRequests()
		var data struct{ Activities conn }
		e.mustDo(t, `query($n: Int, $types: [String!]) { activities(first: $n, filter: {types: $types}) {
		  edges { cursor node { id } } pageInfo { hasNextPage } } }`, map[string]any{"n": n, "types": types}, &data)
		if diff := cmp.Diff(want[:n], data.Activities.ids()); diff != "" {
			t.Fatalf("first %d (-want +got):\n%s", n, diff)
		}
		if !data.Activities.PageInfo.HasNextPage {
			t.Errorf("first %d: hasNextPage = false", n)
		}
		// k·⌈(N+1)/100⌉ calls, plus the probe that pins the first page.
		if got, bound := e.fake.CountRequests("/activities"), k*((n+100)/100)+1; got > bound {
			t.Errorf("first %d over %d types: %d calls, bound %d", n, k, got, bound)
		}
		for _, r := range e.fake.Requests() {
			if l, _ := strconv.Atoi(r.Query.Get("limit")); l > 100 {
				t.Errorf("call with limit %d", l)
			}
		}
	}
	// The next page of 20 reads lazily: the first page's lookahead left
	// rows buffered in no stream, so at most one call per type.
	var data struct{ Activities conn }
	e.mustDo(t, `query($types: [String!]) { activities(first: 20, filter: {types: $types}) { edges { cursor node { id } } } }`,
		map[string]any{"types": types}, &data)
	e.fake.ResetRequests()
	var next struct{ Activities conn }
	e.mustDo(t, `query($types: [String!], $after: String) { activities(first: 20, after: $after, filter: {types: $types}) { edges { cursor node { id } } } }`,
		map[string]any{"types": types, "after": data.Activities.Edges[19].Cursor}, &next)
	if diff := cmp.Diff(want[20:40], next.Activities.ids()); diff != "" {
		t.Fatalf("second page (-want +got):\n%s", diff)
	}
	if got := e.fake.CountRequests("/activities"); got > k {
		t.Errorf("second page: %d calls, want at most %d", got, k)
	}
}

func TestMultiTypeStableWithInserts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2000)
	types := []string{"emailsSent", "emailsOpened", "linkedinSent"}
	want := e.mergedExpected(t, url.Values{}, "type", types)
	leads := e.t.Leads()
	insert := func() {
		// New activities of the merged types and others arrive between pages.
		for i, typ := range []string{"emailsSent", "linkedinSent", "emailsOpened", "paused"} {
			if _, err := e.t.Insert(lemlisttest.ActivitySpec{Type: typ, LeadID: leads[i].ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := e.activitiesPager(map[string]any{"types": types})
	if diff := cmp.Diff(want, forwardAll(t, run, 90, insert)); diff != "" {
		t.Fatalf("forward with inserts (-want +got):\n%s", diff)
	}
	want = e.mergedExpected(t, url.Values{}, "type", types)
	if diff := cmp.Diff(want, backwardAll(t, run, 90, insert)); diff != "" {
		t.Fatalf("backward with inserts (-want +got):\n%s", diff)
	}
}

func TestChannelFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 6000)
	// SMS alone: every known SMS type, merged.
	want := e.mergedExpected(t, url.Values{}, "type", model.TypesOf(model.ActivityChannelSms))
	if len(want) < 20 {
		t.Fatalf("only %d SMS activities", len(want))
	}
	var data struct {
		Activities struct {
			Nodes []struct {
				ID, Channel string
				Typename    string `json:"__typename"`
			}
		}
	}
	e.mustDo(t, `{ activities(first: 500, filter: {channel: SMS}) { nodes { id channel __typename } } }`, nil, &data)
	var got []string
	for _, n := range data.Activities.Nodes {
		got = append(got, n.ID)
		if n.Channel != "SMS" || n.Typename != "MessagingActivity" {
			t.Errorf("node %+v is not an SMS", n)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("channel SMS (-want +got):\n%s", diff)
	}
	run := e.activitiesPager(map[string]any{"channel": "SMS"})
	if diff := cmp.Diff(want, backwardAll(t, run, 11, nil)); diff != "" {
		t.Fatalf("channel SMS backward (-want +got):\n%s", diff)
	}

	// A channel with types keeps the types of the channel: here one list,
	// served exactly as a single type.
	single := e.page(t, map[string]any{"first": 5, "filter": map[string]any{"channel": "EMAIL", "types": []string{"emailsReplied", "linkedinSent"}}})
	plain := e.page(t, map[string]any{"first": 5, "filter": map[string]any{"type": "emailsReplied"}})
	if diff := cmp.Diff(plain, single); diff != "" {
		t.Fatalf("EMAIL ∩ {emailsReplied, linkedinSent} differs from type emailsReplied (-want +got):\n%s", diff)
	}

	// No type of the channel left: an empty list without a call.
	e.fake.ResetRequests()
	empty := e.page(t, map[string]any{"first": 5, "filter": map[string]any{"channel": "NOTE", "type": "emailsSent"}})
	if len(empty.Edges) != 0 || empty.PageInfo.HasNextPage || e.fake.CountRequests("/activities") != 0 {
		t.Fatalf("NOTE ∩ emailsSent: %d edges, %d calls", len(empty.Edges), e.fake.CountRequests("/activities"))
	}
}

// busiestContact returns the contact with at least two leads whose leads
// have the most activities, with their lead ids.
func busiestContact(t *testing.T, e *env) lemlisttest.Contact {
	t.Helper()
	var best lemlisttest.Contact
	bestN := 0
	for _, c := range e.t.Contacts() {
		if len(c.LeadIDs) < 2 {
			continue
		}
		if n := len(e.mergedExpected(t, url.Values{}, "leadId", c.LeadIDs)); n > bestN {
			best, bestN = c, n
		}
	}
	if bestN < 30 {
		t.Fatalf("the busiest contact has %d activities", bestN)
	}
	return best
}

func TestContactActivities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20000)
	c := busiestContact(t, e)
	want := e.mergedExpected(t, url.Values{}, "leadId", c.LeadIDs)
	run := e.contactPager(c.ID, nil)
	for _, size := range []int{4, 13} {
		if diff := cmp.Diff(want, forwardAll(t, run, size, nil)); diff != "" {
			t.Fatalf("contact %s first %d (-want +got):\n%s", c.ID, size, diff)
		}
		if diff := cmp.Diff(want, backwardAll(t, run, size, nil)); diff != "" {
			t.Fatalf("contact %s last %d (-want +got):\n%s", c.ID, size, diff)
		}
	}

	// Lead ids × types.
	types := []string{"emailsSent", "emailsOpened"}
	var wantTyped []string
	typed := map[string]bool{}
	for _, typ := range types {
		for _, id := range e.mergedExpected(t, url.Values{"type": {typ}}, "leadId", c.LeadIDs) {
			typed[id] = true
		}
	}
	for _, id := range want {
		if typed[id] {
			wantTyped = append(wantTyped, id)
		}
	}
	if diff := cmp.Diff(wantTyped, forwardAll(t, e.contactPager(c.ID, map[string]any{"types": types}), 9, nil)); diff != "" {
		t.Fatalf("contact with types (-want +got):\n%s", diff)
	}

	// campaignId keeps the lead of that campaign: one list, a lead's.
	var lead lemlisttest.Lead
	for _, l := range e.t.Leads() {
		if l.ID == c.LeadIDs[1] {
			lead = l
		}
	}
	wantLead := e.expected(t, url.Values{"leadId": {lead.ID}})
	if diff := cmp.Diff(wantLead, forwardAll(t, e.contactPager(c.ID, map[string]any{"campaignId": lead.CampaignID}), 10, nil)); diff != "" {
		t.Fatalf("contact in campaign %s (-want +got):\n%s", lead.CampaignID, diff)
	}

	// Another contact's lead is refused, without an activities call.
	var other string
	for _, l := range e.t.Leads() {
		if l.ContactID != c.ID {
			other = l.ID
			break
		}
	}
	e.fake.ResetRequests()
	errs := e.do(t, contactPageQuery, map[string]any{"id": c.ID, "first": 3, "filter": map[string]any{"leadId": other}}, nil)
	if len(errs) != 1 || errs[0].Extensions["code"] != graph.CodeBadUserInput || errs[0].Extensions["argument"] != "filter.leadId" {
		t.Fatalf("other contact's lead: %+v", errs)
	}
	if n := e.fake.CountRequests("/activities"); n != 0 {
		t.Errorf("%d activities calls", n)
	}
}

func TestContactActivitiesThroughActivity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3000)
	// Activity.contact loads the contact (one batched call), whose
	// activities then merge its leads' lists.
	var data struct {
		Activities struct {
			Nodes []struct {
				ID      string
				Contact *struct {
					ID         string
					Activities struct{ Nodes []struct{ ID string } }
				}
			}
		}
	}
	e.mustDo(t, `{ activities(first: 3, filter: {type: "emailsSent"}) { nodes { id contact { id activities(first: 100) { nodes { id } } } } } }`, nil, &data)
	byContact := map[string][]string{}
	for _, c := range e.t.Contacts() {
		byContact[c.ID] = c.LeadIDs
	}
	for _, n := range data.Activities.Nodes {
		if n.Contact == nil {
			t.Fatalf("activity %s has no contact", n.ID)
		}
		want := e.mergedExpected(t, url.Values{}, "leadId", byContact[n.Contact.ID])
		var got []string
		for _, a := range n.Contact.Activities.Nodes {
			got = append(got, a.ID)
		}
		if diff := cmp.Diff(want[:min(100, len(want))], got); diff != "" {
			t.Errorf("contact %s (-want +got):\n%s", n.Contact.ID, diff)
		}
		if !slices.Contains(got, n.ID) {
			t.Errorf("contact %s's activities lack %s", n.Contact.ID, n.ID)
		}
	}
}

func TestMultiTypeBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 500)
	single := e.page(t, map[string]any{"first": 2, "filter": map[string]any{"type": "emailsSent"}})
	multi := e.page(t, map[string]any{"first": 2, "filter": map[string]any{"types": []string{"emailsSent", "emailsOpened"}}})
	many := make([]string, graph.MaxFilterTypes+1)
	for i := range many {
		many[i] = fmt.Sprintf("type%d", i)
	}
	two := []string{"emailsSent", "emailsOpened"}
	cases := []struct {
		name string
		vars map[string]any
		arg  string
	}{
		{"type and types", map[string]any{"filter": map[string]any{"type": "emailsSent", "types": two}}, "filter.types"},
		{"too many types", map[string]any{"filter": map[string]any{"types": many}}, "filter.types"},
		{"empty types", map[string]any{"filter": map[string]any{"types": []string{}}}, "filter.types"},
		{"bad type in types", map[string]any{"filter": map[string]any{"types": []string{"emailsSent", "x&y=1"}}}, "filter.types"},
		{"channel OTHER", map[string]any{"filter": map[string]any{"channel": "OTHER"}}, "filter.channel"},
		{"single-type cursor on types", map[string]any{"first": 2, "after": *single.PageInfo.EndCursor, "filter": map[string]any{"types": two}}, "after"},
		{"types cursor on one type", map[string]any{"last": 2, "before": *multi.PageInfo.StartCursor, "filter": map[string]any{"type": "emailsSent"}}, "before"},
		{"types cursor on other types", map[string]any{"first": 2, "after": *multi.PageInfo.EndCursor, "filter": map[string]any{"types": []string{"emailsSent", "emailsClicked"}}}, "after"},
		{"types cursor on a channel", map[string]any{"first": 2, "after": *multi.PageInfo.EndCursor, "filter": map[string]any{"channel": "EMAIL"}}, "after"},
		{"merged maxDate before minDate", map[string]any{"filter": map[string]any{"types": two, "minDate": "2026-05-02", "maxDate": "2026-05-01"}}, "filter.maxDate"},
	}
	for _, tc := range cases {
		e.fake.ResetRequests()
		errs := e.do(t, pageQuery, tc.vars, nil)
		if len(errs) != 1 {
			t.Errorf("%s: got %d errors %+v, want 1", tc.name, len(errs), errs)
			continue
		}
		if code := errs[0].Extensions["code"]; code != graph.CodeBadUserInput {
			t.Errorf("%s: code %v, want BAD_USER_INPUT (%s)", tc.name, code, errs[0].Message)
		}
		if arg := errs[0].Extensions["argument"]; arg != tc.arg {
			t.Errorf("%s: argument %v, want %s (%s)", tc.name, arg, tc.arg, errs[0].Message)
		}
		if n := e.fake.CountRequests("/activities"); n != 0 {
			t.Errorf("%s: %d upstream activity calls, want 0", tc.name, n)
		}
	}
	// An unknown channel is a validation error of the query itself: the
	// server answers it 200, with the error and no data.
	e.fake.ResetRequests()
	resp, err := e.c.RawPost(pageQuery, client.Var("filter", map[string]any{"channel": "CARRIER_PIGEON"}))
	if err != nil || !strings.Contains(string(resp.Errors), "GRAPHQL_VALIDATION_FAILED") {
		t.Errorf("unknown channel: %v %+v", err, resp)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("unknown channel: %d upstream calls", n)
	}
}
