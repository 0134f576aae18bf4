// Pages through filtered connections with a real GraphQL client
// (graphql-request), following pageInfo to the end, and compares what it
// collected with the lemlist fake's own answer, read straight from its REST
// API (GET /activities?version=v2&...&offset=&limit=100, Basic auth): the
// whole filtered list, ids and order, newest first.
//
//   GRAPHQL_URL=http://127.0.0.1:8080/graphql FAKE_URL=http://127.0.0.1:9000/api node paging.mjs
import { GraphQLClient, gql } from 'graphql-request';
import { assertLoopback, authHeaders, need } from './env.mjs';
import { cases, check, checkNodes, compare, fakeActivities } from './fake.mjs';

const graphqlURL = assertLoopback(need('GRAPHQL_URL'));
const client = new GraphQLClient(graphqlURL, { headers: authHeaders() });

// ---------------------------------------------------------------- GraphQL

const fields = gql`
  fragment Page on ActivityConnection {
    edges { cursor node { id type createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
`;

// One query per list shape; each returns the connection at `conn(data)`.
const lists = {
  root: {
    forward: gql`
      query Fwd($first: Int!, $after: String, $filter: ActivityFilter) {
        activities(first: $first, after: $after, filter: $filter) { ...Page }
      }
      ${fields}`,
    backward: gql`
      query Bwd($last: Int!, $before: String, $filter: ActivityFilter) {
        activities(last: $last, before: $before, filter: $filter) { ...Page }
      }
      ${fields}`,
    conn: (d) => d.activities,
  },
  campaign: {
    forward: gql`
      query CampaignFwd($id: ID!, $first: Int!, $after: String, $filter: ActivityFilter) {
        campaign(id: $id) { id activities(first: $first, after: $after, filter: $filter) { ...Page } }
      }
      ${fields}`,
    conn: (d, v) => {
      check(d.campaign?.id === v.id, `campaign(id: "${v.id}") is ${JSON.stringify(d.campaign)}`);
      return d.campaign.activities;
    },
  },
  lead: {
    forward: gql`
      query LeadFwd($id: ID!, $first: Int!, $after: String, $filter: ActivityFilter) {
        lead(id: $id) { id activities(first: $first, after: $after, filter: $filter) { ...Page } }
      }
      ${fields}`,
    conn: (d, v) => {
      check(d.lead?.id === v.id, `lead(id: "${v.id}") is ${JSON.stringify(d.lead)}`);
      return d.lead.activities;
    },
  },
};


/** Follows endCursor while hasNextPage; checks each page's pageInfo. */
async function pageForward(list, vars, size) {
  const ids = [];
  const nodes = [];
  let after = null;
  for (let page = 0; ; page++) {
    check(page < 10000, 'more than 10000 pages: the cursor does not advance');
    const conn = list.conn(await client.request(list.forward, { ...vars, first: size, after }), vars);
    const { edges, pageInfo } = conn;
    check(edges.length <= size, `page ${page}: ${edges.length} edges > first ${size}`);
    if (edges.length) {
      check(pageInfo.startCursor === edges[0].cursor, `page ${page}: startCursor is not the first edge's cursor`);
      check(pageInfo.endCursor === edges.at(-1).cursor, `page ${page}: endCursor is not the last edge's cursor`);
    } else {
      check(pageInfo.startCursor === null && pageInfo.endCursor === null, `page ${page}: empty page with cursors`);
    }
    if (after !== null) check(pageInfo.hasPreviousPage === true, `page ${page}: hasPreviousPage is false after a cursor`);
    for (const e of edges) {
      ids.push(e.node.id);
      nodes.push(e.node);
    }
    if (!pageInfo.hasNextPage) return { ids, nodes, pages: page + 1 };
    check(edges.length === size, `page ${page}: hasNextPage with a short page (${edges.length} of ${size})`);
    after = pageInfo.endCursor;
  }
}

/** Follows startCursor while hasPreviousPage, from the end of the list. */
async function pageBackward(list, vars, size) {
  const pages = [];
  let before = null;
  for (let page = 0; ; page++) {
    check(page < 10000, 'more than 10000 pages: the cursor does not advance');
    const { edges, pageInfo } = list.conn(await client.request(list.backward, { ...vars, last: size, before }), vars);
    check(edges.length <= size, `page ${page}: ${edges.length} edges > last ${size}`);
    if (edges.length) {
      check(pageInfo.startCursor === edges[0].cursor, `page ${page}: startCursor is not the first edge's cursor`);
      check(pageInfo.endCursor === edges.at(-1).cursor, `page ${page}: endCursor is not the last edge's cursor`);
    }
    pages.unshift(edges.map((e) => e.node.id));
    if (!pageInfo.hasPreviousPage) return { ids: pages.flat(), pages: page + 1 };
    check(edges.length === size, `page ${page}: hasPreviousPage with a short page (${edges.length} of ${size})`);
    before = pageInfo.startCursor;
  }
}

// ---------------------------------------------------------------- cases

const { run, finish } = cases('paging', { graphqlURL, fakeURL: process.env.FAKE_URL });

const sent = await fakeActivities({ type: 'emailsSent' });
if (sent.length < 2 * 37) {
  console.error(`the fake has only ${sent.length} emailsSent: use a larger --activities`);
  process.exit(2);
}
const campaignId = sent[0].campaignId;
const leadId = sent[0].leadId;

await run('activities(first: 37, filter: {type: "emailsSent"}) forward to the end', async () => {
  const filter = { type: 'emailsSent' };
  const got = await pageForward(lists.root, { filter }, 37);
  compare('emailsSent', got.ids, sent.map((a) => a._id));
  checkNodes('emailsSent', got.nodes, sent, filter);
  return { count: got.ids.length, pages: got.pages };
});

await run('activities(last: 37, filter: {type: "emailsSent"}) backward to the start', async () => {
  const got = await pageBackward(lists.root, { filter: { type: 'emailsSent' } }, 37);
  compare('emailsSent backward', got.ids, sent.map((a) => a._id));
  return { count: got.ids.length, pages: got.pages };
});

await run(`campaign("${campaignId}").activities(first: 37) forward to the end`, async () => {
  const want = await fakeActivities({ campaignId });
  const got = await pageForward(lists.campaign, { id: campaignId }, 37);
  compare('campaign', got.ids, want.map((a) => a._id));
  checkNodes('campaign', got.nodes, want, {});
  return { count: got.ids.length, pages: got.pages };
});

await run(`campaign("${campaignId}").activities(first: 25, filter: {type: "emailsOpened"}) forward to the end`, async () => {
  const filter = { type: 'emailsOpened' };
  const want = await fakeActivities({ campaignId, ...filter });
  check(want.length > 25, `the fake has only ${want.length} emailsOpened in ${campaignId}: pick another case`);
  const got = await pageForward(lists.campaign, { id: campaignId, filter }, 25);
  compare('campaign emailsOpened', got.ids, want.map((a) => a._id));
  checkNodes('campaign emailsOpened', got.nodes, want, filter);
  return { count: got.ids.length, pages: got.pages };
});

await run(`lead("${leadId}").activities(first: 2) forward to the end`, async () => {
  const want = await fakeActivities({ campaignId, leadId });
  const got = await pageForward(lists.lead, { id: leadId }, 2);
  compare('lead', got.ids, want.map((a) => a._id));
  checkNodes('lead', got.nodes, want, {});
  return { count: got.ids.length, pages: got.pages };
});

finish();
