package relay

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// mergedExpect is the merge of streams as the sim holds it now: its rows
// (newest first, ties by ID desc) that one of the streams selects.
func mergedExpect(t testing.TB, s *sim, streams []activityfilter.Filter) []*lemlist.Activity {
	t.Helper()
	var out []*lemlist.Activity
	seen := map[string]bool{}
	for _, f := range streams {
		for _, a := range s.expect(t, f) {
			if seen[a.ID] {
				t.Fatalf("streams overlap on %s", a.ID)
			}
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *lemlist.Activity) int {
		if Before(a, b) {
			return -1
		}
		return 1
	})
	return out
}

func newMergeReq(streams []activityfilter.Filter) *MergeRequest {
	return &MergeRequest{Streams: streams, DefaultSize: 20, MaxSize: 1000, Concurrency: 4}
}

func mustMerged(t testing.TB, s *sim, r *MergeRequest) *Page {
	t.Helper()
	p, err := PaginateMerged(context.Background(), s.list, r)
	if err != nil {
		t.Fatalf("PaginateMerged: %v", err)
	}
	if len(p.Cursors) != len(p.Rows) {
		t.Fatalf("%d cursors for %d rows", len(p.Cursors), len(p.Rows))
	}
	return p
}

// mergedIndex decodes a merged cursor and returns its position in the
// merged list (the sum of its offsets) and its pin.
func mergedIndex(t testing.TB, s string) (int, time.Time) {
	t.Helper()
	c, err := DecodeMergeCursor(s)
	if err != nil {
		t.Fatalf("cursor %q: %v", s, err)
	}
	n := 0
	for _, off := range c.Pos {
		n += off
	}
	return n, c.Pin
}

// mergedForward pages through the merge with first=size.
func mergedForward(t testing.TB, s *sim, streams []activityfilter.Filter, size int, between func()) []*lemlist.Activity {
	t.Helper()
	var all []*lemlist.Activity
	var after *string
	var pin time.Time
	for i := 0; ; i++ {
		if i > 10_000 {
			t.Fatal("forward paging does not end")
		}
		if i > 0 && between != nil {
			between()
		}
		r := newMergeReq(streams)
		r.First, r.After, r.NeedHasNextPage = ip(size), after, true
		p := mustMerged(t, s, r)
		if p.HasPreviousPage != (i > 0) {
			t.Fatalf("page %d: hasPreviousPage = %v", i, p.HasPreviousPage)
		}
		if p.HasNextPage && len(p.Rows) != size {
			t.Fatalf("page %d: %d rows of %d with hasNextPage", i, len(p.Rows), size)
		}
		for k, c := range p.Cursors {
			idx, cpin := mergedIndex(t, c)
			if idx != len(all)+k {
				t.Fatalf("page %d edge %d: cursor at %d, want %d", i, k, idx, len(all)+k)
			}
			if !pin.IsZero() && !cpin.Equal(pin) {
				t.Fatalf("page %d: pin moved from %v to %v", i, pin, cpin)
			}
			pin = cpin
		}
		all = append(all, p.Rows...)
		if !p.HasNextPage {
			return all
		}
		after = sp(p.Cursors[len(p.Cursors)-1])
	}
}

// mergedBackward pages from the end with last=size, before=startCursor.
func mergedBackward(t testing.TB, s *sim, streams []activityfilter.Filter, size int, between func()) []*lemlist.Activity {
	t.Helper()
	var pages [][]*lemlist.Activity
	var before *string
	next := -1
	for i := 0; ; i++ {
		if i > 10_000 {
			t.Fatal("backward paging does not end")
		}
		if i > 0 && between != nil {
			between()
		}
		r := newMergeReq(streams)
		r.Last, r.Before = ip(size), before
		p := mustMerged(t, s, r)
		if p.HasNextPage != (i > 0) {
			t.Fatalf("page %d: hasNextPage = %v", i, p.HasNextPage)
		}
		if len(p.Rows) == 0 {
			if i > 0 || p.HasPreviousPage {
				t.Fatalf("page %d: empty with hasPreviousPage=%v", i, p.HasPreviousPage)
			}
			break
		}
		if p.HasPreviousPage && len(p.Rows) != size {
			t.Fatalf("page %d: %d rows of %d with hasPreviousPage", i, len(p.Rows), size)
		}
		start, _ := mergedIndex(t, p.Cursors[0])
		if next >= 0 && start+len(p.Rows) != next {
			t.Fatalf("page %d starts at %d with %d rows, before was at %d", i, start, len(p.Rows), next)
		}
		next = start
		pages = append(pages, p.Rows)
		if !p.HasPreviousPage {
			if start != 0 {
				t.Fatalf("page %d starts at %d without a previous page", i, start)
			}
			break
		}
		before = sp(p.Cursors[0])
	}
	var all []*lemlist.Activity
	for _, p := range slices.Backward(pages) {
		all = append(all, p...)
	}
	return all
}

var mergeCases = []struct {
	name    string
	streams []activityfilter.Filter
}{
	{"three types", Streams(activityfilter.Filter{}, []string{lemlist.TypeEmailsSent, lemlist.TypeEmailsOpened, lemlist.TypeLinkedinSent}, nil)},
	{"two types of a campaign", Streams(activityfilter.Filter{CampaignID: "cam_1"}, []string{lemlist.TypeEmailsReplied, lemlist.TypeEmailsOpened}, nil)},
	{"three leads", Streams(activityfilter.Filter{}, nil, []string{"lea_1", "lea_4", "lea_6"})},
	{"types x leads", Streams(activityfilter.Filter{IsFirst: bp(false)}, []string{lemlist.TypeEmailsSent, lemlist.TypeLinkedinSent}, []string{"lea_0", "lea_7"})},
	{"one empty stream", Streams(activityfilter.Filter{}, []string{lemlist.TypeEmailsSent, "neverSeen"}, nil)},
	{"all four types", Streams(activityfilter.Filter{}, simTypes, nil)},
}

func TestMergeTraversal(t *testing.T) {
	t.Parallel()
	s := newSim(1500, 11)
	for _, tc := range mergeCases {
		want := mergedExpect(t, s, tc.streams)
		if len(want) < 50 {
			t.Fatalf("%s: only %d rows", tc.name, len(want))
		}
		for _, size := range []int{1, 7, 100, 333} {
			if size == 1 && len(want) > 400 {
				continue // slow, and covered by the shorter lists
			}
			if diff := cmp.Diff(ids(want), ids(mergedForward(t, s, tc.streams, size, nil))); diff != "" {
				t.Fatalf("%s forward %d (-want +got):\n%s", tc.name, size, diff)
			}
			if diff := cmp.Diff(ids(want), ids(mergedBackward(t, s, tc.streams, size, nil))); diff != "" {
				t.Fatalf("%s backward %d (-want +got):\n%s", tc.name, size, diff)
			}
		}
	}
}

func TestMergeTiesAcrossStreams(t *testing.T) {
	t.Parallel()
	s := newSim(0, 1)
	// Rows of two types interleaved on one createdAt: the merge must order
	// them by ID descending whatever their stream.
	at := simBase.Add(time.Hour)
	for i := range 12 {
		typ := simTypes[i%3]
		s.rows = append(s.rows, &lemlist.Activity{ID: "act_" + string(rune('z'-i)), Type: typ, CreatedAt: at, IsFirst: bp(false)})
	}
	streams := Streams(activityfilter.Filter{}, simTypes[:3], nil)
	want := mergedExpect(t, s, streams)
	for _, size := range []int{1, 5} {
		if diff := cmp.Diff(ids(want), ids(mergedForward(t, s, streams, size, nil))); diff != "" {
			t.Fatalf("forward %d (-want +got):\n%s", size, diff)
		}
		if diff := cmp.Diff(ids(want), ids(mergedBackward(t, s, streams, size, nil))); diff != "" {
			t.Fatalf("backward %d (-want +got):\n%s", size, diff)
		}
	}
}

func TestMergeCallBound(t *testing.T) {
	t.Parallel()
	s := newSim(6000, 5)
	for _, tc := range mergeCases {
		k := len(tc.streams)
		for _, n := range []int{0, 1, 20, 99, 100, 101, 250, 500} {
			for _, need := range []bool{false, true} {
				s.reset()
				r := newMergeReq(tc.streams)
				r.First, r.NeedHasNextPage = ip(n), need
				p := mustMerged(t, s, r)
				want := mergedExpect(t, s, tc.streams)
				if diff := cmp.Diff(ids(sub(want, 0, n)), ids(p.Rows)); diff != "" {
					t.Fatalf("%s first %d (-want +got):\n%s", tc.name, n, diff)
				}
				if need && p.HasNextPage != (len(want) > n) {
					t.Fatalf("%s first %d: hasNextPage = %v with %d rows", tc.name, n, p.HasNextPage, len(want))
				}
				wantRows := n
				if need {
					wantRows++
				}
				bound := k * ceilDiv(wantRows, 100)
				if wantRows > 0 {
					bound++ // the probe that pins a first page
				}
				if got := int(s.calls.Load()); got > bound {
					t.Errorf("%s first %d need %v: %d calls, bound %d", tc.name, n, need, got, bound)
				}
				// Every stream yields at most n+1 rows (n+1 only with the
				// lookahead), in calls of at most 100.
				per := map[uint64]int{}
				for i, o := range s.opts() {
					if o.Limit < 1 || o.Limit > 100 {
						t.Fatalf("limit %d", o.Limit)
					}
					if i == 0 && o.Limit == 1 && k > 1 {
						continue // the probe
					}
					f := activityfilter.Filter{Type: o.Type, CampaignID: o.CampaignID, LeadID: o.LeadID, IsFirst: o.IsFirst}
					per[f.Hash()] += o.Limit
				}
				for h, rows := range per {
					if rows > max(n+1, 1) {
						t.Errorf("%s first %d: stream %x asked for %d rows", tc.name, n, h, rows)
					}
				}
			}
		}
	}
}

func TestMergeLastBeforeCallBound(t *testing.T) {
	t.Parallel()
	s := newSim(4000, 8)
	streams := mergeCases[0].streams
	k := len(streams)
	want := mergedExpect(t, s, streams)
	// A cursor in the middle.
	r := newMergeReq(streams)
	r.First = ip(700)
	mid := mustMerged(t, s, r)
	for _, n := range []int{1, 50, 100, 250} {
		s.reset()
		r := newMergeReq(streams)
		r.Last, r.Before = ip(n), sp(mid.Cursors[699])
		p := mustMerged(t, s, r)
		if diff := cmp.Diff(ids(sub(want, 699-n, 699)), ids(p.Rows)); diff != "" {
			t.Fatalf("last %d before 699 (-want +got):\n%s", n, diff)
		}
		if !p.HasPreviousPage || !p.HasNextPage {
			t.Errorf("last %d: pageInfo prev=%v next=%v", n, p.HasPreviousPage, p.HasNextPage)
		}
		if got, bound := int(s.calls.Load()), k*ceilDiv(n, 100)+k; got > bound {
			t.Errorf("last %d before: %d calls, bound %d", n, got, bound)
		}
	}
}

func TestMergeCursorCombinations(t *testing.T) {
	t.Parallel()
	s := newSim(900, 3)
	streams := mergeCases[2].streams
	want := mergedExpect(t, s, streams)
	r := newMergeReq(streams)
	r.First = ip(len(want))
	all := mustMerged(t, s, r)
	cur := func(i int) *string { return sp(all.Cursors[i]) }
	for _, tc := range []struct {
		name           string
		first, last    *int
		after, before  *string
		lo, hi         int
		hasPrev, hasNx bool
	}{
		{"first after", ip(10), nil, cur(5), nil, 6, 16, true, true},
		{"first after before", ip(10), nil, cur(5), cur(9), 6, 9, true, false},
		{"first after before more", ip(2), nil, cur(5), cur(9), 6, 8, true, true},
		{"last after before", nil, ip(2), cur(5), cur(12), 10, 12, true, true},
		{"last after before all", nil, ip(20), cur(5), cur(12), 6, 12, false, true},
		{"first before", ip(3), nil, nil, cur(40), 0, 3, false, true},
		{"last after", nil, ip(4), cur(len(want) - 10), nil, len(want) - 4, len(want), true, false},
		{"last after at end", nil, ip(4), cur(len(want) - 1), nil, len(want), len(want), false, false},
		{"after before crossed", ip(5), nil, cur(20), cur(10), 21, 21, true, false},
	} {
		r := newMergeReq(streams)
		r.First, r.Last, r.After, r.Before = tc.first, tc.last, tc.after, tc.before
		p := mustMerged(t, s, r)
		if diff := cmp.Diff(ids(sub(want, tc.lo, tc.hi)), ids(p.Rows)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if p.HasPreviousPage != tc.hasPrev || p.HasNextPage != tc.hasNx {
			t.Errorf("%s: prev=%v next=%v, want %v %v", tc.name, p.HasPreviousPage, p.HasNextPage, tc.hasPrev, tc.hasNx)
		}
	}
}

func TestMergeStable(t *testing.T) {
	t.Parallel()
	for _, tc := range mergeCases {
		s := newSim(1200, 21)
		want := mergedExpect(t, s, tc.streams)
		got := mergedForward(t, s, tc.streams, 45, func() { s.insert(17) })
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Fatalf("%s forward with inserts (-want +got):\n%s", tc.name, diff)
		}
		want = mergedExpect(t, s, tc.streams)
		got = mergedBackward(t, s, tc.streams, 45, func() { s.insert(17) })
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Fatalf("%s backward with inserts (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestMergeInsertsDuringFirstPage(t *testing.T) {
	t.Parallel()
	s := newSim(800, 4)
	streams := mergeCases[0].streams
	want := mergedExpect(t, s, streams)
	s.insertPerCall = 3 // rows arrive while the first page's calls run
	got := mergedForward(t, s, streams, 60, nil)
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestMergeSingleStreamIsOneList(t *testing.T) {
	t.Parallel()
	s := newSim(300, 2)
	f := activityfilter.Filter{Type: lemlist.TypeEmailsSent}
	r := newMergeReq(Streams(activityfilter.Filter{}, []string{lemlist.TypeEmailsSent, lemlist.TypeEmailsSent}, nil))
	r.First = ip(5)
	p := mustMerged(t, s, r)
	checkCursors(t, p, f, 0, time.Time{})
}

func TestMergeBadInput(t *testing.T) {
	t.Parallel()
	s := newSim(300, 9)
	streams := mergeCases[0].streams
	other := mergeCases[2].streams
	r := newMergeReq(streams)
	r.First = ip(3)
	good := mustMerged(t, s, r).Cursors[1]
	r = newMergeReq(other)
	r.First = ip(3)
	otherCur := mustMerged(t, s, r).Cursors[1]
	single := mustPage(t, s, &Request{Args: Args{First: ip(3)}, Filter: activityfilter.Filter{Type: lemlist.TypeEmailsSent}, DefaultSize: 20, MaxSize: 100}).Cursors[1]
	tooMany := make([]activityfilter.Filter, MaxStreams+1)
	for i := range tooMany {
		tooMany[i] = activityfilter.Filter{LeadID: "lea_" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
	}
	for _, tc := range []struct {
		name    string
		streams []activityfilter.Filter
		args    Args
		arg     string
	}{
		{"single-list cursor", streams, Args{First: ip(2), After: &single}, "after"},
		{"other streams' cursor", streams, Args{First: ip(2), After: &otherCur}, "after"},
		{"garbage", streams, Args{Last: ip(2), Before: sp("xyz")}, "before"},
		{"flipped", streams, Args{First: ip(2), After: sp(flipChar(good))}, "after"},
		{"negative", streams, Args{First: ip(-1)}, "first"},
		{"both", streams, Args{First: ip(1), Last: ip(1)}, "first"},
		{"too large", streams, Args{Last: ip(1001)}, "last"},
		{"too many streams", tooMany, Args{First: ip(1)}, "filter"},
		{"no stream, a cursor", nil, Args{First: ip(1), After: &good}, "after"},
		{"dates", Streams(activityfilter.Filter{MinDate: simBase, MaxDate: simBase}, simTypes[:2], nil), Args{}, "filter.maxDate"},
	} {
		s.reset()
		r := newMergeReq(tc.streams)
		r.Args = tc.args
		_, err := PaginateMerged(context.Background(), s.list, r)
		var ie *activityfilter.InputError
		if !errors.As(err, &ie) || ie.Arg != tc.arg {
			t.Errorf("%s: error %v, want an activityfilter.InputError on %s", tc.name, err, tc.arg)
		}
		if err := r.Validate(); err == nil {
			t.Errorf("%s: Validate accepts it", tc.name)
		}
		if n := s.calls.Load(); n != 0 {
			t.Errorf("%s: %d calls", tc.name, n)
		}
	}
	// And the other way: a merged cursor on a single list.
	_, err := Paginate(context.Background(), s.list, &Request{Args: Args{First: ip(2), After: &good}, Filter: activityfilter.Filter{}, DefaultSize: 20, MaxSize: 100})
	var ie *activityfilter.InputError
	if !errors.As(err, &ie) || ie.Arg != "after" {
		t.Errorf("merged cursor on one list: %v", err)
	}
}

func flipChar(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

func TestMergeNoStream(t *testing.T) {
	t.Parallel()
	s := newSim(10, 1)
	r := newMergeReq(nil)
	r.First = ip(10)
	p := mustMerged(t, s, r)
	if len(p.Rows) != 0 || p.HasNextPage || p.HasPreviousPage || s.calls.Load() != 0 {
		t.Fatalf("page %+v after %d calls", p, s.calls.Load())
	}
}

func TestMergeCursorEncoding(t *testing.T) {
	t.Parallel()
	pin := time.Date(2026, 5, 11, 8, 7, 38, 375e6, time.UTC)
	for _, c := range []MergeCursor{
		{Pos: []int{0, 0}, Stream: 1, Pin: pin, Filter: 1},
		{Pos: []int{3, MaxOffset, 0}, Stream: 2, Pin: pin, Filter: ^uint64(0)},
		{Pos: make([]int, MaxStreams), Stream: MaxStreams - 1, Pin: time.UnixMilli(maxPinMillis).UTC()},
	} {
		for i := range c.Pos {
			if c.Pos[i] == 0 && len(c.Pos) == MaxStreams {
				c.Pos[i] = MaxOffset
			}
		}
		s := c.Encode()
		if len(s) > maxMergeCursorLen {
			t.Fatalf("cursor of %d streams is %d chars", len(c.Pos), len(s))
		}
		got, err := DecodeMergeCursor(s)
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
		if _, err := DecodeCursor(s); err == nil {
			t.Fatalf("DecodeCursor accepts a merged cursor")
		}
		// Every single-character change is refused.
		for i := range s {
			b := []byte(s)
			b[i] ^= 1
			if _, err := DecodeMergeCursor(string(b)); err == nil && string(b) != s {
				t.Fatalf("mutation at %d accepted", i)
			}
		}
	}
	for _, bad := range []MergeCursor{
		{Pos: []int{1}, Stream: 1, Pin: pin},                  // stream out of range
		{Pos: nil, Stream: 0, Pin: pin},                       // no stream
		{Pos: make([]int, MaxStreams+1), Stream: 0, Pin: pin}, // too many
		{Pos: []int{MaxOffset + 1, 0}, Stream: 0, Pin: pin},   // offset
	} {
		if _, err := DecodeMergeCursor(bad.Encode()); err == nil {
			t.Errorf("cursor %+v accepted", bad)
		}
	}
}

func TestScanner(t *testing.T) {
	t.Parallel()
	s := newSim(5000, 13)
	for _, tc := range mergeCases {
		want := mergedExpect(t, s, tc.streams)
		// Full scan, after an estimate.
		s.reset()
		sc := NewScanner(s.list, tc.streams, 1000, 4)
		est, err := sc.Estimate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		probes := sc.Calls()
		var got []*lemlist.Activity
		res, err := sc.Scan(context.Background(), func(a *lemlist.Activity) { got = append(got, a) })
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Fatalf("%s: scan (-want +got):\n%s", tc.name, diff)
		}
		if res.Partial || res.Rows != len(want) {
			t.Fatalf("%s: result %+v for %d rows", tc.name, res, len(want))
		}
		if sc.Calls() > est {
			t.Errorf("%s: scan took %d calls, estimate was %d", tc.name, sc.Calls(), est)
		}
		lower := 0
		for _, f := range tc.streams {
			lower += ceilDiv(len(s.expect(t, f)), 100)
		}
		if est < lower || est > lower+probes {
			t.Errorf("%s: estimate %d, want %d..%d (%d probes)", tc.name, est, lower, lower+probes, probes)
		}
		// Without an estimate, a scan costs ⌈len/100⌉ per stream, plus up
		// to concurrency-1 calls of read-ahead past a stream's end (or
		// one for a stream that ends on a full page), plus the probe.
		s.reset()
		sc = NewScanner(s.list, tc.streams, 1000, 4)
		var again []*lemlist.Activity
		if _, err := sc.Scan(context.Background(), func(a *lemlist.Activity) { again = append(again, a) }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(want), ids(again)); diff != "" {
			t.Fatalf("%s: scan without estimate (-want +got):\n%s", tc.name, diff)
		}
		if bound := lower + 3*len(tc.streams) + 1; sc.Calls() > bound {
			t.Errorf("%s: scan took %d calls, want at most %d", tc.name, sc.Calls(), bound)
		}
		for i, o := range s.opts() {
			if i == 0 && o.Limit == 1 {
				continue // the probe
			}
			if o.Offset%100 != 0 || o.Limit != 100 {
				t.Fatalf("%s: unaligned scan page offset %d limit %d", tc.name, o.Offset, o.Limit)
			}
		}
	}
}

func TestScannerBudget(t *testing.T) {
	t.Parallel()
	s := newSim(5000, 17)
	streams := mergeCases[0].streams
	want := mergedExpect(t, s, streams)
	for _, budget := range []int{len(streams) + 1, len(streams) + 2, 7, 12} {
		s.reset()
		sc := NewScanner(s.list, streams, budget, 4)
		var got []*lemlist.Activity
		res, err := sc.Scan(context.Background(), func(a *lemlist.Activity) { got = append(got, a) })
		if err != nil {
			t.Fatal(err)
		}
		if !res.Partial || sc.Calls() != budget || int(s.calls.Load()) != budget {
			t.Fatalf("budget %d: %+v after %d calls", budget, res, sc.Calls())
		}
		// A prefix of the merge, which holds every row newer than
		// CoveredFrom.
		if diff := cmp.Diff(ids(want[:len(got)]), ids(got)); diff != "" {
			t.Fatalf("budget %d: not a prefix (-want +got):\n%s", budget, diff)
		}
		for _, a := range want[len(got):] {
			if a.CreatedAt.After(res.CoveredFrom) {
				t.Fatalf("budget %d: %s at %v is newer than coveredFrom %v but not counted", budget, a.ID, a.CreatedAt, res.CoveredFrom)
			}
		}
	}
	// A budget that does not reach every stream scans nothing.
	sc := NewScanner(s.list, streams, len(streams), 4)
	res, err := sc.Scan(context.Background(), func(*lemlist.Activity) { t.Fatal("visited") })
	if err != nil || !res.Partial || res.Rows != 0 || !res.CoveredFrom.IsZero() {
		t.Fatalf("budget %d: %+v, %v", len(streams), res, err)
	}
	// An estimate the budget cuts short.
	sc = NewScanner(s.list, streams, 2, 4)
	if _, err := sc.Estimate(context.Background()); !errors.Is(err, ErrBudget) {
		t.Fatalf("estimate over budget: %v", err)
	}
}

func TestScannerPinned(t *testing.T) {
	t.Parallel()
	s := newSim(3000, 19)
	streams := mergeCases[0].streams
	want := mergedExpect(t, s, streams)
	s.insertPerCall = 5
	sc := NewScanner(s.list, streams, 1000, 4)
	var got []*lemlist.Activity
	if _, err := sc.Scan(context.Background(), func(a *lemlist.Activity) { got = append(got, a) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Fatalf("scan with inserts (-want +got):\n%s", diff)
	}
	if !sc.Pin().Equal(pinOf(want[0].CreatedAt)) {
		t.Fatalf("pin %v, want %v", sc.Pin(), want[0].CreatedAt)
	}
}

func TestScannerReadsAhead(t *testing.T) {
	t.Parallel()
	s := newSim(4000, 23)
	s.delay = ms(2)
	want := s.expect(t, activityfilter.Filter{})
	sc := NewScanner(s.list, []activityfilter.Filter{{}}, 1000, 4)
	n := 0
	if _, err := sc.Scan(context.Background(), func(*lemlist.Activity) { n++ }); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("scanned %d of %d", n, len(want))
	}
	if m := s.maxInFlight.Load(); m < 2 || m > 4 {
		t.Errorf("%d calls in flight at most, want 2..4", m)
	}
	// One stream needs no probe: ⌈len/100⌉ pages and at most 3 past the end.
	if got, pages := sc.Calls(), ceilDiv(len(want), 100); got < pages || got > pages+3 {
		t.Errorf("%d calls for %d pages", got, pages)
	}
}

func FuzzDecodeMergeCursor(f *testing.F) {
	pin := time.Date(2026, 5, 11, 8, 7, 38, 375e6, time.UTC)
	for _, c := range []MergeCursor{
		{Pos: []int{0, 0}, Stream: 1, Pin: pin, Filter: 1},
		{Pos: []int{3, 1 << 20, 7}, Stream: 0, Pin: pin, Filter: ^uint64(0)},
		{Pos: []int{1}, Stream: 1, Pin: pin}, // invalid stream
	} {
		f.Add(c.Encode())
	}
	f.Add(Cursor{Offset: 3, Pin: pin, Filter: 1}.Encode())
	f.Add("")
	f.Add("AgIAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeMergeCursor(s)
		if err != nil {
			if !errors.Is(err, errCursor) {
				t.Fatalf("DecodeMergeCursor(%q): %v does not wrap errCursor", s, err)
			}
			return
		}
		if len(c.Pos) == 0 || len(c.Pos) > MaxStreams || c.Stream < 0 || c.Stream >= len(c.Pos) {
			t.Fatalf("DecodeMergeCursor(%q) = %+v out of range", s, c)
		}
		for _, off := range c.Pos {
			if off < 0 || off > MaxOffset {
				t.Fatalf("DecodeMergeCursor(%q) = %+v: offset out of range", s, c)
			}
		}
		if e := c.Encode(); e != s {
			t.Fatalf("DecodeMergeCursor(%q) = %+v, which encodes to %q", s, c, e)
		}
		if _, err := DecodeCursor(s); err == nil {
			t.Fatalf("DecodeCursor accepts merged cursor %q", s)
		}
	})
}
