// The lab target: a throwaway host made of Linux namespaces on this machine, so the guide's
// host-changing steps run for real without touching the real host. It has its own network
// namespace with NICs named like the guide's (eth0, eth1: veth pairs whose peers sit on a
// bridge in a second namespace acting as the LAN, with the guide's gateway address), its own
// mount namespace with copy-on-write overlays over the paths the guide writes, its own
// hostname, its own PID namespace (its init reaps every daemon), and a libvirtd (QEMU driver;
// KVM only where it is really usable, see kvm.ts) without the node-device driver.
// Each lab's folder records who owns it, so labs whose owner died (kill -9) can be found and
// removed by the next command (listLabs, removeStaleLabs). dispose() removes all of it.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pty from 'node-pty';
import type { PtyLike, SpawnOptions, Target, TargetInfo } from './target.ts';
import { LocalTarget } from './local.ts';
import { LIBVIRT_DRIVERS, labInitScript } from './lab-init.ts';
import { track } from '../live.ts';
import { probeKvm } from './kvm.ts';
import { labSshPaths, linkLabHosts, startLabSshd } from './lab-ssh.ts';
import type { SshHost } from './ssh.ts';
import { childrenOf, isRunning, processId, type ProcessId } from './process.ts';

const run = promisify(execFile);

/** The LAN the lab's NICs are cabled to: the guide's subnet, gateway on the LAN side. */
export const LAB_LAN = { subnet: '192.168.123.0/24', gateway: '192.168.123.254', prefix: 24 } as const;
export const LAB_NICS = ['eth0', 'eth1'] as const;
export const LAB_HOSTNAME = 'host1';
/** What every lab is, known before one is built; labProfile() adds what this machine offers. */
export const LAB_PROFILE = {
  id: 'lab',
  platform: 'debian',
  capabilities: new Set(['netns', 'bridge', 'lan', 'libvirt', 'qemu']) as ReadonlySet<string>,
};
// libvirtd needs a few seconds to start under load; the whole lab comes up well within this.
const READY_TIMEOUT_MS = 60_000;
// Killed processes leave the namespaces within milliseconds; this bounds a stuck teardown
// (a process in uninterruptible sleep) so that the namespaces and folder are still removed.
const TEARDOWN_WAIT_MS = 10_000;
// A folder without its record is a lab being made right now (the record follows mkdtemp at
// once); past this age it was left by a crash.
const RECORDLESS_GRACE_MS = 60_000;
const STATE_PREFIX = 'stepwise-lab-';
const RECORD = 'lab.json';
/** In the lab's folder: its shared storage, removed with the folder. */
const SHARED_DIR = 'shared-images';
/** In the lab's folder: host 1's session folders. Each lab host has a /tmp of its own
 *  (lab-init.ts privateTmp), so this machine's /tmp, where the local target makes them, is
 *  not seen there; this folder is, at the same path. */
const SESSIONS_DIR = 'sessions';
/** In the lab's folder: seen at the same path on this machine and on every lab host. */
const EXCHANGE_DIR = 'exchange';

/** The labs this process made and has not removed yet (for disposeOwnLabs on a signal). */
const ownLabs = new Set<LabTarget>();

/** Removes every lab this process made: a CLI's SIGINT/SIGTERM handler awaits this before
 *  exiting, so that Ctrl-C does not leave its lab up (kill -9 leaves it to removeStaleLabs). */
export async function disposeOwnLabs(): Promise<void> {
  await Promise.all([...ownLabs].map((l) => l.dispose()));
}

export interface LabOptions {
  id?: string;
  /** Kept across runs (stepwise run --all, lab up): release() then leaves it up. */
  persistent?: boolean;
  /** Owned by no process (stepwise lab up): it lives until `stepwise lab down`. Otherwise the
   *  creating process owns it, and the lab is stale once that process is gone. */
  detached?: boolean;
  /** Mask /dev/kvm: true even where KVM works (tests simulate an unusable one); false never
   *  (bench/lab-kvm.ts measures what masking saves); by default when it exists but is unusable. */
  maskKvm?: boolean;
  /** Give the lab host its own OpenSSH server (lab-ssh.ts), for SSH targets. */
  ssh?: boolean;
  /** Hosts on the lab's LAN (default 1): the first is the lab target itself (host1); the
   *  others, host2…hostN, are reached over SSH only (implies ssh). */
  hosts?: number;
  /** The other hosts without libvirtd (fleet tests: lighter). */
  minimal?: boolean;
}

/** One more host on a lab's LAN (LabOptions.hosts): its own namespaces, overlays and sshd. */
export interface LabHostRecord {
  name: string;
  netns: string;
  stateDir: string;
  init?: ProcessId;
  outer?: ProcessId;
  ssh?: { address: string };
}

/** What a lab's folder records about it (lab.json). */
export interface LabRecord {
  id: string;
  netns: string;
  lanNetns: string;
  stateDir: string;
  /** The process that made it and removes it; null for a detached lab (lab up). */
  owner: ProcessId | null;
  persistent: boolean;
  createdAt: string;
  /** The lab's PID 1 (the init script), once it runs: killing it ends every lab process. */
  init?: ProcessId;
  /** The `unshare` whose child the init is; it exits once the init is gone. */
  outer?: ProcessId;
  kvm?: { usable: boolean; masked: boolean; reason: string };
  /** Its sshd's address on the management link, when it has one (lab-ssh.ts). */
  ssh?: { address: string };
  /** Its other hosts (LabOptions.hosts), each torn down with it. */
  extraHosts?: LabHostRecord[];
}

export class LabTarget implements Target {
  readonly platform = 'debian';
  readonly capabilities: ReadonlySet<string>;
  readonly id = 'lab';
  private teardownDone?: Promise<void>;

  private constructor(
    private readonly record: LabRecord,
    private readonly files = new LocalTarget({ platform: 'debian', capabilities: [] }),
  ) {
    this.capabilities = labCapabilities(record.kvm?.usable === true && !record.kvm.masked);
  }

  get labId(): string {
    return this.record.id;
  }
  get netns(): string {
    return this.record.netns;
  }
  get lanNetns(): string {
    return this.record.lanNetns;
  }
  get stateDir(): string {
    return this.record.stateDir;
  }
  /** The folder every host of the lab mounts at LAB_SHARED_IMAGES (emulated shared storage). */
  get sharedDir(): string {
    return path.join(this.record.stateDir, SHARED_DIR);
  }
  /** A folder at the same path on this machine and on every host of the lab (their /tmp are
   *  their own): files to hand to a runbook, or to see what it left (tests). */
  get exchangeDir(): string {
    return path.join(this.record.stateDir, EXCHANGE_DIR);
  }
  /** A host's whole file system as this machine sees it (its mounts: its own /tmp, the
   *  overlays), through its init's /proc root; undefined when there is no such host running. */
  hostRoot(name: string = LAB_HOSTNAME): string | undefined {
    const init = name === LAB_HOSTNAME ? this.record.init : this.record.extraHosts?.find((h) => h.name === name)?.init;
    return init && isRunning(init) ? `/proc/${init.pid}/root` : undefined;
  }
  /** Its sshd's address (lab-ssh.ts), when made with `ssh: true`. */
  get sshAddress(): string | undefined {
    return this.record.ssh?.address;
  }
  /** Its other hosts (host2…hostN) as SSH hosts, reached through the lab's LAN namespace
   *  with the lab's key and pinned host keys: `stepwise run --all --target lab` binds the
   *  roles of a runbook that spans hosts to them (role i on host i; role 1 is this target). */
  sshHosts(): SshHost[] {
    const p = labSshPaths(this.record.stateDir);
    return (this.record.extraHosts ?? []).filter((h) => h.ssh).map((h) => ({
      name: h.name,
      address: h.ssh!.address,
      user: 'root',
      identity: p.clientKey,
      knownHosts: p.knownHosts,
      proxyCommand: `ip netns exec ${this.record.lanNetns} nc %h %p`,
    }));
  }
  /** Whether KVM runs guests in this lab, and if not, why (target info, tests). */
  get kvm(): { usable: boolean; masked: boolean; reason: string } {
    return this.record.kvm ?? { usable: false, masked: false, reason: 'not probed' };
  }

  static async create(opts: LabOptions = {}): Promise<LabTarget> {
    const labId = opts.id ?? crypto.randomBytes(3).toString('hex');
    if (!/^[a-z0-9]{1,8}$/.test(labId)) throw new Error(`lab id must be 1-8 lower-case letters or digits, not ${labId}`);
    const netns = `sw-${labId}`;
    const lanNetns = `sw-${labId}-lan`;
    // Never build over (and then, on failure, tear down) a lab that is already there.
    if ((await netnsList()).some((n) => n === netns || n === lanNetns) || stateDirsOf(labId).length) {
      throw new Error(`lab ${labId} already exists (stepwise lab list)`);
    }
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `${STATE_PREFIX}${labId}-`));
    const kvm = probeKvm();
    // An unusable /dev/kvm is hidden, or libvirt re-probes QEMU for a minute on every define.
    const masked = opts.maskKvm ?? (!kvm.usable && kvm.facts.device !== 'missing');
    const record: LabRecord = {
      id: labId,
      netns,
      lanNetns,
      stateDir,
      owner: opts.detached ? null : processId()!,
      persistent: opts.persistent ?? false,
      createdAt: new Date().toISOString(),
      kvm: { usable: kvm.usable && !masked, masked, reason: kvm.usable && masked ? 'masked on request' : kvm.reason },
    };
    writeRecord(record);
    try {
      await buildNetwork(netns, lanNetns);
      const driversDir = path.join(stateDir, 'libvirt-drivers');
      copyDriversWithoutNodedev(driversDir);
      const init = path.join(stateDir, 'init.sh');
      const sharedDir = path.join(stateDir, SHARED_DIR);
      // As Debian's /var/lib/libvirt/images: QEMU's user may reach a disk by its name, not list.
      fs.mkdirSync(sharedDir, { mode: 0o711 });
      // Seen inside at their own paths (each host's /tmp is its own): host 1's session folders,
      // the exchange folder, and the SSH files every host's sshd reads.
      const sessions = path.join(stateDir, SESSIONS_DIR);
      const shared = [path.join(stateDir, EXCHANGE_DIR), labSshPaths(stateDir).dir];
      const keep = [sessions, ...shared];
      for (const d of keep) fs.mkdirSync(d, { mode: 0o700 });
      fs.writeFileSync(init, labInitScript({ stateDir, driversDir, hostname: LAB_HOSTNAME, maskKvm: masked, sharedDir, privateTmp: keep }), { mode: 0o700 });
      const log = path.join(stateDir, 'init.log');
      const out = fs.openSync(log, 'a');
      const child = spawn(
        'ip',
        ['netns', 'exec', netns, 'unshare', '--mount', '--uts', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--', 'bash', init],
        // cwd /: the init's working directory is what the shells start in (nsenter -w).
        { stdio: ['ignore', out, out], detached: true, cwd: '/' },
      );
      fs.closeSync(out);
      child.unref();
      child.on('error', () => undefined); // a missing `ip` shows as "did not start" below
      record.outer = processId(child.pid!);
      writeRecord(record);
      await waitForReady(log, child.pid!);
      const initPid = childrenOf(child.pid!)[0];
      const init1 = initPid ? processId(initPid) : undefined;
      if (!init1) throw new Error('lab did not start: its init is gone');
      record.init = init1;
      writeRecord(record);
      const hosts = Math.max(1, opts.hosts ?? 1);
      if (opts.ssh || hosts > 1) {
        record.ssh = await startLabSshd({ netns, lanNetns, stateDir, initPid: init1.pid, name: LAB_HOSTNAME });
        writeRecord(record);
      }
      for (let n = 2; n <= hosts; n++) {
        const h: LabHostRecord = { name: `host${n}`, netns: `sw-${labId}-h${n}`, stateDir: path.join(stateDir, `host${n}`) };
        record.extraHosts = [...(record.extraHosts ?? []), h];
        writeRecord(record); // recorded before it exists: a teardown removes whatever of it was made
        await startExtraHost(h, n, lanNetns, driversDir, masked, opts.minimal ?? false, sharedDir, shared, () => writeRecord(record));
      }
      if (hosts > 1) {
        const all = [{ name: LAB_HOSTNAME, address: record.ssh!.address, initPid: init1.pid }, ...record.extraHosts!.map((h) => ({ name: h.name, address: h.ssh!.address, initPid: h.init!.pid }))];
        await linkLabHosts(stateDir, all);
      }
      const lab = new LabTarget(record, new LabSessionFiles(sessions));
      if (record.owner) ownLabs.add(lab);
      lab.untrack = track(lab, `lab ${record.id} (${record.netns})`);
      return lab;
    } catch (e) {
      await teardownLab(record);
      throw e;
    }
  }

  info(): TargetInfo {
    return { id: this.id, platform: this.platform, host: `${LAB_HOSTNAME} (lab ${this.labId} on ${os.hostname()})`, capabilities: [...this.capabilities] };
  }

  makeSessionDir(): Promise<string> {
    return this.files.makeSessionDir();
  }

  writeSessionFile(dir: string, name: string, content: string): Promise<string> {
    return this.files.writeSessionFile(dir, name, content);
  }

  writeSessionFiles(dir: string, files: ReadonlyArray<readonly [string, string]>): Promise<string[]> {
    return this.files.writeSessionFiles(dir, files);
  }

  readSessionFile(dir: string, name: string): Promise<Buffer | undefined> {
    return this.files.readSessionFile(dir, name);
  }

  readSessionFiles(dir: string, names: readonly string[]): Promise<Map<string, Buffer>> {
    return this.files.readSessionFiles(dir, names);
  }

  removeSessionDir(dir: string): Promise<void> {
    return this.files.removeSessionDir(dir);
  }

  spawnShell(opts: SpawnOptions): PtyLike {
    if (this.teardownDone) throw new Error(`lab ${this.labId} is gone`);
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      LIBVIRT_DEFAULT_URI: 'qemu:///system',
      STEPWISE_LAB: this.labId,
      ...opts.env,
    };
    // -p: the shell and what it starts live in the lab's PID namespace, so a daemon it
    // starts (libvirtd restarted by a runbook, a hand-run QEMU) is reaped by the lab's init.
    // -w: the init's working directory, /root inside the lab (the host's /root stays unwritten).
    const p = pty.spawn('nsenter', ['-t', String(this.record.init!.pid), '-m', '-n', '-u', '-p', '-w', '--', 'bash', '--noprofile', '--rcfile', opts.rcFile, '-i'], {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: '/',
      env,
      encoding: null,
    });
    return p as unknown as PtyLike;
  }

  async signalForeground(p: PtyLike, signal: NodeJS.Signals): Promise<boolean> {
    // nsenter forks into the PID namespace: the shell is its child, and the shell's own group
    // in the foreground means nothing is running.
    try {
      const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const tpgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]);
      const shell = childrenOf(p.pid)[0];
      if (!(tpgid > 0) || tpgid === p.pid || tpgid === shell) return false;
      process.kill(-tpgid, signal);
      return true;
    } catch {
      return false;
    }
  }

  private untrack: () => void = () => undefined;

  /** Called when a run ends: a per-run lab goes away; a persistent one stays for the next. */
  release(): void {
    if (!this.record.persistent) void this.dispose();
  }

  /** Starts removing the lab (once); the promise settles when all of it is gone. Never rejects. */
  dispose(): Promise<void> {
    return (this.teardownDone ??= teardownLab(this.record).finally(() => {
      ownLabs.delete(this);
      this.untrack();
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Host 1's session folders, in the lab's folder (SESSIONS_DIR): the lab's shells see them
 *  at the same path, and they go with the lab. */
class LabSessionFiles extends LocalTarget {
  constructor(private readonly dir: string) {
    super({ platform: 'debian', capabilities: [] });
  }

  override async makeSessionDir(): Promise<string> {
    return fs.mkdtempSync(path.join(this.dir, 'stepwise-')); // mkdtemp creates it 0700
  }
}

/** The folders holding the labs' host-1 session folders (orphan reaping looks there too). */
export function labSessionDirs(): string[] {
  return allStateDirs().map((d) => path.join(d, SESSIONS_DIR)).filter((d) => fs.existsSync(d));
}

/** The lab's capabilities on this machine (plans, before a lab is built): kvm where usable. */
export function labProfile(): { id: string; platform: string; capabilities: ReadonlySet<string> } {
  return { ...LAB_PROFILE, capabilities: labCapabilities(probeKvm().usable) };
}

function labCapabilities(kvmUsable: boolean): ReadonlySet<string> {
  if (!hasLibvirt()) return new Set(['netns', 'bridge', 'lan']);
  // hw-virt and kvm go together here: the lab offers the CPU's extensions only through KVM.
  return new Set([...LAB_PROFILE.capabilities, ...(kvmUsable ? ['hw-virt', 'kvm'] : [])]);
}

/** Builds one more host on the lab's LAN: network namespace, NICs on the LAN bridge, its own
 *  init (overlays, PID namespace, hostname) and sshd; the record is updated as it goes. */
async function startExtraHost(h: LabHostRecord, n: number, lan: string, driversDir: string, maskKvm: boolean, minimal: boolean, sharedDir: string, keep: readonly string[], save: () => void): Promise<void> {
  fs.mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
  await ip('netns', 'add', h.netns);
  for (const [i, nic] of LAB_NICS.entries()) {
    await ip('link', 'add', nic, 'netns', h.netns, 'type', 'veth', 'peer', 'name', `h${n}lan${i}`, 'netns', lan);
    await ip('-n', lan, 'link', 'set', `h${n}lan${i}`, 'master', 'lan', 'up');
    await ip('-n', h.netns, 'link', 'set', nic, 'up');
  }
  await ip('-n', h.netns, 'link', 'set', 'lo', 'up');
  const init = path.join(h.stateDir, 'init.sh');
  fs.writeFileSync(init, labInitScript({ stateDir: h.stateDir, driversDir, hostname: h.name, maskKvm, libvirt: !minimal, sharedDir, privateTmp: keep }), { mode: 0o700 });
  const log = path.join(h.stateDir, 'init.log');
  const out = fs.openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', h.netns, 'unshare', '--mount', '--uts', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--', 'bash', init], {
    stdio: ['ignore', out, out],
    detached: true,
    cwd: '/',
  });
  fs.closeSync(out);
  child.unref();
  child.on('error', () => undefined);
  h.outer = processId(child.pid!);
  save();
  await waitForReady(log, child.pid!);
  const initPid = childrenOf(child.pid!)[0];
  h.init = initPid ? processId(initPid) : undefined;
  if (!h.init) throw new Error(`lab host ${h.name} did not start: its init is gone`);
  save();
  h.ssh = await startLabSshd({ netns: h.netns, lanNetns: lan, stateDir: path.dirname(h.stateDir), initPid: h.init.pid, hostNumber: n, name: h.name });
  save();
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

async function buildNetwork(netns: string, lan: string): Promise<void> {
  await ip('netns', 'add', netns);
  await ip('netns', 'add', lan);
  await ip('-n', lan, 'link', 'add', 'lan', 'type', 'bridge');
  for (const [i, nic] of LAB_NICS.entries()) {
    await ip('link', 'add', nic, 'netns', netns, 'type', 'veth', 'peer', 'name', `lan${i}`, 'netns', lan);
    await ip('-n', lan, 'link', 'set', `lan${i}`, 'master', 'lan', 'up');
    await ip('-n', netns, 'link', 'set', nic, 'up');
  }
  await ip('-n', lan, 'link', 'set', 'lo', 'up');
  await ip('-n', lan, 'link', 'set', 'lan', 'up');
  await ip('-n', lan, 'addr', 'add', `${LAB_LAN.gateway}/${LAB_LAN.prefix}`, 'dev', 'lan');
  await ip('-n', netns, 'link', 'set', 'lo', 'up');
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
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Records, listing and teardown: what any stepwise process may do with any lab.

function writeRecord(r: LabRecord): void {
  const file = path.join(r.stateDir, RECORD);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file); // a reader never sees half a record
}

function readRecord(stateDir: string): LabRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, RECORD), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

function stateDirsOf(id: string): string[] {
  return allStateDirs().filter((d) => idOfStateDir(d) === id);
}

function allStateDirs(): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(os.tmpdir());
  } catch {
    /* no tmpdir: no labs */
  }
  return names.filter((n) => n.startsWith(STATE_PREFIX) && idOfStateDir(n) !== undefined).map((n) => path.join(os.tmpdir(), n));
}

function idOfStateDir(dir: string): string | undefined {
  return new RegExp(`^${STATE_PREFIX}([a-z0-9]{1,8})-[A-Za-z0-9]{6}$`).exec(path.basename(dir))?.[1];
}

async function netnsList(): Promise<string[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'list']);
    return stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  } catch {
    return [];
  }
}

async function netnsPids(ns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', ns]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // the namespace is gone
  }
}

export interface LabEntry {
  id: string;
  /** Its network namespace exists. */
  up: boolean;
  stateDir?: string;
  /** The owning process (null: detached, a `lab up` lab; undefined: no record). */
  owner?: ProcessId | null;
  ownerAlive: boolean;
  persistent: boolean;
  /** Its init (PID 1 of the lab) runs. */
  initAlive: boolean;
  kvm?: LabRecord['kvm'];
  /** Safe to remove: nobody will, and nobody uses it. */
  stale: boolean;
  /** Why it is stale, or who holds it. */
  why: string;
}

/** Pure: whether a lab is stale, from what is known about it. */
export function judgeLab(l: { up: boolean; record?: LabRecord; ownerAlive: boolean; initAlive: boolean; recordlessAgeMs?: number }): { stale: boolean; why: string } {
  const r = l.record;
  if (!r) {
    if (l.recordlessAgeMs !== undefined && l.recordlessAgeMs < RECORDLESS_GRACE_MS) return { stale: false, why: 'being made' };
    return { stale: true, why: l.up ? 'no record of its owner' : 'leftover folder' };
  }
  if (r.owner) {
    if (!l.ownerAlive) return { stale: true, why: `owner pid ${r.owner.pid} is gone` };
    return { stale: false, why: `owned by pid ${r.owner.pid}` };
  }
  // A detached lab (lab up) has no owner by design: stale only once it is broken.
  if (!l.up) return { stale: true, why: 'its network namespace is gone' };
  if (!l.initAlive) return { stale: true, why: 'its init is gone' };
  return { stale: false, why: 'kept up (lab up)' };
}

/** Every lab on this machine, from the network namespaces and the lab folders. */
export async function listLabs(): Promise<LabEntry[]> {
  const nets = await netnsList();
  const ids = new Set<string>();
  for (const n of nets) {
    const id = /^sw-([a-z0-9]{1,8})$/.exec(n)?.[1] ?? /^sw-([a-z0-9]{1,8})-(?:lan|h\d+)$/.exec(n)?.[1];
    if (id) ids.add(id);
  }
  const dirs = allStateDirs();
  for (const d of dirs) ids.add(idOfStateDir(d)!);
  const entries: LabEntry[] = [];
  for (const id of [...ids].sort()) {
    const stateDir = dirs.find((d) => idOfStateDir(d) === id);
    const record = stateDir ? readRecord(stateDir) : undefined;
    const up = nets.includes(`sw-${id}`);
    const ownerAlive = !!record?.owner && isRunning(record.owner);
    const initAlive = !!record?.init && isRunning(record.init);
    let recordlessAgeMs: number | undefined;
    if (!record && stateDir) {
      try {
        recordlessAgeMs = Date.now() - fs.statSync(stateDir).mtimeMs;
      } catch {
        /* just removed */
      }
    }
    const v = judgeLab({ up, record, ownerAlive, initAlive, recordlessAgeMs });
    entries.push({
      id,
      up,
      ...(stateDir ? { stateDir } : {}),
      ...(record ? { owner: record.owner, kvm: record.kvm } : {}),
      ownerAlive,
      persistent: record?.persistent ?? false,
      initAlive,
      ...v,
    });
  }
  return entries;
}

/** Removes the labs whose owner is gone (or that are broken); returns their ids. */
export async function removeStaleLabs(): Promise<string[]> {
  const stale = (await listLabs()).filter((l) => l.stale);
  for (const l of stale) await removeLab(l.id);
  return stale.map((l) => l.id);
}

/** The record of a lab by id (stepwise lab inventory); undefined when there is none. */
export function findLabRecord(id: string): LabRecord | undefined {
  return stateDirsOf(id).map(readRecord).find((r) => r !== undefined);
}

/** Removes one lab whoever owns it; false when there is no such lab. */
export async function removeLab(id: string): Promise<boolean> {
  const dirs = stateDirsOf(id);
  const nets = await netnsList();
  if (!dirs.length && !nets.some((n) => n === `sw-${id}` || n === `sw-${id}-lan` || new RegExp(`^sw-${id}-h\\d+$`).test(n))) return false;
  const record = dirs.map(readRecord).find((r) => r !== undefined);
  // Without a record, its other hosts are known by their namespaces' names.
  const extra = nets.filter((n) => new RegExp(`^sw-${id}-h\\d+$`).test(n)).map((netns) => ({ name: netns, netns, stateDir: '' }));
  await teardownLab(record ?? { netns: `sw-${id}`, lanNetns: `sw-${id}-lan`, stateDir: dirs[0] ?? '', extraHosts: extra });
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  return true;
}

/** Kills everything in the lab and removes its namespaces and folder. Idempotent; never rejects. */
async function teardownLab(r: Pick<LabRecord, 'netns' | 'lanNetns' | 'stateDir' | 'init' | 'outer' | 'extraHosts'>): Promise<void> {
  // Its other hosts first, the same way (their init, then what is left in their namespace).
  for (const h of r.extraHosts ?? []) {
    try {
      if (h.init && isRunning(h.init)) process.kill(h.init.pid, 'SIGKILL');
      if (h.outer) await until(() => !isRunning(h.outer!), TEARDOWN_WAIT_MS);
      const end = Date.now() + TEARDOWN_WAIT_MS;
      for (let pids = await netnsPids(h.netns); pids.length && Date.now() < end; pids = await netnsPids(h.netns)) {
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already exited */
          }
        }
        await sleep(20);
      }
      await run('ip', ['netns', 'del', h.netns]).catch(() => undefined);
    } catch {
      /* best effort, as below */
    }
  }
  try {
    // The init first: the kernel then kills every process of the lab's PID namespace and the
    // init reaps them; its parent (unshare) exits on its own. Killing both at once would
    // orphan the init to the host's PID 1, which is not always a reaper.
    if (r.init && isRunning(r.init)) process.kill(r.init.pid, 'SIGKILL');
    if (r.outer) await until(() => !isRunning(r.outer!), TEARDOWN_WAIT_MS);
    const end = Date.now() + TEARDOWN_WAIT_MS;
    for (;;) {
      // What is left: shells entered with nsenter, `ip netns exec` users, a lab that died half-made.
      const pids = [...(await netnsPids(r.netns)), ...(await netnsPids(r.lanNetns))];
      if (pids.length === 0 || Date.now() > end) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already exited */
        }
      }
      await sleep(20);
    }
    for (const ns of [r.netns, r.lanNetns]) {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined); // already gone
    }
    if (r.stateDir) fs.rmSync(r.stateDir, { recursive: true, force: true });
  } catch {
    /* best effort: listLabs shows what is left, lab down --stale retries */
  }
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
}

