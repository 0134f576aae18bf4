package lemlisttest_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// TestPagingProperty draws random filters, pages through them with the real
// client using random page sizes, and checks that the concatenated pages
// equal both Expected and an independent brute-force filter, id for id.
func TestPagingProperty(t *testing.T) {
	t.Parallel()
	s := small(t, 2000)
	tn := s.Tenant(lemlisttest.DefaultTenant)
	c := s.Client()
	all := expected(t, s, nil)
	camps := tn.Campaigns()
	leads := tn.Leads()
	types := append(tn.Types(), "noSuchType", "annotated")
	rng := rand.New(rand.NewPCG(1, 2))

	randomTime := func() time.Time {
		if rng.IntN(2) == 0 { // an activity's exact instant: exercises inclusive bounds
			return all[rng.IntN(len(all))].CreatedAt
		}
		lo, hi := all[len(all)-1].CreatedAt.Add(-time.Hour), all[0].CreatedAt.Add(time.Hour)
		return lo.Add(time.Duration(rng.Int64N(int64(hi.Sub(lo))))).Truncate(time.Millisecond)
	}

	byID := map[string]lemlisttest.Activity{}
	for _, a := range all {
		byID[a.ID] = a
	}
	iterations := 300
	if raceEnabled || testing.Short() {
		iterations = 60
	}
	nonEmpty, multiPage := 0, 0
	for it := range iterations {
		var o lemlist.ActivityListOptions
		if rng.IntN(2) == 0 {
			o.Type = types[rng.IntN(len(types))]
		}
		if rng.IntN(5) < 2 {
			o.CampaignID = camps[rng.IntN(len(camps))].ID
		}
		if rng.IntN(4) == 0 {
			l := leads[rng.IntN(len(leads))]
			if o.CampaignID != "" && rng.IntN(2) == 0 {
				for _, cand := range camps {
					if cand.ID == o.CampaignID && len(cand.LeadIDs) > 0 {
						l.ID = cand.LeadIDs[rng.IntN(len(cand.LeadIDs))]
					}
				}
			}
			o.LeadID = l.ID
		}
		if rng.IntN(10) < 3 {
			v := rng.IntN(2) == 0
			o.IsFirst = &v
		}
		if rng.IntN(10) < 4 {
			o.MinDate = randomTime()
		}
		if rng.IntN(10) < 4 {
			o.MaxDate = randomTime()
		}
		if !o.MinDate.IsZero() && !o.MaxDate.IsZero() && !o.MaxDate.After(o.MinDate) {
			o.MinDate, o.MaxDate = o.MaxDate, o.MinDate
			if !o.MaxDate.After(o.MinDate) {
				o.MaxDate = time.Time{}
			}
		}

		want := filterAll(all, func(a lemlisttest.Activity) bool {
			first := a.IsFirst != nil && *a.IsFirst
			return (o.Type == "" || a.Type == o.Type) &&
				(o.CampaignID == "" || a.CampaignID == o.CampaignID) &&
				(o.LeadID == "" || a.LeadID == o.LeadID) &&
				(o.IsFirst == nil || first == *o.IsFirst) &&
				(o.MinDate.IsZero() || !a.CreatedAt.Before(o.MinDate)) &&
				(o.MaxDate.IsZero() || !a.CreatedAt.After(o.MaxDate))
		})
		q, err := o.Values()
		if err != nil {
			t.Fatalf("iteration %d: %+v: %v", it, o, err)
		}
		equalIDs(t, "Expected", expIDs(expected(t, s, q)), want)

		// Page through with a random size, at most ~40 pages.
		o.Limit = 1 + rng.IntN(100)
		if len(want)/o.Limit > 40 {
			o.Limit = min(100, len(want)/40+1)
		}
		var got []string
		for o.Offset = 0; ; {
			page, resp, err := c.Activities.List(t.Context(), &o)
			if err != nil {
				t.Fatalf("iteration %d: %+v: %v", it, o, err)
			}
			for _, a := range page {
				got = append(got, a.ID)
				e := byID[a.ID]
				if a.Type != e.Type || !a.CreatedAt.Equal(e.CreatedAt) || a.CampaignID != e.CampaignID || a.LeadID != e.LeadID || a.ContactID != e.ContactID {
					t.Fatalf("decoded %+v, fake %+v", a, e)
				}
			}
			if resp.NextOffset == 0 {
				break
			}
			o.Offset = resp.NextOffset
		}
		equalIDs(t, "pages", got, want)
		if len(want) > 0 {
			nonEmpty++
		}
		if len(want) > o.Limit {
			multiPage++
		}
	}
	t.Logf("%d iterations, %d non-empty, %d over several pages", iterations, nonEmpty, multiPage)
	if nonEmpty < iterations/3 || multiPage < iterations/5 {
		t.Errorf("weak coverage: %d non-empty, %d multi-page", nonEmpty, multiPage)
	}
}
