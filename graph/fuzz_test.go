package graph

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/model"
)

// isID is idPattern written out by hand: 1..64 ASCII letters, digits, _
// and -, so that a mistake in the regexp (an anchor, a Unicode class) shows.
func isID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isType is typePattern by hand: an ASCII letter, then up to 63 ASCII
// letters, digits and _.
func isType(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return true
}

// fuzzDate turns a fuzzed string into a DateInput the way gqlgen would
// (nil when absent or invalid, since gqlgen rejects it before toFilter).
func fuzzDate(present bool, s string) *model.DateInput {
	if !present {
		return nil
	}
	var d model.DateInput
	if err := d.UnmarshalGQL(s); err != nil {
		return nil
	}
	return &d
}

// Presence bits of FuzzToFilter's mask.
const (
	hasType = 1 << iota
	hasCampaign
	hasLead
	hasIsFirst
	isFirstTrue
	hasMin
	hasMax
	hasStart
	hasEnd
	scopeCampaign
	scopeLead
	nilFilter
)

func FuzzToFilter(f *testing.F) {
	const (
		camp = "cam_bSn8EORHQxbWPjHvu"
		lead = "lea_aB3dE5gH7jK9mN1pQ"
		all  = hasType | hasCampaign | hasLead | hasIsFirst | hasMin | hasMax | hasStart | hasEnd
	)
	add := func(mask uint16, typ, cam, lea, minD, maxD, start, end string) {
		f.Add(mask, typ, cam, lea, minD, maxD, start, end)
	}
	add(0, "", "", "", "", "", "", "")
	add(nilFilter, "", "", "", "", "", "", "")
	add(nilFilter|scopeCampaign, "", "", "", "", "", "", "")
	add(all, "emailsReplied", camp, lead, "2026-05-01", "2026-06-01", "2020-01-01", "2030-01-01")
	add(hasStart|hasEnd, "", "", "", "", "", "1715385600", "1715385601")
	add(hasMin|hasStart, "", "", "", "2026-05-01", "", "2020-01-01", "")
	add(hasMax|hasEnd, "", "", "", "", "2026-05-01", "", "2030-01-01")
	add(hasMin|hasStart, "", "", "", "garbage", "", "2020-01-01", "") // primary invalid: gqlgen would refuse
	add(hasType, "emails Sent&x=1", "", "", "", "", "", "")
	add(hasType, "1emailsSent", "", "", "", "", "", "")
	add(hasType, "emailsSent\n", "", "", "", "", "", "")
	add(hasType, "émailsSent", "", "", "", "", "", "")
	add(hasType, "a"+strings.Repeat("b", 63), "", "", "", "", "", "")
	add(hasType, "a"+strings.Repeat("b", 64), "", "", "", "", "", "")
	add(hasType, "", "", "", "", "", "", "")
	add(hasCampaign, "", "cam/../x", "", "", "", "", "")
	add(hasCampaign, "", "cam_x%00", "", "", "", "", "")
	add(hasCampaign, "", "", "", "", "", "", "")
	add(hasCampaign, "", strings.Repeat("x", 64), "", "", "", "", "")
	add(hasCampaign, "", strings.Repeat("x", 65), "", "", "", "", "")
	add(hasLead, "", "", "lea_1\n", "", "", "", "")
	add(hasLead, "", "", "lea_１", "", "", "", "")
	add(hasCampaign|scopeCampaign, "", camp, "", "", "", "", "")
	add(hasCampaign|scopeCampaign, "", "cam_other", "", "", "", "", "")
	add(hasLead|scopeLead, "", "", "lea_other", "", "", "", "")
	add(hasLead|scopeCampaign, "", "", lead, "", "", "", "")
	add(hasIsFirst|isFirstTrue, "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, mask uint16, typ, cam, lea, minD, maxD, start, end string) {
		var sc scope
		if mask&scopeCampaign != 0 {
			sc.campaignID = camp // scope ids come from upstream objects
		}
		if mask&scopeLead != 0 {
			sc.leadID = lead
		}
		var in *model.ActivityFilter
		if mask&nilFilter == 0 {
			in = &model.ActivityFilter{
				MinDate:   fuzzDate(mask&hasMin != 0, minD),
				MaxDate:   fuzzDate(mask&hasMax != 0, maxD),
				StartDate: fuzzDate(mask&hasStart != 0, start),
				EndDate:   fuzzDate(mask&hasEnd != 0, end),
			}
			if mask&hasType != 0 {
				in.Type = &typ
			}
			if mask&hasCampaign != 0 {
				in.CampaignID = &cam
			}
			if mask&hasLead != 0 {
				in.LeadID = &lea
			}
			if mask&hasIsFirst != 0 {
				b := mask&isFirstTrue != 0
				in.IsFirst = &b
			}
		}
		got, err := toFilter(in, sc)
		if err != nil {
			var ie *activityfilter.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is no *activityfilter.InputError", err, err)
			}
			switch ie.Arg {
			case "filter.type":
				if isType(typ) {
					t.Fatalf("type %q refused", typ)
				}
			case "filter.campaignId":
				if isID(cam) && (sc.campaignID == "" || sc.campaignID == cam) {
					t.Fatalf("campaignId %q refused in scope %+v", cam, sc)
				}
			case "filter.leadId":
				if isID(lea) && (sc.leadID == "" || sc.leadID == lea) {
					t.Fatalf("leadId %q refused in scope %+v", lea, sc)
				}
			default:
				t.Fatalf("error names argument %q", ie.Arg)
			}
			return
		}
		// Nothing odd reaches the upstream query.
		if got.Type != "" && !isType(got.Type) {
			t.Fatalf("type %q accepted", got.Type)
		}
		for _, id := range []string{got.CampaignID, got.LeadID} {
			if id != "" && !isID(id) {
				t.Fatalf("id %q accepted", id)
			}
		}
		// The parent's scope holds.
		if sc.campaignID != "" && got.CampaignID != sc.campaignID || sc.leadID != "" && got.LeadID != sc.leadID {
			t.Fatalf("filter %+v escapes scope %+v", got, sc)
		}
		if in == nil {
			if got != (activityfilter.Filter{CampaignID: sc.campaignID, LeadID: sc.leadID}) {
				t.Fatalf("nil filter in scope %+v gives %+v", sc, got)
			}
			return
		}
		// Every given field is kept as given.
		if in.Type != nil && got.Type != typ || in.Type == nil && got.Type != "" {
			t.Fatalf("type %v became %q", in.Type, got.Type)
		}
		if in.CampaignID != nil && got.CampaignID != cam || in.CampaignID == nil && got.CampaignID != sc.campaignID {
			t.Fatalf("campaignId %v in scope %+v became %q", in.CampaignID, sc, got.CampaignID)
		}
		if in.LeadID != nil && got.LeadID != lea || in.LeadID == nil && got.LeadID != sc.leadID {
			t.Fatalf("leadId %v in scope %+v became %q", in.LeadID, sc, got.LeadID)
		}
		if (in.IsFirst == nil) != (got.IsFirst == nil) || in.IsFirst != nil && *in.IsFirst != *got.IsFirst {
			t.Fatalf("isFirst %v became %v", in.IsFirst, got.IsFirst)
		}
		// minDate over startDate, maxDate over endDate.
		for _, d := range []struct {
			name           string
			primary, alias *model.DateInput
			got            time.Time
		}{
			{"min", in.MinDate, in.StartDate, got.MinDate},
			{"max", in.MaxDate, in.EndDate, got.MaxDate},
		} {
			var want time.Time
			switch {
			case d.primary != nil:
				want = d.primary.Time
			case d.alias != nil:
				want = d.alias.Time
			}
			if !d.got.Equal(want) || d.got.IsZero() != want.IsZero() {
				t.Fatalf("%sDate: got %v, want %v (primary %v, alias %v)", d.name, d.got, want, d.primary, d.alias)
			}
		}
	})
}

func FuzzCheckID(f *testing.F) {
	for _, s := range []string{
		"", "cam_bSn8EORHQxbWPjHvu", "lea_../../x", "a\n", "\na", "a b", "a%20b", "é",
		"ａ", strings.Repeat("a", 64), strings.Repeat("a", 65), "-", "_", "a\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkID("id", s)
		if (err == nil) != isID(s) {
			t.Fatalf("checkID(%q) = %v, want ok=%v", s, err, isID(s))
		}
		var ie *activityfilter.InputError
		if err != nil && (!errors.As(err, &ie) || ie.Arg != "id") {
			t.Fatalf("checkID(%q) = %v, want an InputError on id", s, err)
		}
	})
}
