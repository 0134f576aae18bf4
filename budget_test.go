package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// lastEstimate returns upstream_estimate of the last request log line, -1
// when it has none.
func lastEstimate(t *testing.T, s *testServer) int {
	t.Helper()
	est := -1
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request" {
			est = -1
			if v, ok := l["upstream_estimate"].(float64); ok {
				est = int(v)
			}
		}
	}
	return est
}

// Operations are priced in upstream calls before they run: beyond
// MAX_UPSTREAM_CALLS they are refused with UPSTREAM_BUDGET_EXCEEDED (the
// estimate and the limit in extensions) and no upstream call; the usual
// pages are admitted, and make no more calls than their estimate (issue
// 13, item 4).
func TestUpstreamBudget(t *testing.T) {
	t.Parallel()
	fake := newFake(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: 2000}})
	// CACHE_TTL=0: every call of an operation reaches the fake.
	s := startApp(t, serverEnv(fake, "CACHE_TTL", "0", "RESPONSE_CACHE_TTL", "0"))
	if s.app.cfg.MaxUpstreamCalls != gateway.DefaultMaxUpstreamCalls {
		t.Fatalf("MAX_UPSTREAM_CALLS defaults to %d, the gateway's default is %d", s.app.cfg.MaxUpstreamCalls, gateway.DefaultMaxUpstreamCalls)
	}

	// 100 aliases of last: 0 (a galloping search each): refused, no call.
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		fmt.Fprintf(&b, " a%d: activities(last: 0, filter: {minDate: \"2026-01-01\"}) { nodes { id } }", i)
	}
	b.WriteString(" }")
	r := s.post(t, b.String())
	if r.code() != "UPSTREAM_BUDGET_EXCEEDED" || len(r.Data) != 0 && string(r.Data) != "null" {
		t.Fatalf("100 × last: 0: %d %.400s", r.Status, r.Raw)
	}
	ext := r.Errors[0].Extensions
	if est, _ := ext["estimate"].(float64); est <= 2400 || ext["limit"] != float64(gateway.DefaultMaxUpstreamCalls) {
		t.Errorf("extensions %v: want the estimate (above 2,400) and the limit", ext)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("the refused operation made %d upstream calls", n)
	}
	// A merged channel makes it dearer still.
	if r := s.post(t, `{ activities(last: 5, filter: {channel: LINKEDIN}) { nodes { id } } }`); r.code() != "UPSTREAM_BUDGET_EXCEEDED" {
		t.Errorf("last over a channel's lists: %.300s", r.Raw)
	}

	contact := fake.Tenant(lemlisttest.DefaultTenant).Contacts()[0].ID
	lead := fake.Tenant(lemlisttest.DefaultTenant).Leads()[0].ID
	admitted := map[string]string{
		"dashboard": dashboard,
		"a page of a few connections": `{
  recent: activities(first: 20) { edges { node { id type createdAt campaign { name } lead { email } } } pageInfo { hasNextPage endCursor } }
  replies: activities(first: 10, filter: {type: "emailsReplied"}) { nodes { id createdAt lead { firstName } } }
  email: activities(first: 10, filter: {channel: EMAIL}) { nodes { id type } }
  stats: activityStats(groupBy: [TYPE]) { total partial }
}`,
		"stats of 500 calls": `{ activityStats(groupBy: [CAMPAIGN], filter: {channel: EMAIL}, maxUpstreamCalls: 500) { total partial upstreamCalls } }`,
		"last 20":            `{ activities(last: 20) { nodes { id } pageInfo { hasPreviousPage startCursor } } }`,
		"contact merge":      fmt.Sprintf(`{ contact(id: %q) { fullName campaigns { campaign { name status } } activities(first: 30) { nodes { id lead { email } } } } }`, contact),
		"lead":               fmt.Sprintf(`{ lead(id: %q) { email campaign { status } contact { fullName } activities(last: 3) { nodes { id user { name } } } } }`, lead),
		"nodes":              fmt.Sprintf(`{ nodes(ids: [%q, %q, "usr_x", "cam_x"]) { id ... on Contact { email } } }`, contact, lead),
	}
	for name, q := range admitted {
		before := len(fake.Requests())
		r := s.post(t, q)
		if r.code() != "" {
			t.Errorf("%s: refused %.400s", name, r.Raw)
			continue
		}
		made, est := len(fake.Requests())-before, lastEstimate(t, s)
		if est < 0 || made > est {
			t.Errorf("%s: %d upstream calls, estimated at %d", name, made, est)
		}
		t.Logf("%s: %d calls, estimate %d", name, made, est)
	}

	// MAX_UPSTREAM_CALLS=0 turns the check off.
	off := startApp(t, serverEnv(fake, "MAX_UPSTREAM_CALLS", "0"))
	mustOK(t, off.post(t, `{ activities(last: 5, filter: {channel: LINKEDIN}) { nodes { id } } }`))
}
