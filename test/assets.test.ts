// Pages and browser assets over HTTP: one script per page under a content-hashed name, cached
// for good and served compressed; pages compressed and never cached; no sources and no test
// hooks served; a CSP without inline styles; the styled 404 for every unknown path.
// Run: node --import tsx --test test/assets.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import http from 'node:http';
import { serve, type RunningServer } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';

// The asciinema player's code: its element class names.
const PLAYER = /ap-player|ap-terminal/;

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/e2e');
const TOKEN = 'assets-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);

let srv: RunningServer;
let base: string;
let dataDir: string;
let runId: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-assets-data-'));
  srv = await serve({ host: '127.0.0.1', port: 0, runbooksDir: FIXTURES, dataDir, token: TOKEN, testHooks: false, log: createLogger('silent') });
  base = srv.url.replace(/\/$/, '');
  const res = await fetch(`${base}/api/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ runbook: 'e2e-tour' }) });
  assert.equal(res.status, 201);
  runId = ((await res.json()) as { id: string }).id;
});

after(async () => {
  try {
    if (srv && runId) await fetch(`${base}/api/runs/${runId}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  } finally {
    await srv?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** As sent on the wire (compressed when content-encoding says so). */
  body: Buffer;
}

/** A GET with node:http, which (unlike fetch) leaves the body as it came. */
function get(p: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${p}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function text(r: Raw): string {
  return (r.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(r.body) : r.body).toString('utf8');
}

/** The /static/ URLs a page links, scripts and stylesheets apart. */
function assetsOf(html: string): { scripts: string[]; styles: string[] } {
  return {
    scripts: [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!),
    styles: [...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]!),
  };
}

const PAGES = () => ({
  index: '/',
  overview: '/runbooks/e2e-tour',
  runs: '/runs',
  step: `/runs/${runId}/steps/say-hello`,
  report: `/runs/${runId}/report`,
});

test('each page loads its own script: xterm only on the step page, the player only on the report', async () => {
  const seen: Record<string, { scripts: string[]; styles: string[] }> = {};
  for (const [name, p] of Object.entries(PAGES())) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    seen[name] = assetsOf(text(r));
  }
  assert.deepEqual(seen.index!.scripts, [], 'the index runs no script');
  assert.deepEqual(seen.runs!.scripts, [], 'the runs list runs no script');
  for (const name of ['overview', 'step', 'report']) {
    assert.equal(seen[name]!.scripts.length, 1, name);
    assert.match(seen[name]!.scripts[0]!, new RegExp(`^/static/${name}-[A-Z0-9]+\\.js$`), name);
  }
  const shared = seen.index!.styles;
  assert.equal(shared.length, 1);
  assert.match(shared[0]!, /^\/static\/app-[A-Z0-9]+\.css$/);
  for (const name of Object.keys(seen)) assert.equal(seen[name]!.styles.at(-1), shared[0], `${name} loads the shared stylesheet last`);

  const body = async (url: string) => text(await get(url, { 'accept-encoding': 'identity' }));
  const step = await body(seen.step!.scripts[0]!);
  const report = await body(seen.report!.scripts[0]!);
  const overview = await body(seen.overview!.scripts[0]!);
  // Marks of each library: xterm's class name, the player's own class names (the word
  // "asciinema" alone appears in the message catalogs every page carries).
  assert.match(step, /xterm-helper-textarea/);
  assert.doesNotMatch(step, PLAYER);
  assert.match(report, PLAYER);
  assert.doesNotMatch(report, /xterm-helper-textarea/);
  assert.doesNotMatch(overview, /xterm-helper-textarea/);
  assert.doesNotMatch(overview, PLAYER);
  // The step page's own stylesheet (xterm's) comes before the shared one; the report's likewise.
  assert.equal(seen.step!.styles.length, 2);
  assert.match(await body(seen.step!.styles[0]!), /\.xterm/);
  assert.equal(seen.report!.styles.length, 2);
  assert.match(await body(seen.report!.styles[0]!), /\.ap-player|asciinema/);
});

test('assets: long immutable caching, compressed when asked, plain when not; no test hooks', async () => {
  const html = text(await get(PAGES().step));
  const { scripts, styles } = assetsOf(html);
  for (const url of [...scripts, ...styles]) {
    const gz = await get(url, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(gz.status, 200, url);
    assert.equal(gz.headers['cache-control'], 'public, max-age=31536000, immutable', url);
    assert.equal(gz.headers['content-encoding'], 'gzip', url);
    assert.match(String(gz.headers.vary), /Accept-Encoding/i, url);
    const plain = await get(url, { 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined, url);
    assert.ok(gz.body.length < plain.body.length / 2, `${url}: ${gz.body.length} bytes compressed, ${plain.body.length} plain`);
    assert.deepEqual(zlib.gunzipSync(gz.body), plain.body, url);
  }
  const js = text(await get(scripts[0]!));
  assert.doesNotMatch(js, /__stepwise/, 'the production bundle has no test hooks');
});

test('pages and API answers are compressed and not cached', async () => {
  for (const p of [...Object.values(PAGES()), '/api/runbooks']) {
    const r = await get(p, { 'accept-encoding': 'gzip' });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers['content-encoding'], 'gzip', p);
    assert.equal(r.headers['cache-control'], 'no-store', p);
    assert.ok(text(r).length > 0);
  }
});

test('no sources under /static, and unknown assets are 404', async () => {
  for (const p of ['/static/app.ts', '/static/step-page.ts', '/static/app.css', '/static/app.js', '/static/css/tokens.css', '/static/../package.json', '/static/entries/step.ts']) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(text(r), /import |export /, p);
  }
});

test('the CSP allows no inline style or script, and pages carry no style attribute', async () => {
  for (const p of Object.values(PAGES())) {
    const r = await get(p);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /style-src 'self' 'nonce-[A-Za-z0-9_-]{20,}'/, p);
    assert.doesNotMatch(csp, /unsafe-inline/, p);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, p);
    const html = text(r);
    assert.doesNotMatch(html, /\sstyle="/, `${p} has an inline style attribute`);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    assert.ok(html.includes(`<meta name="csp-nonce" content="${nonce}">`), `${p} hands its nonce to the page script`);
  }
  const a = String((await get('/')).headers['content-security-policy']);
  const b = String((await get('/')).headers['content-security-policy']);
  assert.notEqual(a, b, 'a new nonce for every response');
});

test('every unknown path gets the styled 404 page; unknown API routes a JSON 404', async () => {
  for (const p of ['/nope', '/runbooks', '/runs/x/y/z', '/a/b/c?d=e', '/favicon.ico']) {
    const r = await get(p, { accept: 'text/html' });
    assert.equal(r.status, 404, p);
    assert.match(String(r.headers['content-type']), /text\/html/, p);
    const html = text(r);
    assert.match(html, /<main id="main" class="container narrow not-found">/, p);
    assert.match(html, /<h1>Page not found<\/h1>/, p);
    assert.doesNotMatch(html, /Cannot GET/, p);
  }
  const api = await get('/api/nope');
  assert.equal(api.status, 404);
  assert.equal((JSON.parse(text(api)) as { error: { code: string } }).error.code, 'NOT_FOUND');
});

noLeaks();
