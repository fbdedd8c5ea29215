// Tamper evidence: a CLI run's records are verified intact; each kind of tampering is caught.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { canonical, GENESIS, hashEvent, type AuditEvent } from '../server/record/chain.ts';
import { runStepwise } from './helpers/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
let base: string;
let runId: string;
/** The head the run printed when it ended: what an auditor keeps elsewhere. */
let keptHead: string;

function stepwise(args: string[], data: string) {
  const r = runStepwise(args, { STEPWISE_DATA: data });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** A private copy of the pristine data directory to tamper with. */
function copy(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-tamper-'));
  fs.cpSync(base, d, { recursive: true });
  const db = new Database(path.join(d, 'stepwise.db'));
  db.prepare('UPDATE runs SET cast_path = ?').run(path.join(d, 'casts', `${runId}.cast`));
  db.close();
  return d;
}

function sql(d: string, ...stmts: string[]): void {
  const db = new Database(path.join(d, 'stepwise.db'));
  for (const s of stmts) db.exec(s);
  db.close();
}

before(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-audit-'));
  const r = stepwise(['run', 'basics', '--runbooks', path.join(ROOT, 'test/fixtures/api'), '--yes'], base);
  runId = /^run (\S+)/.exec(r.out)![1];
  keptHead = /audit head ([0-9a-f]{64})/.exec(r.out)![1];
});
after(() => fs.rmSync(base, { recursive: true, force: true }));

test('an untouched run verifies, and --all too', () => {
  const r = stepwise(['audit', 'verify', runId], copy());
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`${runId} ok: \\d+ events, head [0-9a-f]{64}`));
  assert.equal(stepwise(['audit', 'verify', '--all'], copy()).code, 0);
});

test('editing a stored output in the database is caught', () => {
  const d = copy();
  sql(d, `UPDATE block_results SET output = replace(output, 'hello', 'jello') WHERE block_id = 'greet'`);
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED records at event \d+: block result 1 \(greet\): stored output was changed/);
});

test('editing an exit code or verdict in the database is caught', () => {
  const d = copy();
  sql(d, `UPDATE block_results SET exit_code = 0, status = 'passed' WHERE block_id = 'will-fail'`, `UPDATE step_verdicts SET status = 'passed' WHERE step_id = 'fails'`);
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /will-fail\): status is "passed" but the chain recorded "failed"/);
  assert.match(r.out, /step fails verdict is passed but the chain recorded failed/);
});

test('editing an event in the database is caught at that event', () => {
  const d = copy();
  sql(d, `UPDATE audit_events SET data_json = replace(data_json, '"failed"', '"passed"') WHERE n = (SELECT MIN(n) FROM audit_events WHERE type = 'block-finished' AND data_json LIKE '%will-fail%')`);
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED chain at event \d+: database: content does not match its hash \(block-finished event was edited\)/);
});

test('editing a byte of the log file is caught', () => {
  const d = copy();
  const log = path.join(d, 'audit', `${runId}.jsonl`);
  const text = fs.readFileSync(log, 'utf8');
  const i = text.indexOf('"exitCode":1');
  fs.writeFileSync(log, text.slice(0, i) + '"exitCode":0' + text.slice(i + 12));
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED log at event \d+: log file: content does not match its hash/);
});

test('editing a byte of the recording is caught', () => {
  const d = copy();
  const cast = path.join(d, 'casts', `${runId}.cast`);
  const buf = fs.readFileSync(cast);
  const i = buf.indexOf('hello');
  buf[i] = 'j'.charCodeAt(0);
  fs.writeFileSync(cast, buf);
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED recording at event \d+: .*\.cast has sha256 [0-9a-f]{12}…, the chain sealed/);
});

test('deleting an event is caught where it was', () => {
  const d = copy();
  sql(d, `DELETE FROM audit_events WHERE n = 3`);
  const log = path.join(d, 'audit', `${runId}.jsonl`);
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  lines.splice(2, 1);
  fs.writeFileSync(log, lines.join('\n'));
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED chain at event 3: database: expected event number 3, found 4/);
  assert.match(r.out, /TAMPERED log at event 3/);
});

test('reordering two events is caught', () => {
  const d = copy();
  sql(
    d,
    `CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE n IN (4, 5)`,
    `DELETE FROM audit_events WHERE n IN (4, 5)`,
    `INSERT INTO audit_events SELECT * FROM t WHERE n = 5`,
    `INSERT INTO audit_events SELECT * FROM t WHERE n = 4`,
  );
  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 1);
  assert.match(r.out, /TAMPERED chain at event \d+: database: expected event number \d, found \d/);
});

test('a rebuilt chain verifies by itself: only the head kept elsewhere shows it (documented limit)', () => {
  const headOf = (out: string) => new RegExp(`${runId} ok: \\d+ events, head ([0-9a-f]{64})`).exec(out)?.[1];
  const intact = stepwise(['audit', 'verify', runId], copy());
  assert.equal(headOf(intact.out), keptHead, 'an untouched run verifies to the head it printed');

  // Someone with write access to the data directory changes who started the run, then
  // recomputes every hash after it, in the database and in the log copy alike.
  const d = copy();
  const db = new Database(path.join(d, 'stepwise.db'));
  const rows = db.prepare('SELECT n, ts, type, data_json FROM audit_events WHERE run_id = ? ORDER BY n').all(runId) as Array<{ n: number; ts: string; type: AuditEvent['type']; data_json: string }>;
  let prev = GENESIS;
  const forged: AuditEvent[] = rows.map((r) => {
    const data = JSON.parse(r.data_json) as Record<string, unknown>;
    if (r.type === 'run-started') data.user = 'mallory';
    const e = { run: runId, n: r.n, ts: r.ts, type: r.type, data, prev };
    prev = hashEvent(e);
    return { ...e, hash: prev };
  });
  const update = db.prepare('UPDATE audit_events SET data_json = ?, prev = ?, hash = ? WHERE run_id = ? AND n = ?');
  for (const e of forged) update.run(JSON.stringify(e.data), e.prev, e.hash, runId, e.n);
  db.prepare('UPDATE runs SET user = ? WHERE id = ?').run('mallory', runId);
  db.close();
  fs.writeFileSync(path.join(d, 'audit', `${runId}.jsonl`), forged.map((e) => canonical(e) + '\n').join(''));

  const r = stepwise(['audit', 'verify', runId], d);
  assert.equal(r.code, 0, `the rebuilt chain is consistent, so it verifies: ${r.out}`);
  const head = headOf(r.out);
  assert.ok(head, r.out);
  assert.notEqual(head, keptHead, 'but its head is not the one kept elsewhere');
});

noLeaks();
