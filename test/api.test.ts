// The HTTP API and the websocket, driven over the network as a client would.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';
import { until } from './helpers/blocks.ts';
import { serve } from '../server/http/server.ts';
import { readCast } from '../server/record/asciicast.ts';
import { CODES, httpStatus, isApiCode, type Code } from '../server/errors.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/api');
let s: TestServer;
let wsBase: string;
const auth = () => ({ authorization: `Bearer ${s.token}` });

before(async () => {
  s = await startTestServer(FIXTURES);
  wsBase = s.base.replace(/^http/, 'ws');
});
after(async () => {
  await s.stop();
});

async function newRun(body: Record<string, unknown> = { runbook: 'basics' }) {
  const r = await s.api('POST', '/api/runs', body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json as { id: string; runbook: string | null; terminal: string };
}

// Wrong tokens, origins, CSRF, oversized and malformed input: test/security.test.ts.

test('healthz needs no token; the API does (401 UNAUTHORIZED)', async () => {
  const h = await fetch(s.base + '/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { ok: true });
  const none = await fetch(s.base + '/api/runbooks');
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
});

test("docs/api.md's status table is the error table's", () => {
  const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../docs/api.md'), 'utf8');
  const documented = new Map<string, number>();
  for (const m of doc.matchAll(/^\| (\d{3}) \| (.+) \|$/gm)) {
    for (const c of m[2]!.matchAll(/`([A-Z_]+)`/g)) documented.set(c[1]!, Number(m[1]));
  }
  const table = new Map((Object.keys(CODES) as Code[]).filter(isApiCode).map((c) => [c, httpStatus(c)] as const));
  assert.deepEqual(Object.fromEntries([...documented].sort()), Object.fromEntries([...table].sort()));
});

test('runbooks: list with diagnostics, and the model by id', async () => {
  const list = await s.api('GET', '/api/runbooks');
  assert.equal(list.status, 200);
  const broken = list.json.runbooks.find((r: any) => r.id === 'broken');
  assert.equal(broken.ok, false);
  assert.ok(broken.diagnostics.some((d: any) => d.code === 'UNKNOWN_ATTRIBUTE' && d.line === 5));
  const one = await s.api('GET', '/api/runbooks/basics');
  assert.equal(one.json.runbook.steps[0].id, 'greet');
  assert.equal(one.json.runbook.blocks.greet.kind, 'command');
  assert.equal(one.json.runbook.blocks['greet-check'].kind, 'check');
  assert.equal((await s.api('GET', '/api/runbooks/nope')).status, 404);
});

test('creating runs: unknown runbook, bad variable, unknown target, broken runbook → 400 with field', async () => {
  const a = await s.api('POST', '/api/runs', { runbook: 'nope' });
  assert.equal(a.status, 400);
  assert.deepEqual([a.json.error.code, a.json.error.field], ['UNKNOWN_RUNBOOK', 'runbook']);
  const b = await s.api('POST', '/api/runs', { runbook: 'basics', vars: { WHO: 'UPPER' } });
  assert.deepEqual([b.status, b.json.error.code, b.json.error.field], [400, 'VAR_PATTERN', 'vars.WHO']);
  const c = await s.api('POST', '/api/runs', { runbook: 'basics', target: 'mars' });
  assert.deepEqual([c.status, c.json.error.code], [400, 'UNKNOWN_TARGET']);
  const d = await s.api('POST', '/api/runs', { runbook: 'broken' });
  assert.deepEqual([d.status, d.json.error.code], [400, 'BROKEN_RUNBOOK']);
  const e = await s.api('POST', '/api/runs', { runbook: 'basics', vars: { NOPE: 'x' } });
  assert.deepEqual([e.status, e.json.error.field], [400, 'vars.NOPE']);
  const f = await s.api('POST', '/api/runs', '{not json');
  assert.equal(f.status, 400);
});

test('a run over HTTP and websocket: live output, events, records, recording', async () => {
  const run = await newRun({ runbook: 'basics', vars: { WHO: 'tester' } });
  assert.equal(run.terminal, `/ws/runs/${run.id}`);
  const t = await TermClient.connect(wsBase + run.terminal, auth());
  const hello = await t.waitEvent('hello');
  assert.equal(hello.runId, run.id);

  const step = await s.api('POST', `/api/runs/${run.id}/steps/greet/execute`, {});
  assert.equal(step.status, 200);
  assert.equal(step.json.status, 'passed');
  assert.equal(step.json.blocks[0].id, 'greet');
  assert.equal(step.json.blocks[0].exitCode, 0);
  assert.equal(step.json.blocks[0].output, 'hello tester\npw=****\n');
  assert.equal(step.json.checks[0].status, 'passed');
  await t.waitOutput(/hello tester/);
  assert.doesNotMatch(t.output, /open-sesame-42/, 'secret masked on the live stream');
  await t.waitEvent('block-started', (e) => e.blockId === 'greet');
  await t.waitEvent('block-finished', (e) => e.result.id === 'greet' && e.result.status === 'passed');
  await t.waitEvent('step-verdict', (e) => e.verdict.stepId === 'greet' && e.verdict.status === 'passed');

  const kor = await s.api('POST', `/api/runs/${run.id}/blocks/korean/execute`, {});
  assert.equal(kor.json.status, 'passed');
  assert.equal(kor.json.blocks[0].output, '가상화 호스트\n');
  const korCheck = await s.api('POST', `/api/runs/${run.id}/blocks/korean-check/execute`, {});
  assert.equal(korCheck.json.checks[0].status, 'passed');

  const fail = await s.api('POST', `/api/runs/${run.id}/steps/fails/execute`, {});
  assert.equal(fail.json.status, 'failed');
  assert.match(fail.json.reason, /will-fail: exited with 1/);
  assert.equal(fail.json.checks[0].status, 'skipped');

  const chk = await s.api('POST', `/api/runs/${run.id}/steps/checks-only/execute`, {});
  assert.equal(chk.json.status, 'failed');
  assert.equal(chk.json.reason, 'br0 does not exist — hint: create the bridge first');

  // the server only runs what it parsed: unknown ids and display blocks are 404
  assert.equal((await s.api('POST', `/api/runs/${run.id}/blocks/rm-rf/execute`, {})).status, 404);
  assert.equal((await s.api('POST', `/api/runs/${run.id}/blocks/sample/execute`, {})).status, 404);
  assert.equal((await s.api('POST', `/api/runs/${run.id}/steps/nope/execute`, {})).status, 404);

  const needs = await s.api('POST', `/api/runs/${run.id}/steps/destructive/execute`, {});
  assert.deepEqual([needs.status, needs.json.error.code], [409, 'CONFIRM_REQUIRED']);
  const confirmed = await s.api('POST', `/api/runs/${run.id}/steps/destructive/execute`, { confirm: true });
  assert.equal(confirmed.json.status, 'passed');

  const rec = await s.api('GET', `/api/runs/${run.id}`);
  assert.equal(rec.json.status, 'running');
  assert.equal(rec.json.vars.PASSWORD, '****');
  assert.equal(rec.json.vars.WHO, 'tester');
  assert.ok(rec.json.contentHash.match(/^[0-9a-f]{64}$/));
  assert.deepEqual(
    Object.fromEntries(rec.json.steps.map((v: any) => [v.stepId, v.status])),
    { greet: 'passed', korean: 'passed', fails: 'failed', 'checks-only': 'failed', destructive: 'passed' },
  );
  assert.ok(rec.json.blocks.length >= 8);

  const del = await s.api('DELETE', `/api/runs/${run.id}`);
  assert.equal(del.status, 200);
  assert.equal(del.json.status, 'failed');
  await t.waitEvent('session-ended');
  const after = await s.api('POST', `/api/runs/${run.id}/steps/greet/execute`, {});
  assert.deepEqual([after.status, after.json.error.code], [409, 'SESSION_ENDED']);
  t.close();

  const cast = await fetch(`${s.base}/api/runs/${run.id}/recording.cast`, { headers: auth() });
  assert.equal(cast.status, 200);
  assert.equal(cast.headers.get('content-type'), 'application/x-asciicast');
  const castPath = path.join(s.dataDir, 'casts', `${run.id}.cast`);
  const { header, events } = readCast(castPath);
  assert.equal(header.version, 2);
  const markers = events.filter((e) => e[1] === 'm').map((e) => e[2]);
  assert.ok(markers.includes('greet/greet') && markers.includes('korean/korean'), markers.join(','));
  const text = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  assert.match(text, /가상화 호스트/);
  assert.doesNotMatch(fs.readFileSync(castPath, 'utf8'), /open-sesame-42/);

  const list = await s.api('GET', '/api/runs');
  assert.ok(list.json.runs.some((r: any) => r.id === run.id && r.live === false));

  const json = await s.api('GET', `/api/runs/${run.id}/report.json`);
  assert.equal(json.status, 200);
  assert.equal(json.json.run.id, run.id);
  assert.equal(json.json.totals.failed, 2);
  const junit = await fetch(`${s.base}/api/runs/${run.id}/report.junit`, { headers: auth() });
  assert.match(junit.headers.get('content-type')!, /xml/);
  assert.match(await junit.text(), /<testcase /);
  assert.equal((await s.api('GET', `/api/runs/${run.id}/report.pdf`)).status, 400);
  const viewed = s.ctx.store.auditEvents(run.id).filter((e) => e.type === 'recording-viewed').map((e) => e.data.format);
  assert.deepEqual(viewed, ["cast", "json", "junit"]);
});

test('a bare terminal session: keystrokes in, output out, resize, acks', async () => {
  const run = await newRun({ runbook: null });
  assert.equal(run.runbook, null);
  const t = await TermClient.connect(wsBase + run.terminal, auth());
  await t.waitEvent('hello');
  t.send({ type: 'resize', cols: 120, rows: 40 });
  t.type('echo $((6*7))-$(tput cols)\r');
  await t.waitOutput(/42-120/);
  t.send({ type: 'ack', bytes: 10 });
  t.type('echo still-here\r');
  await t.waitOutput(/still-here/);
  assert.equal(t.closed, false);
  assert.equal((await s.api('POST', `/api/runs/${run.id}/blocks/greet/execute`, {})).status, 404);
  t.close();
  await s.api('DELETE', `/api/runs/${run.id}`);
});

test('a user command at the prompt makes the terminal busy: executing answers 409', async () => {
  const run = await newRun();
  const t = await TermClient.connect(wsBase + run.terminal, auth());
  await t.waitEvent('hello');
  t.type('sleep 30\r');
  const live = s.ctx.runs.get(run.id)!;
  await until(() => live.session.state === 'busy');
  const busy = await s.api('POST', `/api/runs/${run.id}/blocks/greet/execute`, {});
  assert.deepEqual([busy.status, busy.json.error.code], [409, 'SESSION_BUSY']);
  t.type('\x03');
  await until(() => live.session.state === 'idle');
  assert.equal((await s.api('POST', `/api/runs/${run.id}/blocks/greet/execute`, {})).json.status, 'passed');
  t.close();
  await s.api('DELETE', `/api/runs/${run.id}`);
});

test('websocket upgrades: an unknown run is 404; same-origin bearer and cookie clients connect', async () => {
  const run = await newRun();
  await assert.rejects(TermClient.connect(`${wsBase}/ws/runs/r00000000000000-aaaaaa`, auth()), /HTTP 404/);
  const ok = await TermClient.connect(wsBase + run.terminal, { ...auth(), origin: s.base });
  await ok.waitEvent('hello');
  ok.close();
  // the session cookie authenticates a same-origin browser
  const signIn = await fetch(s.signInUrl(), { redirect: 'manual', headers: { 'sec-fetch-site': 'none' } });
  const viaCookie = await TermClient.connect(wsBase + run.terminal, { cookie: signIn.headers.get('set-cookie')!.split(';')[0]!, origin: s.base });
  await viaCookie.waitEvent('hello');
  viaCookie.close();
  await s.api('DELETE', `/api/runs/${run.id}`);
});

test('cookie sessions: ?token= opened by the person sets an HttpOnly, SameSite=Strict session cookie that signs the API in', async () => {
  const r = await fetch(`${s.base}/?token=${s.token}`, { redirect: 'manual', headers: { 'sec-fetch-site': 'none' } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/');
  const cookie = r.headers.get('set-cookie')!;
  assert.match(cookie, /^stepwise_session=/);
  assert.ok(!cookie.includes(s.token), 'the cookie holds a session id, never the token');
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const jar = cookie.split(';')[0];
  assert.equal((await fetch(s.base + '/api/runbooks', { headers: { cookie: jar } })).status, 200);
});

test('a non-loopback bind needs an explicit token', async () => {
  await assert.rejects(serve({ host: '0.0.0.0', port: 0, runbooksDir: FIXTURES, dataDir: s.dataDir }), /without an explicit token/);
});

test('nothing live is left behind', () => {
  assert.equal(s.ctx.runs.size, 0);
  assert.equal(s.gateway.connections, 0);
});

noLeaks();
