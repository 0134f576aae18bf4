package mirror

import (
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// RowOf extracts the stored columns of a. channelOf maps a type to its
// channel (the lead wires graph/model.ChannelOf, the server's one mapping).
func RowOf(a *lemlist.Activity, channelOf func(typ string) string) Row {
	r := Row{
		ID:         a.ID,
		Type:       a.Type,
		Channel:    channelOf(a.Type),
		CampaignID: a.CampaignID,
		LeadID:     LeadOf(a),
		ContactID:  a.ContactID,
		UserID:     UserOf(a),
		CreatedAt:  a.CreatedAt.Truncate(time.Millisecond),
		IsFirst:    a.IsFirst != nil && *a.IsFirst,
		Raw:        a.Raw,
	}
	if r.ContactID == "" && a.Lead != nil {
		r.ContactID = a.Lead.ContactID
	}
	if a.SequenceStep != nil {
		s := *a.SequenceStep
		r.SequenceStep = &s
	}
	return r
}

// LeadOf is the activity's lead: its leadId, else its lead snapshot's id,
// as activityStats counts distinct leads.
func LeadOf(a *lemlist.Activity) string {
	if a.LeadID != "" {
		return a.LeadID
	}
	if a.Lead != nil {
		return a.Lead.ID
	}
	return ""
}

// UserOf is the activity's team member as activityStats' USER dimension
// defines it (graph/model.UserFromActivity): the actor (userId), else the
// sender (sendUserId), else the creator (createdBy, then metaData's).
func UserOf(a *lemlist.Activity) string {
	switch {
	case a.UserID != "":
		return a.UserID
	case a.SendUserID != "":
		return a.SendUserID
	case a.CreatedBy != "":
		return a.CreatedBy
	case a.MetaData != nil:
		return a.MetaData.CreatedBy
	}
	return ""
}
