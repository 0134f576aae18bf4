// urql with Graphcache pages a campaign's activities to the end: each
// query with the next cursor returns the merged list, through Graphcache's
// relayPagination resolver, which keeps one list per filter. Each must
// equal the fake's own.
//
//   GRAPHQL_URL=... FAKE_URL=... E2E_TOKEN=... node urql.mjs
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { buildSchema, introspectionFromSchema } from 'graphql';
import { assertLoopback, authHeaders, need, outDir } from './env.mjs';
import { cases, check, checkNodes, compare, fakeActivities, pickCampaign } from './fake.mjs';

const graphqlURL = assertLoopback(need('GRAPHQL_URL'));
// Graphcache is schema-aware with the schema's introspection, built here
// from the served SDL (introspection is off in production).
const schema = introspectionFromSchema(buildSchema(readFileSync(join(outDir(), 'schema.graphql'), 'utf8')));

let requests = 0;
const client = new Client({
  url: graphqlURL,
  fetchOptions: { headers: authHeaders() },
  fetch: (url, init) => {
    requests++;
    return fetch(url, init);
  },
  exchanges: [
    cacheExchange({
      schema,
      keys: { ActivityConnection: () => null, ActivityEdge: () => null, PageInfo: () => null },
      resolvers: { Campaign: { activities: relayPagination() } },
    }),
    fetchExchange,
  ],
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

/** Queries page after page; the last result is the merged list. */
async function pageToEnd(id, filter, first) {
  let after = null;
  let before = 0;
  for (let pages = 1; ; pages++) {
    check(pages <= 1000, 'the cursor does not advance');
    const res = await client.query(FEED, { id, first, after, filter }, { requestPolicy: 'network-only' }).toPromise();
    check(!res.error, `page ${pages}: ${res.error}`);
    const conn = res.data.campaign.activities;
    check(conn.edges.length > before, `page ${pages} added no edges to the merged list (${conn.edges.length})`);
    before = conn.edges.length;
    if (!conn.pageInfo.hasNextPage) return { edges: conn.edges, pages };
    after = conn.pageInfo.endCursor;
  }
}

const { run, finish } = cases('urql', { graphqlURL });
const { campaignId } = await pickCampaign();

for (const [filter, first] of [[{ type: 'emailsOpened' }, 10], [undefined, 50]]) {
  const label = filter ? `filter: {type: "${filter.type}"}` : 'no filter';
  await run(`urql Graphcache relayPagination: campaign("${campaignId}").activities(first: ${first}, ${label}) to the end`, async () => {
    const want = await fakeActivities({ campaignId, ...filter });
    const sent = requests;
    const { edges, pages } = await pageToEnd(campaignId, filter, first);
    const nodes = edges.map((e) => e.node);
    compare('urql', nodes.map((n) => n.id), want.map((a) => a._id));
    checkNodes('urql', nodes, want, filter ?? {});
    check(requests - sent === pages, `${requests - sent} requests for ${pages} pages`);
    return { count: nodes.length, pages };
  });
}

await run('the emailsOpened list is still whole after paging the unfiltered one', async () => {
  const want = await fakeActivities({ campaignId, type: 'emailsOpened' });
  const sent = requests;
  const res = await client.query(FEED, { id: campaignId, first: 10, after: null, filter: { type: 'emailsOpened' } }, { requestPolicy: 'cache-only' }).toPromise();
  check(requests === sent, 'cache-only made a request');
  compare('urql cached', res.data.campaign.activities.edges.map((e) => e.node.id), want.map((a) => a._id));
});

finish();
