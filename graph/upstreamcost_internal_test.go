package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
)

// lazyLists is an upstream of k lists (types t0…), list j holding lens[j]
// activities, made up on demand so that a list may be millions long. Row
// i of list j is created (i·k + j) ms before base, so the lists interleave.
type lazyLists struct {
	lens  []int
	calls atomic.Int64
}

var lazyBase = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func (l *lazyLists) list(_ context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	l.calls.Add(1)
	k := len(l.lens)
	row := func(j, i int) *lemlist.Activity {
		return &lemlist.Activity{ID: fmt.Sprintf("act_%02d_%09d", j, i), Type: fmt.Sprintf("t%d", j),
			CreatedAt: lazyBase.Add(-time.Duration(i*k+j) * time.Millisecond)}
	}
	if o.Type == "" { // a merge's probe: the newest row of the union
		var newest *lemlist.Activity
		for j, n := range l.lens {
			if n > 0 && (newest == nil || relay.Before(row(j, 0), newest)) {
				newest = row(j, 0)
			}
		}
		if newest == nil || o.Offset > 0 {
			return nil, nil
		}
		return []*lemlist.Activity{newest}, nil
	}
	var j int
	fmt.Sscanf(o.Type, "t%d", &j)
	var out []*lemlist.Activity
	for i := o.Offset; i < min(o.Offset+o.Limit, l.lens[j]); i++ {
		out = append(out, row(j, i))
	}
	return out, nil
}

// connectionCalls bounds the calls relay makes for a page, whatever the
// lists' lengths: first and last, with and without cursors, over one list
// and several.
func TestConnectionCallsBound(t *testing.T) {
	t.Parallel()
	lengths := []int{0, 1, 19, 20, 21, 99, 100, 101, 250, 1000, 4321, 100_000, 3_000_000}
	sizes := []int{0, 1, 5, 20, 99, 100, 101, 250, 500}
	for _, k := range []int{1, 2, 3} {
		for _, L := range lengths {
			for _, n := range sizes {
				lens := make([]int, k)
				for j := range lens {
					lens[j] = L / (j + 1)
				}
				streams := make([]activityfilter.Filter, k)
				for j := range streams {
					streams[j] = activityfilter.Filter{Type: fmt.Sprintf("t%d", j)}
				}
				req := func(a relay.Args) *relay.MergeRequest {
					return &relay.MergeRequest{Args: a, Streams: streams, NeedHasNextPage: true, DefaultSize: DefaultPageSize, MaxSize: 500, Concurrency: 4}
				}
				run := func(name string, a relay.Args, last, before bool) *relay.Page {
					t.Helper()
					up := &lazyLists{lens: lens}
					page, err := relay.PaginateMerged(t.Context(), up.list, req(a))
					if err != nil {
						t.Fatalf("k=%d L=%d n=%d %s: %v", k, L, n, name, err)
					}
					if got, bound := int(up.calls.Load()), connectionCalls(k, n, last, before); got > bound {
						t.Errorf("k=%d L=%d n=%d %s: %d calls, bound %d", k, L, n, name, got, bound)
					}
					return page
				}
				first := run("first", relay.Args{First: &n}, false, false)
				if len(first.Cursors) > 0 {
					run("first after", relay.Args{First: &n, After: &first.Cursors[len(first.Cursors)-1]}, false, false)
				}
				last := run("last", relay.Args{Last: &n}, true, false)
				if len(last.Cursors) > 0 {
					run("last before", relay.Args{Last: &n, Before: &last.Cursors[0]}, true, true)
					run("last after", relay.Args{Last: &n, After: &last.Cursors[0]}, true, false)
				}
			}
		}
	}
}

// estimate prices query with the JSON variables vars, coerced as the
// executor coerces them.
func estimate(t *testing.T, query, vars string) int {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(parsedSchema, query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	raw := map[string]any{}
	if vars != "" {
		dec := json.NewDecoder(strings.NewReader(vars))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
	}
	coerced, err := validator.VariableValues(parsedSchema, doc.Operations[0], raw)
	if err != nil {
		t.Fatal(err)
	}
	return EstimateUpstreamCalls(&graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: coerced}, 500)
}

// Arguments price the same as literals or as variables, and each part of
// an operation adds its own: types, aliases, nesting, stats.
func TestEstimateUpstreamCalls(t *testing.T) {
	t.Parallel()
	page := func(n int) int { return connectionCalls(1, n, false, false) }
	for _, tc := range []struct {
		name, query, vars string
		want              int
	}{
		{"first literal", `{ activities(first: 100) { nodes { id } } }`, "", page(100)},
		{"first variable", `query($n: Int) { activities(first: $n) { nodes { id } } }`, `{"n": 100}`, page(100)},
		{"default page", `{ activities { nodes { id } } }`, "", page(DefaultPageSize)},
		{"three types", `query($f: ActivityFilter) { activities(first: 10, filter: $f) { nodes { id } } }`,
			`{"f": {"types": ["emailsSent", "emailsOpened", "emailsReplied"]}}`, connectionCalls(3, 10, false, false)},
		{"two aliases", `{ a: activities(first: 10) { nodes { id } } b: activities(first: 10) { nodes { id } } }`, "", 2 * page(10)},
		{"last", `{ activities(last: 10) { nodes { id } } }`, "", connectionCalls(1, 10, true, false)},
		{"lead lookups", `{ activities(first: 10) { nodes { lead { email } } } }`, "", page(10) + 10},
		{"snapshot ids only", `{ activities(first: 10) { nodes { lead { id } campaign { id } contact { id } user { id } } } }`, "", page(10)},
		{"contacts by the hundred", `{ activities(first: 250) { nodes { contact { email } } } }`, "", page(250) + 4},
		{"nested connection", `{ activities(first: 10) { nodes { lead { activities(first: 5) { nodes { id } } } } } }`, "", page(10) + 10*page(5)},
		{"stats default", `{ activityStats(groupBy: [TYPE]) { total } }`, "", DefaultStatsCalls},
		{"stats variable", `query($m: Int) { activityStats(groupBy: [TYPE], maxUpstreamCalls: $m) { total } }`, `{"m": 500}`, 500},
		{"stats campaigns", `{ activityStats(groupBy: [CAMPAIGN], maxUpstreamCalls: 10) { groups { key { campaign { name } } } } }`, "", 10 + assumedCampaigns},
		{"series campaigns", `{ activitySeries(from: "2026-01-01", to: "2026-02-01", interval: DAY, groupBy: [CAMPAIGN, USER]) { series { key { campaign { name } user { name } } } } }`, "", assumedCampaigns + 1},
		{"nodes", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, `{"ids": ["lea_1", "cam_1", "ctc_1"]}`, 3},
		{"subscription", `subscription { activityAdded { id lead { email } } }`, "", 0},
		{"skipped", `query($s: Boolean!) { activities(first: 10) @skip(if: $s) { nodes { id } } }`, `{"s": true}`, 0},
	} {
		if got := estimate(t, tc.query, tc.vars); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
