package lemlisttest

import (
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Messages of the 400 answers of GET /activities.
const (
	msgVersion  = "version v2 is mandatory"
	msgLimit    = "limit must be an integer between 1 and 100"
	msgOffset   = "offset must be a non-negative integer"
	msgIsFirst  = "isFirst must be true or false"
	msgDateFmt  = " must be a unix timestamp in seconds or an ISO 8601 date"
	msgDateSpan = "maxDate must be strictly greater than minDate"
)

// QueryError is a query the fake refuses with 400; Error returns the
// text/plain body it answers with.
type QueryError struct {
	Message string
}

// Error returns Message.
func (e *QueryError) Error() string { return e.Message }

// filter is a parsed GET /activities query, without paging.
type filter struct {
	typ, campaign, lead           string
	hasType, hasCampaign, hasLead bool
	first                         int8 // 0 unset, 1 true, -1 false
	hasMin, hasMax                bool
	min, max                      int64 // unix ms, inclusive
}

// parseFilter reads the filters of q, truncating its dates to multiples of
// prec ms when prec > 1. It does not look at version, offset or limit.
func parseFilter(q url.Values, prec int64) (filter, error) {
	var f filter
	if v := q.Get("type"); v != "" {
		f.typ, f.hasType = v, true
	}
	if v := q.Get("campaignId"); v != "" {
		f.campaign, f.hasCampaign = v, true
	}
	if v := q.Get("leadId"); v != "" {
		f.lead, f.hasLead = v, true
	}
	switch q.Get("isFirst") {
	case "":
	case "true":
		f.first = 1
	case "false":
		f.first = -1
	default:
		return f, &QueryError{msgIsFirst}
	}
	var err error
	if f.min, f.hasMin, err = dateParam(q, "minDate", "startDate"); err != nil {
		return f, err
	}
	if f.max, f.hasMax, err = dateParam(q, "maxDate", "endDate"); err != nil {
		return f, err
	}
	if prec > 1 {
		f.min, f.max = floorTo(f.min, prec), floorTo(f.max, prec)
	}
	if f.hasMin && f.hasMax && f.max <= f.min {
		return f, &QueryError{msgDateSpan}
	}
	return f, nil
}

// dateParam reads the primary date parameter, or its alias when the
// primary is absent or empty.
func dateParam(q url.Values, primary, alias string) (int64, bool, error) {
	name, v := primary, q.Get(primary)
	if v == "" {
		name, v = alias, q.Get(alias)
	}
	if v == "" {
		return 0, false, nil
	}
	ms, ok := parseDate(v)
	if !ok {
		return 0, false, &QueryError{name + msgDateFmt}
	}
	return ms, true, nil
}

// parseDate accepts unix seconds (an optionally signed integer) or ISO 8601:
// RFC 3339 with or without fractional seconds, with Z or an offset; a
// date-time without zone or a bare date is UTC. It returns unix ms,
// truncating finer precision.
func parseDate(s string) (int64, bool) {
	if isInteger(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > 1<<43 || n < -(1<<43) {
			return 0, false
		}
		return n * 1000, true
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// floorTo rounds ms down to a multiple of prec (towards the past, before
// 1970 too).
func floorTo(ms, prec int64) int64 {
	r := ms % prec
	if r < 0 {
		r += prec
	}
	return ms - r
}

func isInteger(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePaging reads offset and limit; limit defaults to 100.
func parsePaging(q url.Values) (offset, limit int, err error) {
	limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, &QueryError{msgLimit}
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, &QueryError{msgOffset}
		}
		offset = n
	}
	return offset, limit, nil
}

// Filter dimensions an index list can cover.
const (
	covLead = 1 << iota
	covCampaign
	covType
	covFirst
)

// selectActs calls visit with the position of each activity matching f,
// newest first, skipping offset matches and stopping after limit (limit < 0
// means no limit).
func (d *dataset) selectActs(f *filter, offset, limit int, visit func(pos int32)) {
	if limit == 0 {
		return
	}
	var want int // the dimensions f filters on
	lead, camp, typ := int32(-1), int32(-1), uint16(0)
	if f.hasLead {
		l, ok := d.leadByID[f.lead]
		if !ok {
			return
		}
		lead = l
		want |= covLead
	}
	if f.hasCampaign {
		c, ok := d.campByID[f.campaign]
		if !ok || (lead >= 0 && d.leads[lead].campaign != c) {
			return
		}
		camp = c
		want |= covCampaign
	}
	if f.hasType {
		t, ok := d.typeByName[f.typ]
		if !ok {
			return
		}
		typ = t
		want |= covType
	}
	if f.first != 0 {
		want |= covFirst
	}

	// Pick the smallest index list that applies; nil means every activity.
	var list []int32
	n, cov := len(d.acts), 0
	try := func(l []int32, c int) {
		if len(l) < n {
			list, n, cov = l, len(l), c
		}
	}
	if lead >= 0 {
		try(d.byLead[lead], covLead|covCampaign) // a lead implies its campaign
	}
	if camp >= 0 && f.hasType {
		try(d.byCT[ctKey(camp, typ)], covCampaign|covType)
	}
	if camp >= 0 {
		try(d.byCampaign[camp], covCampaign)
	}
	if f.hasType {
		try(d.byType[typ], covType)
	}
	if f.first > 0 {
		try(d.byFirst, covFirst)
	}
	if n == 0 {
		return
	}
	at := func(i int) int32 {
		if list == nil {
			return int32(i)
		}
		return list[i]
	}
	lo, hi := 0, n
	if f.hasMin {
		lo = sort.Search(n, func(i int) bool { return d.acts[at(i)].at >= f.min })
	}
	if f.hasMax {
		hi = sort.Search(n, func(i int) bool { return d.acts[at(i)].at > f.max })
	}
	if want&^cov == 0 { // the list is exactly the answer: O(1) offset
		for i := hi - 1 - offset; i >= lo && limit != 0; i-- {
			visit(at(i))
			limit--
		}
		return
	}
	for i := hi - 1; i >= lo && limit != 0; i-- {
		p := at(i)
		r := &d.acts[p]
		if (lead >= 0 && r.lead != lead) ||
			(camp >= 0 && (r.lead < 0 || d.leads[r.lead].campaign != camp)) ||
			(f.hasType && r.typ != typ) ||
			(f.first != 0 && r.isFirst() != (f.first > 0)) {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		visit(p)
		limit--
	}
}
