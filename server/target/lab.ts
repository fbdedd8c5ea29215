// The lab target: a throwaway host made of Linux namespaces on this machine, so the guide's
// host-changing steps run for real without touching the real host. It has its own network
// namespace with NICs named like the guide's (eth0, eth1: veth pairs whose peers sit on a
// bridge in a second namespace acting as the LAN, with the guide's gateway address), its own
// mount namespace with copy-on-write overlays over the paths the guide writes, its own
// hostname, and a libvirtd (QEMU driver; TCG where /dev/kvm is missing) without the
// node-device driver. dispose() removes all of it.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import type { PtyLike, SpawnOptions, Target, TargetInfo } from './target.ts';
import { LocalTarget } from './local.ts';
import { LIBVIRT_DRIVERS, labInitScript } from './lab-init.ts';

/** The LAN the lab's NICs are cabled to: the guide's subnet, gateway on the LAN side. */
export const LAB_LAN = { subnet: '192.168.123.0/24', gateway: '192.168.123.254', prefix: 24 } as const;
export const LAB_NICS = ['eth0', 'eth1'] as const;
export const LAB_HOSTNAME = 'kvmhost';
/** What every lab is, known before one is built (for plans). */
export const LAB_PROFILE = {
  id: 'lab',
  platform: 'debian',
  capabilities: new Set(['netns', 'bridge', 'lan', 'libvirt', 'qemu']) as ReadonlySet<string>,
};
// libvirtd needs a few seconds to start under load; the whole lab comes up well within this.
const READY_TIMEOUT_MS = 60_000;

export interface LabOptions {
  id?: string;
  /** Kept across runs (stepwise run --all): release() then leaves it up. */
  persistent?: boolean;
}

export class LabTarget implements Target {
  readonly platform = 'debian';
  readonly capabilities: ReadonlySet<string>;
  readonly id = 'lab';
  private disposed = false;

  private constructor(
    readonly labId: string,
    readonly netns: string,
    readonly lanNetns: string,
    readonly stateDir: string,
    private readonly initPid: number,
    private readonly persistent: boolean,
    private readonly files = new LocalTarget({ platform: 'debian', capabilities: [] }),
  ) {
    this.capabilities = hasLibvirt() ? LAB_PROFILE.capabilities : new Set(['netns', 'bridge', 'lan']);
  }

  static async create(opts: LabOptions = {}): Promise<LabTarget> {
    const labId = opts.id ?? crypto.randomBytes(3).toString('hex');
    if (!/^[a-z0-9]{1,8}$/.test(labId)) throw new Error(`lab id must be 1-8 lower-case letters or digits, not ${labId}`);
    const netns = `sw-${labId}`;
    const lanNetns = `sw-${labId}-lan`;
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-lab-${labId}-`));
    const cleanup = () => teardown(netns, lanNetns, stateDir);
    try {
      buildNetwork(netns, lanNetns);
      const driversDir = path.join(stateDir, 'libvirt-drivers');
      copyDriversWithoutNodedev(driversDir);
      const init = path.join(stateDir, 'init.sh');
      fs.writeFileSync(init, labInitScript({ stateDir, driversDir, hostname: LAB_HOSTNAME }), { mode: 0o700 });
      const log = path.join(stateDir, 'init.log');
      const out = fs.openSync(log, 'a');
      const child = spawn('ip', ['netns', 'exec', netns, 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'bash', init], {
        stdio: ['ignore', out, out],
        detached: true,
      });
      fs.closeSync(out);
      child.unref();
      await waitForReady(log, child.pid!);
      return new LabTarget(labId, netns, lanNetns, stateDir, child.pid!, opts.persistent ?? false);
    } catch (e) {
      cleanup();
      throw e;
    }
  }

  info(): TargetInfo {
    return { id: this.id, platform: this.platform, host: `${LAB_HOSTNAME} (lab ${this.labId} on ${os.hostname()})`, capabilities: [...this.capabilities] };
  }

  makeSessionDir(): string {
    return this.files.makeSessionDir();
  }

  writeSessionFile(dir: string, name: string, content: string): string {
    return this.files.writeSessionFile(dir, name, content);
  }

  readSessionFile(dir: string, name: string): Buffer | undefined {
    return this.files.readSessionFile(dir, name);
  }

  removeSessionDir(dir: string): void {
    this.files.removeSessionDir(dir);
  }

  spawnShell(opts: SpawnOptions): PtyLike {
    if (this.disposed) throw new Error(`lab ${this.labId} is gone`);
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      LIBVIRT_DEFAULT_URI: 'qemu:///system',
      STEPWISE_LAB: this.labId,
      ...opts.env,
    };
    const p = pty.spawn('nsenter', ['-t', String(this.initPid), '-m', '-n', '-u', '--', 'bash', '--noprofile', '--rcfile', opts.rcFile, '-i'], {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: '/root',
      env,
      encoding: null,
    });
    return p as unknown as PtyLike;
  }

  signalForeground(p: PtyLike, signal: NodeJS.Signals): boolean {
    return this.files.signalForeground(p, signal);
  }

  /** Called when a run ends: a per-run lab goes away; a persistent one stays for the next. */
  release(): void {
    if (!this.persistent) this.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    teardown(this.netns, this.lanNetns, this.stateDir);
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function buildNetwork(netns: string, lan: string): void {
  ip('netns', 'add', netns);
  ip('netns', 'add', lan);
  ip('-n', lan, 'link', 'add', 'lan', 'type', 'bridge');
  LAB_NICS.forEach((nic, i) => {
    ip('link', 'add', nic, 'netns', netns, 'type', 'veth', 'peer', 'name', `lan${i}`, 'netns', lan);
    ip('-n', lan, 'link', 'set', `lan${i}`, 'master', 'lan', 'up');
    ip('-n', netns, 'link', 'set', nic, 'up');
  });
  ip('-n', lan, 'link', 'set', 'lo', 'up');
  ip('-n', lan, 'link', 'set', 'lan', 'up');
  ip('-n', lan, 'addr', 'add', `${LAB_LAN.gateway}/${LAB_LAN.prefix}`, 'dev', 'lan');
  ip('-n', netns, 'link', 'set', 'lo', 'up');
}

function hasLibvirt(): boolean {
  return fs.existsSync('/usr/sbin/libvirtd') && fs.existsSync(LIBVIRT_DRIVERS);
}

function copyDriversWithoutNodedev(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(LIBVIRT_DRIVERS)) return;
  for (const f of fs.readdirSync(LIBVIRT_DRIVERS)) {
    if (!f.includes('nodedev')) fs.copyFileSync(path.join(LIBVIRT_DRIVERS, f), path.join(dir, f));
  }
}

async function waitForReady(log: string, pid: number): Promise<void> {
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    if (text.includes('STEPWISE-LAB-READY')) return;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || Date.now() > end) throw new Error(`lab did not start: ${text.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills everything in the lab's namespaces and removes them and its files. Idempotent. */
export function teardown(netns: string, lan: string, stateDir: string): void {
  for (const ns of [netns, lan]) {
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
    } catch {
      /* namespace already gone */
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already exited */
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
}
