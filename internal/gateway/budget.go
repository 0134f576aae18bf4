package gateway

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// DefaultMaxUpstreamCalls is the most upstream calls a query may be
// estimated at (MAX_UPSTREAM_CALLS). An estimate is a worst case: a
// dashboard's page of 100 activities with their campaign, lead, contact
// and user costs about 200 (a lookup per row, where rows usually share a
// few campaigns and carry their lead), a page of 500 about 1,000, an
// activityStats its maxUpstreamCalls (500 at most); 100 aliases of
// activities(last: 0), whose galloping probes make about 2,400 calls on a
// real team, are estimated at 5,600. (lemlist allows a key 20 calls per
// 2 s: a request's 15 s see about 150.)
const DefaultMaxUpstreamCalls = 2000

// upstreamBudget prices each query before it runs (graph.
// EstimateUpstreamCalls: probes for last, one list per merged type or
// lead, stats scans, nested connections and lookups) and refuses one
// priced above limit with UPSTREAM_BUDGET_EXCEEDED, whose extensions give
// the estimate and the limit, before any upstream call. An admitted one
// runs over an upstream that refuses any call beyond its estimate
// (budgeted, set up by tenantScope), so that it never makes more.
// Subscriptions are not priced, and get no budget: each event runs its
// nested lookups over fresh loaders (graph.Subscriptions), for as long as
// the subscription lasts.
type upstreamBudget struct{ limit, maxPage int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = upstreamBudget{}

// budgetKey names an operation's estimate among its Stats extensions.
const budgetKey = "lemlist-graphql:upstreamEstimate"

// ExtensionName implements graphql.HandlerExtension.
func (upstreamBudget) ExtensionName() string { return "UpstreamBudget" }

// Validate implements graphql.HandlerExtension.
func (upstreamBudget) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (b upstreamBudget) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return nil // a budget of 0 would refuse every event's lookups
	}
	est := graph.EstimateUpstreamCalls(oc, b.maxPage)
	if ri := infoFrom(ctx); ri != nil {
		ri.setEstimate(est)
	}
	if est > b.limit {
		err := &graph.UpstreamBudgetError{Estimate: est, Limit: b.limit}
		return &gqlerror.Error{Message: err.Error(), Err: err} // the presenter adds the code and extensions
	}
	oc.Stats.SetExtension(budgetKey, &budget{estimate: est, limit: b.limit})
	return nil
}

// budget is an admitted operation's allowance of upstream calls.
type budget struct {
	estimate, limit int
	calls           atomic.Int64

	mu     sync.Mutex
	failed map[string]error // lookups that failed, by kind and id
}

// budgetFrom returns the budget upstreamBudget gave oc, nil for none.
func budgetFrom(oc *graphql.OperationContext) *budget {
	b, _ := oc.Stats.GetExtension(budgetKey).(*budget)
	return b
}

// budgeted is an operation's view of its tenant's upstream that makes at
// most its budget's estimate of calls: any further call fails with an
// *graph.UpstreamBudgetError (UPSTREAM_BUDGET_EXCEEDED) without being
// made. Lookups the upstream cache answers count too: the estimate bounds
// them all.
//
// The estimate counts a lookup once per row, but the loaders do not keep
// failures: a lookup that failed (lemlist down) is made again by every
// field that needs it. Beyond the estimate, such a repeat gets the
// lookup's own error again, without a call, rather than the budget's: the
// operation's answer then says what failed.
type budgeted struct {
	up upstream.Upstream
	b  *budget
}

// take takes one call from the budget for the lookups of keys; beyond it,
// it returns the error of keys' failed lookup if they all failed, or the
// budget's error.
func (u budgeted) take(keys ...string) error {
	if u.b.calls.Add(1) <= int64(u.b.estimate) {
		return nil
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	var err error
	for _, k := range keys {
		if err = u.b.failed[k]; err == nil {
			break
		}
	}
	if err == nil {
		err = &graph.UpstreamBudgetError{Estimate: u.b.estimate, Limit: u.b.limit, Stopped: true}
	}
	return err
}

// fail notes that the lookups of keys failed with err (not found is an
// answer, and is cached by the loaders).
func (u budgeted) fail(err error, keys ...string) {
	if err == nil || lemlist.IsNotFound(err) {
		return
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if u.b.failed == nil {
		u.b.failed = map[string]error{}
	}
	for _, k := range keys {
		u.b.failed[k] = err
	}
}

// ListActivities, GetLead, GetContacts, GetCampaign and GetTeam implement
// upstream.Upstream, each taking a call from the budget first.
func (u budgeted) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	if err := u.take(); err != nil {
		return nil, err
	}
	return u.up.ListActivities(ctx, o)
}

func (u budgeted) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	if err := u.take("lead:" + id); err != nil {
		return nil, err
	}
	l, err := u.up.GetLead(ctx, id)
	u.fail(err, "lead:"+id)
	return l, err
}

func (u budgeted) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = "contact:" + id
	}
	if err := u.take(keys...); err != nil {
		return nil, err
	}
	cs, err := u.up.GetContacts(ctx, ids)
	u.fail(err, keys...)
	return cs, err
}

func (u budgeted) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	if err := u.take("campaign:" + id); err != nil {
		return nil, err
	}
	c, err := u.up.GetCampaign(ctx, id)
	u.fail(err, "campaign:"+id)
	return c, err
}

func (u budgeted) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	if err := u.take("team"); err != nil {
		return nil, err
	}
	t, err := u.up.GetTeam(ctx)
	u.fail(err, "team")
	return t, err
}
