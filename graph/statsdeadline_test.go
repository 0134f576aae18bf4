package graph_test

import (
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// A scan that the request's deadline would cut (here the rate limit: 5
// calls per 2 s, for a scan of 500 calls within 1 s) stops before it and
// answers what it counted, partial with coveredFrom, as when
// maxUpstreamCalls runs out, instead of RATE_LIMITED and no data. Such an
// answer is not cached: the next call scans again (issue 13, item 5).
func TestStatsPartialNearDeadline(t *testing.T) {
	t.Parallel()
	fake := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Seed: 7, Activities: 5000}})
	t.Cleanup(fake.Close)
	up := upstream.Client(fake.Tenant(lemlisttest.DefaultTenant).Client(counted(nil), lemlist.WithRateLimit(5, 2*time.Second)))
	h := graphServer(t, stackOptions{up: up, tenant: "t", stats: graph.NewStatsCache(time.Minute, 16), deadline: time.Second})
	e := &env{c: client.New(h, client.Path("/graphql")), fake: fake}
	vars := map[string]any{"filter": map[string]any{"types": []string{"emailsSent", "emailsOpened"}}, "groupBy": []string{"CAMPAIGN"}, "max": 500}

	var data struct{ ActivityStats activityStats }
	if errs := e.do(t, statsQuery(statsFields), vars, &data); len(errs) > 0 {
		t.Fatalf("errors %+v", errs)
	}
	st := data.ActivityStats
	if !st.Partial || st.CoveredFrom == nil || st.ScannedActivities == 0 || st.Total != st.ScannedActivities {
		t.Fatalf("%+v, want a partial answer with coveredFrom", st)
	}
	if n := fake.CountRequests("/activities"); n > 5 {
		t.Errorf("%d upstream calls, the limiter allows 5", n)
	}
	// Every activity of the types created after coveredFrom is counted.
	want := 0
	for _, typ := range []string{"emailsSent", "emailsOpened"} {
		rows, err := fake.Tenant(lemlisttest.DefaultTenant).Expected(map[string][]string{"type": {typ}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range rows {
			if a.CreatedAt.After(*st.CoveredFrom) {
				want++
			}
		}
	}
	if st.Total < want || want == 0 {
		t.Errorf("%d counted, and %d were created after coveredFrom %s", st.Total, want, st.CoveredFrom)
	}

	// Not cached: the same call scans again (and, the limiter still full,
	// stops at once).
	if errs := e.do(t, statsQuery(statsFields), vars, &data); len(errs) > 0 {
		t.Fatalf("again: errors %+v", errs)
	}
	if st := data.ActivityStats; st.Cached || !st.Partial {
		t.Errorf("again: %+v, want partial and not cached", st)
	}
}
