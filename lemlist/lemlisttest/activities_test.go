package lemlisttest_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func TestListDefaultsToNewest100(t *testing.T) {
	t.Parallel()
	s := small(t, 500)
	page, resp, err := s.Client().Activities.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	all := expected(t, s, nil)
	equalIDs(t, "default page", ids(page), expIDs(all[:100]))
	if resp.NextOffset != 100 {
		t.Errorf("NextOffset = %d, want 100", resp.NextOffset)
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestOrderNewestFirstWithIDTieBreak(t *testing.T) {
	t.Parallel()
	s := small(t, 2000)
	all := expected(t, s, nil)
	ties := 0
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		switch {
		case a.CreatedAt.Before(b.CreatedAt):
			t.Fatalf("%s (%s) before %s (%s)", a.ID, a.CreatedAt, b.ID, b.CreatedAt)
		case a.CreatedAt.Equal(b.CreatedAt):
			ties++
			if a.ID <= b.ID {
				t.Fatalf("equal createdAt: %s served before %s, want _id descending", a.ID, b.ID)
			}
		}
	}
	if ties == 0 {
		t.Fatal("no two activities share a createdAt")
	}
	// Paging through the client yields the same sequence, ties included.
	var got []string
	for a, err := range s.Client().Activities.ListIter(t.Context(), &lemlist.ActivityListOptions{Limit: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	equalIDs(t, "all pages", got, expIDs(all))
}

func TestVersionIsMandatory(t *testing.T) {
	t.Parallel()
	s := small(t, 20)
	for _, q := range []string{"", "?version=v1", "?version=V2", "?limit=10"} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities"+q)
		if r.status != 400 || r.body != "version v2 is mandatory" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("%q: %d %q %q", q, r.status, r.body, r.header.Get("Content-Type"))
		}
	}
}

func TestLimitBoundaries(t *testing.T) {
	t.Parallel()
	s := small(t, 300)
	all := expIDs(expected(t, s, nil))
	for _, tt := range []struct {
		limit  string
		status int
		n      int
	}{
		{"0", 400, 0}, {"1", 200, 1}, {"2", 200, 2}, {"99", 200, 99}, {"100", 200, 100},
		{"101", 400, 0}, {"1000", 400, 0}, {"-1", 400, 0}, {"abc", 400, 0}, {"1.5", 400, 0}, {"", 200, 100},
	} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&limit="+tt.limit)
		if r.status != tt.status {
			t.Errorf("limit=%q: status %d %q, want %d", tt.limit, r.status, r.body, tt.status)
			continue
		}
		if tt.status == 400 {
			if r.body != "limit must be an integer between 1 and 100" {
				t.Errorf("limit=%q: body %q", tt.limit, r.body)
			}
			continue
		}
		equalIDs(t, "limit="+tt.limit, activitiesIDs(t, r.body), all[:tt.n])
	}

	// Through the client: 1 and 100 are served, 101 never leaves it.
	c := s.Client()
	for _, n := range []int{1, 100} {
		page, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: n})
		if err != nil || len(page) != n {
			t.Errorf("client limit %d: %d items, %v", n, len(page), err)
		}
	}
	s.ResetRequests()
	if _, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 101}); err == nil {
		t.Error("client accepted limit 101")
	}
	if n := s.CountRequests("/activities"); n != 0 {
		t.Errorf("client sent %d requests for limit 101", n)
	}
}

func TestOffset(t *testing.T) {
	t.Parallel()
	s := small(t, 250)
	all := expIDs(expected(t, s, nil))
	n := len(all)
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"offset=0&limit=5", all[:5]},
		{"offset=3&limit=4", all[3:7]},
		{"offset=" + strconv.Itoa(n-1), all[n-1:]},
		{"offset=" + strconv.Itoa(n-3) + "&limit=100", all[n-3:]},
		{"offset=" + strconv.Itoa(n), []string{}},
		{"offset=1000000", []string{}},
	} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&"+tt.q)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tt.q, r.status, r.body)
		}
		equalIDs(t, tt.q, activitiesIDs(t, r.body), tt.want)
		if len(tt.want) == 0 && r.body != "[]" {
			t.Errorf("%s: body %q, want []", tt.q, r.body)
		}
	}
	for _, bad := range []string{"-1", "x", "2.0"} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&offset="+bad)
		if r.status != 400 || r.body != "offset must be a non-negative integer" {
			t.Errorf("offset=%s: %d %q", bad, r.status, r.body)
		}
	}
	// The client reports a full page with NextOffset, a short one with 0.
	_, resp, err := s.Client().Activities.List(t.Context(), &lemlist.ActivityListOptions{Offset: n - 10, Limit: 10})
	if err != nil || resp.NextOffset != n {
		t.Errorf("full last page: NextOffset %d, %v", resp.NextOffset, err)
	}
	page, resp, err := s.Client().Activities.List(t.Context(), &lemlist.ActivityListOptions{Offset: n, Limit: 10})
	if err != nil || len(page) != 0 || resp.NextOffset != 0 {
		t.Errorf("past the end: %d items, NextOffset %d, %v", len(page), resp.NextOffset, err)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	s := small(t, 1200)
	all := expected(t, s, nil)
	camps := s.Tenant(lemlisttest.DefaultTenant).Campaigns()
	camp := camps[0]
	other := camps[1]
	lead := ""
	for _, a := range all { // a lead of camp with several activities
		if a.CampaignID == camp.ID && len(filterAll(all, func(b lemlisttest.Activity) bool { return b.LeadID == a.LeadID })) > 3 {
			lead = a.LeadID
			break
		}
	}
	if lead == "" {
		t.Fatal("no busy lead")
	}
	yes, no := true, false
	isFirst := func(a lemlisttest.Activity) bool { return a.IsFirst != nil && *a.IsFirst }
	for _, tt := range []struct {
		name string
		opts lemlist.ActivityListOptions
		keep func(a lemlisttest.Activity) bool
	}{
		{"type", lemlist.ActivityListOptions{Type: "emailsOpened"}, func(a lemlisttest.Activity) bool { return a.Type == "emailsOpened" }},
		{"unknown future type", lemlist.ActivityListOptions{Type: "quantumTeleported"}, func(a lemlisttest.Activity) bool { return a.Type == "quantumTeleported" }},
		{"type nobody has", lemlist.ActivityListOptions{Type: "noSuchType"}, func(lemlisttest.Activity) bool { return false }},
		{"annotated", lemlist.ActivityListOptions{Type: "annotated"}, func(a lemlisttest.Activity) bool { return a.Type == "annotated" }},
		{"campaign", lemlist.ActivityListOptions{CampaignID: camp.ID}, func(a lemlisttest.Activity) bool { return a.CampaignID == camp.ID }},
		{"unknown campaign", lemlist.ActivityListOptions{CampaignID: "cam_nope"}, func(lemlisttest.Activity) bool { return false }},
		{"lead", lemlist.ActivityListOptions{LeadID: lead}, func(a lemlisttest.Activity) bool { return a.LeadID == lead }},
		{"lead and its campaign", lemlist.ActivityListOptions{LeadID: lead, CampaignID: camp.ID}, func(a lemlisttest.Activity) bool { return a.LeadID == lead }},
		{"lead and another campaign", lemlist.ActivityListOptions{LeadID: lead, CampaignID: other.ID}, func(lemlisttest.Activity) bool { return false }},
		{"campaign and type", lemlist.ActivityListOptions{CampaignID: camp.ID, Type: "emailsSent"}, func(a lemlisttest.Activity) bool {
			return a.CampaignID == camp.ID && a.Type == "emailsSent"
		}},
		{"isFirst true", lemlist.ActivityListOptions{IsFirst: &yes}, isFirst},
		{"isFirst false counts absent as false", lemlist.ActivityListOptions{IsFirst: &no}, func(a lemlisttest.Activity) bool { return !isFirst(a) }},
		{"type and isFirst", lemlist.ActivityListOptions{Type: "emailsOpened", IsFirst: &yes}, func(a lemlisttest.Activity) bool {
			return a.Type == "emailsOpened" && isFirst(a)
		}},
		{"campaign, type, isFirst false", lemlist.ActivityListOptions{CampaignID: camp.ID, Type: "emailsOpened", IsFirst: &no}, func(a lemlisttest.Activity) bool {
			return a.CampaignID == camp.ID && a.Type == "emailsOpened" && !isFirst(a)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := filterAll(all, tt.keep)
			var got []string
			for a, err := range s.Client().Activities.ListIter(t.Context(), &tt.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, a.ID)
			}
			equalIDs(t, tt.name, got, want)
			q, _ := tt.opts.Values()
			equalIDs(t, "Expected", expIDs(expected(t, s, q)), want)
		})
	}
	if n := len(filterAll(all, isFirst)); n == 0 || n == len(all) {
		t.Errorf("%d of %d activities are first", n, len(all))
	}
	r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&isFirst=yes")
	if r.status != 400 || r.body != "isFirst must be true or false" {
		t.Errorf("isFirst=yes: %d %q", r.status, r.body)
	}
}

func TestDateFilters(t *testing.T) {
	t.Parallel()
	s := small(t, 1500)
	all := expected(t, s, nil)
	between := func(min, max time.Time) []string { // inclusive, zero = open
		return filterAll(all, func(a lemlisttest.Activity) bool {
			return (min.IsZero() || !a.CreatedAt.Before(min)) && (max.IsZero() || !a.CreatedAt.After(max))
		})
	}
	mid := all[len(all)/2].CreatedAt
	late := all[len(all)/4].CreatedAt
	sec := mid.Truncate(time.Second)
	unix := strconv.FormatInt(sec.Unix(), 10)
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	get := func(q string) []string {
		t.Helper()
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&limit=100&"+q)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		return activitiesIDs(t, r.body)
	}
	first100 := func(ids []string) []string { return ids[:min(len(ids), 100)] }
	e := url.QueryEscape
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"minDate=" + e(isoMs(mid)), between(mid, time.Time{})},
		{"maxDate=" + e(isoMs(mid)), between(time.Time{}, mid)},
		{"minDate=" + e(isoMs(mid)) + "&maxDate=" + e(isoMs(late)), between(mid, late)},
		{"minDate=" + unix, between(sec, time.Time{})},
		{"maxDate=" + unix, between(time.Time{}, sec)},
		{"minDate=" + e(sec.Format(time.RFC3339)), between(sec, time.Time{})},
		{"minDate=" + e(sec.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)), between(sec, time.Time{})},
		{"minDate=" + e(sec.In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05.000-07:00")), between(sec, time.Time{})},
		{"maxDate=2026-09-01", between(time.Time{}, day)},
		{"maxDate=2026-09-01T00:00:00", between(time.Time{}, day)},
		// Aliases, alone and overruled by the primary names.
		{"startDate=" + unix, between(sec, time.Time{})},
		{"endDate=" + e(isoMs(mid)), between(time.Time{}, mid)},
		{"startDate=" + e(isoMs(mid)) + "&endDate=" + e(isoMs(late)), between(mid, late)},
		{"minDate=" + e(isoMs(mid)) + "&startDate=" + e(isoMs(late)), between(mid, time.Time{})},
		{"maxDate=" + e(isoMs(mid)) + "&endDate=" + e(isoMs(late)), between(time.Time{}, mid)},
		{"minDate=&startDate=" + e(isoMs(mid)), between(mid, time.Time{})},
		{"minDate=" + unix + "&endDate=" + e(isoMs(late)), between(sec, late)},
	} {
		equalIDs(t, tt.q, get(tt.q), first100(tt.want))
		q, _ := url.ParseQuery(tt.q)
		equalIDs(t, "Expected "+tt.q, expIDs(expected(t, s, q)), tt.want)
	}
	// Inclusive on both ends: a window of exactly one activity's instant
	// plus one millisecond holds it.
	a := all[len(all)/3]
	got := get("minDate=" + e(isoMs(a.CreatedAt)) + "&maxDate=" + e(isoMs(a.CreatedAt.Add(time.Millisecond))))
	if !slices.Contains(got, a.ID) {
		t.Errorf("inclusive bounds lost %s", a.ID)
	}

	for _, tt := range []struct{ q, body string }{
		{"minDate=" + e(isoMs(mid)) + "&maxDate=" + e(isoMs(mid)), "maxDate must be strictly greater than minDate"},
		{"minDate=" + e(isoMs(late)) + "&maxDate=" + e(isoMs(mid)), "maxDate must be strictly greater than minDate"},
		{"startDate=" + unix + "&endDate=" + unix, "maxDate must be strictly greater than minDate"},
		{"minDate=" + unix + "&maxDate=" + e(sec.Format(time.RFC3339)), "maxDate must be strictly greater than minDate"},
		{"minDate=yesterday", "minDate must be a unix timestamp in seconds or an ISO 8601 date"},
		{"maxDate=1715385600.5", "maxDate must be a unix timestamp in seconds or an ISO 8601 date"},
		{"startDate=2026-13-01", "startDate must be a unix timestamp in seconds or an ISO 8601 date"},
		{"endDate=soon", "endDate must be a unix timestamp in seconds or an ISO 8601 date"},
		{"minDate=garbage&startDate=" + unix, "minDate must be a unix timestamp in seconds or an ISO 8601 date"},
	} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&"+tt.q)
		if r.status != 400 || r.body != tt.body {
			t.Errorf("%s: %d %q, want 400 %q", tt.q, r.status, r.body, tt.body)
		}
		q, _ := url.ParseQuery(tt.q)
		if _, err := s.Expected(q); err == nil || err.Error() != tt.body {
			t.Errorf("Expected(%s) error %v", tt.q, err)
		}
	}
}

func TestClientDatesAndEqualBounds(t *testing.T) {
	t.Parallel()
	s := small(t, 600)
	all := expected(t, s, nil)
	min, max := all[400].CreatedAt, all[100].CreatedAt
	var got []string
	for a, err := range s.Client().Activities.ListIter(t.Context(), &lemlist.ActivityListOptions{MinDate: min, MaxDate: max, Limit: 37}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	want := filterAll(all, func(a lemlisttest.Activity) bool { return !a.CreatedAt.Before(min) && !a.CreatedAt.After(max) })
	equalIDs(t, "client date window", got, want)

	s.ResetRequests()
	_, _, err := s.Client().Activities.List(t.Context(), &lemlist.ActivityListOptions{MinDate: min, MaxDate: min})
	if err == nil {
		t.Fatal("client accepted minDate == maxDate")
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("client sent %d requests for an empty window", n)
	}
}

func TestDatePrecisionTruncatesBounds(t *testing.T) {
	t.Parallel()
	s := newServer(t, lemlisttest.Options{
		Dataset:       lemlisttest.DatasetOptions{Seed: 42, Activities: 600, Span: time.Hour},
		RateLimit:     lemlisttest.NoRateLimit,
		DatePrecision: time.Second,
	})
	// A second holding several activities at distinct milliseconds.
	sec := expected(t, s, nil)[300].CreatedAt.Truncate(time.Second)
	var specs []lemlisttest.ActivitySpec
	for _, ms := range []int{0, 1, 250, 500, 501, 999} {
		specs = append(specs, lemlisttest.ActivitySpec{CreatedAt: sec.Add(time.Duration(ms) * time.Millisecond)})
	}
	if _, err := s.Insert(specs...); err != nil {
		t.Fatal(err)
	}
	all := expected(t, s, nil)
	between := func(min, max time.Time) []string { // inclusive
		return filterAll(all, func(a lemlisttest.Activity) bool { return !a.CreatedAt.Before(min) && !a.CreatedAt.After(max) })
	}
	e := url.QueryEscape
	for _, tt := range []struct {
		q    string
		want []string
		n    int // at least, so that the case means something
	}{
		// maxDate ...:00.500 counts as ...:00: of that second, only the
		// activity at .000; minDate ...:00.501 as ...:00: all six.
		{"minDate=" + e(isoMs(sec.Add(-time.Second))) + "&maxDate=" + e(isoMs(sec.Add(500*time.Millisecond))), between(sec.Add(-time.Second), sec), 1},
		{"minDate=" + e(isoMs(sec.Add(501*time.Millisecond))) + "&maxDate=" + e(isoMs(sec.Add(1999*time.Millisecond))), between(sec, sec.Add(time.Second)), 6},
	} {
		q, _ := url.ParseQuery(tt.q)
		got := expIDs(expected(t, s, q))
		equalIDs(t, tt.q, got, tt.want)
		if len(got) < tt.n {
			t.Errorf("%s: %d activities, want at least %d", tt.q, len(got), tt.n)
		}
		equalIDs(t, "served "+tt.q, activitiesIDs(t, rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&"+tt.q).body), tt.want)
	}
	// Bounds in one second become equal: 400, as maxDate <= minDate.
	r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&minDate="+e(isoMs(sec.Add(100*time.Millisecond)))+"&maxDate="+e(isoMs(sec.Add(900*time.Millisecond))))
	if r.status != 400 || r.body != "maxDate must be strictly greater than minDate" {
		t.Errorf("bounds within one second: %d %q", r.status, r.body)
	}
}
