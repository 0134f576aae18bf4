// relay-compiler (the npm package's native binary) compiles the fixture
// app in relay/ against the SDL the server serves (out/schema.graphql,
// from schema.mjs): a @refetchable fragment on Campaign with a
// @connection on its activities, and one on Lead, both refetched through
// Query.node. It persists the operations (persistConfig) to
// out/relay-persisted.json, the manifest trusted documents accept, and
// then runs the queries Relay generated, from that manifest, against the
// server: the pagination query pages a campaign's activities to the end
// through node(id:), which must equal the fake's list.
//
//   GRAPHQL_URL=... FAKE_URL=... E2E_TOKEN=... node relay.mjs
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertLoopback, authHeaders, need, outDir } from './env.mjs';
import { cases, check, compare, fakeActivities, fakeGet, pickCampaign } from './fake.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const graphqlURL = assertLoopback(need('GRAPHQL_URL'));
const schema = join(outDir(), 'schema.graphql');
const persisted = join(outDir(), 'relay-persisted.json');
const { run, finish } = cases('relay', { graphqlURL });

async function gql(query, variables) {
  const res = await fetch(graphqlURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  check(res.ok && !body.errors, `HTTP ${res.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

let docs = {}; // operation name -> text, from the persisted manifest

await run('relay-compiler compiles the fixture against the served schema', async () => {
  check(existsSync(schema), `${schema} is missing: schema.mjs runs first`);
  const app = mkdtempSync(join(process.env.E2E_TMP || tmpdir(), 'e2e-relay-'));
  cpSync(join(here, 'relay', 'src'), join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'relay.config.json'), JSON.stringify({
    src: './src',
    schema,
    language: 'javascript',
    persistConfig: { file: persisted, algorithm: 'SHA256' },
  }, null, 2));
  writeFileSync(persisted, '{}\n'); // relay-compiler adds to the file, which must exist
  const bin = join(here, 'node_modules', '.bin', 'relay-compiler');
  const r = spawnSync(bin, ['--output', 'verbose'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  const log = `${r.stdout}\n${r.stderr}`;
  writeFileSync(join(outDir(), 'relay-compiler.log'), log);
  check(r.status === 0, `relay-compiler exited ${r.status ?? r.signal}:\n${log}`);
  const generated = readdirSync(join(app, 'src', '__generated__')).sort();
  for (const f of ['AppQuery.graphql.js', 'CampaignActivitiesPaginationQuery.graphql.js', 'CampaignActivities_campaign.graphql.js',
    'LeadCardRefetchQuery.graphql.js', 'LeadCard_lead.graphql.js']) {
    check(generated.includes(f), `relay-compiler did not write ${f} (wrote ${generated.join(', ')})`);
  }
  const manifest = JSON.parse(readFileSync(persisted, 'utf8'));
  for (const [id, text] of Object.entries(manifest)) {
    check(/^[0-9a-f]{64}$/.test(id), `persisted id ${id} is not a SHA-256`);
    const name = /^(?:query|mutation|subscription) (\w+)/m.exec(text)?.[1];
    check(name, `persisted document ${id} has no operation name`);
    docs[name] = text;
  }
  const names = Object.keys(docs).sort().join(', ');
  check(names === 'AppQuery, CampaignActivitiesPaginationQuery, LeadCardRefetchQuery', `persisted operations: ${names}`);
  return { artifacts: generated.length, persisted: Object.keys(manifest).length };
});

const { campaignId, leadId } = await pickCampaign();

await run(`Relay's pagination query pages campaign("${campaignId}") emailsOpened to the end through node(id:)`, async () => {
  check(docs.CampaignActivitiesPaginationQuery, 'no pagination query');
  const filter = { type: 'emailsOpened' };
  const want = (await fakeActivities({ campaignId, ...filter })).map((a) => a._id);
  const ids = [];
  let cursor = null;
  let pages = 0;
  for (;;) {
    check(pages++ < 1000, 'the cursor does not advance');
    const { node } = await gql(docs.CampaignActivitiesPaginationQuery, { id: campaignId, count: 10, cursor, filter });
    check(node?.__typename === 'Campaign' && node.id === campaignId, `node(id: ${campaignId}) = ${JSON.stringify(node)?.slice(0, 200)}`);
    const { edges, pageInfo } = node.activities;
    ids.push(...edges.map((e) => e.node.id));
    if (!pageInfo.hasNextPage) break;
    cursor = pageInfo.endCursor;
  }
  compare('relay pagination', ids, want);
  return { count: ids.length, pages };
});

await run(`Relay's refetch query answers node("${leadId}") as the fake's lead`, async () => {
  const { node } = await gql(docs.LeadCardRefetchQuery, { id: leadId });
  const lead = await fakeGet('/leads', { id: leadId });
  check(node?.__typename === 'Lead' && node.id === leadId, `node = ${JSON.stringify(node)}`);
  check(node.email === lead.email && node.firstName === (lead.firstName ?? null), `lead ${JSON.stringify(node)}, the fake has ${JSON.stringify(lead)}`);
  check(node.campaign?.id === lead.campaignId, `campaign ${JSON.stringify(node.campaign)}, the fake says ${lead.campaignId}`);
});

await run('AppQuery runs as generated', async () => {
  const data = await gql(docs.AppQuery, { campaignId, leadId });
  check(data.campaign?.id === campaignId && data.campaign.activities.edges.length === 25, `campaign: ${JSON.stringify(data.campaign)?.slice(0, 200)}`);
  check(data.lead?.id === leadId, `lead: ${JSON.stringify(data.lead)}`);
});

finish();
