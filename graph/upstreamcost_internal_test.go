package graph

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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
