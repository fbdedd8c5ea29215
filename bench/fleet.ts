// Fleet runs at scale, printed (a benchmark, never a test): N minimal lab hosts (default 20, each
// its own sshd), a 5-step runbook run as a fleet with --parallel 1 and --parallel 10 in this
// process (the CLI's path: Runs + Fleets), the wall time of each and the speed-up; and this
// process's memory per concurrent remote session (RSS at the peak of the parallel run, above
// the idle RSS, over the sessions live at that peak), beside the ssh client processes' own; and
// where the CPU went (this process, its ssh clients, the whole machine) in each run.
//
//   node --import tsx bench/fleet.ts       (root, openssh-server and nc: bash .ci/setup)
//   BENCH_FLEET_HOSTS=20                   lab hosts
//   BENCH_FLEET_SLEEP=0.5                  seconds of remote work in each step's command (0: none)
//   BENCH_FLEET_PARALLEL=10                the parallel run's --parallel
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { LabTarget } from '../server/target/lab.ts';
import { LAB_MGMT, labInventory } from '../server/target/lab-ssh.ts';
import { parseInventory } from '../server/target/inventory.ts';
import { sshKind, type TargetKind } from '../server/target/registry.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { RunStore } from '../server/record/store.ts';
import { AuditLog } from '../server/record/audit.ts';
import { Runs } from '../server/run/runs.ts';
import { Fleets } from '../server/run/fleet.ts';
import { createLogger } from '../server/log.ts';

const HOSTS = Math.max(2, Number(process.env.BENCH_FLEET_HOSTS ?? 20));
const SLEEP = Math.max(0, Number(process.env.BENCH_FLEET_SLEEP ?? 0.5));
const PARALLEL = Math.max(2, Number(process.env.BENCH_FLEET_PARALLEL ?? 10));
const STEPS = 5;

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU seconds of this process's children that have ended (the ssh side commands and shells): cutime + cstime. */
function childCpuSec(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // clock ticks: USER_HZ is 100 on Linux
}

/** CPU seconds of the lab's processes (each host's init, sshd and what it reaped: sessions, shells). */
function labCpuSec(labId: string): number {
  let ticks = 0;
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n === `sw-${labId}` || n.startsWith(`sw-${labId}-`));
  for (const n of names) {
    for (const pid of execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
      } catch {
        /* ended meanwhile */
      }
    }
  }
  return ticks / 100;
}

/** The machine's CPU time so far, busy and in all (every process: the lab's sshd and shells, other work). */
function machineCpu(): { busy: number; total: number } {
  const [, ...n] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - n[3]! - n[4]!, total };
}

/** Every descendant of a process (the ssh clients), from one pass over /proc: a pass per child
 *  (childrenOf each) took most of this process's CPU in the parallel run, and was measured as its. */
function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of kids.get(p) ?? []) out.push(c), walk(c);
  };
  walk(pid);
  return out;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-fleet-'));
  let lab: LabTarget | undefined;
  try {
    let t0 = performance.now();
    lab = await LabTarget.create({ hosts: HOSTS, minimal: true, maskKvm: true });
    console.log(`lab of ${HOSTS} minimal hosts up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const names = ['h1', ...Array.from({ length: HOSTS - 1 }, (_, i) => `host${i + 2}`)];
    const invText = labInventory({ labId: lab.labId, lanNetns: lab.lanNetns, stateDir: lab.stateDir, hosts: names.map((n, i) => ({ name: n, address: i === 0 ? lab!.sshAddress! : LAB_MGMT.host(i + 1) })) });
    const inv = parseInventory(invText, path.join(work, 'inventory.yaml'));
    const rb = path.join(work, 'runbooks');
    fs.mkdirSync(rb);
    const step = (n: number) => `## Step ${n}\n\n\`\`\`sh {id=s${n}}\n${SLEEP > 0 ? `sleep ${SLEEP}; ` : ''}echo step ${n} on $(hostname)\n\`\`\`\n\n\`\`\`sh {verify}\ntest -n "$(hostname)"\n\`\`\`\n`;
    fs.writeFileSync(path.join(rb, 'five.md'), `# Five steps\n\n${Array.from({ length: STEPS }, (_, i) => step(i + 1)).join('\n')}`);
    const catalog = loadCatalog(rb);
    const data = path.join(work, 'data');
    const store = RunStore.open(data);
    const kinds: Record<string, TargetKind> = {};
    for (const [n, h] of inv.hosts) kinds[n] = sshKind(h);
    const log = createLogger('warn');
    const runs = new Runs({ catalog: () => catalog, store, audit: new AuditLog(store, data), dataDir: data, log, targets: kinds, limits: { perUser: 64, total: 64 } });
    const fleets = new Fleets({ runs, store, catalog: () => catalog, inventory: () => inv, log, targetIds: () => Object.keys(kinds) });
    const elu = new Map<number, number>();
    const cpu = new Map<number, { self: number; children: number; lab: number; machine: number }>();
    const fleet = async (parallel: number, sample?: (live: number) => void) => {
      const started = fleets.start({ runbook: 'five', target: '@all', parallel }, 'bench');
      if (!started.ok) throw new Error(started.error.message);
      // Every 100 ms: the process's RSS is one small read; the ssh clients' scan is rarer (below).
      const timer = sample ? setInterval(() => sample(runs.size), 100) : undefined;
      t0 = performance.now();
      const elu0 = performance.eventLoopUtilization();
      const self0 = process.cpuUsage();
      const kids0 = childCpuSec();
      const lab0 = labCpuSec(lab!.labId);
      const m0 = machineCpu();
      const status = await started.value.done;
      clearInterval(timer);
      const ms = performance.now() - t0;
      // How busy this process was (synchronous ssh side commands count as busy): near 1 means
      // the fleet's own process, not the hosts, set the pace.
      elu.set(parallel, performance.eventLoopUtilization(elu0).utilization);
      // Where the CPU went: this process, its ssh clients, and how busy the whole machine was
      // (the lab's sshd and shells share it, and so does whatever else runs beside the bench).
      const self = process.cpuUsage(self0);
      const m1 = machineCpu();
      cpu.set(parallel, { self: (self.user + self.system) / 1e6, children: childCpuSec() - kids0, lab: labCpuSec(lab!.labId) - lab0, machine: (m1.busy - m0.busy) / (m1.total - m0.total) });
      if (status !== 'passed') {
        const v = fleets.view(started.value.id)!;
        console.log(`fleet ${v.id} (--parallel ${parallel}) ${status}: ${JSON.stringify(v.counts)}`);
        for (const h of v.hosts.filter((x) => x.status !== 'passed')) console.log(`  ${h.host} ${h.status}: ${h.reason ?? ''}`);
        throw new Error('a fleet did not pass: its figures would not compare');
      }
      return ms;
    };
    // No separate warm-up: the serial run comes first, so the parallel one runs on loaded, JIT-compiled code.
    const idle = () => {
      (globalThis as { gc?: () => void }).gc?.();
      return rssKb(process.pid);
    };
    const serial = await fleet(1);
    console.log(`--parallel 1 done in ${(serial / 1000).toFixed(1)} s`);
    const base = idle();
    // The sample with the most live sessions (the latest of those): RSS above idle over them.
    let peak = { rss: 0, live: 0, ssh: 0 };
    let maxRss = 0;
    let sshScanned = 0;
    const parallel = await fleet(PARALLEL, (live) => {
      const rss = rssKb(process.pid);
      maxRss = Math.max(maxRss, rss);
      // The ssh clients' RSS at a new most of live sessions, and at most once a second at that most.
      if (live > peak.live || (live === peak.live && Date.now() - sshScanned >= 1000)) {
        sshScanned = Date.now();
        peak = { rss, live, ssh: descendants(process.pid).reduce((t, p) => t + rssKb(p), 0) };
      }
    });
    const perSession = peak.live ? (peak.rss - base) / peak.live / 1024 : NaN;
    const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`runbook: ${STEPS} steps, each a command (${SLEEP > 0 ? `sleep ${SLEEP} s of remote work, then echo` : 'echo'}) and a check`);
    console.log(`--parallel 1:  ${sec(serial)} for ${HOSTS} hosts (${sec(serial / HOSTS)} per host); event loop busy ${(elu.get(1)! * 100).toFixed(0)}%`);
    console.log(`--parallel ${PARALLEL}: ${sec(parallel)} — speed-up ${(serial / parallel).toFixed(1)}× (target ≥ 5×); event loop busy ${(elu.get(PARALLEL)! * 100).toFixed(0)}%`);
    for (const [p, c] of cpu) console.log(`--parallel ${p}: CPU ${c.self.toFixed(1)} s in this process, ${c.children.toFixed(1)} s in its ssh clients, ${c.lab.toFixed(1)} s in the lab's hosts (sshd, sessions, shells); the machine's ${os.cpus().length} cores ${(c.machine * 100).toFixed(0)}% busy`);
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} on ${os.cpus().length} cores`);
    console.log(`server memory: idle ${(base / 1024).toFixed(0)} MB, ${(peak.rss / 1024).toFixed(0)} MB with the most live remote sessions (${peak.live}): ${perSession.toFixed(2)} MB per session (target ≤ 5 MB); highest RSS of the run ${(maxRss / 1024).toFixed(0)} MB`);
    console.log(`ssh client processes at that peak: ${(peak.ssh / 1024).toFixed(0)} MB RSS together (${peak.live ? (peak.ssh / 1024 / peak.live).toFixed(1) : '-'} MB per session, mostly shared libraries; not the server's)`);
    fleets.dispose();
    runs.dispose();
    store.close();
  } finally {
    await lab?.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
