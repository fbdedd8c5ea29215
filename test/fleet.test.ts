// Fleet runs over real sshd in lab hosts (no mocks), one lab of four minimal hosts for the file:
// the CLI as a process — fan-out over @all with --parallel (a barrier proves two hosts at once,
// a counter that never more than two), inventory vars under --var, a failure with --max-fail 0
// skipping the rest with the reason, the host-counting totals line and exit code, canary
// --batches (each batch's runs start after the previous batch's ended, from the records),
// --resume FLEETID re-running only the hosts that did not pass (the failed one from its failed
// step), SIGINT mid-fleet (runs interrupted, no session folder or remote process left), the
// fleet report (JUnit well-formed, a testsuite per host); and the API over HTTP.
import { noLeaks } from './helpers/leaks.ts';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabTarget } from '../server/target/lab.ts';
import { hasSshd, LAB_MGMT, labSshPaths } from '../server/target/lab-ssh.ts';
import { runStepwise, sessionDirsOf, spawnStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';
import { startTestServer } from './helpers/server.ts';
import { childrenNamed, parseXml } from './helpers/xml.ts';

const canLab = process.getuid?.() === 0 && hasSshd() && fs.existsSync('/usr/bin/nc');

describe('fleet runs over SSH in lab hosts', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  let lab: LabTarget;
  let work: string;
  let data: string;
  let rbDir: string;
  const env = () => ({ STEPWISE_DATA: data });
  const hosts: Array<{ name: string; address: string }> = [];
  const fleetId = (out: string) => /^fleet (f\d{14}-[a-z2-7]{6}) /m.exec(out)?.[1];
  const fleetJson = (id: string) => JSON.parse(runStepwise(['report', id, '--format', 'json', '--runbooks', rbDir], env()).stdout) as {
    fleet: { status: string; counts: Record<string, number>; hosts: Array<{ host: string; status: string; reason?: string; runId: string; batch: number; started: boolean; resumeOf?: string }> };
    hosts: Array<{ host: string; report: { run: { status: string; startedAt: string; endedAt: string; parentRunId: string | null } } | null }>;
  };
  const ssh = (host: string, cmd: string) => {
    const p = labSshPaths(lab.stateDir);
    const address = hosts.find((h) => h.name === host)!.address;
    return spawnSync('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${p.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-i', p.clientKey, '-o', `ProxyCommand=ip netns exec ${lab.lanNetns} nc %h %p`, `root@${address}`, cmd], { encoding: 'utf8', timeout: 20_000 });
  };

  before(async () => {
    lab = await LabTarget.create({ hosts: 4, minimal: true, maskKvm: true });
    hosts.push({ name: 'kvmhost', address: lab.sshAddress! });
    for (const n of [2, 3, 4]) hosts.push({ name: `host${n}`, address: LAB_MGMT.host(n) });
    // The lab's exchange folder: every lab host sees it at the same path (their /tmp are their own).
    work = fs.mkdtempSync(path.join(lab.exchangeDir, 'sw-fleet-'));
    data = path.join(work, 'data');
    rbDir = path.join(work, 'runbooks');
    fs.mkdirSync(rbDir);
    const p = labSshPaths(lab.stateDir);
    const labels: Record<string, string> = { kvmhost: '[lab, kvm]', host2: '[lab, web]', host3: '[lab, web]', host4: '[lab, db]' };
    // inventory.yaml beside the runbooks folder: the CLI and the server both find it.
    fs.writeFileSync(
      path.join(work, 'inventory.yaml'),
      [
        'defaults:',
        '  user: root',
        `  identity: ${p.clientKey}`,
        `  known_hosts: ${p.knownHosts}`,
        `  proxy_command: ip netns exec ${lab.lanNetns} nc %h %p`,
        'hosts:',
        ...hosts.flatMap((h) => [`  ${h.name}:`, `    address: ${h.address}`, `    labels: ${labels[h.name]}`, ...(h.name === 'host2' ? ['    vars: {GREETING: from-inventory}'] : [])]),
        'groups:',
        '  web: [host2, host3]',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(rbDir, 'hello.md'),
      `---
vars:
  GREETING:
    default: hi
---
# Hello fleet

## Where

\`\`\`sh {id=where}
hostname
\`\`\`

\`\`\`sh {verify}
test -n "$(hostname)"
\`\`\`

## Greet

\`\`\`sh {id=greet}
echo "$(hostname) $GREETING" >> ${work}/greet.log
\`\`\`

\`\`\`sh {verify}
grep -q "^$(hostname) " ${work}/greet.log
\`\`\`
`,
    );
    // Fails on host3 until the test makes ${work}/fixed (the lab hosts see this folder).
    fs.writeFileSync(
      path.join(rbDir, 'picky.md'),
      `# Picky

## First

\`\`\`sh {id=first}
echo "$(hostname) first" >> ${work}/picky.log
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Picky

\`\`\`sh {verify}
test "$(hostname)" != host3 || test -e ${work}/fixed
\`\`\`

## After

\`\`\`sh {id=after}
echo "$(hostname) after" >> ${work}/picky.log
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`,
    );
    // Two hosts meet at a barrier (proves they run at once); a counter logs how many are inside.
    fs.writeFileSync(
      path.join(rbDir, 'barrier.md'),
      `# Barrier

## Meet

\`\`\`sh {id=meet timeout=120}
mkdir -p ${work}/active ${work}/barrier
mkdir ${work}/active/$(hostname) && ls ${work}/active | wc -l >> ${work}/concurrency
touch ${work}/barrier/$(hostname)
n=0; until [ "$(ls ${work}/barrier | wc -l)" -ge 2 ]; do sleep 0.1; n=$((n+1)); [ $n -lt 900 ] || exit 1; done
sleep 0.5; rmdir ${work}/active/$(hostname)
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`,
    );
    fs.writeFileSync(
      path.join(rbDir, 'slow.md'),
      `# Slow

## Nap

\`\`\`sh {id=nap}
touch ${work}/napping-$(hostname); sleep 240
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`,
    );
  });

  after(async () => {
    await lab?.dispose();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('fan-out over @all with --parallel 2: fleet id first, a line per host per step, the table, hosts counted; at most two at once', () => {
    const r = runStepwise(['run', 'barrier', '--runbooks', rbDir, '--target', '@all', '--parallel', '2'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^fleet f\d{14}-[a-z2-7]{6} barrier on @all: 4 hosts, parallel 2, max-fail 0, batches -$/);
    for (const h of ['kvmhost', 'host2', 'host3', 'host4']) assert.match(r.stdout, new RegExp(`^\\[${h}\\] +✓ meet passed`, 'm'));
    assert.match(r.stdout, /^host +batch +status/m);
    assert.equal(lines.at(-1), '4 passed, 0 failed, 0 skipped');
    const counts = fs.readFileSync(path.join(work, 'concurrency'), 'utf8').trim().split('\n').map(Number);
    assert.equal(counts.length, 4);
    assert.ok(Math.max(...counts) <= 2, `never more than --parallel at once: ${counts}`);
  });

  test('inventory vars apply per host, under --var; a label selector', () => {
    const r = runStepwise(['run', 'hello', '--runbooks', rbDir, '--target', '@web'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const log = fs.readFileSync(path.join(work, 'greet.log'), 'utf8');
    assert.match(log, /^host2 from-inventory$/m);
    assert.match(log, /^host3 hi$/m);
    const l = runStepwise(['run', 'hello', '--runbooks', rbDir, '--target', 'label=db', '--var', 'GREETING=from-cli'], env());
    assert.equal(l.code, 0, l.stdout + l.stderr);
    assert.match(fs.readFileSync(path.join(work, 'greet.log'), 'utf8'), /^host4 from-cli$/m);
    assert.match(l.stdout, /^1 passed, 0 failed, 0 skipped$/m);
    const bad = runStepwise(['run', 'hello', '--runbooks', rbDir, '--target', '@nope'], env());
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /no group "nope" in the inventory; groups: @web, @all/);
  });

  test('--max-fail 0: a failed host stops new starts, the rest skipped with the reason; exit 1; --resume FLEETID re-runs only them, the failed one from its failed step', () => {
    const r = runStepwise(['run', 'picky', '--runbooks', rbDir, '--target', 'host2,host3,host4', '--parallel', '1'], env());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const id = fleetId(r.stdout)!;
    assert.ok(id, r.stdout);
    assert.match(r.stdout, /^\[host3\] ✗ picky failed/m);
    assert.match(r.stdout, /^\[host4\] skipped — not started: the failure budget is spent \(1 host failed, more than --max-fail 0\)/m);
    assert.match(r.stdout, /^1 passed, 1 failed, 1 skipped$/m);
    assert.match(r.stdout, new RegExp(`stepwise run picky --resume ${id}`));
    const before = fleetJson(id);
    assert.equal(before.fleet.status, 'failed');
    assert.deepEqual(before.fleet.hosts.map((h) => [h.host, h.status, h.started]), [['host2', 'passed', true], ['host3', 'failed', true], ['host4', 'skipped', false]]);
    const failedRun = before.fleet.hosts[1]!.runId;

    fs.writeFileSync(path.join(work, 'fixed'), '');
    const again = runStepwise(['run', 'picky', '--runbooks', rbDir, '--resume', id], env());
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, new RegExp(`^resuming fleet ${id}: host3, host4$`, 'm'));
    assert.match(again.stdout, /^2 passed, 0 failed, 0 skipped$/m);
    assert.doesNotMatch(again.stdout, /\[host2\]/);
    const resumed = fleetJson(fleetId(again.stdout)!);
    assert.deepEqual(resumed.fleet.hosts.map((h) => h.host), ['host3', 'host4']);
    assert.equal(resumed.hosts[0]!.report!.run.parentRunId, failedRun);
    assert.equal(resumed.fleet.hosts[0]!.resumeOf, failedRun);
    // host3's resumed run started at the failed step: `first` ran once on host3 in all.
    assert.equal(fs.readFileSync(path.join(work, 'picky.log'), 'utf8').split('\n').filter((l) => l === 'host3 first').length, 1);
    fs.rmSync(path.join(work, 'fixed'));
  });

  test('--batches 1,50%: batches in order, each started after the one before ended; a JUnit report with a testsuite per host', () => {
    const r = runStepwise(['run', 'hello', '--runbooks', rbDir, '--target', '@all', '--batches', '1,50%'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const id = fleetId(r.stdout)!;
    const rep = fleetJson(id);
    assert.deepEqual(rep.fleet.hosts.map((h) => h.batch), [0, 1, 1, 2]);
    const runs = rep.hosts.map((h, i) => ({ batch: rep.fleet.hosts[i]!.batch, start: Date.parse(h.report!.run.startedAt), end: Date.parse(h.report!.run.endedAt) }));
    for (const a of runs) for (const b of runs) if (b.batch > a.batch) assert.ok(b.start >= a.end, `batch ${b.batch} started before batch ${a.batch} ended`);
    const xml = runStepwise(['report', id, '--format', 'junit', '--runbooks', rbDir], env());
    assert.equal(xml.code, 0);
    const suites = childrenNamed(parseXml(xml.stdout), 'testsuite');
    assert.deepEqual(suites.map((s) => s.attrs.name), ['kvmhost', 'host2', 'host3', 'host4']);
    const md = runStepwise(['report', id, '--format', 'md', '--runbooks', rbDir], env());
    assert.match(md.stdout, /\*\*Hosts:\*\* 4 passed, 0 failed, 0 skipped/);
  });

  test('SIGINT mid-fleet: every running host interrupted and sealed, the rest skipped, exit 130, nothing left behind', async () => {
    const cli = spawnStepwise(['run', 'slow', '--runbooks', rbDir, '--target', 'host2,host3,kvmhost,host4', '--parallel', '2'], env());
    try {
      await until(() => fs.existsSync(path.join(work, 'napping-host2')) && fs.existsSync(path.join(work, 'napping-host3')), 90_000, 'both hosts napping').catch((e: Error) => {
        throw new Error(`${e.message}: ${cli.output()}`);
      });
      const pid = cli.child.pid!;
      cli.child.kill('SIGINT');
      assert.equal(await cli.exited, 130, cli.output());
      const id = fleetId(cli.output())!;
      const rep = fleetJson(id);
      assert.equal(rep.fleet.status, 'interrupted');
      assert.deepEqual(rep.fleet.hosts.map((h) => h.status), ['interrupted', 'interrupted', 'skipped', 'skipped']);
      assert.match(rep.fleet.hosts[2]!.reason!, /not started: interrupted by SIGINT/);
      for (const h of rep.hosts.slice(0, 2)) assert.equal(h.report!.run.status, 'interrupted');
      assert.deepEqual(rep.hosts.slice(2).map((h) => h.report), [null, null]);
      assert.deepEqual(sessionDirsOf(pid), []);
      for (const h of ['host2', 'host3']) {
        // [2]: the pattern must not match this pgrep's own command line.
        const left = ssh(h, "pgrep -af 'sleep [2]40' || true");
        assert.equal(left.stdout.trim(), '', `${h} still runs the block: ${left.stdout}`);
      }
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  });

  test('API: POST /api/fleets reserves a run per host, GET shows the matrix, counts and budget; reports; roles', async () => {
    const s = await startTestServer(rbDir);
    try {
      const made = s.ctx.users.createToken('vera', 'viewer');
      assert.ok(made.ok);
      const viewer = { authorization: `Bearer ${made.value.token}` };
      const refused = await s.api('POST', '/api/fleets', { runbook: 'hello', target: '@web' }, viewer);
      assert.equal(refused.status, 403);
      const bad = await s.api('POST', '/api/fleets', { runbook: 'hello', target: '@nope' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'UNKNOWN_TARGET');
      assert.match(bad.json.error.message, /no group "nope"/);
      const one = await s.api('POST', '/api/fleets', { runbook: 'hello', target: 'host2' });
      assert.equal(one.status, 400);

      const res = await s.api('POST', '/api/fleets', { runbook: 'picky', target: 'host3,@web,kvmhost', parallel: 1, maxFail: '0' });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      const id = res.json.id as string;
      assert.deepEqual(res.json.runs.map((r: { host: string }) => r.host), ['host3', 'host2', 'kvmhost']);
      assert.ok(res.json.runs.every((r: { id: string }) => /^r\d{14}-[a-z2-7]{6}$/.test(r.id)));
      let v: any;
      const deadline = Date.now() + 120_000;
      for (;;) {
        v = (await s.api('GET', `/api/fleets/${id}`, undefined, viewer)).json;
        if (v.status !== 'running' || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(v.status, 'failed', JSON.stringify(v));
      assert.deepEqual(v.counts, { passed: 0, failed: 1, skipped: 2, running: 0, pending: 0, interrupted: 0 });
      assert.deepEqual(v.budget, { maxFail: '0', allowed: 0, failed: 1, exhausted: true });
      assert.deepEqual(v.steps.map((s: { id: string }) => s.id), ['first', 'picky', 'after']);
      assert.deepEqual(v.hosts[0].steps.map((s: { status: string }) => s.status), ['passed', 'failed', 'not-run']);
      assert.equal(v.hosts[0].runId, res.json.runs[0].id);
      assert.equal((await s.api('GET', `/api/runs/${v.hosts[0].runId}`)).json.status, 'failed');
      assert.match(v.hosts[1].reason, /failure budget is spent/);
      const list = await s.api('GET', '/api/fleets');
      assert.ok(list.json.fleets.some((f: { id: string }) => f.id === id));
      const xml = await s.api('GET', `/api/fleets/${id}/report.xml`);
      assert.equal(xml.status, 200);
      assert.deepEqual(childrenNamed(parseXml(xml.json as string), 'testsuite').map((t) => t.attrs.name), ['host3', 'host2', 'kvmhost']);
      assert.equal((await s.api('GET', `/api/fleets/${id}/report.md`)).status, 200);
      assert.equal((await s.api('POST', `/api/fleets/${id}/stop`, {}, viewer)).status, 403);
      assert.equal((await s.api('GET', '/api/fleets/f20990101000000-aaaaaa')).status, 404);

      // Stop a running fleet; its live Fleet tells every change to a subscriber.
      for (const f of fs.readdirSync(work)) if (f.startsWith('napping-')) fs.rmSync(path.join(work, f));
      const slow = await s.api('POST', '/api/fleets', { runbook: 'slow', target: 'host2,host3,host4', parallel: 2 });
      assert.equal(slow.status, 201, JSON.stringify(slow.json));
      const events: Array<{ type: string; host?: string; status: string; stepId?: string }> = [];
      s.ctx.fleets.get(slow.json.id)!.subscribe((e) => events.push(e));
      await until(() => fs.existsSync(path.join(work, 'napping-host2')) && fs.existsSync(path.join(work, 'napping-host3')), 90_000, 'two hosts napping');
      const stopped = await s.api('POST', `/api/fleets/${slow.json.id}/stop`, {});
      assert.equal(stopped.status, 200);
      assert.equal(stopped.json.status, 'interrupted');
      assert.deepEqual(stopped.json.hosts.map((h: { status: string }) => h.status), ['interrupted', 'interrupted', 'skipped']);
      assert.match(stopped.json.hosts[2].reason, /not started: stopped by /);
      assert.ok(events.some((e) => e.type === 'step' && e.host === 'host2' && e.stepId === 'nap' && e.status === 'running'), JSON.stringify(events));
      assert.ok(events.some((e) => e.type === 'host' && e.host === 'host4' && e.status === 'skipped'));
      assert.deepEqual(events.at(-1), { type: 'ended', fleetId: slow.json.id, status: 'interrupted', reason: stopped.json.reason });
      for (const h of ['host2', 'host3']) assert.equal(ssh(h, "pgrep -af 'sleep [2]40' || true").stdout.trim(), '');
    } finally {
      await s.stop();
    }
  });
});

noLeaks();
