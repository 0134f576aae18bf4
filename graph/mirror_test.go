package graph_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
	"github.com/lemlist-graphql/server/upstream"
)

// mirrorNow is the fake dataset's present (its default Now); its
// activities span the 90 days before it.
var mirrorNow = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// mirrorEnv is a fake team, an engine that mirrored it into a real
// SQLite store, and two clients of the server's stack over the same
// upstream: mirrored (with a mirror.Manager serving the engine) and
// upstream (without one).
type mirrorEnv struct {
	fake     *lemlisttest.Server
	tn       *lemlisttest.Tenant
	engine   *mirror.Engine
	mirrored *client.Client
	upstream *client.Client
}

const mirrorTenant = "t1"

// newMirrorEnv mirrors a fake team of n activities, backfilling from
// since (zero: a year before mirrorNow, which holds everything).
func newMirrorEnv(t *testing.T, n int, since time.Time) *mirrorEnv {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 7, Activities: n},
	})
	t.Cleanup(fake.Close)
	tn := fake.Tenant(lemlisttest.DefaultTenant)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mirror.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mo := mirror.Options{ChannelOf: func(typ string) string { return string(model.ChannelOf(typ)) }}
	m, err := mirror.NewManager(store, mirror.ManagerOptions{Engine: mo})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) // closes store
	if since.IsZero() {
		since = mirrorNow.AddDate(-1, 0, 0)
	}
	mo.Since, mo.Now = since, func() time.Time { return mirrorNow }
	e, err := mirror.NewEngine(mirrorTenant, store, mirror.ClientList(tn.Client()), mo)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Adopt(e); err != nil {
		t.Fatal(err)
	}
	up := upstream.Client(tn.Client(counted(nil), lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1})))
	return &mirrorEnv{
		fake: fake, tn: tn, engine: e,
		mirrored: client.New(graphServer(t, stackOptions{up: up, tenant: mirrorTenant, mirror: m, deadline: 10 * time.Second}), client.Path("/graphql")),
		upstream: client.New(graphServer(t, stackOptions{up: up, tenant: mirrorTenant, deadline: 10 * time.Second}), client.Path("/graphql")),
	}
}

// run posts query to c and returns its errors; data is decoded into out.
func run(t *testing.T, c *client.Client, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(query, opts...)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	if out != nil && resp.Data != nil {
		b, _ := json.Marshal(resp.Data)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	var errs []gqlError
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatal(err)
		}
	}
	return errs
}

func mustRun(t *testing.T, c *client.Client, query string, vars map[string]any, out any) {
	t.Helper()
	if errs := run(t, c, query, vars, out); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
}

// codeOf is the code of the only error.
func codeOf(t *testing.T, errs []gqlError) string {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("want one error, got %+v", errs)
	}
	c, _ := errs[0].Extensions["code"].(string)
	return c
}

type mirroredStats struct {
	activityStats
	Source string `json:"source"`
}

const mirrorStatsQuery = `query($filter: ActivityFilter, $groupBy: [StatsGroup!]!, $tz: String) {
  activityStats(filter: $filter, groupBy: $groupBy, timezone: $tz, maxUpstreamCalls: 500) { source ` + statsFields + ` } }`

func (e *mirrorEnv) stats(t *testing.T, c *client.Client, vars map[string]any) mirroredStats {
	t.Helper()
	var data struct{ ActivityStats mirroredStats }
	mustRun(t, c, mirrorStatsQuery, vars, &data)
	return data.ActivityStats
}

// Answers from the mirror equal the upstream scan's for the same
// arguments, with no upstream call.
func TestMirrorStatsEqualUpstream(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 1500, time.Time{})
	camp := e.tn.Campaigns()[1].ID
	from := mirrorNow.AddDate(0, 0, -30).Format(time.RFC3339)
	to := mirrorNow.AddDate(0, 0, -3).Format(time.RFC3339)
	for i, vars := range []map[string]any{
		{"groupBy": []string{}},
		{"groupBy": []string{"TYPE"}},
		{"groupBy": []string{"DAY", "CAMPAIGN"}, "tz": "Europe/Paris", "filter": map[string]any{"channel": "EMAIL", "minDate": from, "maxDate": to}},
		{"groupBy": []string{"USER", "CHANNEL"}, "tz": "America/New_York", "filter": map[string]any{"minDate": from}},
		{"groupBy": []string{"CAMPAIGN"}, "filter": map[string]any{"types": []string{"emailsSent", "emailsOpened", "emailsReplied"}}},
		{"groupBy": []string{"TYPE", "DAY"}, "tz": "Asia/Kolkata", "filter": map[string]any{"campaignId": camp, "isFirst": true}},
		{"groupBy": []string{"TYPE"}, "filter": map[string]any{"isFirst": false, "maxDate": to}},
	} {
		e.fake.ResetRequests()
		got := e.stats(t, e.mirrored, vars)
		if n := len(e.fake.Requests()); n != 0 {
			t.Errorf("case %d: the mirror's answer made %d upstream requests", i, n)
		}
		want := e.stats(t, e.upstream, vars)
		if got.Source != "MIRROR" || got.UpstreamCalls != 0 || got.Partial || got.Cached || got.CoveredFrom != nil ||
			got.AsOf == nil || !got.AsOf.Equal(mirrorNow) || got.ScannedActivities != got.Total {
			t.Errorf("case %d: mirror answer's call fields: %+v", i, got)
		}
		if want.Source != "UPSTREAM" || want.Partial || want.UpstreamCalls == 0 {
			t.Fatalf("case %d: upstream answer %+v: want a complete scan", i, want)
		}
		if want.Total == 0 && i < 4 {
			t.Errorf("case %d: nothing counted: a weak case", i)
		}
		if d := gocmp.Diff(want.Groups, got.Groups); d != "" || got.Total != want.Total || got.Timezone != want.Timezone {
			t.Errorf("case %d: groups (-upstream +mirror):\n%s totals %d, %d", i, d, want.Total, got.Total)
		}
		if d := gocmp.Diff(want.CampaignRates, got.CampaignRates); d != "" {
			t.Errorf("case %d: campaignRates (-upstream +mirror):\n%s", i, d)
		}
	}
}

// allActivities returns the fake's activities, decoded by the client.
func (e *mirrorEnv) allActivities(t *testing.T) []*lemlist.Activity {
	t.Helper()
	acts, err := e.tn.Expected(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*lemlist.Activity, len(acts))
	for i, a := range acts {
		out[i] = new(lemlist.Activity)
		if err := json.Unmarshal(a.JSON(), out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The conditions lemlist cannot apply are answered from the mirror: they
// equal a brute-force count of the dataset; lists refuse them.
func TestMirrorOnlyFilters(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 1500, time.Time{})
	acts := e.allActivities(t)
	camps := []string{e.tn.Campaigns()[0].ID, e.tn.Campaigns()[2].ID}
	user := e.tn.Users()[0].ID
	count := func(keep func(a *lemlist.Activity) bool) int {
		n := 0
		for _, a := range acts {
			if keep(a) {
				n++
			}
		}
		return n
	}
	userOf := func(a *lemlist.Activity) string {
		if u := model.UserFromActivity(a); u != nil {
			return u.ID
		}
		return ""
	}
	first := func(a *lemlist.Activity) bool { return a.IsFirst != nil && *a.IsFirst }
	for i, c := range []struct {
		filter map[string]any
		keep   func(a *lemlist.Activity) bool
	}{
		{map[string]any{"campaignIds": camps}, func(a *lemlist.Activity) bool { return slices.Contains(camps, a.CampaignID) }},
		{map[string]any{"userId": user}, func(a *lemlist.Activity) bool { return userOf(a) == user }},
		{map[string]any{"campaignIds": camps, "userId": user, "isFirst": true}, func(a *lemlist.Activity) bool {
			return slices.Contains(camps, a.CampaignID) && userOf(a) == user && first(a)
		}},
		{map[string]any{"campaignIds": camps, "channel": "EMAIL", "isFirst": true}, func(a *lemlist.Activity) bool {
			return slices.Contains(camps, a.CampaignID) && slices.Contains(model.TypesOf(model.ActivityChannelEmail), a.Type) && first(a)
		}},
		{map[string]any{"campaignIds": camps[:1], "campaignId": camps[1]}, func(*lemlist.Activity) bool { return false }},
	} {
		e.fake.ResetRequests()
		got := e.stats(t, e.mirrored, map[string]any{"groupBy": []string{}, "filter": c.filter})
		want := count(c.keep)
		if got.Source != "MIRROR" || got.Total != want {
			t.Errorf("case %d: %s total %d, want %d", i, got.Source, got.Total, want)
		}
		if want == 0 && i < 4 {
			t.Errorf("case %d: nothing to count: a weak case", i)
		}
		if n := len(e.fake.Requests()); n != 0 {
			t.Errorf("case %d: %d upstream requests", i, n)
		}
	}
	// Lists, whatever their parent, and subscriptions' filters refuse them.
	e.fake.ResetRequests()
	for _, q := range []string{
		`{ activities(filter: {userId: "usr_1"}) { nodes { id } } }`,
		`{ activities(filter: {campaignIds: ["cam_1"]}) { nodes { id } } }`,
		`{ campaign(id: "` + camps[0] + `") { activities(filter: {userId: "usr_1"}) { nodes { id } } } }`,
	} {
		var errs []gqlError
		for _, c := range []*client.Client{e.mirrored, e.upstream} {
			errs = run(t, c, q, nil, nil)
			if len(errs) == 0 || errs[0].Extensions["code"] != graph.CodeUnsupportedFilter {
				t.Errorf("%s: %+v, want UNSUPPORTED_FILTER", q, errs)
			}
		}
	}
	if n := e.fake.CountRequests("/activities"); n != 0 {
		t.Errorf("refused lists made %d activity calls", n)
	}
}

// seriesResult is ActivitySeries as the client sees it.
type seriesResult struct {
	Interval string      `json:"interval"`
	Timezone string      `json:"timezone"`
	Buckets  []time.Time `json:"buckets"`
	Total    int         `json:"total"`
	AsOf     *time.Time  `json:"asOf"`
	Series   []struct {
		Key    statsKey `json:"key"`
		Counts []int    `json:"counts"`
		Total  int      `json:"total"`
	} `json:"series"`
}

const seriesQuery = `query($filter: ActivityFilter, $from: Timestamp!, $to: Timestamp!, $iv: SeriesInterval!, $tz: String, $groupBy: [StatsGroup!]) {
  activitySeries(filter: $filter, from: $from, to: $to, interval: $iv, timezone: $tz, groupBy: $groupBy) {
    interval timezone buckets total asOf series { key { type channel day campaignId userId } counts total } } }`

// bruteBuckets returns the bucket starts of [from, to] by stepping local
// calendar fields, independently of mirror.Buckets.
func bruteBuckets(from, to time.Time, iv string, loc *time.Location) []time.Time {
	l := from.In(loc)
	y, m, d := l.Date()
	var s time.Time
	switch iv {
	case "DAY":
		s = time.Date(y, m, d, 0, 0, 0, 0, loc)
	case "WEEK":
		s = time.Date(y, m, d-(int(l.Weekday())+6)%7, 0, 0, 0, 0, loc)
	case "MONTH":
		s = time.Date(y, m, 1, 0, 0, 0, 0, loc)
	}
	var out []time.Time
	for i := 0; ; i++ {
		var b time.Time
		switch iv {
		case "DAY":
			b = time.Date(s.Year(), s.Month(), s.Day()+i, 0, 0, 0, 0, loc)
		case "WEEK":
			b = time.Date(s.Year(), s.Month(), s.Day()+7*i, 0, 0, 0, 0, loc)
		case "MONTH":
			b = time.Date(s.Year(), s.Month()+time.Month(i), 1, 0, 0, 0, 0, loc)
		}
		if b.After(to) {
			return out
		}
		out = append(out, b)
	}
}

// activitySeries gives zero-filled buckets that equal a brute-force count
// of the dataset, whether from and to come as epoch milliseconds, unix
// seconds or ISO 8601, in a zone with DST.
func TestMirrorSeriesMatchesTheDataset(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 1500, time.Time{})
	acts := e.allActivities(t)
	paris, _ := time.LoadLocation("Europe/Paris")
	// Over the end of summer time (2026-10-25), past the newest activity:
	// the last buckets are zeros.
	from := time.Date(2026, 8, 20, 13, 30, 0, 0, time.UTC)
	to := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	for _, iv := range []string{"DAY", "WEEK", "MONTH"} {
		starts := bruteBuckets(from, to, iv, paris)
		want := make(map[string][]int) // by type, "" for the total
		for _, a := range acts {
			if a.CreatedAt.Before(from) || a.CreatedAt.After(to) {
				continue
			}
			i := sortSearch(starts, a.CreatedAt)
			for _, k := range []string{"", a.Type} {
				if want[k] == nil {
					want[k] = make([]int, len(starts))
				}
				want[k][i]++
			}
		}
		var results []seriesResult
		for _, enc := range []func(time.Time) any{
			func(t time.Time) any { return t.UnixMilli() },
			func(t time.Time) any { return t.Unix() },
			func(t time.Time) any { return strconv.FormatInt(t.UnixMilli(), 10) },
			func(t time.Time) any { return t.In(paris).Format(time.RFC3339) },
		} {
			for _, groupBy := range [][]string{{}, {"TYPE"}} {
				e.fake.ResetRequests()
				var data struct{ ActivitySeries seriesResult }
				mustRun(t, e.mirrored, seriesQuery, map[string]any{"from": enc(from), "to": enc(to), "iv": iv, "tz": "Europe/Paris", "groupBy": groupBy}, &data)
				got := data.ActivitySeries
				if n := len(e.fake.Requests()); n != 0 {
					t.Errorf("%s: %d upstream requests", iv, n)
				}
				if !slices.EqualFunc(got.Buckets, starts, time.Time.Equal) {
					t.Fatalf("%s %v: buckets %v, want %v", iv, enc(from), got.Buckets, starts)
				}
				if got.Timezone != "Europe/Paris" || got.Interval != iv || got.AsOf == nil || !got.AsOf.Equal(mirrorNow) {
					t.Errorf("%s: %+v", iv, got)
				}
				if len(groupBy) == 0 {
					if len(got.Series) != 1 || !slices.Equal(got.Series[0].Counts, want[""]) || got.Series[0].Key != (statsKey{}) {
						t.Errorf("%s: series %+v, want one with %v", iv, got.Series, want[""])
					}
					if got.Series[0].Counts[len(starts)-1] != 0 {
						t.Errorf("%s: the last bucket (after the newest activity) is not 0", iv)
					}
					results = append(results, got)
					continue
				}
				if len(got.Series) != len(want)-1 {
					t.Errorf("%s: %d series, want %d", iv, len(got.Series), len(want)-1)
				}
				for _, l := range got.Series {
					if l.Key.Type == nil || !slices.Equal(l.Counts, want[*l.Key.Type]) {
						t.Errorf("%s: series %+v, want %v", iv, l, want[deref(l.Key.Type)])
					}
				}
			}
		}
		for _, r := range results[1:] {
			if d := gocmp.Diff(results[0], r); d != "" {
				t.Errorf("%s: the encodings disagree:\n%s", iv, d)
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sortSearch is the index of the bucket of starts that holds t.
func sortSearch(starts []time.Time, t time.Time) int {
	i, _ := slices.BinarySearchFunc(starts, t, func(s, t time.Time) int {
		if s.After(t) {
			return 1
		}
		return -1
	})
	return i - 1
}

// Stats keys and campaign rates name their campaign and user through
// the request's loaders: one call per distinct campaign, one for the team.
func TestMirrorStatsNames(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 600, time.Time{})
	names := map[string]string{}
	for _, c := range e.tn.Campaigns() {
		names[c.ID] = c.Name
	}
	for _, u := range e.tn.Users() {
		names[u.ID] = u.Name
	}
	e.fake.ResetRequests()
	var data struct {
		ActivityStats struct {
			Source string
			Groups []struct {
				Key struct {
					CampaignID *string
					UserID     *string
					Campaign   *struct{ ID, Name string }
					User       *struct{ ID, Name string }
				}
			}
			CampaignRates []struct {
				CampaignID string
				Campaign   struct{ ID, Name string }
			}
		}
	}
	mustRun(t, e.mirrored, `{ activityStats(groupBy: [CAMPAIGN, USER]) { source
	  groups { key { campaignId userId campaign { id name } user { id name } } }
	  campaignRates { campaignId campaign { id name } } } }`, nil, &data)
	res := data.ActivityStats
	seen := map[string]bool{}
	for _, g := range res.Groups {
		k := g.Key
		if (k.CampaignID == nil) != (k.Campaign == nil) || (k.UserID == nil) != (k.User == nil) {
			t.Fatalf("key %+v: ids and objects disagree", k)
		}
		if k.Campaign != nil {
			seen[k.Campaign.ID] = true
			if k.Campaign.ID != *k.CampaignID || k.Campaign.Name != names[k.Campaign.ID] || k.Campaign.Name == "" {
				t.Errorf("campaign %+v, want name %q", k.Campaign, names[*k.CampaignID])
			}
		}
		if k.User != nil && (k.User.ID != *k.UserID || k.User.Name != names[k.User.ID] || k.User.Name == "") {
			t.Errorf("user %+v, want name %q", k.User, names[*k.UserID])
		}
	}
	for _, r := range res.CampaignRates {
		if r.Campaign.ID != r.CampaignID || r.Campaign.Name != names[r.CampaignID] {
			t.Errorf("rates' campaign %+v, want %s %q", r.Campaign, r.CampaignID, names[r.CampaignID])
		}
	}
	if res.Source != "MIRROR" || len(seen) < 2 || len(res.CampaignRates) == 0 {
		t.Fatalf("weak case: %s, %d campaigns, %d rates", res.Source, len(seen), len(res.CampaignRates))
	}
	if n, most := len(e.fake.Requests()), len(seen)+1; n > most || e.fake.CountRequests("/activities") != 0 {
		t.Errorf("%d upstream requests for %d campaigns and the team, want at most %d and no activity list", n, len(seen), most)
	}
	// Ids alone need no call.
	e.fake.ResetRequests()
	mustRun(t, e.mirrored, `{ activityStats(groupBy: [CAMPAIGN, USER]) { groups { key { campaign { id } user { id } } } } }`, nil, nil)
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("ids only: %d upstream requests", n)
	}
}

// mirrorStatus reports the engine's status, and OFF without a mirror.
func TestMirrorStatus(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 300, time.Time{})
	const q = `{ mirrorStatus { state activities coveredFrom coveredTo coversAllTime lagSeconds lastError syncing backfillProgress } }`
	type status struct {
		State            string
		Activities       int
		CoveredFrom      *time.Time
		CoveredTo        *time.Time
		CoversAllTime    bool
		LagSeconds       *float64
		LastError        *string
		Syncing          bool
		BackfillProgress *float64
	}
	var on, off struct{ MirrorStatus status }
	mustRun(t, e.mirrored, q, nil, &on)
	mustRun(t, e.upstream, q, nil, &off)
	s := on.MirrorStatus
	if s.State != "LIVE" || s.Activities != 300 || !s.CoversAllTime || s.CoveredTo == nil || !s.CoveredTo.Equal(mirrorNow) ||
		s.CoveredFrom == nil || !s.CoveredFrom.Equal(mirrorNow.AddDate(-1, 0, 0)) || s.LagSeconds == nil || *s.LagSeconds != 0 ||
		s.LastError != nil || s.BackfillProgress == nil || *s.BackfillProgress != 1 {
		t.Errorf("mirrored: %+v", s)
	}
	if (off.MirrorStatus != status{State: "OFF"}) {
		t.Errorf("without mirror: %+v", off.MirrorStatus)
	}
}

// Every refusal has its code, and none calls upstream.
func TestMirrorErrorCodes(t *testing.T) {
	t.Parallel()
	e := newMirrorEnv(t, 600, time.Time{})
	// A mirror whose backfill stopped 30 days back: the fake has older.
	partial := newMirrorEnv(t, 600, mirrorNow.AddDate(0, 0, -30))
	if st, _ := partial.engine.Status(t.Context()); st.AllTime {
		t.Fatal("the partial mirror covers all time")
	}
	partialClient := partial.mirrored
	series := func(from, to any, iv string, extra map[string]any) map[string]any {
		v := map[string]any{"from": from, "to": to, "iv": iv}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	now := mirrorNow.UnixMilli()
	day := int64(24 * 3600 * 1000)
	for _, c := range []struct {
		name  string
		c     *client.Client
		query string
		vars  map[string]any
		code  string
	}{
		{"series without mirror", e.upstream, seriesQuery, series(now-7*day, now, "DAY", nil), graph.CodeMirrorUnavailable},
		{"stats by user without mirror", e.upstream, mirrorStatsQuery, map[string]any{"groupBy": []string{}, "filter": map[string]any{"userId": "usr_1"}}, graph.CodeMirrorRequired},
		{"series before coverage", partialClient, seriesQuery, series(now-60*day, now, "DAY", nil), graph.CodeMirrorNotCovered},
		{"series, filter before coverage", partialClient, seriesQuery, series(now-60*day, now, "DAY", map[string]any{"filter": map[string]any{"minDate": "2026-06-01"}}), graph.CodeMirrorNotCovered},
		{"stats by campaigns, all time, partial mirror", partialClient, mirrorStatsQuery, map[string]any{"groupBy": []string{}, "filter": map[string]any{"campaignIds": []string{"cam_1"}}}, graph.CodeMirrorRequired},
		{"to before from", e.mirrored, seriesQuery, series(now, now-day, "DAY", nil), graph.CodeBadUserInput},
		{"too many buckets", e.mirrored, seriesQuery, series(0, now, "HOUR", nil), graph.CodeBadUserInput},
		{"DAY in groupBy", e.mirrored, seriesQuery, series(now-day, now, "DAY", map[string]any{"groupBy": []string{"DAY"}}), graph.CodeBadUserInput},
		{"bad timestamp", e.mirrored, seriesQuery, series("banana", now, "DAY", nil), graph.CodeBadUserInput},
		{"fractional timestamp", e.mirrored, seriesQuery, series(1.5, now, "DAY", nil), graph.CodeBadUserInput},
		{"bad zone", e.mirrored, seriesQuery, series(now-day, now, "DAY", map[string]any{"tz": "Mars/Olympus"}), graph.CodeBadUserInput},
		{"empty campaignIds", e.mirrored, mirrorStatsQuery, map[string]any{"groupBy": []string{}, "filter": map[string]any{"campaignIds": []string{}}}, graph.CodeBadUserInput},
	} {
		e.fake.ResetRequests()
		partial.fake.ResetRequests()
		errs := run(t, c.c, c.query, c.vars, nil)
		if got := codeOf(t, errs); got != c.code {
			t.Errorf("%s: code %q (%s), want %s", c.name, got, errs[0].Message, c.code)
		}
		if n := len(e.fake.Requests()) + len(partial.fake.Requests()); n != 0 {
			t.Errorf("%s: %d upstream requests", c.name, n)
		}
	}
	// An unknown interval fails validation, before any resolver: the
	// server answers it 200 (application/json), with the error and no data.
	e.fake.ResetRequests()
	resp, err := e.mirrored.RawPost(seriesQuery, client.Var("from", now-day), client.Var("to", now), client.Var("iv", "FORTNIGHT"))
	if err != nil || resp.Data != nil || !strings.Contains(string(resp.Errors), "GRAPHQL_VALIDATION_FAILED") || len(e.fake.Requests()) != 0 {
		t.Errorf("interval FORTNIGHT: %v %+v, %d upstream requests; want GRAPHQL_VALIDATION_FAILED", err, resp, len(e.fake.Requests()))
	}
	// Stats the partial mirror does not cover are scanned upstream; those
	// it covers come from it.
	for _, c := range []struct {
		filter map[string]any
		source string
	}{
		{nil, "UPSTREAM"},
		{map[string]any{"minDate": "2026-06-01"}, "UPSTREAM"},
		{map[string]any{"minDate": mirrorNow.AddDate(0, 0, -10).Format(time.RFC3339)}, "MIRROR"},
	} {
		got := partial.stats(t, partialClient, map[string]any{"groupBy": []string{"TYPE"}, "filter": c.filter})
		if got.Source != c.source {
			t.Errorf("partial mirror, filter %v: source %s, want %s", c.filter, got.Source, c.source)
		}
	}
}
