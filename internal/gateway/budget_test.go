package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

// An admitted operation's upstream refuses the calls beyond its estimate,
// without making them, with UPSTREAM_BUDGET_EXCEEDED.
func TestBudgetedStopsAtEstimate(t *testing.T) {
	t.Parallel()
	rec := &callerUpstream{Upstream: fakeUpstream(t)}
	u := budgeted{up: rec, b: &budget{estimate: 2, limit: 100}}
	for i := range 2 {
		if _, err := u.ListActivities(t.Context(), &lemlist.ActivityListOptions{Limit: 1}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := u.GetTeam(t.Context())
	be, ok := errors.AsType[*graph.UpstreamBudgetError](err)
	if !ok || !be.Stopped || be.Estimate != 2 {
		t.Fatalf("the third call: %v, want an UpstreamBudgetError", err)
	}
	if n := len(rec.calls()); n != 2 {
		t.Errorf("%d calls reached the upstream, want 2", n)
	}
	if g := graph.ErrorPresenter(nil)(t.Context(), fmt.Errorf("load team: %w", err)); g.Extensions["code"] != graph.CodeUpstreamBudgetExceeded || g.Extensions["estimate"] != 2 {
		t.Errorf("presented as %v", g.Extensions)
	}
}

// Queries get a budget; subscriptions none, since their events' lookups
// are not priced and a budget of 0 would refuse them all (the graph
// package's TestLiveFeedEventsGetFreshLoaders runs such lookups).
func TestBudgetOnlyForQueries(t *testing.T) {
	t.Parallel()
	for _, op := range []ast.Operation{ast.Query, ast.Subscription} {
		oc := &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: op}}
		if err := (upstreamBudget{limit: 10}).MutateOperationContext(t.Context(), oc); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if got, want := budgetFrom(oc) != nil, op == ast.Query; got != want {
			t.Errorf("%s: has a budget %v, want %v", op, got, want)
		}
	}
}

// callerUpstream records the rate limiter's caller key and the type
// filter of each call.
type callerUpstream struct {
	upstream.Upstream
	mu  sync.Mutex
	got []string
}

func (c *callerUpstream) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	c.mu.Lock()
	c.got = append(c.got, o.Type+" "+lemlist.CallerOf(ctx))
	c.mu.Unlock()
	return c.Upstream.ListActivities(ctx, o)
}

func (c *callerUpstream) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// The rate limiter shares slots between clients, not operations: every
// operation of one token, or of one pass-through key, runs under the same
// caller key, another token's under another (issue 13, item 4).
func TestCallerPerClient(t *testing.T) {
	t.Parallel()
	rec := &callerUpstream{Upstream: fakeUpstream(t)}
	g, err := New(Options{Auth: TokenAuth(&Tenant{Upstream: rec, ID: "srv"}, []string{"tok-one-1234567890", "tok-two-1234567890"}),
		RequestTimeout: time.Minute, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	post := func(h http.Handler, auth, typ string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ activities(first: 1, filter: {type: \"`+typ+`\"}) { nodes { id } } }"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "errors") {
			t.Fatalf("%s: %d %s", typ, w.Code, w.Body.String())
		}
	}
	post(g.Handler(), "Bearer tok-one-1234567890", "emailsSent")
	post(g.Handler(), "Bearer tok-one-1234567890", "emailsOpened")
	post(g.Handler(), "Bearer tok-two-1234567890", "emailsReplied")
	want := []string{"emailsSent token:1", "emailsOpened token:1", "emailsReplied token:2"}
	if got := rec.calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v", got, want)
	}

	// Pass-through: the tenant is the client, whatever the operation.
	pool := fakePool(t)
	pt, err := New(Options{Auth: PassthroughAuth(pool), RequestTimeout: time.Minute, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tn, aerr := PassthroughAuth(pool).authenticate("Bearer " + lemlisttest.DefaultAPIKey)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if c := tn.caller(); c != "tenant:"+upstream.TenantID(lemlisttest.DefaultAPIKey) {
		t.Errorf("a pass-through tenant's caller %q", c)
	}
	post(pt.Handler(), "Bearer "+lemlisttest.DefaultAPIKey, "emailsSent")
	if c := OpenAuth(&Tenant{}).(openAuth).t.caller(); c != "open" {
		t.Errorf("the open tenant's caller %q", c)
	}
}

// failingCampaigns answers every campaign lookup with lemlist's 503.
type failingCampaigns struct{ callerUpstream }

func (f *failingCampaigns) GetCampaign(context.Context, string) (*lemlist.Campaign, error) {
	f.mu.Lock()
	f.got = append(f.got, "campaign")
	f.mu.Unlock()
	return nil, &lemlist.ErrorResponse{StatusCode: http.StatusServiceUnavailable, Message: "down"}
}

// Beyond the estimate, a lookup that failed before (which the loaders make
// again for every field needing it) gets its own error again, without a
// call; a new one gets the budget's.
func TestBudgetedRepeatsFailures(t *testing.T) {
	t.Parallel()
	up := &failingCampaigns{callerUpstream{Upstream: fakeUpstream(t)}}
	u := budgeted{up: up, b: &budget{estimate: 2, limit: 100}}
	for range 2 {
		if _, err := u.GetCampaign(t.Context(), "cam_x"); !errors.As(err, new(*lemlist.ErrorResponse)) {
			t.Fatalf("within the estimate: %v", err)
		}
	}
	_, err := u.GetCampaign(t.Context(), "cam_x")
	if e, ok := errors.AsType[*lemlist.ErrorResponse](err); !ok || e.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a failed lookup again, beyond the estimate: %v, want its 503", err)
	}
	if _, err := u.GetCampaign(t.Context(), "cam_y"); !errors.As(err, new(*graph.UpstreamBudgetError)) {
		t.Errorf("a new lookup beyond the estimate: %v, want the budget's error", err)
	}
	if n := len(up.calls()); n != 2 {
		t.Errorf("%d calls made, want 2", n)
	}
}
