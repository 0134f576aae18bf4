package lemlist

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Get returns the lead with id (lea_…); an unknown id gives a 404
// *ErrorResponse (see IsNotFound).
//
// lemlist API docs: https://developer.lemlist.com/api-reference/endpoints/leads/get-lead-by-email-or-id
//
//meta:operation GET /leads
func (s *LeadsService) Get(ctx context.Context, id string) (*Lead, *Response, error) {
	if id == "" {
		return nil, nil, errors.New("lemlist: GET leads: empty lead id")
	}
	var l Lead
	resp, err := s.client.get(ctx, "leads", "leads", url.Values{"id": {id}}, &l)
	if err != nil {
		return nil, resp, err
	}
	return &l, resp, nil
}

// GetMany returns the contacts with the given ids or emails. It makes one
// call per MaxContactsPerCall values, one after the other, and none for an
// empty list. Missing ids are absent from the result, whose order is the
// upstream's. The Response is that of the last call made.
//
//meta:operation GET /contacts
func (s *ContactsService) GetMany(ctx context.Context, idsOrEmails []string) ([]*Contact, *Response, error) {
	var (
		out  []*Contact
		resp *Response
	)
	for chunk := range slices.Chunk(idsOrEmails, MaxContactsPerCall) {
		var page []*Contact
		var err error
		resp, err = s.client.get(ctx, "contacts", "contacts", url.Values{"idsOrEmails": {strings.Join(chunk, ",")}}, &page)
		if err != nil {
			return nil, resp, err
		}
		out = append(out, page...)
	}
	return out, resp, nil
}

// Get returns the campaign with id (cam_…); an unknown id gives a 404
// *ErrorResponse (see IsNotFound).
//
//meta:operation GET /campaigns/{campaignId}
func (s *CampaignsService) Get(ctx context.Context, id string) (*Campaign, *Response, error) {
	if id == "" || id == "." || id == ".." {
		return nil, nil, errors.New("lemlist: GET campaigns/{id}: invalid campaign id")
	}
	var c Campaign
	resp, err := s.client.get(ctx, "campaigns/{id}", "campaigns/"+url.PathEscape(id), nil, &c)
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
	resp, err := s.client.get(ctx, "team", "team", url.Values{"version": {"v2"}}, &t)
	if err != nil {
		return nil, resp, err
	}
	return &t, resp, nil
}
