// SSH target costs against a real sshd in a lab host, printed (a benchmark, never a test):
// connecting (one authentication + reading the host's identity), starting the shell, a
// trivial block and a step's shell-state read, each over SSH and on the local target; and the
// memory of the ssh client processes one remote session holds.
//
//   node --import tsx bench/ssh.ts        (root, openssh-server and nc: bash .ci/setup)
//   BENCH_SSH_BLOCKS=20                    blocks per target
import fs from 'node:fs';
import { LabTarget } from '../server/target/lab.ts';
import { labSshPaths } from '../server/target/lab-ssh.ts';
import { SshTarget } from '../server/target/ssh.ts';
import { LocalTarget } from '../server/target/local.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { childrenOf } from '../server/target/process.ts';
import type { Target } from '../server/target/target.ts';
import { cmd } from '../test/helpers/blocks.ts';

const BLOCKS = Math.max(3, Number(process.env.BENCH_SSH_BLOCKS ?? 20));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(0)} ms`;

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function measure(name: string, make: () => Promise<Target>): Promise<void> {
  let t0 = performance.now();
  const target = await make();
  const connect = performance.now() - t0;
  t0 = performance.now();
  const session = await TerminalSession.start(target);
  const start = performance.now() - t0;
  const ex = new Executor(session);
  const blocks: number[] = [];
  const states: number[] = [];
  for (let i = 0; i < BLOCKS; i++) {
    t0 = performance.now();
    const r = await ex.runBlock(cmd(`b${i}`, 'true'));
    blocks.push(performance.now() - t0);
    if (r.status !== 'passed') throw new Error(`${name}: block failed: ${r.reason}`);
    t0 = performance.now();
    await ex.shellState();
    states.push(performance.now() - t0);
  }
  // The ssh clients this session holds: the shell's (the pty's process) and, for SSH, the master.
  const clients = target instanceof SshTarget ? [session.pid, ...childrenOf(process.pid).filter((p) => p !== session.pid && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('ssh\0'))] : [];
  const mem = clients.reduce((s, p) => s + rssKb(p), 0);
  console.log(
    `${name.padEnd(6)} connect ${ms(connect).padStart(7)}  shell start ${ms(start).padStart(7)}  block (median of ${BLOCKS}) ${ms(median(blocks)).padStart(6)}  state read ${ms(median(states)).padStart(6)}${clients.length ? `  ssh clients RSS ${(mem / 1024).toFixed(1)} MB (${clients.length} processes)` : ''}`,
  );
  ex.dispose();
  session.dispose();
  await target.release?.();
}

const lab = await LabTarget.create({ ssh: true, maskKvm: true });
try {
  const p = labSshPaths(lab.stateDir);
  const host = { name: 'host1', address: lab.sshAddress!, user: 'root', identity: p.clientKey, knownHosts: p.knownHosts, proxyCommand: `ip netns exec ${lab.lanNetns} nc %h %p` };
  console.log(`load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  await measure('local', async () => new LocalTarget({ platform: 'debian', capabilities: [] }));
  await measure('ssh', () => SshTarget.create(host));
} finally {
  await lab.dispose();
}
