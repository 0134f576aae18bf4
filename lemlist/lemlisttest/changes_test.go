package lemlisttest_test

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// listAll reads every activity matching opts through the client, page by
// page.
func listAll(t testing.TB, c *lemlist.Client, opts lemlist.ActivityListOptions) []string {
	t.Helper()
	var out []string
	for a, err := range c.Activities.ListIter(t.Context(), &opts) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a.ID)
	}
	return out
}

func TestLateArrivalsAndDeletions(t *testing.T) {
	t.Parallel()
	s := small(t, 300)
	c := s.Client()
	before := expected(t, s, nil)
	mid := before[150] // newest first
	lead := s.Tenant(lemlisttest.DefaultTenant).Leads()[3]

	// A late arrival lands among the old activities, after its equals.
	late, err := s.Insert(
		lemlisttest.ActivitySpec{Type: "emailsReplied", LeadID: lead.ID, CreatedAt: mid.CreatedAt},
		lemlisttest.ActivitySpec{Type: "annotated", CreatedAt: before[299].CreatedAt.Add(-time.Hour)},
		lemlisttest.ActivitySpec{Type: "emailsSent", LeadID: lead.ID}, // on top
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(late) != 3 || late[0].Type != "emailsSent" || late[1].Type != "emailsReplied" || late[2].Type != "annotated" {
		t.Fatalf("inserted, newest first: %+v", late)
	}
	if !late[1].CreatedAt.Equal(mid.CreatedAt) || !late[0].CreatedAt.After(before[0].CreatedAt) {
		t.Fatalf("dates: %+v", late)
	}
	all := expected(t, s, nil)
	if len(all) != 303 || all[0].ID != late[0].ID || all[302].ID != late[2].ID {
		t.Fatalf("after insert: %d activities, newest %s, oldest %s", len(all), all[0].ID, all[302].ID)
	}
	// Equal createdAt are ordered by id, descending.
	i := slices.IndexFunc(all, func(a lemlisttest.Activity) bool { return a.ID == late[1].ID })
	for j := range all {
		a := all[j]
		if a.CreatedAt.Equal(mid.CreatedAt) && ((j < i) != (a.ID > late[1].ID)) && j != i {
			t.Errorf("tie order: %s at %d, late %s at %d", a.ID, j, late[1].ID, i)
		}
	}
	equalIDs(t, "paged after insert", listAll(t, c, lemlist.ActivityListOptions{}), expIDs(all))
	equalIDs(t, "by lead", listAll(t, c, lemlist.ActivityListOptions{LeadID: lead.ID}),
		filterAll(all, func(a lemlisttest.Activity) bool { return a.LeadID == lead.ID }))
	equalIDs(t, "by campaign and type", listAll(t, c, lemlist.ActivityListOptions{CampaignID: lead.CampaignID, Type: "emailsReplied"}),
		filterAll(all, func(a lemlisttest.Activity) bool {
			return a.CampaignID == lead.CampaignID && a.Type == "emailsReplied"
		}))
	for _, a := range late {
		if js := string(a.JSON()); !contains(js, `"_id":"`+a.ID+`"`) || !contains(js, isoMs(a.CreatedAt)) {
			t.Errorf("JSON of %s: %s", a.ID, js)
		}
	}
	// Values taken before the insert still render their own activity.
	if js := string(before[299].JSON()); !contains(js, before[299].ID) {
		t.Errorf("stale position: %s", js)
	}

	// Deletions: gone from every list and index; unknown ids are ignored.
	gone := []string{late[1].ID, all[0].ID, all[100].ID, all[302].ID, "act_nope", "nope"}
	if n := s.Delete(gone...); n != 4 {
		t.Fatalf("Delete removed %d, want 4", n)
	}
	if n := s.Delete(late[1].ID); n != 0 {
		t.Fatalf("second Delete removed %d", n)
	}
	want := filterAll(all, func(a lemlisttest.Activity) bool { return !slices.Contains(gone, a.ID) })
	equalIDs(t, "expected after delete", expIDs(expected(t, s, nil)), want)
	equalIDs(t, "paged after delete", listAll(t, c, lemlist.ActivityListOptions{}), want)
	equalIDs(t, "by lead after delete", listAll(t, c, lemlist.ActivityListOptions{LeadID: lead.ID}),
		filterAll(all, func(a lemlisttest.Activity) bool { return a.LeadID == lead.ID && !slices.Contains(gone, a.ID) }))
	equalIDs(t, "isFirst after delete", listAll(t, c, lemlist.ActivityListOptions{IsFirst: new(true)}),
		filterAll(all, func(a lemlisttest.Activity) bool {
			return a.IsFirst != nil && *a.IsFirst && !slices.Contains(gone, a.ID)
		}))
	if js := late[1].JSON(); js != nil {
		t.Errorf("deleted activity renders %s", js)
	}
	// Inserting on top still works after a rebuild.
	top := s.InsertActivities(2)
	got := expected(t, s, url.Values{"limit": {"2"}})
	if got[0].ID != top[0].ID || got[1].ID != top[1].ID {
		t.Errorf("top after delete: %v, inserted %v", expIDs(got[:2]), expIDs(top))
	}
}
