package columns

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// sel is a Filter resolved to codes.
type sel struct {
	typeOK, chOK, campOK, userOK []bool // nil: any
	lead                         int64  // -1: any
	first                        int8   // 0 any, 1 true, -1 false
	from, to                     int64
	empty                        bool // nothing can match
}

// allowed marks the codes of values in d; empty is true when none is known.
func allowed(d *dict, values []string) (ok []bool, empty bool) {
	if len(values) == 0 {
		return nil, false
	}
	ok = make([]bool, len(d.names))
	empty = true
	for _, v := range values {
		if c, found := d.lookup(v); found {
			ok[c], empty = true, false
		}
	}
	return ok, empty
}

func (t *Table) resolve(f *mirror.Filter) sel {
	s := sel{lead: -1, from: math.MinInt64, to: math.MaxInt64}
	var e [4]bool
	s.typeOK, e[0] = allowed(&t.types, f.Types)
	s.chOK, e[1] = allowed(&t.chans, f.Channels)
	s.campOK, e[2] = allowed(&t.camps, f.CampaignIDs)
	s.userOK, e[3] = allowed(&t.users, f.UserIDs)
	s.empty = e[0] || e[1] || e[2] || e[3]
	if f.LeadID != "" {
		c, ok := t.leads.lookup(f.LeadID)
		s.lead = int64(c)
		s.empty = s.empty || !ok
	}
	if f.IsFirst != nil {
		s.first = -1
		if *f.IsFirst {
			s.first = 1
		}
	}
	if !f.From.IsZero() {
		s.from = f.From.UnixMilli()
	}
	if !f.To.IsZero() {
		s.to = f.To.UnixMilli()
	}
	s.empty = s.empty || s.from > s.to
	return s
}

// scan calls fn with the block and index of every live row s selects.
func (t *Table) scan(s *sel, fn func(b *block, j int)) {
	if s.empty {
		return
	}
	for bi, b := range t.blocks {
		n := min(blockSize, t.n-bi*blockSize)
		for j := range n {
			fl := b.flags[j]
			if fl&fLive == 0 {
				continue
			}
			if at := b.at[j]; at < s.from || at > s.to {
				continue
			}
			if (s.typeOK != nil && !s.typeOK[b.typ[j]]) ||
				(s.chOK != nil && !s.chOK[b.ch[j]]) ||
				(s.campOK != nil && !s.campOK[b.camp[j]]) ||
				(s.userOK != nil && !s.userOK[b.user[j]]) ||
				(s.lead >= 0 && int64(b.lead[j]) != s.lead) ||
				(s.first != 0 && (fl&fFirst != 0) != (s.first > 0)) {
				continue
			}
			fn(b, j)
		}
	}
}

// bucketer maps an instant (unix ms) to its bucket's index.
type bucketer struct {
	bounds []int64 // n+1 bucket bounds, ascending
	base   int64   // start of slot 0
	slots  []int32 // per quarter hour from base: the bucket, or -1 when a bound cuts it
}

// quarter is the fast path's slot: every zone offset in use today is a
// multiple of 15 minutes, so a bucket bound cuts no slot, and a row's
// bucket is one lookup; a slot that a bound cuts (historical offsets) is
// resolved by binary search, so the answer is exact in every zone.
const quarter = int64(15 * time.Minute / time.Millisecond)

// maxSlots bounds the fast path's table (about 57 years of quarter hours
// at 4 bytes each, 8 MB).
const maxSlots = 2_000_000

func newBucketer(starts []time.Time) *bucketer {
	bk := &bucketer{bounds: make([]int64, len(starts))}
	for i, s := range starts {
		bk.bounds[i] = s.UnixMilli()
	}
	lo, hi := bk.bounds[0], bk.bounds[len(bk.bounds)-1]
	bk.base = lo - ((lo%quarter)+quarter)%quarter
	n := (hi-bk.base)/quarter + 1
	if n > maxSlots {
		return bk
	}
	bk.slots = make([]int32, n)
	b := 0
	for i := range bk.slots {
		s, e := bk.base+int64(i)*quarter, bk.base+int64(i+1)*quarter // [s, e)
		for b < len(bk.bounds)-1 && bk.bounds[b+1] <= s {
			b++
		}
		if s >= bk.bounds[0] && b < len(bk.bounds)-1 && e <= bk.bounds[b+1] {
			bk.slots[i] = int32(b)
		} else {
			bk.slots[i] = -1
		}
	}
	return bk
}

// of returns the bucket of at, or -1 outside every bucket.
func (bk *bucketer) of(at int64) int {
	if at < bk.bounds[0] || at >= bk.bounds[len(bk.bounds)-1] {
		return -1
	}
	if bk.slots != nil {
		if b := bk.slots[(at-bk.base)/quarter]; b >= 0 {
			return int(b)
		}
	}
	return sort.Search(len(bk.bounds), func(i int) bool { return bk.bounds[i] > at }) - 1
}

// dims is the grouping of one query: a radix per dimension (1 when not
// grouped), in key order: type, channel, bucket, campaign, user.
type dims struct {
	radix [5]uint64
	on    [5]bool
}

const (
	dType = iota
	dChan
	dBucket
	dCamp
	dUser
)

func (t *Table) newDims(groupBy []mirror.Dim, buckets int) (dims, error) {
	var d dims
	for _, g := range groupBy {
		switch g {
		case mirror.DimType:
			d.on[dType] = true
		case mirror.DimChannel:
			d.on[dChan] = true
		case mirror.DimDay:
			d.on[dBucket] = true
		case mirror.DimCampaign:
			d.on[dCamp] = true
		case mirror.DimUser:
			d.on[dUser] = true
		default:
			return d, fmt.Errorf("%w: unknown dimension %q", mirror.ErrInvalidQuery, g)
		}
	}
	sizes := [5]int{len(t.types.names), len(t.chans.names), buckets, len(t.camps.names), len(t.users.names)}
	prod := 1.0
	for i := range d.radix {
		d.radix[i] = 1
		if d.on[i] {
			d.radix[i] = uint64(max(sizes[i], 1))
		}
		prod *= float64(d.radix[i])
	}
	if prod >= 1<<62 {
		return d, fmt.Errorf("%w: too many groups", mirror.ErrInvalidQuery)
	}
	return d, nil
}

func (d *dims) size() uint64 {
	return d.radix[0] * d.radix[1] * d.radix[2] * d.radix[3] * d.radix[4]
}

// key packs a row's codes; bucket is -1 when the bucket is not grouped.
func (d *dims) key(b *block, j int, bucket int) uint64 {
	var k uint64
	if d.on[dType] {
		k = uint64(b.typ[j])
	}
	k *= d.radix[dChan]
	if d.on[dChan] {
		k += uint64(b.ch[j])
	}
	k *= d.radix[dBucket]
	if d.on[dBucket] {
		k += uint64(bucket)
	}
	k *= d.radix[dCamp]
	if d.on[dCamp] {
		k += uint64(b.camp[j])
	}
	k *= d.radix[dUser]
	if d.on[dUser] {
		k += uint64(b.user[j])
	}
	return k
}

// unpack splits a key into its five codes.
func (d *dims) unpack(k uint64) (c [5]uint64) {
	for i := 4; i >= 0; i-- {
		c[i] = k % d.radix[i]
		k /= d.radix[i]
	}
	return c
}

// counter counts per key: a dense array for small key spaces, else a map.
type counter struct {
	dense  []int32
	sparse map[uint64]int32
}

// maxDense is the largest key space counted in an array (a variable for
// the tests of the map path).
var maxDense uint64 = 1 << 20

func newCounter(size uint64) *counter {
	if size <= maxDense {
		return &counter{dense: make([]int32, size)}
	}
	return &counter{sparse: map[uint64]int32{}}
}

func (c *counter) add(k uint64) {
	if c.dense != nil {
		c.dense[k]++
	} else {
		c.sparse[k]++
	}
}

// each calls fn for every key with a count.
func (c *counter) each(fn func(k uint64, n int)) {
	if c.dense != nil {
		for k, n := range c.dense {
			if n > 0 {
				fn(uint64(k), int(n))
			}
		}
		return
	}
	for k, n := range c.sparse {
		fn(k, int(n))
	}
}

// ranks returns each code's rank in the string order of d's names ("" first).
func ranks(d *dict) []uint64 {
	order := make([]int, len(d.names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(d.names[a], d.names[b]) })
	r := make([]uint64, len(order))
	for rank, code := range order {
		r[code] = uint64(rank)
	}
	return r
}

// sorter orders packed keys by their names, dimension by dimension.
type sorter struct {
	d    *dims
	rank [5][]uint64 // nil for the bucket, already in order
}

func (t *Table) newSorter(d *dims) *sorter {
	s := &sorter{d: d}
	if d.on[dType] {
		s.rank[dType] = ranks(&t.types)
	}
	if d.on[dChan] {
		s.rank[dChan] = ranks(&t.chans)
	}
	if d.on[dCamp] {
		s.rank[dCamp] = ranks(&t.camps)
	}
	if d.on[dUser] {
		s.rank[dUser] = ranks(&t.users)
	}
	return s
}

// each calls fn for every counted key, in the names' order: a dense
// counter is walked rank by rank (an odometer over the dimensions), a
// sparse one sorted.
func (s *sorter) each(c *counter, fn func(k uint64, n int)) {
	if c.dense == nil {
		type kv struct {
			sort, key uint64
			n         int
		}
		var all []kv
		c.each(func(k uint64, n int) { all = append(all, kv{s.sortKey(k), k, n}) })
		slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.sort, b.sort) })
		for _, g := range all {
			fn(g.key, g.n)
		}
		return
	}
	// off[i][r] is the key contribution of rank r in dimension i.
	var off [5][]uint64
	stride := uint64(1)
	for i := 4; i >= 0; i-- {
		n := s.d.radix[i]
		off[i] = make([]uint64, n)
		var inv []uint64
		if s.rank[i] != nil {
			inv = s.inverse(i)
		}
		for r := range n {
			code := r
			if inv != nil {
				code = inv[r]
			}
			off[i][r] = code * stride
		}
		stride *= n
	}
	var r [5]uint64
	for {
		k := off[0][r[0]] + off[1][r[1]] + off[2][r[2]] + off[3][r[3]] + off[4][r[4]]
		if n := c.dense[k]; n > 0 {
			fn(k, int(n))
		}
		i := 4
		for ; i >= 0; i-- {
			if r[i]++; r[i] < s.d.radix[i] {
				break
			}
			r[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// inverse returns the codes of dimension i by rank.
func (s *sorter) inverse(i int) []uint64 {
	inv := make([]uint64, len(s.rank[i]))
	for code, rank := range s.rank[i] {
		inv[rank] = uint64(code)
	}
	return inv
}

// sortKey maps a packed key to one whose integer order is the names' order.
func (s *sorter) sortKey(k uint64) uint64 {
	c := s.d.unpack(k)
	var out uint64
	for i := range 5 {
		v := c[i]
		if s.rank[i] != nil {
			v = s.rank[i][v]
		}
		out = out*s.d.radix[i] + v
	}
	return out
}

func (t *Table) groupKey(d *dims, k uint64, days []string) mirror.GroupKey {
	c := d.unpack(k)
	var g mirror.GroupKey
	if d.on[dType] {
		g.Type = t.types.names[c[dType]]
	}
	if d.on[dChan] {
		g.Channel = t.chans.names[c[dChan]]
	}
	if d.on[dBucket] && days != nil {
		g.Day = days[c[dBucket]]
	}
	if d.on[dCamp] {
		g.CampaignID = t.camps.names[c[dCamp]]
	}
	if d.on[dUser] {
		g.UserID = t.users.names[c[dUser]]
	}
	return g
}

// Stats answers q.
func (t *Table) Stats(q mirror.StatsQuery) (*mirror.Stats, error) {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.resolve(&q.Filter)
	res := &mirror.Stats{Groups: []mirror.Group{}, CampaignRates: []mirror.CampaignRates{}}
	if t.live == 0 || s.empty {
		return res, nil
	}
	var bk *bucketer
	var days []string
	if slices.Contains(q.GroupBy, mirror.DimDay) {
		lo, hi := max(s.from, t.minAt), min(s.to, t.maxAt)
		if lo > hi {
			return res, nil
		}
		starts, err := mirror.Buckets(time.UnixMilli(lo), time.UnixMilli(hi), mirror.Day, loc)
		if err != nil {
			return nil, err
		}
		bk = newBucketer(starts)
		days = make([]string, len(starts)-1)
		for i := range days {
			days[i] = starts[i].In(loc).Format(time.DateOnly)
		}
	}
	d, err := t.newDims(q.GroupBy, len(days))
	if err != nil {
		return nil, err
	}
	cnt := newCounter(d.size())
	var rates *rateAgg
	if q.Rates {
		rates = t.newRateAgg()
	}
	total := 0
	t.scan(&s, func(b *block, j int) {
		bucket := 0
		if bk != nil {
			bucket = bk.of(b.at[j])
		}
		cnt.add(d.key(b, j, bucket))
		total++
		if rates != nil {
			rates.add(b, j)
		}
	})
	res.Total = total
	so := t.newSorter(&d)
	so.each(cnt, func(k uint64, n int) {
		res.Groups = append(res.Groups, mirror.Group{Key: t.groupKey(&d, k, days), Count: n})
	})
	if rates != nil {
		res.CampaignRates = rates.result(t)
	}
	return res, nil
}

// rateAgg gathers the email rates per campaign.
type rateAgg struct {
	sent, opened, replied uint32                 // type codes, 0 when never stored
	perCamp               []mirror.CampaignRates // by campaign code
	seen                  []bool                 // by campaign code: has an entry
	sentLeads, openLeads  leadSet
}

// leadSet counts distinct (campaign, lead) pairs. A lead (lea_…) belongs
// to one campaign, so a mark per lead (its campaign, plus one) settles
// almost every row; a lead seen under a second campaign goes to extra,
// deduplicated at the end, so the count stays exact whatever the data.
type leadSet struct {
	mark  []uint32 // per lead code: campaign+1 of its first pair
	extra []uint64 // campaign<<32 | lead
	count []int    // per campaign code
}

func newLeadSet(leads, camps int) leadSet {
	return leadSet{mark: make([]uint32, leads), count: make([]int, camps)}
}

func (s *leadSet) add(camp, lead uint32) {
	switch m := s.mark[lead]; m {
	case camp + 1:
	case 0:
		s.mark[lead] = camp + 1
		s.count[camp]++
	default:
		s.extra = append(s.extra, uint64(camp)<<32|uint64(lead))
	}
}

// counts returns the distinct leads per campaign code.
func (s *leadSet) counts() []int {
	slices.Sort(s.extra)
	for _, p := range slices.Compact(s.extra) {
		s.count[uint32(p>>32)]++
	}
	return s.count
}

func (t *Table) newRateAgg() *rateAgg {
	nc := len(t.camps.names)
	r := &rateAgg{perCamp: make([]mirror.CampaignRates, nc), seen: make([]bool, nc)}
	r.sent, _ = t.types.lookup("emailsSent")
	r.opened, _ = t.types.lookup("emailsOpened")
	r.replied, _ = t.types.lookup("emailsReplied")
	r.sentLeads, r.openLeads = newLeadSet(len(t.leads.names), nc), newLeadSet(len(t.leads.names), nc)
	return r
}

func (r *rateAgg) add(b *block, j int) {
	typ, camp := uint32(b.typ[j]), b.camp[j]
	if camp == 0 || typ == 0 || (typ != r.sent && typ != r.opened && typ != r.replied) {
		return
	}
	c := &r.perCamp[camp]
	r.seen[camp] = true
	lead := b.lead[j]
	switch typ {
	case r.sent:
		c.EmailsSent++
		if lead != 0 {
			r.sentLeads.add(camp, lead)
		}
	case r.opened:
		if lead != 0 {
			r.openLeads.add(camp, lead)
		}
	case r.replied:
		c.EmailsReplied++
	}
}

func (r *rateAgg) result(t *Table) []mirror.CampaignRates {
	sent, opened := r.sentLeads.counts(), r.openLeads.counts()
	out := []mirror.CampaignRates{}
	for code, c := range r.perCamp {
		if !r.seen[code] {
			continue
		}
		c.CampaignID, c.LeadsSent, c.LeadsOpened = t.camps.names[code], sent[code], opened[code]
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b mirror.CampaignRates) int { return cmp.Compare(a.CampaignID, b.CampaignID) })
	return out
}

// Series answers q.
func (t *Table) Series(q mirror.SeriesQuery) (*mirror.Series, error) {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	if q.Filter.From.IsZero() || q.Filter.To.IsZero() {
		return nil, fmt.Errorf("%w: a series needs from and to", mirror.ErrInvalidQuery)
	}
	if !q.Interval.Valid() {
		return nil, fmt.Errorf("%w: unknown interval %q", mirror.ErrInvalidQuery, q.Interval)
	}
	if slices.Contains(q.GroupBy, mirror.DimDay) {
		return nil, fmt.Errorf("%w: a series is grouped by time already (DAY)", mirror.ErrInvalidQuery)
	}
	from, to := q.Filter.From.Truncate(time.Millisecond), q.Filter.To.Truncate(time.Millisecond)
	starts, err := mirror.Buckets(from, to, q.Interval, loc)
	if err != nil {
		return nil, err
	}
	nb := len(starts) - 1
	res := &mirror.Series{Starts: starts[:nb], Lines: []mirror.Line{}}
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, err := t.newDims(q.GroupBy, 0)
	if err != nil {
		return nil, err
	}
	bk := newBucketer(starts)
	s := t.resolve(&q.Filter)
	lines := map[uint64][]int{}
	if size := d.size(); size*uint64(nb) <= maxDense {
		dense := make([]int32, size*uint64(nb))
		t.scan(&s, func(b *block, j int) {
			if i := bk.of(b.at[j]); i >= 0 {
				dense[d.key(b, j, 0)*uint64(nb)+uint64(i)]++
			}
		})
		for k := range size {
			row := dense[k*uint64(nb) : (k+1)*uint64(nb)]
			if len(q.GroupBy) > 0 && !slices.ContainsFunc(row, func(n int32) bool { return n > 0 }) {
				continue
			}
			c := make([]int, nb)
			for i, n := range row {
				c[i] = int(n)
			}
			lines[k] = c
		}
	} else {
		t.scan(&s, func(b *block, j int) {
			i := bk.of(b.at[j])
			if i < 0 {
				return
			}
			k := d.key(b, j, 0)
			c := lines[k]
			if c == nil {
				c = make([]int, nb)
				lines[k] = c
			}
			c[i]++
		})
	}
	so := t.newSorter(&d)
	keys := make([]uint64, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uint64) int { return cmp.Compare(so.sortKey(a), so.sortKey(b)) })
	for _, k := range keys {
		res.Lines = append(res.Lines, mirror.Line{Key: t.groupKey(&d, k, nil), Counts: lines[k]})
	}
	return res, nil
}
