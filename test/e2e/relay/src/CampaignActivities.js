// A campaign's activity feed, as a Relay app writes it: a refetchable
// fragment (Relay refetches it through Query.node) with a @connection on
// the campaign's activities, paginated by usePaginationFragment. The
// filter is a connection filter: each filter has its own list in Relay's
// store.
import { graphql, usePaginationFragment } from 'react-relay';

const fragment = graphql`
  fragment CampaignActivities_campaign on Campaign
  @refetchable(queryName: "CampaignActivitiesPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 25 }
    cursor: { type: "String" }
    filter: { type: "ActivityFilter" }
  ) {
    id
    name
    status
    activities(first: $count, after: $cursor, filter: $filter)
      @connection(key: "CampaignActivities_activities", filters: ["filter"]) {
      edges {
        node {
          id
          type
          createdAt
          ... on EmailActivity {
            sequenceStep
          }
          lead {
            ...LeadCard_lead
          }
        }
      }
    }
  }
`;

export function useCampaignActivities(campaignRef) {
  return usePaginationFragment(fragment, campaignRef);
}
