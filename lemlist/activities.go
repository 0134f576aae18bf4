package lemlist

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ActivityListOptions are the filters of GET /activities.
type ActivityListOptions struct {
	// Type filters on one activity type, e.g. "emailsReplied".
	Type string
	// CampaignID filters on a campaign.
	CampaignID string
	// LeadID filters on a (campaign-scoped) lead.
	LeadID string
	// IsFirst filters on the first-activity flag when set.
	IsFirst *bool
	// MinDate and MaxDate bound createdAt, both inclusive. Zero means unset.
	MinDate, MaxDate time.Time
	// Offset is the number of rows to skip.
	Offset int
	// Limit is the page size, 1..100. Zero means 100.
	Limit int
}

// Values validates the options and encodes them as a query string, always
// with version=v2. Dates are RFC 3339 with milliseconds.
func (o *ActivityListOptions) Values() (url.Values, error) {
	q := url.Values{"version": {"v2"}}
	if o == nil {
		return q, nil
	}
	if o.Limit < 0 || o.Limit > MaxPageSize {
		return nil, fmt.Errorf("lemlist: limit %d out of range 1..%d", o.Limit, MaxPageSize)
	}
	if o.Offset < 0 {
		return nil, fmt.Errorf("lemlist: negative offset %d", o.Offset)
	}
	if !o.MinDate.IsZero() && !o.MaxDate.IsZero() && !o.MaxDate.After(o.MinDate) {
		return nil, errors.New("lemlist: maxDate must be strictly greater than minDate")
	}
	if o.Type != "" {
		q.Set("type", o.Type)
	}
	if o.CampaignID != "" {
		q.Set("campaignId", o.CampaignID)
	}
	if o.LeadID != "" {
		q.Set("leadId", o.LeadID)
	}
	if o.IsFirst != nil {
		q.Set("isFirst", strconv.FormatBool(*o.IsFirst))
	}
	if !o.MinDate.IsZero() {
		q.Set("minDate", FormatTime(o.MinDate))
	}
	if !o.MaxDate.IsZero() {
		q.Set("maxDate", FormatTime(o.MaxDate))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q, nil
}

// FormatTime formats t as lemlist expects dates: RFC 3339 in UTC with
// milliseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// List returns one page of activities, newest first.
//
// lemlist API docs: https://developer.lemlist.com/api-reference/endpoints/activities/get-many-activities
//
//meta:operation GET /activities
func (s *ActivitiesService) List(ctx context.Context, opts *ActivityListOptions) ([]*Activity, *Response, error) {
	q, err := opts.Values()
	if err != nil {
		return nil, nil, err
	}
	var page []*Activity
	resp, err := s.client.getJSON(ctx, "activities", q, &page)
	if err != nil {
		return nil, resp, err
	}
	limit := MaxPageSize
	if opts != nil && opts.Limit > 0 {
		limit = opts.Limit
	}
	if len(page) == limit {
		off := 0
		if opts != nil {
			off = opts.Offset
		}
		resp.NextOffset = off + len(page)
	}
	return page, resp, nil
}
