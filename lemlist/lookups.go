package lemlist

import (
	"context"
	"net/url"
	"strings"
)

// Get returns the lead with id (lea_…).
//
// lemlist API docs: https://developer.lemlist.com/api-reference/endpoints/leads/get-lead-by-email-or-id
//
//meta:operation GET /leads
func (s *LeadsService) Get(ctx context.Context, id string) (*Lead, *Response, error) {
	var l Lead
	resp, err := s.client.getJSON(ctx, "leads", url.Values{"id": {id}}, &l)
	if err != nil {
		return nil, resp, err
	}
	return &l, resp, nil
}

// GetMany returns the contacts with the given ids or emails, at most 100 per
// call. Missing ids are absent from the result, whose order is the upstream's.
//
//meta:operation GET /contacts
func (s *ContactsService) GetMany(ctx context.Context, idsOrEmails []string) ([]*Contact, *Response, error) {
	var out []*Contact
	resp, err := s.client.getJSON(ctx, "contacts", url.Values{"idsOrEmails": {strings.Join(idsOrEmails, ",")}}, &out)
	return out, resp, err
}

// Get returns the campaign with id (cam_…).
//
//meta:operation GET /campaigns/{campaignId}
func (s *CampaignsService) Get(ctx context.Context, id string) (*Campaign, *Response, error) {
	var c Campaign
	resp, err := s.client.getJSON(ctx, "campaigns/"+url.PathEscape(id), nil, &c)
	if err != nil {
		return nil, resp, err
	}
	return &c, resp, nil
}

// Get returns the team with its users.
//
//meta:operation GET /team
func (s *TeamService) Get(ctx context.Context) (*Team, *Response, error) {
	var t Team
	resp, err := s.client.getJSON(ctx, "team", url.Values{"version": {"v2"}}, &t)
	if err != nil {
		return nil, resp, err
	}
	return &t, resp, nil
}
