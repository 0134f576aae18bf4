// A lead's card: a refetchable fragment on Lead (refetched through
// Query.node), as useRefetchableFragment uses it.
import { graphql, useRefetchableFragment } from 'react-relay';

const fragment = graphql`
  fragment LeadCard_lead on Lead @refetchable(queryName: "LeadCardRefetchQuery") {
    id
    email
    firstName
    lastName
    campaign {
      id
      name
    }
  }
`;

export function useLeadCard(leadRef) {
  return useRefetchableFragment(fragment, leadRef);
}
