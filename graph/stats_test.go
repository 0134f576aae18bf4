package graph_test

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

type statsKey struct {
	Type       *string `json:"type"`
	Channel    *string `json:"channel"`
	Day        *string `json:"day"`
	CampaignID *string `json:"campaignId"`
	UserID     *string `json:"userId"`
}

type statsGroup struct {
	Key   statsKey `json:"key"`
	Count int      `json:"count"`
}

type campaignRates struct {
	CampaignID    string   `json:"campaignId"`
	LeadsSent     int      `json:"leadsSent"`
	LeadsOpened   int      `json:"leadsOpened"`
	EmailsSent    int      `json:"emailsSent"`
	EmailsReplied int      `json:"emailsReplied"`
	OpenRate      *float64 `json:"openRate"`
	ReplyRate     *float64 `json:"replyRate"`
}

type activityStats struct {
	Total                  int             `json:"total"`
	Groups                 []statsGroup    `json:"groups"`
	CampaignRates          []campaignRates `json:"campaignRates"`
	Partial                bool            `json:"partial"`
	CoveredFrom            *time.Time      `json:"coveredFrom"`
	ScannedActivities      int             `json:"scannedActivities"`
	AsOf                   *time.Time      `json:"asOf"`
	UpstreamCalls          int             `json:"upstreamCalls"`
	EstimatedUpstreamCalls *int            `json:"estimatedUpstreamCalls"`
	Cached                 bool            `json:"cached"`
	Timezone               string          `json:"timezone"`
}

const statsFields = `total partial coveredFrom scannedActivities asOf upstreamCalls cached timezone
    groups { key { type channel day campaignId userId } count }
    campaignRates { campaignId leadsSent leadsOpened emailsSent emailsReplied openRate replyRate }`

func statsQuery(fields string) string {
	return `query($filter: ActivityFilter, $groupBy: [StatsGroup!]!, $tz: String, $max: Int) {
  activityStats(filter: $filter, groupBy: $groupBy, timezone: $tz, maxUpstreamCalls: $max) { ` + fields + ` } }`
}

// stats runs activityStats with vars and the given selection.
func (e *env) stats(t *testing.T, fields string, vars map[string]any) activityStats {
	t.Helper()
	var data struct{ ActivityStats activityStats }
	e.mustDo(t, statsQuery(fields), vars, &data)
	return data.ActivityStats
}

// fakeRows returns the activities GET /activities?q&type=t serves for
// each of types (or q alone without types), decoded with the client's own
// types, newest first.
func (e *env) fakeRows(t *testing.T, q url.Values, types []string) []*lemlist.Activity {
	t.Helper()
	var acts []lemlisttest.Activity
	if len(types) == 0 {
		types = []string{""}
	}
	for _, typ := range types {
		qt := url.Values{}
		for k, v := range q {
			qt[k] = v
		}
		if typ != "" {
			qt.Set("type", typ)
		}
		got, err := e.t.Expected(qt)
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, got...)
	}
	out := make([]*lemlist.Activity, len(acts))
	for i, a := range acts {
		out[i] = new(lemlist.Activity)
		if err := json.Unmarshal(a.JSON(), out[i]); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(out, func(a, b *lemlist.Activity) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return out
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// wantGroups counts rows by the dimensions, as the schema documents.
func wantGroups(rows []*lemlist.Activity, dims []string, loc *time.Location) []statsGroup {
	counts := map[statsKey]int{}
	type flat struct{ typ, ch, day, camp, user string }
	keys := map[flat]statsKey{}
	for _, a := range rows {
		var f flat
		for _, d := range dims {
			switch d {
			case "TYPE":
				f.typ = a.Type
			case "CHANNEL":
				f.ch = string(model.ChannelOf(a.Type))
			case "DAY":
				f.day = a.CreatedAt.In(loc).Format("2006-01-02")
			case "CAMPAIGN":
				f.camp = a.CampaignID
			case "USER":
				if u := model.UserFromActivity(a); u != nil {
					f.user = u.ID
				}
			}
		}
		k, ok := keys[f]
		if !ok {
			k = statsKey{ptr(f.typ), ptr(f.ch), ptr(f.day), ptr(f.camp), ptr(f.user)}
			keys[f] = k
		}
		counts[k]++
	}
	out := make([]statsGroup, 0, len(counts))
	for k, n := range counts {
		out = append(out, statsGroup{k, n})
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	slices.SortFunc(out, func(a, b statsGroup) int {
		return cmp.Or(strings.Compare(s(a.Key.Type), s(b.Key.Type)), strings.Compare(s(a.Key.Channel), s(b.Key.Channel)),
			strings.Compare(s(a.Key.Day), s(b.Key.Day)), strings.Compare(s(a.Key.CampaignID), s(b.Key.CampaignID)),
			strings.Compare(s(a.Key.UserID), s(b.Key.UserID)))
	})
	return out
}

func TestStatsMatchTheDataset(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 1500, statsEnvOptions{pageCache: true})
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	la, _ := time.LoadLocation("America/Los_Angeles")
	camp := e.t.Campaigns()[0].ID
	for _, f := range []struct {
		filter map[string]any
		q      url.Values
		types  []string
	}{
		{nil, url.Values{}, nil},
		{map[string]any{"types": []string{"emailsSent", "emailsOpened", "emailsReplied"}}, url.Values{}, []string{"emailsSent", "emailsOpened", "emailsReplied"}},
		{map[string]any{"channel": "LINKEDIN", "minDate": "2026-07-01"}, url.Values{"minDate": {"2026-07-01"}}, model.TypesOf(model.ActivityChannelLinkedin)},
		{map[string]any{"campaignId": camp, "isFirst": false}, url.Values{"campaignId": {camp}, "isFirst": {"false"}}, nil},
	} {
		rows := e.fakeRows(t, f.q, f.types)
		if len(rows) < 50 {
			t.Fatalf("filter %v: only %d rows", f.filter, len(rows))
		}
		for _, g := range []struct {
			dims []string
			tz   string
			loc  *time.Location
		}{
			{[]string{"TYPE"}, "", time.UTC},
			{[]string{"CHANNEL"}, "", time.UTC},
			{[]string{"DAY"}, "UTC", time.UTC},
			{[]string{"DAY"}, "Asia/Tokyo", tokyo},
			{[]string{"CAMPAIGN"}, "", time.UTC},
			{[]string{"USER"}, "", time.UTC},
			{[]string{"DAY", "TYPE", "CAMPAIGN", "DAY"}, "America/Los_Angeles", la},
			{[]string{}, "", time.UTC},
		} {
			vars := map[string]any{"filter": f.filter, "groupBy": g.dims, "max": 500}
			if g.tz != "" {
				vars["tz"] = g.tz
			}
			got := e.stats(t, statsFields, vars)
			if got.Total != len(rows) || got.ScannedActivities != len(rows) || got.Partial || got.CoveredFrom != nil {
				t.Fatalf("filter %v by %v: total %d scanned %d partial %v, want %d rows", f.filter, g.dims, got.Total, got.ScannedActivities, got.Partial, len(rows))
			}
			if diff := gocmp.Diff(wantGroups(rows, g.dims, g.loc), got.Groups); diff != "" {
				t.Fatalf("filter %v by %v in %s (-want +got):\n%s", f.filter, g.dims, g.loc, diff)
			}
			if want := cmp.Or(g.tz, "UTC"); got.Timezone != want {
				t.Errorf("timezone %q, want %q", got.Timezone, want)
			}
			if got.AsOf == nil || got.AsOf.Before(rows[0].CreatedAt) {
				t.Errorf("asOf %v, newest row %v", got.AsOf, rows[0].CreatedAt)
			}
		}
	}
}

func TestStatsDayInTimeZoneDiffersFromUTC(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 1000, statsEnvOptions{pageCache: true})
	utc := e.stats(t, `groups { key { day } count }`, map[string]any{"groupBy": []string{"DAY"}, "max": 500})
	tokyo := e.stats(t, `groups { key { day } count }`, map[string]any{"groupBy": []string{"DAY"}, "tz": "Asia/Tokyo", "max": 500})
	if gocmp.Equal(utc.Groups, tokyo.Groups) {
		t.Fatal("DAY groups in Asia/Tokyo equal those in UTC")
	}
}

func TestStatsCampaignRates(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 3000, statsEnvOptions{})
	types := []string{"emailsSent", "emailsOpened", "emailsReplied"}
	rows := e.fakeRows(t, url.Values{}, types)
	type agg struct {
		sent, opened map[string]bool
		nSent, nRep  int
	}
	by := map[string]*agg{}
	for _, a := range rows {
		if a.CampaignID == "" {
			continue
		}
		c := by[a.CampaignID]
		if c == nil {
			c = &agg{sent: map[string]bool{}, opened: map[string]bool{}}
			by[a.CampaignID] = c
		}
		lead := a.LeadID
		if lead == "" && a.Lead != nil {
			lead = a.Lead.ID
		}
		switch a.Type {
		case "emailsSent":
			c.nSent++
			c.sent[lead] = true
		case "emailsOpened":
			c.opened[lead] = true
		case "emailsReplied":
			c.nRep++
		}
	}
	var want []campaignRates
	for id, c := range by {
		r := campaignRates{CampaignID: id, LeadsSent: len(c.sent), LeadsOpened: len(c.opened), EmailsSent: c.nSent, EmailsReplied: c.nRep}
		if r.LeadsSent > 0 {
			v := float64(r.LeadsOpened) / float64(r.LeadsSent)
			r.OpenRate = &v
		}
		if r.EmailsSent > 0 {
			v := float64(r.EmailsReplied) / float64(r.EmailsSent)
			r.ReplyRate = &v
		}
		want = append(want, r)
	}
	slices.SortFunc(want, func(a, b campaignRates) int { return strings.Compare(a.CampaignID, b.CampaignID) })
	got := e.stats(t, statsFields, map[string]any{"filter": map[string]any{"types": types}, "groupBy": []string{"CAMPAIGN"}, "max": 500})
	if diff := gocmp.Diff(want, got.CampaignRates); diff != "" {
		t.Fatalf("campaign rates (-want +got):\n%s", diff)
	}
	if len(want) == 0 || want[0].OpenRate == nil || want[0].ReplyRate == nil {
		t.Fatalf("degenerate rates: %+v", want)
	}
	// Other types count nothing towards the rates.
	other := e.stats(t, `campaignRates { campaignId }`, map[string]any{"filter": map[string]any{"channel": "LINKEDIN"}, "groupBy": []string{}, "max": 500})
	if len(other.CampaignRates) != 0 {
		t.Fatalf("LINKEDIN gives email rates %+v", other.CampaignRates)
	}
}

func TestStatsPartial(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 2000, statsEnvOptions{})
	rows := e.fakeRows(t, url.Values{}, nil)
	// One list: 3 calls read its newest 300 rows.
	e.fake.ResetRequests()
	got := e.stats(t, statsFields, map[string]any{"groupBy": []string{"TYPE"}, "max": 3})
	if !got.Partial || got.Total != 300 || got.ScannedActivities != 300 || got.UpstreamCalls != 3 {
		t.Fatalf("max 3: partial %v total %d scanned %d calls %d", got.Partial, got.Total, got.ScannedActivities, got.UpstreamCalls)
	}
	if n := e.fake.CountRequests("/activities"); n != 3 {
		t.Errorf("%d upstream calls, want 3", n)
	}
	if got.CoveredFrom == nil || !got.CoveredFrom.Equal(rows[299].CreatedAt) {
		t.Errorf("coveredFrom %v, want %v", got.CoveredFrom, rows[299].CreatedAt)
	}
	if diff := gocmp.Diff(wantGroups(rows[:300], []string{"TYPE"}, time.UTC), got.Groups); diff != "" {
		t.Fatalf("partial groups are not those of the newest 300 (-want +got):\n%s", diff)
	}
	// Merged lists: the counted rows are the newest of the merge.
	types := []string{"emailsSent", "emailsOpened", "linkedinSent"}
	merged := e.fakeRows(t, url.Values{}, types)
	e.fake.ResetRequests()
	got = e.stats(t, statsFields, map[string]any{"filter": map[string]any{"types": types}, "groupBy": []string{"TYPE"}, "max": 6})
	if !got.Partial || got.Total == 0 || got.Total >= len(merged) || got.UpstreamCalls != 6 || e.fake.CountRequests("/activities") != 6 {
		t.Fatalf("merged max 6: partial %v total %d of %d, %d calls", got.Partial, got.Total, len(merged), got.UpstreamCalls)
	}
	if diff := gocmp.Diff(wantGroups(merged[:got.Total], []string{"TYPE"}, time.UTC), got.Groups); diff != "" {
		t.Fatalf("merged partial groups (-want +got):\n%s", diff)
	}
	if !got.CoveredFrom.Equal(merged[got.Total-1].CreatedAt) {
		t.Errorf("coveredFrom %v, want %v", got.CoveredFrom, merged[got.Total-1].CreatedAt)
	}
}

func TestStatsEstimate(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 3000, statsEnvOptions{})
	for _, f := range []struct {
		filter map[string]any
		types  []string
	}{
		{nil, nil},
		{map[string]any{"types": []string{"emailsSent", "emailsOpened", "linkedinSent"}}, []string{"emailsSent", "emailsOpened", "linkedinSent"}},
	} {
		pages := (len(e.fakeRows(t, url.Values{}, nil)) + 99) / 100
		if f.types != nil {
			pages = 0
			for _, typ := range f.types {
				pages += (len(e.fakeRows(t, url.Values{}, []string{typ})) + 99) / 100
			}
		}
		// The estimate alone runs the probes only.
		e.fake.ResetRequests()
		est := e.stats(t, `estimatedUpstreamCalls upstreamCalls partial`, map[string]any{"filter": f.filter, "groupBy": []string{"TYPE"}, "max": 500})
		probes := e.fake.CountRequests("/activities")
		if est.EstimatedUpstreamCalls == nil || est.Partial {
			t.Fatalf("filter %v: no estimate: %+v", f.filter, est)
		}
		if probes != est.UpstreamCalls || probes >= pages {
			t.Errorf("filter %v: %d probes (reported %d) for %d pages", f.filter, probes, est.UpstreamCalls, pages)
		}
		if n := *est.EstimatedUpstreamCalls; n < pages || n > pages+probes {
			t.Errorf("filter %v: estimate %d, want %d..%d", f.filter, n, pages, pages+probes)
		}
		// Estimate and scan together: the scan reuses the probes' pages and
		// stays within the estimate.
		e.fake.ResetRequests()
		both := e.stats(t, `estimatedUpstreamCalls upstreamCalls total partial`, map[string]any{"filter": f.filter, "groupBy": []string{"TYPE"}, "max": 500})
		if both.Partial || both.UpstreamCalls > *both.EstimatedUpstreamCalls || e.fake.CountRequests("/activities") != both.UpstreamCalls {
			t.Errorf("filter %v: %d calls (fake saw %d) for an estimate of %v", f.filter, both.UpstreamCalls, e.fake.CountRequests("/activities"), *both.EstimatedUpstreamCalls)
		}
	}
	// A budget too small for the probes: no estimate, partial.
	small := e.stats(t, `estimatedUpstreamCalls partial upstreamCalls`, map[string]any{"groupBy": []string{}, "max": 2})
	if small.EstimatedUpstreamCalls != nil || !small.Partial || small.UpstreamCalls != 2 {
		t.Fatalf("max 2: %+v", small)
	}
	// Fields about the call itself read nothing.
	e.fake.ResetRequests()
	none := e.stats(t, `timezone cached upstreamCalls`, map[string]any{"groupBy": []string{"DAY"}, "tz": "Europe/Paris"})
	if none.Timezone != "Europe/Paris" || none.UpstreamCalls != 0 || len(e.fake.Requests()) != 0 {
		t.Fatalf("%+v after %d calls", none, len(e.fake.Requests()))
	}
}

func TestStatsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 200)
	for _, tc := range []struct {
		name string
		vars map[string]any
		arg  string
	}{
		{"unknown zone", map[string]any{"groupBy": []string{"DAY"}, "tz": "Mars/Olympus_Mons"}, "timezone"},
		{"empty zone", map[string]any{"groupBy": []string{"DAY"}, "tz": ""}, "timezone"},
		{"Local", map[string]any{"groupBy": []string{"DAY"}, "tz": "Local"}, "timezone"},
		{"path zone", map[string]any{"groupBy": []string{"DAY"}, "tz": "../../etc/passwd"}, "timezone"},
		{"zero calls", map[string]any{"groupBy": []string{}, "max": 0}, "maxUpstreamCalls"},
		{"too many calls", map[string]any{"groupBy": []string{}, "max": 501}, "maxUpstreamCalls"},
		{"budget below the lists", map[string]any{"groupBy": []string{}, "max": 3, "filter": map[string]any{"types": []string{"emailsSent", "emailsOpened", "paused"}}}, "maxUpstreamCalls"},
		{"type and types", map[string]any{"groupBy": []string{}, "filter": map[string]any{"type": "paused", "types": []string{"paused"}}}, "filter.types"},
		{"bad date", map[string]any{"groupBy": []string{}, "filter": map[string]any{"minDate": "2026-05-02", "maxDate": "2026-05-01"}}, "filter.maxDate"},
	} {
		e.fake.ResetRequests()
		errs := e.do(t, statsQuery("total"), tc.vars, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != graph.CodeBadUserInput || errs[0].Extensions["argument"] != tc.arg {
			t.Errorf("%s: %+v, want BAD_USER_INPUT on %s", tc.name, errs, tc.arg)
		}
		if n := len(e.fake.Requests()); n != 0 {
			t.Errorf("%s: %d upstream calls", tc.name, n)
		}
	}
	// A validation error: the server answers it 200, with the error and
	// no data.
	resp, err := e.c.RawPost(statsQuery("total"), client.Var("groupBy", []string{"WEEK"}))
	if err != nil || !strings.Contains(string(resp.Errors), "GRAPHQL_VALIDATION_FAILED") {
		t.Errorf("unknown StatsGroup: %v %+v", err, resp)
	}
}

// statsEnvOptions tune newStatsEnv.
type statsEnvOptions struct {
	// tenant names the loaders' tenant; with it, answers are kept in a
	// stats cache.
	tenant string
	// pageCache puts the upstream behind a cache of pages, as the server
	// does, so that scans of the same snapshot reach the fake once.
	pageCache bool
}

// newStatsEnv is newEnv for activityStats: scans make tens of calls, so
// requests get 30 s rather than 5, and o adds the caches.
func newStatsEnv(t *testing.T, activities int, o statsEnvOptions) *env {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: activities},
	})
	t.Cleanup(fake.Close)
	tn := fake.Tenant(lemlisttest.DefaultTenant)
	up := upstream.Client(tn.Client(counted(nil)))
	if o.pageCache {
		up = upstream.Cached(up, upstream.NewCache(upstream.CacheOptions{TTL: time.Hour}), upstream.TenantID(tn.APIKey()))
	}
	so := stackOptions{up: up, tenant: o.tenant, rows: fastrows.New(), deadline: 30 * time.Second}
	if o.tenant != "" {
		so.stats = graph.NewStatsCache(time.Minute, 8)
	}
	return &env{c: client.New(graphServer(t, so), client.Path("/graphql")), fake: fake, t: tn}
}

func TestStatsCache(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t, 1500, statsEnvOptions{tenant: "tenant-a"})
	vars := map[string]any{"groupBy": []string{"TYPE", "DAY"}, "tz": "Europe/Paris", "max": 100}
	first := e.stats(t, statsFields, vars)
	if first.Cached || first.UpstreamCalls == 0 {
		t.Fatalf("first answer: cached %v after %d calls", first.Cached, first.UpstreamCalls)
	}
	e.fake.ResetRequests()
	second := e.stats(t, statsFields, vars)
	if !second.Cached || len(e.fake.Requests()) != 0 {
		t.Fatalf("second answer: cached %v after %d calls", second.Cached, len(e.fake.Requests()))
	}
	second.Cached = false
	if diff := gocmp.Diff(first, second); diff != "" {
		t.Fatalf("cached answer differs (-first +second):\n%s", diff)
	}
	// Other arguments are other entries.
	for _, v := range []map[string]any{
		{"groupBy": []string{"TYPE", "DAY"}, "tz": "UTC", "max": 100},
		{"groupBy": []string{"TYPE"}, "tz": "Europe/Paris", "max": 100},
		{"groupBy": []string{"TYPE", "DAY"}, "tz": "Europe/Paris", "max": 99},
		{"groupBy": []string{"TYPE", "DAY"}, "tz": "Europe/Paris", "max": 100, "filter": map[string]any{"type": "emailsSent"}},
	} {
		if got := e.stats(t, `cached total`, v); got.Cached {
			t.Errorf("vars %v: served from the cache", v)
		}
	}
	// groupBy order and duplicates do not matter.
	if got := e.stats(t, `cached total`, map[string]any{"groupBy": []string{"DAY", "TYPE", "DAY"}, "tz": "Europe/Paris", "max": 100}); !got.Cached {
		t.Error("reordered groupBy missed the cache")
	}

	// Without a tenant, nothing is cached.
	anon := newStatsEnv(t, 300, statsEnvOptions{})
	anon.stats(t, `total`, map[string]any{"groupBy": []string{}})
	if got := anon.stats(t, `cached total`, map[string]any{"groupBy": []string{}}); got.Cached {
		t.Error("an anonymous request was cached")
	}
}
