// The page's query: a campaign's feed and one lead's card.
import { graphql, useLazyLoadQuery } from 'react-relay';

const query = graphql`
  query AppQuery($campaignId: ID!, $leadId: ID!) {
    campaign(id: $campaignId) {
      ...CampaignActivities_campaign
    }
    lead(id: $leadId) {
      ...LeadCard_lead
    }
  }
`;

export function useApp(campaignId, leadId) {
  return useLazyLoadQuery(query, { campaignId, leadId });
}
