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

// The intervals, in the query's zone. A DAY, WEEK (ISO: from Monday) or
// MONTH starts at the first instant of its first local day: local
// midnight, or the end of a DST gap that swallows midnight. An HOUR holds
// the instants that share the local date, the local hour and the UTC
// offset, and starts at the first of them: at a local whole hour, or at
// an offset change within an hour. So every HOUR lasts at most an hour:
// when clocks go back the repeated hour is two buckets (Europe/Paris:
// 02:00 CEST, then 02:00 CET), and a half-hour shift cuts the hour it
// falls in (Australia/Lord_Howe, back from +11:00 to +10:30 at 02:00:
// 01:00–02:00 +11:00, then 01:30–02:00 +10:30, then 02:00 +10:30). The
// lengths of all intervals follow the zone's changes.
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

// BucketStart returns the start of the bucket of iv in loc that holds t
// (see Interval).
func BucketStart(t time.Time, iv Interval, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	switch iv {
	case Hour:
		h := t.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
		if since, _ := offsetSpan(l); since.After(h) {
			return since // the offset changed within the hour
		}
		return h
	case Week:
		back := (int(l.Weekday()) + 6) % 7 // days since Monday
		return dayStart(y, m, d-back, loc)
	case Month:
		return dayStart(y, m, 1, loc)
	default:
		return dayStart(y, m, d, loc)
	}
}

// nextBucket returns the start of the bucket after the one starting at s.
func nextBucket(s time.Time, iv Interval, loc *time.Location) time.Time {
	l := s.In(loc)
	y, m, d := l.Date()
	var n time.Time
	switch iv {
	case Hour:
		n = s.Add(time.Hour - time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
		if _, until := offsetSpan(l); !until.IsZero() && until.Before(n) {
			n = until // the offset changes within the hour
		}
	case Week:
		back := (int(l.Weekday()) + 6) % 7
		n = dayStart(y, m, d-back+7, loc)
	case Month:
		n = dayStart(y, m+1, 1, loc)
	default:
		n = dayStart(y, m, d+1, loc)
	}
	if !n.After(s) { // cannot happen with real zones; never loop
		n = s.Add(time.Hour)
	}
	return n
}

// offsetSpan returns the stretch [since, until) around t (in its own
// location) over which the UTC offset stays t's; zero when unbounded.
// Changes of the zone's name alone do not end it.
func offsetSpan(t time.Time) (since, until time.Time) {
	_, off := t.Zone()
	since, until = t.ZoneBounds()
	for !since.IsZero() {
		before := since.Add(-time.Nanosecond).In(t.Location())
		if _, o := before.Zone(); o != off {
			break
		}
		since, _ = before.ZoneBounds()
	}
	for !until.IsZero() {
		if _, o := until.In(t.Location()).Zone(); o != off {
			break
		}
		_, until = until.In(t.Location()).ZoneBounds()
	}
	return since, until
}

// dayStart returns the first instant of the local day y-m-d (normalized
// as time.Date does) in loc: its midnight; the end of a DST gap that
// swallows midnight (America/Havana in March), where time.Date alone
// returns an instant of the day before; or the first of two midnights
// when clocks go back over it.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // the day, normalized; its midnight read as UTC
	// reached reports whether t's local day is the day or a later one.
	reached := func(t time.Time) bool {
		ty, tm, td := t.Date()
		return !time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Before(day)
	}
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if !reached(t) { // before a gap: the day starts where it ends
		if _, until := t.ZoneBounds(); !until.IsZero() {
			t = until
		}
	}
	// Within one offset the local clock only moves forward: the day's
	// first instant under offset off reads its midnight, or is the
	// offset's first instant. Step back over the offsets that reach it.
	start := t
	for {
		_, off := t.Zone()
		since, _ := t.ZoneBounds()
		first := day.Add(-time.Duration(off) * time.Second)
		if since.After(first) {
			first = since
		}
		if first.Before(start) {
			start = first
		}
		if since.IsZero() {
			break
		}
		before := since.Add(-time.Nanosecond).In(loc)
		if !reached(before) {
			break
		}
		t = before
	}
	return start.In(loc)
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
