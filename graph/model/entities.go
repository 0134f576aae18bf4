package model

import (
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Lead is a person in one campaign. Its fields come from an activity's
// snapshot, from GET /leads, or both; nil means unknown.
type Lead struct {
	ID            string
	Email         *string
	FirstName     *string
	LastName      *string
	CompanyName   *string
	JobTitle      *string
	CompanyDomain *string
	EmailStatus   *string
	IsPaused      *bool

	// CampaignID and ContactID link to the lead's campaign and contact.
	CampaignID string
	ContactID  string

	// strs holds the strings LeadFromSnapshot points at, so that a lead
	// costs one allocation rather than one per field.
	strs [7]string
}

// LeadFromSnapshot builds the lead an activity describes: its lead* fields
// first, then its embedded lead snapshot. It returns nil when the activity
// has no lead.
func LeadFromSnapshot(a *lemlist.Activity) *Lead {
	id := a.LeadID
	if id == "" && a.Lead != nil {
		id = a.Lead.ID
	}
	if id == "" {
		return nil
	}
	s := a.Lead
	l := &Lead{ID: id, CampaignID: a.CampaignID, ContactID: a.ContactID}
	l.Email = firstIn(&l.strs[0], a.LeadEmail, s.Variable("email"))
	l.FirstName = firstIn(&l.strs[1], a.LeadFirstName, s.Variable("firstName"))
	l.LastName = firstIn(&l.strs[2], a.LeadLastName, s.Variable("lastName"))
	l.CompanyName = firstIn(&l.strs[3], a.LeadCompanyName, s.Variable("companyName"))
	l.JobTitle = firstIn(&l.strs[4], s.Variable("jobTitle"), "")
	l.CompanyDomain = firstIn(&l.strs[5], s.Variable("companyDomain"), "")
	if s != nil {
		l.IsPaused = s.IsPaused
		if st, ok := s.Enrichment["emailStatus"].(string); ok {
			l.EmailStatus = firstIn(&l.strs[6], st, "")
		}
		if l.ContactID == "" {
			l.ContactID = s.ContactID
		}
	}
	return l
}

// LeadFromLemlist converts GET /leads?id= data.
func LeadFromLemlist(l *lemlist.Lead) *Lead {
	return &Lead{
		ID:            l.ID,
		Email:         str(l.Email),
		FirstName:     str(l.FirstName),
		LastName:      str(l.LastName),
		CompanyName:   str(l.CompanyName),
		JobTitle:      str(l.JobTitle),
		CompanyDomain: str(l.CompanyDomain),
		EmailStatus:   str(l.EmailStatus),
		IsPaused:      l.IsPaused,
		CampaignID:    l.CampaignID,
		ContactID:     l.ContactID,
	}
}

// Has reports whether the lead already knows the GraphQL field named field,
// so that answering it needs no upstream call.
func (l *Lead) Has(field string) bool {
	switch field {
	case "email":
		return l.Email != nil
	case "firstName":
		return l.FirstName != nil
	case "lastName":
		return l.LastName != nil
	case "companyName":
		return l.CompanyName != nil
	case "jobTitle":
		return l.JobTitle != nil
	case "companyDomain":
		return l.CompanyDomain != nil
	case "emailStatus":
		return l.EmailStatus != nil
	case "isPaused":
		return l.IsPaused != nil
	case "campaign":
		return l.CampaignID != ""
	case "contact":
		return l.ContactID != ""
	default: // id, activities, __typename
		return true
	}
}

// Fill sets every unknown field of l from full, keeping the snapshot's
// values where it has them.
func (l *Lead) Fill(full *Lead) {
	fill(&l.Email, full.Email)
	fill(&l.FirstName, full.FirstName)
	fill(&l.LastName, full.LastName)
	fill(&l.CompanyName, full.CompanyName)
	fill(&l.JobTitle, full.JobTitle)
	fill(&l.CompanyDomain, full.CompanyDomain)
	fill(&l.EmailStatus, full.EmailStatus)
	fill(&l.IsPaused, full.IsPaused)
	if l.CampaignID == "" {
		l.CampaignID = full.CampaignID
	}
	if l.ContactID == "" {
		l.ContactID = full.ContactID
	}
}

func fill[T any](dst **T, src *T) {
	if *dst == nil {
		*dst = src
	}
}

// firstIn stores the first non-empty one of a and b in dst and returns
// dst, or returns nil when both are empty.
func firstIn(dst *string, a, b string) *string {
	switch {
	case a != "":
		*dst = a
	case b != "":
		*dst = b
	default:
		return nil
	}
	return dst
}

// Campaign is an outreach campaign; nil fields are unknown.
type Campaign struct {
	ID        string
	Name      *string
	Status    *string
	CreatedAt *time.Time

	name string // what Name points at, from CampaignFromActivity
}

// CampaignFromActivity is the campaign an activity names, or nil.
func CampaignFromActivity(a *lemlist.Activity) *Campaign {
	if a.CampaignID == "" {
		return nil
	}
	c := &Campaign{ID: a.CampaignID}
	c.Name = firstIn(&c.name, a.CampaignName, a.Name)
	return c
}

// CampaignFromLemlist converts GET /campaigns/{id} data.
func CampaignFromLemlist(c *lemlist.Campaign) *Campaign {
	return &Campaign{ID: c.ID, Name: str(c.Name), Status: str(c.Status), CreatedAt: c.CreatedAt}
}

// Has reports whether the campaign already knows field.
func (c *Campaign) Has(field string) bool {
	switch field {
	case "name":
		return c.Name != nil
	case "status":
		return c.Status != nil
	case "createdAt":
		return c.CreatedAt != nil
	default: // id, activities, __typename
		return true
	}
}

// Contact is a team-wide person.
type Contact struct {
	ID           string
	FullName     *string
	Email        *string
	FirstName    *string
	LastName     *string
	JobTitle     *string
	Unsubscribed *bool
	Campaigns    []*ContactCampaign
	// LeadIDs are the contact's leads, one per campaign enrolment, in
	// lemlist's order. Nil means unknown: the contact was built from its
	// id alone and must be loaded to learn them.
	LeadIDs []string
}

// ContactCampaign is one campaign enrolment of a contact.
type ContactCampaign struct {
	CampaignID    string
	LeadID        *string
	LeadState     *string
	CampaignState *string
}

// ContactFromLemlist converts GET /contacts data.
func ContactFromLemlist(c *lemlist.Contact) *Contact {
	out := &Contact{
		ID:           c.ID,
		FullName:     str(c.FullName),
		Email:        str(c.Email),
		FirstName:    str(c.Field("firstName")),
		LastName:     str(c.Field("lastName")),
		JobTitle:     str(c.Field("jobTitle")),
		Unsubscribed: c.Unsubscribed,
		Campaigns:    make([]*ContactCampaign, 0, len(c.Campaigns)),
		LeadIDs:      make([]string, 0, len(c.Campaigns)),
	}
	for _, cc := range c.Campaigns {
		out.Campaigns = append(out.Campaigns, &ContactCampaign{
			CampaignID:    cc.CampaignID,
			LeadID:        str(cc.LeadID),
			LeadState:     str(cc.LeadState),
			CampaignState: str(cc.CampaignState),
		})
		if cc.LeadID != "" {
			out.LeadIDs = append(out.LeadIDs, cc.LeadID)
		}
	}
	return out
}

// LeadIDsIn returns the contact's leads in campaign campaignID, or all of
// them when campaignID is empty.
func (c *Contact) LeadIDsIn(campaignID string) []string {
	if campaignID == "" {
		return c.LeadIDs
	}
	var out []string
	for _, cc := range c.Campaigns {
		if cc.CampaignID == campaignID && cc.LeadID != nil {
			out = append(out, *cc.LeadID)
		}
	}
	return out
}

// User is a team member; nil fields are unknown.
type User struct {
	ID    string
	Name  *string
	Email *string
	Role  *string

	strs [2]string // what Name and Email point at, from UserFromActivity
}

// UserFromActivity is the team member an activity names: the actor
// (userId), else the sender (sendUserId), else the creator. It returns nil
// when there is none.
func UserFromActivity(a *lemlist.Activity) *User {
	switch {
	case a.UserID != "":
		u := &User{ID: a.UserID}
		u.Name = firstIn(&u.strs[0], a.UserName, "")
		return u
	case a.SendUserID != "":
		u := &User{ID: a.SendUserID}
		u.Name = firstIn(&u.strs[0], a.SendUserName, "")
		u.Email = firstIn(&u.strs[1], a.SendUserEmail, "")
		return u
	case a.CreatedBy != "":
		return &User{ID: a.CreatedBy}
	case a.MetaData != nil && a.MetaData.CreatedBy != "":
		return &User{ID: a.MetaData.CreatedBy}
	}
	return nil
}

// UserFromLemlist converts a team member.
func UserFromLemlist(u *lemlist.User) *User {
	return &User{ID: u.ID, Name: str(u.Name), Email: str(u.Email), Role: str(u.Role)}
}

// Has reports whether the user already knows field.
func (u *User) Has(field string) bool {
	switch field {
	case "name":
		return u.Name != nil
	case "email":
		return u.Email != nil
	case "role":
		return u.Role != nil
	default:
		return true
	}
}

// CampaignRef is the lead's campaign, known by id only, or nil.
func (l *Lead) CampaignRef() *Campaign {
	if l.CampaignID == "" {
		return nil
	}
	return &Campaign{ID: l.CampaignID}
}
