// The lab target: a disposable host made of namespaces. It does what the guide needs, never
// touches this machine's network, /etc or devices, and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LabTarget } from '../server/target/lab.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { cmd, check } from './helpers/blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** What must be exactly the same after a lab: links, routes, namespaces, mounts and /etc. */
function hostState(): Record<string, string> {
  const run = (c: string, ...a: string[]) => execFileSync(c, a, { encoding: 'utf8' });
  const etc = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      const st = fs.lstatSync(p);
      etc.update(`${p} ${st.mode} ${st.size} ${st.mtimeMs}\n`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('/etc');
  return {
    links: run('ip', '-o', 'link').replace(/\s+/g, ' '),
    addrs: run('ip', '-o', 'addr'),
    routes: run('ip', 'route') + run('ip', '-6', 'route'),
    // Other labs (another test run, a person's `stepwise lab up`) may come and go meanwhile.
    netns: run('ip', 'netns', 'list').split('\n').filter((l) => !/^sw-/.test(l)).join('\n'),
    mounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => !m.startsWith('/run/netns/sw-')).sort().join('\n'),
    etc: etc.digest('hex'),
  };
}

test('a lab host: guide NICs on a LAN, private /etc, libvirt without nodedev; teardown leaves the host exactly as it was', async () => {
  const before = hostState();
  const lab = await LabTarget.create();
  const session = await TerminalSession.start(lab).catch((e) => {
    lab.dispose();
    throw e;
  });
  const ex = new Executor(session, { vars: { BRIDGE: 'br0' } });
  try {
    const links = await ex.runBlock(cmd('links', 'ip -br link | cut -d" " -f1 | cut -d@ -f1 | sort | tr "\\n" " "; hostname'));
    assert.equal(links.output, 'eth0 eth1 lo kvmhost\n');
    const bridge = await ex.runBlock(
      cmd('bridge', 'ip link add "$BRIDGE" type bridge\nip link set eth0 master "$BRIDGE"\nip addr add 192.168.123.40/24 dev "$BRIDGE"\nip link set "$BRIDGE" up'),
    );
    assert.equal(bridge.status, 'passed', bridge.output);
    const ping = await ex.runBlock(check('ping', 'for i in $(seq 50); do ping -c1 -W1 192.168.123.254 >/dev/null && echo reachable && exit 0; sleep 0.2; done; echo unreachable; exit 1'));
    assert.equal(ping.output.trim(), 'reachable');
    const file = await ex.runBlock(cmd('f', 'DEVICE=${BRIDGE}', { kind: 'file', lang: 'ini', file: '/etc/sysconfig/network-scripts/ifcfg-${BRIDGE}' }));
    assert.equal(file.status, 'passed', file.output);
    assert.ok(!fs.existsSync('/etc/sysconfig/network-scripts/ifcfg-br0'), 'the host /etc is untouched');
    const virsh = await ex.runBlock(cmd('virsh', 'virsh -c qemu:///system list --all >/dev/null && echo libvirt-ok\nvirsh -c qemu:///system nodedev-list 2>&1 || true'));
    assert.match(virsh.output, /libvirt-ok/);
    assert.match(virsh.output, /not supported/);
    const guest = await ex.runBlock(
      cmd(
        'guest',
        'qemu-img create -q -f qcow2 /var/lib/libvirt/images/t.qcow2 16M\nvirt-install --connect qemu:///system --name t1 --memory 32 --vcpus 1 --disk /var/lib/libvirt/images/t.qcow2 --import --os-variant generic --graphics none --noautoconsole --virt-type qemu --network bridge=br0 >/dev/null 2>&1\nvirsh -c qemu:///system domstate t1',
        { timeoutSec: 120 },
      ),
    );
    assert.equal(guest.output.trim(), 'running', guest.output);
    assert.ok(!fs.existsSync('/var/lib/libvirt/images/t.qcow2'), 'the host /var is untouched');

  } finally {
    ex.dispose();
    session.dispose();
    lab.dispose();
  }
  assert.notEqual(spawnSync('ip', ['netns', 'pids', lab.netns]).status, 0, 'the namespace is gone');
  assert.ok(!fs.existsSync(lab.stateDir));
  assert.deepEqual(hostState(), before);
});

test('stepwise lab up / list / down as a process', () => {
  const before = hostState();
  const cli = (...a: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/stepwise.js'), 'lab', ...a], { encoding: 'utf8', timeout: 60_000 });
  const up = cli('up', 'zz1');
  assert.equal(up.status, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /lab zz1 is up/);
  assert.match(cli('list').stdout, /^zz1$/m);
  assert.match(execFileSync('ip', ['netns', 'exec', 'sw-zz1', 'ip', '-br', 'link'], { encoding: 'utf8' }), /eth0/);
  assert.equal(cli('down', 'zz1').status, 0);
  assert.doesNotMatch(cli('list').stdout, /zz1/);
  assert.equal(cli('down', 'zz1').status, 2);
  assert.deepEqual(hostState(), before);
});
