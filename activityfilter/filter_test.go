package activityfilter

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/lemlist"
)

func bp(b bool) *bool { return &b }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestFilterHash(t *testing.T) {
	t.Parallel()
	T := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	distinct := []Filter{
		{},
		{Type: "emailsSent"},
		{Type: "emailsSent", CampaignID: "cam_1"},
		{CampaignID: "cam_1"},
		{CampaignID: "emailsSent"},
		{LeadID: "cam_1"},
		{LeadID: "lea_1"},
		{IsFirst: bp(false)},
		{IsFirst: bp(true)},
		{MinDate: T},
		{MaxDate: T},
		{MinDate: T, MaxDate: T.Add(time.Millisecond)},
		{MinDate: T.Add(time.Nanosecond)},
		{MaxDate: T.Add(time.Nanosecond)},
		{Type: "a", CampaignID: "b", LeadID: "c", IsFirst: bp(true), MinDate: T, MaxDate: T.Add(time.Hour)},
		{Type: "ab"},
		{Type: "a", CampaignID: "b"},
		{Type: "a\x00campaign=b"},
	}
	seen := map[uint64]int{}
	for i, f := range distinct {
		h := f.Hash()
		if j, ok := seen[h]; ok {
			t.Errorf("filters %d %+v and %d %+v share hash %x", i, f, j, distinct[j], h)
		}
		seen[h] = i
	}
	// Equal filters hash equally, whatever the time zone and pointers.
	paris := time.FixedZone("CET", 3600)
	a := Filter{Type: "x", IsFirst: bp(true), MinDate: T, MaxDate: T.Add(time.Hour)}
	b := Filter{Type: "x", IsFirst: bp(true), MinDate: T.In(paris), MaxDate: T.Add(time.Hour).In(paris)}
	if a.Hash() != b.Hash() {
		t.Error("hash depends on the time zone")
	}
	if (Filter{}).Hash() != (Filter{}).Hash() {
		t.Error("hash not stable")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	T := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f  Filter
		ok bool
	}{
		{Filter{}, true},
		{Filter{MinDate: T}, true},
		{Filter{MaxDate: T}, true},
		{Filter{MinDate: T, MaxDate: T.Add(time.Millisecond)}, true},
		{Filter{MinDate: T, MaxDate: T}, false},
		{Filter{MinDate: T, MaxDate: T.Add(-time.Hour)}, false},
	} {
		err := tc.f.Validate()
		var ie *InputError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%+v: %v", tc.f, err)
		case !tc.ok && (!errors.As(err, &ie) || ie.Arg != "filter.maxDate"):
			t.Errorf("%+v: %v, want an InputError on filter.maxDate", tc.f, err)
		}
	}
}

func TestFilterOptions(t *testing.T) {
	t.Parallel()
	T := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	z := time.Time{}
	for _, tc := range []struct {
		name          string
		f             Filter
		pin           time.Time
		wantMin, want time.Time
	}{
		{"unpinned", Filter{}, z, z, z},
		{"unpinned user max", Filter{MaxDate: T}, z, z, T},
		{"pinned", Filter{}, T, z, T},
		{"pin before user max", Filter{MaxDate: T.Add(ms(5))}, T, z, T},
		{"pin after user max keeps user max", Filter{MaxDate: T}, T.Add(ms(5)), z, T},
		{"pin equal user max", Filter{MaxDate: T}, T, z, T},
		{"pin after min", Filter{MinDate: T}, T.Add(ms(2)), T, T.Add(ms(2))},
		{"pin equal min", Filter{MinDate: T}, T, T, T.Add(ms(1))},
		{"pin equal min with user max", Filter{MinDate: T, MaxDate: T.Add(ms(10))}, T, T, T.Add(ms(1))},
		{"pin before min", Filter{MinDate: T}, T.Add(-ms(5)), T, T.Add(ms(1))},
		{"pin after user max with min", Filter{MinDate: T, MaxDate: T.Add(ms(3))}, T.Add(ms(9)), T, T.Add(ms(3))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f.Type, tc.f.CampaignID, tc.f.LeadID, tc.f.IsFirst = "emailsSent", "cam_1", "lea_2", bp(true)
			got := tc.f.Options(tc.pin, 42, 17)
			want := &lemlist.ActivityListOptions{
				Type: "emailsSent", CampaignID: "cam_1", LeadID: "lea_2", IsFirst: bp(true),
				MinDate: tc.wantMin, MaxDate: tc.want, Offset: 42, Limit: 17,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if _, err := got.Values(); err != nil {
				t.Errorf("Values: %v", err)
			}
		})
	}
}
