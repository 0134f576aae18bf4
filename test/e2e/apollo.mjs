// Apollo Client 4 pages a campaign's activities to the end with
// fetchMore, as an app's "load more" button does: the cache merges the
// pages with relayStylePagination, whose keyArgs include the filter, so
// the unfiltered list and the emailsOpened list of the same campaign live
// side by side in one cache. Each merged list must equal the fake's own.
//
//   GRAPHQL_URL=... FAKE_URL=... E2E_TOKEN=... node apollo.mjs
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { buildSchema } from 'graphql';
import { filter as rxFilter, firstValueFrom, timeout } from 'rxjs';
import { assertLoopback, authHeaders, need, outDir } from './env.mjs';
import { Mismatch, cases, check, checkNodes, compare, fakeActivities, pickCampaign } from './fake.mjs';

const graphqlURL = assertLoopback(need('GRAPHQL_URL'));

// possibleTypes from the served SDL, as apps generate them at build time.
const schema = buildSchema(readFileSync(join(outDir(), 'schema.graphql'), 'utf8'));
const possibleTypes = {};
for (const name of ['Activity', 'Node']) {
  possibleTypes[name] = schema.getPossibleTypes(schema.getType(name)).map((t) => t.name);
}

let requests = 0;
const client = new ApolloClient({
  link: new HttpLink({
    uri: graphqlURL,
    headers: authHeaders(),
    fetch: (url, init) => {
      requests++;
      return fetch(url, init);
    },
  }),
  cache: new InMemoryCache({
    possibleTypes,
    typePolicies: {
      Campaign: { fields: { activities: relayStylePagination(['filter']) } },
    },
  }),
});

const FEED = gql`
  query CampaignFeed($id: ID!, $first: Int!, $after: String, $filter: ActivityFilter) {
    campaign(id: $id) {
      id
      name
      activities(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id type createdAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

/** Pages the campaign's list to the end with fetchMore; returns the merged edges. */
async function pageToEnd(id, filter, first) {
  const obs = client.watchQuery({ query: FEED, variables: { id, first, filter } });
  const sub = obs.subscribe({ error: () => {} });
  try {
    let res = await firstValueFrom(obs.pipe(rxFilter((r) => r.dataState === 'complete' || r.error)));
    check(!res.error, `first page: ${res.error}`);
    let pages = 1;
    while (res.data.campaign.activities.pageInfo.hasNextPage) {
      check(pages < 1000, 'the cursor does not advance');
      const before = res.data.campaign.activities.edges.length;
      // The merged list is emitted once the page is written to the cache,
      // after fetchMore resolves.
      const grown = firstValueFrom(obs.pipe(
        rxFilter((r) => r.dataState === 'complete' && r.data.campaign.activities.edges.length > before),
        timeout({ first: 10_000, with: () => { throw new Mismatch(`page ${pages + 1} added no edges to the cached list in 10 s`); } }),
      ));
      await obs.fetchMore({ variables: { after: res.data.campaign.activities.pageInfo.endCursor } });
      pages++;
      res = await grown;
    }
    return { edges: res.data.campaign.activities.edges, pages };
  } finally {
    sub.unsubscribe();
  }
}

const { run, finish } = cases('apollo', { graphqlURL });
const { campaignId } = await pickCampaign();

// The third run asks again for the emailsOpened list after the unfiltered
// one was paged: the cache answers it whole, without a request.
for (const [filter, first, cached] of [[{ type: 'emailsOpened' }, 10, false], [undefined, 50, false], [{ type: 'emailsOpened' }, 10, true]]) {
  const label = filter ? `filter: {type: "${filter.type}"}` : 'no filter';
  const how = cached ? 'again, from the cache' : 'to the end';
  await run(`Apollo Client relayStylePagination: campaign("${campaignId}").activities(first: ${first}, ${label}) ${how}`, async () => {
    const want = await fakeActivities({ campaignId, ...filter });
    const sent = requests;
    const { edges, pages } = await pageToEnd(campaignId, filter, first);
    const nodes = edges.map((e) => e.node);
    compare('apollo', nodes.map((n) => n.id), want.map((a) => a._id));
    checkNodes('apollo', nodes, want, filter ?? {});
    if (cached) check(requests === sent, `${requests - sent} requests for a cached list`);
    else check(requests - sent === pages, `${requests - sent} requests for ${pages} pages`);
    return { count: nodes.length, pages, requests: requests - sent };
  });
}

await run('the cache holds one list per filter (keyArgs: ["filter"])', async () => {
  const cache = client.cache.extract();
  const campaign = cache[`Campaign:${campaignId}`];
  const keys = Object.keys(campaign).filter((k) => k.startsWith('activities')).sort();
  check(keys.length === 2, `cached lists: ${keys.join(', ')}`);
  check(keys.some((k) => k.includes('emailsOpened')), `no emailsOpened list in ${keys.join(', ')}`);
  return { lists: keys };
});

finish();
