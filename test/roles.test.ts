// Runbooks that span hosts, in-process and over the API: one shell per role (each block on its
// role's shell), one recording per role, one audit chain, role and host on every block result,
// resume per role, and the binding's errors. Two roles on `local` targets: each has its own
// shell, told apart by what the runbook leaves in it (an export, a directory).
// Run: node --import tsx --test test/roles.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { RunStore } from '../server/record/store.ts';
import { AuditLog } from '../server/record/audit.ts';
import { Runs } from '../server/run/runs.ts';
import { LocalTarget } from '../server/target/local.ts';
import type { TargetKind } from '../server/target/registry.ts';
import { createLogger } from '../server/log.ts';
import { verifyRun } from '../server/record/verification.ts';
import { bindRoles, parseRoleArgs } from '../server/run/role-binding.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';
import { TWO_ROLES } from './fixtures/roles-runbook.ts';
import { runStepwise, spawnStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';
import { RunHistory } from '../server/run/history.ts';
import { toMarkdown } from '../server/report/markdown.ts';
import { toJUnit } from '../server/report/junit.ts';
import { buildEvidence } from '../server/report/evidence.ts';
import { checkEvidence } from '../server/report/evidence-check.ts';
import { loadPlayerAssets, toHtml } from '../server/report/html.ts';
import { unzipSync } from 'fflate';

const local = (): TargetKind => ({ profile: () => new LocalTarget(), create: () => new LocalTarget() });

describe('binding roles (pure)', () => {
  const roles = ['source', 'destination'];
  test('each role to a target; --target lab; one role takes --target; a runbook without roles as before', () => {
    assert.deepEqual(bindRoles(roles, { source: 'a', destination: 'b' }, undefined), { ok: true, value: { kind: 'roles', roles: [{ role: 'source', target: 'a' }, { role: 'destination', target: 'b' }] } });
    assert.deepEqual(bindRoles(roles, undefined, 'lab'), { ok: true, value: { kind: 'lab', roles } });
    assert.deepEqual(bindRoles(['only'], undefined, 'h1'), { ok: true, value: { kind: 'roles', roles: [{ role: 'only', target: 'h1' }] } });
    assert.deepEqual(bindRoles(['only'], undefined, 'lab'), { ok: true, value: { kind: 'roles', roles: [{ role: 'only', target: 'lab' }] } });
    assert.deepEqual(bindRoles(undefined, undefined, 'h1'), { ok: true, value: { kind: 'single', target: 'h1' } });
    assert.deepEqual(bindRoles(undefined, undefined, undefined), { ok: true, value: { kind: 'single', target: 'local' } });
  });
  test('refusals name the role', () => {
    const msg = (o: ReturnType<typeof bindRoles>) => (o.ok ? '' : `${o.error.code} ${o.error.message}`);
    assert.match(msg(bindRoles(roles, { source: 'a' }, undefined)), /^ROLE_BINDING role destination is not bound/);
    assert.match(msg(bindRoles(roles, { source: 'a', destination: 'b', other: 'c' }, undefined)), /other is not a role of this runbook/);
    assert.match(msg(bindRoles(roles, undefined, 'host1')), /spans 2 hosts.*not one --target host1/);
    assert.match(msg(bindRoles(roles, undefined, undefined)), /source, destination are not bound/);
    assert.match(msg(bindRoles(roles, { source: 'a', destination: 'b' }, 'x')), /not both/);
    assert.match(msg(bindRoles(undefined, { source: 'a' }, undefined)), /declares no roles/);
    assert.deepEqual(parseRoleArgs(['a=b', 'c=ssh://u@h:22']), { ok: true, value: { a: 'b', c: 'ssh://u@h:22' } });
    assert.equal(parseRoleArgs(['a']).ok, false);
    assert.equal(parseRoleArgs(['a=b', 'a=c']).ok, false);
  });
});

describe('a run of two roles, in-process', () => {
  let dir: string;
  let data: string;
  let store: RunStore;
  let runs: Runs;
  const flag = path.join(os.tmpdir(), `sw-roles-flag-${process.pid}`);

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-roles-rb-'));
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-roles-data-'));
    fs.writeFileSync(path.join(dir, 'two.md'), TWO_ROLES(flag));
    fs.writeFileSync(path.join(dir, 'conv.md'), '---\nroles: [a, b]\n---\n# Converge\n\n## Done already {#done}\n\n```sh {id=make on=b}\necho should-not-run\n```\n\n```sh {verify id=there on=b}\ntest "$(basename "$PWD")" != nowhere\n```\n');
    fs.writeFileSync(path.join(dir, 'nap.md'), '---\nroles: [a, b]\n---\n# Nap\n\n## Wait {#wait}\n\n```sh {id=nap on=b}\necho napping; sleep 30\n```\n\n```sh {verify on=b}\ntrue\n```\n');
    fs.writeFileSync(path.join(dir, 'one.md'), '# One\n\n## S\n\n```sh\necho one\n```\n\n```sh {verify}\ntrue\n```\n');
    store = RunStore.open(data);
    const catalog = loadCatalog(dir);
    runs = new Runs({ catalog: () => catalog, store, audit: new AuditLog(store, data), dataDir: data, log: createLogger('silent'), targets: { local: local(), other: local() } });
  });

  after(() => {
    runs.dispose();
    store.close();
    fs.rmSync(flag, { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  test('each block runs on its role\'s shell; results carry role and host; two recordings, one chain; resume restores each role', async () => {
    fs.rmSync(flag, { force: true });
    const created = await runs.create({ runbook: 'two', roles: { source: 'local', destination: 'other' }, options: { interactive: false } }, 'tester');
    assert.ok(created.ok, JSON.stringify(!created.ok && created.error));
    const run = created.value;
    assert.deepEqual(run.roles, ['source', 'destination']);
    const setup = await run.executeStep('setup');
    assert.ok(setup.ok);
    assert.equal(setup.value.status, 'passed', JSON.stringify(setup.value));
    const handover = await run.executeStep('handover');
    assert.ok(handover.ok);
    assert.equal(handover.value.status, 'failed');
    const terminalOf = (role: string) => run.terminal(role)!;
    assert.notEqual(terminalOf('source').session, terminalOf('destination').session);
    run.end();

    const rec = store.getRun(run.id)!;
    assert.equal(rec.status, 'failed');
    assert.equal(rec.target, 'source=local,destination=other');
    const roles = rec.options.roles as Array<{ role: string; target: string; host: string; castPath: string; targetInfo: { host: string } }>;
    assert.deepEqual(roles.map((r) => [r.role, r.target]), [['source', 'local'], ['destination', 'other']]);
    assert.equal(roles[0]!.host, os.hostname());
    // Each block's role and host, in the records.
    const results = store.blockResults(run.id);
    const where = Object.fromEntries(results.map((r) => [r.id, `${r.role}@${r.host}`]));
    assert.deepEqual(where, {
      'src-setup': `source@${os.hostname()}`,
      'dst-setup': `destination@${os.hostname()}`,
      'src-check': `source@${os.hostname()}`,
      'dst-check': `destination@${os.hostname()}`,
      handover: `destination@${os.hostname()}`,
      'after-src': `source@${os.hostname()}`,
      'after-dst': `destination@${os.hostname()}`,
    });
    assert.match(results.find((r) => r.id === 'src-setup')!.output, /source says source/);
    assert.match(results.find((r) => r.id === 'dst-setup')!.output, /destination says destination/);
    // Two recordings: each terminal's output in its own.
    assert.equal(roles[0]!.castPath, rec.castPath);
    const srcCast = fs.readFileSync(roles[0]!.castPath, 'utf8');
    const dstCast = fs.readFileSync(roles[1]!.castPath, 'utf8');
    assert.notEqual(roles[0]!.castPath, roles[1]!.castPath);
    assert.match(srcCast, /source says source/);
    assert.doesNotMatch(srcCast, /destination says/);
    assert.match(dstCast, /destination says destination/);
    assert.doesNotMatch(dstCast, /source says/);
    assert.match(dstCast, /"m", "setup\/dst-setup"/);
    // One chain, both recordings sealed in it, and it verifies.
    const events = store.auditEvents(run.id);
    assert.deepEqual(events.filter((e) => e.type === 'recording-sealed').map((e) => e.data.role), ['source', 'destination']);
    assert.equal(events.find((e) => e.type === 'block-finished' && e.data.blockId === 'dst-setup')!.data.role, 'destination');
    assert.deepEqual(verifyRun(store, data, run.id).problems, []);
    // Reports: each execution's role and host, each role's binding; evidence carries both recordings.
    const history = new RunHistory(store, () => loadCatalog(dir));
    const report = history.report(run.id);
    assert.ok(report.ok);
    const md = toMarkdown(report.value);
    assert.match(md, /`dst-setup` \(command\) — .*on destination \(/);
    assert.match(md, /\| Role destination \| `other`/);
    const junit = toJUnit(report.value);
    assert.match(junit, /name="stepwise.role.destination" value="other /);
    assert.match(junit, /--- dst-setup \(command\): .*on destination \(/);
    const assets = loadPlayerAssets();
    const html = toHtml({ report: report.value, events: store.auditEvents(run.id), cast: srcCast, assets });
    assert.match(html, /on <b class="role">destination \(/);
    const ev = buildEvidence(history, run.id, { assets });
    assert.ok(ev.ok);
    assert.equal(Buffer.from(unzipSync(ev.value.zip)['recording.destination.cast']!).toString('utf8'), dstCast);
    const checked = checkEvidence(ev.value.zip);
    assert.deepEqual(checked.problems, []);
    assert.ok(checked.passed.some((p) => p.startsWith('recording.destination.cast: its sha256 is the one sealed')));
    // A recording changed afterwards is caught.
    fs.appendFileSync(roles[1]!.castPath, '[9, "o", "forged"]\n');
    assert.match(JSON.stringify(verifyRun(store, data, run.id).problems), /role destination/);

    // Resume: each role's shell comes back with its own exports and directory.
    fs.writeFileSync(flag, '');
    // Given no binding (the step page's Resume sends none), it keeps its parent's.
    const again = await runs.create({ runbook: 'two', resume: run.id, options: { interactive: false } }, 'tester');
    assert.ok(again.ok, JSON.stringify(!again.ok && again.error));
    assert.equal(store.getRun(again.value.id)!.target, 'source=local,destination=other');
    assert.equal(again.value.resumedFrom?.stepId, 'handover');
    const v = await again.value.executeStep('handover');
    assert.ok(v.ok);
    assert.equal(v.value.status, 'passed', JSON.stringify(v.value));
    assert.match(v.value.blocks[0]!.output, /handover on destination in dst/);
    again.value.end();
    assert.equal(store.getRun(again.value.id)!.status, 'passed');
  });

  test('interrupting a run stops the block on its role\'s shell and records it; every shell goes', async () => {
    const created = await runs.create({ runbook: 'nap', roles: { a: 'local', b: 'local' }, options: { interactive: false } }, 'tester');
    assert.ok(created.ok);
    const run = created.value;
    const pending = run.executeStep('wait');
    await until(() => run.terminal('b')!.session.state === 'busy', 10_000, 'the block to run on b');
    assert.equal(run.terminal('a')!.session.state, 'idle');
    assert.equal(run.busy, true);
    await run.interrupt('interrupted by the test');
    await pending;
    assert.equal(store.getRun(run.id)!.status, 'interrupted');
    const nap = store.blockResults(run.id).find((r) => r.id === 'nap')!;
    assert.equal(nap.end, 'interrupted');
    assert.equal(nap.role, 'b');
    assert.equal(run.terminal('a')!.session.state, 'ended');
    assert.equal(run.terminal('b')!.session.state, 'ended');
    assert.deepEqual(verifyRun(store, data, run.id).problems, []);
  });

  test('the CLI: --plan puts each block on its role, an unbound role is refused naming it', () => {
    const env = { STEPWISE_DATA: data };
    const plan = runStepwise(['run', 'two', '--runbooks', dir, '--plan', '--role', 'source=local', '--role', 'destination=local'], env);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /plan for two on source=local,destination=local/);
    assert.match(plan.stdout, /run {4}dst-setup {2}\(on destination\)/);
    assert.match(plan.stdout, /run {4}src-setup {2}\(on source\)/);
    const refused = runStepwise(['run', 'two', '--runbooks', dir, '--role', 'source=local'], env);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /role destination is not bound to a target: add --role destination=TARGET/);
    const one = runStepwise(['run', 'two', '--runbooks', dir, '--target', 'local'], env);
    assert.equal(one.code, 2);
    assert.match(one.stdout + one.stderr, /spans 2 hosts \(roles: source, destination\)/);
    const bad = runStepwise(['run', 'two', '--runbooks', dir, '--role', 'source'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout + bad.stderr, /--role NAME=TARGET/);
  });

  test('a CLI run killed mid-block: the next command ends it interrupted with every role\'s recording sealed', async () => {
    const env = { STEPWISE_DATA: data };
    const p = spawnStepwise(['run', 'nap', '--runbooks', dir, '--role', 'a=local', '--role', 'b=local', '--verbose'], env);
    await p.waitFor(/napping/, 30_000);
    const runId = /run (\S+) nap on a=local,b=local/.exec(p.output())?.[1];
    assert.ok(runId, p.output());
    p.child.kill('SIGKILL');
    await p.exited;
    const verify = runStepwise(['audit', 'verify', runId], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const events = store.auditEvents(runId);
    assert.deepEqual(events.filter((e) => e.type === 'recording-sealed').map((e) => e.data.role), ['a', 'b']);
    assert.equal(store.getRun(runId)!.status, 'interrupted');
  });

  test('converge: a step whose checks already pass on their role\'s shell is not run', async () => {
    const created = await runs.create({ runbook: 'conv', roles: { a: 'local', b: 'local' }, options: { interactive: false, converge: true } }, 'tester');
    assert.ok(created.ok);
    const v = await created.value.executeStep('done');
    created.value.end();
    assert.ok(v.ok);
    assert.equal(v.value.status, 'passed');
    assert.match(v.value.reason ?? '', /already satisfied/);
    const results = store.blockResults(created.value.id);
    assert.deepEqual(results.map((r) => [r.id, r.role, r.end]), [['there', 'b', 'exit'], ['make', 'b', 'skipped']]);
  });

  test('binding errors: an unbound role, an unknown target, --target for two roles, roles for a runbook without', async () => {
    const cases: Array<[Parameters<Runs['create']>[0], RegExp]> = [
      [{ runbook: 'two', roles: { source: 'local' } }, /ROLE_BINDING.*destination is not bound/],
      [{ runbook: 'two', roles: { source: 'local', destination: 'nowhere' } }, /UNKNOWN_TARGET.*nowhere/],
      [{ runbook: 'two', target: 'local' }, /ROLE_BINDING.*--role NAME=TARGET/],
      [{ runbook: 'two' }, /ROLE_BINDING.*source, destination are not bound/],
      [{ runbook: 'one', roles: { a: 'local' } }, /ROLE_BINDING.*declares no roles/],
    ];
    for (const [req, re] of cases) {
      const r = await runs.create(req, 'tester');
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(`${r.error.code} ${r.error.message}`, re);
    }
    assert.equal(runs.size, 0);
    // Without roles, nothing changes: one shell, no role on anything.
    const one = await runs.create({ runbook: 'one' }, 'tester');
    assert.ok(one.ok);
    assert.deepEqual(one.value.roles, []);
    await one.value.executeStep('s');
    one.value.end();
    const r = store.blockResults(one.value.id)[0]!;
    assert.equal(r.role, undefined);
    assert.equal(store.getRun(one.value.id)!.target, 'local');
    assert.equal(store.getRun(one.value.id)!.options.roles, undefined);
  });
});

describe('the API with roles', () => {
  let srv: TestServer;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-roles-api-'));
    fs.writeFileSync(path.join(dir, 'two.md'), TWO_ROLES('/'));
    srv = await startTestServer(dir);
  });
  after(async () => {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('POST /api/runs with roles: each role\'s terminal over its own websocket; block events carry the role', async () => {
    const bad = await srv.api('POST', '/api/runs', { runbook: 'two', roles: { source: 'local' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'ROLE_BINDING');
    assert.match(bad.json.error.message, /destination/);
    assert.equal((await srv.api('POST', '/api/runs', { runbook: 'two', roles: ['local'] })).status, 400);
    const r = await srv.api('POST', '/api/runs', { runbook: 'two', roles: { source: 'local', destination: 'local' } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id as string;
    assert.deepEqual(Object.keys(r.json.terminals), ['source', 'destination']);
    const ws = srv.base.replace(/^http/, 'ws');
    const headers = { authorization: `Bearer ${srv.token}`, origin: srv.base };
    const src = await TermClient.connect(`${ws}/ws/runs/${id}`, headers);
    const dst = await TermClient.connect(`${ws}${r.json.terminals.destination}`, headers);
    await assert.rejects(TermClient.connect(`${ws}/ws/runs/${id}?terminal=nope`, headers), /HTTP 404/);
    try {
      assert.equal((await dst.waitEvent('hello')).terminal, 'destination');
      assert.equal((await src.waitEvent('hello')).terminal, 'source');
      const step = await srv.api('POST', `/api/runs/${id}/steps/setup/execute`, {});
      assert.equal(step.status, 200, JSON.stringify(step.json));
      assert.equal(step.json.status, 'passed');
      await src.waitOutput(/source says source/);
      await dst.waitOutput(/destination says destination/);
      assert.doesNotMatch(src.output, /destination says/);
      assert.doesNotMatch(dst.output, /source says/);
      const started = await src.waitEvent('block-started', (m) => m.blockId === 'dst-setup');
      assert.equal(started.role, 'destination');
      // Typing goes to the terminal it was typed in.
      dst.type('echo typed-$WHO\r');
      await dst.waitOutput(/typed-destination/);
      const report = await srv.api('GET', `/api/runs/${id}`);
      assert.equal(report.status, 200);
      // The destination's recording, by ?role=; the report page says where each block ran.
      const cast = await fetch(`${srv.base}/api/runs/${id}/recording.cast?role=destination`, { headers: { authorization: `Bearer ${srv.token}` } });
      assert.equal(cast.status, 200);
      const castText = await cast.text();
      assert.match(castText, /destination says destination/);
      assert.doesNotMatch(castText, /source says/);
      assert.equal((await srv.api('GET', `/api/runs/${id}/recording.cast?role=nope`)).status, 404);
      const page = await srv.api('GET', `/runs/${id}/report`);
      assert.equal(page.status, 200);
      assert.match(String(page.json), /data-exec-role="destination"/);
    } finally {
      src.close();
      dst.close();
      await srv.api('DELETE', `/api/runs/${id}`);
    }
  });
});

noLeaks();
