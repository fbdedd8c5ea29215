// SSH targets (issue 10): the inventory's checks, then runs over a real sshd in a lab host
// (no mocks): markers and exit codes, a timeout killing the remote program, a file block with
// its backup on the remote, no secret on the remote disk, strict host keys (unknown → refused,
// then trusted; changed → refused), and a connection dropped mid-block → interrupted → resumed.
import { noLeaks } from './helpers/leaks.ts';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseInventory } from '../server/target/inventory.ts';
import { parseSshUrl, sshFailureReason } from '../server/target/ssh.ts';
import { LabTarget } from '../server/target/lab.ts';
import { hasSshd, labInventory, labSshPaths } from '../server/target/lab-ssh.ts';
import { runStepwise, sessionDirsOf, spawnStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';
import { startTestServer } from './helpers/server.ts';

describe('inventory', () => {
  test('hosts, defaults, groups, paths', () => {
    const inv = parseInventory(
      ['defaults:', '  user: ops', '  identity: keys/id', '  known_hosts: ~/kh', 'hosts:', '  web1: 10.0.0.1', '  web2:', '    address: 10.0.0.2', '    port: 2222', '    labels: [kvm, web]', '    vars: {ROLE: b}', '  alias1:', 'groups:', '  web: [web1, web2]', ''].join('\n'),
      '/inv/inventory.yaml',
      '/home/u',
    );
    assert.deepEqual(inv.diagnostics, []);
    assert.deepEqual(inv.hosts.get('web1'), { user: 'ops', identity: '/inv/keys/id', knownHosts: '/home/u/kh', name: 'web1', address: '10.0.0.1', labels: [], vars: {} });
    assert.equal(inv.hosts.get('web2')!.port, 2222);
    assert.deepEqual(inv.hosts.get('web2')!.labels, ['kvm', 'web']);
    assert.deepEqual(inv.hosts.get('web2')!.vars, { ROLE: 'b' });
    assert.equal(inv.hosts.get('alias1')!.address, 'alias1'); // an ssh_config alias
    assert.deepEqual(inv.groups.get('web'), ['web1', 'web2']);
  });

  test('errors as file:line CODE', () => {
    const inv = parseInventory(
      ['hosts:', '  a: 10.0.0.1', '  a: 10.0.0.9', '  b:', '    port: 70000', '    colour: red', 'groups:', '  g: [a, nope]', '  b: [a]', 'extra: 1', ''].join('\n'),
      'inv.yaml',
    );
    const got = inv.diagnostics.map((d) => `${d.line} ${d.code}`).sort();
    assert.deepEqual(got, ['10 INVENTORY_FIELD', '3 INVENTORY_DUPLICATE', '5 INVENTORY_BAD_PORT', '6 INVENTORY_FIELD', '8 INVENTORY_UNKNOWN_HOST', '9 INVENTORY_DUPLICATE'].sort());
    assert.equal(parseInventory('hosts: [\n', 'x.yaml').diagnostics[0]!.code, 'INVENTORY_YAML');
  });

  test('stepwise validate checks the inventory; run --target names its hosts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-inv-'));
    try {
      const rb = path.join(dir, 'runbooks');
      fs.mkdirSync(rb);
      fs.writeFileSync(path.join(rb, 'a.md'), '# A\n\n## S\n\n```sh\ntrue\n```\n\n```sh {verify}\ntrue\n```\n');
      // inventory.yaml beside the runbooks folder applies without --inventory.
      const inv = path.join(dir, 'inventory.yaml');
      fs.writeFileSync(inv, 'hosts:\n  web1: 10.0.0.1\n  web2:\n    port: 0\ngroups:\n  web: [web1, web3]\n');
      const v = runStepwise(['validate', rb], { STEPWISE_DATA: path.join(dir, 'data') });
      assert.equal(v.code, 1, v.stdout);
      assert.ok(v.stdout.includes(`${inv}:4 INVENTORY_BAD_PORT`), v.stdout);
      assert.ok(v.stdout.includes(`${inv}:6 INVENTORY_UNKNOWN_HOST`), v.stdout);
      fs.writeFileSync(inv, 'hosts:\n  web1: 10.0.0.1\n');
      assert.equal(runStepwise(['validate', rb], { STEPWISE_DATA: path.join(dir, 'data') }).code, 0);
      const r = runStepwise(['run', 'a', '--runbooks', rb, '--target', 'web9'], { STEPWISE_DATA: path.join(dir, 'data') });
      assert.equal(r.code, 2);
      assert.match(r.stdout, /no target "web9"; known: local, lab, web1, or ssh:\/\/user@host\[:port\]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ssh:// URLs and failure reasons', () => {
    assert.deepEqual(parseSshUrl('ssh://root@db1:2200'), { name: 'ssh://root@db1:2200', address: 'db1', user: 'root', port: 2200 });
    assert.deepEqual(parseSshUrl('ssh://h'), { name: 'ssh://h', address: 'h' });
    assert.equal(parseSshUrl('ssh://h:99999'), undefined);
    assert.equal(parseSshUrl('h'), undefined);
    assert.equal(sshFailureReason('@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n', 'db1').kind, 'changed-key');
    assert.match(sshFailureReason('WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!', 'db1').reason, /host key of db1/);
    assert.equal(sshFailureReason('No ED25519 host key is known for x and you have requested strict checking.\nHost key verification failed.', 'x').kind, 'unknown-key');
    assert.equal(sshFailureReason('root@x: Permission denied (publickey).', 'x').kind, 'auth');
    assert.equal(sshFailureReason('ssh: connect to host x port 22: Connection refused', 'x').kind, 'unreachable');
  });
});

const canLab = process.getuid?.() === 0 && hasSshd() && fs.existsSync('/usr/bin/nc');

describe('runs over SSH in a lab host', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  let lab: LabTarget;
  let work: string;
  let marks: string;
  let data: string;
  let rbDir: string;
  let inv: string;
  const env = () => ({ STEPWISE_DATA: data });
  const ssh = (cmd: string) => {
    const p = labSshPaths(lab.stateDir);
    return spawnSync('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${p.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-i', p.clientKey, '-o', `ProxyCommand=ip netns exec ${lab.lanNetns} nc %h %p`, `root@${lab.sshAddress}`, cmd], { encoding: 'utf8', timeout: 20_000 });
  };
  const report = (runId: string) => JSON.parse(runStepwise(['report', runId, '--format', 'json'], env()).stdout) as { run: { status: string; options: { targetInfo: unknown } } };
  const inventoryWith = (name: string, knownHosts: string) => {
    const file = path.join(work, `${name}.yaml`);
    fs.writeFileSync(file, fs.readFileSync(inv, 'utf8').replace(/known_hosts: .*/, `known_hosts: ${knownHosts}`));
    return file;
  };

  before(async () => {
    lab = await LabTarget.create({ ssh: true, maskKvm: true });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-ssh-'));
    // In the lab's exchange folder: the lab host sees it at the same path (its /tmp is its own),
    // so the runbooks below leave their marks here.
    marks = fs.mkdtempSync(path.join(lab.exchangeDir, 'sw-ssh-marks-'));
    data = path.join(work, 'data');
    rbDir = path.join(work, 'runbooks');
    fs.mkdirSync(rbDir);
    inv = path.join(work, 'inventory.yaml');
    fs.writeFileSync(inv, labInventory({ labId: lab.labId, lanNetns: lab.lanNetns, stateDir: lab.stateDir, hosts: [{ name: 'host1', address: lab.sshAddress! }] }));
    fs.writeFileSync(
      path.join(rbDir, 'remote.md'),
      `---
vars:
  TOKEN:
    default: hush-${'s3cr3t'}-value
    secret: true
---
# Remote

## Where am I

\`\`\`sh {id=where expect="^host1$"}
hostname
\`\`\`

\`\`\`sh {id=code exit=3}
echo about to exit; (exit 3)
\`\`\`

\`\`\`sh {verify}
test "$(hostname)" = host1
\`\`\`

## Write a file

\`\`\`sh {id=seed}
mkdir -p /etc/sw-ssh && echo old > /etc/sw-ssh/app.conf
export USE_TOKEN="$TOKEN"
\`\`\`

\`\`\`ini {file=/etc/sw-ssh/app.conf mode=0640}
new=1
\`\`\`

\`\`\`sh {verify}
grep -qx new=1 /etc/sw-ssh/app.conf && grep -qx old /etc/sw-ssh/app.conf.stepwise-bak
! grep -rqsF -- "$TOKEN" /etc/sw-ssh /root "\${TMPDIR:-/tmp}"/stepwise-* 2>/dev/null
\`\`\`
`,
    );
    fs.writeFileSync(
      path.join(rbDir, 'slow.md'),
      `# Slow

## Sleep too long

\`\`\`sh {id=nap timeout=1}
sh -c 'echo $$ > /tmp/sw-ssh-nap; exec sleep 300'
\`\`\`
`,
    );
    fs.writeFileSync(
      path.join(rbDir, 'drop.md'),
      `# Drop

## Long block

\`\`\`sh {id=long}
if [ ! -e ${marks}/resume-ok ]; then touch ${marks}/long-started; sleep 120; fi
echo long done
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## After

\`\`\`sh {id=after}
echo after ran
\`\`\`
`,
    );
  });

  after(async () => {
    await lab?.dispose();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('a runbook over SSH: markers, exit codes, a remote file block with backup, host identity recorded, no secret on the remote disk', () => {
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /on host1/);
    assert.match(r.stdout, /2 passed/);
    const runId = /run (\S+) remote/.exec(r.stdout)![1]!;
    const info = report(runId).run.options.targetInfo as { platform: string; ssh: { hostKey: string; machineId: string; os: { id: string }; kernel: string } };
    assert.equal(info.platform, 'debian');
    assert.match(info.ssh.hostKey, /^SHA256:/);
    assert.match(info.ssh.machineId, /^[0-9a-f]{32}$/);
    assert.equal(info.ssh.os.id, 'debian');
    assert.ok(info.ssh.kernel);
    // The reports show it too.
    const md = runStepwise(['report', runId, '--format', 'md'], env()).stdout;
    assert.ok(md.includes(info.ssh.hostKey) && md.includes(info.ssh.machineId), md);
    const junit = runStepwise(['report', runId, '--format', 'junit'], env()).stdout;
    assert.match(junit, new RegExp(`name="stepwise.host.key" value="ssh-ed25519 ${info.ssh.hostKey.replace(/[+/]/g, '\\$&')}"`));
    assert.equal(ssh('stat -c %a /etc/sw-ssh/app.conf').stdout.trim(), '640');
    // The session folder went with the run, and nothing of the lab's disk holds the secret.
    assert.equal(ssh('ls -d "${TMPDIR:-/tmp}"/stepwise-???????? 2>/dev/null | xargs -r -n1 sh -c \'test -e "$0/rc.sh" && echo "$0"\'').stdout.trim(), '');
    assert.notEqual(ssh('grep -rqsF hush-s3cr3t-value /etc /root /var/tmp').status, 0);
  });

  test('a timeout sends Ctrl-C, then kills the remote program', () => {
    const r = runStepwise(['run', 'slow', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], env());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /timed out|timeout/i);
    // Written to the lab host's own /tmp, seen here through its init's root.
    const nap = path.join(lab.hostRoot()!, 'tmp/sw-ssh-nap');
    assert.ok(!fs.existsSync('/tmp/sw-ssh-nap'), 'not in this machine\'s /tmp');
    const pid = fs.readFileSync(nap, 'utf8').trim();
    fs.rmSync(nap);
    // The pid is in the lab's PID namespace: ask the lab.
    assert.notEqual(ssh(`kill -0 ${pid} 2>/dev/null && grep -q sleep /proc/${pid}/cmdline`).status, 0, 'the remote sleep is gone');
  });

  test('an unknown host is refused with its fingerprint, then trusted with hosts trust', () => {
    const empty = path.join(work, 'kh-empty');
    fs.writeFileSync(empty, '');
    const inv2 = inventoryWith('inv-unknown', empty);
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv2, '--target', 'host1'], env());
    assert.notEqual(r.code, 0);
    const fp = execFileSync('ssh-keygen', ['-l', '-f', `${labSshPaths(lab.stateDir).hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    assert.match(r.stdout + r.stderr, /host key of host1 is not known/);
    assert.ok((r.stdout + r.stderr).includes(fp), `names the fingerprint ${fp}: ${r.stdout}`);
    assert.match(r.stdout + r.stderr, /stepwise hosts trust host1/);
    assert.equal(fs.readFileSync(empty, 'utf8'), '', 'nothing trusted by the refusal');
    const t = runStepwise(['hosts', 'trust', 'host1', '--inventory', inv2], env());
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.ok(t.stdout.includes(fp));
    const again = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv2, '--target', 'host1'], env());
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test('--accept-new-host-key trusts a new host and the run records it', () => {
    const empty = path.join(work, 'kh-accept');
    fs.writeFileSync(empty, '');
    const inv3 = inventoryWith('inv-accept', empty);
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv3, '--target', 'host1', '--accept-new-host-key'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.notEqual(fs.readFileSync(empty, 'utf8'), '');
    const runId = /run (\S+) remote/.exec(r.stdout)![1]!;
    assert.equal((report(runId).run.options.targetInfo as { ssh: { hostKeyAcceptedNew?: boolean } }).ssh.hostKeyAcceptedNew, true);
  });

  test('a changed host key is refused, naming the host, even by hosts trust', () => {
    const other = path.join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const kh = path.join(work, 'kh-changed');
    fs.writeFileSync(kh, `${lab.sshAddress} ${fs.readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const inv4 = inventoryWith('inv-changed', kh);
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv4, '--target', 'host1', '--accept-new-host-key'], env());
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /host key of host1 has changed/);
    const t = runStepwise(['hosts', 'trust', 'host1', '--inventory', inv4], env());
    assert.equal(t.code, 1, t.stdout);
    assert.match(t.stdout, /already trusted with another host key/);
  });

  test('unreachable host and refused authentication give clear reasons', () => {
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', inv, '--target', 'ssh://root@127.0.0.1:1'], env());
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /unreachable/);
    const noKey = path.join(work, 'inv-nokey.yaml');
    const stranger = path.join(work, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    fs.writeFileSync(noKey, fs.readFileSync(inv, 'utf8').replace(/identity: .*/, `identity: ${stranger}`));
    const a = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', noKey, '--target', 'host1'], env());
    assert.notEqual(a.code, 0);
    assert.match(a.stdout + a.stderr, /authentication to host1 refused/);
  });

  test('a connection dropped mid-block ends the run interrupted (connection lost); --resume finishes it', async () => {
    const p = spawnStepwise(['run', 'drop', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], env());
    await until(() => fs.existsSync(path.join(marks, 'long-started')), 30_000, 'the long block to start');
    // Kill the sshd process serving this connection (inside the lab): the link is gone.
    const pids = execFileSync('ip', ['netns', 'pids', lab.netns], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const sessions = pids.filter((pid) => {
      try {
        return /^sshd: root/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        return false;
      }
    });
    assert.ok(sessions.length > 0, 'an sshd session process');
    for (const pid of sessions) process.kill(Number(pid), 'SIGKILL');
    const code = await p.exited;
    assert.notEqual(code, 0, p.output());
    const runId = /run (\S+) drop/.exec(p.output())![1]!;
    const rep = report(runId);
    assert.equal(rep.run.status, 'interrupted', p.output());
    assert.match(JSON.stringify(rep), /connection lost/);
    fs.writeFileSync(path.join(marks, 'resume-ok'), '');
    const r = runStepwise(['run', 'drop', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1', '--resume', runId], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /after/);
  });

  test('the server offers the inventory\'s hosts as targets (not ssh:// ad hoc)', async () => {
    process.env.STEPWISE_INVENTORY = inv;
    const srv = await startTestServer(rbDir).finally(() => delete process.env.STEPWISE_INVENTORY);
    try {
      const adhoc = await srv.api('POST', '/api/runs', { runbook: 'remote', target: `ssh://root@${lab.sshAddress}` });
      assert.equal(adhoc.status, 400);
      assert.equal((adhoc.json as { error: { code: string } }).error.code, 'UNKNOWN_TARGET');
      const r = await srv.api('POST', '/api/runs', { runbook: 'remote', target: 'host1' });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const id = (r.json as { id: string }).id;
      assert.equal((await srv.api('DELETE', `/api/runs/${id}`)).status < 300, true);
    } finally {
      await srv.stop();
    }
  });

  test('a jump host is checked as strictly as the target (ProxyJump through the lab host itself)', () => {
    const viaJump = path.join(work, 'inv-jump.yaml');
    fs.writeFileSync(viaJump, fs.readFileSync(inv, 'utf8').replace('    labels: [lab]', `    labels: [lab]\n    jump: root@${lab.sshAddress}`));
    const r = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', viaJump, '--target', 'host1'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The jump host's key, unknown, is refused too (ssh -J would follow the user's defaults).
    const empty = path.join(work, 'kh-jump');
    fs.writeFileSync(empty, '');
    const strict = path.join(work, 'inv-jump-unknown.yaml');
    fs.writeFileSync(strict, fs.readFileSync(viaJump, 'utf8').replace(/known_hosts: .*/, `known_hosts: ${empty}`));
    const refused = runStepwise(['run', 'remote', '--runbooks', rbDir, '--inventory', strict, '--target', 'host1'], env());
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /host key of host1 is not known|Host key verification failed|unreachable/);
    assert.equal(fs.readFileSync(empty, 'utf8'), '');
  });

  test('kill -9 of the CLI mid-block leaves no ssh master and no session folder on the host', async () => {
    fs.writeFileSync(
      path.join(rbDir, 'hang.md'),
      `# Hang\n\n## Hang\n\n\`\`\`sh {id=hang}\ntouch ${marks}/hang-started; sleep 120\n\`\`\`\n`,
    );
    const p = spawnStepwise(['run', 'hang', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], env());
    await until(() => fs.existsSync(path.join(marks, 'hang-started')), 30_000, 'the block to start');
    const pid = p.child.pid!;
    // The session folder mktemp made on the lab host, in the host's own /tmp.
    const remoteDirs = () => sessionDirsOf(pid, path.join(lab.hostRoot()!, 'tmp'));
    assert.equal(remoteDirs().length, 1, 'its session folder on the host');
    assert.deepEqual(sessionDirsOf(pid).map((d) => path.basename(d).startsWith('stepwise-ssh-')), [true], 'and only its control socket folder here');
    p.child.kill('SIGKILL');
    await p.exited;
    const masters = () =>
      fs.readdirSync('/proc').filter((n) => {
        try {
          const cmd = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8');
          return /^ssh\0/.test(cmd) && cmd.includes(lab.stateDir);
        } catch {
          return false;
        }
      });
    await until(() => masters().length === 0, 20_000, 'the ssh processes to exit');
    await until(() => remoteDirs().length === 0, 20_000, 'the session folder on the host to be removed');
    runStepwise(['runs'], env()); // the next command reaps what the killed one left here
    assert.deepEqual(sessionDirsOf(pid), [], 'the control socket folder is removed too');
  });

  test('a lab link taken down mid-block is noticed by keepalives: interrupted, connection lost', async () => {
    fs.writeFileSync(
      path.join(rbDir, 'silent.md'),
      `# Silent\n\n## Silent\n\n\`\`\`sh {id=silent}\ntouch ${marks}/silent-started; sleep 120\n\`\`\`\n`,
    );
    const p = spawnStepwise(['run', 'silent', '--runbooks', rbDir, '--inventory', inv, '--target', 'host1'], env());
    await until(() => fs.existsSync(path.join(marks, 'silent-started')), 30_000, 'the block to start');
    // No packet gets through any more, and nothing tells either end: only keepalives notice.
    execFileSync('ip', ['-n', lab.netns, 'link', 'set', 'mgmt0', 'down']);
    try {
      // ServerAliveInterval 5 × CountMax 3: about 15 s; this bound leaves room for a loaded machine.
      await p.waitFor(/interrupted/, 45_000);
      await p.exited;
    } finally {
      execFileSync('ip', ['-n', lab.netns, 'link', 'set', 'mgmt0', 'up']);
    }
    const runId = /run (\S+) silent/.exec(p.output())![1]!;
    const rep = report(runId);
    assert.equal(rep.run.status, 'interrupted', p.output());
    assert.match(JSON.stringify(rep), /connection lost/);
  });
});

describe('a lab of several hosts', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  test('lab up --hosts 3: each host its own sshd on one LAN, reachable by name from the others; a run on host2; lab down leaves nothing', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-hosts-'));
    const lab = await LabTarget.create({ hosts: 3, minimal: true, maskKvm: true });
    try {
      const inv = path.join(work, 'inventory.yaml');
      fs.writeFileSync(inv, runStepwise(['lab', 'inventory', lab.labId]).stdout);
      assert.match(fs.readFileSync(inv, 'utf8'), /host2:\n\s+address: 10\.77\.0\.2\n[\s\S]*host3:/);
      const rb = path.join(work, 'runbooks');
      fs.mkdirSync(rb);
      fs.writeFileSync(path.join(rb, 'hop.md'), '# Hop\n\n## Hop\n\n```sh {id=hop expect="^host3$"}\nhostname && ssh -o BatchMode=yes host3 hostname\n```\n\n```sh {verify}\ntest "$(hostname)" = host2 && ! pgrep -x libvirtd\n```\n');
      const r = runStepwise(['run', 'hop', '--runbooks', rb, '--inventory', inv, '--target', 'host2'], { STEPWISE_DATA: path.join(work, 'data') });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      await lab.dispose();
      fs.rmSync(work, { recursive: true, force: true });
    }
    assert.deepEqual(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(lab.labId)), []);
    const sshds = fs.readdirSync('/proc').filter((n) => {
      try {
        return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(lab.stateDir);
      } catch {
        return false;
      }
    });
    assert.deepEqual(sshds, [], 'no process of the lab (its sshds) is left');
  });
});

noLeaks();
