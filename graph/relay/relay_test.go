package relay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

// ---------------------------------------------------------------------------
// In-memory upstream simulator.
// ---------------------------------------------------------------------------

// simBase is the createdAt of a simulator's oldest activity.
var simBase = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var simTypes = []string{
	lemlist.TypeEmailsSent, lemlist.TypeEmailsOpened,
	lemlist.TypeEmailsReplied, lemlist.TypeLinkedinSent,
}

// sim is an in-memory GET /activities. Its rows are sorted newest first
// (createdAt desc, then ID desc), many rows share a createdAt, and list
// applies ActivityListOptions the way lemlist does: it sees only what goes
// over the wire (opts.Values(), dates at millisecond precision), filters on
// type/campaignId/leadId/isFirst, bounds createdAt by minDate/maxDate
// inclusive, refuses maxDate <= minDate and a limit outside 1..100.
type sim struct {
	mu     sync.Mutex
	rows   []*lemlist.Activity // guarded by mu
	rng    *rand.Rand          // guarded by mu
	nextID int                 // guarded by mu
	log    []lemlist.ActivityListOptions

	// insertPerCall, when > 0, inserts that many new activities at the top
	// after every call (set before use).
	insertPerCall int
	// failAt, when > 0, makes the call with that 1-based number fail with
	// failErr (set before use).
	failAt  int64
	failErr error
	// delay is slept in every call (set before use).
	delay time.Duration
	// quiet, when set, keeps no log of the calls (set before use).
	quiet bool

	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

// newSim returns a simulator holding n activities.
func newSim(n int, seed uint64) *sim {
	s := &sim{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.rows = s.gen(n, simBase)
	return s
}

// gen makes n activities, the oldest at or after from, and returns them
// newest first. A quarter of them share the createdAt of their neighbour.
// mu must be held or s not shared yet.
func (s *sim) gen(n int, from time.Time) []*lemlist.Activity {
	acts := make([]lemlist.Activity, n) // one block: lists reach 100_000
	out := make([]*lemlist.Activity, n)
	t := from
	for i := range n {
		if i > 0 && s.rng.IntN(4) != 0 {
			t = t.Add(time.Duration(1+s.rng.IntN(5000)) * time.Millisecond)
		}
		first := s.rng.IntN(3) == 0
		a := &acts[i]
		a.ID = fmt.Sprintf("act_%08d", s.nextID)
		a.Type = simTypes[s.rng.IntN(len(simTypes))]
		a.CreatedAt = t
		a.CampaignID = "cam_" + strconv.Itoa(s.rng.IntN(3))
		a.LeadID = "lea_" + strconv.Itoa(s.rng.IntN(8))
		a.IsFirst = &first
		s.nextID++
		out[n-1-i] = a // newest first; ties keep the larger ID first
	}
	return out
}

// insert adds n activities at the top, all newer than every existing one.
func (s *sim) insert(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insertLocked(n)
}

func (s *sim) insertLocked(n int) {
	from := simBase
	if len(s.rows) > 0 {
		from = s.rows[0].CreatedAt
	}
	s.rows = append(s.gen(n, from.Add(time.Second)), s.rows...)
}

// wire is what lemlist receives.
type wire struct {
	typ, campaign, lead string
	isFirst             *bool
	min, max            time.Time
	offset, limit       int
}

func parseWire(q url.Values) (wire, error) {
	w := wire{typ: q.Get("type"), campaign: q.Get("campaignId"), lead: q.Get("leadId"), limit: -1}
	if v := q.Get("isFirst"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return w, err
		}
		w.isFirst = &b
	}
	for _, d := range []struct {
		k   string
		dst *time.Time
	}{{"minDate", &w.min}, {"maxDate", &w.max}} {
		if v := q.Get(d.k); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return w, fmt.Errorf("sim: %s: %w", d.k, err)
			}
			*d.dst = t
		}
	}
	if !w.min.IsZero() && !w.max.IsZero() && !w.max.After(w.min) {
		return w, fmt.Errorf("sim: maxDate %s must be after minDate %s", w.max, w.min)
	}
	for _, x := range []struct {
		k   string
		dst *int
	}{{"offset", &w.offset}, {"limit", &w.limit}} {
		if v := q.Get(x.k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return w, err
			}
			*x.dst = n
		}
	}
	return w, nil
}

func (w wire) match(a *lemlist.Activity) bool {
	return (w.typ == "" || a.Type == w.typ) &&
		(w.campaign == "" || a.CampaignID == w.campaign) &&
		(w.lead == "" || a.LeadID == w.lead) &&
		(w.isFirst == nil || (a.IsFirst != nil && *a.IsFirst == *w.isFirst)) &&
		(w.min.IsZero() || !a.CreatedAt.Before(w.min)) &&
		(w.max.IsZero() || !a.CreatedAt.After(w.max))
}

// scan returns the matching rows [offset, offset+limit); limit < 0: all.
// mu must be held.
func (s *sim) scan(w wire) []*lemlist.Activity {
	if w.typ == "" && w.campaign == "" && w.lead == "" && w.isFirst == nil {
		// Dates only: the matching rows are one run, found by bisection
		// (rows are sorted by createdAt desc). Same result, far faster on
		// the long lists.
		lo, hi := 0, len(s.rows)
		if !w.max.IsZero() {
			lo = sort.Search(len(s.rows), func(i int) bool { return !s.rows[i].CreatedAt.After(w.max) })
		}
		if !w.min.IsZero() {
			hi = sort.Search(len(s.rows), func(i int) bool { return s.rows[i].CreatedAt.Before(w.min) })
		}
		end := hi
		if w.limit >= 0 {
			end = min(hi, lo+w.offset+w.limit)
		}
		return slices.Clone(sub(s.rows, lo+w.offset, end))
	}
	var out []*lemlist.Activity
	skip := w.offset
	for _, a := range s.rows {
		if !w.match(a) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, a)
		if len(out) == w.limit {
			break
		}
	}
	return out
}

// list is the Lister. It is safe for concurrent use.
func (s *sim) list(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	n := s.calls.Add(1)
	cur := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); cur > m && !s.maxInFlight.CompareAndSwap(m, cur); m = s.maxInFlight.Load() {
	}
	if o == nil {
		return nil, errors.New("sim: nil options")
	}
	if !s.quiet {
		s.mu.Lock()
		s.log = append(s.log, *o)
		s.mu.Unlock()
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n == s.failAt {
		return nil, s.failErr
	}
	if o.Limit < 1 || o.Limit > lemlist.MaxPageSize {
		return nil, fmt.Errorf("sim: limit %d out of range 1..%d", o.Limit, lemlist.MaxPageSize)
	}
	q, err := o.Values()
	if err != nil {
		return nil, err
	}
	w, err := parseWire(q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.scan(w)
	if s.insertPerCall > 0 {
		s.insertLocked(s.insertPerCall)
	}
	return out, nil
}

// expect returns the list f selects right now, as an unpinned client
// would see it.
func (s *sim) expect(t testing.TB, f activityfilter.Filter) []*lemlist.Activity {
	t.Helper()
	q, err := f.Options(time.Time{}, 0, 1).Values()
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseWire(q)
	if err != nil {
		t.Fatal(err)
	}
	w.limit = -1
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scan(w)
}

// reset forgets the calls made so far.
func (s *sim) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	s.calls.Store(0)
	s.maxInFlight.Store(0)
}

// opts returns the options of the calls since the last reset, in arrival
// order.
func (s *sim) opts() []lemlist.ActivityListOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

func ip(n int) *int          { return &n }
func sp(s string) *string    { return &s }
func bp(b bool) *bool        { return &b }
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func ids(rows []*lemlist.Activity) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// sub returns list[lo:hi] clamped to the list.
func sub(list []*lemlist.Activity, lo, hi int) []*lemlist.Activity {
	lo, hi = min(max(lo, 0), len(list)), min(max(hi, 0), len(list))
	if hi < lo {
		hi = lo
	}
	return list[lo:hi]
}

func newReq(f activityfilter.Filter) *Request {
	return &Request{Filter: f, DefaultSize: 20, MaxSize: 1000, Concurrency: 4}
}

// cur mints the cursor of offset off in f's list pinned at pin.
func cur(f activityfilter.Filter, pin time.Time, off int) *string {
	return sp(Cursor{Offset: off, Pin: pin, Filter: f.Hash()}.Encode())
}

func mustPage(t testing.TB, s *sim, r *Request) *Page {
	t.Helper()
	p, err := Paginate(context.Background(), s.list, r)
	if err != nil {
		t.Fatalf("Paginate(%s): %v", describe(r), err)
	}
	if len(p.Cursors) != len(p.Rows) {
		t.Fatalf("%d cursors for %d rows", len(p.Cursors), len(p.Rows))
	}
	return p
}

func describe(r *Request) string {
	s := ""
	if r.First != nil {
		s += fmt.Sprintf("first:%d ", *r.First)
	}
	if r.Last != nil {
		s += fmt.Sprintf("last:%d ", *r.Last)
	}
	if r.After != nil {
		c, _ := DecodeCursor(*r.After)
		s += fmt.Sprintf("after:%d ", c.Offset)
	}
	if r.Before != nil {
		c, _ := DecodeCursor(*r.Before)
		s += fmt.Sprintf("before:%d ", c.Offset)
	}
	return s + fmt.Sprintf("need:%v", r.NeedHasNextPage)
}

// checkCursors checks that p's cursors name offsets start, start+1, … of
// f's list pinned at pin (pin zero: any one pin shared by all).
func checkCursors(t testing.TB, p *Page, f activityfilter.Filter, start int, pin time.Time) {
	t.Helper()
	for i, s := range p.Cursors {
		c, err := DecodeCursor(s)
		if err != nil {
			t.Fatalf("cursor %d %q: %v", i, s, err)
		}
		if pin.IsZero() {
			pin = c.Pin
		}
		want := Cursor{Offset: start + i, Pin: pin.UTC(), Filter: f.Hash()}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Fatalf("cursor %d (-want +got):\n%s", i, diff)
		}
		if len(s) >= 40 {
			t.Errorf("cursor %q is %d chars long", s, len(s))
		}
	}
}

func pinOfList(list []*lemlist.Activity) time.Time { return pinOf(list[0].CreatedAt) }

// ceilDiv is ⌈a/b⌉.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// ---------------------------------------------------------------------------
// first/after.
// ---------------------------------------------------------------------------

func TestFirstCallCount(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 20, 99, 100, 101, 250, 500} {
		for _, need := range []bool{false, true} {
			t.Run(fmt.Sprintf("first=%d/need=%v", n, need), func(t *testing.T) {
				t.Parallel()
				s := newSim(1000, 1)
				list := s.expect(t, activityfilter.Filter{})
				r := newReq(activityfilter.Filter{})
				r.First, r.NeedHasNextPage = ip(n), need
				p := mustPage(t, s, r)

				want := ceilDiv(n, 100)
				if need && n%100 == 0 {
					want++
				}
				if got := int(s.calls.Load()); got != want {
					t.Errorf("calls = %d, want %d", got, want)
				}
				if diff := cmp.Diff(ids(list[:n]), ids(p.Rows)); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if need && !p.HasNextPage {
					t.Error("hasNextPage = false on a list of 1000")
				}
				if p.HasPreviousPage {
					t.Error("hasPreviousPage = true without after")
				}
				checkCursors(t, p, activityfilter.Filter{}, 0, pinOfList(list))

				// The calls cover [0, n+lookahead) in runs of at most 100,
				// the first one unpinned, every other one pinned.
				type chunk struct{ Off, Limit int }
				var got, wantChunks []chunk
				total := n
				if need {
					total++
				}
				for off := 0; off < total; off += 100 {
					wantChunks = append(wantChunks, chunk{off, min(100, total-off)})
				}
				opts := s.opts()
				for i, o := range opts {
					got = append(got, chunk{o.Offset, o.Limit})
					if i == 0 {
						if !o.MaxDate.IsZero() || o.Offset != 0 {
							t.Errorf("first call %+v: want offset 0, no maxDate", o)
						}
					} else if !o.MaxDate.Equal(pinOfList(list)) {
						t.Errorf("call %d maxDate = %v, want pin %v", i+1, o.MaxDate, pinOfList(list))
					}
				}
				slices.SortFunc(got, func(a, b chunk) int { return a.Off - b.Off })
				if diff := cmp.Diff(wantChunks, got); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestFirstHasNextPageExact(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 20, 100, 200} {
		for _, l := range []int{0, 1, n - 1, n, n + 1, n + 2, 2*n - 1, 2 * n, 2*n + 1} {
			if l < 0 {
				continue
			}
			t.Run(fmt.Sprintf("first=%d/len=%d", n, l), func(t *testing.T) {
				t.Parallel()
				s := newSim(l, uint64(l))
				list := s.expect(t, activityfilter.Filter{})

				r := newReq(activityfilter.Filter{})
				r.First, r.NeedHasNextPage = ip(n), true
				p := mustPage(t, s, r)
				if diff := cmp.Diff(ids(sub(list, 0, n)), ids(p.Rows)); diff != "" {
					t.Errorf("page 1 rows (-want +got):\n%s", diff)
				}
				if p.HasNextPage != (l > n) || p.HasPreviousPage {
					t.Errorf("page 1: hasNext=%v hasPrev=%v, want %v false", p.HasNextPage, p.HasPreviousPage, l > n)
				}
				if l == 0 {
					if s.calls.Load() != 1 {
						t.Errorf("calls = %d on an empty list, want 1", s.calls.Load())
					}
					return
				}
				// Page 2, after the last edge of page 1.
				r.After = sp(p.Cursors[len(p.Cursors)-1])
				p2 := mustPage(t, s, r)
				start := min(n, l)
				if diff := cmp.Diff(ids(sub(list, start, start+n)), ids(p2.Rows)); diff != "" {
					t.Errorf("page 2 rows (-want +got):\n%s", diff)
				}
				if p2.HasNextPage != (l > start+n) || !p2.HasPreviousPage {
					t.Errorf("page 2: hasNext=%v hasPrev=%v, want %v true", p2.HasNextPage, p2.HasPreviousPage, l > start+n)
				}
				checkCursors(t, p2, activityfilter.Filter{}, start, pinOfList(list))
			})
		}
	}
}

func TestHasPreviousPageIffAfter(t *testing.T) {
	t.Parallel()
	s := newSim(50, 2)
	list := s.expect(t, activityfilter.Filter{})
	pin := pinOfList(list)
	for _, tc := range []struct {
		name          string
		after, before *string
		want          bool
	}{
		{"none", nil, nil, false},
		{"after 0", cur(activityfilter.Filter{}, pin, 0), nil, true},
		{"after 48", cur(activityfilter.Filter{}, pin, 48), nil, true},
		{"after last", cur(activityfilter.Filter{}, pin, 49), nil, true},
		{"after beyond", cur(activityfilter.Filter{}, pin, 70), nil, true},
		{"before 30", nil, cur(activityfilter.Filter{}, pin, 30), false},
		{"after 3 before 30", cur(activityfilter.Filter{}, pin, 3), cur(activityfilter.Filter{}, pin, 30), true},
	} {
		r := newReq(activityfilter.Filter{})
		r.First, r.After, r.Before, r.NeedHasNextPage = ip(5), tc.after, tc.before, true
		if p := mustPage(t, s, r); p.HasPreviousPage != tc.want {
			t.Errorf("%s: hasPreviousPage = %v, want %v", tc.name, p.HasPreviousPage, tc.want)
		}
	}
}

func TestDefaultSize(t *testing.T) {
	t.Parallel()
	s := newSim(100, 3)
	list := s.expect(t, activityfilter.Filter{})
	pin := pinOfList(list)

	r := newReq(activityfilter.Filter{})
	r.NeedHasNextPage = true
	p := mustPage(t, s, r)
	if diff := cmp.Diff(ids(list[:20]), ids(p.Rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if !p.HasNextPage || p.HasPreviousPage {
		t.Errorf("hasNext=%v hasPrev=%v, want true false", p.HasNextPage, p.HasPreviousPage)
	}
	if o := s.opts(); len(o) != 1 || o[0].Limit != 21 || o[0].Offset != 0 {
		t.Errorf("calls %+v, want one of limit 21", o)
	}

	s.reset()
	r.DefaultSize = 7
	r.After = cur(activityfilter.Filter{}, pin, 89)
	p = mustPage(t, s, r)
	if diff := cmp.Diff(ids(list[90:97]), ids(p.Rows)); diff != "" {
		t.Errorf("after 89 rows (-want +got):\n%s", diff)
	}
	if !p.HasNextPage || !p.HasPreviousPage {
		t.Errorf("hasNext=%v hasPrev=%v, want true true", p.HasNextPage, p.HasPreviousPage)
	}
	if o := s.opts(); len(o) != 1 || o[0].Limit != 8 || o[0].Offset != 90 || !o[0].MaxDate.Equal(pin) {
		t.Errorf("calls %+v, want one pinned call at offset 90 of limit 8", o)
	}

	s.reset()
	r.DefaultSize = 20
	r.After = cur(activityfilter.Filter{}, pin, 94)
	p = mustPage(t, s, r)
	if diff := cmp.Diff(ids(list[95:]), ids(p.Rows)); diff != "" {
		t.Errorf("after 94 rows (-want +got):\n%s", diff)
	}
	if p.HasNextPage {
		t.Error("hasNextPage = true at the end")
	}
}

// ---------------------------------------------------------------------------
// Full traversals.
// ---------------------------------------------------------------------------

// forward pages through f with first=size until hasNextPage is false,
// calling between() before every page but the first.
func forward(t testing.TB, s *sim, f activityfilter.Filter, size int, between func()) []*lemlist.Activity {
	t.Helper()
	var all []*lemlist.Activity
	var after *string
	var pin time.Time
	maxPages := len(s.expect(t, f))/size + 2
	for i := 0; ; i++ {
		if i > maxPages {
			t.Fatalf("forward paging does not end after %d pages", i)
		}
		if i > 0 && between != nil {
			between()
		}
		r := newReq(f)
		r.First, r.After, r.NeedHasNextPage = ip(size), after, true
		p := mustPage(t, s, r)
		if p.HasPreviousPage != (i > 0) {
			t.Fatalf("page %d: hasPreviousPage = %v", i, p.HasPreviousPage)
		}
		if len(p.Rows) == 0 {
			if i > 0 || p.HasNextPage {
				t.Fatalf("page %d: empty page with hasNextPage=%v", i, p.HasNextPage)
			}
			return all
		}
		if p.HasNextPage && len(p.Rows) != size {
			t.Fatalf("page %d: %d rows of %d with hasNextPage", i, len(p.Rows), size)
		}
		checkCursors(t, p, f, len(all), pin)
		pin, _ = decodePin(p.Cursors[0])
		all = append(all, p.Rows...)
		if !p.HasNextPage {
			return all
		}
		after = sp(p.Cursors[len(p.Cursors)-1])
	}
}

// backward pages through f from the end with last=size, before=startCursor
// until hasPreviousPage is false, calling between() before every page but
// the first, and returns the rows in list order.
func backward(t testing.TB, s *sim, f activityfilter.Filter, size int, between func()) []*lemlist.Activity {
	t.Helper()
	var pages [][]*lemlist.Activity
	var before *string
	var pin time.Time
	next := -1 // offset of the before cursor
	maxPages := len(s.expect(t, f))/size + 2
	for i := 0; ; i++ {
		if i > maxPages {
			t.Fatalf("backward paging does not end after %d pages", i)
		}
		if i > 0 && between != nil {
			between()
		}
		r := newReq(f)
		r.Last, r.Before = ip(size), before
		p := mustPage(t, s, r)
		if p.HasNextPage != (i > 0) {
			t.Fatalf("page %d: hasNextPage = %v", i, p.HasNextPage)
		}
		if len(p.Rows) == 0 {
			if i > 0 || p.HasPreviousPage {
				t.Fatalf("page %d: empty page with hasPreviousPage=%v", i, p.HasPreviousPage)
			}
			break
		}
		if p.HasPreviousPage && len(p.Rows) != size {
			t.Fatalf("page %d: %d rows of %d with hasPreviousPage", i, len(p.Rows), size)
		}
		c, _ := DecodeCursor(p.Cursors[0])
		if next >= 0 && c.Offset+len(p.Rows) != next {
			t.Fatalf("page %d starts at %d with %d rows, before was %d", i, c.Offset, len(p.Rows), next)
		}
		checkCursors(t, p, f, c.Offset, pin)
		pin, next = c.Pin, c.Offset
		pages = append(pages, p.Rows)
		if !p.HasPreviousPage {
			if c.Offset != 0 {
				t.Fatalf("page %d starts at %d without a previous page", i, c.Offset)
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

func decodePin(s string) (time.Time, error) {
	c, err := DecodeCursor(s)
	return c.Pin, err
}

func TestTraversal(t *testing.T) {
	t.Parallel()
	s0 := newSim(700, 4)
	mid, old := s0.rows[100].CreatedAt, s0.rows[400].CreatedAt
	filters := []struct {
		name string
		f    activityfilter.Filter
	}{
		{"all", activityfilter.Filter{}},
		{"type", activityfilter.Filter{Type: lemlist.TypeEmailsReplied}},
		{"campaign", activityfilter.Filter{CampaignID: "cam_1"}},
		{"lead+isFirst", activityfilter.Filter{LeadID: "lea_3", IsFirst: bp(true)}},
		{"isFirst=false", activityfilter.Filter{IsFirst: bp(false)}},
		{"dates", activityfilter.Filter{MinDate: old, MaxDate: mid}},
		{"minDate", activityfilter.Filter{MinDate: mid}},
		{"maxDate", activityfilter.Filter{MaxDate: old}},
		{"type+dates", activityfilter.Filter{Type: lemlist.TypeEmailsSent, MinDate: old, MaxDate: mid}},
		{"none", activityfilter.Filter{Type: "nope"}},
	}
	for _, fc := range filters {
		for _, size := range []int{1, 7, 20, 100, 101, 250} {
			t.Run(fmt.Sprintf("%s/%d", fc.name, size), func(t *testing.T) {
				t.Parallel()
				s := newSim(700, 4)
				want := ids(s.expect(t, fc.f))
				if fc.name != "none" && len(want) < 5 {
					t.Fatalf("filter selects only %d rows", len(want))
				}
				if diff := cmp.Diff(want, ids(forward(t, s, fc.f, size, nil))); diff != "" {
					t.Errorf("forward (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, ids(backward(t, s, fc.f, size, nil))); diff != "" {
					t.Errorf("backward (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// last/before.
// ---------------------------------------------------------------------------

func TestLastGallops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ len, last int }{
		{10_000, 20}, {100_000, 20}, {10_000, 100}, {10_000, 1}, {12_800, 100}, {10_240, 20},
	} {
		t.Run(fmt.Sprintf("len=%d/last=%d", tc.len, tc.last), func(t *testing.T) {
			t.Parallel()
			s := newSim(tc.len, uint64(tc.len))
			r := newReq(activityfilter.Filter{})
			r.Last = ip(tc.last)
			p := mustPage(t, s, r)
			want := s.rows[tc.len-tc.last:]
			if diff := cmp.Diff(ids(want), ids(p.Rows)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if !p.HasPreviousPage || p.HasNextPage {
				t.Errorf("hasPrev=%v hasNext=%v, want true false", p.HasPreviousPage, p.HasNextPage)
			}
			checkCursors(t, p, activityfilter.Filter{}, tc.len-tc.last, pinOfList(s.rows))
			bound := 2*int(math.Ceil(math.Log2(float64(tc.len)/float64(tc.last)))) + 3
			if got := int(s.calls.Load()); got > bound {
				t.Errorf("calls = %d, want <= %d", got, bound)
			} else {
				t.Logf("calls = %d (bound %d)", got, bound)
			}
			for i, o := range s.opts() {
				if o.Limit > tc.last || (i > 0 && !o.MaxDate.Equal(pinOfList(s.rows))) {
					t.Errorf("call %d: %+v", i+1, o)
				}
			}
		})
	}
}

// TestFindEndCalls checks the galloping search alone against lists of
// every shape, the worst being lengths of p·2^k: the length is right and
// the calls stay within 2·⌈log2(len/p)⌉+3.
func TestFindEndCalls(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 3, 20, 100, 250} {
		p := min(max(n, 1), lemlist.MaxPageSize)
		lengths := []int{}
		for l := 0; l <= 40_000; l += 1 + l/50 {
			lengths = append(lengths, l)
		}
		for k := p; k <= 1<<22; k *= 2 {
			lengths = append(lengths, k-1, k, k+1)
		}
		page := make([]*lemlist.Activity, p)
		for _, lo := range []int{0, 1, 37, 1000} {
			for _, l := range lengths {
				calls := 0
				list := func(_ context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
					calls++
					if o.Limit != p || o.Offset < lo || !o.MaxDate.Equal(simBase) {
						t.Fatalf("len=%d lo=%d n=%d: call %+v", l, lo, n, o)
					}
					return page[:max(0, min(o.Limit, l-o.Offset))], nil
				}
				f := &fetcher{list: list, pin: simBase, concurrency: 1}
				end, err := f.findEnd(context.Background(), lo, n)
				if err != nil || end != max(l, lo) {
					t.Fatalf("len=%d lo=%d n=%d: findEnd = %d, %v", l, lo, n, end, err)
				}
				span := math.Max(float64(l-lo)/float64(p), 1)
				if bound := 2*int(math.Ceil(math.Log2(span))) + 3; calls > bound {
					t.Errorf("len=%d lo=%d n=%d: %d calls, want <= %d", l, lo, n, calls, bound)
				}
			}
		}
	}
}

func TestLastShortLists(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 20, 100, 150} {
		for _, l := range []int{0, 1, 2, 19, 20, 21, 39, 40, 41, 60, 99, 100, 101, 140, 149, 150, 151, 200, 300, 700, 1000, 1280} {
			t.Run(fmt.Sprintf("last=%d/len=%d", n, l), func(t *testing.T) {
				t.Parallel()
				s := newSim(l, uint64(l+7))
				r := newReq(activityfilter.Filter{})
				r.Last = ip(n)
				p := mustPage(t, s, r)
				if diff := cmp.Diff(ids(sub(s.rows, l-n, l)), ids(p.Rows)); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if p.HasPreviousPage != (l > n) || p.HasNextPage {
					t.Errorf("hasPrev=%v hasNext=%v, want %v false", p.HasPreviousPage, p.HasNextPage, l > n)
				}
				if l > 0 {
					checkCursors(t, p, activityfilter.Filter{}, max(l-n, 0), pinOfList(s.rows))
				}
				// Galloping and bisecting cost about 2·log2(len/probe) calls,
				// then the page's rows the probes missed.
				probe := min(max(n, 1), 100)
				bound := 2*int(math.Ceil(math.Log2(float64(l)/float64(probe)+1))) + 3 + ceilDiv(n, 100)
				if got := int(s.calls.Load()); got > bound || got < 1 {
					t.Errorf("calls = %d, want 1..%d", got, bound)
				}
				if l == 0 && s.calls.Load() != 1 {
					t.Errorf("calls = %d on an empty list, want 1", s.calls.Load())
				}
			})
		}
	}
}

func TestLastBefore(t *testing.T) {
	t.Parallel()
	s := newSim(500, 5)
	list := s.expect(t, activityfilter.Filter{})
	pin := pinOfList(list)
	for _, n := range []int{0, 1, 20, 100, 150} {
		for _, k := range []int{0, 1, 19, 20, 21, 100, 101, 250, 499} {
			t.Run(fmt.Sprintf("last=%d/before=%d", n, k), func(t *testing.T) {
				t.Parallel()
				s := newSim(500, 5)
				r := newReq(activityfilter.Filter{})
				r.Last, r.Before = ip(n), cur(activityfilter.Filter{}, pin, k)
				p := mustPage(t, s, r)
				if diff := cmp.Diff(ids(sub(list, k-n, k)), ids(p.Rows)); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if !p.HasNextPage || p.HasPreviousPage != (k > n) {
					t.Errorf("hasNext=%v hasPrev=%v, want true %v", p.HasNextPage, p.HasPreviousPage, k > n)
				}
				checkCursors(t, p, activityfilter.Filter{}, max(k-n, 0), pin)
				if got, want := int(s.calls.Load()), ceilDiv(min(n, k), 100); got != want {
					t.Errorf("calls = %d, want %d", got, want)
				}
				for _, o := range s.opts() {
					if !o.MaxDate.Equal(pin) {
						t.Errorf("call %+v not pinned at %v", o, pin)
					}
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Cursor combinations.
// ---------------------------------------------------------------------------

func TestCursorCombinations(t *testing.T) {
	t.Parallel()
	const l = 300
	s0 := newSim(l, 6)
	list := s0.expect(t, activityfilter.Filter{})
	pin := pinOfList(list)
	c := func(off int) *string { return cur(activityfilter.Filter{}, pin, off) }
	for _, tc := range []struct {
		name             string
		first, last      *int
		after, before    *string
		lo, hi           int // want list[lo:hi]
		hasPrev, hasNext bool
		calls            int // < 0: at most -calls
	}{
		{"first before short", ip(10), nil, nil, c(5), 0, 5, false, false, 1},
		{"first before", ip(10), nil, nil, c(50), 0, 10, false, true, 1},
		{"first before 0", ip(10), nil, nil, c(0), 0, 0, false, false, 0},
		{"first after before", ip(10), nil, c(5), c(50), 6, 16, true, true, 1},
		{"first after before clipped", ip(100), nil, c(5), c(50), 6, 50, true, false, 1},
		{"first 250 after before", ip(250), nil, c(5), c(290), 6, 256, true, true, 3},
		{"last after before", nil, ip(10), c(5), c(50), 40, 50, true, true, 1},
		{"last after before clipped", nil, ip(100), c(5), c(50), 6, 50, false, true, 1},
		{"last after before exact", nil, ip(44), c(5), c(50), 6, 50, false, true, 1},
		{"last after before one more", nil, ip(43), c(5), c(50), 7, 50, true, true, 1},
		{"last after near before", nil, ip(10), c(45), c(50), 46, 50, false, true, 1},
		{"default after before", nil, nil, c(5), c(50), 6, 26, true, true, 1},
		{"default before", nil, nil, nil, c(50), 0, 20, false, true, 1},
		{"first after > before", ip(10), nil, c(50), c(5), 0, 0, true, false, 0},
		{"last after > before", nil, ip(10), c(50), c(5), 0, 0, false, true, 0},
		{"first after == before", ip(10), nil, c(7), c(7), 0, 0, true, false, 0},
		{"first adjacent", ip(10), nil, c(7), c(8), 0, 0, true, false, 0},
		{"first one between", ip(10), nil, c(7), c(9), 8, 9, true, false, 1},
		{"last one between", nil, ip(10), c(7), c(9), 8, 9, false, true, 1},
		{"first 0 after before", ip(0), nil, c(7), c(20), 0, 0, true, true, 0},
		{"last 0 before", nil, ip(0), nil, c(50), 0, 0, true, true, 0},
		{"last 0 before 0", nil, ip(0), nil, c(0), 0, 0, false, true, 0},
		{"first after end", ip(10), nil, c(l - 1), nil, 0, 0, true, false, 1},
		{"first after beyond", ip(10), nil, c(l + 50), nil, 0, 0, true, false, 1},
		{"last after end", nil, ip(10), c(l - 1), nil, 0, 0, false, false, 1},
		{"last after", nil, ip(10), c(100), nil, l - 10, l, true, false, -13},
		{"last after close to end", nil, ip(10), c(l - 6), nil, l - 5, l, false, false, 1},
		{"first 0", ip(0), nil, nil, nil, 0, 0, false, true, 1},
		{"first 0 after", ip(0), nil, c(l - 1), nil, 0, 0, true, false, 1},
		{"last 0", nil, ip(0), nil, nil, 0, 0, true, false, -21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(l, 6)
			r := newReq(activityfilter.Filter{})
			r.First, r.Last, r.After, r.Before, r.NeedHasNextPage = tc.first, tc.last, tc.after, tc.before, true
			p := mustPage(t, s, r)
			if diff := cmp.Diff(ids(list[tc.lo:tc.hi]), ids(p.Rows)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if p.HasPreviousPage != tc.hasPrev || p.HasNextPage != tc.hasNext {
				t.Errorf("hasPrev=%v hasNext=%v, want %v %v", p.HasPreviousPage, p.HasNextPage, tc.hasPrev, tc.hasNext)
			}
			checkCursors(t, p, activityfilter.Filter{}, tc.lo, pin)
			got := int(s.calls.Load())
			if tc.calls < 0 {
				if got > -tc.calls {
					t.Errorf("calls = %d, want at most %d", got, -tc.calls)
				}
			} else if got != tc.calls {
				t.Errorf("calls = %d, want %d", got, tc.calls)
			}
			for i, o := range s.opts() {
				if i == 0 && tc.after == nil && tc.before == nil {
					continue // learns the pin
				}
				if !o.MaxDate.Equal(pin) {
					t.Errorf("call %+v not pinned at %v", o, pin)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Stability under inserts.
// ---------------------------------------------------------------------------

func checkExactlyOnce(t *testing.T, want, got []*lemlist.Activity) {
	t.Helper()
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Errorf("%s seen twice", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestStableForward(t *testing.T) {
	t.Parallel()
	for _, f := range []activityfilter.Filter{{}, {Type: lemlist.TypeEmailsOpened}, {CampaignID: "cam_2", IsFirst: bp(false)}} {
		for _, size := range []int{20, 150} {
			for _, perCall := range []int{0, 3} {
				t.Run(fmt.Sprintf("%+v/%d/perCall=%d", f, size, perCall), func(t *testing.T) {
					t.Parallel()
					s := newSim(1000, 8)
					s.insertPerCall = perCall
					want := s.expect(t, f)
					got := forward(t, s, f, size, func() { s.insert(37) })
					checkExactlyOnce(t, want, got)
					if n := len(s.expect(t, f)); n == len(want) {
						t.Errorf("no activity was inserted for filter %+v", f)
					}
				})
			}
		}
	}
}

func TestStableBackward(t *testing.T) {
	t.Parallel()
	for _, f := range []activityfilter.Filter{{}, {Type: lemlist.TypeEmailsOpened}, {LeadID: "lea_5"}} {
		for _, size := range []int{20, 150} {
			for _, perCall := range []int{0, 3} {
				t.Run(fmt.Sprintf("%+v/%d/perCall=%d", f, size, perCall), func(t *testing.T) {
					t.Parallel()
					s := newSim(1000, 9)
					s.insertPerCall = perCall
					want := s.expect(t, f)
					got := backward(t, s, f, size, func() { s.insert(37) })
					checkExactlyOnce(t, want, got)
				})
			}
		}
	}
}

// TestStableMixed pages forward, then back from the middle with the same
// cursors, while activities keep arriving.
func TestStableMixed(t *testing.T) {
	t.Parallel()
	s := newSim(400, 10)
	want := s.expect(t, activityfilter.Filter{})
	r := newReq(activityfilter.Filter{})
	r.First, r.NeedHasNextPage = ip(30), true
	p1 := mustPage(t, s, r)
	s.insert(37)
	r.After = sp(p1.Cursors[29])
	p2 := mustPage(t, s, r)
	s.insert(37)
	r.First, r.After, r.Last, r.Before = nil, nil, ip(45), sp(p2.Cursors[29])
	p3 := mustPage(t, s, r)
	if diff := cmp.Diff(ids(want[14:59]), ids(p3.Rows)); diff != "" {
		t.Errorf("last 45 before 59 (-want +got):\n%s", diff)
	}
	if !p3.HasPreviousPage || !p3.HasNextPage {
		t.Errorf("hasPrev=%v hasNext=%v", p3.HasPreviousPage, p3.HasNextPage)
	}
	r.Last, r.Before, r.After = ip(1000), nil, sp(p1.Cursors[0])
	p4 := mustPage(t, s, r)
	if diff := cmp.Diff(ids(want[1:]), ids(p4.Rows)); diff != "" {
		t.Errorf("last 1000 after 0 (-want +got):\n%s", diff)
	}
}

// ---------------------------------------------------------------------------
// Pin.
// ---------------------------------------------------------------------------

func TestPinRoundedUp(t *testing.T) {
	t.Parallel()
	s := newSim(300, 11)
	top := s.rows[0].CreatedAt
	s.rows[0].CreatedAt = top.Add(300 * time.Microsecond) // finer than the wire
	pin := top.Add(time.Millisecond)

	r := newReq(activityfilter.Filter{})
	r.First, r.NeedHasNextPage = ip(250), true
	p := mustPage(t, s, r)
	opts := s.opts()
	if len(opts) != 3 {
		t.Fatalf("%d calls, want 3", len(opts))
	}
	if !opts[0].MaxDate.IsZero() {
		t.Errorf("first call maxDate = %v, want none", opts[0].MaxDate)
	}
	for _, o := range opts[1:] {
		if !o.MaxDate.Equal(pin) {
			t.Errorf("call %+v: maxDate want %v", o, pin)
		}
	}
	checkCursors(t, p, activityfilter.Filter{}, 0, pin)

	// Later pages, pinned at the rounded pin, still see the top row.
	s.reset()
	r.First, r.Last, r.Before = nil, ip(5), sp(p.Cursors[3])
	p = mustPage(t, s, r)
	if diff := cmp.Diff(ids(s.rows[:3]), ids(p.Rows)); diff != "" {
		t.Errorf("last 5 before 3 (-want +got):\n%s", diff)
	}
	for _, o := range s.opts() {
		if !o.MaxDate.Equal(pin) {
			t.Errorf("call %+v: maxDate want %v", o, pin)
		}
	}
}

func TestPinOf(t *testing.T) {
	t.Parallel()
	b := simBase
	for _, tc := range []struct{ in, want time.Time }{
		{b, b},
		{b.Add(time.Nanosecond), b.Add(time.Millisecond)},
		{b.Add(999_999), b.Add(time.Millisecond)},
		{b.Add(time.Millisecond), b.Add(time.Millisecond)},
		{b.Add(1_000_001), b.Add(2 * time.Millisecond)},
	} {
		if got := pinOf(tc.in); !got.Equal(tc.want) {
			t.Errorf("pinOf(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPinUserMaxDate(t *testing.T) {
	t.Parallel()
	s := newSim(600, 12)
	// A user maxDate equal to an older row's createdAt: newer rows exist,
	// the pin is the user's maxDate itself.
	umax := s.rows[50].CreatedAt
	f := activityfilter.Filter{MaxDate: umax}
	want := s.expect(t, f)
	if len(want) < 500 || !pinOfList(want).Equal(umax) {
		t.Fatalf("bad fixture: %d rows, top %v", len(want), want[0].CreatedAt)
	}
	got := forward(t, s, f, 150, func() { s.insert(37) })
	checkExactlyOnce(t, want, got)
	for _, o := range s.opts() {
		if !o.MaxDate.Equal(umax) {
			t.Errorf("call %+v: maxDate want the user's %v", o, umax)
		}
	}

	// A cursor pinned later than the user's maxDate (it cannot come from a
	// real page, but a client may forge it): the user's maxDate stays.
	s.reset()
	r := newReq(f)
	r.First, r.After = ip(10), cur(f, umax.Add(time.Hour), 9)
	p := mustPage(t, s, r)
	if diff := cmp.Diff(ids(want[10:20]), ids(p.Rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	for _, o := range s.opts() {
		if !o.MaxDate.Equal(umax) {
			t.Errorf("call %+v: maxDate want the user's %v", o, umax)
		}
	}

	// A cursor pinned earlier than the user's maxDate pins the list.
	s.reset()
	pin := want[100].CreatedAt
	r.After = cur(f, pin, 0)
	mustPage(t, s, r)
	for _, o := range s.opts() {
		if !o.MaxDate.Equal(pin) {
			t.Errorf("call %+v: maxDate want the pin %v", o, pin)
		}
	}
}

func TestPinMinDateEqualsNewest(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2, 5, 6} {
		for _, dir := range []string{"forward", "backward"} {
			t.Run(fmt.Sprintf("%s/%d", dir, size), func(t *testing.T) {
				t.Parallel()
				s := newSim(200, 13)
				T := s.rows[0].CreatedAt.Add(time.Second)
				for _, a := range s.rows[:5] {
					a.CreatedAt = T // the top five share createdAt T, alone
				}
				f := activityfilter.Filter{MinDate: T}
				want := s.expect(t, f)
				if diff := cmp.Diff(ids(s.rows[:5]), ids(want)); diff != "" {
					t.Fatalf("fixture (-want +got):\n%s", diff)
				}
				page := forward
				if dir == "backward" {
					page = backward
				}
				checkExactlyOnce(t, want, page(t, s, f, size, func() { s.insert(37) }))
				var pinned int
				for _, o := range s.opts() {
					if o.MaxDate.IsZero() {
						continue
					}
					pinned++
					if !o.MinDate.Equal(T) || !o.MaxDate.Equal(T.Add(time.Millisecond)) {
						t.Errorf("call %+v: want minDate %v, maxDate one ms later", o, T)
					}
				}
				if pinned == 0 && size < 5 {
					t.Error("no pinned call")
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Bad input.
// ---------------------------------------------------------------------------

func TestBadInput(t *testing.T) {
	t.Parallel()
	s0 := newSim(50, 14)
	list := s0.expect(t, activityfilter.Filter{})
	pin := pinOfList(list)
	valid := *cur(activityfilter.Filter{}, pin, 3)
	flip := []byte(valid)
	flip[len(flip)/2] ^= 'A' ^ 'B'
	if flip[len(flip)/2] == valid[len(flip)/2] {
		t.Fatal("no flip")
	}
	ver := versionCursor(2, 3, pin, activityfilter.Filter{}.Hash())
	T := simBase

	for _, tc := range []struct {
		name string
		r    Request
		arg  string
	}{
		{"first negative", Request{Args: Args{First: ip(-1)}}, "first"},
		{"first very negative", Request{Args: Args{First: ip(math.MinInt)}}, "first"},
		{"last negative", Request{Args: Args{Last: ip(-1)}}, "last"},
		{"first and last", Request{Args: Args{First: ip(1), Last: ip(1)}}, "first"},
		{"first and last zero", Request{Args: Args{First: ip(0), Last: ip(0)}}, "first"},
		{"first too big", Request{Args: Args{First: ip(1001)}}, "first"},
		{"first huge", Request{Args: Args{First: ip(math.MaxInt)}}, "first"},
		{"last too big", Request{Args: Args{Last: ip(1001)}}, "last"},
		{"after garbage", Request{Args: Args{After: sp("garbage!!")}}, "after"},
		{"before garbage", Request{Args: Args{Before: sp("garbage!!")}}, "before"},
		{"after empty", Request{Args: Args{After: sp("")}}, "after"},
		{"before empty", Request{Args: Args{Before: sp("")}}, "before"},
		{"after std base64", Request{Args: Args{After: sp("AQ+/AQ+/AQ+/AQ+/AQ+/AQ+/AQ")}}, "after"},
		{"after padded", Request{Args: Args{After: sp(valid + "=")}}, "after"},
		{"after one char", Request{Args: Args{After: sp("A")}}, "after"},
		{"after truncated 1", Request{Args: Args{First: ip(5), After: sp(valid[:len(valid)-1])}}, "after"},
		{"after truncated 4", Request{Args: Args{First: ip(5), After: sp(valid[:len(valid)-4])}}, "after"},
		{"after truncated half", Request{Args: Args{First: ip(5), After: sp(valid[:len(valid)/2])}}, "after"},
		{"after extended", Request{Args: Args{After: sp(valid + "AA")}}, "after"},
		{"after flipped", Request{Args: Args{After: sp(string(flip))}}, "after"},
		{"before flipped", Request{Args: Args{Last: ip(2), Before: sp(string(flip))}}, "before"},
		{"after version 2", Request{Args: Args{After: sp(ver)}}, "after"},
		{"after version 0", Request{Args: Args{After: sp(versionCursor(0, 3, pin, activityfilter.Filter{}.Hash()))}}, "after"},
		{"after huge offset", Request{Args: Args{After: cur(activityfilter.Filter{}, pin, MaxOffset+1)}}, "after"},
		{"before huge offset", Request{Args: Args{Before: cur(activityfilter.Filter{}, pin, math.MaxInt)}}, "before"},
		{"after negative offset", Request{Args: Args{After: cur(activityfilter.Filter{}, pin, -1)}}, "after"},
		{"after pin before 1970", Request{Args: Args{After: cur(activityfilter.Filter{}, time.UnixMilli(-1), 3)}}, "after"},
		{"after zero pin", Request{Args: Args{After: cur(activityfilter.Filter{}, time.Time{}, 3)}}, "after"},
		{"after pin after 9999", Request{Args: Args{After: cur(activityfilter.Filter{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 3)}}, "after"},
		{"after too long", Request{Args: Args{After: sp(valid + valid + valid)}}, "after"},
		{"after other filter", Request{Args: Args{After: cur(activityfilter.Filter{Type: "emailsSent"}, pin, 3)}}, "after"},
		{"before other filter", Request{Args: Args{Last: ip(3), Before: cur(activityfilter.Filter{Type: "emailsSent"}, pin, 3)}}, "before"},
		{"after other isFirst", Request{Args: Args{After: cur(activityfilter.Filter{IsFirst: bp(false)}, pin, 3)}}, "after"},
		{"after other minDate", Request{Args: Args{After: cur(activityfilter.Filter{MinDate: T}, pin, 3)}}, "after"},
		{"before from another session", Request{Args: Args{First: ip(3), After: valid2(pin, 1), Before: valid2(pin.Add(time.Millisecond), 9)}}, "before"},
		{"maxDate == minDate", Request{Filter: activityfilter.Filter{MinDate: T, MaxDate: T}}, "filter.maxDate"},
		{"maxDate < minDate", Request{Filter: activityfilter.Filter{MinDate: T, MaxDate: T.Add(-time.Millisecond)}}, "filter.maxDate"},
		{"maxDate < minDate with first", Request{Args: Args{First: ip(5)}, Filter: activityfilter.Filter{MinDate: T, MaxDate: T.Add(-time.Hour)}}, "filter.maxDate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(50, 14)
			r := tc.r
			r.DefaultSize, r.MaxSize, r.Concurrency, r.NeedHasNextPage = 20, 1000, 4, true
			p, err := Paginate(context.Background(), s.list, &r)
			var ie *activityfilter.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("Paginate = %v, %v; want an *activityfilter.InputError", p, err)
			}
			if p != nil {
				t.Errorf("page %+v with an error", p)
			}
			if ie.Arg != tc.arg {
				t.Errorf("Arg = %q, want %q (%v)", ie.Arg, tc.arg, err)
			}
			if ie.Msg == "" || err.Error() != tc.arg+": "+ie.Msg {
				t.Errorf("Error() = %q", err.Error())
			}
			if n := s.calls.Load(); n != 0 {
				t.Errorf("%d upstream calls, want 0", n)
			}
			verr := r.Validate()
			if verr == nil || verr.Error() != err.Error() {
				t.Errorf("Validate() = %v, want %v", verr, err)
			}
		})
	}
}

// valid2 mints a cursor of the unfiltered list pinned at pin.
func valid2(pin time.Time, off int) *string { return cur(activityfilter.Filter{}, pin, off) }

func TestValidate(t *testing.T) {
	t.Parallel()
	s := newSim(10, 15)
	r := newReq(activityfilter.Filter{})
	r.First, r.After = ip(3), cur(activityfilter.Filter{}, pinOfList(s.rows), 2)
	if err := r.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	if s.calls.Load() != 0 {
		t.Error("Validate called upstream")
	}
}

// ---------------------------------------------------------------------------
// Upstream errors and concurrency.
// ---------------------------------------------------------------------------

func TestUpstreamError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		len    int
		r      Request
		failAt int64
	}{
		{"first call", 1000, Request{Args: Args{First: ip(250)}}, 1},
		{"concurrent call", 1000, Request{Args: Args{First: ip(250)}}, 3},
		{"gallop", 10_000, Request{Args: Args{Last: ip(20)}}, 4},
		{"bisect", 10_000, Request{Args: Args{Last: ip(20)}}, 12},
		{"last before", 1000, Request{Args: Args{Last: ip(150), Before: valid2(time.Time{}, 0)}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(tc.len, 16)
			s.failAt, s.failErr = tc.failAt, boom
			r := tc.r
			if r.Before != nil {
				r.Before = valid2(pinOfList(s.rows), 300)
			}
			r.DefaultSize, r.MaxSize, r.Concurrency = 20, 1000, 4
			p, err := Paginate(context.Background(), s.list, &r)
			if !errors.Is(err, boom) || p != nil {
				t.Errorf("Paginate = %v, %v; want boom", p, err)
			}
			var ie *activityfilter.InputError
			if errors.As(err, &ie) {
				t.Error("upstream error reported as input error")
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		s := newSim(100, 17)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := newReq(activityfilter.Filter{})
		r.First = ip(50)
		if _, err := Paginate(ctx, s.list, r); !errors.Is(err, context.Canceled) {
			t.Errorf("Paginate = %v, want context.Canceled", err)
		}
	})
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	for _, c := range []int{0, 1, 2, 4} {
		t.Run(strconv.Itoa(c), func(t *testing.T) {
			t.Parallel()
			s := newSim(1000, 18)
			s.delay = 2 * time.Millisecond
			pin := pinOfList(s.rows)
			r := newReq(activityfilter.Filter{})
			r.First, r.After, r.Concurrency = ip(800), cur(activityfilter.Filter{}, pin, 99), c
			p := mustPage(t, s, r)
			if len(p.Rows) != 800 {
				t.Fatalf("%d rows", len(p.Rows))
			}
			if s.calls.Load() != 8 {
				t.Errorf("calls = %d, want 8", s.calls.Load())
			}
			if m := s.maxInFlight.Load(); m > int64(max(c, 1)) {
				t.Errorf("%d calls in flight, want at most %d", m, max(c, 1))
			}
		})
	}
}

// TestOversizedUpstreamPage: a lister that returns more rows than asked
// does not make a page longer than asked.
func TestOversizedUpstreamPage(t *testing.T) {
	t.Parallel()
	s := newSim(300, 19)
	greedy := func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		return sub(s.rows, o.Offset, o.Offset+o.Limit+5), nil
	}
	r := newReq(activityfilter.Filter{})
	r.First, r.NeedHasNextPage = ip(30), true
	p, err := Paginate(context.Background(), greedy, r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(s.rows[:30]), ids(p.Rows)); diff != "" || !p.HasNextPage {
		t.Errorf("hasNext=%v rows (-want +got):\n%s", p.HasNextPage, diff)
	}
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

func BenchmarkPaginateFirst100(b *testing.B) {
	s := newSim(1000, 20)
	rows := s.rows
	list := func(_ context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		return sub(rows, o.Offset, o.Offset+o.Limit), nil
	}
	for _, bc := range []struct {
		name  string
		after *string
	}{
		{"page1", nil},
		{"after", cur(activityfilter.Filter{}, pinOfList(rows), 99)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newReq(activityfilter.Filter{})
			r.First, r.After, r.NeedHasNextPage = ip(100), bc.after, true
			b.ReportAllocs()
			for b.Loop() {
				p, err := Paginate(context.Background(), list, r)
				if err != nil || len(p.Rows) != 100 {
					b.Fatal(err)
				}
			}
		})
	}
}
