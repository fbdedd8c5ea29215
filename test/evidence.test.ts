// The evidence bundle (issue 12 §2): a real run through the CLI process, its bundle written by
// `stepwise evidence`, checked by `stepwise evidence verify` in an empty data folder, refused
// with one changed byte or the wrong public key, checked by hand with sed, sha256sum and
// openssl as docs/audit.md shows, and its report.html opened from file:// in Chromium with
// every request that is not the file itself refused.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { runStepwise } from './helpers/cli.ts';
import { launchBrowser, WAIT } from './helpers/browser.ts';
import { canonical, sha256 } from '../server/record/chain.ts';
import { checkEvidence } from '../server/report/evidence-check.ts';
import { startTestServer } from './helpers/server.ts';

const SECRET = 'hunter2-evidence-s3cret';

const RUNBOOK = `---
title: Evidence fixture
vars:
  GREETING: {default: hello}
  API_KEY: {secret: true}
---
# Evidence fixture

## Greet

\`\`\`sh {id=greet}
echo "$GREETING from the <evidence> & test"
\`\`\`

\`\`\`sh {id=greet-check verify}
test -n "$API_KEY" && echo "key is $API_KEY"
\`\`\`

## Count

\`\`\`sh {id=count}
for i in 1 2 3; do echo "line $i"; done
\`\`\`
`;

let tmp: string;
let data: string;
let empty: string;
let rbDir: string;
let runId: string;
let bundle: string;
let unsigned: string;
let pubPem: string;
let otherPub: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-evidence-'));
  data = path.join(tmp, 'data');
  empty = path.join(tmp, 'empty');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(rbDir, 'evidence.md'), RUNBOOK);
  const run = runStepwise(['run', 'evidence', '--runbooks', rbDir, '--data', data], { STEPWISE_VAR_API_KEY: SECRET, STEPWISE_USER: 'alice' });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const runs = runStepwise(['runs', '--data', data]);
  runId = runs.stdout.trim().split(/\s+/)[0]!;
  assert.match(runId, /\S/);

  const key = crypto.generateKeyPairSync('ed25519');
  fs.writeFileSync(path.join(tmp, 'signing.pem'), key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  pubPem = path.join(tmp, 'signing.pub.pem');
  fs.writeFileSync(pubPem, key.publicKey.export({ type: 'spki', format: 'pem' }));
  otherPub = path.join(tmp, 'other.pub.pem');
  fs.writeFileSync(otherPub, crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));

  bundle = path.join(tmp, 'evidence.zip');
  const made = runStepwise(['evidence', runId, '--output', bundle, '--data', data, '--runbooks', rbDir], { STEPWISE_SIGNING_KEY: path.join(tmp, 'signing.pem') });
  assert.equal(made.code, 0, made.stdout + made.stderr);
  assert.match(made.stdout, /signed by [0-9a-f]{64}/);
  unsigned = path.join(tmp, 'unsigned.zip');
  const plain = runStepwise(['evidence', runId, '--output', unsigned, '--data', data, '--runbooks', rbDir]);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /not signed/);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `stepwise evidence verify` where there is no data folder: cwd and STEPWISE_DATA are an empty folder. */
function verify(file: string, ...extra: string[]) {
  const r = runStepwise(['evidence', 'verify', file, ...extra], { STEPWISE_DATA: empty });
  return { code: r.code, out: r.stdout + r.stderr };
}

function files(zip: string): Record<string, Uint8Array> {
  return unzipSync(fs.readFileSync(zip));
}

function rezip(entries: Record<string, Uint8Array>, to: string): string {
  fs.writeFileSync(to, zipSync(entries));
  return to;
}

test('the bundle holds the runbook as run, the recording, the events, the record, both reports and the manifest', () => {
  const f = files(bundle);
  assert.deepEqual(Object.keys(f).sort(), ['audit.jsonl', 'manifest.json', 'manifest.sig', 'recording.cast', 'report.html', 'report.md', 'run.json', 'runbook.md']);
  assert.equal(Buffer.from(f['runbook.md']!).toString(), RUNBOOK);
  const manifest = JSON.parse(Buffer.from(f['manifest.json']!).toString());
  assert.equal(manifest.run, runId);
  for (const e of manifest.files) assert.equal(sha256(Buffer.from(f[e.path]!)), e.sha256, e.path);
  const lines = Buffer.from(f['audit.jsonl']!).toString().trim().split('\n');
  assert.equal(JSON.parse(lines.at(-1)!).hash, manifest.chainHead);
  assert.equal(JSON.parse(lines.at(-1)!).type, 'recording-sealed');
  // The secret is nowhere in the bundle, in any file.
  for (const [name, body] of Object.entries(f)) assert.ok(!Buffer.from(body).includes(SECRET), `the secret is in ${name}`);
  assert.match(Buffer.from(f['report.md']!).toString(), /API_KEY/);
});

test('verify passes offline in an empty data folder, and leaves that folder empty', () => {
  const r = verify(bundle, '--pubkey', pubPem);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /every check passed/);
  assert.match(r.out, /recording\.cast: its sha256 is the one sealed in the chain/);
  assert.match(r.out, /chain of \d+ events recomputes/);
  assert.match(r.out, /valid Ed25519 signature/);
  assert.deepEqual(fs.readdirSync(empty), []);
  const plain = verify(unsigned);
  assert.equal(plain.code, 0, plain.out);
  assert.match(plain.out, /not signed; every check passed/);
});

test('one changed byte in a file is refused, naming the file', () => {
  const f = files(bundle);
  const cast = Buffer.from(f['recording.cast']!);
  const i = cast.indexOf('line 2');
  assert.ok(i > 0);
  cast[i + 5] = '7'.charCodeAt(0);
  const r = verify(rezip({ ...f, 'recording.cast': cast }, path.join(tmp, 'byte.zip')), '--pubkey', pubPem);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /FAILED {2}recording\.cast: sha256 .* is not the manifest's/);
  assert.match(r.out, /FAILED {2}recording\.cast: sha256 is not the digest sealed in the chain/);
  assert.doesNotMatch(r.out, /every check passed/);

  // A byte flipped anywhere in the zip itself (here: the middle of the file) is refused too.
  const raw = fs.readFileSync(bundle);
  raw[raw.length >> 1] ^= 0x01;
  const flipped = path.join(tmp, 'flipped.zip');
  fs.writeFileSync(flipped, raw);
  const r2 = verify(flipped, '--pubkey', pubPem);
  assert.equal(r2.code, 1, r2.out);
  assert.match(r2.out, /FAILED/);
});

test('an edited output with a rehashed manifest and a rebuilt chain still fails: the signature', () => {
  const f = files(bundle);
  // The forger edits an output, recomputes its digest in the chain and every hash after it,
  // and rewrites the manifest; only the signing key is out of reach.
  const record = JSON.parse(Buffer.from(f['run.json']!).toString());
  record.blocks[0].output = record.blocks[0].output.replace('hello', 'HELLO');
  const events = Buffer.from(f['audit.jsonl']!).toString().trim().split('\n').map((l) => JSON.parse(l));
  let prev = '0'.repeat(64);
  for (const e of events) {
    if (e.type === 'block-finished' && e.data.blockId === record.blocks[0].id) e.data.textDigest = sha256(record.blocks[0].output);
    e.prev = prev;
    const { hash: _old, ...body } = e;
    e.hash = sha256(canonical(body));
    prev = e.hash;
  }
  const out: Record<string, Uint8Array> = { ...f, 'run.json': Buffer.from(JSON.stringify(record)), 'audit.jsonl': Buffer.from(events.map((e) => canonical(e) + '\n').join('')) };
  const manifest = JSON.parse(Buffer.from(f['manifest.json']!).toString());
  manifest.chainHead = prev;
  for (const e of manifest.files) e.sha256 = sha256(Buffer.from(out[e.path]!));
  out['manifest.json'] = Buffer.from(JSON.stringify(manifest));
  const forged = rezip(out, path.join(tmp, 'forged.zip'));
  const r = verify(forged, '--pubkey', pubPem);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /FAILED {2}manifest\.sig: the signature does not verify/);
  assert.doesNotMatch(r.out, /FAILED {2}(audit\.jsonl|run\.json)/, 'the forgery is consistent apart from the signature');
});

test('the wrong public key is refused, and so is an unsigned bundle when a key is given', () => {
  const r = verify(bundle, '--pubkey', otherPub);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /FAILED {2}manifest\.sig: the signature does not verify with the given public key .*the bundle says it was signed by/);
  const u = verify(unsigned, '--pubkey', pubPem);
  assert.equal(u.code, 1, u.out);
  assert.match(u.out, /FAILED {2}manifest\.sig: the bundle is not signed/);
});

test('by hand, as docs/audit.md shows: sed and sha256sum for the files and the chain, openssl for the signature', () => {
  const dir = path.join(tmp, 'by-hand');
  fs.mkdirSync(dir);
  for (const [name, body] of Object.entries(files(bundle))) fs.writeFileSync(path.join(dir, name), body);
  const sh = (script: string) => spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, encoding: 'utf8' });
  const sums = sh(`sed -n 's/.*{"path":"\\([^"]*\\)","sha256":"\\([0-9a-f]*\\)".*/\\2  \\1/p' manifest.json | sha256sum -c`);
  assert.equal(sums.status, 0, sums.stdout + sums.stderr);
  assert.equal(sums.stdout.trim().split('\n').length, 6);
  const sig = sh(`openssl pkeyutl -verify -pubin -inkey ${JSON.stringify(pubPem)} -rawin -in manifest.json -sigfile manifest.sig`);
  assert.equal(sig.status, 0, sig.stdout + sig.stderr);
  assert.match(sig.stdout, /Signature Verified Successfully/);
  const fp = sh(`openssl pkey -pubin -in ${JSON.stringify(pubPem)} -outform DER | sha256sum`);
  assert.ok(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8').includes(fp.stdout.split(' ')[0]!));
  const chain = sh(fs.readFileSync(path.resolve(import.meta.dirname, '../docs/verify-chain.sh'), 'utf8'));
  assert.equal(chain.status, 0, chain.stdout + chain.stderr);
  const head = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).chainHead;
  assert.match(chain.stdout, new RegExp(`chain ok, head ${head}`));
  // The same recipe catches an edited event.
  const lines = fs.readFileSync(path.join(dir, 'audit.jsonl'), 'utf8').split('\n');
  lines[1] = lines[1]!.replace('"n":2', '"n":2 ');
  fs.writeFileSync(path.join(dir, 'audit.jsonl'), lines.join('\n'));
  const broken = sh(fs.readFileSync(path.resolve(import.meta.dirname, '../docs/verify-chain.sh'), 'utf8'));
  assert.notEqual(broken.status, 0, broken.stdout);
});

test('report.html opened from file:// with the network blocked shows the run and plays the recording', async () => {
  const dir = path.join(tmp, 'html');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, files(bundle)['report.html']!);
  const b = await launchBrowser();
  try {
    const { page } = b;
    const refused: string[] = [];
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      const url = req.url();
      if (url === `file://${file}` || url.startsWith('data:') || url.startsWith('blob:')) void req.continue();
      else {
        refused.push(url);
        void req.abort();
      }
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const text = await page.$eval('body', (el) => (el as HTMLElement).innerText);
    assert.match(text, /who\s+alice/);
    assert.match(text, /where\s+local/);
    assert.match(text, /API_KEY\s+\*\*\*\*/);
    assert.match(text, /hello from the <evidence> & test/);
    assert.match(text, /line 3/);
    assert.match(text, /exit code 0/);
    assert.ok(!text.includes(SECRET));
    await page.waitForSelector('#player .ap-player', WAIT);
    const markers = await page.$$eval('button.seek', (bs) => bs.length);
    assert.equal(markers, 3);
    await page.click('button.seek[data-marker="2"]');
    // Seeking to the third block's marker moves the player to that block's start.
    const castLines = Buffer.from(files(bundle)['recording.cast']!).toString().split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l));
    const third = castLines.filter((e) => e[1] === 'm')[2][0] as number;
    assert.ok(third > 0);
    await page.waitForFunction(
      async (t: number) => {
        const p = (window as unknown as { stepwisePlayer?: { getCurrentTime(): Promise<number> | number } }).stepwisePlayer;
        return p !== undefined && Math.abs((await p.getCurrentTime()) - t) < 0.05;
      },
      WAIT,
      third,
    );
    assert.deepEqual(refused, []);
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
});

test('GET /api/runs/:id/evidence.zip: the same bundle over HTTP, signed, recording who took it', async () => {
  process.env.STEPWISE_SIGNING_KEY = path.join(tmp, 'signing.pem');
  const srv = await startTestServer(rbDir, undefined, { dataDir: data });
  try {
    const res = await fetch(`${srv.base}/api/runs/${runId}/evidence.zip`, { headers: { authorization: `Bearer ${srv.token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    const zip = new Uint8Array(await res.arrayBuffer());
    const c = checkEvidence(zip, fs.readFileSync(pubPem));
    assert.deepEqual(c.problems, []);
    assert.ok(c.signedBy);
    const last = Buffer.from(unzipSync(zip)['audit.jsonl']!).toString().trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    assert.equal(last.type, 'recording-viewed');
    assert.equal(last.data.format, 'evidence');
    const missing = await srv.api('GET', '/api/runs/nope/evidence.zip');
    assert.equal(missing.status, 404);
    const live = await srv.api('POST', '/api/runs', { runbook: 'evidence', target: 'local' });
    assert.equal(live.status, 201);
    const early = await srv.api('GET', `/api/runs/${live.json.id}/evidence.zip`);
    assert.equal(early.status, 400);
    assert.match(early.json.error.message, /still running: make its evidence bundle once it has ended/);
    await srv.api('DELETE', `/api/runs/${live.json.id}`);
    const anon = await fetch(`${srv.base}/api/runs/${runId}/evidence.zip`);
    assert.equal(anon.status, 401);
  } finally {
    delete process.env.STEPWISE_SIGNING_KEY;
    await srv.stop();
  }
});

noLeaks();
