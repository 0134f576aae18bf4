package relay

// Merged lists.
//
// lemlist filters on one type and one lead per call, so a connection over
// several types (or over a contact's leads) reads several upstream lists,
// called streams here, and merges them: a k-way merge, newest first. Each
// stream is sorted by createdAt descending and, for equal createdAt, by _id
// descending (the fake's documented order; lemlist's own order for ties is
// undocumented, and the merge breaks ties the same way). The streams must
// be disjoint, which different types or different leads are.
//
// A position in the merged list is a vector of per-stream offsets: how many
// rows of each stream precede it. An edge's cursor carries the vector of
// the rows before the edge, the edge's stream, the pin and the hash of the
// stream set (MergeCursor, cursor version 2). As with one list, every
// stream is read with maxDate=pin, so that rows created later shift no
// offset. The pin must be at least every stream's newest createdAt, and
// known before the streams are read (they are read concurrently, and a row
// created between two of those calls would otherwise be seen by one
// stream's pinned list and not by its first page): a first page starts
// with a probe, one row of the union of the streams (their common
// conditions, e.g. the filter without its type), whose createdAt is the
// pin.
//
// Calls are lazy. `first: N` reads min(N+1, 100) rows from each stream,
// then reads more from a stream only when the merge has used up what it
// holds of it, at most the rows the page can still take (≤ 100 per call).
// Every call but a stream's last thus returns 100 rows, and a stream
// yields at most N+1 rows in at most ⌈(N+1)/100⌉ calls: at most
// k·⌈(N+1)/100⌉ + 1 calls over k streams, the 1 being a first page's
// probe. `last: N` with `before` walks backward the same way, in at most
// k·⌈N/100⌉ calls. `last` without `before` first finds each stream's end
// with the galloping search of one list (fetcher.findEnd): O(log(len/N))
// calls per stream.
//
// Scanner reads the merged list to its end in pages of 100, within a
// budget of calls: the engine of aggregates.

import (
	"context"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// MergeRequest is a connection over the merge of Streams.
type MergeRequest struct {
	Args
	// Streams are the disjoint lists to merge, in any order. One stream is
	// paginated as a single list (Paginate, version 1 cursors); none is an
	// empty list that makes no call.
	Streams []activityfilter.Filter
	// NeedHasNextPage, DefaultSize, MaxSize and Concurrency are as in
	// Request. Concurrency bounds the calls in flight across streams.
	NeedHasNextPage bool
	DefaultSize     int
	MaxSize         int
	Concurrency     int
}

// single is r as a one-list Request.
func (r *MergeRequest) single(f activityfilter.Filter) *Request {
	return &Request{
		Args: r.Args, Filter: f, NeedHasNextPage: r.NeedHasNextPage,
		DefaultSize: r.DefaultSize, MaxSize: r.MaxSize, Concurrency: r.Concurrency,
	}
}

// mergePlan is a validated merged request: per stream, the offsets [lo,
// hi) the cursors leave (hi nil: up to the end).
type mergePlan struct {
	streams   []activityfilter.Filter
	hash      uint64
	lo, hi    []int
	n         int
	fromEnd   bool
	pin       time.Time
	hasAfter  bool
	hasBefore bool
}

// Validate checks the arguments without calling upstream.
func (r *MergeRequest) Validate() error {
	streams := canonical(r.Streams)
	if len(streams) == 1 {
		return r.single(streams[0]).Validate()
	}
	_, err := r.plan(streams)
	return err
}

func (r *MergeRequest) plan(streams []activityfilter.Filter) (mergePlan, error) {
	p := mergePlan{streams: streams, hash: mergeHash(streams)}
	if err := checkSizes(r.Args, r.MaxSize); err != nil {
		return p, err
	}
	if err := CheckStreams(streams); err != nil {
		return p, err
	}
	for _, f := range streams {
		if err := f.Validate(); err != nil {
			return p, err
		}
	}
	after, before, err := decodeCursors(r.Args, DecodeMergeCursor, func(c MergeCursor) bool {
		return c.Filter == p.hash && len(c.Pos) == len(streams)
	})
	if err != nil {
		return p, err
	}
	p.lo = make([]int, len(streams))
	if after != nil {
		copy(p.lo, after.Pos)
		p.lo[after.Stream]++
		p.pin, p.hasAfter = after.Pin, true
	}
	if before != nil {
		p.hi = slices.Clone(before.Pos)
		for j := range p.hi {
			p.hi[j] = max(p.hi[j], p.lo[j])
		}
		p.pin, p.hasBefore = before.Pin, true
	}
	p.n, p.fromEnd = r.size(r.DefaultSize)
	return p, nil
}

// PaginateMerged resolves a connection over the merge of r.Streams, newest
// first, with the call bounds of the package comment.
func PaginateMerged(ctx context.Context, list Lister, r *MergeRequest) (*Page, error) {
	streams := canonical(r.Streams)
	if len(streams) == 1 {
		return Paginate(ctx, list, r.single(streams[0]))
	}
	p, err := r.plan(streams)
	if err != nil {
		return nil, err
	}
	if len(streams) == 0 {
		return &Page{HasPreviousPage: p.hasAfter, HasNextPage: p.hasBefore}, nil
	}
	want := p.n // forward: the page, and the lookahead row if asked for
	if r.NeedHasNextPage && p.hi == nil {
		want++
	}
	m := newMerger(list, streams, mergerConfig{
		pin: p.pin, lo: p.lo, hi: p.hi, concurrency: r.Concurrency,
		chunk: func(_, _, taken int) int { return min(want-taken, lemlist.MaxPageSize) },
	})
	var (
		edges []mergeEdge
		page  = &Page{}
	)
	if !p.fromEnd {
		if edges, err = m.forward(ctx, want); err != nil {
			return nil, err
		}
		switch {
		case p.hasBefore:
			// More than first rows between the cursors: the cursors
			// count the rows of each stream before them.
			between := 0
			for j := range p.lo {
				between += p.hi[j] - p.lo[j]
			}
			page.HasNextPage = between > p.n
		case len(edges) > p.n:
			page.HasNextPage = true
		default:
			page.HasNextPage = m.knownNext()
		}
		edges = edges[:min(len(edges), p.n)]
		page.HasPreviousPage = p.hasAfter
	} else {
		if p.hi == nil {
			if err := m.findEnds(ctx, p.n); err != nil {
				return nil, err
			}
		}
		if edges, err = m.backward(ctx, p.n); err != nil {
			return nil, err
		}
		page.HasPreviousPage = m.knownPrevious()
		page.HasNextPage = p.hasBefore
	}
	page.Rows = make([]*lemlist.Activity, len(edges))
	page.Cursors = make([]string, len(edges))
	for i, e := range edges {
		page.Rows[i] = e.row
		page.Cursors[i] = MergeCursor{Pos: e.pos, Stream: e.stream, Pin: m.pin, Filter: p.hash}.Encode()
	}
	return page, nil
}
