package storetest

import (
	"cmp"
	"fmt"
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

// keyOf is r's group key under groupBy, its day in loc.
func keyOf(r *mirror.Row, groupBy []mirror.Dim, loc *time.Location) mirror.GroupKey {
	var k mirror.GroupKey
	for _, d := range groupBy {
		switch d {
		case mirror.DimType:
			k.Type = r.Type
		case mirror.DimChannel:
			k.Channel = r.Channel
		case mirror.DimDay:
			k.Day = r.CreatedAt.In(loc).Format(time.DateOnly)
		case mirror.DimCampaign:
			k.CampaignID = r.CampaignID
		case mirror.DimUser:
			k.UserID = r.UserID
		}
	}
	return k
}

// BruteStats computes q over rows by brute force: the reference answer.
func BruteStats(rows []mirror.Row, q mirror.StatsQuery) *mirror.Stats {
	loc := cmp.Or(q.Location, time.UTC)
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
		counts[keyOf(r, q.GroupBy, loc)]++
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

// label names the bucket of iv in loc that holds t, from t's own wall
// clock, independently of mirror.BucketStart: its local hour and UTC
// offset, day, ISO week or month.
func label(t time.Time, iv mirror.Interval, loc *time.Location) string {
	l := t.In(loc)
	switch iv {
	case mirror.Hour:
		_, off := l.Zone()
		return fmt.Sprintf("%s %02d %d", l.Format(time.DateOnly), l.Hour(), off)
	case mirror.Week:
		y, w := l.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case mirror.Month:
		return l.Format("2006-01")
	}
	return l.Format(time.DateOnly)
}

// BruteSeries computes q over rows by brute force, with the buckets of
// mirror.Buckets: a row counts in the bucket whose label (local hour and
// offset, day, week or month) is its own. ok is false when a bucket does
// not start at the first instant of its label or repeats one, or when a
// row's label is not among them.
func BruteSeries(rows []mirror.Row, q mirror.SeriesQuery) (*mirror.Series, bool) {
	loc := cmp.Or(q.Location, time.UTC)
	starts, err := mirror.Buckets(q.Filter.From.Truncate(time.Millisecond), q.Filter.To.Truncate(time.Millisecond), q.Interval, loc)
	if err != nil {
		return nil, false
	}
	nb := len(starts) - 1
	index := map[string]int{}
	for i, s := range starts {
		l := label(s, q.Interval, loc)
		if _, dup := index[l]; dup || l == label(s.Add(-time.Nanosecond), q.Interval, loc) {
			return nil, false
		}
		if i < nb {
			index[l] = i
		}
	}
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
		k := keyOf(r, q.GroupBy, loc)
		b, found := index[label(r.CreatedAt, q.Interval, loc)]
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
