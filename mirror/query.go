package mirror

import (
	"fmt"
	"time"
)

// Filter selects stored activities. Every set condition must hold; within
// a list, any value matches. Zero values select everything.
type Filter struct {
	// Types keeps activities of any of these types.
	Types []string
	// Channels keeps activities of any of these channels.
	Channels []string
	// CampaignIDs keeps activities of any of these campaigns.
	CampaignIDs []string
	// UserIDs keeps activities of any of these team members (Row.UserID).
	UserIDs []string
	// LeadID keeps one lead's activities.
	LeadID string
	// IsFirst keeps first activities (true) or the others (false, which
	// includes activities without the flag, as lemlist filters).
	IsFirst *bool
	// From and To bound createdAt, both inclusive; zero is unbounded.
	From, To time.Time
}

// Dim is a dimension activityStats and activitySeries group by.
type Dim string

// The dimensions, in the order group keys are sorted by.
const (
	DimType     Dim = "TYPE"
	DimChannel  Dim = "CHANNEL"
	DimDay      Dim = "DAY"
	DimCampaign Dim = "CAMPAIGN"
	DimUser     Dim = "USER"
)

// StatsQuery is an activityStats question.
type StatsQuery struct {
	Filter Filter
	// GroupBy lists the dimensions of the group keys; order and
	// duplicates do not matter.
	GroupBy []Dim
	// Location is the zone of DAY keys; nil means UTC.
	Location *time.Location
	// Rates asks for CampaignRates.
	Rates bool
}

// Stats is the answer of a StatsQuery, shaped like activityStats.
type Stats struct {
	// Total is the number of selected activities.
	Total int
	// Groups has one entry per distinct key, ordered by key (type,
	// channel, day, campaign, user; empty, that is null, first). With no
	// GroupBy, one entry with an empty key, none when Total is 0.
	Groups []Group
	// CampaignRates has one entry per campaign with a selected
	// emailsSent, emailsOpened or emailsReplied, ordered by campaign id.
	CampaignRates []CampaignRates
}

// Group is one group of Stats.
type Group struct {
	Key   GroupKey
	Count int
}

// GroupKey is a group's key: the GroupBy dimensions, others empty. An
// empty string in a grouped dimension is null (a note has no campaign).
type GroupKey struct {
	Type, Channel string
	// Day is the calendar day of createdAt in StatsQuery.Location, as
	// YYYY-MM-DD.
	Day                string
	CampaignID, UserID string
}

// CampaignRates are one campaign's email counts among the selected
// activities.
type CampaignRates struct {
	CampaignID string
	// LeadsSent and LeadsOpened count distinct leads with at least one
	// emailsSent, emailsOpened.
	LeadsSent, LeadsOpened int
	// EmailsSent and EmailsReplied count emailsSent and emailsReplied.
	EmailsSent, EmailsReplied int
}

// Interval is the bucket size of a Series.
type Interval string

// The intervals. A DAY, WEEK (ISO: from Monday) or MONTH starts at local
// midnight in the query's zone, an HOUR at a local whole hour, so their
// lengths follow the zone's DST changes.
const (
	Hour  Interval = "HOUR"
	Day   Interval = "DAY"
	Week  Interval = "WEEK"
	Month Interval = "MONTH"
)

// MaxBuckets bounds the buckets of one Series (or of a Stats grouped by
// DAY): ten years of days, a year and a half of hours.
const MaxBuckets = 4000 * 3

// SeriesQuery is an activitySeries question.
type SeriesQuery struct {
	// Filter selects the activities; its From and To are required, and
	// bound the buckets.
	Filter   Filter
	Interval Interval
	// Location is the zone of the buckets; nil means UTC.
	Location *time.Location
	// GroupBy lists the dimensions of the series keys; DimDay is refused.
	GroupBy []Dim
}

// Series is the answer of a SeriesQuery.
type Series struct {
	// Starts are the buckets' start instants, oldest first: the first
	// bucket holds From, the last To. The first and last buckets count
	// only the activities within [From, To].
	Starts []time.Time
	// Lines has one entry per distinct key, ordered by key; with no
	// GroupBy, exactly one with an empty key.
	Lines []Line
}

// Line is one series: a key and a count per bucket (zero-filled).
type Line struct {
	Key    GroupKey
	Counts []int
}

// Buckets returns the start instants of the buckets of iv in loc that
// hold instants in [from, to], oldest first, followed by the end of the
// last bucket: n buckets give n+1 instants. It refuses more than
// MaxBuckets buckets.
func Buckets(from, to time.Time, iv Interval, loc *time.Location) ([]time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if to.Before(from) {
		return nil, fmt.Errorf("%w: range ends before it starts", ErrInvalidQuery)
	}
	var out []time.Time
	t := BucketStart(from, iv, loc)
	for {
		out = append(out, t)
		if t.After(to) {
			return out, nil
		}
		if len(out) > MaxBuckets {
			return nil, fmt.Errorf("%w: more than %d %s buckets", ErrInvalidQuery, MaxBuckets, iv)
		}
		t = nextBucket(t, iv, loc)
	}
}

// BucketStart returns the start of the bucket of iv in loc that holds t.
func BucketStart(t time.Time, iv Interval, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	switch iv {
	case Hour:
		// The local whole hour, under the offset in force at t: offsets
		// that are not whole hours move it off the UTC hour, and a
		// repeated hour (DST ends) gives two buckets.
		return t.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
	case Week:
		back := (int(l.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	case Month:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	default:
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
}

// nextBucket returns the start of the bucket after the one starting at s.
func nextBucket(s time.Time, iv Interval, loc *time.Location) time.Time {
	l := s.In(loc)
	y, m, d := l.Date()
	var n time.Time
	switch iv {
	case Hour:
		n = BucketStart(s.Add(time.Hour), Hour, loc)
	case Week:
		n = time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case Month:
		n = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	default:
		n = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	if !n.After(s) { // cannot happen with real zones; never loop
		n = s.Add(time.Hour)
	}
	return n
}

// Valid reports whether iv is a known interval.
func (iv Interval) Valid() bool {
	switch iv {
	case Hour, Day, Week, Month:
		return true
	}
	return false
}

// Valid reports whether d is a known dimension.
func (d Dim) Valid() bool {
	switch d {
	case DimType, DimChannel, DimDay, DimCampaign, DimUser:
		return true
	}
	return false
}
