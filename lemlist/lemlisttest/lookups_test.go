package lemlisttest_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// multiCampaignContact returns a contact enrolled in several campaigns.
func multiCampaignContact(t *testing.T, tn *lemlisttest.Tenant) lemlisttest.Contact {
	t.Helper()
	for _, c := range tn.Contacts() {
		if len(c.LeadIDs) >= 2 {
			return c
		}
	}
	t.Fatal("no contact in two campaigns")
	return lemlisttest.Contact{}
}

func TestLeadLookup(t *testing.T) {
	t.Parallel()
	s := small(t, 300)
	tn := s.Tenant(lemlisttest.DefaultTenant)
	c := s.Client(noRetry())
	want := tn.Leads()[5]
	l, _, err := c.Leads.Get(t.Context(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != want.ID || l.CampaignID != want.CampaignID || l.ContactID != want.ContactID ||
		l.Email != want.Email || l.FirstName != want.FirstName || l.LastName != want.LastName ||
		l.CompanyName == "" || l.CompanyDomain == "" || l.IsPaused == nil {
		t.Errorf("lead %+v, want %+v", l, want)
	}

	_, _, err = c.Leads.Get(t.Context(), "lea_doesNotExist0000")
	var er *lemlist.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 404 || er.Message != "Lead not found" || !lemlist.IsNotFound(err) {
		t.Errorf("unknown lead: %v", err)
	}

	// By email: the person's first lead; email wins over id.
	multi := multiCampaignContact(t, tn)
	for _, q := range []string{
		"?email=" + url.QueryEscape(multi.Email),
		"?email=" + url.QueryEscape(strings.ToUpper(multi.Email)),
		"?id=" + want.ID + "&email=" + url.QueryEscape(multi.Email),
	} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/leads"+q)
		var got struct {
			ID        string `json:"_id"`
			ContactID string `json:"contactId"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.ID != multi.LeadIDs[0] || got.ContactID != multi.ID {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/leads?email=nobody@example.com"); r.status != 404 || r.body != "Lead not found" {
		t.Errorf("unknown email: %d %q", r.status, r.body)
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/leads"); r.status != 400 {
		t.Errorf("no id nor email: %d %q", r.status, r.body)
	}

	// GET /leads/{email}: one element per campaign with v2, flat without.
	r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/leads/"+url.PathEscape(multi.Email)+"?version=v2")
	var perCampaign []struct {
		ID        string `json:"_id"`
		ContactID string `json:"contactId"`
		Campaign  struct {
			ID string `json:"id"`
		} `json:"campaign"`
	}
	if err := json.Unmarshal([]byte(r.body), &perCampaign); err != nil || len(perCampaign) != len(multi.LeadIDs) {
		t.Fatalf("leads/{email} v2: %d %s", r.status, r.body)
	}
	for i, p := range perCampaign {
		if p.ID != multi.LeadIDs[i] || p.ContactID != multi.ID || p.Campaign.ID == "" {
			t.Errorf("element %d: %+v", i, p)
		}
	}
	if perCampaign[0].Campaign.ID == perCampaign[1].Campaign.ID {
		t.Error("one person's leads share a campaign")
	}
	r = rawGet(t, s, lemlisttest.DefaultAPIKey, "/leads/"+url.PathEscape(multi.Email))
	if !strings.HasPrefix(r.body, "{") || !strings.Contains(r.body, multi.LeadIDs[0]) {
		t.Errorf("leads/{email} without v2: %s", r.body)
	}
}

func TestContacts(t *testing.T) {
	t.Parallel()
	s := small(t, 800)
	tn := s.Tenant(lemlisttest.DefaultTenant)
	c := s.Client(noRetry())
	multi := multiCampaignContact(t, tn)
	all := tn.Contacts()
	other := all[len(all)-1]

	got, _, err := c.Contacts.GetMany(t.Context(), []string{other.Email, "ctc_missing0000000000", multi.ID, multi.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d contacts, want 2 (missing dropped, duplicates merged)", len(got))
	}
	byID := map[string]*lemlist.Contact{}
	for _, ct := range got {
		byID[ct.ID] = ct
	}
	m := byID[multi.ID]
	if m == nil || byID[other.ID] == nil {
		t.Fatalf("contacts %v", byID)
	}
	var leadIDs, campIDs []string
	for _, cc := range m.Campaigns {
		leadIDs = append(leadIDs, cc.LeadID)
		campIDs = append(campIDs, cc.CampaignID)
	}
	if !slices.Equal(leadIDs, multi.LeadIDs) {
		t.Errorf("lead ids %v, want %v", leadIDs, multi.LeadIDs)
	}
	slices.Sort(campIDs)
	if len(slices.Compact(campIDs)) != len(multi.LeadIDs) {
		t.Errorf("campaigns %v are not distinct", campIDs)
	}
	if m.Email != multi.Email || m.FullName == "" || m.Field("firstName") == "" || m.TeamID != tn.TeamID() {
		t.Errorf("contact %+v", m)
	}

	// More than 100 values is refused; the client chunks instead.
	many := make([]string, 0, 150)
	for _, ct := range all[:min(150, len(all))] {
		many = append(many, ct.ID)
	}
	r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/contacts?idsOrEmails="+strings.Join(many[:101], ","))
	if r.status != 400 {
		t.Errorf("101 ids: %d %s", r.status, r.body)
	}
	s.ResetRequests()
	chunked, _, err := c.Contacts.GetMany(t.Context(), many)
	if err != nil || len(chunked) != len(many) {
		t.Errorf("GetMany(%d): %d, %v", len(many), len(chunked), err)
	}
	if n := s.CountRequests("/contacts"); n != 2 {
		t.Errorf("%d calls for %d ids", n, len(many))
	}

	// One contact by id or email; the paginated list.
	for _, key := range []string{multi.ID, multi.Email} {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/contacts/"+url.PathEscape(key))
		if r.status != 200 || !strings.Contains(r.body, `"_id":"`+multi.ID+`"`) {
			t.Errorf("contacts/%s: %d %.100s", key, r.status, r.body)
		}
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/contacts/ctc_nope"); r.status != 404 {
		t.Errorf("unknown contact: %d", r.status)
	}
	r = rawGet(t, s, lemlisttest.DefaultAPIKey, "/contacts?limit=3&offset=1")
	var page struct {
		Data []struct {
			ID string `json:"_id"`
		} `json:"data"`
		Total, Limit, Offset int
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || len(page.Data) != 3 || page.Total != len(all) || page.Data[0].ID != all[1].ID {
		t.Errorf("contacts page: %+v %v", page, err)
	}
}

func TestCampaignsAndTeam(t *testing.T) {
	t.Parallel()
	s := newServer(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 7, Activities: 400, Campaigns: 8}, RateLimit: lemlisttest.NoRateLimit})
	tn := s.Tenant(lemlisttest.DefaultTenant)
	c := s.Client(noRetry())
	camps := tn.Campaigns()
	statuses := map[string]bool{}
	for _, want := range camps {
		got, _, err := c.Campaigns.Get(t.Context(), want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Name != want.Name || got.Status != want.Status || got.Creator == nil || got.Creator.UserID == "" || len(got.Senders) == 0 || got.CreatedAt == nil {
			t.Errorf("campaign %+v, want %+v", got, want)
		}
		statuses[got.Status] = true
	}
	for _, st := range []string{"running", "paused", "draft", "ended", "archived", "errors"} {
		if !statuses[st] {
			t.Errorf("no %s campaign", st)
		}
	}
	_, _, err := c.Campaigns.Get(t.Context(), "cam_nope")
	var er *lemlist.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 404 || er.Message != "Campaign not found" {
		t.Errorf("unknown campaign: %v", err)
	}

	r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/campaigns?version=v2&limit=3&page=2")
	var env struct {
		Campaigns []struct {
			ID string `json:"_id"`
		} `json:"campaigns"`
		Pagination struct {
			TotalRecords, CurrentPage, NextPage, TotalPage int
		} `json:"pagination"`
	}
	if err := json.Unmarshal([]byte(r.body), &env); err != nil || len(env.Campaigns) != 3 ||
		env.Pagination.TotalRecords != len(camps) || env.Pagination.CurrentPage != 2 || env.Pagination.NextPage != 3 || env.Pagination.TotalPage != 3 {
		t.Errorf("campaigns v2: %+v %v", env, err)
	}
	r = rawGet(t, s, lemlisttest.DefaultAPIKey, "/campaigns?status=running")
	if !strings.HasPrefix(r.body, "[") {
		t.Errorf("campaigns without v2: %.80s", r.body)
	}

	team, _, err := c.Team.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	users := tn.Users()
	if team.ID != tn.TeamID() || len(team.Users) != len(users) || len(team.UserIDs) != len(users) {
		t.Fatalf("team %+v", team)
	}
	for i, u := range users {
		if team.Users[i] != (lemlist.User{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role}) {
			t.Errorf("user %d: %+v, want %+v", i, team.Users[i], u)
		}
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/team"); strings.Contains(r.body, `"users"`) {
		t.Errorf("team without v2 lists users: %.200s", r.body)
	}
}

func TestUnknownPathsAnswerHTML(t *testing.T) {
	t.Parallel()
	s := small(t, 10)
	for _, p := range []string{"/nope", "/campaigns/cam_x/sequences", "/sequences", "/"} {
		for _, key := range []string{"", lemlisttest.DefaultAPIKey} {
			r := rawGet(t, s, key, p)
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.HasPrefix(r.body, "<!DOCTYPE html>") {
				t.Errorf("%s (key %q): %d %s", p, key, r.status, r.header.Get("Content-Type"))
			}
		}
	}
	// The client turns the HTML page into a *DecodeError, never an empty result.
	c := s.Client(noRetry(), lemlist.WithBaseURL(strings.TrimSuffix(s.URL, "/api")+"/wrong/"))
	_, _, err := c.Team.Get(t.Context())
	var de *lemlist.DecodeError
	if !errors.As(err, &de) || de.Status != 200 {
		t.Errorf("HTML answer: %v", err)
	}
}
