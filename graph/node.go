package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
)

// MaxNodes caps Query.nodes' ids.
const MaxNodes = 100

// node answers Query.node: the object id names, chosen by lemlist's id
// prefix and read through the request's loaders. It is nil, without error,
// for a malformed or unknown id, or one lemlist does not find for this API
// key (another team's); upstream failures are errors.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	if checkID("id", id) != nil {
		return nil, nil
	}
	prefix, _, _ := strings.Cut(id, "_")
	switch prefix {
	case "lea":
		return orNil(leadByID(ctx, id))
	case "cam":
		return orNil(campaignByID(ctx, id))
	case "ctc":
		return orNil(contactByID(ctx, id))
	case "usr":
		return orNil(userByID(ctx, id))
	case "act":
		return r.activityByID(ctx, id)
	}
	return nil, nil
}

// nodes answers Query.nodes: node for each id, concurrently, so that the
// loaders batch them. An entry's error is reported at its index and nulls
// only that entry.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > MaxNodes {
		return nil, &activityfilter.InputError{Arg: "ids", Msg: fmt.Sprintf("at most %d ids, got %d", MaxNodes, len(ids))}
	}
	out := make([]model.Node, len(ids))
	path := graphql.GetPath(ctx)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			n, err := r.node(ctx, id)
			if err != nil {
				graphql.AddError(ctx, gqlerror.WrapPath(append(path[:len(path):len(path)], ast.PathIndex(i)), err))
				return
			}
			out[i] = n
		})
	}
	wg.Wait()
	return out, nil
}

// orNil returns v as a Node, and a nil Node (not a Node holding a nil
// pointer) when v is nil.
func orNil[T interface {
	*E
	model.Node
}, E any](v T, err error) (model.Node, error) {
	if v == nil || err != nil {
		return nil, err
	}
	return v, nil
}

// found turns "no such id" into nil, nil and wraps other errors.
func found[T, R any](v *T, err error, what, id string, conv func(*T) *R) (*R, error) {
	switch {
	case errors.Is(err, loaders.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("load %s %s: %w", what, id, err)
	}
	return conv(v), nil
}

// leadByID is the lead with id, or nil if lemlist has none for this key.
func leadByID(ctx context.Context, id string) (*model.Lead, error) {
	l, err := loaders.For(ctx).Lead(ctx, id)
	return found(l, err, "lead", id, model.LeadFromLemlist)
}

// campaignByID is the campaign with id, or nil.
func campaignByID(ctx context.Context, id string) (*model.Campaign, error) {
	c, err := loaders.For(ctx).Campaign(ctx, id)
	return found(c, err, "campaign", id, model.CampaignFromLemlist)
}

// contactByID is the contact with id, or nil; contacts are fetched 100 per
// upstream call.
func contactByID(ctx context.Context, id string) (*model.Contact, error) {
	c, err := loaders.For(ctx).Contact(ctx, id)
	return found(c, err, "contact", id, model.ContactFromLemlist)
}

// userByID is the team member with id, or nil, from the request's one
// GET /team.
func userByID(ctx context.Context, id string) (*model.User, error) {
	u, err := loaders.For(ctx).User(ctx, id)
	return found(u, err, "user", id, model.UserFromLemlist)
}

// activityByID answers node(id: "act_…") from the tenant's mirror, the
// only place that can: lemlist has no GET /activities/{id}. It is null
// when the mirror is off or does not hold the id. The activity's object
// fields are answered as in a connection, for what the query selects under
// node.
func (r *Resolver) activityByID(ctx context.Context, id string) (model.Node, error) {
	e := r.engine(ctx)
	if e == nil {
		return nil, nil
	}
	row, ok, err := e.Get(ctx, id)
	switch {
	case err != nil:
		return nil, fmt.Errorf("find activity %s in the mirror: %w", id, err)
	case !ok:
		return nil, nil
	}
	a, err := feed.DecodeActivity(row.Raw)
	if err != nil {
		return nil, fmt.Errorf("decode mirrored activity %s: %w", id, err)
	}
	plans := newNodePlans(ctx, graphql.GetFieldContext(ctx).Field.Selections)
	return model.NewActivity(a, plans.For), nil
}

// entity answers a federation _entities representation through the same
// lookups as node: a nil entity for an unknown id.
func entity[T any](ctx context.Context, id string, get func(context.Context, string) (*T, error)) (*T, error) {
	if checkID("id", id) != nil {
		return nil, nil
	}
	return get(ctx, id)
}
