// Package relay turns Relay connection arguments (first/after/last/before)
// into lemlist's offset/limit and date filters. It is the one place that
// does offset arithmetic.
//
// A connection pages through a pinned list: the first page learns the
// newest createdAt of the filtered list (the pin, taken from lemlist's own
// data rather than this server's clock) and every cursor carries it, so
// later pages ask lemlist for maxDate=pin. Activities created while a client
// pages sort above the pin and do not shift offsets: the client sees every
// activity that existed when it started exactly once.
//
// The upstream returns no total count, so `last` without `before` finds the
// end of the list with a galloping search of small probes: O(log n) calls.
//
// Several lists (one per type, or per lead of a contact) merge into one
// connection with PaginateMerged, and Scanner reads such a merge to its
// end for aggregates: see merge.go.
//
// Files, one concern each: relay.go (one list: Request, Paginate, and the
// argument checks both kinds share), fetcher.go (the rows of one pinned
// list, by offset), cursor.go (version 1 cursors, one list), streams.go
// (the lists a merge reads), merge.go (MergeRequest, its plan,
// PaginateMerged), mergecursor.go (version 2 cursors, a merge), merger.go
// (the k-way walk) and scanner.go (Scanner).
package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// Lister lists activities, e.g. upstream.Upstream's ListActivities.
type Lister func(ctx context.Context, opts *lemlist.ActivityListOptions) ([]*lemlist.Activity, error)

// Args are a connection's arguments.
type Args struct {
	First, Last   *int
	After, Before *string
}

// size returns how many rows the arguments ask for, def when neither first
// nor last is given, and whether they are taken from the end (last).
func (a Args) size(def int) (n int, fromEnd bool) {
	switch {
	case a.Last != nil:
		return *a.Last, true
	case a.First != nil:
		return *a.First, false
	}
	return def, false
}

// Request is one connection to resolve.
type Request struct {
	Args
	Filter activityfilter.Filter
	// NeedHasNextPage is set when the selection asks for
	// pageInfo.hasNextPage; only then is a lookahead row fetched.
	NeedHasNextPage bool
	// DefaultSize is the page size when neither first nor last is given.
	DefaultSize int
	// MaxSize caps first and last.
	MaxSize int
	// Concurrency bounds the upstream calls in flight for this request.
	Concurrency int
}

// Page is a resolved connection page.
type Page struct {
	Rows            []*lemlist.Activity
	Cursors         []string
	HasNextPage     bool
	HasPreviousPage bool
}

// inputErr returns an *activityfilter.InputError on arg.
func inputErr(arg, format string, a ...any) error {
	return &activityfilter.InputError{Arg: arg, Msg: fmt.Sprintf(format, a...)}
}

// plan is a validated request: the rows [lo, hi) of the pinned list bound
// by the cursors (hi < 0: up to the end), and how many to take from which
// side.
type plan struct {
	lo, hi    int
	n         int
	fromEnd   bool
	pin       time.Time
	hasAfter  bool
	hasBefore bool
}

// Validate checks the arguments without calling upstream.
func (r *Request) Validate() error {
	_, err := r.plan()
	return err
}

// checkSizes checks first and last against each other and maxSize.
func checkSizes(a Args, maxSize int) error {
	if a.First != nil && a.Last != nil {
		return inputErr("first", "give first or last, not both")
	}
	for _, x := range []struct {
		name string
		v    *int
	}{{"first", a.First}, {"last", a.Last}} {
		if x.v == nil {
			continue
		}
		if *x.v < 0 {
			return inputErr(x.name, "must not be negative, got %d", *x.v)
		}
		if *x.v > maxSize {
			return inputErr(x.name, "must be at most %d, got %d", maxSize, *x.v)
		}
	}
	return nil
}

// decodeCursors decodes a connection's after and before cursors with
// decode. It refuses, with an InputError on the argument, a cursor that
// does not decode, one minted for another list (belongs reports false),
// and an after and a before from two paging sessions (two pins).
func decodeCursors[C interface{ pinned() time.Time }](a Args, decode func(string) (C, error), belongs func(C) bool) (after, before *C, err error) {
	one := func(name string, s *string) (*C, error) {
		if s == nil {
			return nil, nil
		}
		c, err := decode(*s)
		if err != nil {
			return nil, inputErr(name, "%v", err)
		}
		if !belongs(c) {
			return nil, inputErr(name, "cursor belongs to another filter")
		}
		return &c, nil
	}
	if after, err = one("after", a.After); err != nil {
		return nil, nil, err
	}
	if before, err = one("before", a.Before); err != nil {
		return nil, nil, err
	}
	if after != nil && before != nil && !(*before).pinned().Equal((*after).pinned()) {
		return nil, nil, inputErr("before", "cursor comes from another paging session than after")
	}
	return after, before, nil
}

func (r *Request) plan() (plan, error) {
	p := plan{hi: -1}
	if err := checkSizes(r.Args, r.MaxSize); err != nil {
		return p, err
	}
	if err := r.Filter.Validate(); err != nil {
		return p, err
	}
	hash := r.Filter.Hash()
	after, before, err := decodeCursors(r.Args, DecodeCursor, func(c Cursor) bool { return c.Filter == hash })
	if err != nil {
		return p, err
	}
	if after != nil {
		p.lo, p.pin, p.hasAfter = after.Offset+1, after.Pin, true
	}
	if before != nil {
		p.hi, p.pin, p.hasBefore = before.Offset, before.Pin, true
		if p.hi < p.lo {
			p.hi = p.lo
		}
	}
	p.n, p.fromEnd = r.size(r.DefaultSize)
	return p, nil
}

// Paginate resolves a connection with as few upstream calls as the
// arguments allow.
func Paginate(ctx context.Context, list Lister, r *Request) (*Page, error) {
	p, err := r.plan()
	if err != nil {
		return nil, err
	}
	f := &fetcher{list: list, filter: r.Filter, pin: p.pin, concurrency: max(r.Concurrency, 1)}
	var start, end int
	page := &Page{}
	if !p.fromEnd {
		start, end = p.lo, p.lo+p.n
		if p.hi >= 0 {
			end = min(end, p.hi)
			// The spec's HasNextPage with first: whether more than first
			// rows lie between the cursors. Every row before the before
			// cursor's exists, so no call is needed.
			page.HasNextPage = end < p.hi
		}
		want := end
		if r.NeedHasNextPage && p.hi < 0 {
			want++
		}
		if err := f.fetch(ctx, start, want); err != nil {
			return nil, err
		}
		if p.hi < 0 {
			page.HasNextPage = f.known(end)
		}
		page.HasPreviousPage = p.hasAfter
	} else {
		end = p.hi
		if end < 0 {
			if end, err = f.findEnd(ctx, p.lo, p.n); err != nil {
				return nil, err
			}
		}
		start = max(p.lo, end-p.n)
		if err := f.fetch(ctx, start, end); err != nil {
			return nil, err
		}
		page.HasPreviousPage = start > p.lo
		page.HasNextPage = p.hasBefore
	}
	page.Rows = f.rows(start, end)
	page.Cursors = make([]string, len(page.Rows))
	hash := r.Filter.Hash()
	for i := range page.Rows {
		page.Cursors[i] = Cursor{Offset: start + i, Pin: f.pin, Filter: hash}.Encode()
	}
	return page, nil
}
