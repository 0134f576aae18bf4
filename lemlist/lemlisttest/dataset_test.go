package lemlisttest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

var idPattern = regexp.MustCompile(`^(act|lea|ctc|cam|usr|tea|seq|stp|etp|cpn|opp|tsk|eml|usm)_[A-Za-z0-9]{17}$`)

func decodeObject(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return m
}

func TestDatasetShape(t *testing.T) {
	t.Parallel()
	s := newServer(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 42, Activities: 3000, Campaigns: 24}})
	tn := s.Tenant(lemlisttest.DefaultTenant)
	all := expected(t, s, nil)
	if len(all) != 3000 {
		t.Fatalf("%d activities", len(all))
	}
	types := map[string]int{}
	var withLead, withSnapshot, withLeadFields, zeroStep, related int
	for _, a := range all {
		types[a.Type]++
		m := decodeObject(t, a.JSON())
		for _, k := range []string{"_id", "teamId", "leadId", "campaignId", "contactId", "sequenceId", "stepId", "emailTemplateId", "userId", "sendUserId", "createdBy", "companyId", "opportunityId", "emailId"} {
			if v, ok := m[k]; ok && !idPattern.MatchString(v.(string)) {
				t.Fatalf("%s %q in %s", k, v, a.JSON())
			}
		}
		if m["type"] != a.Type || m["_id"] != a.ID {
			t.Fatalf("record %+v vs JSON %s", a, a.JSON())
		}
		if tm, err := time.Parse(time.RFC3339, m["createdAt"].(string)); err != nil || !tm.Equal(a.CreatedAt) || !strings.HasSuffix(m["createdAt"].(string), "Z") {
			t.Fatalf("createdAt %v", m["createdAt"])
		}
		if a.Type == "annotated" {
			for _, k := range []string{"leadId", "campaignId", "lead", "leadFirstName", "campaignName"} {
				if _, ok := m[k]; ok {
					t.Fatalf("annotated with %s: %s", k, a.JSON())
				}
			}
			if m["companyId"] == nil || m["note"] == nil || m["userId"] == nil {
				t.Fatalf("annotated: %s", a.JSON())
			}
			continue
		}
		withLead++
		if m["leadId"] != a.LeadID || m["campaignId"] != a.CampaignID || m["contactId"] != a.ContactID {
			t.Fatalf("ids of %s", a.JSON())
		}
		if md, ok := m["metaData"].(map[string]any); ok && (md["leadId"] != a.LeadID || md["type"] != a.Type) {
			t.Fatalf("metaData of %s", a.JSON())
		}
		if l, ok := m["lead"].(map[string]any); ok {
			withSnapshot++
			if l["_id"] != a.LeadID || l["contactId"] != a.ContactID || l["variables"] == nil || l["enrichment"] == nil {
				t.Fatalf("lead snapshot of %s", a.JSON())
			}
		}
		if _, ok := m["leadFirstName"]; ok {
			withLeadFields++
		}
		if v, ok := m["isFirst"]; ok != (a.IsFirst != nil) || (ok && v != *a.IsFirst) {
			t.Fatalf("isFirst %v vs %v", v, a.IsFirst)
		}
		if st, ok := m["sequenceStep"].(json.Number); ok {
			if st == "0" {
				zeroStep++
			}
			if tot, ok := m["totalSequenceStep"].(json.Number); ok {
				if a, b := mustInt(t, st), mustInt(t, tot); a < 0 || a > b {
					t.Fatalf("step %d of 0..%d", a, b)
				}
			}
		}
		_, hasRelated := m["relatedSentAt"]
		if hasRelated {
			related++
		}
		switch a.Type {
		case "emailsSent", "linkedinSent", "smsSent", "whatsappMessageSent":
			if hasRelated {
				t.Fatalf("sent with relatedSentAt: %s", a.JSON())
			}
		case "manualDone":
			if !strings.HasPrefix(fmt.Sprint(m["opportunityId"]), "opp_") {
				t.Fatalf("manualDone: %s", a.JSON())
			}
		case "emailsBounced", "emailsFailed", "apiFailed", "linkedinSendFailed":
			if m["errorMessage"] == nil {
				t.Fatalf("%s without errorMessage", a.Type)
			}
		}
	}
	for _, want := range []string{
		"emailsSent", "emailsOpened", "emailsClicked", "emailsReplied", "emailsBounced",
		"linkedinSent", "linkedinInviteAccepted", "whatsappMessageSent", "smsSent", "aircallDone",
		"manualDone", "apiDone", "annotated", "paused", "resumed", "conditionChosen", "meetingBooked",
		"quantumTeleported", "hologramSent",
	} {
		if types[want] == 0 {
			t.Errorf("no %s activity", want)
		}
	}
	if withSnapshot == 0 || withSnapshot == withLead || withLeadFields == 0 || withLeadFields == withLead || zeroStep == 0 || related == 0 {
		t.Errorf("snapshot %d, lead fields %d of %d; step 0: %d; related %d", withSnapshot, withLeadFields, withLead, zeroStep, related)
	}

	// isFirst is true exactly on a lead's oldest activity of a type.
	firstSeen := map[string]bool{}
	for i := len(all) - 1; i >= 0; i-- {
		a := all[i]
		if a.IsFirst == nil {
			continue
		}
		k := a.LeadID + "/" + a.Type
		if *a.IsFirst == firstSeen[k] {
			t.Fatalf("isFirst=%v on %s, seen before: %v", *a.IsFirst, a.ID, firstSeen[k])
		}
		firstSeen[k] = true
	}

	// People in several campaigns: one contact, one lead per campaign.
	leads := map[string]lemlisttest.Lead{}
	for _, l := range tn.Leads() {
		leads[l.ID] = l
		if !idPattern.MatchString(l.ID) || !idPattern.MatchString(l.ContactID) {
			t.Fatalf("lead %+v", l)
		}
	}
	multi := 0
	for _, c := range tn.Contacts() {
		camps := map[string]bool{}
		for _, id := range c.LeadIDs {
			if leads[id].ContactID != c.ID {
				t.Fatalf("lead %s of contact %s", id, c.ID)
			}
			camps[leads[id].CampaignID] = true
		}
		if len(camps) != len(c.LeadIDs) {
			t.Fatalf("contact %s twice in a campaign", c.ID)
		}
		if len(c.LeadIDs) > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("nobody is in two campaigns")
	}
}

func TestDatasetDeterminism(t *testing.T) {
	t.Parallel()
	gen := func(o lemlisttest.Options) []lemlisttest.Activity {
		s := newServer(t, o)
		return expected(t, s, nil)
	}
	base := lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 5, Activities: 300}}
	a, b := gen(base), gen(base)
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].JSON(), b[i].JSON()) {
			t.Fatalf("run 2 differs at %d", i)
		}
	}
	other := gen(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 6, Activities: 300}})
	if other[0].ID == a[0].ID {
		t.Error("another seed, same data")
	}
	// Now and Span place the data.
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := gen(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: 100, Now: now, Span: 24 * time.Hour}})
	if !c[0].CreatedAt.Equal(now) || !c[len(c)-1].CreatedAt.After(now.Add(-24*time.Hour)) {
		t.Errorf("span %s .. %s", c[len(c)-1].CreatedAt, c[0].CreatedAt)
	}
	// An empty tenant still answers.
	empty := newServer(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: -1}})
	if r := rawGet(t, empty, lemlisttest.DefaultAPIKey, "/activities?version=v2"); r.status != 200 || r.body != "[]" {
		t.Errorf("empty: %d %s", r.status, r.body)
	}
}

// modelled are the activity fields lemlist documents and lemlist.Activity
// promises to decode; each must round-trip through the client unchanged.
var modelled = strings.Fields(`_id type createdAt teamId campaignId campaignName name leadId contactId
	leadFirstName leadLastName leadEmail leadCompanyName leadPhone leadPicture lead userId userName
	createdBy sendUserId sendUserName sendUserEmail sendUserMailboxId bot isFirst stopped sequenceId
	sequenceStep totalSequenceStep stepId sequenceTested emailId emailTemplateId emailTemplateName
	relatedSentAt messageId subject errorMessage companyId note opportunityId metaData`)

// sameJSON compares a value the fake sent with the client's re-encoding of
// it. Empty objects may vanish (omitempty); times compare as instants.
func sameJSON(path string, fake, typed any) error {
	switch f := fake.(type) {
	case map[string]any:
		tm, ok := typed.(map[string]any)
		if typed == nil && len(f) == 0 {
			return nil
		}
		if !ok {
			return fmt.Errorf("%s: fake %v, client %v", path, fake, typed)
		}
		for k, v := range f {
			if err := sameJSON(path+"."+k, v, tm[k]); err != nil {
				return err
			}
		}
		for k := range tm {
			if _, ok := f[k]; !ok {
				return fmt.Errorf("%s.%s: client invents %v", path, k, tm[k])
			}
		}
		return nil
	case string:
		ts, ok := typed.(string)
		if ok && ts == f {
			return nil
		}
		t1, err1 := time.Parse(time.RFC3339, f)
		t2, err2 := time.Parse(time.RFC3339, ts)
		if ok && err1 == nil && err2 == nil && t1.Equal(t2) {
			return nil
		}
	default:
		if fmt.Sprint(fake) == fmt.Sprint(typed) {
			return nil
		}
	}
	return fmt.Errorf("%s: fake %v, client %v", path, fake, typed)
}

// TestFieldFidelity decodes every activity with the real client and checks
// each documented field against what the fake sent, so a wrong struct tag
// in package lemlist fails here.
func TestFieldFidelity(t *testing.T) {
	t.Parallel()
	s := small(t, 1000)
	all := expected(t, s, nil)
	i := 0
	for a, err := range s.Client().Activities.ListIter(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		want := all[i]
		i++
		if !bytes.Equal(a.Raw, want.JSON()) {
			t.Fatalf("Raw of %s differs from what was sent", want.ID)
		}
		fake := decodeObject(t, want.JSON())
		typedActivity := *a
		typedActivity.Raw = nil
		b, err := json.Marshal(typedActivity)
		if err != nil {
			t.Fatal(err)
		}
		typed := decodeObject(t, b)
		for _, k := range modelled {
			if v, ok := fake[k]; ok {
				if err := sameJSON(want.Type+"."+k, v, typed[k]); err != nil {
					t.Fatalf("%s: %v", want.ID, err)
				}
			}
		}
		for k := range typed {
			if _, ok := fake[k]; !ok {
				t.Fatalf("%s: client adds %s=%v", want.ID, k, typed[k])
			}
		}
		if a.Lead != nil && a.Lead.Variable("email") == "" {
			t.Fatalf("%s: lead snapshot without email variable", want.ID)
		}
	}
	if i != len(all) {
		t.Fatalf("iterated %d of %d", i, len(all))
	}
}

func mustInt(t *testing.T, n json.Number) int64 {
	t.Helper()
	v, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
