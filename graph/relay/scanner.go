package relay

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

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
	// Once pinned, a stream's pages are independent: its read-ahead
	// (s.chunk) runs up to concurrency calls at once.
	s.m = newMerger(counted, canonical(streams), mergerConfig{
		concurrency: concurrency, streamConcurrency: concurrency, chunk: s.chunk, forget: true,
	})
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
