package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
)

// activityTypes are every GraphQL type an Activity node can be, from the
// schema, so that fields selected in any inline fragment are seen.
var activityTypes = sync.OnceValue(func() []string {
	s := NewExecutableSchema(Config{}).Schema()
	out := []string{"Activity"}
	for _, t := range s.GetPossibleTypes(s.Types["Activity"]) {
		out = append(out, t.Name)
	}
	return out
})

// prefetchNested looks at what a connection's nodes select and loads, in
// one go, what their nested fields will need: the contacts, leads and
// campaigns the activities' own data cannot answer. Field resolvers then
// answer from the loaders' caches, so batches are as large as the upstream
// allows however the resolvers are scheduled.
func prefetchNested(ctx context.Context, rows []*lemlist.Activity) {
	if len(rows) == 0 {
		return
	}
	opCtx := graphql.GetOperationContext(ctx)
	var nodeFields []graphql.CollectedField
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "nodes":
			nodeFields = append(nodeFields, graphql.CollectFields(opCtx, f.Selections, activityTypes())...)
		case "edges":
			for _, e := range graphql.CollectFields(opCtx, f.Selections, nil) {
				if e.Name == "node" {
					nodeFields = append(nodeFields, graphql.CollectFields(opCtx, e.Selections, activityTypes())...)
				}
			}
		}
	}
	var contact, lead, campaign []string // selected sub-fields
	for _, f := range nodeFields {
		sub := graphql.CollectFields(opCtx, f.Selections, nil)
		for _, s := range sub {
			switch f.Name {
			case "contact":
				contact = append(contact, s.Name)
			case "lead":
				lead = append(lead, s.Name)
			case "campaign":
				campaign = append(campaign, s.Name)
			}
		}
	}
	l := loaders.For(ctx)
	var contactIDs, leadIDs, campaignIDs []string
	seen := map[string]bool{}
	add := func(ids *[]string, id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			*ids = append(*ids, id)
		}
	}
	for _, a := range rows {
		if needs(contact, func(f string) bool { return f == "id" }) {
			add(&contactIDs, model.ContactIDOf(a))
		}
		if ld := model.LeadFromSnapshot(a); ld != nil && needs(lead, ld.Has) {
			add(&leadIDs, ld.ID)
		}
		if c := model.CampaignFromActivity(a); c != nil && needs(campaign, c.Has) {
			add(&campaignIDs, c.ID)
		}
	}
	l.Preload(ctx, contactIDs, leadIDs, campaignIDs)
}

// needs reports whether a selection has a field that has does not cover.
func needs(selected []string, has func(string) bool) bool {
	for _, f := range selected {
		if f != "__typename" && !has(f) {
			return true
		}
	}
	return false
}
