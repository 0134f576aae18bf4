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
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// MaxStreams bounds the streams one merged connection reads.
const MaxStreams = 64

// mergeCursorVersion is the first byte of a merged list's cursor.
const mergeCursorVersion = 2

// maxMergeCursorLen bounds an encoded merged cursor: MaxStreams offsets of
// at most 4 varint bytes each, plus the fixed parts, in base64.
const maxMergeCursorLen = 400

// Streams returns the streams of a merged list: base with Type set to each
// of types (none: base's own Type) and LeadID set to each of leads (none:
// base's own LeadID). The order is canonical and duplicates are dropped.
func Streams(base activityfilter.Filter, types, leads []string) []activityfilter.Filter {
	if len(types) == 0 {
		types = []string{base.Type}
	}
	if len(leads) == 0 {
		leads = []string{base.LeadID}
	}
	out := make([]activityfilter.Filter, 0, len(types)*len(leads))
	for _, t := range types {
		for _, l := range leads {
			f := base
			f.Type, f.LeadID = t, l
			out = append(out, f)
		}
	}
	return canonical(out)
}

// canonical returns streams sorted by hash without duplicates, so that the
// same set always gets the same stream numbers.
func canonical(streams []activityfilter.Filter) []activityfilter.Filter {
	out := slices.Clone(streams)
	slices.SortFunc(out, func(a, b activityfilter.Filter) int {
		ha, hb := a.Hash(), b.Hash()
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b activityfilter.Filter) bool { return a.Hash() == b.Hash() })
}

// mergeHash is the hash a merged list's cursors are bound to: that of its
// canonical stream set.
func mergeHash(streams []activityfilter.Filter) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("lemlist-graphql/merge"))
	var b [8]byte
	for _, s := range streams {
		binary.BigEndian.PutUint64(b[:], s.Hash())
		_, _ = h.Write(b[:])
	}
	return h.Sum64()
}

// Before reports whether a comes before b in a merged list: newer first,
// and for equal createdAt, the larger _id (byte order) first.
func Before(a, b *lemlist.Activity) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// MergeCursor is the decoded form of a merged list's cursor.
type MergeCursor struct {
	// Pos holds, per stream, how many of its rows precede the edge.
	Pos []int
	// Stream is the edge's stream: the edge is row Pos[Stream] of it.
	Stream int
	// Pin is the pin of every stream, as in Cursor.
	Pin time.Time
	// Filter is the hash of the stream set.
	Filter uint64
}

// Encode returns the cursor's opaque string: base64url of version 2, the
// number of streams, the offsets, the edge's stream and the pin as
// varints, then the stream set's hash and a checksum.
func (c MergeCursor) Encode() string {
	b := make([]byte, 0, 2+len(c.Pos)*4+binary.MaxVarintLen64+1+8+4)
	b = append(b, mergeCursorVersion)
	b = binary.AppendUvarint(b, uint64(len(c.Pos)))
	for _, off := range c.Pos {
		b = binary.AppendUvarint(b, uint64(off))
	}
	b = binary.AppendUvarint(b, uint64(c.Stream))
	b = binary.AppendVarint(b, c.Pin.UnixMilli())
	b = binary.BigEndian.AppendUint64(b, c.Filter)
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeMergeCursor parses a cursor made by MergeCursor.Encode. Any other
// input, including a single list's cursor, is an error.
func DecodeMergeCursor(s string) (MergeCursor, error) {
	if len(s) == 0 || len(s) > maxMergeCursorLen {
		return MergeCursor{}, fmt.Errorf("%w: wrong length", errCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return MergeCursor{}, fmt.Errorf("%w: not base64url", errCursor)
	}
	if len(b) < 1+1+1+1+8+4 {
		return MergeCursor{}, fmt.Errorf("%w: too short", errCursor)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return MergeCursor{}, fmt.Errorf("%w: checksum mismatch", errCursor)
	}
	switch b[0] {
	case mergeCursorVersion:
	case cursorVersion:
		return MergeCursor{}, fmt.Errorf("%w: it belongs to a single list, and this connection merges several", errCursor)
	default:
		return MergeCursor{}, fmt.Errorf("%w: unknown version %d", errCursor, b[0])
	}
	rest := body[1:]
	uvarint := func(limit uint64) (int, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > limit {
			return 0, false
		}
		rest = rest[n:]
		return int(v), true
	}
	k, ok := uvarint(MaxStreams)
	if !ok || k == 0 {
		return MergeCursor{}, fmt.Errorf("%w: bad stream count", errCursor)
	}
	c := MergeCursor{Pos: make([]int, k)}
	for i := range c.Pos {
		if c.Pos[i], ok = uvarint(MaxOffset); !ok {
			return MergeCursor{}, fmt.Errorf("%w: bad offset", errCursor)
		}
	}
	if c.Stream, ok = uvarint(uint64(k - 1)); !ok {
		return MergeCursor{}, fmt.Errorf("%w: bad stream", errCursor)
	}
	pin, n := binary.Varint(rest)
	if n <= 0 || pin < 0 || pin > maxPinMillis {
		return MergeCursor{}, fmt.Errorf("%w: bad pin", errCursor)
	}
	rest = rest[n:]
	if len(rest) != 8 {
		return MergeCursor{}, fmt.Errorf("%w: bad length", errCursor)
	}
	c.Pin, c.Filter = time.UnixMilli(pin).UTC(), binary.BigEndian.Uint64(rest)
	if c.Encode() != s {
		return MergeCursor{}, fmt.Errorf("%w: not canonical", errCursor)
	}
	return c, nil
}

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
	if len(streams) > MaxStreams {
		return p, inputErr("filter", "merges %d upstream lists, at most %d: narrow the types, channel or campaign", len(streams), MaxStreams)
	}
	for _, f := range streams {
		if err := f.Validate(); err != nil {
			return p, err
		}
	}
	decode := func(name string, s *string) (*MergeCursor, error) {
		if s == nil {
			return nil, nil
		}
		c, err := DecodeMergeCursor(*s)
		if err != nil {
			return nil, inputErr(name, "%v", err)
		}
		if c.Filter != p.hash || len(c.Pos) != len(streams) {
			return nil, inputErr(name, "cursor belongs to another filter")
		}
		return &c, nil
	}
	after, err := decode("after", r.After)
	if err != nil {
		return p, err
	}
	before, err := decode("before", r.Before)
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
		if after != nil && !before.Pin.Equal(after.Pin) {
			return p, inputErr("before", "cursor comes from another paging session than after")
		}
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
	m := newMerger(list, streams, p.pin, r.Concurrency)
	copy(m.lo, p.lo)
	if p.hi != nil {
		copy(m.hi, p.hi)
	}
	var (
		edges []mergeEdge
		page  = &Page{}
	)
	if !p.fromEnd {
		want := p.n
		if r.NeedHasNextPage && p.hi == nil {
			want++
		}
		m.chunk = func(_, _, taken int) int { return min(want-taken, lemlist.MaxPageSize) }
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

// mergeEdge is a row of a merged list with its position.
type mergeEdge struct {
	row    *lemlist.Activity
	pos    []int
	stream int
}

// merger walks the merge of streams, each read through its own fetcher.
type merger struct {
	list        Lister
	fs          []*fetcher
	lo, hi      []int // per stream; hi[j] < 0: up to the end
	cur         []int // the next offset forward, or one past the next backward
	pin         time.Time
	concurrency int
	// chunk is how many rows to read at once from stream j, whose buffer
	// ran out at offset off, when taken rows are taken. More than 100 is
	// several calls, run concurrently.
	chunk func(j, off, taken int) int
	// forget drops the rows the walk has passed (a scan keeps nothing).
	forget bool
}

func newMerger(list Lister, streams []activityfilter.Filter, pin time.Time, concurrency int) *merger {
	m := &merger{
		list:        list,
		fs:          make([]*fetcher, len(streams)),
		lo:          make([]int, len(streams)),
		hi:          make([]int, len(streams)),
		pin:         pin,
		concurrency: max(concurrency, 1),
	}
	for j, f := range streams {
		m.fs[j] = &fetcher{list: list, filter: f, pin: pin, concurrency: 1}
		m.hi[j] = -1
	}
	return m
}

// each runs fn for every stream, concurrently within the merger's bound.
// Each fetcher is used by one goroutine at a time.
func (m *merger) each(ctx context.Context, fn func(ctx context.Context, j int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.concurrency)
	for j := range m.fs {
		g.Go(func() error { return fn(gctx, j) })
	}
	return g.Wait()
}

// pinDown sets the pin of an unpinned merge of several streams from a
// probe: the newest row of the streams' union. When the union is empty, so
// is every stream, and they are marked ended. One stream needs no probe:
// its first page, at offset 0, sets its pin (see settlePin).
func (m *merger) pinDown(ctx context.Context) error {
	if !m.pin.IsZero() || len(m.fs) < 2 {
		return nil
	}
	union := m.fs[0].filter
	for _, f := range m.fs[1:] {
		union = common(union, f.filter)
	}
	rows, err := m.list(ctx, union.Options(time.Time{}, 0, 1))
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		for _, f := range m.fs {
			f.end, f.ended = 0, true
		}
		return nil
	}
	m.pin = pinOf(rows[0].CreatedAt)
	for _, f := range m.fs {
		f.pin = m.pin
	}
	return nil
}

// common returns the conditions f and g share: a filter selecting every
// row of both.
func common(f, g activityfilter.Filter) activityfilter.Filter {
	if f.Type != g.Type {
		f.Type = ""
	}
	if f.CampaignID != g.CampaignID {
		f.CampaignID = ""
	}
	if f.LeadID != g.LeadID {
		f.LeadID = ""
	}
	if f.IsFirst != nil && (g.IsFirst == nil || *f.IsFirst != *g.IsFirst) {
		f.IsFirst = nil
	}
	if !f.MinDate.Equal(g.MinDate) {
		f.MinDate = time.Time{}
	}
	if !f.MaxDate.Equal(g.MaxDate) {
		f.MaxDate = time.Time{}
	}
	return f
}

// settlePin takes the pin of a single unpinned stream from its first page.
func (m *merger) settlePin() {
	if !m.pin.IsZero() {
		return
	}
	for _, f := range m.fs {
		if f.pin.After(m.pin) {
			m.pin = f.pin
		}
	}
	if m.pin.IsZero() {
		return // every stream is empty
	}
	for _, f := range m.fs {
		f.pin = m.pin
	}
}

// open reports whether stream j may hold a row at offset off going
// forward: below its bound and not past its known end.
func (m *merger) open(j, off int) bool {
	f := m.fs[j]
	return (m.hi[j] < 0 || off < m.hi[j]) && (!f.ended || off < f.end)
}

// upTo is off+n capped by stream j's bound.
func (m *merger) upTo(j, off, n int) int {
	if m.hi[j] >= 0 {
		return min(off+n, m.hi[j])
	}
	return off + n
}

// forward takes up to want rows from the positions m.lo, newest first.
// The first read of every stream runs concurrently; later reads, one
// stream at a time, as the walk uses up a stream's buffer.
func (m *merger) forward(ctx context.Context, want int) ([]mergeEdge, error) {
	m.cur = slices.Clone(m.lo)
	if want <= 0 {
		return nil, nil
	}
	if err := m.fill(ctx); err != nil {
		return nil, err
	}
	var out []mergeEdge
	for len(out) < want {
		j, err := m.next(ctx, len(out))
		if err != nil {
			return out, err
		}
		if j < 0 {
			break
		}
		out = append(out, mergeEdge{row: m.fs[j].row(m.cur[j]), pos: slices.Clone(m.cur), stream: j})
		m.cur[j]++
	}
	return out, nil
}

// fill reads the first chunk of every open stream at once, pinned.
func (m *merger) fill(ctx context.Context) error {
	if err := m.pinDown(ctx); err != nil {
		return err
	}
	err := m.each(ctx, func(ctx context.Context, j int) error {
		off := m.cur[j]
		if !m.open(j, off) || m.fs[j].known(off) {
			return nil
		}
		return m.fs[j].fetch(ctx, off, m.upTo(j, off, min(m.chunk(j, off, 0), lemlist.MaxPageSize)))
	})
	m.settlePin()
	return err
}

// next returns the stream whose row at its current offset comes first, or
// -1 when every stream is used up, reading more rows of a stream (one
// call, m.chunk of them) when the walk has used up what it holds.
func (m *merger) next(ctx context.Context, taken int) (int, error) {
	best := -1
	var bestRow *lemlist.Activity
	for j, f := range m.fs {
		off := m.cur[j]
		if !m.open(j, off) {
			continue
		}
		row := f.row(off)
		if row == nil {
			if m.forget {
				f.forgetBefore(off)
			}
			if err := f.fetch(ctx, off, m.upTo(j, off, m.chunk(j, off, taken))); err != nil {
				return -1, err
			}
			if row = f.row(off); row == nil {
				continue // the stream ended
			}
		}
		if best < 0 || Before(row, bestRow) {
			best, bestRow = j, row
		}
	}
	return best, nil
}

// knownNext reports whether a row is known to follow the forward walk.
func (m *merger) knownNext() bool {
	for j, f := range m.fs {
		if m.open(j, m.cur[j]) && f.known(m.cur[j]) {
			return true
		}
	}
	return false
}

// findEnds sets every stream's upper bound to its length: a first read of
// p = min(n, 100) rows from its lower bound on every stream at once, then,
// for the streams it did not end, the galloping search of
// fetcher.findEnd.
func (m *merger) findEnds(ctx context.Context, n int) error {
	p := min(max(n, 1), lemlist.MaxPageSize)
	if err := m.pinDown(ctx); err != nil {
		return err
	}
	err := m.each(ctx, func(ctx context.Context, j int) error {
		if !m.open(j, m.lo[j]) {
			return nil
		}
		return m.fs[j].fetch(ctx, m.lo[j], m.lo[j]+p)
	})
	if err != nil {
		return err
	}
	m.settlePin()
	return m.each(ctx, func(ctx context.Context, j int) error {
		f := m.fs[j]
		if f.ended {
			m.hi[j] = max(f.end, m.lo[j])
			return nil
		}
		end, err := f.findEnd(ctx, m.lo[j]+p, n)
		if err != nil {
			return err
		}
		m.hi[j] = end
		return nil
	})
}

// backward takes up to n rows walking back from the bounds m.hi, and
// returns them in list order.
func (m *merger) backward(ctx context.Context, n int) ([]mergeEdge, error) {
	m.cur = slices.Clone(m.hi)
	if n <= 0 {
		return nil, nil
	}
	err := m.each(ctx, func(ctx context.Context, j int) error {
		if m.cur[j] <= m.lo[j] {
			return nil
		}
		return m.fs[j].fetch(ctx, max(m.lo[j], m.cur[j]-min(n, lemlist.MaxPageSize)), m.cur[j])
	})
	if err != nil {
		return nil, err
	}
	var out []mergeEdge
	for len(out) < n {
		best := -1
		var bestRow *lemlist.Activity
		for j, f := range m.fs {
			if m.cur[j] <= m.lo[j] {
				continue
			}
			row := f.row(m.cur[j] - 1)
			if row == nil {
				start := max(m.lo[j], m.cur[j]-min(n-len(out), lemlist.MaxPageSize))
				if err := f.fetch(ctx, start, m.cur[j]); err != nil {
					return nil, err
				}
				if row = f.row(m.cur[j] - 1); row == nil {
					// Rows were deleted since the bound was set: the
					// stream now ends before it.
					m.cur[j] = max(min(f.end, m.cur[j]-1), m.lo[j])
					continue
				}
			}
			if best < 0 || Before(bestRow, row) {
				best, bestRow = j, row
			}
		}
		if best < 0 {
			break
		}
		m.cur[best]--
		out = append(out, mergeEdge{row: bestRow, pos: slices.Clone(m.cur), stream: best})
	}
	slices.Reverse(out)
	return out, nil
}

// knownPrevious reports whether rows precede the backward walk: exact,
// since every offset below a bound exists.
func (m *merger) knownPrevious() bool {
	for j := range m.fs {
		if m.cur[j] > m.lo[j] {
			return true
		}
	}
	return false
}

// forgetBefore drops the fetched runs that end at or before off.
func (f *fetcher) forgetBefore(off int) {
	for s, rows := range f.segs {
		if s+len(rows) <= off {
			delete(f.segs, s)
		}
	}
}

// ErrBudget is returned by a Scanner's calls once its budget is spent.
var ErrBudget = errors.New("relay: upstream call budget spent")

// Scanner reads merged streams to their end, newest first, 100 rows per
// call, making at most a budget of calls. It is not safe for concurrent
// use.
//
// Once the pin is set, the pages of a stream are independent, so a stream
// whose buffer runs out is read ahead: 1 page, then 2, 4… up to the
// concurrency, never more than the budget left nor past a length Estimate
// found. Without an estimate, a stream's read-ahead may pass its end by up
// to concurrency-1 (empty) calls.
type Scanner struct {
	m      *merger
	calls  atomic.Int64
	budget int64
	lens   []int
	ahead  []int // per stream, the pages of the next read-ahead
}

// NewScanner returns a scanner of the merge of streams (made canonical)
// that makes at most budget calls, concurrency at a time.
func NewScanner(list Lister, streams []activityfilter.Filter, budget, concurrency int) *Scanner {
	s := &Scanner{budget: int64(budget)}
	counted := func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		if s.calls.Add(1) > s.budget {
			s.calls.Add(-1)
			return nil, ErrBudget
		}
		return list(ctx, o)
	}
	s.m = newMerger(counted, canonical(streams), time.Time{}, concurrency)
	for _, f := range s.m.fs {
		f.concurrency = s.m.concurrency
	}
	s.ahead = make([]int, len(s.m.fs))
	return s
}

// chunk sizes a scan's read of stream j at offset off: whole pages, so
// that reads stay aligned on multiples of 100 (and the pages Estimate read
// are reused), as many as the read-ahead, the budget left and the known
// length allow.
func (s *Scanner) chunk(j, off, _ int) int {
	const p = lemlist.MaxPageSize
	pages := max(s.ahead[j], 1)
	s.ahead[j] = min(2*pages, s.m.concurrency)
	pages = min(pages, max(int(s.budget)-s.Calls(), 1))
	if hi := s.m.hi[j]; hi >= 0 {
		pages = min(pages, max((hi-off+p-1)/p, 1))
	}
	return pages*p - off%p
}

// Calls returns the calls made so far.
func (s *Scanner) Calls() int { return int(s.calls.Load()) }

// Pin returns the pin: the newest createdAt across the streams when the
// scanner first read them, rounded up to the millisecond; zero before any
// read or when every stream is empty.
func (s *Scanner) Pin() time.Time { return s.m.pin }

// Estimate learns each stream's length with the galloping search (pages
// of 100 at 0, 100, 200, 400, 800… then a bisection: O(log n) calls) and
// returns what a full scan costs at most: the calls made so far plus
// ⌈length/100⌉ per stream. Rows it reads are kept for Scan. Once the
// budget is spent it returns ErrBudget.
func (s *Scanner) Estimate(ctx context.Context) (int, error) {
	if s.lens == nil {
		if err := s.m.findEnds(ctx, lemlist.MaxPageSize); err != nil {
			return 0, err
		}
		s.lens = slices.Clone(s.m.hi)
	}
	total := s.Calls()
	for _, n := range s.lens {
		total += (n + lemlist.MaxPageSize - 1) / lemlist.MaxPageSize
	}
	return total, nil
}

// ScanResult is the outcome of a Scan.
type ScanResult struct {
	// Rows is the number of rows visited.
	Rows int
	// Partial is set when the budget ran out before the end.
	Partial bool
	// CoveredFrom, when Partial, is the createdAt of the last row visited:
	// every row created strictly after it was visited. Zero when no row
	// was.
	CoveredFrom time.Time
}

// Scan visits every row of the merge, newest first, until the streams end
// or the budget is spent (a partial result, not an error).
func (s *Scanner) Scan(ctx context.Context, visit func(*lemlist.Activity)) (ScanResult, error) {
	var res ScanResult
	m := s.m
	m.forget = true
	m.chunk = s.chunk
	m.cur = slices.Clone(m.lo)
	var last *lemlist.Activity
	stop := func(err error) (ScanResult, error) {
		if !errors.Is(err, ErrBudget) {
			return res, err
		}
		res.Partial = true
		if last != nil {
			res.CoveredFrom = last.CreatedAt
		}
		return res, nil
	}
	if err := m.fill(ctx); err != nil {
		return stop(err)
	}
	for {
		j, err := m.next(ctx, res.Rows)
		if err != nil {
			return stop(err)
		}
		if j < 0 {
			return res, nil
		}
		last = m.fs[j].row(m.cur[j])
		visit(last)
		res.Rows++
		m.cur[j]++
	}
}
