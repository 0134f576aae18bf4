package lemlist

import (
	"context"
	"encoding/json"
	"time"
)

// summariesKey marks a context with WithSummaries.
type summariesKey struct{}

// WithSummaries returns a context under which ActivitiesService.List
// decodes only each activity's summary, the fields that identify and file
// it: ID, Type, CreatedAt, CampaignID, LeadID, ContactID, UserID,
// CreatedBy, SendUserID, IsFirst, SequenceStep, Lead's ID and ContactID,
// and MetaData's CreatedBy. The rest stays in Raw, and the activity's
// Summary is set until Complete decodes it. A 100-row page so decoded takes about
// a third of the CPU of a full decode (BenchmarkDecodeActivitiesPage),
// most of which goes to the lead snapshots' variables.
//
// It is for callers that store activities rather than show them (the
// activity mirror). What such a call returns must not be cached for
// others: package upstream's cache lets it through (see SummariesOnly).
func WithSummaries(ctx context.Context) context.Context {
	return context.WithValue(ctx, summariesKey{}, true)
}

// SummariesOnly reports whether ctx was made by WithSummaries.
func SummariesOnly(ctx context.Context) bool {
	v, _ := ctx.Value(summariesKey{}).(bool)
	return v
}

// Complete returns the activity fully decoded from Raw when a is a
// Summary, else a itself.
func (a *Activity) Complete() (*Activity, error) {
	if !a.Summary {
		return a, nil
	}
	full := new(Activity)
	if err := json.Unmarshal(a.Raw, full); err != nil {
		return nil, err
	}
	return full, nil
}

// activitySummary is what a summary decodes; see WithSummaries.
type activitySummary struct {
	ID           string    `json:"_id"`
	Type         string    `json:"type"`
	CreatedAt    time.Time `json:"createdAt"`
	CampaignID   string    `json:"campaignId"`
	LeadID       string    `json:"leadId"`
	ContactID    string    `json:"contactId"`
	UserID       string    `json:"userId"`
	CreatedBy    string    `json:"createdBy"`
	SendUserID   string    `json:"sendUserId"`
	IsFirst      *bool     `json:"isFirst"`
	SequenceStep *int      `json:"sequenceStep"`
	Lead         *struct {
		ID        string `json:"_id"`
		ContactID string `json:"contactId"`
	} `json:"lead"`
	MetaData *struct {
		CreatedBy string `json:"createdBy"`
	} `json:"metaData"`
}

// summaryPage is the decode target of a page of activities listed under
// WithSummaries (see decodeBody).
type summaryPage struct{ rows *[]*Activity }

// decodeSummaries decodes a JSON array of activities as summaries, under
// the same conditions as decodeActivities; any other body is left to the
// full decode.
func decodeSummaries(body []byte) ([]*Activity, error) {
	var acts []Activity // one allocation for the page
	return decodeArray(body, func(i, n int, s *activitySummary, raw []byte) *Activity {
		if acts == nil {
			acts = make([]Activity, n)
		}
		a := &acts[i] // zeroed: only the summary's fields are written
		a.ID, a.Type, a.CreatedAt, a.CampaignID, a.LeadID = s.ID, s.Type, s.CreatedAt, s.CampaignID, s.LeadID
		a.ContactID, a.UserID, a.CreatedBy, a.SendUserID = s.ContactID, s.UserID, s.CreatedBy, s.SendUserID
		a.IsFirst, a.SequenceStep, a.Summary, a.Raw = s.IsFirst, s.SequenceStep, true, raw
		if s.Lead != nil {
			a.Lead = &ActivityLead{ID: s.Lead.ID, ContactID: s.Lead.ContactID}
		}
		if s.MetaData != nil {
			a.MetaData = &ActivityMetaData{CreatedBy: s.MetaData.CreatedBy}
		}
		return a
	})
}
