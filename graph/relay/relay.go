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
package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

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

func (r *Request) plan() (plan, error) {
	p := plan{hi: -1}
	if err := checkSizes(r.Args, r.MaxSize); err != nil {
		return p, err
	}
	if err := r.Filter.Validate(); err != nil {
		return p, err
	}
	hash := r.Filter.Hash()
	decode := func(name string, s *string) (*Cursor, error) {
		if s == nil {
			return nil, nil
		}
		c, err := DecodeCursor(*s)
		if err != nil {
			return nil, inputErr(name, "%v", err)
		}
		if c.Filter != hash {
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
	if after != nil {
		p.lo, p.pin, p.hasAfter = after.Offset+1, after.Pin, true
	}
	if before != nil {
		if after != nil && !before.Pin.Equal(after.Pin) {
			return p, inputErr("before", "cursor comes from another paging session than after")
		}
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

// fetcher fetches and remembers rows of the pinned list by offset.
type fetcher struct {
	list        Lister
	filter      activityfilter.Filter
	pin         time.Time
	concurrency int
	// segs are the fetched runs of rows, keyed by their first offset.
	segs map[int][]*lemlist.Activity
	// end is the list's length once a short page revealed it, else -1.
	end   int
	ended bool
}

// call fetches rows [off, off+limit) of the list, pinned if the pin is
// known.
func (f *fetcher) call(ctx context.Context, off, limit int) ([]*lemlist.Activity, error) {
	return f.list(ctx, f.filter.Options(f.pin, off, limit))
}

// store records the rows of a call, the list's end when the call came
// back short, and the pin when the call read the head of an unpinned list.
func (f *fetcher) store(off, limit int, rows []*lemlist.Activity) {
	if f.segs == nil {
		f.segs = map[int][]*lemlist.Activity{}
	}
	if len(rows) > limit {
		rows = rows[:limit]
	}
	if len(rows) > 0 {
		f.segs[off] = rows
	}
	if len(rows) < limit && (!f.ended || off+len(rows) < f.end) {
		f.end, f.ended = off+len(rows), true
	}
	if f.pin.IsZero() && off == 0 && len(rows) > 0 {
		f.pin = pinOf(rows[0].CreatedAt)
	}
}

// pinOf rounds t up to the millisecond, the precision lemlist's dates have
// on the wire, so that maxDate=pin still includes the row at t.
func pinOf(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); r.Before(t) {
		return r.Add(time.Millisecond)
	}
	return t
}

// known reports whether the row at off has been fetched.
func (f *fetcher) known(off int) bool {
	return f.row(off) != nil
}

func (f *fetcher) row(off int) *lemlist.Activity {
	for s, rows := range f.segs {
		if off >= s && off < s+len(rows) {
			return rows[off-s]
		}
	}
	return nil
}

// rows returns the fetched rows in [start, end), stopping at the first gap
// (the end of the list).
func (f *fetcher) rows(start, end int) []*lemlist.Activity {
	out := make([]*lemlist.Activity, 0, max(end-start, 0))
	for off := start; off < end; off++ {
		r := f.row(off)
		if r == nil {
			break
		}
		out = append(out, r)
	}
	return out
}

// fetch makes sure rows [start, end) are known, or that the list ends
// before them. It splits the missing rows into calls of at most 100 and
// runs them concurrently, except that an unpinned list's first call runs
// alone, since it sets the pin the others use.
func (f *fetcher) fetch(ctx context.Context, start, end int) error {
	type chunk struct{ off, limit int }
	var chunks []chunk
	for off := start; off < end; {
		if f.ended && off >= f.end {
			break
		}
		if f.known(off) {
			off++
			continue
		}
		n := 1
		for off+n < end && n < lemlist.MaxPageSize && !f.known(off+n) {
			n++
		}
		chunks = append(chunks, chunk{off, n})
		off += n
	}
	if len(chunks) == 0 {
		return nil
	}
	if f.pin.IsZero() {
		c := chunks[0]
		rows, err := f.call(ctx, c.off, c.limit)
		if err != nil {
			return err
		}
		f.store(c.off, c.limit, rows)
		chunks = chunks[1:]
		if f.ended {
			return nil
		}
	}
	results := make([][]*lemlist.Activity, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.concurrency)
	for i, c := range chunks {
		g.Go(func() error {
			rows, err := f.call(gctx, c.off, c.limit)
			results[i] = rows
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, c := range chunks {
		f.store(c.off, c.limit, results[i])
	}
	return nil
}

// findEnd returns the length of the pinned list, knowing it is at least
// lo. It gallops with probes of p = min(n, 100) rows at lo, lo+p, lo+3p,
// lo+7p… until one comes back short, then binary-searches the last gap:
// O(log(len/p)) calls. Probe rows are kept, so the last probes usually hold
// the page itself.
func (f *fetcher) findEnd(ctx context.Context, lo, n int) (int, error) {
	p := min(max(n, 1), lemlist.MaxPageSize)
	probe := func(off int) (int, error) {
		rows, err := f.call(ctx, off, p)
		if err != nil {
			return 0, err
		}
		f.store(off, p, rows)
		return len(rows), nil
	}
	// The length is at least a; once a probe comes back empty, at most b.
	a, b := lo, -1
	for off := lo; b < 0; off = 2*off - lo + p {
		if off > MaxOffset {
			return 0, errors.New("relay: list too long to find its end")
		}
		k, err := probe(off)
		switch {
		case err != nil:
			return 0, err
		case k == 0:
			b = off
		case k < p:
			return off + k, nil
		default:
			a = off + p
		}
	}
	for a < b {
		// The probe at mid settles the length if it lies in (mid, mid+p), so
		// split the rest evenly on both sides; start no earlier than a-1,
		// where a probe returns at least one row.
		mid := max(a-1, a+(b-a-p)/2)
		k, err := probe(mid)
		switch {
		case err != nil:
			return 0, err
		case k == 0:
			b = mid
		case k < p:
			return mid + k, nil
		default:
			a = mid + p
		}
	}
	return a, nil
}
