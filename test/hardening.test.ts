// The attacks of issue 9's adversarial test, each made again and seen refused: a second local
// web server receiving the browser's cookie, a cross-site navigation that tries to sign the
// victim in as someone else, the browser's history file, guessing tokens, the startup log,
// a burst of run creations, caching, routing and query parameters, a stalled operator socket.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import * as pty from 'node-pty';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, WAIT } from './helpers/browser.ts';
import { BIN, runStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';
import { Sessions, sessionKey } from '../server/http/sessions.ts';
import { SignInCodes } from '../server/http/signin-codes.ts';
import { FailureThrottle, clientKey } from '../server/http/throttle.ts';
import { weakTokenReason } from '../server/http/auth.ts';
import type { Principal } from '../server/record/users.ts';
import { RUN_LIMITS } from '../server/run/runs.ts';
import MarkdownIt from 'markdown-it';
import { buildReport } from '../server/report/model.ts';
import { toMarkdown } from '../server/report/markdown.ts';
import { createLogger } from '../server/log.ts';
import { TermClient } from './helpers/ws-client.ts';
import { OPERATOR_STALL_MS } from '../server/http/terminal-stream.ts';
import { LocalTarget } from '../server/target/local.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/api');
// Chromium and child servers start slowly on a busy machine; this only stops a hung test.
const SLOW = { timeout: 90_000 };

let s: TestServer;
let viewerToken: string;

/** A second local web app, as an attacker runs it: it records what browsers send it and serves `pages`. */
interface Attacker {
  base: string;
  requests: Array<{ url: string; cookie: string | undefined }>;
  pages: Map<string, string>;
  close(): Promise<void>;
}

async function attackerServer(): Promise<Attacker> {
  const requests: Attacker['requests'] = [];
  const pages = new Map<string, string>();
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', cookie: req.headers.cookie });
    const page = pages.get(req.url ?? '');
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html' });
    res.end(page ?? 'nothing here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    pages,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

before(async () => {
  // Guessing has its own server below: these tests sign in and out a lot, never wrongly often.
  s = await startTestServer(FIXTURES);
  const made = s.ctx.users.createToken('vera', 'viewer');
  assert.ok(made.ok);
  viewerToken = made.value.token;
});

after(async () => {
  await s.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers, redirect: 'manual' });
const me = (headers: Record<string, string>) => get(`${s.base}/api/me`, headers);

// ---- 1. the cookie another local web app receives ----

test('1. a second local web server gets the cookie, but it holds a session id, not the token: ended by sign-out, refused as a bearer', SLOW, async () => {
  const evil = await attackerServer();
  const b = await launchBrowser();
  try {
    const signedIn = await b.page.goto(s.signInUrl());
    assert.equal(signedIn?.status(), 200);
    assert.equal(new URL(b.page.url()).search, '', 'the code is gone from the address bar');
    // The victim visits another web app on the same host: the browser sends it our cookie.
    await b.page.goto(evil.base + '/');
    const sent = evil.requests.find((r) => r.url === '/')?.cookie ?? '';
    const m = /stepwise_session=([A-Za-z0-9_-]+)/.exec(sent);
    assert.ok(m, `the other port got our cookie (browsers do not isolate ports): ${sent}`);
    const stolen = m[1]!;
    assert.ok(!sent.includes(s.token), 'never the token itself');
    assert.ok(![...(s.ctx.auth.sessions as unknown as { byKey: Map<string, unknown> }).byKey.keys()].includes(stolen), 'the server keeps only its digest');
    assert.equal((await me({ authorization: `Bearer ${stolen}` })).status, 401, 'a session id is not a token');
    assert.equal((await me({ cookie: `stepwise_session=${stolen}` })).status, 200, 'while the session lives, it is a credential');
    // The victim signs out with the header's button: the stolen session is dead.
    await b.page.goto(s.base + '/');
    await Promise.all([b.page.waitForNavigation(), b.page.click('form.signout button[type="submit"]')]);
    assert.match(await b.page.content(), /name="token"|name="code"/, 'signed out: the redirect lands on the sign-in page');
    assert.equal(await b.page.evaluate(async () => (await fetch('/api/me')).status), 401);
    assert.equal((await me({ cookie: `stepwise_session=${stolen}` })).status, 401, 'the stolen session ended with the sign-out');
  } finally {
    await b.close();
    await evil.close();
  }
});

test('1. revoking a token ends its sessions; a session ends when idle and at its absolute limit even when used', async () => {
  const made = s.ctx.users.createToken('temp.op', 'operator');
  assert.ok(made.ok);
  const r = await get(`${s.base}/?token=${made.value.token}`, { 'sec-fetch-site': 'none' });
  assert.equal(r.status, 303);
  const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  assert.equal((await me({ cookie })).status, 200);
  // revoked from another process (the CLI): the session checks its token on every use
  const cli = runStepwise(['token', 'revoke', made.value.info.id, '--data', s.dataDir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal((await me({ cookie })).status, 401);
  // the cookie of earlier versions held the token itself: it signs nothing in, and is cleared
  const legacy = await get(`${s.base}/`, { cookie: `stepwise_token=${s.token}` });
  assert.equal(legacy.status, 401);
  assert.match(legacy.headers.get('set-cookie') ?? '', /stepwise_token=; Max-Age=0/);

  let now = 0;
  const p: Principal = { user: 'u', role: 'operator', tokenId: 'tk_000000000001' };
  let live = true;
  const sessions = new Sessions({ idleMs: 100, absoluteMs: 1000, now: () => now, tokenLive: () => live });
  const idle = sessions.open(p);
  now = 101;
  assert.equal(sessions.resolve(idle.secret), undefined, 'idle past the limit');
  const used = sessions.open(p);
  for (now = 101; now < 1101; now += 90) assert.ok(sessions.resolve(used.secret), `alive at ${now}`);
  now = 1102;
  assert.equal(sessions.resolve(used.secret), undefined, 'past the absolute limit, however used');
  const a = sessions.open(p);
  assert.equal(a.key, sessionKey(a.secret));
  assert.equal(sessions.resolve(a.secret)?.session, a.key);
  live = false;
  assert.equal(sessions.resolve(a.secret), undefined, 'its token revoked');
  live = true;
  const b1 = sessions.open(p);
  const b2 = sessions.open({ ...p, tokenId: 'tk_000000000002' });
  assert.equal(sessions.endToken(p.tokenId), 1);
  assert.equal(sessions.resolve(b1.secret), undefined);
  assert.ok(sessions.resolve(b2.secret));
  assert.ok(sessions.end(b2.key));
  assert.equal(sessions.resolve(b2.secret), undefined, 'signed out');
});

// ---- 2. login CSRF ----

test("2. another site's link with the attacker's ?token= does not replace the victim's session: it asks, and only a same-origin POST signs in", SLOW, async () => {
  const evil = await attackerServer();
  // "another site": a different host name (localhost), so the navigation is cross-site
  const evilSite = evil.base.replace('127.0.0.1', 'localhost');
  evil.pages.set('/link', `<a id="go" href="${s.base}/runs?token=${viewerToken}">free cake</a>`);
  evil.pages.set('/form', `<form id="f" method="post" action="${s.base}/signin"><input name="token" value="${viewerToken}"><input name="next" value="/"></form><script>document.getElementById('f').submit()</script>`);
  const b = await launchBrowser();
  const whoami = () => b.page.evaluate(async () => (await fetch('/api/me')).json() as Promise<{ user: string; role: string }>);
  try {
    await b.page.goto(s.signInUrl());
    assert.equal((await whoami()).role, 'admin');

    await b.page.goto(evilSite + '/link');
    await Promise.all([b.page.waitForNavigation(), b.page.click('#go')]);
    assert.equal(await b.page.$eval('h2', (e) => e.textContent), 'Sign in as vera?');
    assert.equal((await whoami()).role, 'admin', 'the victim is still themselves');

    await b.page.goto(evilSite + '/form');
    await b.page.waitForFunction((base: string) => location.href.startsWith(base), WAIT, s.base);
    assert.match(await b.page.evaluate(() => document.body.innerText), /sign-in from another site refused/);
    assert.equal((await whoami()).role, 'admin', 'a cross-site form post signs nobody in');

    // the question's button is the honest way to switch: a same-origin POST
    await b.page.goto(evilSite + '/link');
    await Promise.all([b.page.waitForNavigation(), b.page.click('#go')]);
    await Promise.all([b.page.waitForNavigation(), b.page.click('button[type=submit]')]);
    assert.equal(new URL(b.page.url()).pathname, '/runs');
    assert.deepEqual(await whoami(), { user: 'vera', role: 'viewer', tokenId: s.ctx.users.listTokens().find((t) => t.user === 'vera')!.id });
  } finally {
    await b.close();
    await evil.close();
  }
});

// ---- 3. the browser's history ----

test('3. the startup URL carries a one-time code: the history file never holds the token, and the code in it is dead', SLOW, async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-history-'));
  try {
    const b = await launchBrowser(profile);
    try {
      const url = s.signInUrl('/runs');
      assert.ok(!url.includes(s.token));
      const res = await b.page.goto(url);
      assert.equal(res?.status(), 200);
      assert.equal(new URL(b.page.url()).pathname, '/runs');
    } finally {
      await b.close(); // history is written out when the browser closes
    }
    const db = new Database(path.join(profile, 'Default', 'History'), { readonly: true, fileMustExist: true });
    const urls = (db.prepare('SELECT url FROM urls').all() as Array<{ url: string }>).map((r) => r.url);
    db.close();
    const withCode = urls.filter((u) => u.includes('code='));
    assert.ok(withCode.length > 0, `the history keeps the sign-in URL (so this test can see it): ${urls.join(' ')}`);
    assert.ok(urls.every((u) => !u.includes(s.token)), 'no token in the history');
    for (const u of withCode) assert.equal((await get(u, { 'sec-fetch-site': 'none' })).status, 401, `${u} no longer signs in`);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
});

test('3. sign-in codes are single use and expire', () => {
  let now = 0;
  const codes = new SignInCodes({ ttlMs: 1000, now: () => now });
  const p: Principal = { user: 'a', role: 'admin', tokenId: 'startup' };
  const c = codes.issue(p);
  assert.match(c, /^[A-Za-z0-9_-]{22}$/, '128 bits');
  assert.equal(codes.peek(c)?.user, 'a', 'asking does not use it up');
  assert.equal(codes.redeem(c)?.user, 'a');
  assert.equal(codes.redeem(c), undefined, 'used once');
  const late = codes.issue(p);
  now = 1000;
  assert.equal(codes.redeem(late), undefined, 'expired');
});

// ---- 4. live-run limits ----

/** `n` run creations at once, as `token`; their statuses and the ids of those created. */
async function burst(srv: TestServer, token: string, n: number, body: Record<string, unknown> = { runbook: null }) {
  const all = await Promise.all(Array.from({ length: n }, () => srv.api('POST', '/api/runs', body, { authorization: `Bearer ${token}` })));
  return { statuses: all.map((r) => r.status), ids: all.filter((r) => r.status === 201).map((r) => r.json.id as string), refused: all.filter((r) => r.status === 429).map((r) => r.json.error) };
}

test('4. a burst of 30 run creations by one operator: 10 start (the default per-user limit), the rest are 429 RUN_LIMIT', SLOW, async () => {
  const made = s.ctx.users.createToken('burst.op', 'operator');
  assert.ok(made.ok);
  const b = await burst(s, made.value.token, 30);
  try {
    assert.equal(b.ids.length, RUN_LIMITS.perUser, JSON.stringify(b.statuses));
    assert.equal(b.refused.length, 30 - RUN_LIMITS.perUser);
    assert.equal(b.refused[0].code, 'RUN_LIMIT');
    assert.match(b.refused[0].message, /burst\.op has 10 live runs, the most one user may have/);
    assert.equal(s.ctx.runs.size, RUN_LIMITS.perUser, 'no shell started for a refused run');
    // another user is not held by this one's runs
    const other = await s.api('POST', '/api/runs', { runbook: null });
    assert.equal(other.status, 201);
    b.ids.push(other.json.id);
    // an ended run frees its place
    assert.equal((await s.api('DELETE', `/api/runs/${b.ids[0]}`)).status, 200);
    await until(() => s.ctx.runs.size === RUN_LIMITS.perUser, 10_000, 'the ended run to be gone');
    const again = await burst(s, made.value.token, 1);
    assert.deepEqual(again.statuses, [201]);
    b.ids.push(...again.ids);
  } finally {
    for (const id of b.ids) await s.api('DELETE', `/api/runs/${id}`);
    await until(() => s.ctx.runs.size === 0, 15_000, 'every run ended');
  }
});

test('4. the overall limit holds across users, and labs count against their own cap', SLOW, async () => {
  // a stand-in lab: the limit counts the target id, not what it is made of
  const targets = { local: { profile: () => new LocalTarget(), create: () => new LocalTarget() }, lab: { profile: () => new LocalTarget(), create: () => new LocalTarget() } };
  const t = await startTestServer(FIXTURES, undefined, { runLimits: { perUser: 3, total: 5, labs: 1 }, targets });
  const ids: string[] = [];
  try {
    const tok = (u: string) => {
      const m = t.ctx.users.createToken(u, 'operator');
      assert.ok(m.ok);
      return m.value.token;
    };
    const [a, b2, c] = [tok('ann'), tok('bob'), tok('cy')];
    const labs = await burst(t, a, 3, { runbook: null, target: 'lab' });
    ids.push(...labs.ids);
    assert.deepEqual([...labs.statuses].sort(), [201, 429, 429]);
    assert.match(labs.refused[0].message, /1 labs are live, the most this server runs at once/);
    assert.equal(labs.refused[0].field, 'target');
    const ann = await burst(t, a, 5);
    ids.push(...ann.ids);
    assert.equal(ann.ids.length, 2, 'ann has her lab and two more: three');
    const bob = await burst(t, b2, 5);
    ids.push(...bob.ids);
    assert.equal(bob.ids.length, 2, 'the server is full at five');
    assert.match(bob.refused[0].message, /this server has 5 live runs, its limit/);
    assert.deepEqual((await burst(t, c, 2)).statuses, [429, 429]);
    assert.equal(t.ctx.runs.size, 5);
  } finally {
    for (const id of ids) await t.api('DELETE', `/api/runs/${id}`);
    await until(() => t.ctx.runs.size === 0, 15_000, 'every run ended');
    await t.stop();
  }
});

// ---- 5. weak tokens and guessing ----

test('5. a weak STEPWISE_TOKEN is refused with a clear error', () => {
  for (const weak of ['abc', 'a'.repeat(40), 'short-token-1234']) assert.ok(weakTokenReason(weak), weak);
  assert.equal(weakTokenReason('Zx8_q1LmP0-aB3cD9eF7gH'), undefined);
  const r = runStepwise(['serve', '--port', '0', '--runbooks', FIXTURES, '--data', s.dataDir], { STEPWISE_TOKEN: 'abc' });
  assert.equal(r.code, 2);
  assert.match(r.stdout + r.stderr, /refusing a weak STEPWISE_TOKEN: the token is 3 characters: use at least 22/);
});

test('5. guessing tokens: after a handful of failures an address waits, doubling, answered 429 with Retry-After', async () => {
  const t = await startTestServer(FIXTURES);
  try {
    const signedIn = await get(`${t.base}/?token=${t.token}`, { 'sec-fetch-site': 'none' });
    const session = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 400; i++) {
      const r = await get(`${t.base}/api/me`, { authorization: `Bearer guess-${i}-${'x'.repeat(22)}` });
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= r.headers.get('retry-after');
      await r.arrayBuffer();
    }
    const answered = statuses.filter((x) => x === 401).length;
    // ten failures are free; the eleventh starts the wait
    assert.deepEqual(statuses.slice(0, 11), Array(11).fill(401), 'eleven wrong answers, then waits');
    // Each wait doubles: in the few seconds 400 requests take, only a few more guesses are looked at.
    assert.ok(answered <= 15, `${answered} guesses answered of 400`);
    assert.equal(statuses.filter((x) => x === 429).length, 400 - answered);
    assert.equal(retryAfter, '1');
    console.log(`# 400 guesses: ${answered} looked at, ${400 - answered} refused with 429`);
    // while throttled, even the right token is not looked at (a guess that hits learns nothing)...
    assert.equal((await get(`${t.base}/api/me`, { authorization: `Bearer ${t.token}` })).status, 429);
    const page = await get(`${t.base}/?token=${t.token}`, { 'sec-fetch-site': 'none' });
    assert.equal(page.status, 429);
    assert.match(await page.text(), /Too many failed sign-ins from this address/);
    // a browser already signed in carries on: its session id was the server's, not a guess
    assert.equal((await get(`${t.base}/api/me`, { cookie: session })).status, 200);
    // ...and once the wait is over it signs in, and the next failure waits twice as long
    await until(() => t.ctx.auth.throttle.waitMs('127.0.0.1') === 0, 70_000, 'the wait to end');
    assert.equal((await get(`${t.base}/api/me`, { authorization: `Bearer ${t.token}` })).status, 200);
    const again = await get(`${t.base}/api/me`, { authorization: 'Bearer still-guessing-xxxxxxxxxxxxxxx' });
    assert.equal(again.status, 401);
    const next = await get(`${t.base}/api/me`, { authorization: `Bearer ${t.token}` });
    assert.equal(next.status, 429);
    assert.ok(Number(next.headers.get('retry-after')) >= 2, `the wait doubled: ${next.headers.get('retry-after')}`);
  } finally {
    await t.stop();
  }
});

test('5. the throttle: doubling up to its cap, forgotten after a quiet spell, IPv6 by /64', () => {
  let now = 0;
  const th = new FailureThrottle({ free: 2, baseMs: 100, maxMs: 1000, forgetMs: 10_000, now: () => now });
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    th.fail('10.0.0.1');
    waits.push(th.waitMs('10.0.0.1'));
  }
  assert.deepEqual(waits, [0, 0, 100, 200, 400, 800, 1000, 1000]);
  assert.equal(th.waitMs('10.0.0.2'), 0, 'another address is not held');
  now = 20_000;
  th.fail('10.0.0.1');
  assert.equal(th.waitMs('10.0.0.1'), 0, 'forgotten after a quiet spell');
  assert.equal(clientKey('2001:db8:1:2::5'), clientKey('2001:db8:1:2:ffff::9'));
  assert.notEqual(clientKey('2001:db8:1:2::5'), clientKey('2001:db8:1:3::5'));
  assert.equal(clientKey('::ffff:127.0.0.1'), '127.0.0.1');
});

// ---- 6. the startup log ----

/** `stepwise serve` until it prints its URL; returns everything it printed. */
async function serveOutput(env: Record<string, string>, terminal: boolean): Promise<{ out: string; stop: () => Promise<void> }> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-serve-'));
  const args = [BIN, 'serve', '--port', '0', '--runbooks', FIXTURES, '--data', data];
  const fullEnv = { ...process.env, STEPWISE_LOG: 'info', ...env } as Record<string, string>;
  let out = '';
  if (terminal) {
    const p = pty.spawn(process.execPath, args, { env: fullEnv, cols: 200, rows: 30 });
    const exited = new Promise<void>((r) => p.onExit(() => r()));
    p.onData((d) => (out += d));
    await until(() => /Open http\S+/.test(out) && out.includes('\n', out.indexOf('Open ')), 30_000, 'the URL');
    return { out, stop: async () => (p.kill('SIGTERM'), await exited, fs.rmSync(data, { recursive: true, force: true })) };
  }
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await until(() => /Open http\S+/.test(out), 30_000, 'the URL');
  return { out, stop: async () => (child.kill('SIGTERM'), await exited, fs.rmSync(data, { recursive: true, force: true })) };
}

test('6. the startup token is never printed; a terminal gets a one-time sign-in link that works once', SLOW, async () => {
  const token = 'operator-chose-this-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const logged = await serveOutput({ STEPWISE_TOKEN: token }, false);
  try {
    assert.ok(!logged.out.includes(token), 'not in a log');
    assert.doesNotMatch(logged.out, /code=/, 'a log gets no sign-in code either');
    assert.match(logged.out, /Open http:\/\/127\.0\.0\.1:\d+\/ and sign in with STEPWISE_TOKEN/);
  } finally {
    await logged.stop();
  }
  const term = await serveOutput({ STEPWISE_TOKEN: token }, true);
  try {
    assert.ok(!term.out.includes(token), 'not on the terminal');
    const url = /Open (http:\/\/127\.0\.0\.1:\d+\/\?code=[A-Za-z0-9_-]{22})/.exec(term.out)?.[1];
    assert.ok(url, term.out);
    const first = await get(url, { 'sec-fetch-site': 'none' });
    assert.equal(first.status, 303);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await get(new URL('/api/me', url).href, { cookie })).status, 200);
    assert.equal((await get(url, { 'sec-fetch-site': 'none' })).status, 401, 'a code signs in once');
  } finally {
    await term.stop();
  }
});


// ---- 11. the Markdown export ----

test('11. hostile variable values in the Markdown export: no control byte survives, no markup or table cell is added', () => {
  const vars: Record<string, string> = {
    MARKUP: '**bold** _em_ [x](javascript:alert(1)) <img src=x onerror=alert(1)> # h | injected | cell',
    TICKS: '`code` ``` fence',
    ESCAPES: '\x1b]52;c;aGVsbG8=\x07 \x1b[31mred\x9b31m\x00',
    LINES: 'line\n# heading\r\n---',
    PIPES: 'a\\|b\\\\|c',
    BIDI: '\u202Eevil\u2066',
  };
  const run = {
    id: 'r20240101000000-abcdef', runbookId: 'rb', runbookFile: 'rb.md', contentHash: 'h', runbookTitle: 'T <b>x</b> **y**',
    target: 'local', user: 'u', vars, options: {}, status: 'failed' as const,
    startedAt: '2024-01-01T00:00:00.000Z', endedAt: '2024-01-01T00:00:01.500Z', castPath: null, parentRunId: null,
  };
  // the command as run, with a value substituted into it
  const command = `printf '%s' '${vars.ESCAPES}'\n\techo done`;
  const report = buildReport(
    run,
    [{ runId: run.id, seq: 1, stepId: 's', kind: 'command', startedAt: run.startedAt, id: 'b', status: 'failed', exitCode: 1, output: 'x\n', durationMs: 5, end: 'exit', reason: vars.MARKUP }],
    [{ stepId: 's', status: 'failed', reason: vars.MARKUP, decidedAt: run.endedAt }],
  );
  report.steps[0]!.executions[0]!.command = command; // as the pinned runbook gives it
  const md = toMarkdown(report);
  assert.deepEqual(md.match(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g), null, 'no control byte but newline and tab');
  assert.match(md, /printf '%s' '␛\]52;c;aGVsbG8=␇ ␛\[31mred�31m␀'\n\techo done/, 'the command keeps its lines and tabs, escapes shown');
  const html = new MarkdownIt({ html: true }).render(md);
  const row = /<tr>\s*<td>Variables<\/td>\s*<td>([\s\S]*?)<\/td>\s*<\/tr>/.exec(html);
  assert.ok(row, 'the Variables row is one row of two cells');
  const outside = row[1]!.replace(/<code>[\s\S]*?<\/code>/g, '');
  assert.match(outside, /^(, )*$/, `nothing but code spans: ${outside}`);
  assert.equal(row[1]!.match(/<code>/g)?.length, Object.keys(vars).length, 'one code span per variable');
  assert.ok(row[1]!.includes('<code>PIPES=a\\|b\\\\|c</code>'), 'a pipe in a value stays in its cell, as it was');
  for (const tag of ['<a ', '<img', '<b>', '<script']) assert.ok(!html.includes(tag), `${tag} from a value or title`);
  // the report's own emphasis (status, totals) and nothing more
  assert.equal(html.match(/<strong>/g)?.length, md.match(/\*\*(passed|failed|Totals:)/g)?.length);
  assert.equal(html.match(/<em>/g), null);
  assert.equal(html.match(/<h1>/g)?.length, 1, 'the report title only');
});

// ---- 12. file modes ----

test('12. the data folder is 0700 and the database 0600; an existing folder open to others is tightened, with a warning', async () => {
  const fresh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sw-modes-')), 'data');
  const loose = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-loose-'));
  const logs: string[] = [];
  try {
    const a = await startTestServer(FIXTURES, undefined, { dataDir: fresh });
    try {
      assert.equal((await a.api('POST', '/api/runs', { runbook: 'basics' })).status, 201); // writes the database and its WAL
      const mode = (p: string) => fs.statSync(p).mode & 0o777;
      assert.equal(mode(fresh), 0o700);
      for (const f of fs.readdirSync(fresh).filter((n) => n.startsWith('stepwise.db'))) assert.equal(mode(path.join(fresh, f)), 0o600, f);
      assert.ok(fs.existsSync(path.join(fresh, 'stepwise.db-wal')), 'the WAL file was checked too');
    } finally {
      for (const r of a.ctx.store.listRuns()) await a.api('DELETE', `/api/runs/${r.id}`);
      await a.stop();
    }
    // a folder another user (or a careless umask) left readable, with a readable database
    fs.chmodSync(loose, 0o755);
    fs.writeFileSync(path.join(loose, 'stepwise.db'), '', { mode: 0o644 });
    fs.chmodSync(path.join(loose, 'stepwise.db'), 0o644);
    const b = await startTestServer(FIXTURES, undefined, { dataDir: loose, log: createLogger('warn', (l) => logs.push(l)) });
    await b.stop();
    assert.equal(fs.statSync(loose).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(loose, 'stepwise.db')).mode & 0o777, 0o600);
    const warned = logs.join('\n');
    assert.match(warned, /was readable by others \(mode 0755\): now 0700/);
    assert.match(warned, /stepwise\.db was readable by others \(mode 0644\): now 0600/);
  } finally {
    fs.rmSync(path.dirname(fresh), { recursive: true, force: true });
    fs.rmSync(loose, { recursive: true, force: true });
  }
});

// ---- 7 and 8: who holds a run ----

test('7. an operator socket that stops reading during a flood does not freeze the shell: the flood ends for a viewer, and the stalled tab is resynced from the screen', SLOW, async () => {
  const t = await startTestServer(FIXTURES);
  const made = t.ctx.users.createToken('vic', 'viewer');
  assert.ok(made.ok);
  const clients: TermClient[] = [];
  try {
    const run = await t.api('POST', '/api/runs', { runbook: null });
    assert.equal(run.status, 201);
    const ws = t.base.replace(/^http/, 'ws') + run.json.terminal;
    const op = await TermClient.connect(ws, { authorization: `Bearer ${t.token}` });
    const viewer = await TermClient.connect(ws, { authorization: `Bearer ${made.value.token}` });
    clients.push(op, viewer);
    await op.waitEvent('hello');
    await viewer.waitEvent('hello');
    let received = 0;
    op.ws.on('message', (d, binary) => binary && (received += (d as Buffer).length));
    op.send({ type: 'ack', bytes: 0 }); // an acking client: its acks pace the pty
    const t0 = performance.now();
    op.type(`head -c 8000000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((6*7))\r`);
    // the tab freezes: it reads nothing more, so it acks nothing more
    (op.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const seen = (c: TermClient) => c.output.includes('FLOOD-42') || c.events.some((e) => e.type === 'screen' && JSON.stringify(e).includes('FLOOD-42'));
    await until(() => seen(viewer), 60_000, 'the flood to end for the viewer');
    console.log(`# 8 MB flood with a frozen operator tab: done for the viewer after ${(performance.now() - t0).toFixed(0)} ms (stall bound ${OPERATOR_STALL_MS} ms)`);
    assert.equal(t.ctx.runs.get(run.json.id)!.session.paused, false, 'nothing holds the shell paused');
    // the tab wakes up and acks what it gets: it is resynced from the screen and can type again
    (op.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    let acked = 0;
    await until(() => {
      if (received > acked) {
        op.send({ type: 'ack', bytes: received - acked });
        acked = received;
      }
      return seen(op);
    }, 60_000, 'the operator to be resynced');
    op.type('echo AWAKE-$((6*7))\r');
    await op.waitOutput(/AWAKE-42/, 20_000);
  } finally {
    for (const c of clients) c.close();
    await until(() => t.gateway.connections === 0, 10_000, 'sockets closed');
    for (const r of t.ctx.store.listRuns()) await t.api('DELETE', `/api/runs/${r.id}`);
    await t.stop();
  }
});

test("8. a viewer's open socket does not keep a run alive past the grace period; an operator's does", SLOW, async () => {
  const t = await startTestServer(FIXTURES, undefined, { graceSeconds: 1 });
  const made = t.ctx.users.createToken('vic', 'viewer');
  assert.ok(made.ok);
  const clients: TermClient[] = [];
  try {
    const started = Date.now(); // before the run exists: it cannot have been idle longer than this
    const watched = (await t.api('POST', '/api/runs', { runbook: null })).json;
    const operated = (await t.api('POST', '/api/runs', { runbook: null })).json;
    const wsBase = t.base.replace(/^http/, 'ws');
    const viewer = await TermClient.connect(wsBase + watched.terminal, { authorization: `Bearer ${made.value.token}` });
    const op = await TermClient.connect(wsBase + operated.terminal, { authorization: `Bearer ${t.token}` });
    clients.push(viewer, op);
    await viewer.waitEvent('hello');
    await op.waitEvent('hello');
    // the viewer keeps talking (acks), as an open tab does
    await until(() => {
      viewer.send({ type: 'ack', bytes: 0 });
      return !t.ctx.runs.get(watched.id);
    }, 20_000, 'the run only a viewer watches to end');
    assert.ok(Date.now() - started >= 1000, 'not before its grace period');
    assert.ok(t.ctx.runs.get(operated.id), "the operator's run is still alive");
    op.close();
    await until(() => !t.ctx.runs.get(operated.id), 20_000, 'the run to end once its operator left');
  } finally {
    for (const c of clients) c.close();
    for (const r of t.ctx.store.listRuns()) await t.api('DELETE', `/api/runs/${r.id}`);
    await t.stop();
  }
});

// ---- 9, 10 and routing: caching, numeric parameters, one URL per resource ----

test('9. every authenticated answer, page or API, success or refusal, is Cache-Control: no-store (pages carry the CSRF token)', async () => {
  const signIn = await get(`${s.base}/?token=${s.token}`, { 'sec-fetch-site': 'none' });
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
  const answers: Array<[string, Response]> = [['sign-in redirect', signIn]];
  for (const p of ['/', '/runs', '/runbooks/basics', '/nowhere', '/api/runbooks', '/api/me', '/api/runs?limit=5', '/api/nowhere']) {
    answers.push([`${p} (cookie)`, await get(s.base + p, { cookie })]);
    answers.push([`${p} (bearer)`, await get(s.base + p, { authorization: `Bearer ${s.token}` })]);
    answers.push([`${p} (none)`, await get(s.base + p)]);
  }
  answers.push(['confirm page', await get(`${s.base}/?token=${s.token}`, { 'sec-fetch-site': 'cross-site' })]);
  answers.push(['sign-in form post', await fetch(`${s.base}/signin`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: s.token }) })]);
  for (const [what, r] of answers) assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: ${r.status}`);
  assert.ok(answers.some(([, r]) => r.status === 200) && answers.some(([, r]) => r.status === 401));
});

test('10. numeric query parameters: a huge limit is clamped, a malformed one is a 400 naming it', async () => {
  const huge = await s.api('GET', '/api/runs?limit=99999999999999999999');
  assert.equal(huge.status, 200, JSON.stringify(huge.json));
  for (const bad of ['-1', '0', '1.5', '1e3', 'abc', ' 7', '0x10', '9'.repeat(500)]) {
    const r = await s.api('GET', `/api/runs?limit=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error.field, 'limit', bad);
  }
  assert.equal((await s.api('GET', '/api/runs?limit=2&limit=3')).status, 400, 'a repeated parameter');
  assert.equal((await s.api('GET', '/api/runs?limit=1')).status, 200);
});

test('routing is case-sensitive and strict: one resource, one URL', async () => {
  for (const p of ['/API/me', '/api/ME', '/Api/tokens', '/api/tokens/', '/api/runbooks/', '/Runs', '/runs/', '/RUNBOOKS/basics']) {
    assert.equal((await s.api('GET', p)).status, 404, p);
  }
  for (const p of ['/api/me', '/api/tokens', '/api/runbooks', '/runs', '/runbooks/basics']) assert.equal((await s.api('GET', p)).status, 200, p);
});

noLeaks();
