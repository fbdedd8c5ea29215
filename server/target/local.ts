// The local target: a bash on this host through node-pty.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import type { PtyLike, SpawnOptions, Target, TargetInfo } from './target.ts';
import { platformFromOsRelease } from './platform.ts';
import { probeKvm } from './kvm.ts';

export class LocalTarget implements Target {
  readonly id = 'local';
  readonly platform: string;
  readonly capabilities: ReadonlySet<string>;

  constructor(opts: { platform?: string; capabilities?: string[] } = {}) {
    this.platform = opts.platform ?? detectPlatform();
    this.capabilities = new Set(opts.capabilities ?? detectCapabilities());
  }

  info(): TargetInfo {
    return { id: this.id, platform: this.platform, host: os.hostname(), capabilities: [...this.capabilities] };
  }

  // Local files take microseconds: done synchronously inside the promise, so a removal at a
  // session's dispose is complete when dispose returns (and before a process.exit).
  async makeSessionDir(): Promise<string> {
    return fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-')); // mkdtemp creates it 0700
  }

  async writeSessionFile(dir: string, name: string, content: string): Promise<string> {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    return file;
  }

  async writeSessionFiles(dir: string, files: ReadonlyArray<readonly [string, string]>): Promise<string[]> {
    const paths: string[] = [];
    for (const [name, content] of files) paths.push(await this.writeSessionFile(dir, name, content));
    return paths;
  }

  async readSessionFile(dir: string, name: string): Promise<Buffer | undefined> {
    return readOrUndefined(path.join(dir, name));
  }

  async readSessionFiles(dir: string, names: readonly string[]): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    for (const n of names) {
      const b = readOrUndefined(path.join(dir, n));
      if (b) files.set(n, b);
    }
    return files;
  }

  async removeSessionDir(dir: string): Promise<void> {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  spawnShell(opts: SpawnOptions): PtyLike {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // The server's own secrets and test hooks stay out of the user's shell.
      if (v !== undefined && !k.startsWith('STEPWISE_')) env[k] = v;
    }
    Object.assign(env, { TERM: 'xterm-256color', COLORTERM: 'truecolor', LANG: env.LANG ?? 'C.UTF-8' }, opts.env);
    const p = pty.spawn('bash', ['--noprofile', '--rcfile', opts.rcFile, '-i'], {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: env.HOME && fs.existsSync(env.HOME) ? env.HOME : process.cwd(),
      env,
      encoding: null, // Buffers: lossless bytes for recording and exact marker parsing
    });
    return p as unknown as PtyLike;
  }

  async signalForeground(p: PtyLike, signal: NodeJS.Signals): Promise<boolean> {
    try {
      // Field 8 of /proc/<pid>/stat is the terminal's foreground process group (tpgid).
      const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const tpgid = Number(fields[5]);
      if (!(tpgid > 0) || tpgid === p.pid) return false;
      process.kill(-tpgid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

function detectPlatform(): string {
  try {
    return platformFromOsRelease(fs.readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return process.platform;
  }
}

/** hw-virt: the CPU has VT-x/AMD-V; kvm: guests can really use it (probed, see kvm.ts). */
export function detectCapabilities(): string[] {
  const kvm = probeKvm();
  return [...(kvm.facts.cpuFlag ? ['hw-virt'] : []), ...(kvm.usable ? ['kvm'] : [])];
}
