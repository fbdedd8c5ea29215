// Runbooks that span hosts against real lab hosts over real sshd, through the CLI as a process:
// `--target lab` (one lab, a host per role, gone when the run ends) and `--role NAME=HOST` with
// a lab's inventory. Checks the records: the host of each block, one recording per role, one
// chain that `stepwise audit verify` accepts.
// Run: node --import tsx --test test/roles-lab.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LabTarget } from '../server/target/lab.ts';
import { hasSshd } from '../server/target/lab-ssh.ts';
import { RunStore } from '../server/record/store.ts';
import { runStepwise, spawnStepwise } from './helpers/cli.ts';

const canLab = process.getuid?.() === 0 && hasSshd() && fs.existsSync('/usr/bin/nc');
// Building a lab of two hosts (namespaces, overlays, two sshd, libvirtd) under load.
const RUN_MS = 240_000;

const RUNBOOK = `---
id: pair
roles: [source, destination]
---
# A pair of hosts

## Who is where {#where}

\`\`\`sh {id=src-name}
echo "source runs on $(hostname)"
\`\`\`

\`\`\`sh {id=dst-name on=destination}
echo "destination runs on $(hostname)"
\`\`\`

\`\`\`sh {verify id=dst-reaches-src on=destination}
test "$(hostname)" != "$(ssh -o BatchMode=yes \${SOURCE_HOST} hostname)"
\`\`\`

\`\`\`sh {verify id=src-check}
test -n "$(hostname)"
\`\`\`
`;

describe('two roles on two lab hosts, over sshd, from the CLI', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  let work: string;
  let data: string;
  let rbDir: string;
  const netnsNow = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('sw-'));

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-roles-lab-'));
    data = path.join(work, 'data');
    rbDir = path.join(work, 'runbooks');
    fs.mkdirSync(rbDir);
    // The destination reaches the source by the lab's host name (each lab host knows the others').
    fs.writeFileSync(path.join(rbDir, 'pair.md'), RUNBOOK.replace('${SOURCE_HOST}', 'host1'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** The run's records as the store has them, after the CLI process is gone. */
  const records = (runId: string) => {
    const store = RunStore.open(data);
    try {
      return { run: store.getRun(runId)!, blocks: store.blockResults(runId), events: store.auditEvents(runId) };
    } finally {
      store.close();
    }
  };

  const checkRun = (output: string, hosts: [string, string]) => {
    const runId = /run (\S+) pair on/.exec(output)?.[1];
    assert.ok(runId, output);
    const { run, blocks, events } = records(runId);
    assert.equal(run.status, 'passed', output);
    const where = Object.fromEntries(blocks.map((b) => [b.id, [b.role, b.host]]));
    assert.equal(where['src-name']![0], 'source');
    assert.equal(where['dst-name']![0], 'destination');
    assert.match(where['src-name']![1]!, new RegExp(`^${hosts[0]}\\b`));
    assert.match(where['dst-name']![1]!, new RegExp(`^${hosts[1]}\\b`));
    assert.match(blocks.find((b) => b.id === 'src-name')!.output, new RegExp(`source runs on ${hosts[0]}`));
    assert.match(blocks.find((b) => b.id === 'dst-name')!.output, new RegExp(`destination runs on ${hosts[1]}`));
    const roles = run.options.roles as Array<{ role: string; castPath: string; targetInfo: { host: string } }>;
    assert.deepEqual(roles.map((r) => r.role), ['source', 'destination']);
    assert.match(fs.readFileSync(roles[0]!.castPath, 'utf8'), new RegExp(`source runs on ${hosts[0]}`));
    assert.match(fs.readFileSync(roles[1]!.castPath, 'utf8'), new RegExp(`destination runs on ${hosts[1]}`));
    assert.deepEqual(events.filter((e) => e.type === 'recording-sealed').map((e) => e.data.role), ['source', 'destination']);
    const verify = runStepwise(['audit', 'verify', runId], { STEPWISE_DATA: data });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    return runId;
  };

  test('--target lab: one lab, a host per role; the lab is gone when the run ends', async () => {
    const before = new Set(netnsNow());
    const p = spawnStepwise(['run', 'pair', '--runbooks', rbDir, '--target', 'lab'], { STEPWISE_DATA: data });
    const code = await Promise.race([p.exited, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`no exit in ${RUN_MS} ms: ${p.output()}`)), RUN_MS).unref())]);
    assert.equal(code, 0, p.output());
    assert.match(p.output(), /source=lab,destination=lab:host2/);
    checkRun(p.output(), ['host1', 'host2']);
    assert.deepEqual(netnsNow().filter((n) => !before.has(n)), [], 'the run\'s lab is removed');
  });

  test('--role NAME=HOST with a lab\'s inventory; an unbound role is refused naming it', async () => {
    const lab = await LabTarget.create({ hosts: 2, minimal: true, maskKvm: true });
    try {
      const inv = path.join(work, 'inventory.yaml');
      fs.writeFileSync(inv, runStepwise(['lab', 'inventory', lab.labId]).stdout);
      const refused = runStepwise(['run', 'pair', '--runbooks', rbDir, '--inventory', inv, '--role', 'source=host1'], { STEPWISE_DATA: data });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout + refused.stderr, /role destination is not bound/);
      const one = runStepwise(['run', 'pair', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], { STEPWISE_DATA: data });
      assert.notEqual(one.code, 0);
      assert.match(one.stdout + one.stderr, /spans 2 hosts/);
      // host2 runs the source's blocks and host1 the destination's: the binding, not the order of hosts, decides.
      const p = spawnStepwise(['run', 'pair', '--runbooks', rbDir, '--inventory', inv, '--role', 'source=host2', '--role', 'destination=host1'], { STEPWISE_DATA: data });
      const code = await Promise.race([p.exited, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`no exit in ${RUN_MS} ms: ${p.output()}`)), RUN_MS).unref())]);
      // The runbook's check reaches host1 from the destination: here the destination is host1 itself, so it fails honestly.
      assert.equal(code, 1, p.output());
      assert.match(p.output(), /source=host2,destination=host1/);
      const runId = /run (\S+) pair on/.exec(p.output())![1]!;
      const { blocks } = records(runId);
      assert.match(blocks.find((b) => b.id === 'src-name')!.output, /source runs on host2/);
      assert.match(blocks.find((b) => b.id === 'dst-name')!.output, /destination runs on host1/);
      assert.equal(blocks.find((b) => b.id === 'dst-name')!.host!.startsWith('host1'), true);
      const verify = runStepwise(['audit', 'verify', runId], { STEPWISE_DATA: data });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      await lab.dispose();
    }
  });
});

noLeaks();
