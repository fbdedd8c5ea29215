// The guide's network section rolled back in the lab (issue 10 §4): section 2.2 runs on a lab
// host (its files written, the bridges up, /etc/hosts changed), then a step after it fails;
// the rollback runs section 2.2's rollback blocks, the last step first, and the host's files,
// links, addresses and default route are as they were before the section. Inside the lab only.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabTarget } from '../server/target/lab.ts';
import { fixedKind } from '../server/target/registry.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { RunStore } from '../server/record/store.ts';
import { AuditLog } from '../server/record/audit.ts';
import { Runs } from '../server/run/runs.ts';
import { RunHistory } from '../server/run/history.ts';
import { rollBackLive } from '../server/run/rollback.ts';
import { createLogger } from '../server/log.ts';
import { cmd } from './helpers/blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SECTION = 'kvm-2.2-bridge-network';

/** A step after the network section that fails, as the next section's first step might. */
const FAILING_STEP = `
## Go on after the network section

\`\`\`sh {id=after-network}
echo "the next section fails here"; false
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`;

/** What the network section changes on the host, as one text to compare. */
const STATE = [
  'echo "== interfaces.d"; ls -A /etc/network/interfaces.d 2>/dev/null || true',
  'for f in /etc/network/interfaces.d/*; do [ -f "$f" ] && { echo "-- $f"; cat "$f"; }; done',
  'echo "== hosts"; cat /etc/hosts',
  'echo "== links"; ip -o link show | awk \'{print $2, $0 ~ /master/ ? "port" : ""}\' | sort',
  'echo "== addresses"; ip -4 -o addr show | awk \'{print $2, $4}\' | sort',
  'echo "== routes"; ip -4 route show',
  'echo "== saved"; ls /var/lib/stepwise-kvm-2.2 2>/dev/null || true',
].join('\n');

/** Runs a script in a shell on the lab host; its output. */
async function onLab(lab: LabTarget, script: string): Promise<string> {
  const session = await TerminalSession.start(lab);
  try {
    const r = await new Executor(session).runBlock(cmd('lab', script));
    assert.equal(r.status, 'passed', r.output);
    return r.output;
  } finally {
    session.dispose();
  }
}

const hostState = (lab: LabTarget) => onLab(lab, STATE);

/** A host as the guide finds it: its address and default route on eth0 (which the section moves to br0). */
const HOST_ON_ETH0 = 'ip addr add 192.168.123.40/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.123.254 dev eth0';

test('the network section rolled back in the lab: files, bridges, addresses and route as before', { timeout: 8 * 60_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-rollback-lab-'));
  const rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, `${SECTION}.md`), fs.readFileSync(path.join(ROOT, 'runbooks/guide', `${SECTION}.md`), 'utf8').trimEnd() + '\n' + FAILING_STEP);
  const lab = await LabTarget.create({ persistent: true });
  const store = RunStore.open(path.join(tmp, 'data'));
  const catalog = loadCatalog(rbDir);
  const runs = new Runs({
    catalog: () => catalog,
    store,
    audit: new AuditLog(store, path.join(tmp, 'data')),
    dataDir: path.join(tmp, 'data'),
    log: createLogger('silent'),
    targets: { lab: fixedKind(lab) },
  });
  try {
    await onLab(lab, HOST_ON_ETH0);
    const before = await hostState(lab);
    assert.match(before, /^eth0 192\.168\.123\.40\/24$/m);
    assert.match(before, /^default via 192\.168\.123\.254 dev eth0/m);
    const created = await runs.create({ runbook: SECTION, target: 'lab', options: { interactive: false } }, 'tester');
    assert.ok(created.ok, created.ok ? '' : created.error.message);
    const run = created.value;
    const rb = catalog.get(SECTION)!.runbook!;
    const verdicts: string[] = [];
    for (const step of rb.steps) {
      const v = await run.executeStep(step.id, { confirmed: true });
      assert.ok(v.ok, v.ok ? '' : v.error.message);
      verdicts.push(`${step.id}: ${v.value.status}${v.value.reason ? ` (${v.value.reason})` : ''}`);
      if (v.value.status === 'failed') break;
    }
    // The section passed (on the lab's platform), the step after it failed.
    assert.match(verdicts.at(-1)!, /^go-on-after-the-network-section: failed/, verdicts.join('\n'));
    assert.ok(verdicts.slice(0, -1).every((v) => / (passed|skipped)/.test(v)), verdicts.join('\n'));
    assert.ok(verdicts.includes('restart-the-network: passed'), verdicts.join('\n'));
    const during = await hostState(lab);
    assert.notEqual(during, before);
    assert.match(during, /^eth0\S* port$/m);
    assert.match(during, /^br0 192\.168\.123\.40\/24$/m);
    assert.doesNotMatch(during, /^eth0 192/m);

    const out = await rollBackLive(run, new RunHistory(store), { confirmed: true });
    assert.ok(out.ok, out.ok ? '' : out.error.message);
    assert.equal(out.value.status, 'passed', JSON.stringify(out.value.results.filter((r) => r.status === 'failed')));
    // The last step first: /etc/hosts, then the bridges, the files of br1 and br0, NetworkManager.
    assert.deepEqual(out.value.undone, [
      'make-the-host-name-resolve-to-the-bridge-address',
      'restart-the-network',
      'describe-eth1-as-a-port-of-br1',
      'describe-eth0-as-a-port-of-br0',
      'take-the-nics-away-from-networkmanager',
    ]);
    run.end();
    const after = await hostState(lab);
    assert.equal(after, before);
    assert.equal(store.auditEvents(run.id).find((e) => e.type === 'rollback-ended')?.data.status, 'passed');
  } finally {
    runs.dispose();
    store.close();
    await lab.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

noLeaks();
