// Fleet rollback over real sshd in lab hosts (issue 10 §4): `stepwise run --target @all
// --rollback` — a step fails on the last host; every host that had passed that step is rolled
// back (all its passed steps, the last first), and so is the failed host (its passed steps);
// each host's rollback is its own run on that host, linked to the host's run, its chain intact.
import { noLeaks } from './helpers/leaks.ts';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabTarget } from '../server/target/lab.ts';
import { hasSshd, LAB_MGMT, labSshPaths } from '../server/target/lab-ssh.ts';
import { runStepwise } from './helpers/cli.ts';
import { startTestServer } from './helpers/server.ts';
import { RunStore } from '../server/record/store.ts';
import { fleetRollbackHosts } from '../server/run/rollback.ts';

const canLab = process.getuid?.() === 0 && hasSshd() && fs.existsSync('/usr/bin/nc');

test('fleetRollbackHosts: the failed hosts and those that passed the failed step; none without a failure', () => {
  const h = (host: string, status: string, steps: Array<[string, string]>, started = true) => ({ host, runId: `r-${host}`, started, status, steps: steps.map(([id, s]) => ({ id, status: s })) });
  const hosts = [
    h('a', 'passed', [['one', 'passed'], ['two', 'passed']]),
    h('b', 'failed', [['one', 'passed'], ['two', 'failed']]),
    h('c', 'skipped', [['one', 'not-run'], ['two', 'not-run']], false),
    h('d', 'failed', [['one', 'failed'], ['two', 'not-run']]),
  ];
  assert.deepEqual(fleetRollbackHosts(hosts), [
    { host: 'a', runId: 'r-a', reason: 'step one failed on d' },
    { host: 'b', runId: 'r-b', reason: 'a step failed on b' },
    { host: 'd', runId: 'r-d', reason: 'a step failed on d' },
  ]);
  assert.deepEqual(fleetRollbackHosts([hosts[0]!]), []);
});

describe('fleet --rollback over SSH in lab hosts', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  let lab: LabTarget;
  let work: string;
  let data: string;
  let rbDir: string;

  before(async () => {
    lab = await LabTarget.create({ hosts: 3, minimal: true, maskKvm: true });
    const hosts = [{ name: 'kvmhost', address: lab.sshAddress! }, { name: 'host2', address: LAB_MGMT.host(2) }, { name: 'host3', address: LAB_MGMT.host(3) }];
    // The lab's exchange folder: every lab host sees it at the same path (their /tmp are their own).
    work = fs.mkdtempSync(path.join(lab.exchangeDir, 'sw-rollback-fleet-'));
    data = path.join(work, 'data');
    rbDir = path.join(work, 'runbooks');
    fs.mkdirSync(rbDir);
    const p = labSshPaths(lab.stateDir);
    fs.writeFileSync(
      path.join(work, 'inventory.yaml'),
      [
        'defaults:',
        '  user: root',
        `  identity: ${p.clientKey}`,
        `  known_hosts: ${p.knownHosts}`,
        `  proxy_command: ip netns exec ${lab.lanNetns} nc %h %p`,
        'hosts:',
        ...hosts.flatMap((h) => [`  ${h.name}:`, `    address: ${h.address}`]),
        '',
      ].join('\n'),
    );
    // Fails on host3 at "Picky"; the other hosts pass every step.
    fs.writeFileSync(
      path.join(rbDir, 'canary.md'),
      `# Canary

## First

\`\`\`sh {id=first}
echo "$(hostname) first" >> ${work}/log
\`\`\`

\`\`\`sh {id=first-undo rollback=true}
echo "$(hostname) undo-first" >> ${work}/log
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Picky

\`\`\`sh {id=picky}
echo "$(hostname) picky" >> ${work}/log
\`\`\`

\`\`\`sh {id=picky-undo rollback=true}
echo "$(hostname) undo-picky" >> ${work}/log
\`\`\`

\`\`\`sh {verify}
test "$(hostname)" != host3
\`\`\`
`,
    );
  });

  after(async () => {
    await lab?.dispose();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('a step fails on host3: host3 and the hosts that passed it are rolled back, each in its own linked run', () => {
    const r = runStepwise(['run', 'canary', '--runbooks', rbDir, '--target', '@all', '--parallel', '1', '--rollback'], { STEPWISE_DATA: data });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const log = fs.readFileSync(path.join(work, 'log'), 'utf8').trim().split('\n');
    const of = (host: string) => log.filter((l) => l.startsWith(`${host} `)).map((l) => l.slice(host.length + 1));
    // kvmhost's hostname is the lab's first host name.
    const names = [...new Set(log.map((l) => l.split(' ')[0]!))];
    assert.equal(names.length, 3, log.join('\n'));
    const failedName = 'host3';
    for (const n of names) {
      if (n === failedName) assert.deepEqual(of(n), ['first', 'picky', 'undo-first']);
      else assert.deepEqual(of(n), ['first', 'picky', 'undo-picky', 'undo-first']);
    }
    assert.match(r.stdout, /^\[host3\]\s+rollback of run \S+ in run \S+: first \(a step failed on host3\)$/m);
    assert.match(r.stdout, /^\[host2\]\s+rollback of run \S+ in run \S+: picky, first \(step picky failed on host3\)$/m);
    assert.match(r.stdout, /^\[kvmhost\]\s+rollback passed: undone picky, first$/m);

    const store = RunStore.open(data);
    try {
      const all = store.listRuns();
      const rollbacks = all.filter((x) => typeof x.options.rollbackOf === 'string');
      assert.deepEqual(rollbacks.map((x) => x.target).sort(), ['host2', 'host3', 'kvmhost']);
      for (const rb of rollbacks) {
        const parent = all.find((x) => x.id === rb.options.rollbackOf)!;
        assert.equal(parent.target, rb.target, 'each host is rolled back on itself');
        assert.equal(rb.status, 'ended');
        assert.equal(store.auditEvents(rb.id).find((e) => e.type === 'rollback-ended')?.data.status, 'passed');
      }
    } finally {
      store.close();
    }
    const v = runStepwise(['audit', 'verify', '--all', '--data', data]);
    assert.equal(v.code, 0, v.stdout);
  });

  test('API: POST /api/fleets/:id/rollback rolls back an ended failed fleet once; refuses a viewer', async () => {
    const s = await startTestServer(rbDir);
    try {
      fs.rmSync(path.join(work, 'log'), { force: true });
      const made = s.ctx.users.createToken('vera', 'viewer');
      assert.ok(made.ok);
      const viewer = { authorization: `Bearer ${made.value.token}` };
      const res = await s.api('POST', '/api/fleets', { runbook: 'canary', target: '@all', parallel: 1 });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      const id = res.json.id as string;
      let v: any;
      const deadline = Date.now() + 120_000;
      for (;;) {
        v = (await s.api('GET', `/api/fleets/${id}`)).json;
        if (v.status !== 'running' || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(v.status, 'failed', JSON.stringify(v));
      assert.equal((await s.api('POST', `/api/fleets/${id}/rollback`, {}, viewer)).status, 403);
      const done = await s.api('POST', `/api/fleets/${id}/rollback`, {});
      assert.equal(done.status, 200, JSON.stringify(done.json));
      assert.deepEqual(done.json.hosts.map((h: { host: string; status: string; undone: string[] }) => [h.host, h.status, h.undone.join(',')]), [
        ['kvmhost', 'passed', 'picky,first'],
        ['host2', 'passed', 'picky,first'],
        ['host3', 'passed', 'first'],
      ]);
      assert.equal(fs.readFileSync(path.join(work, 'log'), 'utf8').split('\n').filter((l) => l.includes(' undo-')).length, 5);
      const again = await s.api('POST', `/api/fleets/${id}/rollback`, {});
      assert.equal(again.status, 200);
      assert.ok(again.json.hosts.every((h: { error?: { code: string; message: string } }) => h.error?.code === 'ROLLBACK_REFUSED' && /already rolled back/.test(h.error.message)), JSON.stringify(again.json));
      assert.equal((await s.api('POST', '/api/fleets/f20990101000000-aaaaaa/rollback', {})).status, 404);
    } finally {
      await s.stop();
    }
  });
});

noLeaks();
