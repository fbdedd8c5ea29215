// The SSH target's side commands (issue 10 §4, fleet speed-up): asynchronous children over the
// master, so the one process of a fleet keeps running while they are under way and several
// overlap; the shell-state files read in one command; a session's folder gone from the host
// once the session is disposed and the target released (the removal is not awaited by dispose).
// Real sshd in a lab host, no mocks.
import { noLeaks } from './helpers/leaks.ts';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LabTarget } from '../server/target/lab.ts';
import { hasSshd, labSshPaths } from '../server/target/lab-ssh.ts';
import { SshTarget, type SshHost } from '../server/target/ssh.ts';
import { childrenOf } from '../server/target/process.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { cmd, until } from './helpers/blocks.ts';

const canLab = process.getuid?.() === 0 && hasSshd() && fs.existsSync('/usr/bin/nc');

/** The ssh processes this process has running now (the master, side commands, shells). */
function sshChildren(): number[] {
  return childrenOf(process.pid).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('ssh\0');
    } catch {
      return false;
    }
  });
}

describe('SSH target side commands', { skip: canLab ? false : 'needs root, openssh-server and nc (bash .ci/setup)' }, () => {
  let lab: LabTarget;
  let host: SshHost;
  let target: SshTarget;

  before(async () => {
    lab = await LabTarget.create({ ssh: true, maskKvm: true });
    const p = labSshPaths(lab.stateDir);
    host = { name: 'host1', address: lab.sshAddress!, user: 'root', identity: p.clientKey, knownHosts: p.knownHosts, proxyCommand: `ip netns exec ${lab.lanNetns} nc %h %p` };
    target = await SshTarget.create(host);
  });

  after(async () => {
    await target?.release();
    await lab?.dispose();
  });

  test('the event loop turns while a side command runs on the host; several run at once', async () => {
    // A synchronous command (spawnSync) would resolve before any setImmediate callback ran.
    let turned = false;
    setImmediate(() => (turned = true));
    const dir = await target.makeSessionDir();
    assert.ok(turned, 'the event loop turned while mktemp ran on the host');
    try {
      const before = sshChildren().length;
      const writes = Array.from({ length: 8 }, (_, i) => target.writeSessionFile(dir, `f${i}`, `file ${i}\n`));
      // Each write is its own ssh child, all started before any is awaited.
      assert.ok(sshChildren().length >= before + 8, `eight side commands under way at once (${sshChildren().length - before})`);
      const files = await Promise.all(writes);
      assert.deepEqual(files, Array.from({ length: 8 }, (_, i) => `${dir}/f${i}`));
      const back = await Promise.all(files.map((_, i) => target.readSessionFile(dir, `f${i}`)));
      assert.deepEqual(back.map((b) => b?.toString()), Array.from({ length: 8 }, (_, i) => `file ${i}\n`));
    } finally {
      await target.removeSessionDir(dir);
    }
    assert.equal(await target.readSessionFile(dir, 'f0'), undefined, 'the folder is gone');
  });

  test('several session files in one command each way: exact bytes, a missing one left out, names checked', async () => {
    const dir = await target.makeSessionDir();
    try {
      const odd = 'two\nlines\n3 4\n\u00e9\0nul';
      const big = 'x'.repeat(200_000) + '\n';
      let before = sshChildren().length;
      const writing = target.writeSessionFiles(dir, [['a', odd], ['empty', ''], ['big', big], ['last', 'b 3\nxyz']]);
      assert.equal(sshChildren().length, before + 1, 'one ssh command for the four');
      assert.deepEqual(await writing, ['a', 'empty', 'big', 'last'].map((n) => `${dir}/${n}`));
      assert.equal((await target.readSessionFile(dir, 'big'))?.toString(), big);
      assert.equal((await target.readSessionFile(dir, 'last'))?.toString(), 'b 3\nxyz', 'a header-like text inside a file is its content');
      await assert.rejects(target.writeSessionFiles(dir, [['../x', 'no']]), /not a session file name/);
      before = sshChildren().length;
      const reading = target.readSessionFiles(dir, ['a', 'missing', 'empty']);
      assert.equal(sshChildren().length, before + 1, 'one ssh command for the three');
      const got = await reading;
      assert.deepEqual([...got.keys()], ['a', 'empty']);
      assert.equal(got.get('a')!.toString('utf8'), odd);
      assert.equal(got.get('empty')!.length, 0);
      await assert.rejects(target.readSessionFiles(dir, ['a; rm -rf /']), /not a session file name/);
    } finally {
      await target.removeSessionDir(dir);
    }
  });

  test('a session over SSH: the shell state after a block; its folder removed on dispose, finished by release', async () => {
    const own = await SshTarget.create(host);
    let dir: string;
    try {
      const session = await TerminalSession.start(own);
      dir = session.dir;
      const ex = new Executor(session);
      const r = await ex.runBlock(cmd('b1', 'export SW_ASYNC=yes; cd /tmp'));
      assert.equal(r.status, 'passed', r.reason);
      const st = await ex.shellState();
      assert.equal(st?.cwd, '/tmp');
      assert.equal(st?.env.SW_ASYNC, 'yes');
      assert.ok(await own.readSessionFile(dir, 'rc.sh'), 'the session folder is there while the session lives');
      ex.dispose();
      session.dispose(); // the removal is under way, not awaited
    } finally {
      await own.release(); // lets the removal finish before closing the master
    }
    assert.equal(await target.readSessionFile(dir!, 'rc.sh'), undefined, 'the session folder is gone from the host');
  });

  test('process.exit while a release is under way (a second Ctrl-C): no master, no control folder, no session folder left', async () => {
    // A process of its own: connect, make a session folder, start the release, exit at once.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-ssh-exit-'));
    try {
      const script = path.join(tmp, 'exit.mts'); // ESM (top-level await) outside the package
      fs.writeFileSync(script, [
        `import { SshTarget } from ${JSON.stringify(path.resolve(import.meta.dirname, '../server/target/ssh.ts'))};`,
        `const t = await SshTarget.create(JSON.parse(process.argv[2]!));`,
        `const dir = await t.makeSessionDir();`,
        `await t.writeSessionFile(dir, 'kept', 'x');`,
        `const ctl = (t as unknown as { ctlDir: string }).ctlDir;`,
        `const master = (t as unknown as { master: { pid: number } }).master.pid;`,
        `console.log(JSON.stringify({ dir, ctl, master }));`,
        `void t.release();`,
        `process.exit(0);`,
      ].join('\n'));
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, JSON.stringify(host)], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const { dir, ctl, master } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { dir: string; ctl: string; master: number };
      assert.equal(fs.existsSync(ctl), false, 'the control folder is removed at exit');
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await until(() => !alive(master), 15_000, 'the master to end');
      // The janitor (the master's own session) removes the folder once the master is gone.
      const end = Date.now() + 15_000;
      let left = await target.readSessionFile(dir, 'kept');
      while (left !== undefined && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 100));
        left = await target.readSessionFile(dir, 'kept');
      }
      assert.equal(left, undefined, 'the session folder is removed on the host');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

noLeaks();
