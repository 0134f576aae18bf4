// Shared settings of the e2e scripts, from the environment that run.sh sets.
//
//   GRAPHQL_URL  the GraphQL endpoint, e.g. http://127.0.0.1:PORT/graphql
//   E2E_TOKEN    bearer token to send, when the server requires one (optional)
//   FAKE_URL     the lemlist fake's API root, e.g. http://127.0.0.1:PORT/api
//   FAKE_KEY     the fake's API key (default test-key)
//   E2E_OUT      directory for reports and screenshots (default ./out)
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set (test/e2e/run.sh sets it)`);
    process.exit(2);
  }
  return v;
}

export const graphqlURL = () => need('GRAPHQL_URL');

/** Only loopback traffic is allowed in these tests. */
export function assertLoopback(u) {
  const host = new URL(u).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
    console.error(`refusing non-loopback URL ${u}`);
    process.exit(2);
  }
  return u;
}

/** Headers every GraphQL request carries: the bearer token, when set. */
export function authHeaders() {
  const t = process.env.E2E_TOKEN;
  return t ? { authorization: `Bearer ${t}` } : {};
}

export function outDir() {
  const d = resolve(process.env.E2E_OUT || join(here, 'out'));
  mkdirSync(d, { recursive: true });
  return d;
}
