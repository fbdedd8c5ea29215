// The classroom over HTTP and websocket (docs/classroom.md): classes and seats, every isolation
// rule of a seat token and of a trainer, the training lock, hints and solutions, progress,
// take-over and hand-back, messages, the report, the lab queue, the time limit and the end.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';
import { until } from './helpers/blocks.ts';
import { targetKinds } from '../server/target/registry.ts';
import { loadInventory } from '../server/target/inventory.ts';
import { Classroom } from '../server/class/classroom.ts';
import { verifyRun } from '../server/record/verification.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/classroom');
let s: TestServer;
let wsBase: string;
const tokens: Record<string, string> = {};
const clients: TermClient[] = [];

before(async () => {
  const kinds = targetKinds(loadInventory(path.join(FIXTURES, 'inventory.yaml')));
  // "lab" here is a local shell counted against the lab limit (1): the queue without real labs
  // (test/class-lab.test.ts makes real ones).
  // The server reads its inventory at start (a class over @web resolves the group from it).
  const had = process.env.STEPWISE_INVENTORY;
  process.env.STEPWISE_INVENTORY = path.join(FIXTURES, 'inventory.yaml');
  try {
    s = await startTestServer(FIXTURES, undefined, { targets: { ...kinds, lab: kinds.local! }, runLimits: { labs: 1 } });
  } finally {
    if (had === undefined) delete process.env.STEPWISE_INVENTORY;
    else process.env.STEPWISE_INVENTORY = had;
  }
  wsBase = s.base.replace(/^http/, 'ws');
  for (const [user, role] of [['alice', 'trainer'], ['bob', 'trainer'], ['vic', 'viewer'], ['ola', 'operator']] as const) {
    const made = s.ctx.users.createToken(user, role);
    assert.ok(made.ok);
    tokens[user] = made.value.token;
  }
});
after(async () => {
  for (const c of clients) c.close();
  await s.stop();
});

async function as(token: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) {
  return s.api(method, p, body, { authorization: `Bearer ${token}`, ...headers });
}

interface Made {
  id: string;
  seats: Array<{ trainee: string; token: string; joinUrl: string }>;
}

async function makeClass(body: Record<string, unknown>, by = tokens.alice!): Promise<Made> {
  const r = await as(by, 'POST', '/api/classes', { name: 'Class', runbook: 'lesson', target: 'local', training: true, ...body });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json as Made;
}

async function join(seatToken: string, classId: string) {
  return as(seatToken, 'POST', `/api/classes/${classId}/join`, {});
}

async function connect(token: string, runId: string, query = ''): Promise<TermClient> {
  const c = await TermClient.connect(`${wsBase}/ws/runs/${runId}${query}`, { authorization: `Bearer ${token}` });
  clients.push(c);
  await c.waitEvent('screen');
  return c;
}

// One class most tests share: alice's, two seats.
let main: Made;
let run1: string;
let run2: string;

test('a trainer creates a class: seats trainee-1…, each with a token and a join link shown once', async () => {
  main = await makeClass({ seats: 2 });
  assert.match(main.id, /^cls_[0-9a-f]{12}$/);
  assert.deepEqual(main.seats.map((x) => x.trainee), ['trainee-1', 'trainee-2']);
  for (const seat of main.seats) {
    assert.match(seat.token, /^sws_/);
    assert.equal(seat.joinUrl, `${s.base}/join/${seat.token}`);
  }
  const got = await as(tokens.alice!, 'GET', `/api/classes/${main.id}`);
  assert.equal(got.status, 200);
  assert.equal(got.json.trainer, 'alice');
  assert.equal(got.json.status, 'open');
  assert.ok(!JSON.stringify(got.json).includes(main.seats[0]!.token), 'a seat token is never shown again');
  const named = await makeClass({ trainees: ['ann', 'ben'] });
  assert.deepEqual(named.seats.map((x) => x.trainee), ['ann', 'ben']);
});

test('creating a class: trainer or admin only, and the body is checked field by field', async () => {
  for (const who of ['vic', 'ola']) {
    const r = await as(tokens[who]!, 'POST', '/api/classes', { name: 'x', runbook: 'lesson', seats: 1, target: 'local' });
    assert.equal(r.status, 403, who);
  }
  const admin = await s.api('POST', '/api/classes', { name: 'Admin class', runbook: 'lesson', seats: 1, target: 'local' });
  assert.equal(admin.status, 201);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ seats: 2, trainees: ['a'] }, 'seats'],
    [{}, 'seats'],
    [{ seats: 0 }, 'seats'],
    [{ seats: 101 }, 'seats'],
    [{ trainees: ['ok', 'ok'] }, 'trainees'],
    [{ trainees: ['bad name'] }, 'trainees'],
    [{ seats: 1, name: '' }, 'name'],
    [{ seats: 1, runbook: 'nope' }, 'runbook'],
    [{ seats: 1, target: 'mars' }, 'target'],
    [{ seats: 1, target: '@nope' }, 'target'],
    [{ seats: 1, target: 'ssh://x@y' }, 'target'],
    [{ seats: 1, timeLimitMinutes: 0 }, 'timeLimitMinutes'],
    [{ seats: 1, stuckMinutes: 1.5 }, 'stuckMinutes'],
    [{ seats: 1, training: 'yes' }, 'training'],
    [{ seats: 1, lang: 'fr' }, 'lang'],
  ];
  for (const [body, field] of bad) {
    const r = await as(tokens.alice!, 'POST', '/api/classes', { name: 'x', runbook: 'lesson', target: 'local', ...body });
    assert.ok(r.status === 400, `${JSON.stringify(body)} → ${r.status}`);
    assert.equal(r.json.error.field, field, JSON.stringify(body));
  }
});

test('a trainer manages only its own classes; an admin all; viewers and operators none', async () => {
  const listA = await as(tokens.alice!, 'GET', '/api/classes');
  assert.ok(listA.json.classes.every((c: any) => c.trainer === 'alice'));
  assert.ok(listA.json.classes.some((c: any) => c.id === main.id));
  const listB = await as(tokens.bob!, 'GET', '/api/classes');
  assert.ok(!listB.json.classes.some((c: any) => c.id === main.id));
  const admin = await s.api('GET', '/api/classes');
  assert.ok(admin.json.classes.some((c: any) => c.id === main.id));
  for (const [method, p, body] of [
    ['GET', `/api/classes/${main.id}`],
    ['GET', `/api/classes/${main.id}/progress`],
    ['GET', `/api/classes/${main.id}/report.csv`],
    ['POST', `/api/classes/${main.id}/messages`, { text: 'hi' }],
    ['POST', `/api/classes/${main.id}/trainees/trainee-1/takeover`, {}],
    ['POST', `/api/classes/${main.id}/trainees/trainee-1/handback`, {}],
    ['DELETE', `/api/classes/${main.id}`],
  ] as Array<[string, string, unknown?]>) {
    for (const who of ['bob', 'vic', 'ola']) {
      const r = await as(tokens[who]!, method, p, body);
      assert.equal(r.status, 403, `${who} ${method} ${p}`);
    }
  }
  assert.equal((await as(tokens.vic!, 'GET', '/api/classes')).status, 403);
  assert.equal((await s.api('GET', `/api/classes/${main.id}/progress`)).status, 200, 'an admin reads any class');
  assert.equal((await as(tokens.alice!, 'GET', '/api/classes/cls_000000000000')).status, 404);
});

test('join: a seat token gets its run; a rejoin gets the same run back', async () => {
  const [t1, t2] = main.seats;
  const a = await join(t1!.token, main.id);
  assert.equal(a.status, 200, JSON.stringify(a.json));
  run1 = a.json.runId;
  assert.equal(a.json.terminal, `/ws/runs/${run1}`);
  const again = await join(t1!.token, main.id);
  assert.equal(again.json.runId, run1);
  const b = await join(t2!.token, main.id);
  run2 = b.json.runId;
  assert.notEqual(run1, run2);
  const rec = await s.api('GET', `/api/runs/${run1}`);
  assert.equal(rec.json.user, `trainee-1@${main.id}`);
  assert.equal(rec.json.options.training, true);
});

test('a seat token reaches its class, its runbook and its own run — nothing else', async () => {
  const seat = main.seats[0]!.token;
  const other = await makeClass({ seats: 1, runbook: 'other' });
  const allowed: Array<[string, string, number]> = [
    ['GET', '/api/me', 200],
    ['GET', `/api/classes/${main.id}`, 200],
    ['GET', `/api/classes/${main.id}/messages`, 200],
    ['GET', '/api/runbooks/lesson', 200],
    ['GET', `/api/runs/${run1}`, 200],
  ];
  for (const [m, p, st] of allowed) assert.equal((await as(seat, m, p)).status, st, `${m} ${p}`);
  const mine = await as(seat, 'GET', `/api/classes/${main.id}`);
  assert.equal(mine.json.seat.trainee, 'trainee-1');
  assert.equal(mine.json.seats, undefined, 'no other seat is shown');
  const refused: Array<[string, string, unknown?]> = [
    ['GET', `/api/runs/${run2}`],
    ['GET', `/api/runs/${run2}/report.json`],
    ['POST', `/api/runs/${run2}/steps/greet/execute`, {}],
    ['POST', `/api/runs/${run2}/steps/greet/hints`, {}],
    ['GET', '/api/runs'],
    ['POST', '/api/runs', { runbook: 'lesson' }],
    ['DELETE', `/api/runs/${run1}`],
    ['GET', `/api/classes/${main.id}/progress`],
    ['GET', `/api/classes/${main.id}/report.csv`],
    ['GET', '/api/classes'],
    ['POST', '/api/classes', { name: 'x', runbook: 'lesson', seats: 1 }],
    ['POST', `/api/classes/${main.id}/messages`, { text: 'x' }],
    ['POST', `/api/classes/${main.id}/trainees/trainee-2/takeover`, {}],
    ['DELETE', `/api/classes/${main.id}`],
    ['GET', `/api/classes/${other.id}`],
    ['POST', `/api/classes/${other.id}/join`, {}],
    ['GET', '/api/runbooks'],
    ['GET', '/api/runbooks/other'],
    ['GET', '/api/runbooks/lesson/plan'],
    ['GET', '/api/tokens'],
    ['POST', '/api/tokens', { user: 'x', role: 'admin' }],
    ['GET', '/api/approvals'],
    ['GET', '/'],
    ['GET', '/runs'],
    ['GET', `/runs/${run2}`],
    ['GET', '/runbooks/lesson'],
  ];
  for (const [m, p, body] of refused) {
    const r = await as(seat, m, p, body);
    assert.equal(r.status, 403, `${m} ${p} → ${r.status}`);
  }
  // Its own run's pages open.
  const page = await as(seat, 'GET', `/runs/${run1}`);
  assert.equal(page.status, 303);
  assert.equal((await as(seat, 'GET', page.headers.get('location')!)).status, 200);
  // Websockets: its own run, never another trainee's.
  const own = await connect(seat, run1);
  assert.ok(own.events.some((e) => e.type === 'hello' && e.role === 'operator'));
  await assert.rejects(TermClient.connect(`${wsBase}/ws/runs/${run2}`, { authorization: `Bearer ${seat}` }), /HTTP 404/);
  await assert.rejects(TermClient.connect(`${wsBase}/ws/runs/${run2}?observe=1`, { authorization: `Bearer ${seat}` }), /HTTP 404/);
  own.close();
  await s.api('DELETE', `/api/classes/${other.id}`);
});

test('hints and solutions are held back: not in the runbook, the step page or the API until revealed', async () => {
  const rb = await as(main.seats[0]!.token, 'GET', '/api/runbooks/lesson');
  const text = JSON.stringify(rb.json);
  assert.ok(!text.includes('The command prints hello-class'), 'no hint text');
  assert.ok(!text.includes('export answer=42'), 'no solution text');
  assert.equal(rb.json.runbook.steps[0].hintCount, 2);
  const step = await s.api('GET', `/runs/${run1}/steps/greet`);
  assert.equal(step.status, 200);
  assert.ok(!String(step.json).includes('The command prints hello-class'));
  assert.ok(!String(step.json).includes('Press Run step: it runs'));
  assert.match(String(step.json), /data-action="show-hint"/, 'the step page offers a hint');
  assert.ok(!String(step.json).includes('echo "hello-class"</code></pre></div>'), 'no solution in the page');
});

test('training lock: a later step is refused with STEP_LOCKED naming the step to finish first; checks run any time', async () => {
  const seat = main.seats[0]!.token;
  const locked = await as(seat, 'POST', `/api/runs/${run1}/steps/answer/execute`, {});
  assert.equal(locked.status, 409);
  assert.equal(locked.json.error.code, 'STEP_LOCKED');
  assert.match(locked.json.error.message, /greet/);
  const block = await as(seat, 'POST', `/api/runs/${run1}/blocks/done/execute`, {});
  assert.equal(block.json.error.code, 'STEP_LOCKED');
  // The class's trainer is held to the same order: the lock is the run's, not the page's.
  assert.equal((await as(tokens.alice!, 'POST', `/api/runs/${run1}/steps/finish/execute`, {})).json.error.code, 'STEP_LOCKED');
  // Anyone else acts on no class run: another trainer, an operator (they may read it).
  for (const who of ['bob', 'ola']) {
    for (const [m, p] of [['POST', `/api/runs/${run1}/steps/greet/execute`], ['POST', `/api/runs/${run1}/blocks/hello/execute`], ['DELETE', `/api/runs/${run1}`]] as const) {
      const r = await as(tokens[who]!, m, p, m === 'POST' ? {} : undefined);
      assert.equal(r.status, 403, `${who} ${m} ${p}`);
    }
    assert.equal((await as(tokens[who]!, 'GET', `/api/runs/${run1}`)).status, 200);
  }
  const check = await as(seat, 'POST', `/api/runs/${run1}/blocks/answer-check/execute`, {});
  assert.equal(check.status, 200, JSON.stringify(check.json));
  assert.equal(check.json.status, 'failed');
  const greet = await as(seat, 'POST', `/api/runs/${run1}/steps/greet/execute`, {});
  assert.equal(greet.status, 200);
  assert.equal(greet.json.status, 'passed');
  const now = await as(seat, 'POST', `/api/runs/${run1}/steps/answer/execute`, {});
  assert.equal(now.status, 200);
  assert.equal(now.json.status, 'failed');
});

test('hints one at a time, each recorded; the solution after 3 failed attempts, or from the trainer', async () => {
  const seat = main.seats[0]!.token;
  const h0 = await as(seat, 'POST', `/api/runs/${run1}/steps/greet/hints`, {});
  assert.equal(h0.status, 200);
  assert.deepEqual(h0.json, { hint: 'Press Run step: it runs the command, then its check.', index: 0, remaining: 1 });
  const h1 = await as(seat, 'POST', `/api/runs/${run1}/steps/greet/hints`, {});
  assert.deepEqual(h1.json, { hint: 'The command prints hello-class.', index: 1, remaining: 0 });
  const h2 = await as(seat, 'POST', `/api/runs/${run1}/steps/greet/hints`, {});
  assert.equal(h2.status, 409);
  assert.equal(h2.json.error.code, 'NO_MORE_HINTS');
  const none = await as(seat, 'POST', `/api/runs/${run1}/steps/finish/hints`, {});
  assert.equal(none.status, 404);
  const state = await as(seat, 'GET', `/api/runs/${run1}/steps/greet/hints`);
  assert.deepEqual(state.json.revealed.length, 2);
  assert.equal(state.json.solution, null);
  // The answer step failed once (previous test): the solution stays locked until the third.
  const early = await as(seat, 'POST', `/api/runs/${run1}/steps/answer/solution`, {});
  assert.equal(early.status, 409);
  assert.equal(early.json.error.code, 'SOLUTION_LOCKED');
  for (let i = 0; i < 2; i++) assert.equal((await as(seat, 'POST', `/api/runs/${run1}/steps/answer/execute`, {})).json.status, 'failed');
  const sol = await as(seat, 'POST', `/api/runs/${run1}/steps/answer/solution`, {});
  assert.equal(sol.status, 200, JSON.stringify(sol.json));
  assert.equal(sol.json.solution, 'export answer=42');
  // The trainer reveals trainee-2's at once; another trainer cannot.
  assert.equal((await as(tokens.bob!, 'POST', `/api/runs/${run2}/steps/greet/solution`, {})).status, 403);
  const watching = await connect(main.seats[1]!.token, run2);
  const byTrainer = await as(tokens.alice!, 'POST', `/api/runs/${run2}/steps/greet/solution`, {});
  assert.equal(byTrainer.status, 200);
  await watching.waitEvent('class-reveal', (m) => m.stepId === 'greet' && m.by === 'alice');
  watching.close();
  assert.equal((await as(main.seats[1]!.token, 'GET', `/api/runs/${run2}/steps/greet/hints`)).json.solution, 'echo "hello-class"');
  const events = s.ctx.store.auditEvents(run1);
  const reveals = events.filter((e) => e.type === 'hint-revealed');
  assert.deepEqual(reveals.map((e) => [e.data.stepId, e.data.index, e.data.by]), [['greet', 0, `trainee-1@${main.id}`], ['greet', 1, `trainee-1@${main.id}`]]);
  assert.ok(events.some((e) => e.type === 'solution-revealed' && e.data.stepId === 'answer'));
  assert.ok(s.ctx.store.auditEvents(run2).some((e) => e.type === 'solution-revealed' && e.data.by === 'alice'));
  // Revealed, they are on the step page for good (a reload keeps them).
  const page = await as(seat, 'GET', `/runs/${run1}/steps/greet`);
  assert.match(String(page.json), /The command prints hello-class\./);
  assert.match(String(page.json), /data-action="show-hint" disabled/);
});

test('progress: per trainee per step status, attempts, hints and time; stuck after 3 failures', async () => {
  const p = await as(tokens.alice!, 'GET', `/api/classes/${main.id}/progress`);
  assert.equal(p.status, 200);
  const t1 = p.json.trainees.find((t: any) => t.trainee === 'trainee-1');
  assert.equal(t1.runId, run1);
  assert.equal(t1.current, 'answer');
  assert.equal(t1.stuck, true);
  assert.ok(t1.lastActivity);
  const greet = t1.steps.find((x: any) => x.id === 'greet');
  assert.deepEqual({ status: greet.status, attempts: greet.attempts, hintsUsed: greet.hintsUsed }, { status: 'passed', attempts: 1, hintsUsed: 2 });
  const answer = t1.steps.find((x: any) => x.id === 'answer');
  assert.equal(answer.status, 'failed');
  assert.ok(answer.attempts >= 3);
  assert.equal(typeof answer.secondsOnStep, 'number');
  const t2 = p.json.trainees.find((t: any) => t.trainee === 'trainee-2');
  assert.equal(t2.current, 'greet');
  assert.equal(t2.stuck, false);
});

test('change feed: a step verdict reaches a subscriber of the class', async () => {
  const seen: string[] = [];
  const sub = s.ctx.classes.subscribe(main.id, (c) => {
    if (c.type === 'trainee') seen.push(c.trainee);
  });
  try {
    await as(main.seats[1]!.token, 'POST', `/api/runs/${run2}/steps/greet/execute`, {});
    await until(() => seen.includes('trainee-2'), 10_000, 'a change for trainee-2');
  } finally {
    sub.dispose();
  }
});

test('take over and hand back: the trainee’s keystrokes are refused meanwhile, the trainer’s go through, both recorded', async () => {
  const seat = main.seats[0]!.token;
  const trainee = await connect(seat, run1);
  const trainer = await connect(tokens.alice!, run1);
  assert.ok(trainer.events.some((e) => e.type === 'hello' && e.role === 'operator'));
  const other = await connect(tokens.bob!, run1);
  assert.ok(other.events.some((e) => e.type === 'hello' && e.role === 'viewer'), 'another trainer only watches');
  // Before the take-over the trainer's keystrokes do not reach the shell.
  trainer.type('echo trainer-early-$((40+2))\r');
  trainee.type('echo trainee-first-$((1+1))\r');
  await trainee.waitOutput(/trainee-first-2/);
  assert.ok(!/trainer-early-42/.test(trainee.output));
  const took = await as(tokens.alice!, 'POST', `/api/classes/${main.id}/trainees/trainee-1/takeover`, {});
  assert.equal(took.status, 200, JSON.stringify(took.json));
  await trainee.waitEvent('class-control', (m) => m.takenOverBy === 'alice');
  trainee.type('echo trainee-blocked-$((3+3))\r');
  trainer.type('echo trainer-typed-$((2+2))\r');
  await trainee.waitOutput(/trainer-typed-4/);
  assert.ok(!/trainee-blocked-6/.test(trainee.output), 'the trainee is refused while taken over');
  const view = await as(tokens.alice!, 'GET', `/api/classes/${main.id}`);
  assert.equal(view.json.seats[0].takenOverBy, 'alice');
  // A late socket of the trainee is told at once.
  const late = await connect(seat, run1);
  assert.ok(late.events.some((e) => e.type === 'class-control' && e.takenOverBy === 'alice'));
  late.close();
  const back = await as(tokens.alice!, 'POST', `/api/classes/${main.id}/trainees/trainee-1/handback`, {});
  assert.equal(back.status, 200);
  await trainee.waitEvent('class-control', (m) => m.takenOverBy === null);
  trainee.type('echo trainee-again-$((4+4))\r');
  await trainee.waitOutput(/trainee-again-8/);
  const events = s.ctx.store.auditEvents(run1);
  const take = events.find((e) => e.type === 'takeover');
  const hand = events.find((e) => e.type === 'handback');
  assert.equal(take?.data.by, 'alice');
  assert.equal(hand?.data.by, 'alice');
  assert.ok(take!.ts <= hand!.ts);
  assert.equal((await as(tokens.alice!, 'POST', `/api/classes/${main.id}/trainees/nobody/takeover`, {})).status, 404);
  trainer.close();
  other.close();
  trainee.close();
});

test('messages reach every trainee’s socket, are kept for late joiners and recorded in each run', async () => {
  const a = await connect(main.seats[0]!.token, run1);
  const b = await connect(main.seats[1]!.token, run2);
  const sent = await as(tokens.alice!, 'POST', `/api/classes/${main.id}/messages`, { text: 'Ten minutes left <b>' });
  assert.equal(sent.status, 201);
  for (const c of [a, b]) await c.waitEvent('class-message', (m) => m.text === 'Ten minutes left <b>' && m.from === 'alice');
  const late = await connect(main.seats[1]!.token, run2);
  assert.ok(late.events.some((e) => e.type === 'class-message' && e.text === 'Ten minutes left <b>'));
  const list = await as(main.seats[0]!.token, 'GET', `/api/classes/${main.id}/messages`);
  assert.equal(list.json.messages.at(-1).text, 'Ten minutes left <b>');
  assert.ok(s.ctx.store.auditEvents(run2).some((e) => e.type === 'class-message' && e.data.by === 'alice'));
  assert.equal((await as(tokens.alice!, 'POST', `/api/classes/${main.id}/messages`, { text: '' })).status, 400);
  for (const c of [a, b, late]) c.close();
});

test('the class report: CSV (formula-safe) and Markdown, per trainee per step', async () => {
  const evil = await makeClass({ seats: 1, name: '=HYPERLINK("http://x","y")' });
  const csv = await as(tokens.alice!, 'GET', `/api/classes/${evil.id}/report.csv`);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type')!, /text\/csv/);
  assert.ok(String(csv.json).includes(`"'=HYPERLINK(""http://x"",""y"")"`), String(csv.json));
  const main1 = await as(tokens.alice!, 'GET', `/api/classes/${main.id}/report.csv`);
  const lines = String(main1.json).trim().split('\r\n');
  assert.equal(lines[0], 'class,trainee,run,step,title,status,attempts,hints,solution,seconds,completion_percent');
  const greet1 = lines.find((l) => l.includes(',trainee-1,') && l.includes(',greet,'))!;
  assert.match(greet1, /,passed,1,2,no,\d+,33$/);
  const md = await as(tokens.alice!, 'GET', `/api/classes/${main.id}/report.md`);
  assert.match(String(md.json), /^# Class report: Class/);
  assert.match(String(md.json), /\| Greet \(greet\) \| passed \| 1 \| 2 \|/);
  assert.equal((await as(tokens.alice!, 'GET', `/api/classes/${main.id}/report.pdf`)).status, 400);
  await s.api('DELETE', `/api/classes/${evil.id}`);
});

test('the join link: signs the browser in as the seat and lands on its run; another site’s link only asks', async () => {
  const seat = main.seats[1]!;
  const asked = await fetch(seat.joinUrl, { redirect: 'manual', headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(asked.status, 200);
  assert.equal(asked.headers.get('set-cookie'), null, 'no session unasked');
  assert.match(await asked.text(), /<form method="post" action="\/join\//);
  const direct = await fetch(seat.joinUrl, { redirect: 'manual', headers: { 'sec-fetch-site': 'none' } });
  assert.equal(direct.status, 303);
  assert.equal(direct.headers.get('location'), `/runs/${run2}`);
  const cookie = direct.headers.get('set-cookie')!.split(';')[0]!;
  const step = await fetch(s.base + `/runs/${run2}`, { redirect: 'manual', headers: { cookie } });
  assert.equal(step.status, 303);
  assert.equal((await fetch(s.base + step.headers.get('location')!, { headers: { cookie } })).status, 200);
  assert.equal((await fetch(s.base + '/runs', { headers: { cookie } })).status, 403);
  assert.equal((await fetch(s.base + `/runs/${run1}`, { redirect: 'manual', headers: { cookie } })).status, 403);
  const wrong = await fetch(`${s.base}/join/sws_not-a-seat`, { headers: { 'sec-fetch-site': 'none' } });
  assert.equal(wrong.status, 404);
});

test('lab seats wait in a queue past STEPWISE_MAX_LABS and proceed, in order, when a lab frees', async () => {
  const labs = await makeClass({ seats: 4, target: 'lab' });
  const [a, b, c, d] = labs.seats;
  const first = await join(a!.token, labs.id);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const second = await join(b!.token, labs.id);
  assert.equal(second.status, 202);
  assert.deepEqual(second.json, { queued: 1 });
  const third = await join(c!.token, labs.id);
  assert.deepEqual(third.json, { queued: 2 });
  assert.deepEqual((await join(c!.token, labs.id)).json, { queued: 2 }, 'asking again keeps its place');
  const page = await fetch(c!.joinUrl, { redirect: 'manual', headers: { 'sec-fetch-site': 'none' } });
  assert.equal(page.status, 202);
  assert.match(page.headers.get('refresh') ?? '', /^3; url=/);
  assert.match(await page.text(), /data-queue-position="2"/);
  // The first trainee's run ends: the head of the queue gets the lab.
  assert.equal((await s.api('DELETE', `/api/runs/${first.json.runId}`)).status, 200);
  // A newcomer right then queues behind those waiting (the freed lab is the head's, b, which
  // may or may not have it yet): always behind c.
  assert.equal((await join(d!.token, labs.id)).status, 202);
  const snap = (await as(tokens.alice!, 'GET', `/api/classes/${labs.id}`)).json.seats;
  assert.equal(snap[3].queued, snap[2].queued + 1, JSON.stringify(snap));
  let got: any;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    got = await join(b!.token, labs.id);
    if (got.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(got.status, 200, JSON.stringify(got.json));
  assert.deepEqual((await join(c!.token, labs.id)).json, { queued: 1 });
  assert.deepEqual((await join(d!.token, labs.id)).json, { queued: 2 });
  const view = await as(tokens.alice!, 'GET', `/api/classes/${labs.id}`);
  assert.equal(view.json.seats[2].queued, 1);
  await as(tokens.alice!, 'DELETE', `/api/classes/${labs.id}`);
});

test('a class read in a translation: its runs read it, its hints are the translation’s', async () => {
  const c = await makeClass({ seats: 1, lang: 'ko' });
  assert.equal((await as(tokens.alice!, 'GET', `/api/classes/${c.id}`)).json.lang, 'ko');
  const seat = c.seats[0]!.token;
  const runId = (await join(seat, c.id)).json.runId as string;
  assert.equal((await as(seat, 'GET', `/api/runs/${runId}`)).json.options.lang, 'ko');
  const h = await as(seat, 'POST', `/api/runs/${runId}/steps/greet/hints`, {});
  assert.equal(h.json.hint, '단계 실행을 누르세요: 명령을 실행한 뒤 검사합니다.');
  await s.api('DELETE', `/api/classes/${c.id}`);
});

test('a class on @group spreads its seats over the group’s hosts, in turn', async () => {
  const c = await makeClass({ seats: 3, target: '@web' });
  const aimed: string[] = [];
  for (const seat of c.seats) {
    const j = await join(seat.token, c.id);
    // Nothing listens on those hosts: the run cannot start there, and says where it tried.
    assert.equal(j.status, 503, JSON.stringify(j.json));
    assert.equal(j.json.error.code, 'TARGET_FAILED');
    aimed.push(/target (web\d)/.exec(j.json.error.message)?.[1] ?? '?');
  }
  assert.deepEqual(aimed, ['web1', 'web2', 'web1']);
  await s.api('DELETE', `/api/classes/${c.id}`);
});

test('a rejoin after the session ended resumes the seat’s run; progress counts both runs', async () => {
  const c = await makeClass({ seats: 1 });
  const seat = c.seats[0]!.token;
  const first = (await join(seat, c.id)).json.runId as string;
  assert.equal((await as(seat, 'POST', `/api/runs/${first}/steps/greet/execute`, {})).json.status, 'passed');
  // The session ends (the grace period passed with the browser closed; here: ended by an admin).
  assert.equal((await s.api('DELETE', `/api/runs/${first}`)).status, 200);
  const again = await join(seat, c.id);
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.notEqual(again.json.runId, first);
  assert.equal(again.json.resumedFrom, first);
  const second = again.json.runId as string;
  // The resumed run starts at the first step not passed: the lock counts the earlier run's pass.
  assert.equal((await as(seat, 'POST', `/api/runs/${second}/steps/finish/execute`, {})).json.error.code, 'STEP_LOCKED');
  assert.equal((await as(seat, 'GET', `/api/runs/${first}`)).status, 200, 'its earlier run stays readable to the seat');
  const p = await as(tokens.alice!, 'GET', `/api/classes/${c.id}/progress`);
  const t = p.json.trainees[0];
  assert.equal(t.runId, second);
  assert.equal(t.current, 'answer');
  assert.equal(t.steps[0].status, 'passed');
  assert.equal((await join(seat, c.id)).json.runId, second, 'and a rejoin now gets the resumed run');
  await s.api('DELETE', `/api/classes/${c.id}`);
});

test('a time limit that runs out ends the class and its live runs as expired', async () => {
  const timed = await makeClass({ seats: 1, timeLimitMinutes: 30 });
  const j = await join(timed.seats[0]!.token, timed.id);
  const runId = j.json.runId as string;
  // Move its end into the past, as if the 30 minutes had gone by, and let a Classroom start on
  // the same records (as after a restart): its clock finds the class over.
  s.ctx.store.database.prepare('UPDATE classes SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), timed.id);
  const again = new Classroom({ store: s.ctx.store, runs: s.ctx.runs, audit: s.ctx.audit, catalog: s.ctx.catalog, log: s.ctx.log, targetIds: () => s.ctx.targetIds });
  again.dispose();
  const run = await s.api('GET', `/api/runs/${runId}`);
  assert.equal(run.json.status, 'expired');
  const c = await as(tokens.alice!, 'GET', `/api/classes/${timed.id}`);
  assert.equal(c.json.status, 'expired');
  assert.equal((await join(timed.seats[0]!.token, timed.id)).status, 401, 'an ended class’s seat no longer signs in');
  assert.deepEqual((await s.api('GET', '/api/runs?status=expired')).json.runs.map((r: any) => r.id), [runId]);
});

test('ending a class ends its runs and its seats’ sessions; every record stays', async () => {
  const seat = main.seats[0]!.token;
  const sock = await connect(seat, run1);
  const ended = await as(tokens.alice!, 'DELETE', `/api/classes/${main.id}`);
  assert.equal(ended.status, 200);
  assert.equal(ended.json.status, 'ended');
  await sock.waitEvent('session-ended');
  await until(() => sock.closed, 15_000, 'the seat socket to close');
  assert.equal((await join(seat, main.id)).status, 401);
  for (const id of [run1, run2]) {
    const r = await s.api('GET', `/api/runs/${id}`);
    assert.equal(r.status, 200);
    assert.notEqual(r.json.status, 'running');
    assert.equal(r.json.live, false);
  }
  assert.ok(s.ctx.store.auditEvents(run1).some((e) => e.type === 'class-ended'));
  const p = await as(tokens.alice!, 'GET', `/api/classes/${main.id}/progress`);
  assert.equal(p.status, 200);
  assert.equal(p.json.status, 'ended');
  assert.equal(p.json.trainees[0].stuck, false, 'nobody is stuck in an ended class');
  assert.equal((await as(tokens.alice!, 'POST', `/api/classes/${main.id}/messages`, { text: 'x' })).json.error.code, 'CLASS_ENDED');
  // Hints, solutions, take-over, hand-back, messages and the end are in chains that still verify.
  for (const id of [run1, run2]) assert.deepEqual(verifyRun(s.ctx.store, s.dataDir, id).problems, [], id);
});

test('the time limit’s clock: a class whose time runs out while the server runs ends on time, its runs expired', async () => {
  const timed = await makeClass({ seats: 1, timeLimitMinutes: 30 });
  const j = await join(timed.seats[0]!.token, timed.id);
  assert.equal(s.ctx.classes.get(timed.id)?.endedAt, null, 'not yet');
  // A Classroom whose clock reads 30 minutes later, less 300 ms: its timer fires in 300 ms.
  const later = new Classroom({ store: s.ctx.store, runs: s.ctx.runs, audit: s.ctx.audit, catalog: s.ctx.catalog, log: s.ctx.log, targetIds: () => s.ctx.targetIds, now: () => Date.now() + 30 * 60_000 - 300 });
  try {
    await until(() => s.ctx.store.getRun(j.json.runId)?.status === 'expired', 10_000, 'the run to expire');
    assert.equal(s.ctx.classes.get(timed.id)?.endReason, 'expired');
    assert.ok(s.ctx.store.auditEvents(j.json.runId).some((e) => e.type === 'class-ended' && e.data.reason === 'expired'));
  } finally {
    later.dispose();
  }
});

noLeaks();
