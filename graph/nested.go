package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
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
// fetches the lead only when a selected field is missing from it.
func activityLead(ctx context.Context, a model.Activity) (*model.Lead, error) {
	lead := model.LeadFromSnapshot(a.Source())
	if lead == nil || covered(ctx, lead.Has) {
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
	if c == nil || covered(ctx, c.Has) {
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
	if id == "" {
		return nil, nil
	}
	if covered(ctx, func(f string) bool { return f == "id" }) {
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
// (one call per request) only when the selection needs more.
func activityUser(ctx context.Context, a model.Activity) (*model.User, error) {
	u := model.UserFromActivity(a.Source())
	if u == nil || covered(ctx, u.Has) {
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
	return newConnection(page), nil
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

func newConnection(p *relay.Page) *model.ActivityConnection {
	c := &model.ActivityConnection{
		Edges:    make([]*model.ActivityEdge, len(p.Rows)),
		Nodes:    make([]model.Activity, len(p.Rows)),
		PageInfo: &model.PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage},
	}
	for i, row := range p.Rows {
		n := model.FromLemlist(row)
		c.Nodes[i] = n
		c.Edges[i] = &model.ActivityEdge{Cursor: p.Cursors[i], Node: n}
	}
	if len(p.Cursors) > 0 {
		c.PageInfo.StartCursor = &p.Cursors[0]
		c.PageInfo.EndCursor = &p.Cursors[len(p.Cursors)-1]
	}
	return c
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	typePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
)

// checkID validates an id argument before it goes upstream.
func checkID(arg, id string) error {
	if !idPattern.MatchString(id) {
		return &relay.InputError{Arg: arg, Msg: "must be a lemlist id such as cam_bSn8EORHQxbWPjHvu"}
	}
	return nil
}

// toFilter validates a GraphQL filter and resolves its aliases: minDate
// wins over startDate and maxDate over endDate, as upstream.
func toFilter(in *model.ActivityFilter, sc scope) (relay.Filter, error) {
	f := relay.Filter{CampaignID: sc.campaignID, LeadID: sc.leadID}
	if in == nil {
		return f, nil
	}
	if in.Type != nil {
		if !typePattern.MatchString(*in.Type) {
			return f, &relay.InputError{Arg: "filter.type", Msg: "must be a lemlist activity type such as emailsReplied"}
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
			return f, &relay.InputError{Arg: x.arg, Msg: "conflicts with the parent object's id"}
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

// activityContact answers Activity.contact.
func activityContact(ctx context.Context, a model.Activity) (*model.Contact, error) {
	return contactRef(ctx, contactIDOf(a.Source()))
}

// lookupLead answers Query.lead.
func lookupLead(ctx context.Context, id string) (*model.Lead, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	l, err := loaders.For(ctx).Lead(ctx, id)
	if err != nil {
		return nil, notFoundIsNull(err)
	}
	return model.LeadFromLemlist(l), nil
}

// lookupCampaign answers Query.campaign.
func lookupCampaign(ctx context.Context, id string) (*model.Campaign, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	c, err := loaders.For(ctx).Campaign(ctx, id)
	if err != nil {
		return nil, notFoundIsNull(err)
	}
	return model.CampaignFromLemlist(c), nil
}

// lookupContact answers Query.contact.
func lookupContact(ctx context.Context, id string) (*model.Contact, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	c, err := loaders.For(ctx).Contact(ctx, id)
	if err != nil {
		return nil, notFoundIsNull(err)
	}
	return model.ContactFromLemlist(c), nil
}

// notFoundIsNull turns "no such id" into a null answer without error.
func notFoundIsNull(err error) error {
	if errors.Is(err, loaders.ErrNotFound) {
		return nil
	}
	return err
}
