package lemlisttest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The lookup endpoints render through these structs, with lemlist's field
// names spelled out in their own tags.

type leadJSON struct {
	ID            string `json:"_id"`
	Email         string `json:"email"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	CompanyName   string `json:"companyName"`
	JobTitle      string `json:"jobTitle,omitempty"`
	CompanyDomain string `json:"companyDomain"`
	IsPaused      bool   `json:"isPaused"`
	CampaignID    string `json:"campaignId"`
	ContactID     string `json:"contactId"`
	EmailStatus   string `json:"emailStatus,omitempty"`
}

type leadFlatJSON struct {
	CompanyName string `json:"companyName"`
	Email       string `json:"email"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	ID          string `json:"_id"`
	IsPaused    bool   `json:"isPaused"`
	CampaignID  string `json:"campaignId"`
	ContactID   string `json:"contactId"`
}

type leadV2JSON struct {
	ID           string         `json:"_id"`
	UpdatedAt    string         `json:"updatedAt"`
	IsPaused     bool           `json:"isPaused"`
	State        string         `json:"state"`
	Status       string         `json:"status"`
	Personalized bool           `json:"personalized"`
	Source       string         `json:"source"`
	Variables    map[string]any `json:"variables"`
	ContactID    string         `json:"contactId"`
	Enrichment   map[string]any `json:"enrichment"`
	Campaign     struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"campaign"`
	SendingUser struct {
		Email string `json:"email"`
	} `json:"sendingUser"`
}

type contactJSON struct {
	ID              string                `json:"_id"`
	TeamID          string                `json:"teamId"`
	FullName        string                `json:"fullName"`
	Email           string                `json:"email"`
	Fields          map[string]any        `json:"fields"`
	Campaigns       []contactCampaignJSON `json:"campaigns"`
	OwnerID         string                `json:"ownerId"`
	CreatedAt       string                `json:"createdAt"`
	CreatedBy       string                `json:"createdBy"`
	Unsubscribed    bool                  `json:"unsubscribed"`
	FieldRejections []string              `json:"fieldRejections"`
}

type contactCampaignJSON struct {
	CampaignID    string `json:"campaignId"`
	CampaignState string `json:"campaignState"`
	LeadState     string `json:"leadState"`
	LeadID        string `json:"leadId"`
}

type campaignJSON struct {
	ID        string `json:"_id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	Status    string `json:"status"`
	Creator   struct {
		UserID    string `json:"userId"`
		UserEmail string `json:"userEmail"`
	} `json:"creator"`
	Senders     []campaignSenderJSON `json:"senders"`
	Emoji       string               `json:"emoji,omitempty"`
	Labels      []string             `json:"labels"`
	CreatedBy   string               `json:"createdBy"`
	SequenceID  string               `json:"sequenceId"`
	ScheduleIDs []string             `json:"scheduleIds"`
	Timezone    string               `json:"timezone"`
	TeamID      string               `json:"teamId"`
	HasError    bool                 `json:"hasError"`
	Errors      []string             `json:"errors"`
}

type campaignSenderJSON struct {
	ID                string `json:"id"`
	Email             string `json:"email"`
	SendUserMailboxID string `json:"sendUserMailboxId"`
}

type campaignListItemJSON struct {
	ID          string   `json:"_id"`
	Name        string   `json:"name"`
	Emoji       string   `json:"emoji,omitempty"`
	Labels      []string `json:"labels"`
	CreatedAt   string   `json:"createdAt"`
	CreatedBy   string   `json:"createdBy"`
	Status      string   `json:"status"`
	SequenceID  string   `json:"sequenceId"`
	ScheduleIDs []string `json:"scheduleIds"`
	Timezone    string   `json:"timezone"`
	HasError    bool     `json:"hasError"`
	Errors      []string `json:"errors"`
}

type teamJSON struct {
	ID           string         `json:"_id"`
	Name         string         `json:"name"`
	UserIDs      []string       `json:"userIds"`
	CreatedBy    string         `json:"createdBy"`
	CreatedAt    string         `json:"createdAt"`
	Hooks        []any          `json:"hooks"`
	Beta         []string       `json:"beta"`
	InvitedUsers []any          `json:"invitedUsers"`
	CustomDomain string         `json:"customDomain"`
	Users        []teamUserJSON `json:"users,omitempty"`
}

type teamUserJSON struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Role   string `json:"role"`
}

func isoMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func jsonResponse(v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return text(500, "Internal Server Error")
	}
	return response{status: 200, ctype: ctJSON, body: b}
}

func (d *dataset) leadJSON(li int32) leadJSON {
	l := &d.leads[li]
	p := &d.persons[l.person]
	co := &d.companies[p.company]
	j := leadJSON{
		ID: l.id, Email: p.email, FirstName: p.first, LastName: p.last, CompanyName: co.name,
		JobTitle: p.job, CompanyDomain: co.domain, IsPaused: l.paused,
		CampaignID: d.campaigns[l.campaign].id, ContactID: p.id,
	}
	if l.emailStatus > 0 {
		j.EmailStatus = emailStatuses[l.emailStatus-1]
	}
	return j
}

func (d *dataset) personByKey(idOrEmail string) (int32, bool) {
	if p, ok := d.personByID[idOrEmail]; ok {
		return p, true
	}
	p, ok := d.personByEmail[strings.ToLower(idOrEmail)]
	return p, ok
}

// serveLeadQuery answers GET /leads?id= or ?email= (email wins).
func (t *Tenant) serveLeadQuery(q url.Values, _ string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	if email := q.Get("email"); email != "" {
		p, ok := d.personByEmail[strings.ToLower(email)]
		if !ok {
			return text(404, "Lead not found")
		}
		return jsonResponse(d.leadJSON(d.persons[p].leads[0]))
	}
	id := q.Get("id")
	if id == "" {
		return text(400, "id or email is required")
	}
	l, ok := d.leadByID[id]
	if !ok {
		return text(404, "Lead not found")
	}
	return jsonResponse(d.leadJSON(l))
}

// serveLeadByEmail answers GET /leads/{email}: with version=v2 an array,
// one lead per campaign; without it the flat first lead.
func (t *Tenant) serveLeadByEmail(q url.Values, path string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	p, ok := d.personByEmail[strings.ToLower(strings.TrimPrefix(path, "/leads/"))]
	if !ok {
		return text(404, "Lead not found")
	}
	pr := &d.persons[p]
	if q.Get("version") != "v2" {
		l := &d.leads[pr.leads[0]]
		return jsonResponse(leadFlatJSON{
			CompanyName: d.companies[pr.company].name, Email: pr.email, FirstName: pr.first, LastName: pr.last,
			ID: l.id, IsPaused: l.paused, CampaignID: d.campaigns[l.campaign].id, ContactID: pr.id,
		})
	}
	out := make([]leadV2JSON, 0, len(pr.leads))
	for _, li := range pr.leads {
		l := &d.leads[li]
		c := &d.campaigns[l.campaign]
		lj := d.leadJSON(li)
		j := leadV2JSON{
			ID: l.id, UpdatedAt: isoMs(l.createdAt), IsPaused: l.paused, State: leadStates[l.state],
			Status: leadStatus(l), Personalized: l.personalized, Source: leadSources[l.source],
			Variables: map[string]any{"firstName": lj.FirstName, "lastName": lj.LastName, "email": lj.Email, "companyName": lj.CompanyName},
			ContactID: pr.id, Enrichment: map[string]any{},
		}
		if lj.EmailStatus != "" {
			j.Enrichment["emailStatus"] = lj.EmailStatus
		}
		j.Campaign.ID, j.Campaign.Name, j.Campaign.Status = c.id, c.name, c.status
		j.SendingUser.Email = d.users[c.senders[0]].email
		out = append(out, j)
	}
	return jsonResponse(out)
}

func leadStatus(l *lead) string {
	switch {
	case l.paused:
		return "paused"
	case leadStates[l.state] == "interested":
		return "interested"
	case leadStates[l.state] == "manualNotInterested":
		return "notInterested"
	case leadStates[l.state] == "emailsUnsubscribed":
		return "unsubscribed"
	case leadStates[l.state] == "review" || leadStates[l.state] == "scanned":
		return "review"
	}
	return "running"
}

func (d *dataset) contactJSON(pi int32) contactJSON {
	p := &d.persons[pi]
	j := contactJSON{
		ID: p.id, TeamID: d.teamID, FullName: p.first + " " + p.last, Email: p.email,
		Fields: map[string]any{
			"firstName": p.first, "lastName": p.last, "isActiveInCampaigns": false,
		},
		Campaigns: []contactCampaignJSON{}, OwnerID: d.users[p.owner].id, CreatedAt: isoMs(p.createdAt),
		CreatedBy: d.users[p.owner].id, Unsubscribed: p.unsubscribed, FieldRejections: []string{},
	}
	if p.job != "" {
		j.Fields["jobTitle"] = p.job
	}
	if p.industry != "" {
		j.Fields["industry"] = p.industry
	}
	for _, li := range p.leads {
		l := &d.leads[li]
		c := &d.campaigns[l.campaign]
		j.Campaigns = append(j.Campaigns, contactCampaignJSON{
			CampaignID: c.id, CampaignState: c.status, LeadState: leadStates[l.state], LeadID: l.id,
		})
		if c.status == "running" && !l.paused {
			j.Fields["isActiveInCampaigns"] = true
		}
		j.Fields["lastCampaign"] = c.name
		j.Fields["leadStatus"] = leadStatus(l)
	}
	return j
}

// serveContacts answers GET /contacts: with idsOrEmails a plain array in
// the dataset's order (not the request's), missing ids dropped; without it
// a page {data,total,limit,offset}.
func (t *Tenant) serveContacts(q url.Values, _ string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	if raw := q.Get("idsOrEmails"); raw != "" {
		var keys []string
		for _, k := range strings.Split(raw, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		if len(keys) > 100 {
			return text(400, "idsOrEmails must contain at most 100 values")
		}
		var found []int32
		for _, k := range keys {
			if p, ok := d.personByKey(k); ok && !slices.Contains(found, p) {
				found = append(found, p)
			}
		}
		slices.Sort(found)
		out := make([]contactJSON, len(found))
		for i, p := range found {
			out[i] = d.contactJSON(p)
		}
		return jsonResponse(out)
	}
	limit, offset := 100, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return text(400, "limit must be an integer between 1 and 500")
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return text(400, msgOffset)
		}
		offset = n
	}
	page := struct {
		Data   []contactJSON `json:"data"`
		Total  int           `json:"total"`
		Limit  int           `json:"limit"`
		Offset int           `json:"offset"`
	}{Data: []contactJSON{}, Total: len(d.persons), Limit: limit, Offset: offset}
	for i := offset; i < len(d.persons) && i < offset+limit; i++ {
		page.Data = append(page.Data, d.contactJSON(int32(i)))
	}
	return jsonResponse(page)
}

// serveContact answers GET /contacts/{idOrEmail}.
func (t *Tenant) serveContact(_ url.Values, path string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.d.personByKey(strings.TrimPrefix(path, "/contacts/"))
	if !ok {
		return text(404, "Contact not found")
	}
	return jsonResponse(t.d.contactJSON(p))
}

func (d *dataset) campaignErrors(c *campaign) []string {
	if c.status == "errors" {
		return []string{"Sending mailbox disconnected"}
	}
	return []string{}
}

// serveCampaign answers GET /campaigns/{id}.
func (t *Tenant) serveCampaign(_ url.Values, path string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	ci, ok := d.campByID[strings.TrimPrefix(path, "/campaigns/")]
	if !ok {
		return text(404, "Campaign not found")
	}
	c := &d.campaigns[ci]
	j := campaignJSON{
		ID: c.id, Name: c.name, CreatedAt: isoMs(c.createdAt), Status: c.status, Emoji: c.emoji,
		Labels: c.labels, CreatedBy: d.users[c.creator].id, SequenceID: c.seqID,
		ScheduleIDs: []string{c.scheduleID}, Timezone: c.timezone, TeamID: d.teamID,
		HasError: c.status == "errors", Errors: d.campaignErrors(c),
	}
	j.Creator.UserID, j.Creator.UserEmail = d.users[c.creator].id, d.users[c.creator].email
	for _, u := range c.senders {
		j.Senders = append(j.Senders, campaignSenderJSON{ID: d.users[u].id, Email: d.users[u].email, SendUserMailboxID: d.users[u].mailbox})
	}
	return jsonResponse(j)
}

// serveCampaignList answers GET /campaigns: with version=v2 an envelope
// {campaigns,pagination}, without it a bare array.
func (t *Tenant) serveCampaignList(q url.Values, _ string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	limit, offset, page := 100, 0, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return text(400, msgLimit)
		}
		limit = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return text(400, "page must be a positive integer")
		}
		page = n
		offset = (n - 1) * limit
	} else if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return text(400, msgOffset)
		}
		offset = n
	}
	idx := make([]int, 0, len(d.campaigns))
	for i := range d.campaigns {
		if st := q.Get("status"); st == "" || d.campaigns[i].status == st {
			idx = append(idx, i)
		}
	}
	asc := q.Get("sortOrder") == "asc"
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := d.campaigns[a].createdAt, d.campaigns[b].createdAt
		if asc {
			x, y = y, x
		}
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	items := []campaignListItemJSON{}
	for i := offset; i < len(idx) && i < offset+limit; i++ {
		c := &d.campaigns[idx[i]]
		items = append(items, campaignListItemJSON{
			ID: c.id, Name: c.name, Emoji: c.emoji, Labels: c.labels, CreatedAt: isoMs(c.createdAt),
			CreatedBy: d.users[c.creator].id, Status: c.status, SequenceID: c.seqID,
			ScheduleIDs: []string{c.scheduleID}, Timezone: c.timezone, HasError: c.status == "errors",
			Errors: d.campaignErrors(c),
		})
	}
	if q.Get("version") != "v2" {
		return jsonResponse(items)
	}
	totalPage := (len(idx) + limit - 1) / limit
	if page == 0 {
		page = offset/limit + 1
	}
	env := struct {
		Campaigns  []campaignListItemJSON `json:"campaigns"`
		Pagination struct {
			TotalRecords int `json:"totalRecords"`
			CurrentPage  int `json:"currentPage"`
			NextPage     int `json:"nextPage"`
			TotalPage    int `json:"totalPage"`
		} `json:"pagination"`
	}{Campaigns: items}
	env.Pagination.TotalRecords = len(idx)
	env.Pagination.CurrentPage = page
	env.Pagination.NextPage = min(page+1, max(totalPage, 1))
	env.Pagination.TotalPage = totalPage
	return jsonResponse(env)
}

// serveTeam answers GET /team; users are listed only with version=v2.
func (t *Tenant) serveTeam(q url.Values, _ string) response {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	j := teamJSON{
		ID: d.teamID, Name: d.teamName, CreatedBy: d.users[0].id, CreatedAt: isoMs(d.teamCreated),
		Hooks: []any{}, Beta: []string{}, InvitedUsers: []any{}, UserIDs: []string{},
	}
	for _, u := range d.users {
		j.UserIDs = append(j.UserIDs, u.id)
		if q.Get("version") == "v2" {
			j.Users = append(j.Users, teamUserJSON{UserID: u.id, Name: u.name, Email: u.email, Role: u.role})
		}
	}
	return jsonResponse(j)
}
