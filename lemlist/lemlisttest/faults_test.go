package lemlisttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	asErrorResponse := func(err error) *lemlist.ErrorResponse {
		var e *lemlist.ErrorResponse
		errors.As(err, &e)
		return e
	}
	asDecode := func(err error) *lemlist.DecodeError {
		var e *lemlist.DecodeError
		errors.As(err, &e)
		return e
	}
	for _, tt := range []struct {
		name  string
		fault lemlisttest.Fault
		check func(t *testing.T, page []*lemlist.Activity, err error)
	}{
		{"500", lemlisttest.Fault{Status: 500}, func(t *testing.T, _ []*lemlist.Activity, err error) {
			if e := asErrorResponse(err); e == nil || e.StatusCode != 500 || e.Message != "Internal Server Error" {
				t.Errorf("got %v", err)
			}
		}},
		{"503 with body", lemlisttest.Fault{Status: 503, Body: "upstream connect error"}, func(t *testing.T, _ []*lemlist.Activity, err error) {
			if e := asErrorResponse(err); e == nil || e.StatusCode != 503 || e.Message != "upstream connect error" {
				t.Errorf("got %v", err)
			}
		}},
		{"402 plan gate", lemlisttest.Fault{Status: 402, Body: "route is available starting emailPro plan"}, func(t *testing.T, _ []*lemlist.Activity, err error) {
			if lemlist.StatusCode(err) != 402 {
				t.Errorf("got %v", err)
			}
		}},
		{"HTML 200", lemlisttest.Fault{HTML200: true}, func(t *testing.T, page []*lemlist.Activity, err error) {
			if e := asDecode(err); e == nil || e.Status != 200 || page != nil {
				t.Errorf("got %d items, %v", len(page), err)
			}
		}},
		{"truncated JSON", lemlisttest.Fault{Truncate: true}, func(t *testing.T, page []*lemlist.Activity, err error) {
			var se *json.SyntaxError
			if e := asDecode(err); e == nil || !errors.As(err, &se) || page != nil {
				t.Errorf("got %d items, %v", len(page), err)
			}
		}},
		{"{} instead of a list", lemlisttest.Fault{Body: "{}"}, func(t *testing.T, page []*lemlist.Activity, err error) {
			if e := asDecode(err); e == nil || page != nil {
				t.Errorf("got %d items, %v", len(page), err)
			}
		}},
		{"429 with Retry-After", lemlisttest.Fault{Status: 429, RetryAfter: "0.25"}, func(t *testing.T, _ []*lemlist.Activity, err error) {
			var e *lemlist.RateLimitError
			if !errors.As(err, &e) || e.RetryAfter != 250*time.Millisecond {
				t.Errorf("got %v", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := small(t, 30)
			c := s.Client(noRetry())
			s.InjectFault(tt.fault, 1)
			page, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 10})
			tt.check(t, page, err)
			if page, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 10}); err != nil || len(page) != 10 {
				t.Errorf("after the fault: %d items, %v", len(page), err)
			}
		})
	}
}

func TestFaultCountPathAndRetry(t *testing.T) {
	t.Parallel()
	s := small(t, 30)
	c := s.Client(noRetry())

	// Path filters: exact, and prefix with a trailing slash.
	s.InjectFault(lemlisttest.Fault{Path: "/team", Status: 500}, 2)
	s.InjectFault(lemlisttest.Fault{Path: "/campaigns/", Status: 502}, 1)
	if _, _, err := c.Activities.List(t.Context(), nil); err != nil {
		t.Errorf("activities hit by a /team fault: %v", err)
	}
	camp := s.Tenant(lemlisttest.DefaultTenant).Campaigns()[0].ID
	if _, _, err := c.Campaigns.Get(t.Context(), camp); lemlist.StatusCode(err) != 502 {
		t.Errorf("campaign: %v", err)
	}
	for i := range 3 {
		_, _, err := c.Team.Get(t.Context())
		if want := i < 2; (lemlist.StatusCode(err) == 500) != want {
			t.Errorf("team call %d: %v", i, err)
		}
	}

	// The client's retries ride over a couple of 5xx.
	retrying := s.Client(lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	s.ResetRequests()
	s.FailNext(503, 2)
	if _, _, err := retrying.Activities.List(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n := s.CountRequests("/activities"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}

	// A slow answer runs into the caller's deadline.
	s.InjectFault(lemlisttest.Fault{Latency: time.Second}, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Activities.List(ctx, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 900*time.Millisecond {
		t.Errorf("slow fault: %v after %s", err, time.Since(start))
	}

	s.FailNext(500, 5)
	s.ClearFaults()
	if _, _, err := c.Team.Get(t.Context()); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestLatencyOption(t *testing.T) {
	t.Parallel()
	s := newServer(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: 5}, Latency: 40 * time.Millisecond})
	start := time.Now()
	if _, _, err := s.Client().Team.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("answered in %s", d)
	}
}
