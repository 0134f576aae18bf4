package lemlist

import (
	"encoding/json"
	"time"
)

// Known activity types. The list is not exhaustive: lemlist adds types
// without notice, so Activity.Type stays a plain string and unknown values
// decode like any other.
const (
	TypeEmailsSent          = "emailsSent"
	TypeEmailsOpened        = "emailsOpened"
	TypeEmailsClicked       = "emailsClicked"
	TypeEmailsReplied       = "emailsReplied"
	TypeEmailsBounced       = "emailsBounced"
	TypeEmailsFailed        = "emailsFailed"
	TypeEmailsUnsubscribed  = "emailsUnsubscribed"
	TypeEmailsInterested    = "emailsInterested"
	TypeEmailsNotInterested = "emailsNotInterested"
	TypeLinkedinSent        = "linkedinSent"
	TypeLinkedinOpened      = "linkedinOpened"
	TypeLinkedinReplied     = "linkedinReplied"
	TypeLinkedinInviteDone  = "linkedinInviteDone"
	TypeLinkedinInviteAcc   = "linkedinInviteAccepted"
	TypeLinkedinVisitDone   = "linkedinVisitDone"
	TypeWhatsappSent        = "whatsappMessageSent"
	TypeWhatsappReplied     = "whatsappReplied"
	TypeSMSSent             = "smsSent"
	TypeSMSReplied          = "smsReplied"
	TypeAircallDone         = "aircallDone"
	TypeAircallEnded        = "aircallEnded"
	TypeManualDone          = "manualDone"
	TypeManualInterested    = "manualInterested"
	TypeManualNotInterested = "manualNotInterested"
	TypeAPIDone             = "apiDone"
	TypeAPIFailed           = "apiFailed"
	TypeAnnotated           = "annotated"
	TypePaused              = "paused"
	TypeResumed             = "resumed"
	TypeSkipped             = "skipped"
	TypeStopped             = "stopped"
	TypeConditionChosen     = "conditionChosen"
	TypeMeetingBooked       = "meetingBooked"
	TypeCampaignComplete    = "campaignComplete"
)

// Activity is one row of GET /activities?version=v2.
//
// Known fields are typed; Raw keeps the upstream object byte for byte, so
// fields this package does not model (custom lead variables, fields lemlist
// adds later) are never lost. MarshalJSON writes Raw back when it is set.
// SequenceStep and TotalSequenceStep are zero-indexed, as lemlist documents.
type Activity struct {
	ID        string    `json:"_id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	TeamID    string    `json:"teamId,omitempty"`

	CampaignID   string `json:"campaignId,omitempty"`
	CampaignName string `json:"campaignName,omitempty"`
	// Name is the campaign name on some activity types.
	Name string `json:"name,omitempty"`

	LeadID          string `json:"leadId,omitempty"`
	ContactID       string `json:"contactId,omitempty"`
	LeadFirstName   string `json:"leadFirstName,omitempty"`
	LeadLastName    string `json:"leadLastName,omitempty"`
	LeadEmail       string `json:"leadEmail,omitempty"`
	LeadCompanyName string `json:"leadCompanyName,omitempty"`
	LeadPhone       string `json:"leadPhone,omitempty"`
	LeadPicture     string `json:"leadPicture,omitempty"`
	// Lead is the lead snapshot lemlist embeds in many v2 activities.
	Lead *ActivityLead `json:"lead,omitempty"`

	UserID        string `json:"userId,omitempty"`
	UserName      string `json:"userName,omitempty"`
	CreatedBy     string `json:"createdBy,omitempty"`
	SendUserID    string `json:"sendUserId,omitempty"`
	SendUserName  string `json:"sendUserName,omitempty"`
	SendUserEmail string `json:"sendUserEmail,omitempty"`
	// SendUserMailboxID is the sending mailbox (usm_…).
	SendUserMailboxID string `json:"sendUserMailboxId,omitempty"`

	Bot     *bool `json:"bot,omitempty"`
	IsFirst *bool `json:"isFirst,omitempty"`
	Stopped *bool `json:"stopped,omitempty"`

	SequenceID        string     `json:"sequenceId,omitempty"`
	SequenceStep      *int       `json:"sequenceStep,omitempty"`
	TotalSequenceStep *int       `json:"totalSequenceStep,omitempty"`
	StepID            string     `json:"stepId,omitempty"`
	SequenceTested    string     `json:"sequenceTested,omitempty"`
	EmailID           string     `json:"emailId,omitempty"`
	EmailTemplateID   string     `json:"emailTemplateId,omitempty"`
	EmailTemplateName string     `json:"emailTemplateName,omitempty"`
	RelatedSentAt     *time.Time `json:"relatedSentAt,omitempty"`
	MessageID         string     `json:"messageId,omitempty"`
	Subject           string     `json:"subject,omitempty"`
	ErrorMessage      string     `json:"errorMessage,omitempty"`

	// CompanyID and Note are set on "annotated" rows.
	CompanyID     string `json:"companyId,omitempty"`
	Note          string `json:"note,omitempty"`
	OpportunityID string `json:"opportunityId,omitempty"`

	MetaData *ActivityMetaData `json:"metaData,omitempty"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
	// Summary is set when only the fields WithSummaries names were
	// decoded; Complete decodes the rest from Raw.
	Summary bool `json:"-"`
}

// ActivityMetaData is the metaData object of an activity.
type ActivityMetaData struct {
	TeamID     string `json:"teamId,omitempty"`
	CampaignID string `json:"campaignId,omitempty"`
	LeadID     string `json:"leadId,omitempty"`
	Type       string `json:"type,omitempty"`
	CreatedBy  string `json:"createdBy,omitempty"`
	TaskID     string `json:"taskId,omitempty"`
}

// ActivityLead is the lead snapshot embedded in an activity. Its values are
// those at the time of the activity.
type ActivityLead struct {
	ID           string         `json:"_id"`
	IsPaused     *bool          `json:"isPaused,omitempty"`
	State        string         `json:"state,omitempty"`
	Personalized *bool          `json:"personalized,omitempty"`
	Source       string         `json:"source,omitempty"`
	Variables    map[string]any `json:"variables,omitempty"`
	ContactID    string         `json:"contactId,omitempty"`
	Enrichment   map[string]any `json:"enrichment,omitempty"`
}

// Variable returns the snapshot's string variable name, or "" when it is
// absent or not a string.
func (l *ActivityLead) Variable(name string) string {
	if l == nil {
		return ""
	}
	s, _ := l.Variables[name].(string)
	return s
}

type activityAlias Activity

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (a *Activity) UnmarshalJSON(b []byte) error {
	return unmarshalRaw(b, (*activityAlias)(a), &a.Raw)
}

// MarshalJSON writes Raw when it is set, so a decoded activity encodes back
// without losing a field; otherwise it encodes the typed fields.
func (a Activity) MarshalJSON() ([]byte, error) { return marshalRaw(a.Raw, (*activityAlias)(&a)) }

// unmarshalRaw decodes b into alias, a pointer to a Raw-carrying type's alias
// (an alias has no JSON methods, so this does not recurse), and stores a copy
// of b in raw. The value is reset first, so the typed fields always match Raw.
func unmarshalRaw[T any](b []byte, alias *T, raw *json.RawMessage) error {
	var zero T
	*alias = zero
	if err := json.Unmarshal(b, alias); err != nil {
		return err
	}
	*raw = append(json.RawMessage(nil), b...)
	return nil
}

// marshalRaw returns raw when it is set, else the JSON encoding of alias.
func marshalRaw[T any](raw json.RawMessage, alias *T) ([]byte, error) {
	if len(raw) > 0 {
		return raw, nil
	}
	return json.Marshal(alias)
}

// Lead is the answer of GET /leads?id= (one lead in one campaign).
type Lead struct {
	ID            string `json:"_id"`
	Email         string `json:"email,omitempty"`
	FirstName     string `json:"firstName,omitempty"`
	LastName      string `json:"lastName,omitempty"`
	CompanyName   string `json:"companyName,omitempty"`
	JobTitle      string `json:"jobTitle,omitempty"`
	CompanyDomain string `json:"companyDomain,omitempty"`
	IsPaused      *bool  `json:"isPaused,omitempty"`
	CampaignID    string `json:"campaignId,omitempty"`
	ContactID     string `json:"contactId,omitempty"`
	EmailStatus   string `json:"emailStatus,omitempty"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
}

// Contact is a team-wide person (ctc_…), as returned by GET /contacts.
type Contact struct {
	ID           string            `json:"_id"`
	TeamID       string            `json:"teamId,omitempty"`
	FullName     string            `json:"fullName,omitempty"`
	Email        string            `json:"email,omitempty"`
	Fields       map[string]any    `json:"fields,omitempty"`
	Campaigns    []ContactCampaign `json:"campaigns,omitempty"`
	OwnerID      string            `json:"ownerId,omitempty"`
	CreatedAt    *time.Time        `json:"createdAt,omitempty"`
	CreatedBy    string            `json:"createdBy,omitempty"`
	Unsubscribed *bool             `json:"unsubscribed,omitempty"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
}

// Field returns the contact's string field name, or "".
func (c *Contact) Field(name string) string {
	if c == nil {
		return ""
	}
	s, _ := c.Fields[name].(string)
	return s
}

// ContactCampaign is one campaign enrolment of a contact; LeadID is the
// campaign-scoped lead id.
type ContactCampaign struct {
	CampaignID    string `json:"campaignId"`
	CampaignState string `json:"campaignState,omitempty"`
	LeadState     string `json:"leadState,omitempty"`
	LeadID        string `json:"leadId,omitempty"`
}

// Campaign is the answer of GET /campaigns/{id}.
type Campaign struct {
	ID        string           `json:"_id"`
	Name      string           `json:"name"`
	CreatedAt *time.Time       `json:"createdAt,omitempty"`
	Status    string           `json:"status,omitempty"`
	Creator   *CampaignCreator `json:"creator,omitempty"`
	Senders   []CampaignSender `json:"senders,omitempty"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
}

// CampaignCreator is the user who created a campaign.
type CampaignCreator struct {
	UserID    string `json:"userId,omitempty"`
	UserEmail string `json:"userEmail,omitempty"`
}

// CampaignSender is a sending mailbox of a campaign.
type CampaignSender struct {
	ID                string `json:"id,omitempty"`
	Email             string `json:"email,omitempty"`
	SendUserMailboxID string `json:"sendUserMailboxId,omitempty"`
}

// Team is the answer of GET /team?version=v2.
type Team struct {
	ID      string   `json:"_id"`
	Name    string   `json:"name,omitempty"`
	UserIDs []string `json:"userIds,omitempty"`
	Users   []User   `json:"users,omitempty"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
}

// User is a member of the team.
type User struct {
	ID    string `json:"userId"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Role  string `json:"role,omitempty"`
}

type (
	leadAlias     Lead
	contactAlias  Contact
	campaignAlias Campaign
	teamAlias     Team
)

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (l *Lead) UnmarshalJSON(b []byte) error { return unmarshalRaw(b, (*leadAlias)(l), &l.Raw) }

// MarshalJSON writes Raw when it is set, else the typed fields.
func (l Lead) MarshalJSON() ([]byte, error) { return marshalRaw(l.Raw, (*leadAlias)(&l)) }

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (c *Contact) UnmarshalJSON(b []byte) error { return unmarshalRaw(b, (*contactAlias)(c), &c.Raw) }

// MarshalJSON writes Raw when it is set, else the typed fields.
func (c Contact) MarshalJSON() ([]byte, error) { return marshalRaw(c.Raw, (*contactAlias)(&c)) }

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (c *Campaign) UnmarshalJSON(b []byte) error {
	return unmarshalRaw(b, (*campaignAlias)(c), &c.Raw)
}

// MarshalJSON writes Raw when it is set, else the typed fields.
func (c Campaign) MarshalJSON() ([]byte, error) { return marshalRaw(c.Raw, (*campaignAlias)(&c)) }

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (t *Team) UnmarshalJSON(b []byte) error { return unmarshalRaw(b, (*teamAlias)(t), &t.Raw) }

// MarshalJSON writes Raw when it is set, else the typed fields.
func (t Team) MarshalJSON() ([]byte, error) { return marshalRaw(t.Raw, (*teamAlias)(&t)) }
