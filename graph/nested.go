package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
)

// selected reports whether every field selected on the current object
// satisfies has: if so, the parent's data answers the selection and no
// upstream call is needed.
func covered(ctx context.Context, has func(field string) bool) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name != "__typename" && !has(f.Name) {
			return false
		}
	}
	return true
}

// activityLead answers Activity.lead from the activity's snapshot, and
// fetches the lead only when a field of selected is missing from it.
func activityLead(ctx context.Context, a *lemlist.Activity, selected []string) (*model.Lead, error) {
	lead := model.LeadFromSnapshot(a)
	if lead == nil || !needs(selected, lead.Has) {
		return lead, nil
	}
	full, err := loaders.For(ctx).Lead(ctx, lead.ID)
	if errors.Is(err, loaders.ErrNotFound) {
		return lead, nil // deleted upstream: the snapshot is all there is
	}
	if err != nil {
		return nil, fmt.Errorf("load lead %s: %w", lead.ID, err)
	}
	lead.Fill(model.LeadFromLemlist(full))
	return lead, nil
}

// campaignRef answers a campaign known by id (and maybe name), fetching it
// only when the selection needs more.
func campaignRef(ctx context.Context, c *model.Campaign) (*model.Campaign, error) {
	return fillCampaign(ctx, c, c == nil || covered(ctx, c.Has))
}

// fillCampaign fetches campaign c unless it is nil or enough.
func fillCampaign(ctx context.Context, c *model.Campaign, enough bool) (*model.Campaign, error) {
	if c == nil || enough {
		return c, nil
	}
	full, err := loaders.For(ctx).Campaign(ctx, c.ID)
	if errors.Is(err, loaders.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load campaign %s: %w", c.ID, err)
	}
	return model.CampaignFromLemlist(full), nil
}

// contactRef answers a contact known by id, fetching it (batched, 100 per
// call) unless only its id is selected.
func contactRef(ctx context.Context, id string) (*model.Contact, error) {
	return fillContact(ctx, id, id == "" || covered(ctx, idOnly))
}

func idOnly(f string) bool { return f == "id" }

// fillContact answers the contact with id: by id alone when idOnly, else
// fetched (batched, 100 per call).
func fillContact(ctx context.Context, id string, idOnly bool) (*model.Contact, error) {
	if id == "" {
		return nil, nil
	}
	if idOnly {
		return &model.Contact{ID: id}, nil
	}
	c, err := loaders.For(ctx).Contact(ctx, id)
	if errors.Is(err, loaders.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load contact %s: %w", id, err)
	}
	return model.ContactFromLemlist(c), nil
}

// activityUser answers Activity.user from the activity, and reads the team
// (one call per request) only when selected needs more.
func activityUser(ctx context.Context, a *lemlist.Activity, selected []string) (*model.User, error) {
	u := model.UserFromActivity(a)
	if u == nil || !needs(selected, u.Has) {
		return u, nil
	}
	full, err := loaders.For(ctx).User(ctx, u.ID)
	if errors.Is(err, loaders.ErrNotFound) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load team users: %w", err)
	}
	return model.UserFromLemlist(full), nil
}

// nodeSelection is what a query selects under the object fields of one
// GraphQL activity type at one place (edges.node, nodes, a subscription's
// root): the names of the sub-fields of each, nil when it is not selected.
type nodeSelection struct {
	campaign, lead, contact, user []string
}

// selectionOf collects what sel selects under the object fields of
// activities of type typeName, as gqlgen collects them for that type.
func selectionOf(opCtx *graphql.OperationContext, sel ast.SelectionSet, typeName string) *nodeSelection {
	var s nodeSelection
	for _, f := range graphql.CollectFields(opCtx, sel, []string{typeName, "Activity"}) {
		var dst *[]string
		switch f.Name {
		case "campaign":
			dst = &s.campaign
		case "lead":
			dst = &s.lead
		case "contact":
			dst = &s.contact
		case "user":
			dst = &s.user
		default:
			continue
		}
		// Aliases of one field (lead { id } l: lead { jobTitle }) share
		// the activity's answer: it covers them all.
		for _, sub := range graphql.CollectFields(opCtx, f.Selections, objectTypes[f.Name]) {
			*dst = append(*dst, sub.Name)
		}
	}
	return &s
}

// objectTypes are the GraphQL types of an activity's object fields, as
// gqlgen's executor collects their selections.
var objectTypes = map[string][]string{
	"campaign": {"Campaign"}, "lead": {"Lead"}, "contact": {"Contact"}, "user": {"User"},
}

// nodePlan implements model.Nested for the activities of one type at one
// place of one request: it answers from the activity's data when it covers
// the selection, else through the request's loaders (which prefetchNested
// has usually primed).
type nodePlan struct {
	ctx context.Context
	sel *nodeSelection
}

func (p *nodePlan) Campaign(a *lemlist.Activity) (*model.Campaign, error) {
	c := model.CampaignFromActivity(a)
	return fillCampaign(p.ctx, c, c == nil || !needs(p.sel.campaign, c.Has))
}

func (p *nodePlan) Lead(a *lemlist.Activity) (*model.Lead, error) {
	return activityLead(p.ctx, a, p.sel.lead)
}

func (p *nodePlan) Contact(a *lemlist.Activity) (*model.Contact, error) {
	return fillContact(p.ctx, model.ContactIDOf(a), !needs(p.sel.contact, idOnly))
}

func (p *nodePlan) User(a *lemlist.Activity) (*model.User, error) {
	return activityUser(p.ctx, a, p.sel.user)
}

// nodePlans builds, once per activity type, the nodePlans of one place of
// a selection (sel) in one request (ctx). It is not safe for concurrent use.
type nodePlans struct {
	ctx   context.Context
	opCtx *graphql.OperationContext
	sel   ast.SelectionSet
	byTyp map[string]model.Nested
}

func newNodePlans(ctx context.Context, sel ast.SelectionSet) *nodePlans {
	return &nodePlans{ctx: ctx, opCtx: graphql.GetOperationContext(ctx), sel: sel}
}

// For returns the plan of the activities of GraphQL type typeName.
func (ps *nodePlans) For(typeName string) model.Nested {
	if n, ok := ps.byTyp[typeName]; ok {
		return n
	}
	if ps.byTyp == nil {
		ps.byTyp = make(map[string]model.Nested, 4)
	}
	n := &nodePlan{ctx: ps.ctx, sel: selectionOf(ps.opCtx, ps.sel, typeName)}
	ps.byTyp[typeName] = n
	return n
}

// wantsHasNextPage reports whether the connection's selection asks for
// pageInfo.hasNextPage, the only thing that needs a lookahead row.
func wantsHasNextPage(ctx context.Context) bool {
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name != "pageInfo" {
			continue
		}
		for _, sub := range graphql.CollectFields(opCtx, f.Selections, nil) {
			if sub.Name == "hasNextPage" {
				return true
			}
		}
	}
	return false
}

// scope is what a parent imposes on a connection's filter.
type scope struct {
	campaignID, leadID string
	// contact, for Contact.activities, is a loaded contact: the connection
	// merges the lists of its leads.
	contact *model.Contact
}

// connection resolves an activities connection: one upstream list, or the
// merge of several (types, a channel, a contact's leads).
func (r *Resolver) connection(ctx context.Context, args relay.Args, in *model.ActivityFilter, sc scope) (*model.ActivityConnection, error) {
	streams, err := toStreams(in, sc)
	if err != nil {
		return nil, err
	}
	req := &relay.MergeRequest{
		Args:            args,
		Streams:         streams,
		NeedHasNextPage: wantsHasNextPage(ctx),
		DefaultSize:     DefaultPageSize,
		MaxSize:         r.maxPageSize(),
		Concurrency:     r.concurrency(),
	}
	page, err := relay.PaginateMerged(ctx, loaders.For(ctx).Upstream.ListActivities, req)
	if err != nil {
		return nil, err
	}
	prefetchNested(ctx, page.Rows)
	return newConnection(ctx, page), nil
}

// contactActivities answers Contact.activities, loading the contact first
// when only its id is known.
func (r *Resolver) contactActivities(ctx context.Context, args relay.Args, in *model.ActivityFilter, c *model.Contact) (*model.ActivityConnection, error) {
	if c.LeadIDs == nil {
		full, err := loaders.For(ctx).Contact(ctx, c.ID)
		switch {
		case errors.Is(err, loaders.ErrNotFound):
			c = &model.Contact{ID: c.ID, LeadIDs: []string{}} // no leads: an empty list
		case err != nil:
			return nil, fmt.Errorf("load contact %s: %w", c.ID, err)
		default:
			c = model.ContactFromLemlist(full)
		}
	}
	return r.connection(ctx, args, in, scope{contact: c})
}

// newConnection builds the connection of page p. The activities answer
// their object fields for the selection at their place (edges.node or
// nodes); when both places are selected, each gets activities of its own.
func newConnection(ctx context.Context, p *relay.Page) *model.ActivityConnection {
	c := &model.ActivityConnection{
		Edges:    make([]*model.ActivityEdge, len(p.Rows)),
		Nodes:    make([]model.Activity, len(p.Rows)),
		PageInfo: &model.PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage},
	}
	edgeSel, nodesSel := nodePlaces(ctx)
	var plans, nodePlans *nodePlans
	if edgeSel != nil {
		plans = newNodePlans(ctx, edgeSel)
		if nodesSel != nil {
			nodePlans = newNodePlans(ctx, nodesSel)
		}
	} else {
		plans = newNodePlans(ctx, nodesSel)
	}
	for i, row := range p.Rows {
		n := model.NewActivity(row, plans.For)
		c.Edges[i] = &model.ActivityEdge{Cursor: p.Cursors[i], Node: n}
		if nodePlans != nil {
			n = model.NewActivity(row, nodePlans.For)
		}
		c.Nodes[i] = n
	}
	if len(p.Cursors) > 0 {
		c.PageInfo.StartCursor = &p.Cursors[0]
		c.PageInfo.EndCursor = &p.Cursors[len(p.Cursors)-1]
	}
	return c
}

// nodePlaces returns what the current field, a connection, selects under
// edges.node and under nodes; nil where nothing is. It collects fields as
// gqlgen's executor does (same sets, same type conditions), so that the
// request's CollectFields cache answers the executor's own calls.
func nodePlaces(ctx context.Context) (edgeSel, nodesSel ast.SelectionSet) {
	opCtx := graphql.GetOperationContext(ctx)
	var edges, nodes []ast.SelectionSet
	for _, f := range graphql.CollectFields(opCtx, graphql.GetFieldContext(ctx).Field.Selections, []string{"ActivityConnection"}) {
		switch f.Name {
		case "nodes":
			nodes = append(nodes, f.Selections)
		case "edges":
			for _, e := range graphql.CollectFields(opCtx, f.Selections, []string{"ActivityEdge"}) {
				if e.Name == "node" {
					edges = append(edges, e.Selections)
				}
			}
		}
	}
	return joinSelections(edges), joinSelections(nodes)
}

// joinSelections returns the one set of sets as it is, or their union.
func joinSelections(sets []ast.SelectionSet) ast.SelectionSet {
	if len(sets) == 1 {
		return sets[0]
	}
	var out ast.SelectionSet
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	typePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
)

// checkID validates an id argument before it goes upstream.
func checkID(arg, id string) error {
	if !idPattern.MatchString(id) {
		return &activityfilter.InputError{Arg: arg, Msg: "must be a lemlist id such as cam_bSn8EORHQxbWPjHvu"}
	}
	return nil
}

// toFilter validates a GraphQL filter and resolves its aliases: minDate
// wins over startDate and maxDate over endDate, as upstream.
func toFilter(in *model.ActivityFilter, sc scope) (activityfilter.Filter, error) {
	f := activityfilter.Filter{CampaignID: sc.campaignID, LeadID: sc.leadID}
	if in == nil {
		return f, nil
	}
	if err := refuseMirrorConds(in); err != nil {
		return f, err
	}
	if in.Type != nil {
		if !typePattern.MatchString(*in.Type) {
			return f, &activityfilter.InputError{Arg: "filter.type", Msg: "must be a lemlist activity type such as emailsReplied"}
		}
		f.Type = *in.Type
	}
	for _, x := range []struct {
		arg    string
		v      *string
		scoped string
		dst    *string
	}{
		{"filter.campaignId", in.CampaignID, sc.campaignID, &f.CampaignID},
		{"filter.leadId", in.LeadID, sc.leadID, &f.LeadID},
	} {
		if x.v == nil {
			continue
		}
		if err := checkID(x.arg, *x.v); err != nil {
			return f, err
		}
		if x.scoped != "" && x.scoped != *x.v {
			return f, &activityfilter.InputError{Arg: x.arg, Msg: "conflicts with the parent object's id"}
		}
		*x.dst = *x.v
	}
	f.IsFirst = in.IsFirst
	if d := firstDate(in.MinDate, in.StartDate); d != nil {
		f.MinDate = d.Time
	}
	if d := firstDate(in.MaxDate, in.EndDate); d != nil {
		f.MaxDate = d.Time
	}
	return f, nil
}

func firstDate(primary, alias *model.DateInput) *model.DateInput {
	if primary != nil {
		return primary
	}
	return alias
}

// lookup answers a root field by id (Query.lead, campaign, contact): the
// id is checked, then loaded through the request's loaders with load and
// converted with convert; an unknown id is null, without error.
func lookup[U, M any](ctx context.Context, id string, load func(*loaders.Loaders, context.Context, string) (*U, error), convert func(*U) *M) (*M, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	u, err := load(loaders.For(ctx), ctx, id)
	if err != nil {
		return nil, notFoundIsNull(err)
	}
	return convert(u), nil
}

// notFoundIsNull turns "no such id" into a null answer without error.
func notFoundIsNull(err error) error {
	if errors.Is(err, loaders.ErrNotFound) {
		return nil
	}
	return err
}
