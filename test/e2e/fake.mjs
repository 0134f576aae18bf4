// Helpers shared by the client scripts (paging.mjs, apollo.mjs, urql.mjs,
// relay.mjs, federation.mjs): the lemlist fake's own answers, read
// straight from its REST API, and a small harness of named cases that
// writes out/<name>.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertLoopback, need, outDir } from './env.mjs';

const fakeURL = () => assertLoopback(need('FAKE_URL'));
const fakeKey = () => process.env.FAKE_KEY || 'test-key';

/** GET path below the fake's API root with params, as JSON. */
export async function fakeGet(path, params = {}) {
  const u = new URL(fakeURL() + path);
  u.search = new URLSearchParams(params);
  const res = await fetch(u, { headers: { authorization: 'Basic ' + Buffer.from(':' + fakeKey()).toString('base64') } });
  if (!res.ok) throw new Error(`fake ${u}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Every activity the fake serves for the filter, newest first, unpaged. */
export async function fakeActivities(filter) {
  const all = [];
  for (let offset = 0; ; offset += 100) {
    const page = await fakeGet('/activities', { version: 'v2', ...filter, offset: String(offset), limit: '100' });
    all.push(...page);
    if (page.length < 100) return all;
  }
}

/** A failed expectation: reported without a stack. */
export class Mismatch extends Error {}

export const check = (ok, msg) => {
  if (!ok) throw new Mismatch(msg);
};

/** Checks that got lists the ids of want, in order, without duplicates. */
export function compare(name, got, want) {
  const dups = got.length - new Set(got).size;
  check(dups === 0, `${name}: ${dups} duplicate ids`);
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    check(got[i] === want[i], `${name}: position ${i}: got ${got[i]}, the fake has ${want[i]}`);
  }
  check(got.length === want.length, `${name}: got ${got.length} activities, the fake has ${want.length}`);
}

/** Checks each node's type and createdAt against the fake's rows. */
export function checkNodes(name, nodes, wantRows, filter) {
  const byId = new Map(wantRows.map((r) => [r._id, r]));
  for (const n of nodes) {
    const r = byId.get(n.id);
    check(r, `${name}: ${n.id} is not in the fake's list`);
    if (filter.type) check(n.type === filter.type, `${name}: ${n.id} has type ${n.type}, not ${filter.type}`);
    check(n.type === r.type, `${name}: ${n.id}: type ${n.type}, the fake says ${r.type}`);
    check(Date.parse(n.createdAt) === Date.parse(r.createdAt), `${name}: ${n.id}: createdAt ${n.createdAt}, the fake says ${r.createdAt}`);
  }
}

/**
 * A list of named cases: run(name, fn) runs one (fn returns facts to
 * report, e.g. { count, pages }), finish() writes out/<report>.json and
 * exits 1 if any failed.
 */
export function cases(report, extra = {}) {
  const results = [];
  let failed = 0;
  return {
    async run(name, fn) {
      const t0 = Date.now();
      try {
        const info = (await fn()) ?? {};
        const ms = Date.now() - t0;
        results.push({ name, ok: true, ms, ...info });
        const facts = 'count' in info ? `: ${info.count} activities in ${info.pages} pages` : '';
        console.log(`ok   ${name}${facts}, ${ms} ms`);
      } catch (err) {
        failed++;
        const ms = Date.now() - t0;
        const msg = err instanceof Mismatch ? err.message : (err.stack ?? String(err));
        results.push({ name, ok: false, ms, error: msg });
        console.log(`FAIL ${name}: ${msg}`);
      }
    },
    finish() {
      writeFileSync(join(outDir(), `${report}.json`), JSON.stringify({ ...extra, results }, null, 2) + '\n');
      if (failed) {
        console.error(`FAIL: ${failed} ${report} case(s) failed`);
        process.exit(1);
      }
      console.log(`${report}: ${results.length} cases ok`);
    },
  };
}

/** A campaign and a lead of the fake with enough activities to page. */
export async function pickCampaign(minOpened = 26) {
  const sent = await fakeActivities({ type: 'emailsSent' });
  check(sent.length > 0, 'the fake has no emailsSent');
  const tried = new Set();
  for (const a of sent) {
    if (tried.has(a.campaignId)) continue;
    tried.add(a.campaignId);
    const opened = await fakeActivities({ campaignId: a.campaignId, type: 'emailsOpened' });
    if (opened.length >= minOpened) return { campaignId: a.campaignId, leadId: a.leadId };
  }
  throw new Mismatch(`no campaign of the fake has ${minOpened} emailsOpened: use a larger --activities`);
}
