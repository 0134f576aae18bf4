package mirror_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// TestBucketsAroundShifts pins the buckets around offset changes, the
// expected instants written out by hand from the zones' rules.
func TestBucketsAroundShifts(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02T15:04Z", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name, zone string
		iv         mirror.Interval
		from, to   string
		want       []string // the n+1 instants
	}{
		// Lord Howe goes back from +11:00 to +10:30 at 02:00 local
		// (15:00Z): 01:00 +11 lasts an hour, 01:30 +10:30 half an hour.
		{"Lord Howe back", "Australia/Lord_Howe", mirror.Hour, "2026-04-04T13:10Z", "2026-04-04T16:40Z",
			[]string{"2026-04-04T13:00Z", "2026-04-04T14:00Z", "2026-04-04T15:00Z", "2026-04-04T15:30Z", "2026-04-04T16:30Z", "2026-04-04T17:30Z"}},
		// Lord Howe goes forward from +10:30 to +11:00 at 02:00 local
		// (15:30Z): 02:30 +11 lasts half an hour.
		{"Lord Howe forward", "Australia/Lord_Howe", mirror.Hour, "2026-10-03T14:30Z", "2026-10-03T16:00Z",
			[]string{"2026-10-03T14:30Z", "2026-10-03T15:30Z", "2026-10-03T16:00Z", "2026-10-03T17:00Z"}},
		// Paris repeats 02:00 (00:00Z CEST, 01:00Z CET): two buckets.
		{"Paris back", "Europe/Paris", mirror.Hour, "2026-10-24T23:30Z", "2026-10-25T02:10Z",
			[]string{"2026-10-24T23:00Z", "2026-10-25T00:00Z", "2026-10-25T01:00Z", "2026-10-25T02:00Z", "2026-10-25T03:00Z"}},
		{"Paris back day", "Europe/Paris", mirror.Day, "2026-10-25T12:00Z", "2026-10-25T12:00Z",
			[]string{"2026-10-24T22:00Z", "2026-10-25T23:00Z"}},
		// Kathmandu (+5:45) and St John's (back from -2:30 to -3:30 at
		// 02:00 NDT on 1 November: 04:30Z).
		{"Kathmandu", "Asia/Kathmandu", mirror.Hour, "2026-04-04T23:00Z", "2026-04-05T00:10Z",
			[]string{"2026-04-04T22:15Z", "2026-04-04T23:15Z", "2026-04-05T00:15Z"}},
		{"St John's back", "America/St_Johns", mirror.Hour, "2026-11-01T03:45Z", "2026-11-01T05:00Z",
			[]string{"2026-11-01T03:30Z", "2026-11-01T04:30Z", "2026-11-01T05:30Z"}},
		{"St John's week", "America/St_Johns", mirror.Week, "2026-11-01T12:00Z", "2026-11-02T12:00Z",
			[]string{"2026-10-26T02:30Z", "2026-11-02T03:30Z", "2026-11-09T03:30Z"}},
		// Havana skips 00:00-01:00 on 8 March: the day starts at 01:00
		// CDT (05:00Z), where time.Date's midnight is 23:00 the day before.
		{"Havana gap", "America/Havana", mirror.Day, "2026-03-07T12:00Z", "2026-03-08T12:00Z",
			[]string{"2026-03-07T05:00Z", "2026-03-08T05:00Z", "2026-03-09T04:00Z"}},
		// Havana repeats 00:00-01:00 on 1 November: the day starts at the
		// first midnight (04:00Z) and lasts 25 hours.
		{"Havana repeat", "America/Havana", mirror.Day, "2026-11-01T04:30Z", "2026-11-01T06:00Z",
			[]string{"2026-11-01T04:00Z", "2026-11-02T05:00Z"}},
		{"Havana repeat hour", "America/Havana", mirror.Hour, "2026-11-01T03:30Z", "2026-11-01T05:30Z",
			[]string{"2026-11-01T03:00Z", "2026-11-01T04:00Z", "2026-11-01T05:00Z", "2026-11-01T06:00Z"}},
		// Santiago skips 00:00-01:00 on 6 September (04:00Z); the week and
		// the month hold it.
		{"Santiago gap", "America/Santiago", mirror.Day, "2026-09-06T03:30Z", "2026-09-06T04:30Z",
			[]string{"2026-09-05T04:00Z", "2026-09-06T04:00Z", "2026-09-07T03:00Z"}},
		{"Santiago month", "America/Santiago", mirror.Month, "2026-09-06T04:30Z", "2026-09-06T04:30Z",
			[]string{"2026-09-01T04:00Z", "2026-10-01T03:00Z"}},
		// Lord Howe's April: the month starts at +11, ends at +10:30.
		{"Lord Howe month", "Australia/Lord_Howe", mirror.Month, "2026-04-10T00:00Z", "2026-04-10T00:00Z",
			[]string{"2026-03-31T13:00Z", "2026-04-30T13:30Z"}},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mirror.Buckets(utc(c.from), utc(c.to), c.iv, loc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var want []time.Time
		for _, s := range c.want {
			want = append(want, utc(s))
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s: Buckets\n got %v\nwant %v", c.name, got, want)
		}
		for i, s := range got[:len(got)-1] {
			for _, at := range []time.Time{s, s.Add((got[i+1].Sub(s)) / 2), got[i+1].Add(-time.Millisecond)} {
				if b := mirror.BucketStart(at, c.iv, loc); !b.Equal(s) {
					t.Errorf("%s: BucketStart(%v) = %v, want %v", c.name, at, b, s)
				}
			}
		}
	}
}
