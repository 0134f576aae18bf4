package lemlisttest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func TestMultiTenantIsolation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, lemlisttest.Options{
		APIKey:  "key-a",
		Dataset: lemlisttest.DatasetOptions{Activities: 300},
		Tenants: []lemlisttest.TenantOptions{{Name: "b", APIKey: "key-b", Dataset: lemlisttest.DatasetOptions{Activities: 200}}},
		Now:     clk.Now,
	})
	a, b := s.Tenant(lemlisttest.DefaultTenant), s.Tenant("b")
	if a == nil || b == nil || s.Tenant("c") != nil {
		t.Fatal("tenant lookup")
	}
	if a.TeamID() == b.TeamID() || a.Len() != 300 || b.Len() != 200 {
		t.Fatalf("teams %s %s, %d and %d activities", a.TeamID(), b.TeamID(), a.Len(), b.Len())
	}
	ca, cb := a.Client(noRetry()), b.Client(noRetry())

	pa, _, err := ca.Activities.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := cb.Activities.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, x := range pa {
		seen[x.ID] = true
		if x.TeamID != "" && x.TeamID != a.TeamID() {
			t.Errorf("tenant a serves team %s", x.TeamID)
		}
	}
	for _, x := range pb {
		if seen[x.ID] {
			t.Errorf("activity %s in both tenants", x.ID)
		}
		if x.TeamID != "" && x.TeamID != b.TeamID() {
			t.Errorf("tenant b serves team %s", x.TeamID)
		}
	}
	// One tenant cannot read the other's objects.
	campA := a.Campaigns()[0].ID
	if _, _, err := cb.Campaigns.Get(t.Context(), campA); !lemlist.IsNotFound(err) {
		t.Errorf("b reads a's campaign: %v", err)
	}
	if page, _, err := cb.Activities.List(t.Context(), &lemlist.ActivityListOptions{CampaignID: campA}); err != nil || len(page) != 0 {
		t.Errorf("b lists a's campaign: %d, %v", len(page), err)
	}
	ta, _, _ := ca.Team.Get(t.Context())
	tb, _, _ := cb.Team.Get(t.Context())
	if ta.ID != a.TeamID() || tb.ID != b.TeamID() || ta.Users[0].ID == tb.Users[0].ID {
		t.Errorf("teams %+v %+v", ta, tb)
	}

	// Separate rate-limit budgets.
	clk.Advance(time.Minute)
	for range 20 {
		rawGet(t, s, "key-a", "/team")
	}
	if r := rawGet(t, s, "key-a", "/team"); r.status != 429 {
		t.Errorf("a's 21st: %d", r.status)
	}
	if r := rawGet(t, s, "key-b", "/team"); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "19" {
		t.Errorf("b while a is limited: %d %v", r.status, r.header)
	}

	// The log names tenants, never keys.
	names := map[string]bool{}
	for _, r := range s.Requests() {
		names[r.Tenant] = true
		if strings.Contains(r.KeyHash, "key-") {
			t.Errorf("raw key in log: %+v", r)
		}
	}
	if !names[lemlisttest.DefaultTenant] || !names["b"] {
		t.Errorf("tenants in log: %v", names)
	}

	// Same options, other names: different data; same seed: same ids.
	s2 := newServer(t, lemlisttest.Options{
		Dataset: lemlisttest.DatasetOptions{Seed: 9, Activities: 50},
		Tenants: []lemlisttest.TenantOptions{{Name: "twin", APIKey: "k2", Dataset: lemlisttest.DatasetOptions{Seed: 9, Activities: 50}}},
	})
	x, _ := s2.Expected(nil)
	y, _ := s2.Tenant("twin").Expected(nil)
	if x[0].ID != y[0].ID {
		t.Error("same seed, different data")
	}
}

func TestNewServerPanicsOnBadTenants(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]lemlisttest.Options{
		"duplicate key":  {Tenants: []lemlisttest.TenantOptions{{Name: "b", APIKey: lemlisttest.DefaultAPIKey}}},
		"duplicate name": {Tenants: []lemlisttest.TenantOptions{{Name: lemlisttest.DefaultTenant, APIKey: "x"}}},
		"no key":         {Tenants: []lemlisttest.TenantOptions{{Name: "b"}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			s := lemlisttest.NewServer(opts)
			s.Close()
		}()
	}
}

func TestInsertOnTopShiftsOffsets(t *testing.T) {
	t.Parallel()
	s := small(t, 200)
	c := s.Client()
	page1, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	newest := page1[0].CreatedAt
	ins := s.InsertActivities(3)
	if len(ins) != 3 || !ins[2].CreatedAt.After(newest) || !ins[0].CreatedAt.After(ins[1].CreatedAt) {
		t.Fatalf("inserted %+v after %s", ins, newest)
	}
	all := expected(t, s, nil)
	equalIDs(t, "top of the list", expIDs(all[:3]), expIDs(ins))
	for _, a := range ins {
		if !strings.Contains(string(a.JSON()), `"_id":"`+a.ID+`"`) {
			t.Errorf("JSON of %s: %s", a.ID, a.JSON())
		}
	}

	// Offset pagination drifts: page 2 starts with page 1's last three rows.
	page2, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Offset: 10, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	equalIDs(t, "drift", ids(page2[:3]), ids(page1[7:]))
	// Freezing maxDate at the first page's newest row avoids it.
	page2, _, err = c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Offset: 10, Limit: 10, MaxDate: newest})
	if err != nil {
		t.Fatal(err)
	}
	equalIDs(t, "frozen", ids(page2), expIDs(all[13:23]))

	// Insert with a chosen lead, type and extra fields.
	lead := s.Tenant(lemlisttest.DefaultTenant).Leads()[0]
	got, err := s.Insert(
		lemlisttest.ActivitySpec{Type: "emailsReplied", LeadID: lead.ID, Fields: map[string]any{"customScore": 42, "tags": []string{"a"}}},
		lemlisttest.ActivitySpec{Type: "brandNewType", LeadID: lead.ID},
		lemlisttest.ActivitySpec{Type: "annotated"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got[2].Type != "emailsReplied" || got[2].LeadID != lead.ID || got[2].CampaignID != lead.CampaignID ||
		!strings.HasSuffix(string(got[2].JSON()), `,"customScore":42,"tags":["a"]}`) {
		t.Errorf("emailsReplied: %+v %s", got[2], got[2].JSON())
	}
	if got[0].Type != "annotated" || got[0].LeadID != "" || strings.Contains(string(got[0].JSON()), "leadId") {
		t.Errorf("annotated: %s", got[0].JSON())
	}
	page, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Type: "brandNewType"})
	if err != nil || len(page) != 1 || page[0].ID != got[1].ID || page[0].LeadID != lead.ID {
		t.Errorf("brandNewType: %v %v", page, err)
	}
	page, _, err = c.Activities.List(t.Context(), &lemlist.ActivityListOptions{LeadID: lead.ID, Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != got[1].ID || page[1].ID != got[2].ID {
		t.Errorf("lead's newest: %v %v", page, err)
	}
	if _, err := s.Insert(lemlisttest.ActivitySpec{LeadID: "lea_nope"}); err == nil {
		t.Error("unknown lead accepted")
	}
	if _, err := s.Insert(lemlisttest.ActivitySpec{Fields: map[string]any{"bad": func() {}}}); err == nil {
		t.Error("unencodable field accepted")
	}
}

func TestConcurrentReadsAndInserts(t *testing.T) {
	t.Parallel()
	s := small(t, 600)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := s.Client()
			n := 0
			for _, err := range c.Activities.ListIter(t.Context(), &lemlist.ActivityListOptions{Limit: 50}) {
				if err != nil {
					t.Error(err)
					return
				}
				n++
			}
			if n < 600 {
				t.Errorf("iterated %d", n)
			}
			_ = s.Requests()
		})
	}
	wg.Go(func() {
		for range 20 {
			s.InsertActivities(5)
			_ = s.MaxInWindow()
		}
	})
	wg.Wait()
	if s.Tenant(lemlisttest.DefaultTenant).Len() != 700 {
		t.Errorf("len %d", s.Tenant(lemlisttest.DefaultTenant).Len())
	}
}

func TestHandlerMountsUnderAnyPrefix(t *testing.T) {
	t.Parallel()
	s := small(t, 20)
	mux := http.NewServeMux()
	mux.Handle("/lemlist/", s.Handler())
	mux.Handle("/stripped/", http.StripPrefix("/stripped", s.Handler()))
	for _, p := range []string{"/lemlist/api/activities?version=v2&limit=2", "/stripped/api/activities?version=v2&limit=2"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.SetBasicAuth("", lemlisttest.DefaultAPIKey)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != 200 || len(activitiesIDs(t, rec.Body.String())) != 2 {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
	if got := s.Requests(); got[len(got)-1].Path != "/activities" {
		t.Errorf("logged path %q", got[len(got)-1].Path)
	}
	// A mounted handler works with the real client too.
	front := httptest.NewServer(mux)
	defer front.Close()
	c, err := lemlist.NewClient(lemlisttest.DefaultAPIKey, lemlist.WithBaseURL(front.URL+"/lemlist/api"), lemlist.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 3}); err != nil || len(page) != 3 {
		t.Errorf("client through the mount: %d %v", len(page), err)
	}
	// Other methods on API routes are refused.
	req := httptest.NewRequest(http.MethodPost, "/lemlist/api/activities", nil)
	req.SetBasicAuth("", lemlisttest.DefaultAPIKey)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}
