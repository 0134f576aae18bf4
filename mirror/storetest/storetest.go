// Package storetest is the contract suite of mirror.Store: every
// implementation (SQLite now, PostgreSQL later) runs Run in its tests.
// Aggregates are checked against BruteStats and BruteSeries, plain Go
// counts over the same rows.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/mirror"
)

// Run runs the contract suite. newStore returns a new, empty store, closed
// by the caller's cleanup.
func Run(t *testing.T, newStore func(t *testing.T) mirror.Store) {
	t.Run("Empty", func(t *testing.T) { t.Parallel(); testEmpty(t, newStore(t)) })
	t.Run("State", func(t *testing.T) { t.Parallel(); testState(t, newStore(t)) })
	t.Run("UpsertAndDelete", func(t *testing.T) { t.Parallel(); testUpsertDelete(t, newStore(t)) })
	t.Run("Tenants", func(t *testing.T) { t.Parallel(); testTenants(t, newStore(t)) })
	t.Run("IDsInRange", func(t *testing.T) { t.Parallel(); testIDsInRange(t, newStore(t)) })
	t.Run("Aggregates", func(t *testing.T) { t.Parallel(); testAggregates(t, newStore(t)) })
	t.Run("Zones", func(t *testing.T) { t.Parallel(); testZones(t, newStore(t)) })
	t.Run("InvalidQueries", func(t *testing.T) { t.Parallel(); testInvalid(t, newStore(t)) })
}

var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func apply(t *testing.T, s mirror.Store, tenant string, b mirror.Batch) mirror.Applied {
	t.Helper()
	if b.At.IsZero() {
		b.At = base
	}
	res, err := s.Apply(t.Context(), tenant, b)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func count(t *testing.T, s mirror.Store, tenant string) int {
	t.Helper()
	n, err := s.Count(t.Context(), tenant)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func row(id string, at time.Time) mirror.Row {
	return mirror.Row{ID: id, Type: "emailsSent", Channel: "EMAIL", CampaignID: "cam_1", LeadID: "lea_1",
		ContactID: "ctc_1", UserID: "usr_1", CreatedAt: at, Raw: json.RawMessage(`{"_id":"` + id + `"}`)}
}

func testEmpty(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	if _, ok, err := s.LoadState(ctx, "nobody"); ok || err != nil {
		t.Errorf("LoadState: ok %v, err %v", ok, err)
	}
	if n := count(t, s, "nobody"); n != 0 {
		t.Errorf("Count %d", n)
	}
	if _, ok, err := s.Get(ctx, "nobody", "act_1"); ok || err != nil {
		t.Errorf("Get: ok %v, err %v", ok, err)
	}
	ids, err := s.IDsInRange(ctx, "nobody", base.Add(-time.Hour), base)
	if len(ids) != 0 || err != nil {
		t.Errorf("IDsInRange: %v %v", ids, err)
	}
	st, err := s.Stats(ctx, "nobody", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimDay}, Rates: true})
	if err != nil || st.Total != 0 || len(st.Groups) != 0 || len(st.CampaignRates) != 0 {
		t.Errorf("Stats: %+v %v", st, err)
	}
	se, err := s.Series(ctx, "nobody", mirror.SeriesQuery{Filter: mirror.Filter{From: base, To: base.Add(47 * time.Hour)}, Interval: mirror.Day})
	want := &mirror.Series{Starts: []time.Time{base, base.Add(24 * time.Hour)}, Lines: []mirror.Line{{Counts: []int{0, 0}}}}
	if err != nil || !seriesEqual(se, want) {
		t.Errorf("Series: %+v %v", se, err)
	}
}

func testState(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	st := mirror.State{
		Since: base.Add(-365 * 24 * time.Hour), Start: base, Cursor: base.Add(-time.Hour).Add(123 * time.Millisecond),
		CoveredTo: base.Add(time.Minute), AllTime: true,
	}
	apply(t, s, "t1", mirror.Batch{State: &st})
	got, ok, err := s.LoadState(ctx, "t1")
	if err != nil || !ok {
		t.Fatalf("LoadState: %v %v", ok, err)
	}
	if !stateEqual(got, st) {
		t.Errorf("state round trip:\n got %+v\nwant %+v", got, st)
	}
	st.BackfillDone, st.LastReconciled, st.FullReconciled = true, base.Add(2*time.Minute), base.Add(3*time.Minute)
	st.FullCursor, st.FullTop = base.Add(-time.Minute), base
	apply(t, s, "t1", mirror.Batch{Upserts: []mirror.Row{row("act_1", base)}, State: &st})
	got, _, _ = s.LoadState(ctx, "t1")
	if !stateEqual(got, st) {
		t.Errorf("state update:\n got %+v\nwant %+v", got, st)
	}
	// A batch without State leaves it alone.
	apply(t, s, "t1", mirror.Batch{Upserts: []mirror.Row{row("act_2", base)}})
	got, _, _ = s.LoadState(ctx, "t1")
	if !stateEqual(got, st) {
		t.Errorf("state after a stateless batch:\n got %+v\nwant %+v", got, st)
	}
}

func stateEqual(a, b mirror.State) bool {
	ts := func(s mirror.State) []time.Time {
		return []time.Time{s.Since, s.Start, s.Cursor, s.CoveredTo, s.LastReconciled, s.FullReconciled, s.FullCursor, s.FullTop}
	}
	return slices.EqualFunc(ts(a), ts(b), time.Time.Equal) && a.BackfillDone == b.BackfillDone && a.AllTime == b.AllTime
}

func testUpsertDelete(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	r1, r2, r3 := row("act_1", base), row("act_2", base.Add(time.Second)), row("act_3", base.Add(2*time.Second))
	step := 2
	r2.SequenceStep, r2.IsFirst = &step, true
	res := apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{r1, r2, r3}})
	if !slices.Equal(res.Inserted, []int{0, 1, 2}) || count(t, s, "t") != 3 {
		t.Fatalf("first batch: %+v, count %d", res, count(t, s, "t"))
	}
	got, ok, err := s.Get(ctx, "t", "act_2")
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	if diff := cmp.Diff(r2, got); diff != "" {
		t.Errorf("Get act_2 (-want +got):\n%s", diff)
	}
	// Replays insert nothing; an update replaces every column.
	r1b := r1
	r1b.Type, r1b.Channel, r1b.CreatedAt, r1b.Raw = "emailsOpened", "EMAIL", base.Add(-time.Hour), json.RawMessage(`{"_id":"act_1","v":2}`)
	res = apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{r3, r1b, row("act_4", base), row("act_4", base.Add(time.Minute))}})
	if !slices.Equal(res.Inserted, []int{3}) || count(t, s, "t") != 4 {
		t.Fatalf("replay: %+v, count %d", res, count(t, s, "t"))
	}
	if got, _, _ := s.Get(ctx, "t", "act_1"); !cmp.Equal(got, r1b) {
		t.Errorf("updated act_1: %+v", got)
	}
	if got, _, _ := s.Get(ctx, "t", "act_4"); !got.CreatedAt.Equal(base.Add(time.Minute)) {
		t.Errorf("the last upsert of an id wins: %v", got.CreatedAt)
	}
	st, err := s.Stats(ctx, "t", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimType}})
	wantGroups := []mirror.Group{{Key: mirror.GroupKey{Type: "emailsOpened"}, Count: 1}, {Key: mirror.GroupKey{Type: "emailsSent"}, Count: 3}}
	if err != nil || st.Total != 4 || !cmp.Equal(st.Groups, wantGroups) {
		t.Errorf("stats after update: %+v %v", st, err)
	}
	// Deletions.
	res = apply(t, s, "t", mirror.Batch{Deletes: []string{"act_2", "act_9", "act_2"}})
	if res.Deleted != 1 || count(t, s, "t") != 3 {
		t.Fatalf("delete: %+v, count %d", res, count(t, s, "t"))
	}
	if _, ok, _ := s.Get(ctx, "t", "act_2"); ok {
		t.Error("deleted act_2 still there")
	}
	// A deleted id comes back as an insert.
	res = apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{r2}, Deletes: []string{"act_3"}})
	if !slices.Equal(res.Inserted, []int{0}) || res.Deleted != 1 || count(t, s, "t") != 3 {
		t.Fatalf("re-insert: %+v, count %d", res, count(t, s, "t"))
	}
	st, _ = s.Stats(ctx, "t", mirror.StatsQuery{})
	if st.Total != 3 {
		t.Errorf("total %d, want 3", st.Total)
	}
}

func testTenants(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	apply(t, s, "a", mirror.Batch{Upserts: []mirror.Row{row("act_1", base), row("act_2", base)}})
	b1 := row("act_1", base.Add(time.Hour))
	b1.Type = "linkedinSent"
	apply(t, s, "b", mirror.Batch{Upserts: []mirror.Row{b1}})
	if count(t, s, "a") != 2 || count(t, s, "b") != 1 {
		t.Fatalf("counts %d %d", count(t, s, "a"), count(t, s, "b"))
	}
	if got, _, _ := s.Get(ctx, "a", "act_1"); got.Type != "emailsSent" {
		t.Errorf("tenant a's act_1 is %q", got.Type)
	}
	apply(t, s, "b", mirror.Batch{Deletes: []string{"act_2"}})
	if count(t, s, "a") != 2 {
		t.Error("a delete in tenant b removed tenant a's row")
	}
	st, _ := s.Stats(ctx, "b", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimType}})
	if st.Total != 1 || st.Groups[0].Key.Type != "linkedinSent" {
		t.Errorf("tenant b's stats: %+v", st)
	}
}

func testIDsInRange(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{row("act_a", base), row("act_b", base.Add(time.Millisecond)),
		row("act_c", base.Add(time.Second)), row("act_d", base.Add(time.Second)), row("act_e", base.Add(2*time.Second))},
		At: base.Add(time.Hour)})
	apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{row("act_c", base.Add(time.Second))}, At: base.Add(2 * time.Hour)})
	got, err := s.IDsInRange(ctx, "t", base.Add(time.Millisecond), base.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b mirror.Stored) int { return cmp2(a.ID, b.ID) })
	want := []mirror.Stored{
		{ID: "act_b", CreatedAt: base.Add(time.Millisecond), WrittenAt: base.Add(time.Hour)},
		{ID: "act_c", CreatedAt: base.Add(time.Second), WrittenAt: base.Add(2 * time.Hour)},
		{ID: "act_d", CreatedAt: base.Add(time.Second), WrittenAt: base.Add(time.Hour)},
	}
	if !cmp.Equal(got, want) {
		t.Errorf("IDsInRange (both bounds inclusive):\n got %+v\nwant %+v", got, want)
	}
}

func cmp2(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// zones exercise whole-hour, half-hour and quarter-hour offsets, DST in
// both hemispheres, Lord Howe's half-hour DST, and DST changes at
// midnight (Havana skips and repeats it, Santiago skips it).
var zones = []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
	"Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati", "America/Havana",
	"America/Santiago"}

// shiftRows returns rows every 7 minutes within 3 hours of each offset
// change of zones in [from, to], where buckets are cut unevenly.
func shiftRows(from, to time.Time) []mirror.Row {
	var out []mirror.Row
	for _, zone := range zones {
		loc, _ := time.LoadLocation(zone)
		for at := from; at.Before(to); {
			_, change := at.In(loc).ZoneBounds()
			if change.IsZero() || change.After(to) {
				break
			}
			for d := -3 * time.Hour; d <= 3*time.Hour; d += 7 * time.Minute {
				r := row(fmt.Sprintf("act_shift_%d", len(out)), change.Add(d))
				r.CampaignID = fmt.Sprintf("cam_%d", len(out)%3)
				out = append(out, r)
			}
			at = change
		}
	}
	return out
}

// RandomRows returns n deterministic rows over span before end, with
// repeated dimensions and some empty ones, for aggregate checks.
func RandomRows(seed uint64, n int, end time.Time, span time.Duration) []mirror.Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	types := []struct{ typ, ch string }{
		{"emailsSent", "EMAIL"}, {"emailsOpened", "EMAIL"}, {"emailsReplied", "EMAIL"}, {"emailsClicked", "EMAIL"},
		{"linkedinSent", "LINKEDIN"}, {"linkedinInviteDone", "LINKEDIN"}, {"annotated", "NOTE"}, {"paused", "LIFECYCLE"},
		{"quantumTeleported", "OTHER"},
	}
	rows := make([]mirror.Row, n)
	for i := range rows {
		tp := types[rng.IntN(len(types))]
		r := mirror.Row{
			ID: fmt.Sprintf("act_%06d", i), Type: tp.typ, Channel: tp.ch,
			CreatedAt: end.Add(-time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond),
			IsFirst:   rng.IntN(4) == 0,
			Raw:       json.RawMessage(`{}`),
		}
		if i > 0 && rng.IntN(20) == 0 { // shared createdAt
			r.CreatedAt = rows[i-1].CreatedAt
		}
		if tp.typ != "annotated" {
			r.CampaignID = fmt.Sprintf("cam_%02d", rng.IntN(12))
			r.LeadID = fmt.Sprintf("lea_%03d", rng.IntN(150))
			r.ContactID = "ctc_" + r.LeadID[4:]
		}
		if rng.IntN(10) > 0 {
			r.UserID = fmt.Sprintf("usr_%d", rng.IntN(4))
		}
		rows[i] = r
	}
	return rows
}

// Queries returns deterministic stats queries over rows' dimensions.
func Queries(seed uint64, rows []mirror.Row, n int) []mirror.StatsQuery {
	rng := rand.New(rand.NewPCG(seed, 9))
	pick := func(get func(r *mirror.Row) string, k int) []string {
		var out []string
		for range k {
			out = append(out, get(&rows[rng.IntN(len(rows))]))
		}
		return out
	}
	dims := []mirror.Dim{mirror.DimType, mirror.DimChannel, mirror.DimDay, mirror.DimCampaign, mirror.DimUser}
	var out []mirror.StatsQuery
	for i := range n {
		var q mirror.StatsQuery
		for _, d := range dims {
			if rng.IntN(3) == 0 {
				q.GroupBy = append(q.GroupBy, d)
			}
		}
		f := &q.Filter
		if rng.IntN(4) == 0 {
			f.Types = pick(func(r *mirror.Row) string { return r.Type }, 1+rng.IntN(3))
		}
		if rng.IntN(5) == 0 {
			f.Channels = pick(func(r *mirror.Row) string { return r.Channel }, 1)
		}
		if rng.IntN(4) == 0 {
			f.CampaignIDs = pick(func(r *mirror.Row) string { return r.CampaignID }, 1+rng.IntN(3))
		}
		if rng.IntN(5) == 0 {
			f.UserIDs = pick(func(r *mirror.Row) string { return r.UserID }, 1)
		}
		if rng.IntN(8) == 0 {
			f.LeadID = rows[rng.IntN(len(rows))].LeadID
		}
		if rng.IntN(4) == 0 {
			f.IsFirst = new(rng.IntN(2) == 0)
		}
		if rng.IntN(2) == 0 {
			a, b := rows[rng.IntN(len(rows))].CreatedAt, rows[rng.IntN(len(rows))].CreatedAt
			if b.Before(a) {
				a, b = b, a
			}
			f.From, f.To = a, b
		}
		if i%7 == 3 {
			f.Types = append(f.Types, "neverSeen") // unknown values match nothing
		}
		loc, _ := time.LoadLocation(zones[i%len(zones)])
		q.Location, q.Rates = loc, rng.IntN(2) == 0
		out = append(out, q)
	}
	return out
}

// CheckStats fails t when s's answers to queries differ from BruteStats
// over rows.
func CheckStats(t testing.TB, s mirror.Store, tenant string, rows []mirror.Row, queries []mirror.StatsQuery) {
	t.Helper()
	ctx := context.Background()
	for i, q := range queries {
		got, err := s.Stats(ctx, tenant, q)
		if err != nil {
			t.Fatalf("query %d %+v: %v", i, q, err)
		}
		want := BruteStats(rows, q)
		if !q.Rates {
			want.CampaignRates = []mirror.CampaignRates{}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("query %d (%+v, zone %s) differs from brute force (-want +got):\n%s", i, q, q.Location, diff)
		}
	}
}

func seriesEqual(a, b *mirror.Series) bool {
	return slices.EqualFunc(a.Starts, b.Starts, time.Time.Equal) && slices.EqualFunc(a.Lines, b.Lines, func(x, y mirror.Line) bool {
		return x.Key == y.Key && slices.Equal(x.Counts, y.Counts)
	})
}

// CheckSeries fails t when s's series differ from BruteSeries over rows,
// for every interval and zone.
func CheckSeries(t testing.TB, s mirror.Store, tenant string, rows []mirror.Row, from, to time.Time, groupBy []mirror.Dim, f mirror.Filter) {
	t.Helper()
	for _, zone := range zones {
		loc, _ := time.LoadLocation(zone)
		for _, iv := range []mirror.Interval{mirror.Hour, mirror.Day, mirror.Week, mirror.Month} {
			f.From, f.To = from, to
			q := mirror.SeriesQuery{Filter: f, Interval: iv, Location: loc, GroupBy: groupBy}
			got, err := s.Series(context.Background(), tenant, q)
			if err != nil {
				t.Fatalf("%s %s: %v", zone, iv, err)
			}
			want, ok := BruteSeries(rows, q)
			if !ok {
				t.Fatalf("%s %s: mirror.Buckets disagrees with the buckets' labels (local hour and offset, day, week, month)", zone, iv)
			}
			if !seriesEqual(got, want) {
				t.Fatalf("%s %s %v: series differ from brute force:\n got %d buckets from %v, %d lines\nwant %d buckets from %v, %d lines\n%s",
					zone, iv, groupBy, len(got.Starts), first(got.Starts), len(got.Lines), len(want.Starts), first(want.Starts), len(want.Lines),
					cmp.Diff(want.Lines, got.Lines))
			}
		}
	}
}

func first(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	return ts[0]
}

func testAggregates(t *testing.T, s mirror.Store) {
	// Two months around Europe's and America's spring DST changes.
	end := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	rows := RandomRows(1, Scale(3000), end, 60*24*time.Hour)
	for i := 0; i < len(rows); i += 500 {
		apply(t, s, "t", mirror.Batch{Upserts: rows[i:min(i+500, len(rows))]})
	}
	apply(t, s, "other", mirror.Batch{Upserts: RandomRows(2, 200, end, 24*time.Hour)})
	queries := Queries(3, rows, Scale(150))
	CheckStats(t, s, "t", rows, queries)
	from, to := end.Add(-50*24*time.Hour).Add(1234*time.Millisecond), end.Add(-3*time.Hour)
	CheckSeries(t, s, "t", rows, from, to, nil, mirror.Filter{})
	CheckSeries(t, s, "t", rows, from, to, []mirror.Dim{mirror.DimCampaign, mirror.DimType}, mirror.Filter{IsFirst: new(false)})
	CheckSeries(t, s, "t", rows, from, from.Add(3*24*time.Hour), []mirror.Dim{mirror.DimUser, mirror.DimChannel},
		mirror.Filter{CampaignIDs: []string{"cam_01", "cam_02"}, Types: []string{"emailsSent", "emailsOpened", "linkedinSent"}})

	// Updates and deletions move the counts.
	rng := rand.New(rand.NewPCG(4, 4))
	var dels []string
	for range Scale(300) {
		dels = append(dels, rows[rng.IntN(len(rows))].ID)
	}
	var ups []mirror.Row
	for range Scale(200) {
		r := rows[rng.IntN(len(rows))]
		r.Type, r.Channel, r.CampaignID = "emailsReplied", "EMAIL", "cam_99"
		r.CreatedAt = r.CreatedAt.Add(-time.Duration(rng.IntN(48)) * time.Hour)
		ups = append(ups, r)
	}
	apply(t, s, "t", mirror.Batch{Upserts: ups, Deletes: dels})
	byID := map[string]mirror.Row{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	for _, id := range dels {
		delete(byID, id)
	}
	for _, r := range ups { // upserts and deletes of one batch: the store applies upserts first
		if !slices.Contains(dels, r.ID) {
			byID[r.ID] = r
		}
	}
	var now []mirror.Row
	for _, r := range byID {
		now = append(now, r)
	}
	if n := count(t, s, "t"); n != len(now) {
		t.Fatalf("count %d after changes, want %d", n, len(now))
	}
	CheckStats(t, s, "t", now, queries)
	CheckSeries(t, s, "t", now, from, to, []mirror.Dim{mirror.DimCampaign}, mirror.Filter{})
}

// testZones checks series and daily stats around the offset changes of
// zones with odd offsets and DST rules, for every interval. It starts
// with issue 12's repro: HOUR buckets around Lord Howe's half-hour shift
// on 5 April 2026 once disagreed with the brute force.
func testZones(t *testing.T, s mirror.Store) {
	end := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	rows := RandomRows(11, 1000, end, 20*24*time.Hour)
	apply(t, s, "t", mirror.Batch{Upserts: rows})
	CheckSeries(t, s, "t", rows, end.Add(-20*24*time.Hour), end, []mirror.Dim{mirror.DimCampaign}, mirror.Filter{})

	shifts := shiftRows(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC))
	if len(shifts) < 10*52 { // seven zones change twice (tzdata 2026)
		t.Fatalf("only %d rows around offset changes", len(shifts))
	}
	apply(t, s, "t", mirror.Batch{Upserts: shifts})
	rows = append(rows, shifts...)
	CheckSeries(t, s, "t", rows, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), end, []mirror.Dim{mirror.DimCampaign}, mirror.Filter{})
	CheckSeries(t, s, "t", rows, time.Date(2026, 8, 30, 1, 2, 3, 0, time.UTC), time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC), nil, mirror.Filter{})
	var queries []mirror.StatsQuery
	for _, zone := range zones {
		loc, _ := time.LoadLocation(zone)
		queries = append(queries, mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: loc})
	}
	CheckStats(t, s, "t", rows, queries)
}

func testInvalid(t *testing.T, s mirror.Store) {
	ctx := t.Context()
	apply(t, s, "t", mirror.Batch{Upserts: []mirror.Row{row("act_1", base)}})
	for name, q := range map[string]mirror.SeriesQuery{
		"no range":     {Interval: mirror.Day},
		"bad interval": {Filter: mirror.Filter{From: base, To: base.Add(time.Hour)}, Interval: "DECADE"},
		"by day":       {Filter: mirror.Filter{From: base, To: base.Add(time.Hour)}, Interval: mirror.Day, GroupBy: []mirror.Dim{mirror.DimDay}},
		"backwards":    {Filter: mirror.Filter{From: base, To: base.Add(-time.Hour)}, Interval: mirror.Day},
		"too many":     {Filter: mirror.Filter{From: base, To: base.Add(5 * 365 * 24 * time.Hour)}, Interval: mirror.Hour},
	} {
		if _, err := s.Series(ctx, "t", q); !errors.Is(err, mirror.ErrInvalidQuery) {
			t.Errorf("%s: err %v, want ErrInvalidQuery", name, err)
		}
	}
	if _, err := s.Stats(ctx, "t", mirror.StatsQuery{GroupBy: []mirror.Dim{"WEEKDAY"}}); !errors.Is(err, mirror.ErrInvalidQuery) {
		t.Errorf("unknown dimension: err %v", err)
	}
}

// Scale returns n, or a third of it under the race detector.
func Scale(n int) int {
	if Race {
		return max(n/3, 1)
	}
	return n
}
