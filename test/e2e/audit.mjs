// GraphQL over HTTP conformance: runs graphql-http's server audits against
// GRAPHQL_URL (or the first argument), prints every result that is not ok,
// writes out/audit.json and out/audit.md, and exits 1 when a MUST audit
// ("error") or a SHOULD audit ("warn") fails: the server passes all of them
// (docs/compliance.md), so a failure is a regression. MAY ("notice")
// failures are reported, not fatal.
//
//   GRAPHQL_URL=http://127.0.0.1:8080/graphql node audit.mjs
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditServer } from 'graphql-http';
import { assertLoopback, authHeaders, outDir } from './env.mjs';

const url = assertLoopback(process.argv[2] || process.env.GRAPHQL_URL || 'http://127.0.0.1:8080/graphql');
const extra = authHeaders();

// The audits use global fetch; add the bearer token (if any) to each request
// without touching the headers an audit sets on purpose.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(extra)) if (!headers.has(k)) headers.set(k, v);
  return fetch(input, { ...init, headers });
};

const started = Date.now();
const results = await auditServer({ url, fetchFn });
const ms = Date.now() - started;

const levelOf = (r) => r.name.split(' ', 1)[0]; // MUST, SHOULD or MAY
const tally = { ok: 0, notice: 0, warn: 0, error: 0 };
const byLevel = {};
const failures = [];
for (const r of results) {
  tally[r.status]++;
  const lvl = levelOf(r);
  byLevel[lvl] ??= { total: 0, ok: 0, failed: 0 };
  byLevel[lvl].total++;
  byLevel[lvl][r.status === 'ok' ? 'ok' : 'failed']++;
  if (r.status !== 'ok') {
    failures.push({
      id: r.id,
      level: lvl,
      status: r.status,
      name: r.name,
      reason: r.reason,
      httpStatus: r.response?.status,
      contentType: r.response?.headers?.get('content-type') ?? null,
    });
  }
}

for (const f of failures) {
  console.log(`${f.status.padEnd(6)} ${f.id} ${f.name}\n       -> ${f.reason} (HTTP ${f.httpStatus}, ${f.contentType})`);
}
console.log(`audit of ${url}: ${results.length} audits in ${ms} ms`);
console.log('tally', JSON.stringify(tally));
console.log('by level', JSON.stringify(byLevel));

const out = outDir();
const report = {
  url,
  tool: 'graphql-http auditServer',
  date: new Date().toISOString(),
  durationMs: ms,
  tally,
  byLevel,
  failures,
  results: results.map((r) => ({ id: r.id, level: levelOf(r), status: r.status, name: r.name, reason: r.reason ?? null })),
};
writeFileSync(join(out, 'audit.json'), JSON.stringify(report, null, 2) + '\n');

const md = [
  `# graphql-http audit`,
  ``,
  `${results.length} audits against ${url} (${ms} ms).`,
  ``,
  `| Level | Audits | ok | failed |`,
  `|---|---|---|---|`,
  ...['MUST', 'SHOULD', 'MAY'].map((l) => `| ${l} | ${byLevel[l]?.total ?? 0} | ${byLevel[l]?.ok ?? 0} | ${byLevel[l]?.failed ?? 0} |`),
  ``,
  `Statuses: ${Object.entries(tally).map(([k, v]) => `${k} ${v}`).join(', ')} (error = MUST failed, warn = SHOULD failed, notice = MAY failed).`,
  ``,
  `## Not ok`,
  ``,
  failures.length ? `| Status | Id | Audit | Reason | HTTP |` : 'None.',
  ...(failures.length ? [`|---|---|---|---|---|`] : []),
  ...failures.map((f) => `| ${f.status} | ${f.id} | ${f.name.replace(/\|/g, '\\|')} | ${String(f.reason).replace(/\|/g, '\\|')} | ${f.httpStatus} ${f.contentType ?? ''} |`),
  ``,
  `## SHOULD and MAY audits`,
  ``,
  `| Status | Id | Audit |`,
  `|---|---|---|`,
  ...results.filter((r) => levelOf(r) !== 'MUST').map((r) => `| ${r.status} | ${r.id} | ${r.name.replace(/\|/g, '\\|')} |`),
  ``,
];
writeFileSync(join(out, 'audit.md'), md.join('\n'));
console.log(`wrote ${join(out, 'audit.json')} and audit.md`);

if (tally.error > 0 || tally.warn > 0) {
  console.error(`FAIL: ${tally.error} MUST and ${tally.warn} SHOULD audit(s) failed`);
  process.exit(1);
}
