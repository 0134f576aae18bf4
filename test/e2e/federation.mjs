// Apollo Federation: the server as a subgraph of a real gateway. A second,
// tiny subgraph ("scores", @apollo/subgraph in this process) extends Lead
// with a field of its own and points at a lead. Apollo Gateway composes
// both with IntrospectAndCompose, which reads each subgraph's
// `_service { sdl }` (ours from PROD_GRAPHQL_URL: introspection off, the
// bearer token sent as a client would), and serves the supergraph. One
// operation then reads fields of both subgraphs, in both directions:
// lead(id:) from us extended with score, and the scores subgraph's
// featuredLead resolved by our _entities. The answers must equal the
// fake's lead and the scores subgraph's own.
//
//   PROD_GRAPHQL_URL=... FAKE_URL=... E2E_TOKEN=... node federation.mjs
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { assertLoopback, authHeaders, need, outDir } from './env.mjs';
import { cases, check, fakeGet, pickCampaign } from './fake.mjs';

const subgraphURL = assertLoopback(need('PROD_GRAPHQL_URL'));
const listen = { host: '127.0.0.1', port: 0 };

/** The scores subgraph's own answer for a lead. */
const scoreOf = (id) => [...id].reduce((s, c) => (s * 31 + c.charCodeAt(0)) % 1000, 7);

const { run, finish } = cases('federation', { subgraphURL });
const { campaignId, leadId } = await pickCampaign();
const lead = await fakeGet('/leads', { id: leadId });

const scores = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
      "A lead of the lemlist subgraph, scored here."
      type Lead @key(fields: "id") {
        id: ID!
        "The lead's score, computed by this subgraph."
        score: Int!
      }
      type Query {
        "The lead this subgraph features."
        featuredLead: Lead
      }
    `),
    resolvers: {
      Lead: {
        __resolveReference: (ref) => ({ id: ref.id }),
        score: (l) => scoreOf(l.id),
      },
      Query: { featuredLead: () => ({ __typename: 'Lead', id: leadId }) },
    },
  }),
});
const stops = [];
let gatewayURL;

try {
  await run('Apollo Gateway composes our subgraph with a second one (IntrospectAndCompose, _service { sdl })', async () => {
    const { url: scoresURL } = await startStandaloneServer(scores, { listen });
    stops.push(() => scores.stop());
    let supergraph = '';
    const gateway = new ApolloGateway({
      supergraphSdl: new IntrospectAndCompose({
        subgraphs: [
          { name: 'lemlist', url: subgraphURL },
          { name: 'scores', url: scoresURL },
        ],
      }),
      buildService: ({ name, url }) => new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request }) {
          if (name === 'lemlist') {
            for (const [k, v] of Object.entries(authHeaders())) request.http.headers.set(k, v);
          }
        },
      }),
    });
    gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
      supergraph = coreSupergraphSdl;
    });
    const server = new ApolloServer({ gateway });
    const started = await startStandaloneServer(server, { listen });
    stops.unshift(() => server.stop());
    gatewayURL = started.url;
    writeFileSync(join(outDir(), 'supergraph.graphql'), supergraph);
    check(/type Lead\b[^{]*@join__type\(graph: LEMLIST, key: "id"\)[^{]*@join__type\(graph: SCORES, key: "id"\)/.test(supergraph),
      'the supergraph does not join Lead from both subgraphs (out/supergraph.graphql)');
    return { supergraphBytes: supergraph.length };
  });

  async function viaGateway(query, variables) {
    check(gatewayURL, 'no gateway');
    const res = await fetch(gatewayURL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    check(res.ok && !body.errors, `gateway: HTTP ${res.status} ${JSON.stringify(body.errors)}`);
    return body.data;
  }

  const wantLead = { id: leadId, email: lead.email, firstName: lead.firstName ?? null, score: scoreOf(leadId) };

  await run(`one operation reads lead("${leadId}") from us and its score from the scores subgraph`, async () => {
    const data = await viaGateway(`query LeadWithScore($id: ID!) {
      lead(id: $id) { id email firstName score campaign { id } }
      featuredLead { id score email firstName campaign { id } }
    }`, { id: leadId });
    const want = { ...wantLead, campaign: { id: lead.campaignId } };
    check(JSON.stringify(data.lead) === JSON.stringify(want), `lead ${JSON.stringify(data.lead)}, want ${JSON.stringify(want)}`);
    // featuredLead comes from the scores subgraph; email and firstName
    // from our _entities.
    check(JSON.stringify(data.featuredLead) === JSON.stringify({ id: leadId, score: wantLead.score, email: wantLead.email, firstName: wantLead.firstName, campaign: want.campaign }),
      `featuredLead ${JSON.stringify(data.featuredLead)}`);
  });

  await run('node and nodes through the gateway, with the other subgraph\'s field', async () => {
    const data = await viaGateway(`query Nodes($ids: [ID!]!, $id: ID!) {
      nodes(ids: $ids) { __typename id ... on Lead { score email } ... on Campaign { name } }
      node(id: $id) { id ... on Lead { score } }
    }`, { ids: [leadId, campaignId, 'lea_nobody'], id: leadId });
    check(data.nodes.length === 3 && data.nodes[2] === null, `nodes ${JSON.stringify(data.nodes)}`);
    check(data.nodes[0].__typename === 'Lead' && data.nodes[0].score === wantLead.score && data.nodes[0].email === wantLead.email, `nodes[0] ${JSON.stringify(data.nodes[0])}`);
    check(data.nodes[1].__typename === 'Campaign' && data.nodes[1].id === campaignId, `nodes[1] ${JSON.stringify(data.nodes[1])}`);
    check(data.node?.score === wantLead.score, `node ${JSON.stringify(data.node)}`);
  });
} finally {
  for (const stop of stops) await stop().catch(() => {});
}

finish();
