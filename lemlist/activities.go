package lemlist

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
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
		return nil, fmt.Errorf("lemlist: limit %d out of range 1..%d (0 means %[2]d)", o.Limit, MaxPageSize)
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

// List returns one page of activities, newest first. Invalid options are
// rejected before any request is sent. A 200 answer that is not a JSON array
// (lemlist's {} for an unknown type filter, its HTML page for an unknown
// path) is a *DecodeError, never an empty page.
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
	var dst any = &page
	if SummariesOnly(ctx) {
		dst = summaryPage{&page}
	}
	resp, err := s.client.get(ctx, "activities", "activities", q, dst)
	if err != nil {
		return nil, resp, err
	}
	var o ActivityListOptions
	if opts != nil {
		o = *opts
	}
	if len(page) == cmp.Or(o.Limit, MaxPageSize) {
		resp.NextOffset = o.Offset + len(page)
	}
	return page, resp, nil
}

// ListIter returns the activities matching opts across pages, newest first,
// stopping after a short page or at the first error (yielded with a nil
// activity). opts is copied, so the sequence can be ranged over again.
//
// Pages are fetched by offset, so activities created while iterating push
// rows down and the next page would repeat them; an activity already yielded
// by the previous page is skipped. To get a stable set, set MaxDate.
//
//meta:operation GET /activities
func (s *ActivitiesService) ListIter(ctx context.Context, opts *ActivityListOptions) iter.Seq2[*Activity, error] {
	var start ActivityListOptions
	if opts != nil {
		start = *opts
	}
	return func(yield func(*Activity, error) bool) {
		o := start
		var prev map[string]bool // ids of the previous page
		for {
			page, resp, err := s.List(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			seen := make(map[string]bool, len(page))
			for _, a := range page {
				seen[a.ID] = true
				if !prev[a.ID] && !yield(a, nil) {
					return
				}
			}
			if resp.NextOffset == 0 {
				return
			}
			o.Offset, prev = resp.NextOffset, seen
		}
	}
}
