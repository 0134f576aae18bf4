package graph_test

// Upstream faults, end to end (issue 5): each test runs the GraphQL handler
// over the lemlisttest fake, injects a fault, and checks the error code,
// the retries the fake saw, partial data where only a nested field failed,
// that the server keeps serving, and that no goroutine leaks.
//
// These tests do not call t.Parallel: goleak compares the goroutines at
// the end of a test with those at its start, which only means something
// when nothing else runs meanwhile. (The parallel tests of e2e_test.go are
// paused while sequential tests run.)

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/fastrows"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// checkLeaks fails t if goroutines started during the test outlive it. Call
// it first: its cleanup then runs last, after the fake and the HTTP
// transport are closed.
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// faultOpts shape a faultEnv. Zero values take the defaults in parentheses.
type faultOpts struct {
	activities int                 // activities in the fake (300)
	fakeRate   int                 // the fake's limit per 2 s (off)
	clientRate int                 // the client limiter's limit per 2 s (off)
	deadline   time.Duration       // the request deadline (5 s)
	retry      lemlist.RetryPolicy // (4 attempts, 1–5 ms backoff)
	attempt    time.Duration       // the client's per-attempt timeout (its default)
}

// faultEnv is an env whose client has its own HTTP transport (closed at
// the end, so keep-alive connections do not outlive the test) and whose
// upstream can be swapped, e.g. for one that is down.
type faultEnv struct {
	*env
	deadline time.Duration
	hc       *http.Client
	opts     []lemlist.Option
	up       atomic.Pointer[upstream.Upstream]
	normal   upstream.Upstream
}

func newFaultEnv(t *testing.T, o faultOpts) *faultEnv {
	t.Helper()
	if o.activities == 0 {
		o.activities = 300
	}
	if o.deadline == 0 {
		o.deadline = 5 * time.Second
	}
	if o.retry == (lemlist.RetryPolicy{}) {
		o.retry = lemlist.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	}
	fakeRate := lemlisttest.NoRateLimit
	if o.fakeRate > 0 {
		fakeRate = o.fakeRate
	}
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit:  fakeRate,
		RateWindow: 2 * time.Second,
		Dataset:    lemlisttest.DatasetOptions{Seed: 7, Activities: o.activities},
	})
	t.Cleanup(fake.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections) // runs before fake.Close
	fe := &faultEnv{deadline: o.deadline, hc: &http.Client{Transport: gateway.UpstreamTransport(tr)}}
	fe.opts = []lemlist.Option{
		lemlist.WithHTTPClient(fe.hc),
		lemlist.WithRetry(o.retry),
		lemlist.WithRateLimit(o.clientRate, 2*time.Second),
	}
	if o.attempt > 0 {
		fe.opts = append(fe.opts, lemlist.WithTimeout(o.attempt))
	}
	tenant := fake.Tenant(lemlisttest.DefaultTenant)
	fe.normal = upstream.Client(tenant.Client(fe.opts...))
	fe.up.Store(&fe.normal)

	h := graphServer(t, stackOptions{up: swappable{&fe.up}, rows: fastrows.New(), deadline: o.deadline,
		loaders: loaders.Options{Wait: 20 * time.Millisecond}})
	fe.env = &env{c: client.New(h, client.Path("/graphql")), fake: fake, t: tenant}
	return fe
}

// swappable is the upstream p points to at each call.
type swappable struct {
	p *atomic.Pointer[upstream.Upstream]
}

func (s swappable) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	return (*s.p.Load()).ListActivities(ctx, o)
}

func (s swappable) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	return (*s.p.Load()).GetLead(ctx, id)
}

func (s swappable) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	return (*s.p.Load()).GetContacts(ctx, ids)
}

func (s swappable) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	return (*s.p.Load()).GetCampaign(ctx, id)
}

func (s swappable) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	return (*s.p.Load()).GetTeam(ctx)
}

// timedDo runs a query and returns its errors and how long it took.
func (e *faultEnv) timedDo(t *testing.T, query string, data any) ([]gqlError, time.Duration) {
	t.Helper()
	start := time.Now()
	errs := e.do(t, query, nil, data)
	return errs, time.Since(start)
}

const firstFive = `{ activities(first: 5) { nodes { id } } }`

// idsData is the answer to firstFive.
type idsData struct {
	Activities struct{ Nodes []struct{ ID string } }
}

// stillServes checks that, the faults gone, a normal query answers what
// the fake holds.
func (e *faultEnv) stillServes(t *testing.T) {
	t.Helper()
	e.fake.ClearFaults()
	var data idsData
	e.mustDo(t, firstFive, nil, &data)
	want := e.expected(t, url.Values{})[:5]
	var got []string
	for _, n := range data.Activities.Nodes {
		got = append(got, n.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after the fault, ids differ (-want +got):\n%s", diff)
	}
}

// oneError checks that errs is a single error with code on the root field
// activities, and returns it.
func oneError(t *testing.T, errs []gqlError, code string) gqlError {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("got %d errors %+v, want one %s", len(errs), errs, code)
	}
	if got := errs[0].Extensions["code"]; got != code {
		t.Fatalf("code %v (%s), want %s", got, errs[0].Message, code)
	}
	if len(errs[0].Path) != 1 || errs[0].Path[0] != "activities" {
		t.Fatalf("path %v, want [activities]", errs[0].Path)
	}
	return errs[0]
}

// activityCalls returns the fake's /activities requests, in arrival order.
func (e *faultEnv) activityCalls() []lemlisttest.Request {
	var out []lemlisttest.Request
	for _, r := range e.fake.Requests() {
		if r.Path == "/activities" {
			out = append(out, r)
		}
	}
	return out
}

func statuses(rs []lemlisttest.Request) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

// waitForRequests waits until the fake has logged n requests to path: a
// request the client gave up on is logged only once its handler returns.
func (e *faultEnv) waitForRequests(t *testing.T, path string, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); e.fake.CountRequests(path) < n; {
		if time.Now().After(end) {
			t.Fatalf("%d requests to %s logged, want %d", e.fake.CountRequests(path), path, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFault429StormHonoursRetryAfter(t *testing.T) {
	checkLeaks(t)
	// The client limiter is on, as in production: a 429 pauses it too.
	e := newFaultEnv(t, faultOpts{clientRate: lemlist.DefaultRateLimit})
	e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: http.StatusTooManyRequests, RetryAfter: "0.2"}, 3)
	var data idsData
	e.mustDo(t, firstFive, nil, &data)
	if len(data.Activities.Nodes) != 5 {
		t.Fatalf("got %d nodes, want 5", len(data.Activities.Nodes))
	}
	calls := e.activityCalls()
	if diff := cmp.Diff([]int{429, 429, 429, 200}, statuses(calls)); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	for i := 1; i < len(calls); i++ {
		// The client reads Retry-After after the 429 arrived, so the gap
		// between arrivals is at least the 200 ms it asked for.
		if gap := calls[i].Time.Sub(calls[i-1].Time); gap < 200*time.Millisecond {
			t.Errorf("retry %d came %v after the 429, want >= 200ms", i, gap)
		}
	}
	e.stillServes(t)
}

func TestFaultRateBudgetIsNeverExceeded(t *testing.T) {
	checkLeaks(t)
	// The client limiter on, at lemlist's 20 per 2 s: 40 concurrent queries
	// of one upstream call each fill two windows. The first burst opens 20
	// new connections, so its requests reach lemlist spread over a few
	// milliseconds; the second, granted a window later on warm connections,
	// must not reach it before the first burst's late arrivals have left
	// lemlist's window.
	for _, tc := range []struct {
		name     string
		fakeRate int
	}{
		{"lemlist enforcing the limit", lemlist.DefaultRateLimit},
		{"lemlist only counting", 0}, // MaxInWindow then measures the client alone
	} {
		t.Run(tc.name, func(t *testing.T) {
			const queries = 40
			e := newFaultEnv(t, faultOpts{
				fakeRate:   tc.fakeRate,
				clientRate: lemlist.DefaultRateLimit,
				deadline:   15 * time.Second,
			})
			var wg sync.WaitGroup
			errs := make([]string, queries)
			for i := range queries {
				wg.Go(func() {
					q := firstFive
					if i%2 == 1 {
						q = `{ activities(first: 3, filter: {type: "emailsOpened"}) { nodes { id } } }`
					}
					resp, err := e.c.RawPost(q)
					switch {
					case err != nil:
						errs[i] = err.Error()
					case len(resp.Errors) > 0:
						errs[i] = string(resp.Errors)
					}
				})
			}
			wg.Wait()
			for i, er := range errs {
				if er != "" {
					t.Errorf("query %d: %s", i, er)
				}
			}
			if got := e.t.MaxInWindow(); got > lemlist.DefaultRateLimit {
				t.Errorf("lemlist saw %d requests in one window, want <= %d", got, lemlist.DefaultRateLimit)
			}
			reqs := e.fake.Requests()
			for _, r := range reqs {
				if r.Status == http.StatusTooManyRequests {
					t.Errorf("a request was refused with 429 at %v", r.Time)
				}
			}
			if len(reqs) != queries {
				t.Errorf("%d upstream calls for %d queries", len(reqs), queries)
			}
		})
	}
}

func TestFaultRateLimitedWhenRetryAfterPassesDeadline(t *testing.T) {
	checkLeaks(t)
	const deadline = time.Second
	t.Run("without a client limiter", func(t *testing.T) {
		e := newFaultEnv(t, faultOpts{deadline: deadline})
		e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 429, RetryAfter: "3"}, 1)
		errs, took := e.timedDo(t, firstFive, nil)
		er := oneError(t, errs, graph.CodeRateLimited)
		if er.Extensions["retryAfter"] != float64(3) {
			t.Errorf("retryAfter %v, want 3", er.Extensions["retryAfter"])
		}
		// A wait past the deadline is not even started.
		if took >= deadline {
			t.Errorf("took %v, want an answer before the %v deadline", took, deadline)
		}
		if n := e.fake.CountRequests("/activities"); n != 1 {
			t.Errorf("%d activity calls, want 1 (no retry)", n)
		}
		e.stillServes(t)
	})
	t.Run("with a client limiter", func(t *testing.T) {
		e := newFaultEnv(t, faultOpts{deadline: deadline, clientRate: lemlist.DefaultRateLimit})
		e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 429, RetryAfter: "1.5"}, 1)
		oneError(t, e.do(t, firstFive, nil, nil), graph.CodeRateLimited)
		// The 429 paused the limiter: the next query is refused at once,
		// without a request, and told how long is left.
		e.fake.ResetRequests()
		er := oneError(t, e.do(t, firstFive, nil, nil), graph.CodeRateLimited)
		ra, _ := er.Extensions["retryAfter"].(float64)
		if ra <= 0 || ra > 1.5 {
			t.Errorf("retryAfter %v, want in (0, 1.5]", er.Extensions["retryAfter"])
		}
		if n := len(e.fake.Requests()); n != 0 {
			t.Errorf("%d upstream calls while the limiter is paused", n)
		}
		time.Sleep(time.Duration(ra * float64(time.Second)))
		e.stillServes(t)
	})
}

func TestFault5xxBursts(t *testing.T) {
	checkLeaks(t)
	e := newFaultEnv(t, faultOpts{})
	// A short burst is absorbed by retries.
	e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 503}, 2)
	e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 500, Body: `{"error":"boom"}`}, 1)
	var data idsData
	e.mustDo(t, firstFive, nil, &data)
	if len(data.Activities.Nodes) != 5 {
		t.Fatalf("got %d nodes, want 5", len(data.Activities.Nodes))
	}
	if diff := cmp.Diff([]int{503, 503, 500, 200}, statuses(e.activityCalls())); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	// A longer one outlasts them.
	e.fake.ResetRequests()
	e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Status: 502}, 10)
	er := oneError(t, e.do(t, firstFive, nil, nil), graph.CodeUpstreamUnavailable)
	if !strings.Contains(er.Message, "unavailable") {
		t.Errorf("message %q", er.Message)
	}
	if diff := cmp.Diff([]int{502, 502, 502, 502}, statuses(e.activityCalls())); diff != "" {
		t.Errorf("want MaxAttempts tries (-want +got):\n%s", diff)
	}
	e.stillServes(t)
}

func TestFaultSlowUpstream(t *testing.T) {
	checkLeaks(t)
	t.Run("the request deadline holds", func(t *testing.T) {
		const deadline = 500 * time.Millisecond
		e := newFaultEnv(t, faultOpts{deadline: deadline})
		e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Latency: time.Minute}, 10)
		errs, took := e.timedDo(t, firstFive, nil)
		er := oneError(t, errs, graph.CodeUpstreamUnavailable)
		if !strings.Contains(er.Message, "in time") {
			t.Errorf("message %q", er.Message)
		}
		if took < deadline || took > deadline+2*time.Second {
			t.Errorf("took %v, want about the %v deadline", took, deadline)
		}
		e.stillServes(t)
	})
	t.Run("a slow attempt is retried", func(t *testing.T) {
		e := newFaultEnv(t, faultOpts{attempt: 200 * time.Millisecond})
		e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Latency: time.Minute}, 1)
		var data idsData
		e.mustDo(t, firstFive, nil, &data)
		if len(data.Activities.Nodes) != 5 {
			t.Fatalf("got %d nodes, want 5", len(data.Activities.Nodes))
		}
		e.waitForRequests(t, "/activities", 2)
		e.stillServes(t)
	})
}

func TestFaultBadBodies(t *testing.T) {
	checkLeaks(t)
	e := newFaultEnv(t, faultOpts{})
	// One truncated body is retried once.
	e.fake.InjectFault(lemlisttest.Fault{Path: "/activities", Truncate: true}, 1)
	var data idsData
	e.mustDo(t, firstFive, nil, &data)
	if len(data.Activities.Nodes) != 5 {
		t.Fatalf("got %d nodes, want 5", len(data.Activities.Nodes))
	}
	if n := e.fake.CountRequests("/activities"); n != 2 {
		t.Errorf("%d activity calls after one truncated body, want 2", n)
	}
	for _, tc := range []struct {
		name  string
		fault lemlisttest.Fault
		calls int
	}{
		{"persistent truncation: one retry only", lemlisttest.Fault{Truncate: true}, 2},
		{"HTML 200: no retry", lemlisttest.Fault{HTML200: true}, 1},
		{"wrong shape: no retry", lemlisttest.Fault{Body: `{"activities":[]}`}, 1},
	} {
		e.fake.ResetRequests()
		tc.fault.Path = "/activities"
		e.fake.InjectFault(tc.fault, 10)
		er := oneError(t, e.do(t, firstFive, nil, nil), graph.CodeUpstreamUnavailable)
		if !strings.Contains(er.Message, "could not be read") {
			t.Errorf("%s: message %q", tc.name, er.Message)
		}
		if n := e.fake.CountRequests("/activities"); n != tc.calls {
			t.Errorf("%s: %d activity calls, want %d", tc.name, n, tc.calls)
		}
		e.stillServes(t)
	}
}

func TestFaultUpstreamDown(t *testing.T) {
	checkLeaks(t)
	e := newFaultEnv(t, faultOpts{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more: connection refused
	down, err := lemlist.NewClient(lemlisttest.DefaultAPIKey,
		append([]lemlist.Option{lemlist.WithBaseURL("http://" + addr + "/api")}, e.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	up := upstream.Client(down)
	e.up.Store(&up)
	errs, took := e.timedDo(t, firstFive, nil)
	er := oneError(t, errs, graph.CodeUpstreamUnavailable)
	if !strings.Contains(er.Message, "unreachable") {
		t.Errorf("message %q", er.Message)
	}
	if strings.Contains(er.Message, addr) {
		t.Errorf("message %q leaks the upstream address", er.Message)
	}
	if took > 2*time.Second {
		t.Errorf("took %v to give up on a refused connection", took)
	}
	// lemlist is back.
	e.up.Store(&e.normal)
	e.stillServes(t)
}

// nestedNode is an activity with every nested object, each null or not.
type nestedNode struct {
	ID       string
	Campaign *struct{ Status *string }
	Lead     *struct{ CompanyDomain, EmailStatus *string }
	Contact  *struct{ FullName string }
	User     *struct{ Role *string }
}

func (n nestedNode) field(name string) bool {
	switch name {
	case "campaign":
		return n.Campaign != nil
	case "lead":
		return n.Lead != nil
	case "contact":
		return n.Contact != nil
	case "user":
		return n.User != nil
	}
	panic(name)
}

func TestFaultNestedGivesPartialData(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name  string
		fault lemlisttest.Fault
		field string // the nested field that fails
		sel   string // a selection on it that needs an upstream call
		code  string
		slow  bool // the fault is latency: bound the request by 500ms
	}{
		{"campaigns 503", lemlisttest.Fault{Path: "/campaigns/", Status: 503}, "campaign", "status", graph.CodeUpstreamUnavailable, false},
		{"leads truncated", lemlisttest.Fault{Path: "/leads", Truncate: true}, "lead", "companyDomain emailStatus", graph.CodeUpstreamUnavailable, false},
		{"contacts HTML", lemlisttest.Fault{Path: "/contacts", HTML200: true}, "contact", "fullName", graph.CodeUpstreamUnavailable, false},
		{"team 429", lemlisttest.Fault{Path: "/team", Status: 429, RetryAfter: "30"}, "user", "role", graph.CodeRateLimited, false},
		{"leads 500", lemlisttest.Fault{Path: "/leads", Status: 500}, "lead", "companyDomain emailStatus", graph.CodeUpstreamUnavailable, false},
		{"campaigns slow", lemlisttest.Fault{Path: "/campaigns/", Latency: time.Minute}, "campaign", "status", graph.CodeUpstreamUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := faultOpts{}
			if tc.slow {
				o.deadline = 500 * time.Millisecond
			}
			e := newFaultEnv(t, o)
			e.fake.InjectFault(tc.fault, 1000)
			q := fmt.Sprintf(`{ activities(first: 30) { nodes { id %s { %s } } } }`, tc.field, tc.sel)
			var data struct{ Activities struct{ Nodes []nestedNode } }
			errs, took := e.timedDo(t, q, &data)
			if tc.slow && took > o.deadline+2*time.Second {
				t.Errorf("took %v, want about the %v deadline", took, o.deadline)
			}
			want := e.expected(t, url.Values{})[:30]
			var got []string
			for _, n := range data.Activities.Nodes {
				got = append(got, n.ID)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("activities differ (-want +got):\n%s", diff)
			}
			if len(errs) == 0 {
				t.Fatal("no error for the failed lookups")
			}
			for _, er := range errs {
				if code := er.Extensions["code"]; code != tc.code {
					t.Errorf("code %v (%s), want %s", er.Extensions["code"], er.Message, tc.code)
				}
				if len(er.Path) != 4 || er.Path[0] != "activities" || er.Path[1] != "nodes" || er.Path[3] != tc.field {
					t.Errorf("path %v, want activities.nodes.N.%s", er.Path, tc.field)
					continue
				}
				i, ok := er.Path[2].(float64)
				if !ok || int(i) < 0 || int(i) >= len(data.Activities.Nodes) {
					t.Errorf("path %v: bad index", er.Path)
					continue
				}
				if data.Activities.Nodes[int(i)].field(tc.field) {
					t.Errorf("node %d: %s is not null despite the error", int(i), tc.field)
				}
			}
			if n := e.fake.CountRequests("/activities"); n != 1 {
				t.Errorf("%d activity calls, want 1", n)
			}
			e.stillServes(t)
		})
	}
}
