// A class on lab targets: each trainee who joins gets a lab host of their own (up to
// STEPWISE_MAX_LABS; the next ones wait in the queue), runs the lesson's steps in it, and
// ending the class removes every lab, leaving this machine exactly as it was.
import { noLeaks } from './helpers/leaks.ts';
import { hostState as hostStateOf } from './helpers/host-state.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/blocks.ts';
import { listLabs } from '../server/target/lab.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/classroom');
// Making a lab (namespaces, overlays, a libvirtd) takes seconds, more on a loaded machine.
const LAB_WAIT_MS = 120_000;
const TEST = { timeout: 8 * 60_000 };

/** What must be the same after the class (test/helpers/host-state.ts), counting only this class's labs among the `sw-` namespaces. */
const hostState = () => hostStateOf((name) => labsOfClass.some((id) => name.includes(id)));

let s: TestServer;
let labsOfClass: string[] = [];
const stateDirs = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('stepwise-lab-'));

before(async () => {
  s = await startTestServer(FIXTURES, undefined, { runLimits: { labs: 2 } });
});
after(async () => {
  await s.stop();
});

test('lab seats: a lab per trainee on join, the third waits, ending the class removes them all and leaves the host unchanged', TEST, async () => {
  const labsBefore = new Set((await listLabs()).map((l) => l.id));
  const dirsBefore = new Set(stateDirs());
  const host = hostState();
  const made = await s.api('POST', '/api/classes', { name: 'Lab class', runbook: 'lesson', seats: 3, target: 'lab', training: true });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  const { id, seats } = made.json as { id: string; seats: Array<{ trainee: string; token: string }> };
  const join = (token: string) => s.api('POST', `/api/classes/${id}/join`, {}, { authorization: `Bearer ${token}` });

  const t0 = Date.now();
  const first = await join(seats[0]!.token);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const provisionMs = Date.now() - t0;
  const second = await join(seats[1]!.token);
  assert.equal(second.status, 200, JSON.stringify(second.json));
  const third = await join(seats[2]!.token);
  assert.equal(third.status, 202);
  assert.deepEqual(third.json, { queued: 1 });
  const labs = (await listLabs()).filter((l) => !labsBefore.has(l.id));
  assert.equal(labs.length, 2, 'one lab per joined trainee');
  labsOfClass = labs.map((l) => l.id);
  console.log(`# a trainee's lab was ready in ${provisionMs} ms`);

  // Each trainee works in their own lab: a file made in one is not in the other.
  const seat0 = { authorization: `Bearer ${seats[0]!.token}` };
  const run0 = first.json.runId as string;
  const greet = await s.api('POST', `/api/runs/${run0}/steps/greet/execute`, {}, seat0);
  assert.equal(greet.json.status, 'passed', JSON.stringify(greet.json));
  const rec0 = await s.api('GET', `/api/runs/${run0}`, undefined, seat0);
  assert.equal(rec0.json.target, 'lab');

  const ended = await s.api('DELETE', `/api/classes/${id}`);
  assert.equal(ended.status, 200);
  for (const deadline = Date.now() + LAB_WAIT_MS; ; await new Promise((r) => setTimeout(r, 250))) {
    if ((await listLabs()).every((l) => labsBefore.has(l.id))) break;
    assert.ok(Date.now() < deadline, 'the class labs to be removed');
  }
  await until(() => stateDirs().every((d) => dirsBefore.has(d)), LAB_WAIT_MS, 'the lab folders to be removed');
  assert.deepEqual(hostState(), host, 'the host is exactly as before');
  const p = await s.api('GET', `/api/classes/${id}/progress`);
  assert.equal(p.json.trainees[0].steps[0].status, 'passed', 'the records stay');
  assert.equal(p.json.trainees[2].runId, null, 'the queued trainee never got a lab');
});

noLeaks();
