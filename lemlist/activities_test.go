package lemlist

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"
)

func TestActivityListOptionsValues(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CEST", 2*3600)
	minDate := time.Date(2026, 5, 11, 2, 0, 0, 123456789, paris) // 00:00:00.123Z
	maxDate := minDate.Add(24 * time.Hour)
	yes, no := true, false
	tests := []struct {
		name string
		opts *ActivityListOptions
		want url.Values // nil: an error is expected
	}{
		{"nil", nil, url.Values{"version": {"v2"}}},
		{"zero", &ActivityListOptions{}, url.Values{"version": {"v2"}}},
		{"every filter", &ActivityListOptions{
			Type: TypeEmailsReplied, CampaignID: "cam_1", LeadID: "lea_1", IsFirst: &yes,
			MinDate: minDate, MaxDate: maxDate, Offset: 200, Limit: 50,
		}, url.Values{
			"version": {"v2"}, "type": {"emailsReplied"}, "campaignId": {"cam_1"}, "leadId": {"lea_1"},
			"isFirst": {"true"}, "minDate": {"2026-05-11T00:00:00.123Z"}, "maxDate": {"2026-05-12T00:00:00.123Z"},
			"offset": {"200"}, "limit": {"50"},
		}},
		{"isFirst false", &ActivityListOptions{IsFirst: &no}, url.Values{"version": {"v2"}, "isFirst": {"false"}}},
		{"minDate only", &ActivityListOptions{MinDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			url.Values{"version": {"v2"}, "minDate": {"2026-01-02T03:04:05.000Z"}}},
		{"limit 0 means default", &ActivityListOptions{Limit: 0}, url.Values{"version": {"v2"}}},
		{"limit 1", &ActivityListOptions{Limit: 1}, url.Values{"version": {"v2"}, "limit": {"1"}}},
		{"limit 100", &ActivityListOptions{Limit: 100}, url.Values{"version": {"v2"}, "limit": {"100"}}},
		{"limit 101", &ActivityListOptions{Limit: 101}, nil},
		{"negative limit", &ActivityListOptions{Limit: -1}, nil},
		{"negative offset", &ActivityListOptions{Offset: -1}, nil},
		{"maxDate equals minDate", &ActivityListOptions{MinDate: minDate, MaxDate: minDate}, nil},
		{"maxDate before minDate", &ActivityListOptions{MinDate: maxDate, MaxDate: minDate}, nil},
	}
	for _, tt := range tests {
		got, err := tt.opts.Values()
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("%s: got %v, want an error", tt.name, got)
		case tt.want != nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !reflect.DeepEqual(got, tt.want) && tt.want != nil:
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestActivitiesListRejectsBadOptionsWithoutRequest(t *testing.T) {
	t.Parallel()
	c, _, hits := setup(t)
	now := time.Now()
	for _, o := range []*ActivityListOptions{{Limit: 101}, {Offset: -5}, {MinDate: now, MaxDate: now}} {
		if page, resp, err := c.Activities.List(t.Context(), o); err == nil || page != nil || resp != nil {
			t.Errorf("%+v: got %v, %v, %v; want only an error", o, page, resp, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent", hits.Load())
	}
}

func TestActivitiesList(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	seed := readSeed(t)
	mux.HandleFunc("GET /api/activities", func(w http.ResponseWriter, r *http.Request) {
		want := url.Values{"version": {"v2"}, "campaignId": {"cam_1"}, "offset": {"10"}, "limit": {"6"}}
		if got := r.URL.Query(); got.Has("limit") && !reflect.DeepEqual(got, want) {
			t.Errorf("query = %v, want %v", got, want)
		}
		w.Write(seed)
	})
	page, resp, err := c.Activities.List(t.Context(), &ActivityListOptions{CampaignID: "cam_1", Offset: 10, Limit: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 6 || page[0].ID != "act_PbKqTGpQqSlPcoOZ5" || page[0].Lead.Variable("Company name") != "John Doe" {
		t.Fatalf("decoded %d activities, first %+v", len(page), page[0])
	}
	if resp.NextOffset != 16 {
		t.Errorf("NextOffset = %d, want 16 after a full page", resp.NextOffset)
	}
	// 6 rows for the default limit of 100: a short page, the last one.
	if _, resp, err = c.Activities.List(t.Context(), nil); err != nil || resp.NextOffset != 0 {
		t.Errorf("short page: NextOffset %d, err %v; want 0, nil", resp.NextOffset, err)
	}
}

// pagedServer serves total activities newest first, honouring offset and
// limit; before answering page k > 0 it prepends inserted[k] new ones, the
// way activities created during paging shift offsets.
func pagedServer(t *testing.T, total int, inserted map[int]int) (*Client, func() int64) {
	c, mux, hits := setup(t)
	var rows []map[string]any
	for i := range total {
		rows = append(rows, map[string]any{"_id": "act_" + strconv.Itoa(i), "type": TypeEmailsSent, "createdAt": time.Now()})
	}
	mux.HandleFunc("/api/activities", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		off, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit == 0 {
			limit = MaxPageSize
		}
		for range inserted[int(hits.Load())-1] {
			rows = append([]map[string]any{{"_id": fmt.Sprintf("act_new%d", len(rows)), "type": TypeEmailsSent, "createdAt": time.Now()}}, rows...)
		}
		page := rows[min(off, len(rows)):min(off+limit, len(rows))]
		json.NewEncoder(w).Encode(page)
	})
	return c, hits.Load
}

func TestActivitiesListIter(t *testing.T) {
	t.Parallel()
	c, requests := pagedServer(t, 250, nil)
	opts := &ActivityListOptions{Limit: 100}
	seq := c.Activities.ListIter(t.Context(), opts)
	opts.Limit = 1 // the iterator has its own copy
	var ids []string
	for a, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != 250 || ids[0] != "act_0" || ids[249] != "act_249" || requests() != 3 {
		t.Errorf("got %d activities in %d requests; want 250 in 3", len(ids), requests())
	}

	n := 0
	for range seq { // ranging again starts over; breaking stops paging
		if n++; n == 150 {
			break
		}
	}
	if requests() != 5 {
		t.Errorf("%d requests after a second, partial iteration; want 5", requests())
	}
}

func TestActivitiesListIterSkipsShiftedRepeats(t *testing.T) {
	t.Parallel()
	c, _ := pagedServer(t, 150, map[int]int{1: 3}) // 3 new rows before page 2
	seen := map[string]int{}
	for a, err := range c.Activities.ListIter(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		seen[a.ID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s yielded %d times", id, n)
		}
	}
	if len(seen) != 150 {
		t.Errorf("%d distinct activities, want the 150 that existed at the start", len(seen))
	}
}

func TestActivitiesListIterYieldsError(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	var errs int
	for a, err := range c.Activities.ListIter(t.Context(), &ActivityListOptions{Limit: 500}) {
		if a != nil || err == nil {
			t.Errorf("got %v, %v", a, err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded, want 1", errs)
	}
}
