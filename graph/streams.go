package graph

import (
	"fmt"
	"slices"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
)

// MaxFilterTypes caps the length of filter.types.
const MaxFilterTypes = 20

// filterTypes resolves a filter's type, types and channel into the types
// whose upstream lists make the connection: nil means no type condition
// (one list), and none reports that no type can match (an empty list,
// which needs no call). type and types together are refused rather than
// merged: one of them would silently widen or narrow the other.
func filterTypes(in *model.ActivityFilter) (types []string, none bool, err error) {
	if in == nil {
		return nil, false, nil
	}
	switch {
	case in.Type != nil && in.Types != nil:
		return nil, false, &activityfilter.InputError{Arg: "filter.types", Msg: "give type or types, not both"}
	case in.Types != nil:
		if len(in.Types) == 0 {
			return nil, false, &activityfilter.InputError{Arg: "filter.types", Msg: "must not be empty"}
		}
		if len(in.Types) > MaxFilterTypes {
			return nil, false, &activityfilter.InputError{Arg: "filter.types", Msg: fmt.Sprintf("at most %d types, got %d", MaxFilterTypes, len(in.Types))}
		}
		for _, t := range in.Types {
			if !typePattern.MatchString(t) {
				return nil, false, &activityfilter.InputError{Arg: "filter.types", Msg: "each must be a lemlist activity type such as emailsReplied"}
			}
		}
		types = slices.Compact(slices.Sorted(slices.Values(in.Types)))
	case in.Type != nil:
		types = []string{*in.Type} // checked by toFilter
	}
	if in.Channel == nil {
		return types, false, nil
	}
	ch := *in.Channel
	known := model.TypesOf(ch)
	if len(known) == 0 {
		return nil, false, &activityfilter.InputError{Arg: "filter.channel", Msg: string(ch) + " has no known types: filter by type instead"}
	}
	if types == nil {
		return known, false, nil
	}
	types = slices.DeleteFunc(types, func(t string) bool { return model.ChannelOf(t) != ch })
	return types, len(types) == 0, nil
}

// toStreams validates a filter within a parent's scope and returns the
// upstream lists it selects: one list, several to merge (types, a
// channel, a contact's leads), or none when nothing can match. Its date
// and stream-count checks are Filter.Validate and relay.CheckStreams,
// which relay's plans call too: a connection with no list and
// activityStats' Scanner reach no plan.
func toStreams(in *model.ActivityFilter, sc scope) ([]activityfilter.Filter, error) {
	f, err := toFilter(in, sc)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	types, none, err := filterTypes(in)
	if err != nil || none {
		return nil, err
	}
	var leads []string
	if c := sc.contact; c != nil {
		leads = c.LeadIDsIn(f.CampaignID)
		if f.LeadID != "" {
			if !slices.Contains(c.LeadIDs, f.LeadID) {
				return nil, &activityfilter.InputError{Arg: "filter.leadId", Msg: "is not one of the contact's leads"}
			}
			if !slices.Contains(leads, f.LeadID) {
				return nil, nil // a lead of another campaign than filter.campaignId
			}
			leads = []string{f.LeadID}
		}
		if len(leads) == 0 {
			return nil, nil
		}
	}
	if types != nil {
		f.Type = ""
	}
	streams := relay.Streams(f, types, leads)
	if err := relay.CheckStreams(streams); err != nil {
		return nil, err
	}
	return streams, nil
}
