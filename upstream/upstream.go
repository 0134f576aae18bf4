// Package upstream is what the GraphQL layer needs from lemlist, behind one
// interface: the calls themselves (over a *lemlist.Client), and the layers
// that wrap them per tenant.
package upstream

import (
	"context"

	"github.com/lemlist-graphql/server/lemlist"
)

// Upstream is what the GraphQL layer needs from lemlist. Client adapts a
// *lemlist.Client; Cached wraps any Upstream.
type Upstream interface {
	// ListActivities returns one page of activities.
	ListActivities(ctx context.Context, opts *lemlist.ActivityListOptions) ([]*lemlist.Activity, error)
	// GetLead returns a lead by id.
	GetLead(ctx context.Context, id string) (*lemlist.Lead, error)
	// GetContacts returns the contacts with the given ids (at most 100);
	// missing ids are absent from the result.
	GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error)
	// GetCampaign returns a campaign by id.
	GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error)
	// GetTeam returns the team and its users.
	GetTeam(ctx context.Context) (*lemlist.Team, error)
}

// Client adapts a *lemlist.Client to Upstream.
func Client(c *lemlist.Client) Upstream { return clientUpstream{c} }

type clientUpstream struct{ c *lemlist.Client }

func (u clientUpstream) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	rows, _, err := u.c.Activities.List(ctx, o)
	return rows, err
}

func (u clientUpstream) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	l, _, err := u.c.Leads.Get(ctx, id)
	return l, err
}

func (u clientUpstream) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	cs, _, err := u.c.Contacts.GetMany(ctx, ids)
	return cs, err
}

func (u clientUpstream) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	c, _, err := u.c.Campaigns.Get(ctx, id)
	return c, err
}

func (u clientUpstream) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	t, _, err := u.c.Team.Get(ctx)
	return t, err
}

// ListUncached returns up's ListActivities bypassing its cache (NoCache):
// the same client, hence the same per-key rate limiter, as up's other
// calls. It is the list function of a mirror's sync (mirror.ListFunc),
// which needs lemlist's current answers and would only fill the cache with
// pages nobody asks for again.
func ListUncached(up Upstream) func(context.Context, *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	return func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
		return up.ListActivities(NoCache(ctx), o)
	}
}
