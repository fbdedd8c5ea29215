// The SSH target: a run's shell on another machine, over the OpenSSH client. One master
// connection per target (ControlMaster, socket in a private folder) authenticates once; the
// shell (`ssh -tt`) and every side file (`cat > f`, `cat f`, `mktemp -d`) are channels over it.
// Every side command is an asynchronous child: a fleet's process waits on many hosts at once
// instead of on one at a time (docs/performance.md, Fleets at scale).
// Only options are added: the user's ~/.ssh/config, ProxyJump, IdentityFile and agent work as
// with plain `ssh`. Host keys are checked strictly. The remote needs only bash and coreutils.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import type { PtyLike, SpawnOptions, Target, TargetInfo } from './target.ts';
import { platformFromOsRelease } from './platform.ts';
import { track } from '../live.ts';
import { selfOwner } from '../owner.ts';
import { OWNER_FILE } from '../run/orphans.ts';

/** Where and how to reach one host (an inventory entry, or `ssh://user@host:port`). */
export interface SshHost {
  /** The name runs record: an inventory host name, or the ssh:// text. */
  name: string;
  /** Host name, address or ~/.ssh/config alias. */
  address: string;
  user?: string;
  port?: number;
  identity?: string;
  jump?: string;
  /** The known_hosts file Stepwise checks keys against; default: the user's own. */
  knownHosts?: string;
  proxyCommand?: string;
  /** Overrides the platform read from the host's os-release. */
  platform?: string;
  labels?: string[];
}

export interface SshConnectOptions {
  /** Trust an unknown host's key on first connection (recorded in target info → audit chain). */
  acceptNewHostKey?: boolean;
}

// A drop is noticed within 5 s × 3 = 15 s of silence (issue 10); a host that does not answer
// the TCP handshake is reported unreachable after 10 s.
const KEEPALIVE = ['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', '-o', 'ConnectTimeout=10'];
// The master authenticates within ConnectTimeout plus a slow authentication.
const MASTER_READY_MS = 30_000;
// The master connection's own remote command: it collects the session folders we make (one per
// line on its stdin) and removes them when its stdin ends — our exit, a kill -9, or the
// connection dropping (HUP ignored so that the removal still runs). Only mktemp's names.
const JANITOR = `exec /bin/sh -c 'trap "" HUP; while read -r d; do case "$d" in /*/stepwise-????????) set -- "$@" "$d";; esac; done; rm -rf -- "$@"'`;
// A side command (a file, a signal) over an established master takes milliseconds; this bounds a hung one.
const SIDE_COMMAND_MS = 20_000;
// `ssh -O check` / `-O exit` only talk to the local master over its socket.
const CHECK_MS = 5_000;

/** Pure: the ssh options and destination for a host (no control options). */
export function sshBaseArgs(h: SshHost, o: SshConnectOptions = {}): string[] {
  const args = ['-o', 'BatchMode=yes', '-o', `StrictHostKeyChecking=${o.acceptNewHostKey ? 'accept-new' : 'yes'}`, ...KEEPALIVE];
  // Quoted: ssh splits the value on spaces (several files), and a path may hold one.
  if (h.knownHosts) args.push('-o', `UserKnownHostsFile="${h.knownHosts}"`, '-o', 'GlobalKnownHostsFile=/dev/null');
  if (h.user) args.push('-l', h.user);
  if (h.port !== undefined) args.push('-p', String(h.port));
  if (h.identity) args.push('-i', h.identity, '-o', 'IdentitiesOnly=yes');
  const hop = h.jump ? parseHop(h.jump) : undefined;
  if (hop) {
    // One jump host: reached by a nested `ssh -W` with the same strict options (and the same
    // known_hosts, identity and proxy_command), where `ssh -J` would check its key with the
    // user's own defaults. `%` is doubled so the inner ssh, not this one, expands its tokens.
    const inner = sshBaseArgs({ name: h.jump!, address: hop.host, ...(hop.user ? { user: hop.user } : {}), ...(hop.port ? { port: hop.port } : {}), ...(h.identity ? { identity: h.identity } : {}), ...(h.knownHosts ? { knownHosts: h.knownHosts } : {}), ...(h.proxyCommand ? { proxyCommand: h.proxyCommand } : {}) }, o);
    const words = (xs: string[]) => xs.map((x) => q(x).replace(/%/g, '%%')).join(' ');
    args.push('-o', `ProxyCommand=ssh ${words(inner)} -W '[%h]:%p' ${words([hop.host])}`);
  } else {
    if (h.jump) args.push('-J', h.jump); // several hops: ssh's own -J
    if (h.proxyCommand) args.push('-o', `ProxyCommand=${h.proxyCommand}`);
  }
  return args;
}

/** Pure: one jump hop `[user@]host[:port]`; undefined for a list of hops or any other form. */
export function parseHop(text: string): { user?: string; host: string; port?: number } | undefined {
  const m = /^(?:([^@\s,:/]+)@)?([^@\s,:/\[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host: m[2]!, ...(m[1] ? { user: m[1] } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Pure: parses `ssh://[user@]host[:port]`; undefined when the text is not one. */
export function parseSshUrl(text: string): SshHost | undefined {
  const m = /^ssh:\/\/(?:([^@/:\s]+)@)?(\[[0-9a-fA-F:]+\]|[^@/:\s\[\]]+)(?::(\d{1,5}))?\/?$/.exec(text);
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { name: text, address: m[2]!.replace(/^\[|\]$/g, ''), ...(m[1] ? { user: m[1] } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Pure: ssh's last message that is not debug output or a banner line. */
export function lastMessage(stderr: string): string {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('debug') && !l.startsWith('@') && !l.startsWith('OpenSSH_')).slice(-1)[0] ?? 'no message';
}

/** Pure: why an ssh connection failed, from its stderr, in words for the operator. */
export function sshFailureReason(stderr: string, host: string): { kind: 'changed-key' | 'unknown-key' | 'auth' | 'unreachable' | 'other'; reason: string } {
  const last = lastMessage(stderr);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return { kind: 'changed-key', reason: `the host key of ${host} has changed since it was trusted: refused (someone may be intercepting the connection, or the host was rebuilt; if you know why, remove its old key from known_hosts and trust it again)` };
  }
  if (/No .* host key is known for|Host key verification failed/i.test(stderr)) {
    return { kind: 'unknown-key', reason: `the host key of ${host} is not known: refused` };
  }
  if (/Permission denied|Too many authentication failures|no more authentication methods/i.test(stderr)) {
    return { kind: 'auth', reason: `authentication to ${host} refused (${last})` };
  }
  if (/Connection refused|Connection timed out|No route to host|Could not resolve hostname|Network is unreachable|Connection closed by|kex_exchange_identification|Name or service not known|UNKNOWN port/i.test(stderr)) {
    return { kind: 'unreachable', reason: `${host} is unreachable (${last})` };
  }
  return { kind: 'other', reason: `ssh to ${host} failed (${last})` };
}

/** What a host is, read over SSH once at connection (target info, run record, audit chain). */
export interface HostIdentity {
  hostKey?: string;
  hostKeyType?: string;
  machineId?: string;
  os?: { id: string; versionId: string };
  kernel?: string;
  hostname?: string;
  /** The host key was trusted on this connection (--accept-new-host-key). */
  hostKeyAcceptedNew?: boolean;
}

// One command gathers every fact; sections are split on this line.
const FACTS_SEP = '--stepwise-facts--';
const FACTS_CMD = `cat /etc/machine-id 2>/dev/null; echo ${FACTS_SEP}; cat /etc/os-release 2>/dev/null; echo ${FACTS_SEP}; uname -r; echo ${FACTS_SEP}; uname -n; echo ${FACTS_SEP}; grep -qE '^flags.*\\b(vmx|svm)\\b' /proc/cpuinfo 2>/dev/null && echo hw-virt`;

/** Pure: the facts command's output → identity and os-release text. */
export function parseFacts(text: string): { machineId?: string; osRelease: string; kernel?: string; hostname?: string; hwVirt: boolean } {
  const [mid = '', osr = '', kernel = '', hostname = '', virt = ''] = text.split(`${FACTS_SEP}\n`);
  return {
    ...(mid.trim() ? { machineId: mid.trim() } : {}),
    osRelease: osr,
    ...(kernel.trim() ? { kernel: kernel.trim() } : {}),
    ...(hostname.trim() ? { hostname: hostname.trim() } : {}),
    hwVirt: virt.trim() === 'hw-virt',
  };
}

function osField(osr: string, k: string): string {
  return new RegExp(`^${k}=("?)([^"\\n]*)\\1\\s*$`, 'm').exec(osr)?.[2] ?? '';
}

/** Pure: one shell word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A session file's name as the batched commands take it: a plain name (a broken invariant otherwise). */
function checkName(n: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(n)) throw new Error(`not a session file name: ${JSON.stringify(n)}`);
}

/** What a finished command gave: status null when it was killed (its timeout) or did not start. */
interface Ran {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

// What a side command may print: a session file (a staged script, the shell's environment).
const SIDE_OUTPUT_MAX = 64 * 1024 * 1024;
// ssh's stderr kept for a reason: its last lines say why.
const STDERR_MAX = 64 * 1024;

/** Runs a program to its end without blocking the event loop; never rejects. */
export function runAsync(cmd: string, args: string[], o: { input?: string | Buffer; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [o.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let done = false;
    const finish = (status: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr: err });
    };
    // As spawnSync's timeout: SIGTERM, and the command counts as failed.
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > SIDE_OUTPUT_MAX) child.kill('SIGTERM');
      else out.push(d);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (err.length < STDERR_MAX) err += d;
    });
    child.on('error', () => finish(null)); // no such program
    child.on('close', (code, signal) => finish(signal || outBytes > SIDE_OUTPUT_MAX ? null : code));
    if (o.input !== undefined) {
      child.stdin!.on('error', () => undefined); // it exited before reading: its status says so
      child.stdin!.end(o.input);
    }
  });
}

/** The host's key as ssh sees it, fetched without trusting or authenticating (hosts trust, refusals). */
export async function probeHostKey(h: SshHost): Promise<{ lines: string[]; fingerprints: string[] } | { error: string }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-probe-'));
  try {
    const kh = path.join(tmp, 'known_hosts');
    const args = [
      ...sshBaseArgs({ ...h, knownHosts: kh }, { acceptNewHostKey: true }),
      '-o', 'HashKnownHosts=no', '-o', 'PreferredAuthentications=none', '-o', 'ControlPath=none', '-o', 'ControlMaster=no',
      h.address, 'true',
    ];
    const r = await runAsync('ssh', args, { timeoutMs: SIDE_COMMAND_MS });
    const lines = fs.existsSync(kh) ? fs.readFileSync(kh, 'utf8').split('\n').filter(Boolean) : [];
    if (!lines.length) return { error: sshFailureReason(r.stderr, h.name).reason };
    const fp = await runAsync('ssh-keygen', ['-l', '-f', kh], { timeoutMs: SIDE_COMMAND_MS });
    const fingerprints = fp.stdout.toString('utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[1]!).filter(Boolean);
    return { lines, fingerprints };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The known_hosts file a host's keys are checked against (and `hosts trust` writes). */
export function knownHostsFile(h: SshHost): string {
  return h.knownHosts ?? path.join(os.homedir(), '.ssh', 'known_hosts');
}

/** Error thrown by SshTarget.create, with the failure kind (tests, CLI hints). */
export class SshConnectError extends Error {
  constructor(readonly kind: ReturnType<typeof sshFailureReason>['kind'], message: string) {
    super(message);
  }
}

/** Targets whose master or private folder is still there (for the exit hook below). */
const openTargets = new Set<SshTarget>();
let exitHooked = false;

/** A process.exit (a CLI's second Ctrl-C) does not wait for a release under way: what it would
 *  still do here is done synchronously (the master ended — its janitor then removes the session
 *  folders on the host — and the control folder removed). */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const t of openTargets) t.closeNow();
  });
}

export class SshTarget implements Target {
  readonly id: string;
  readonly platform: string;
  readonly capabilities: ReadonlySet<string>;
  private masterDown = false;
  private lostReason: string | undefined;
  private readonly shellPids = new Map<string, number>();
  private readonly untrack: () => void;
  private released = false;
  private closed: Promise<void> | undefined;
  /** Side commands under way: release lets them finish (a session folder's removal) first. */
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    readonly host: SshHost,
    private readonly base: string[],
    private readonly ctlDir: string,
    private readonly master: ChildProcess,
    private readonly masterLog: { text: string },
    readonly identity: HostIdentity,
    platform: string,
    capabilities: string[],
  ) {
    this.id = host.name;
    this.platform = platform;
    this.capabilities = new Set(capabilities);
    master.on('exit', () => {
      this.masterDown = true;
      if (!this.released) this.lostReason = `connection lost (${lastMessage(masterLog.text)})`;
    });
    this.untrack = track(this, `ssh master to ${host.name} (pid ${master.pid})`);
    openTargets.add(this);
    hookExit();
  }

  /** @internal The exit hook's synchronous end: the master and the control folder. */
  closeNow(): void {
    try {
      this.master.kill('SIGTERM');
    } catch {
      /* gone */
    }
    fs.rmSync(this.ctlDir, { recursive: true, force: true });
  }

  /** Connects (one authentication) and reads the host's identity. Throws SshConnectError with a clear reason. */
  static async create(host: SshHost, o: SshConnectOptions = {}): Promise<SshTarget> {
    const ctlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ssh-')); // 0700: the socket grants the connection
    // Whose folder this is: after a kill -9 the next stepwise command removes it (run/orphans.ts).
    fs.writeFileSync(path.join(ctlDir, OWNER_FILE), selfOwner(), { mode: 0o600 });
    const ctl = path.join(ctlDir, 'ctl');
    const base = [...sshBaseArgs(host, o), '-o', `ControlPath=${ctl}`];
    const log = { text: '' };
    // -v: the master's log names the server's host key (its fingerprint is recorded). Its own
    // session is the janitor (JANITOR): its stdin is ours, so when this process dies, even by
    // kill -9, the session ends, the master exits once the shell's channel is gone too, and the
    // session folders are removed on the host.
    const master = spawn('ssh', [...base, '-M', '-v', '-o', 'ControlPersist=no', host.address, JANITOR], { stdio: ['pipe', 'ignore', 'pipe'] });
    master.stdin!.on('error', () => undefined); // the master gone: its exit says why
    master.stderr!.setEncoding('utf8');
    master.stderr!.on('data', (d: string) => {
      // Keep the start (host key line) and a bounded tail (why it ended).
      log.text = log.text.length < 64_000 ? log.text + d : log.text.slice(0, 32_000) + log.text.slice(-16_000) + d;
    });
    master.on('error', () => undefined); // no ssh binary: shows as the master exiting below
    const fail = (e: SshConnectError): never => {
      try {
        master.kill('SIGTERM');
      } catch {
        /* gone */
      }
      fs.rmSync(ctlDir, { recursive: true, force: true });
      throw e;
    };
    const end = Date.now() + MASTER_READY_MS;
    for (;;) {
      if (master.exitCode !== null || master.signalCode !== null) {
        await new Promise((r) => setTimeout(r, 20)); // the last stderr bytes
        const why = sshFailureReason(log.text, host.name);
        if (why.kind === 'unknown-key') {
          const probe = await probeHostKey(host);
          const fp = 'fingerprints' in probe ? probe.fingerprints.join(', ') : `fingerprint unknown: ${probe.error}`;
          fail(new SshConnectError(why.kind, `${why.reason}; its key is ${fp}. If that is the host's key, trust it with \`stepwise hosts trust ${host.name}\` (or run with --accept-new-host-key)`));
        }
        fail(new SshConnectError(why.kind, why.reason));
      }
      if (fs.existsSync(ctl) && (await runAsync('ssh', [...base, '-O', 'check', host.address], { timeoutMs: CHECK_MS })).status === 0) break;
      if (Date.now() > end) fail(new SshConnectError('unreachable', `${host.name}: no connection after ${MASTER_READY_MS / 1000} s`));
      await new Promise((r) => setTimeout(r, 50));
    }
    const key = /Server host key: (\S+) (SHA256:\S+)/.exec(log.text);
    const facts = await runAsync('ssh', [...base, '-o', 'ControlMaster=no', host.address, FACTS_CMD], { timeoutMs: SIDE_COMMAND_MS });
    const f = parseFacts(facts.stdout.toString('utf8'));
    const identity: HostIdentity = {
      ...(key ? { hostKeyType: key[1], hostKey: key[2] } : {}),
      ...(f.machineId ? { machineId: f.machineId } : {}),
      ...(f.osRelease ? { os: { id: osField(f.osRelease, 'ID'), versionId: osField(f.osRelease, 'VERSION_ID') } } : {}),
      ...(f.kernel ? { kernel: f.kernel } : {}),
      ...(f.hostname ? { hostname: f.hostname } : {}),
      ...(o.acceptNewHostKey && /Warning: Permanently added/.test(log.text) ? { hostKeyAcceptedNew: true } : {}),
    };
    const platform = host.platform ?? (f.osRelease ? platformFromOsRelease(f.osRelease) : 'linux');
    return new SshTarget(host, base, ctlDir, master, log, identity, platform, ['ssh', ...(f.hwVirt ? ['hw-virt'] : [])]);
  }

  info(): TargetInfo & { ssh: HostIdentity & { address: string; user?: string; port?: number } } {
    return {
      id: this.id,
      platform: this.platform,
      host: this.identity.hostname ?? this.host.address,
      capabilities: [...this.capabilities],
      ssh: { address: this.host.address, ...(this.host.user ? { user: this.host.user } : {}), ...(this.host.port ? { port: this.host.port } : {}), ...this.identity },
    };
  }

  /** Why the shell ended when it was the connection, not the shell: the run is then interrupted. */
  async lostConnection(): Promise<string | undefined> {
    if (this.released) return undefined;
    if (!this.masterDown && (await runAsync('ssh', [...this.base, '-O', 'check', this.host.address], { timeoutMs: CHECK_MS })).status === 0) return undefined;
    return this.lostReason ?? 'connection lost';
  }

  /** Runs one command over the master; null when the connection is gone. */
  private side(cmd: string, input?: string | Buffer): Promise<{ status: number | null; stdout: Buffer } | null> {
    if (this.masterDown) return Promise.resolve(null);
    const ran = runAsync('ssh', [...this.base, '-o', 'ControlMaster=no', this.host.address, cmd], { ...(input !== undefined ? { input } : {}), timeoutMs: SIDE_COMMAND_MS })
      .then((r) => (r.status === 255 ? null : r));
    this.pending.add(ran);
    void ran.then(() => this.pending.delete(ran));
    return ran;
  }

  async makeSessionDir(): Promise<string> {
    // mktemp -d makes it 0700; on the remote, under its own temporary folder.
    const r = await this.side('mktemp -d "${TMPDIR:-/tmp}/stepwise-XXXXXXXX"');
    const dir = r?.status === 0 ? r.stdout.toString('utf8').trim() : '';
    if (!dir.startsWith('/')) throw new Error(`${this.id}: could not make a session folder on the host${r ? '' : ' (connection lost)'}`);
    this.master.stdin?.write(`${dir}\n`);
    return dir;
  }

  async writeSessionFile(dir: string, name: string, content: string): Promise<string> {
    const file = `${dir}/${name}`;
    const r = await this.side(`umask 077 && cat > ${q(file)}`, content);
    if (r?.status !== 0) throw new Error(`${this.id}: could not write ${file}${r ? '' : ' (connection lost)'}`);
    return file;
  }

  /**
   * Several files in one channel (a block's script and the text it shows; a session's owner and
   * rc files): on stdin each is a line `NAME BYTES` then its bytes, which GNU head -c takes
   * exactly (it never reads past them); each file's size is checked after.
   */
  async writeSessionFiles(dir: string, files: ReadonlyArray<readonly [string, string]>): Promise<string[]> {
    for (const [n] of files) checkName(n);
    const input = Buffer.concat(files.flatMap(([n, c]) => {
      const bytes = Buffer.from(c, 'utf8');
      return [Buffer.from(`${n} ${bytes.length}\n`), bytes];
    }));
    const r = await this.side(`umask 077 && cd ${q(dir)} && while IFS=' ' read -r n s; do case "$n" in ''|*/*) exit 1;; esac; head -c "$s" > "$n" && [ "$(wc -c < "$n")" -eq "$s" ] || exit 1; done`, input);
    if (r?.status !== 0) throw new Error(`${this.id}: could not write ${files.map(([n]) => n).join(', ')} in ${dir}${r ? '' : ' (connection lost)'}`);
    return files.map(([n]) => `${dir}/${n}`);
  }

  async readSessionFile(dir: string, name: string): Promise<Buffer | undefined> {
    const r = await this.side(`cat ${q(`${dir}/${name}`)} 2>/dev/null`);
    return r?.status === 0 ? r.stdout : undefined;
  }

  /**
   * Several files of a session folder in one channel (the executor reads its shell-state files
   * after every block; each channel costs 0.1-0.2 s on a loaded host): each a line `NAME BYTES`
   * then its bytes. A file that does not exist is left out.
   */
  async readSessionFiles(dir: string, names: readonly string[]): Promise<Map<string, Buffer>> {
    for (const n of names) checkName(n);
    const files = new Map<string, Buffer>();
    const r = await this.side(`cd ${q(dir)} 2>/dev/null && for f in ${names.join(' ')}; do [ -f "$f" ] && printf '%s %s\n' "$f" "$(wc -c < "$f")" && cat "$f"; done; true`);
    if (r?.status !== 0) return files;
    const buf = r.stdout;
    let at = 0;
    while (at < buf.length) {
      const nl = buf.indexOf(10, at);
      if (nl < 0) break;
      const [name, size] = buf.subarray(at, nl).toString('utf8').split(' ');
      const n = Number(size);
      if (!name || !Number.isInteger(n)) break;
      files.set(name, buf.subarray(nl + 1, nl + 1 + n));
      at = nl + 1 + n;
    }
    return files;
  }

  async removeSessionDir(dir: string): Promise<void> {
    // Only what mktemp made: a path of ours, never an arbitrary one.
    if (!/^\/[^'\s]*\/stepwise-[A-Za-z0-9]{8}$/.test(dir)) return;
    this.shellPids.delete(dir);
    await this.side(`rm -rf ${q(dir)}`);
  }

  spawnShell(opts: SpawnOptions): PtyLike {
    if (this.masterDown) throw new Error(`${this.id}: connection lost`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // SSH_AUTH_SOCK and the user's setup stay; the server's own secrets do not go along.
      if (v !== undefined && !k.startsWith('STEPWISE_')) env[k] = v;
    }
    Object.assign(env, { TERM: 'xterm-256color' });
    const dir = path.posix.dirname(opts.rcFile);
    // The remote shell records its pid (exec keeps it) so a timeout can signal its terminal's
    // foreground group; the extra variables go on its command line (never secrets: those are
    // typed into the terminal, see session.ts).
    const extra = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${q(v)}`).join(' ');
    const remote = `echo $$ > ${q(`${dir}/shell.pid`)} && export LANG="\${LANG:-C.UTF-8}" && exec env ${extra} TERM=xterm-256color bash --noprofile --rcfile ${q(opts.rcFile)} -i`;
    const p = pty.spawn('ssh', [...this.base, '-o', 'ControlMaster=no', '-tt', this.host.address, remote], {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: os.homedir(),
      env,
      encoding: null,
    });
    (p as unknown as { stepwiseDir: string }).stepwiseDir = dir;
    return p as unknown as PtyLike;
  }

  async signalForeground(p: PtyLike, signal: NodeJS.Signals): Promise<boolean> {
    const dir = (p as unknown as { stepwiseDir?: string }).stepwiseDir;
    if (!dir) return false;
    let pid = this.shellPids.get(dir);
    if (pid === undefined) {
      pid = Number((await this.readSessionFile(dir, 'shell.pid'))?.toString().trim());
      if (!(pid > 0)) return false;
      this.shellPids.set(dir, pid);
    }
    // Field 8 of /proc/<pid>/stat (the 6th after the name) is the terminal's foreground group;
    // the shell's own group there means nothing is running.
    const sig = signal.replace(/^SIG/, '');
    const r = await this.side(`set -- $(sed 's/.*) //' /proc/${pid}/stat) && [ "$6" -gt 0 ] && [ "$6" != ${pid} ] && kill -s ${sig} -- -"$6"`);
    return r?.status === 0;
  }

  /**
   * The run is over: close the master (its channels go with it) and the private folder. Side
   * commands under way (a session folder's removal at its dispose) finish first. The promise
   * settles once all of it is gone; a process that exits without waiting still leaves nothing
   * on the host (the janitor, JANITOR) and its folder here to the next command (run/orphans.ts).
   */
  release(): Promise<void> {
    if (this.closed) return this.closed;
    this.released = true;
    this.closed = this.close();
    return this.closed;
  }

  private async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, SIDE_COMMAND_MS)))]);
    clearTimeout(timer);
    if (!this.masterDown) {
      await runAsync('ssh', [...this.base, '-O', 'exit', this.host.address], { timeoutMs: CHECK_MS });
      try {
        this.master.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(this.ctlDir, { recursive: true, force: true });
    openTargets.delete(this);
    this.untrack();
  }

  [Symbol.dispose](): void {
    void this.release();
  }
}
