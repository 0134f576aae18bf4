// The schema as an artifact: GET /graphql/schema.graphql serves the
// public schema as SDL behind the same auth as /graphql, and it is the
// schema the server runs (compared with introspection, which is on for
// GRAPHQL_URL). On PROD_GRAPHQL_URL, a server with introspection off as
// deployed, the SDL route still answers, __schema is refused and
// `_service { sdl }` (what federation gateways compose from) answers.
// Writes out/schema.graphql for relay.mjs, apollo.mjs and urql.mjs.
//
//   GRAPHQL_URL=... PROD_GRAPHQL_URL=... E2E_TOKEN=... node schema.mjs
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClientSchema, buildSchema, findBreakingChanges, getIntrospectionQuery } from 'graphql';
import { assertLoopback, authHeaders, need, outDir } from './env.mjs';
import { cases, check } from './fake.mjs';

const graphqlURL = assertLoopback(need('GRAPHQL_URL'));
const prodURL = assertLoopback(need('PROD_GRAPHQL_URL'));
const sdlURL = (endpoint) => endpoint + '/schema.graphql';

async function post(url, query) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders() },
    body: JSON.stringify({ query }),
  });
  check(res.ok, `POST ${url}: HTTP ${res.status}`);
  return res.json();
}

async function getSDL(endpoint) {
  const res = await fetch(sdlURL(endpoint), { headers: authHeaders() });
  check(res.status === 200, `GET ${sdlURL(endpoint)}: HTTP ${res.status} (is it mounted?)`);
  check((res.headers.get('content-type') ?? '').startsWith('text/plain'), `content-type ${res.headers.get('content-type')}`);
  return res.text();
}

const { run, finish } = cases('schema', { graphqlURL, prodURL });
let sdl = '';

await run('GET /graphql/schema.graphql needs the same auth as /graphql', async () => {
  const res = await fetch(sdlURL(graphqlURL));
  check(res.status === 401, `without a token: HTTP ${res.status}, want 401`);
  sdl = await getSDL(graphqlURL);
  writeFileSync(join(outDir(), 'schema.graphql'), sdl);
  return { bytes: sdl.length };
});

await run('the SDL is the schema the server runs (introspection)', async () => {
  const served = buildSchema(sdl);
  const { data, errors } = await post(graphqlURL, getIntrospectionQuery());
  check(!errors, `introspection: ${JSON.stringify(errors)}`);
  const live = buildClientSchema(data);
  // Everything the SDL promises, the server has...
  const missing = findBreakingChanges(served, live);
  check(missing.length === 0, `the server lacks what the SDL says: ${missing.map((c) => c.description).join('; ')}`);
  // ...and all it has beyond the SDL is federation's plumbing (types,
  // Query fields and directives; gqlgen's Entity holds the entity
  // resolvers) and gqlgen's @defer, which the SDL leaves out.
  const extra = findBreakingChanges(live, served).map((c) => c.description);
  const plumbing = new RegExp('^(?:(?:Entity|_Service|_Any|_Entity|FieldSet|link__\\w+|federation__\\w+|Query\\._service|Query\\._entities'
    + '|authenticated|composeDirective|computedRequires|entityResolver|extends|external|inaccessible|interfaceObject|key|link|override'
    + '|policy|provides|requires|requiresScopes|shareable|tag|defer) was removed\\.)$');
  const other = extra.filter((d) => !plumbing.test(d));
  check(other.length === 0, `the SDL lacks: ${other.join('; ')}`);
  for (const t of ['Node', 'Lead', 'Campaign']) check(served.getType(t), `no type ${t} in the SDL`);
  return { types: Object.keys(served.getTypeMap()).length, federationOnly: extra.length };
});

await run('with introspection off: the SDL route and _service answer, __schema does not', async () => {
  check((await getSDL(prodURL)) === sdl, 'the two servers serve different SDL');
  const intro = await post(prodURL, '{ __schema { queryType { name } } }');
  check(intro.errors?.length > 0 && !intro.data?.__schema, `__schema answered: ${JSON.stringify(intro)}`);
  const svc = await post(prodURL, '{ _service { sdl } }');
  check(!svc.errors, `_service: ${JSON.stringify(svc.errors)}`);
  check(/type Lead implements Node @key\(fields: "id"\)/.test(svc.data._service.sdl), '_service.sdl has no Lead entity');
  check(/@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2/.test(svc.data._service.sdl), '_service.sdl does not @link federation v2');
});

finish();
