package relay

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

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

// forgetBefore drops the fetched runs that end at or before off.
func (f *fetcher) forgetBefore(off int) {
	for s, rows := range f.segs {
		if s+len(rows) <= off {
			delete(f.segs, s)
		}
	}
}
