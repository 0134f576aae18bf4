package storetest

import (
	"cmp"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// Match reports whether r passes f, written plainly as the reference the
// stores are checked against.
func Match(r *mirror.Row, f *mirror.Filter) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	at := r.CreatedAt.UnixMilli()
	return in(f.Types, r.Type) && in(f.Channels, r.Channel) && in(f.CampaignIDs, r.CampaignID) &&
		in(f.UserIDs, r.UserID) && (f.LeadID == "" || f.LeadID == r.LeadID) &&
		(f.IsFirst == nil || *f.IsFirst == r.IsFirst) &&
		(f.From.IsZero() || at >= f.From.UnixMilli()) && (f.To.IsZero() || at <= f.To.UnixMilli())
}

// BruteStats computes q over rows by brute force: the reference answer.
func BruteStats(rows []mirror.Row, q mirror.StatsQuery) *mirror.Stats {
	loc := cmp.Or(q.Location, time.UTC)
	on := func(d mirror.Dim) bool { return slices.Contains(q.GroupBy, d) }
	counts := map[mirror.GroupKey]int{}
	type camp struct {
		sent, opened map[string]bool
		nSent, nRepl int
	}
	camps := map[string]*camp{}
	res := &mirror.Stats{Groups: []mirror.Group{}, CampaignRates: []mirror.CampaignRates{}}
	for i := range rows {
		r := &rows[i]
		if !Match(r, &q.Filter) {
			continue
		}
		res.Total++
		var k mirror.GroupKey
		if on(mirror.DimType) {
			k.Type = r.Type
		}
		if on(mirror.DimChannel) {
			k.Channel = r.Channel
		}
		if on(mirror.DimDay) {
			k.Day = r.CreatedAt.In(loc).Format(time.DateOnly)
		}
		if on(mirror.DimCampaign) {
			k.CampaignID = r.CampaignID
		}
		if on(mirror.DimUser) {
			k.UserID = r.UserID
		}
		counts[k]++
		if !q.Rates || r.CampaignID == "" || (r.Type != "emailsSent" && r.Type != "emailsOpened" && r.Type != "emailsReplied") {
			continue
		}
		c := camps[r.CampaignID]
		if c == nil {
			c = &camp{sent: map[string]bool{}, opened: map[string]bool{}}
			camps[r.CampaignID] = c
		}
		switch r.Type {
		case "emailsSent":
			c.nSent++
			if r.LeadID != "" {
				c.sent[r.LeadID] = true
			}
		case "emailsOpened":
			if r.LeadID != "" {
				c.opened[r.LeadID] = true
			}
		case "emailsReplied":
			c.nRepl++
		}
	}
	for k, n := range counts {
		res.Groups = append(res.Groups, mirror.Group{Key: k, Count: n})
	}
	slices.SortFunc(res.Groups, func(a, b mirror.Group) int { return compareKeys(a.Key, b.Key) })
	for id, c := range camps {
		res.CampaignRates = append(res.CampaignRates, mirror.CampaignRates{
			CampaignID: id, LeadsSent: len(c.sent), LeadsOpened: len(c.opened), EmailsSent: c.nSent, EmailsReplied: c.nRepl,
		})
	}
	slices.SortFunc(res.CampaignRates, func(a, b mirror.CampaignRates) int { return cmp.Compare(a.CampaignID, b.CampaignID) })
	return res
}

func compareKeys(a, b mirror.GroupKey) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Day, b.Day),
		cmp.Compare(a.CampaignID, b.CampaignID), cmp.Compare(a.UserID, b.UserID))
}

// localStart is the start of the bucket holding t, computed from t's own
// wall clock, independently of mirror.BucketStart.
func localStart(t time.Time, iv mirror.Interval, loc *time.Location) time.Time {
	l := t.In(loc)
	switch iv {
	case mirror.Hour:
		return l.Truncate(time.Second).Add(-time.Duration(l.Minute()*60+l.Second()) * time.Second)
	case mirror.Week:
		for l.Weekday() != time.Monday {
			l = l.AddDate(0, 0, -1)
		}
	case mirror.Month:
		l = l.AddDate(0, 0, 1-l.Day())
	}
	y, m, d := l.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// BruteSeries computes q over rows by brute force, with the buckets of
// mirror.Buckets; ok is false when a row's own bucket start is not one of
// them.
func BruteSeries(rows []mirror.Row, q mirror.SeriesQuery) (*mirror.Series, bool) {
	loc := cmp.Or(q.Location, time.UTC)
	starts, err := mirror.Buckets(q.Filter.From.Truncate(time.Millisecond), q.Filter.To.Truncate(time.Millisecond), q.Interval, loc)
	if err != nil {
		return nil, false
	}
	nb := len(starts) - 1
	index := map[int64]int{}
	for i, s := range starts[:nb] {
		index[s.UnixMilli()] = i
	}
	on := func(d mirror.Dim) bool { return slices.Contains(q.GroupBy, d) }
	lines := map[mirror.GroupKey][]int{}
	if len(q.GroupBy) == 0 {
		lines[mirror.GroupKey{}] = make([]int, nb)
	}
	ok := true
	for i := range rows {
		r := &rows[i]
		if !Match(r, &q.Filter) {
			continue
		}
		var k mirror.GroupKey
		if on(mirror.DimType) {
			k.Type = r.Type
		}
		if on(mirror.DimChannel) {
			k.Channel = r.Channel
		}
		if on(mirror.DimCampaign) {
			k.CampaignID = r.CampaignID
		}
		if on(mirror.DimUser) {
			k.UserID = r.UserID
		}
		b, found := index[localStart(r.CreatedAt, q.Interval, loc).UnixMilli()]
		if !found {
			ok = false
			continue
		}
		if lines[k] == nil {
			lines[k] = make([]int, nb)
		}
		lines[k][b]++
	}
	res := &mirror.Series{Starts: starts[:nb], Lines: []mirror.Line{}}
	for k, c := range lines {
		res.Lines = append(res.Lines, mirror.Line{Key: k, Counts: c})
	}
	slices.SortFunc(res.Lines, func(a, b mirror.Line) int { return compareKeys(a.Key, b.Key) })
	return res, ok
}
