// Hostile HTTP and websocket input against the real server: authentication, roles, tokens,
// CSRF, path traversal, oversized and malformed input. Everything goes over the network as an
// attacker's client would send it; the in-process handles (ctx, store) are only used to
// check what did or did not happen.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';
import { until } from './helpers/blocks.ts';
import { localPath } from '../server/http/auth.ts';
import { Users, tokenDigest, type Role } from '../server/record/users.ts';
import { CLOSE_REVOKED } from '../server/http/gateway.ts';
import { REVOCATION_POLL_MS, RevocationWatch } from '../server/http/revocation.ts';
import { runStepwise } from './helpers/cli.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/api');
const CANARY = 'CANARY-c4n4ry-outside-the-runbooks';

let s: TestServer;
let wsBase: string;
/** Holds runbooks/ (the server's) and, beside it, files no request may reach. */
let root: string;
const tokens: Record<'admin' | 'operator' | 'operator2' | 'viewer', string> = { admin: '', operator: '', operator2: '', viewer: '' };

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-sec-'));
  const rb = path.join(root, 'runbooks');
  fs.mkdirSync(rb);
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(rb, f));
  // A valid runbook and a secret file outside the runbooks folder: reaching either is a traversal.
  fs.writeFileSync(path.join(root, 'secret-canary.md'), `# ${CANARY}\n\n## Step\n\n\`\`\`sh\necho ${CANARY}\n\`\`\`\n`);
  fs.writeFileSync(path.join(root, 'secret.txt'), CANARY);
  // These tests send wrong tokens on purpose; the throttle has its own attack test (hardening.test.ts).
  s = await startTestServer(rb, undefined, { auth: { throttle: { free: 100_000 } } });
  wsBase = s.base.replace(/^http/, 'ws');
  const make = (user: string, role: Role) => {
    const made = s.ctx.users.createToken(user, role);
    assert.ok(made.ok);
    return made.value.token;
  };
  tokens.admin = make('ada', 'admin');
  tokens.operator = make('olga', 'operator');
  tokens.operator2 = make('oscar', 'operator');
  tokens.viewer = make('vera', 'viewer');
});

after(async () => {
  for (const run of s.ctx.store.listRuns()) if (s.ctx.runs.get(run.id)) await s.api('DELETE', `/api/runs/${run.id}`);
  await s.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

async function get(p: string, headers: Record<string, string> = {}) {
  const res = await fetch(s.base + p, { headers, redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function call(method: string, p: string, token: string, body?: unknown) {
  return s.api(method, p, body, bearer(token));
}

/** A request exactly as written: no URL normalisation of `..` or percent-escapes. */
function raw(p: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(s.base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: p, method: 'GET', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function newRun(token = tokens.operator, body: Record<string, unknown> = { runbook: 'basics' }) {
  const r = await call('POST', '/api/runs', token, body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json as { id: string; terminal: string };
}

/** Signs a cookie session in with `?token=` and returns its cookie and the page's CSRF token. */
async function cookieSession(token: string): Promise<{ cookie: string; csrf: string }> {
  const r = await get(`/?token=${encodeURIComponent(token)}`, { 'sec-fetch-site': 'none' });
  assert.equal(r.status, 303);
  const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  const page = await get('/', { cookie });
  assert.equal(page.status, 200);
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text);
  assert.ok(m, 'the page carries a CSRF token');
  return { cookie, csrf: m[1]! };
}

const clients: TermClient[] = [];
async function wsConnect(url: string, headers: Record<string, string>): Promise<TermClient> {
  const c = await TermClient.connect(url, headers);
  clients.push(c);
  return c;
}

// A failing test must not leave runs or sockets behind for the next one.
afterEach(async () => {
  for (const c of clients.splice(0)) if (!c.closed) c.close();
  for (const id of s.ctx.store.listRuns().map((r) => r.id)) if (s.ctx.runs.get(id)) await s.api('DELETE', `/api/runs/${id}`);
});

// ---- authentication ----

test('no token, a wrong token, a malformed header: 401 on the API, pages and the websocket', async () => {
  const run = await newRun();
  for (const headers of [{}, bearer('nope'), bearer('sw_' + 'A'.repeat(43)), bearer(s.token + 'x'), bearer(s.token.slice(0, -1)), { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, { authorization: 'Bearer' }]) {
    const api = await s.api('GET', '/api/runbooks', undefined, headers as Record<string, string>);
    // s.api adds the right bearer token unless the headers replace it
    if ('authorization' in headers) assert.equal(api.status, 401, JSON.stringify(headers));
    assert.equal((await get('/api/runs', headers as Record<string, string>)).status, 401);
    const page = await get('/', headers as Record<string, string>);
    assert.equal(page.status, 401);
    assert.doesNotMatch(page.text, /API basics/, 'nothing of the catalog before signing in');
    await assert.rejects(wsConnect(wsBase + run.terminal, headers as Record<string, string>), /HTTP 401/);
  }
  // a wrong bearer header is not rescued by a valid session cookie
  const { cookie } = await cookieSession(s.token);
  const wrong = await get('/api/runbooks', { authorization: 'Bearer nope', cookie });
  assert.equal(wrong.status, 401);
  // the API never takes a credential in its URL, not even a valid one
  for (const q of [`token=${s.token}`, `code=${s.ctx.auth.adminSignInCode()}`]) {
    const inUrl = await get(`/api/runbooks?${q}`);
    assert.equal(inUrl.status, 400, q);
    assert.equal(JSON.parse(inUrl.text).error.field, q.split('=')[0]);
  }
  await assert.rejects(wsConnect(`${wsBase}${run.terminal}?token=${s.token}`, {}), /HTTP 400/);
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test('tokens: admin creates, lists and revokes over HTTP; only a digest is stored; a revoked token is refused everywhere', async () => {
  const created = await call('POST', '/api/tokens', tokens.admin, { user: 'temp.user', role: 'operator' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const { token, id } = created.json as { token: string; id: string };
  assert.match(token, /^sw_[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url, sw_ prefix');
  assert.match(id, /^tk_[0-9a-f]{12}$/);

  const listed = await call('GET', '/api/tokens', tokens.admin);
  assert.equal(listed.status, 200);
  const entry = listed.json.tokens.find((t: any) => t.id === id);
  assert.deepEqual([entry.user, entry.role, entry.revokedAt], ['temp.user', 'operator', null]);
  assert.ok(!JSON.stringify(listed.json).includes(token), 'the list never shows a token');
  assert.ok(!JSON.stringify(listed.json).includes('sw_'), 'nor any token');

  // the database holds the sha256 of the token, never the token
  const rows = s.ctx.store.database.prepare('SELECT * FROM tokens').all() as Array<Record<string, unknown>>;
  const dump = JSON.stringify(rows, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
  for (const t of [token, ...Object.values(tokens)]) assert.ok(!dump.includes(t) && !dump.includes(t.slice(3)), 'no token in the database');
  const row = rows.find((r) => r.id === id)!;
  assert.deepEqual(row.digest, crypto.createHash('sha256').update(token).digest());

  // it works, as its user, and is recorded as used
  const me = await call('GET', '/api/me', token);
  assert.deepEqual(me.json, { user: 'temp.user', role: 'operator', tokenId: id });
  assert.ok(s.ctx.users.getToken(id)!.lastUsedAt, 'last use recorded');
  const run = await newRun(token, { runbook: null });
  const t = await wsConnect(wsBase + run.terminal, bearer(token));
  await t.waitEvent('hello');
  t.close();
  const { cookie } = await cookieSession(token);

  // bad requests, and who may manage tokens
  assert.equal((await call('POST', '/api/tokens', tokens.admin, { user: 'a b', role: 'operator' })).status, 400);
  assert.equal((await call('POST', '/api/tokens', tokens.admin, { user: 'x', role: 'root' })).status, 400);
  assert.equal((await call('POST', '/api/tokens', tokens.admin, { user: ['x'], role: 'viewer' })).status, 400);
  assert.equal((await call('GET', '/api/tokens', tokens.operator)).status, 403);
  assert.equal((await call('POST', '/api/tokens', tokens.operator, { user: 'x', role: 'admin' })).status, 403);
  assert.equal((await call('DELETE', `/api/tokens/${id}`, tokens.operator)).status, 403);
  assert.equal((await call('GET', '/api/tokens', tokens.viewer)).status, 403);
  assert.equal((await call('POST', '/api/tokens', tokens.viewer, { user: 'x', role: 'admin' })).status, 403);
  // the startup token is the built-in admin
  assert.equal((await s.api('GET', '/api/tokens')).status, 200);
  assert.equal((await s.api('GET', '/api/me')).json.role, 'admin');
  assert.equal((await s.api('GET', '/api/me')).json.tokenId, 'startup');

  // revoke: from the next request on, nothing accepts it
  assert.equal((await call('DELETE', '/api/tokens/tk_000000000000', tokens.admin)).status, 404);
  assert.equal((await call('DELETE', '/api/tokens/..%2F..%2Fetc', tokens.admin)).status, 404);
  const revoked = await call('DELETE', `/api/tokens/${id}`, tokens.admin);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.json.revokedAt);
  assert.equal((await call('GET', '/api/me', token)).status, 401);
  assert.equal((await call('POST', '/api/runs', token, { runbook: null })).status, 401);
  assert.equal((await get(`/?token=${token}`, { 'sec-fetch-site': 'none' })).status, 401);
  const stale = await get('/', { cookie });
  assert.equal(stale.status, 401, "a revoked token's session no longer signs in");
  assert.match(stale.headers.get('set-cookie') ?? '', /stepwise_session=;.*Max-Age=0/, 'and the stale cookie is cleared');
  await assert.rejects(wsConnect(wsBase + run.terminal, bearer(token)), /HTTP 401/);
  await assert.rejects(wsConnect(wsBase + run.terminal, { cookie, origin: s.base }), /HTTP 401/);
  // a stale cookie does not block signing in with a valid link
  const fresh = await get(`/?token=${tokens.viewer}`, { cookie, 'sec-fetch-site': 'none' });
  assert.equal(fresh.status, 303);
  assert.match(fresh.headers.get('set-cookie') ?? '', /^stepwise_session=[A-Za-z0-9_-]{43};/);
  await call('DELETE', `/api/runs/${run.id}`, tokens.admin);
});

test('revoking a token closes every websocket opened with it, over the API and from the CLI (another process)', async () => {
  const make = (user: string) => {
    const made = s.ctx.users.createToken(user, 'operator');
    assert.ok(made.ok);
    return made.value;
  };
  const run = await newRun(tokens.operator, { runbook: null });
  const other = await wsConnect(wsBase + run.terminal, bearer(tokens.operator2));
  await other.waitEvent('hello');
  for (const how of ['api', 'cli'] as const) {
    const { token, info } = make(`revoked.${how}`);
    const a = await wsConnect(wsBase + run.terminal, bearer(token));
    const b = await wsConnect(wsBase + run.terminal, { cookie: (await cookieSession(token)).cookie, origin: s.base });
    await a.waitEvent('hello');
    await b.waitEvent('hello');
    if (how === 'api') {
      assert.equal((await call('DELETE', `/api/tokens/${info.id}`, tokens.admin)).status, 200);
    } else {
      const r = runStepwise(['token', 'revoke', info.id, '--data', s.dataDir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const t0 = performance.now();
    // the watch polls every REVOCATION_POLL_MS; the bound here only stops a hung test
    await until(() => a.closed && b.closed, 10_000, `sockets of the token revoked by ${how} closed`);
    console.log(`# revoked by ${how}: sockets closed ${(performance.now() - t0).toFixed(0)} ms later (poll every ${REVOCATION_POLL_MS} ms)`);
    assert.deepEqual([a.closeCode, a.closeReason], [CLOSE_REVOKED, 'token revoked']);
    assert.deepEqual([b.closeCode, b.closeReason], [CLOSE_REVOKED, 'session ended']);
  }
  // another user's socket on the same run is untouched, and the watch holds only it
  assert.equal(other.closed, false);
  other.type('echo still-$((40+2))\r');
  await other.waitOutput(/still-42/);
  await until(() => s.gateway.connections === 1, 5_000, 'only the other socket left');
  other.close();
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test('RevocationWatch: a revoked token tells each holder once; a failing check keeps them', () => {
  const revoked = new Set<string>();
  let failing = false;
  const errors: string[] = [];
  const watch = new RevocationWatch({
    isRevoked: (id) => {
      if (failing) throw new Error('database is locked');
      return revoked.has(id);
    },
    onError: (id) => errors.push(id),
    pollMs: 60_000, // the test calls check() itself
  });
  const told: string[] = [];
  watch.watch('tk_a', () => told.push('a1'));
  watch.watch('tk_a', () => told.push('a2'));
  const gone = watch.watch('tk_a', () => told.push('a3'));
  watch.watch('tk_b', () => told.push('b'));
  gone.dispose();
  assert.equal(watch.size, 3);
  watch.check();
  assert.deepEqual(told, [], 'nothing revoked yet');
  revoked.add('tk_a');
  failing = true;
  watch.check();
  assert.deepEqual([told, errors], [[], ['tk_a', 'tk_b']], 'a check that fails closes nothing');
  failing = false;
  watch.check();
  watch.check();
  assert.deepEqual(told, ['a1', 'a2'], 'each holder of the revoked token once; a disposed one never');
  assert.equal(watch.size, 1);
  watch.dispose();
  assert.equal(watch.size, 0);
});

test('roles: a viewer reads everything but changes nothing; runs and confirmations name who did them', async () => {
  const run = await newRun(tokens.operator);
  assert.equal(s.ctx.store.getRun(run.id)!.user, 'olga', 'the run records the principal, not the OS user');
  // another operator confirms a destructive step on olga's run
  const confirmed = await call('POST', `/api/runs/${run.id}/steps/destructive/execute`, tokens.operator2, { confirm: true });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.json));
  const confirmation = s.ctx.store.auditEvents(run.id).find((e) => e.type === 'confirmation')!;
  assert.deepEqual(confirmation.data, { blockIds: ['wipe'], by: 'oscar' });

  // the viewer reads: pages, API, reports, recordings
  for (const p of ['/', '/runs', '/runbooks/basics', `/runs/${run.id}/report`, `/runs/${run.id}/steps/greet`]) {
    assert.equal((await get(p, bearer(tokens.viewer))).status, 200, p);
  }
  for (const p of ['/api/runbooks', '/api/runbooks/basics', '/api/runbooks/basics/plan', '/api/runs', `/api/runs/${run.id}`, `/api/runs/${run.id}/report.json`, `/api/runs/${run.id}/recording.cast`]) {
    assert.equal((await get(p, bearer(tokens.viewer))).status, 200, p);
  }
  const viewed = s.ctx.store.auditEvents(run.id).filter((e) => e.type === 'recording-viewed').map((e) => e.data.by);
  assert.deepEqual(viewed, ['vera', 'vera'], 'the audit says who read the recording');
  assert.equal((await get(`/?token=${tokens.viewer}`, { 'sec-fetch-site': 'none' })).status, 303, 'a viewer can sign in to the pages');

  // ...and cannot change anything: 403, and nothing happened
  const before = s.ctx.store.blockResults(run.id).length;
  const runsBefore = s.ctx.store.listRuns().length;
  for (const [method, p, body] of [
    ['POST', '/api/runs', { runbook: 'basics' }],
    ['POST', '/api/runs', { runbook: null }],
    ['POST', `/api/runs/${run.id}/steps/greet/execute`, {}],
    ['POST', `/api/runs/${run.id}/blocks/greet/execute`, {}],
    ['POST', `/api/runs/${run.id}/steps/destructive/execute`, { confirm: true }],
    ['DELETE', `/api/runs/${run.id}`, {}],
    ['PUT', `/api/runs/${run.id}`, {}],
    ['PATCH', `/api/runs/${run.id}`, {}],
  ] as const) {
    const r = await call(method, p, tokens.viewer, body);
    assert.equal(r.status, 403, `${method} ${p}`);
    assert.equal(r.json.error.code, 'FORBIDDEN');
  }
  // also from the viewer's own browser session, CSRF token and all
  const { cookie, csrf } = await cookieSession(tokens.viewer);
  const viaPage = await fetch(s.base + '/api/runs', { method: 'POST', headers: { cookie, origin: s.base, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{"runbook":"basics"}' });
  assert.equal(viaPage.status, 403);
  assert.equal(s.ctx.store.blockResults(run.id).length, before);
  assert.equal(s.ctx.store.listRuns().length, runsBefore);
  assert.ok(s.ctx.runs.get(run.id), 'the run is still live');
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test("a viewer's websocket watches but its keystrokes never reach the shell", async () => {
  const run = await newRun(tokens.operator, { runbook: null });
  const live = s.ctx.runs.get(run.id)!;
  const written: string[] = [];
  const write = live.session.write.bind(live.session);
  live.session.write = (data: string | Buffer) => {
    written.push(Buffer.from(data).toString('utf8'));
    write(data);
  };
  const operator = await wsConnect(wsBase + run.terminal, bearer(tokens.operator));
  assert.equal((await operator.waitEvent('hello')).role, 'operator');
  const viewer = await wsConnect(wsBase + run.terminal, bearer(tokens.viewer));
  const hello = await viewer.waitEvent('hello');
  assert.equal(hello.role, 'viewer', 'a viewer token gets a viewer stream');
  const { cols, rows } = live.session;

  viewer.type('echo VIEWER-$((6*7))\r');
  viewer.ws.send(Buffer.from('\x03'), { binary: true });
  viewer.send({ type: 'resize', cols: 33, rows: 11 });
  // ?observe=0 or any other query cannot turn a viewer into an operator
  const sneaky = await wsConnect(`${wsBase}${run.terminal}?observe=0&role=operator`, bearer(tokens.viewer));
  assert.equal((await sneaky.waitEvent('hello')).role, 'viewer');
  sneaky.type('echo SNEAKY-$((6*7))\r');

  // the operator's input is what the shell gets, and the viewer sees its output
  operator.type('echo OPERATOR-$((6*7))\r');
  await operator.waitOutput(/OPERATOR-42/);
  await viewer.waitOutput(/OPERATOR-42/);
  assert.ok(!written.some((w) => /VIEWER|SNEAKY|\x03/.test(w)), `viewer input reached the pty: ${JSON.stringify(written)}`);
  assert.doesNotMatch(operator.output + viewer.output, /VIEWER-42|SNEAKY-42/);
  assert.deepEqual([live.session.cols, live.session.rows], [cols, rows], "a viewer's resize is ignored");
  assert.equal(viewer.closed, false);
  for (const c of [operator, viewer, sneaky]) c.close();
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test('websocket upgrades from another origin are refused, whatever the token', async () => {
  const run = await newRun();
  const { cookie } = await cookieSession(tokens.operator);
  for (const origin of ['http://evil.example', 'null', s.base.replace('127.0.0.1', 'localhost'), `${s.base}.evil.example`, s.base + '/', `https://evil.example`]) {
    await assert.rejects(wsConnect(wsBase + run.terminal, { ...bearer(s.token), origin }), /HTTP 403/, origin);
    await assert.rejects(wsConnect(wsBase + run.terminal, { cookie, origin }), /HTTP 403/, origin);
  }
  const ok = await wsConnect(wsBase + run.terminal, { cookie, origin: s.base });
  await ok.waitEvent('hello');
  ok.close();
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

// ---- CSRF ----

test('a cookie session needs the CSRF token for every change; a bearer client does not', async () => {
  const { cookie, csrf } = await cookieSession(tokens.operator);
  const other = await cookieSession(tokens.operator2);
  assert.notEqual(csrf, other.csrf, 'each session has its own CSRF token');
  const post = (headers: Record<string, string>, body = '{"runbook":null}') =>
    fetch(s.base + '/api/runs', { method: 'POST', headers: { cookie, origin: s.base, 'content-type': 'application/json', ...headers }, body });

  for (const headers of [{}, { 'x-csrf-token': '' }, { 'x-csrf-token': 'nope' }, { 'x-csrf-token': other.csrf }, { 'x-csrf-token': csrf + 'x' }, { 'x-csrf-token': csrf.toLowerCase() === csrf ? csrf.toUpperCase() : csrf.toLowerCase() }] as Array<Record<string, string>>) {
    const r = await post(headers);
    assert.equal(r.status, 403, JSON.stringify(headers));
    assert.match((await r.json()).error.message, /CSRF/);
  }
  // the CSRF token does not replace the Origin and content-type checks
  const cross = await fetch(s.base + '/api/runs', { method: 'POST', headers: { cookie, origin: 'http://evil.example', 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{"runbook":null}' });
  assert.equal(cross.status, 403);
  const form = await fetch(s.base + '/api/runs', { method: 'POST', headers: { cookie, 'content-type': 'text/plain', 'x-csrf-token': csrf }, body: '{"runbook":null}' });
  assert.equal(form.status, 403);

  const ok = await post({ 'x-csrf-token': csrf });
  assert.equal(ok.status, 201);
  const { id } = (await ok.json()) as { id: string };
  assert.equal(s.ctx.store.getRun(id)!.user, 'olga');
  const delNo = await fetch(`${s.base}/api/runs/${id}`, { method: 'DELETE', headers: { cookie, origin: s.base, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(delNo.status, 403);
  assert.ok(s.ctx.runs.get(id), 'still live after the refused DELETE');
  const del = await fetch(`${s.base}/api/runs/${id}`, { method: 'DELETE', headers: { cookie, origin: s.base, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{}' });
  assert.equal(del.status, 200);
  // a bearer client needs no CSRF token (another site cannot set the header)
  const run = await newRun(tokens.operator, { runbook: null });
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
  // reading needs none either
  assert.equal((await get('/api/runs', { cookie })).status, 200);
});

test('signing in cannot be turned into an open redirect or a form that posts the token elsewhere', async () => {
  assert.equal(localPath('//evil.example/x'), '/evil.example/x');
  assert.equal(localPath('/\\evil.example'), '/evil.example');
  for (const p of ['/.//evil.example', '/..//evil.example/x', '/%2e//evil.example', '/a/..//evil.example', '//evil.example/']) {
    const signIn = await raw(`${p}?token=${s.token}`, { 'sec-fetch-site': 'none' });
    if (signIn.status === 303) {
      const loc = signIn.headers.location!;
      assert.ok(loc.startsWith('/') && !loc.startsWith('//') && !loc.startsWith('/\\'), `${p} → ${loc}`);
    }
    const login = await raw(p);
    assert.equal(login.status, 401);
    assert.match(login.text, /<form method="post" action="\/signin">/);
    const next = /<input type="hidden" name="next" value="([^"]*)"/.exec(login.text)?.[1] ?? '';
    assert.ok(next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\'), `${p}: next ${next}`);
    // and the form's own redirect stays here, whatever `next` it is sent
    const posted = await fetch(`${s.base}/signin`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: s.token, next: p }), headers: { origin: s.base } });
    assert.equal(posted.status, 303);
    const loc = posted.headers.get('location')!;
    assert.ok(loc.startsWith('/') && !loc.startsWith('//') && !loc.startsWith('/\\'), `${p} → ${loc}`);
  }
});

// ---- path traversal ----

test('path traversal in runbook ids, run ids and report paths: 404, and nothing outside is read', async () => {
  const touched: string[] = [];
  const record = (p: unknown) => {
    if (typeof p === 'string') touched.push(path.resolve(p));
    else if (p instanceof URL) touched.push(p.pathname);
    else if (Buffer.isBuffer(p)) touched.push(p.toString());
  };
  const spied = ['readFileSync', 'readFile', 'createReadStream', 'openSync', 'open', 'statSync', 'stat', 'existsSync', 'readdirSync', 'realpathSync', 'lstatSync'] as const;
  for (const name of spied) {
    const original = (fs as any)[name] as (...a: unknown[]) => unknown;
    mock.method(fs, name, function (this: unknown, ...args: unknown[]) {
      record(args[0]);
      return original.apply(this, args);
    });
  }
  syncBuiltinESMExports();
  try {
    const enc = (p: string) => encodeURIComponent(p);
    const dbl = (p: string) => encodeURIComponent(encodeURIComponent(p));
    const notFound = [
      '/runbooks/..%2F..%2Fetc%2Fpasswd',
      `/runbooks/${dbl('../../etc/passwd')}`,
      `/runbooks/${enc('../secret-canary')}`,
      `/runbooks/${dbl('../secret-canary')}`,
      '/runbooks/%2e%2e%2fsecret-canary',
      '/runbooks/%2E%2E%5Csecret-canary',
      `/runbooks/${enc('/etc/passwd')}`,
      '/runbooks/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      `/runbooks/${enc('secret-canary\0')}`,
      `/api/runbooks/${enc('../secret-canary')}`,
      `/api/runbooks/${enc('../../etc/passwd')}`,
      `/api/runbooks/${enc('../secret-canary')}/plan`,
      '/api/runs/..%2F..%2Fetc/report.json',
      `/api/runs/${dbl('../../etc')}/report.json`,
      '/api/runs/..%2F..%2Fetc%2Fpasswd',
      '/api/runs/..%2F..%2Fetc/recording.cast',
      `/api/runs/${enc('../secret')}/report.md`,
      `/api/runs/${enc('../../../../../../etc/passwd')}`,
      '/runs/..%2F..%2Fetc%2Fpasswd/report',
      `/runs/${dbl('../../etc/passwd')}/report`,
      '/runs/..%2F..%2Fetc/steps/x',
      `/runs/${enc('../secret-canary')}`,
    ];
    for (const p of notFound) {
      const r = await get(p, bearer(s.token));
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.text, new RegExp(`${CANARY}|root:x:0`), p);
    }
    // unnormalised paths, as a raw client sends them
    for (const p of ['/api/runs/../../etc/passwd', '/runbooks/../../../etc/passwd', '/runbooks/%2E%2E', '/runbooks/%2e%2e/%2e%2e/etc/passwd', '/api/runs/%2e%2e/%2e%2e/etc/report.json', '/api/runs/r00000000000000-aaaaaa/../../../secret.txt', '/runbooks/..\\..\\secret-canary']) {
      const r = await raw(p, bearer(s.token));
      assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
      assert.doesNotMatch(r.text, new RegExp(`${CANARY}|root:x:0`), p);
    }
    // /static is public: it must not serve anything above static/
    for (const p of ['/static/../package.json', '/static/..%2Fpackage.json', '/static/..%2F..%2Fetc%2Fpasswd', '/static/%2e%2e/%2e%2e/etc/passwd', '/static/..%252Fpackage.json', '/static/..\\package.json', `/static/${enc('/etc/passwd')}`]) {
      const r = await raw(p);
      assert.notEqual(r.status, 200, p);
      assert.doesNotMatch(r.text, /"name": "stepwise"|root:x:0/, p);
    }
  } finally {
    mock.restoreAll();
    syncBuiltinESMExports();
  }
  const outside = touched.filter((p) => p.includes('secret-canary') || p.includes('secret.txt') || p === '/etc/passwd' || p === path.resolve(import.meta.dirname, '../package.json'));
  assert.deepEqual(outside, [], 'no file outside the served folders was opened');
});

// ---- oversized and malformed input ----

test('oversized and pathological JSON bodies: 413 or 400, and the server stays up', async () => {
  const liveBefore = s.ctx.runs.size;
  const runsBefore = s.ctx.store.listRuns().length;
  const big = await call('POST', '/api/runs', tokens.operator, { runbook: 'basics', vars: { WHO: 'x'.repeat(100_000) } });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'PAYLOAD_TOO_LARGE');
  const huge = await fetch(s.base + '/api/runs', { method: 'POST', headers: { ...bearer(tokens.operator), 'content-type': 'application/json' }, body: '"' + 'x'.repeat(5 * 1024 * 1024) + '"' });
  assert.equal(huge.status, 413);
  // a declared length far over the limit is refused without reading it all
  const lying = await new Promise<number>((resolve, reject) => {
    const { hostname, port } = new URL(s.base);
    const req = http.request({ host: hostname, port, path: '/api/runs', method: 'POST', headers: { ...bearer(tokens.operator), 'content-type': 'application/json', 'content-length': String(1024 * 1024 * 1024) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as NodeJS.ErrnoException).code === 'EPIPE' ? resolve(413) : reject(e)));
    req.write('{"runbook":');
  });
  assert.equal(lying, 413);
  const deep = await call('POST', '/api/runs', tokens.operator, '['.repeat(30_000) + ']'.repeat(30_000));
  assert.equal(deep.status, 400);
  const protoBody = await call('POST', '/api/runs', tokens.operator, '{"runbook":"basics","vars":{"__proto__":{"WHO":"x"}}}');
  assert.equal(protoBody.status, 400);
  const protoTarget = await call('POST', '/api/runs', tokens.operator, { runbook: 'basics', target: '__proto__' });
  assert.equal(protoTarget.status, 400);
  for (const body of ['null', '[]', '"x"', '1', '{"runbook":{"toString":1}}', '{"runbook":"basics","vars":[]}', '{"runbook":"basics","resume":"../../etc"}']) {
    assert.equal((await call('POST', '/api/runs', tokens.operator, body)).status, 400, body);
  }
  assert.equal((await get('/healthz')).status, 200);
  assert.equal(s.ctx.runs.size, liveBefore, 'none of that started a run');
  assert.equal(s.ctx.store.listRuns().length, runsBefore);
});

test('oversized websocket frames close that connection with 1009; the server and the run carry on', async () => {
  const run = await newRun(tokens.operator, { runbook: null });
  const t = await wsConnect(wsBase + run.terminal, bearer(s.token));
  await t.waitEvent('hello');
  const closed = new Promise<number>((resolve) => t.ws.on('close', (code) => resolve(code)));
  t.ws.send(Buffer.alloc(2 * 1024 * 1024, 0x61), { binary: true });
  assert.equal(await closed, 1009);

  // an over-long text frame (control messages are tiny) is an error, not a disconnect
  const u = await wsConnect(wsBase + run.terminal, bearer(s.token));
  await u.waitEvent('hello');
  u.ws.send(JSON.stringify({ type: 'resize', cols: 80, rows: 24, pad: 'x'.repeat(10_000) }));
  const err = await u.waitEvent('error');
  assert.match(err.message, /too large/);
  u.type('echo still-$((20+22))\r');
  await u.waitOutput(/still-42/);
  u.close();
  assert.equal((await get('/healthz')).status, 200);
  assert.ok(s.ctx.runs.get(run.id), 'the run survived');
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test('unknown and malformed websocket messages: an error event each, and the connection stays sane', async () => {
  const run = await newRun(tokens.operator, { runbook: null });
  const t = await wsConnect(wsBase + run.terminal, bearer(s.token));
  await t.waitEvent('hello');
  const bad = [
    '{"type":"launch-missiles"}',
    '{"type":"__proto__"}',
    '{"type":"constructor"}',
    '{"type":"toString"}',
    '{"__proto__":{"type":"resize"},"cols":10,"rows":10}',
    '{"type":"resize","cols":1e9,"rows":10}',
    '{"type":"resize","cols":"80","rows":24}',
    '{"type":"resize","cols":80.5,"rows":24}',
    '{"type":"ack","bytes":-1}',
    '{"type":"ack","bytes":1e300}',
    'null',
    '[]',
    '"resize"',
    '42',
    '{not json',
    '',
    '\u0000\uFFFF',
  ];
  for (const m of bad) t.ws.send(m);
  await until(() => t.events.filter((e) => e.type === 'error').length >= bad.length, 10_000, 'an error per bad message');
  assert.ok(t.events.filter((e) => e.type === 'error').every((e) => e.type === 'error' && e.code === 'BAD_REQUEST'));
  // still working: input, output, resize
  t.send({ type: 'resize', cols: 91, rows: 27 });
  t.type('echo sane-$((1+1))-$(tput cols)\r');
  await t.waitOutput(/sane-2-91/);
  assert.equal(t.closed, false);
  t.close();
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

test('a block or step id that is not in the runbook: 404 and nothing executed', async () => {
  const run = await newRun(tokens.operator);
  const ids = ['nope', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'greet%00', 'greet%20', 'GREET', 'sample', '%F0%9F%92%A5'];
  for (const id of ids) {
    const b = await call('POST', `/api/runs/${run.id}/blocks/${id}/execute`, tokens.operator, { confirm: true });
    assert.equal(b.status, 404, `block ${id}: ${JSON.stringify(b.json)}`);
    if (id === 'sample') continue; // a display block, but also the id of a (reading-only) step
    const st = await call('POST', `/api/runs/${run.id}/steps/${id}/execute`, tokens.operator, { confirm: true });
    assert.equal(st.status, 404, `step ${id}: ${JSON.stringify(st.json)}`);
  }
  assert.deepEqual(s.ctx.store.blockResults(run.id), [], 'no block ran');
  assert.deepEqual(s.ctx.store.stepVerdicts(run.id), []);
  assert.ok(!s.ctx.store.auditEvents(run.id).some((e) => e.type === 'block-started' || e.type === 'confirmation'));
  // an unknown run id: the same
  assert.equal((await call('POST', '/api/runs/r00000000000000-aaaaaa/blocks/greet/execute', tokens.operator, {})).status, 404);
  assert.equal((await call('POST', '/api/runs/__proto__/blocks/greet/execute', tokens.operator, {})).status, 404);
  assert.equal((await call('POST', '/api/runs/constructor/steps/greet/execute', tokens.operator, {})).status, 404);
  // the session is idle and works
  assert.equal((await call('POST', `/api/runs/${run.id}/blocks/greet/execute`, tokens.operator, {})).json.status, 'passed');
  await call('DELETE', `/api/runs/${run.id}`, tokens.operator);
});

// ---- token lookups ----

test('token checks: a near-miss is refused like any other wrong token; only digests are looked up', () => {
  const users = new Users(s.ctx.store.database);
  const made = users.createToken('timing', 'viewer');
  assert.ok(made.ok);
  const real = made.value.token;
  const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
  const cases: Record<string, string> = {
    'random wrong': 'sw_' + crypto.randomBytes(32).toString('base64url'),
    'last char wrong': flip(real, real.length - 1),
    'first char wrong': flip(real, 3),
    'one char short': real.slice(0, -1),
    'startup, last char wrong': flip(s.token, s.token.length - 1),
  };
  for (const [name, t] of Object.entries(cases)) {
    assert.equal(s.ctx.auth.resolveToken(t), undefined, name);
    assert.equal(users.resolve(t), undefined, name);
  }
  assert.equal(s.ctx.auth.resolveToken(real)?.user, 'timing');
  assert.equal(s.ctx.auth.resolveToken(s.token)?.role, 'admin');
  // the lookup key is the digest, never the token or a prefix of it
  assert.ok(!JSON.stringify(s.ctx.store.database.prepare('SELECT id, user, role, created_at FROM tokens').all()).includes(real));
  assert.equal(tokenDigest(real).length, 32);
  users.revokeToken(made.value.info.id);
});

test('nothing live is left behind', async () => {
  await until(() => s.gateway.connections === 0, 5_000, 'websockets closed');
  assert.equal(s.ctx.runs.size, 0);
});

noLeaks();
