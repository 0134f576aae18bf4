package relay

import (
	"context"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// Before reports whether a comes before b in a merged list: newer first,
// and for equal createdAt, the larger _id (byte order) first.
func Before(a, b *lemlist.Activity) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// mergeEdge is a row of a merged list with its position.
type mergeEdge struct {
	row    *lemlist.Activity
	pos    []int
	stream int
}

// mergerConfig is how a merger walks; newMerger takes it whole, and
// nothing changes it afterwards.
type mergerConfig struct {
	// pin is every stream's pin; zero: the first reads set it (pinDown,
	// settlePin).
	pin time.Time
	// lo and hi bound each stream's offsets to [lo[j], hi[j]): the
	// cursors' positions. Nil lo starts every stream at 0; nil hi, or a
	// negative hi[j], runs to the stream's end.
	lo, hi []int
	// concurrency bounds the calls in flight across streams; at least 1.
	concurrency int
	// streamConcurrency bounds the calls in flight within one stream's
	// read of more than 100 rows; at least 1.
	streamConcurrency int
	// chunk is how many rows to read at once from stream j, whose buffer
	// ran out at offset off, when taken rows are taken. More than 100 is
	// several calls, run concurrently (streamConcurrency). Nil: 100.
	chunk func(j, off, taken int) int
	// forget drops the rows the walk has passed (a scan keeps nothing).
	forget bool
}

// merger walks the merge of streams, each read through its own fetcher.
type merger struct {
	list        Lister
	fs          []*fetcher
	lo, hi      []int // per stream; hi[j] < 0: up to the end (findEnds sets it)
	cur         []int // the next offset forward, or one past the next backward
	pin         time.Time
	concurrency int
	chunk       func(j, off, taken int) int
	forget      bool
}

// newMerger returns a merger of streams through list, set up by c.
func newMerger(list Lister, streams []activityfilter.Filter, c mergerConfig) *merger {
	m := &merger{
		list:        list,
		fs:          make([]*fetcher, len(streams)),
		lo:          make([]int, len(streams)),
		hi:          make([]int, len(streams)),
		pin:         c.pin,
		concurrency: max(c.concurrency, 1),
		chunk:       c.chunk,
		forget:      c.forget,
	}
	if m.chunk == nil {
		m.chunk = func(_, _, _ int) int { return lemlist.MaxPageSize }
	}
	copy(m.lo, c.lo)
	for j, f := range streams {
		m.fs[j] = &fetcher{list: list, filter: f, pin: c.pin, concurrency: max(c.streamConcurrency, 1)}
		m.hi[j] = -1
		if j < len(c.hi) {
			m.hi[j] = c.hi[j]
		}
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
