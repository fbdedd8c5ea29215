// A persistent interactive bash on a target, with shell integration: the one resource a run
// owns. Output is de-framed (our markers removed and reported), secrets masked, then fanned
// out to listeners (websocket clients, recorder, executor).
import crypto from 'node:crypto';
import type { PtyLike, Target } from '../target/target.ts';
import { integrationScript } from './integration.ts';
import { MarkerParser, type Marker } from './markers.ts';
import { SecretMasker } from './mask.ts';
import { track } from '../live.ts';
import { hangUpSession } from '../target/process.ts';
import { selfOwner } from '../owner.ts';
import { OWNER_FILE } from '../run/orphans.ts';
import type { Disposable } from '../../common/disposable.ts';

export type SessionState = 'starting' | 'idle' | 'busy' | 'ended';

export interface SessionOptions {
  cols?: number;
  rows?: number;
  secrets?: readonly string[];
  env?: Record<string, string>;
}

// How long to wait for bash to draw its first prompt: it reads only our small rc file.
const START_TIMEOUT_MS = 15_000;
// A secret's first bytes are held back until the rest arrives; if nothing else comes this
// soon, release them (see SecretMasker.release). Long enough for a secret a program writes in
// pieces; short enough that a typed character that starts a secret still echoes promptly.
const MASK_HOLD_MS = 100;
// node-pty can drop a fast-exiting program's last output: give the reader this long to drain.
const EXIT_DRAIN_MS = 50;

export class TerminalSession implements Disposable {
  state: SessionState = 'starting';
  /**
   * A person typed at the prompt since it was last drawn: the line may hold half a command,
   * or readline may be asking "Display all N possibilities? (y or n)". The executor clears
   * it (Ctrl-C) before typing a block.
   */
  dirty = false;
  exitCode: number | null = null;
  /** Why the shell ended when the target lost its connection (SSH): set before `ended` is. */
  lostConnection: string | undefined;
  cols: number;
  rows: number;

  private readonly pty: PtyLike;
  private readonly parser: MarkerParser;
  private readonly masker: SecretMasker;
  private readonly dataListeners = new Set<(bytes: Buffer) => void>();
  private readonly markerListeners = new Set<(m: Marker) => void>();
  private readonly exitListeners = new Set<(code: number | null) => void>();
  private readonly pauseReasons = new Set<string>();
  private holdTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private ptySubs: Array<{ dispose(): void }> = [];
  private readonly untrack: () => void;

  private constructor(readonly target: Target, opts: SessionOptions, readonly dir: string, readonly nonce: string, rcFile: string) {
    this.cols = opts.cols ?? 100;
    this.rows = opts.rows ?? 30;
    this.parser = new MarkerParser(this.nonce);
    this.masker = new SecretMasker(opts.secrets ?? []);
    this.pty = target.spawnShell({ rcFile, cols: this.cols, rows: this.rows, env: opts.env });
    this.untrack = track(this, `shell session pid ${this.pty.pid} on ${target.id} (${this.dir})`);
    this.ptySubs.push(
      this.pty.onData((d) => this.onPtyData(typeof d === 'string' ? Buffer.from(d) : d)),
      this.pty.onExit((e) => {
        setTimeout(() => void this.onPtyExit(e.exitCode), EXIT_DRAIN_MS);
      }),
    );
  }

  /** Starts bash and resolves once its first prompt is drawn. */
  static async start(target: Target, opts: SessionOptions = {}): Promise<TerminalSession> {
    const nonce = crypto.randomBytes(16).toString('hex');
    const dir = await target.makeSessionDir();
    let s: TerminalSession;
    try {
      // Whose folder this is: after a kill -9 the next stepwise command removes it (run/orphans.ts).
      // Both in one write: on a remote host each write is a round trip.
      const [, rcFile] = await target.writeSessionFiles(dir, [[OWNER_FILE, selfOwner()], ['rc.sh', integrationScript(nonce)]]);
      s = new TerminalSession(target, opts, dir, nonce, rcFile);
    } catch (e) {
      // Nothing else holds the folder yet: a shell that cannot start leaves nothing behind.
      await target.removeSessionDir(dir);
      throw e;
    }
    try {
      await s.waitFor((st) => st !== 'starting', START_TIMEOUT_MS);
    } catch (e) {
      s.dispose();
      throw e;
    }
    if (s.state === 'ended') {
      s.dispose();
      throw new Error('the shell exited during start-up');
    }
    return s;
  }

  get pid(): number {
    return this.pty.pid;
  }

  onData(fn: (bytes: Buffer) => void): Disposable {
    this.dataListeners.add(fn);
    return { dispose: () => this.dataListeners.delete(fn) };
  }

  onMarker(fn: (m: Marker) => void): Disposable {
    this.markerListeners.add(fn);
    return { dispose: () => this.markerListeners.delete(fn) };
  }

  onExit(fn: (code: number | null) => void): Disposable {
    this.exitListeners.add(fn);
    return { dispose: () => this.exitListeners.delete(fn) };
  }

  /** Writes to the shell as Stepwise (the executor): the prompt's state is known. */
  write(data: string | Buffer): void {
    if (this.state === 'ended') return;
    this.pty.write(data);
  }

  /** Writes what a person typed: at the prompt, the line is no longer known to be clean. */
  input(data: string | Buffer): void {
    if (this.state === 'ended') return;
    if (this.state === 'idle') this.dirty = true;
    this.pty.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.state === 'ended') return;
    this.cols = cols;
    this.rows = rows;
    this.pty.resize(cols, rows);
  }

  /** Pauses reading from the pty while any reason holds (flow control per client). */
  pause(reason: string): void {
    if (this.pauseReasons.size === 0 && this.state !== 'ended') this.pty.pause();
    this.pauseReasons.add(reason);
  }

  resume(reason: string): void {
    if (!this.pauseReasons.delete(reason)) return;
    if (this.pauseReasons.size === 0 && this.state !== 'ended') this.pty.resume();
  }

  get paused(): boolean {
    return this.pauseReasons.size > 0;
  }

  /** Writes files into the session's folder (one round trip on a remote host); their paths, in order. */
  stageFiles(files: ReadonlyArray<readonly [string, string]>): Promise<string[]> {
    return this.target.writeSessionFiles(this.dir, files);
  }

  /** Several files of the session's folder at once (one round trip on a remote host). */
  readFiles(names: readonly string[]): Promise<Map<string, Buffer>> {
    return this.target.readSessionFiles(this.dir, names);
  }

  signalForeground(signal: NodeJS.Signals): Promise<boolean> {
    return this.target.signalForeground(this.pty, signal);
  }

  /** Resolves when pred(state) holds; rejects after timeoutMs. */
  waitFor(pred: (s: SessionState) => boolean, timeoutMs: number): Promise<void> {
    if (pred(this.state)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const subs: Disposable[] = [];
      const done = (err?: Error) => {
        clearTimeout(timer);
        subs.forEach((s) => s.dispose());
        err ? reject(err) : resolve();
      };
      const timer = setTimeout(() => done(new Error(`shell not ready after ${timeoutMs} ms (state ${this.state})`)), timeoutMs);
      const check = () => pred(this.state) && done();
      subs.push(this.onMarker(check), this.onExit(check));
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.holdTimer);
    // Every process the shell started goes with it, even a job it was waiting for.
    hangUpSession(this.pty.pid);
    this.ptySubs.forEach((s) => s.dispose());
    this.setEnded(this.exitCode);
    this.dataListeners.clear();
    this.markerListeners.clear();
    this.exitListeners.clear();
    // Not awaited (dispose is synchronous): a local folder is gone already when this returns
    // (local.ts); a remote one's removal is a command the target's release waits for, and the
    // SSH master's janitor removes it even if this process dies first (ssh.ts).
    void this.target.removeSessionDir(this.dir);
    this.untrack();
  }

  private onPtyData(chunk: Buffer): void {
    for (const ev of this.parser.push(chunk)) {
      if (ev.type === 'data') {
        this.emitData(this.masker.push(ev.bytes));
      } else {
        this.emitData(this.masker.flush());
        this.applyMarker(ev.marker);
        for (const fn of [...this.markerListeners]) fn(ev.marker);
      }
    }
    clearTimeout(this.holdTimer);
    if (this.masker.active) this.holdTimer = setTimeout(() => this.emitData(this.masker.release()), MASK_HOLD_MS);
  }

  private emitData(bytes: Buffer): void {
    if (bytes.length === 0) return;
    for (const fn of [...this.dataListeners]) fn(bytes);
  }

  private applyMarker(m: Marker): void {
    if (this.state === 'ended') return;
    if (m.kind === 'P') {
      this.state = 'idle';
      this.dirty = false;
    } else if (m.kind === 'B' || m.kind === 'C') this.state = 'busy';
  }

  private async onPtyExit(code: number): Promise<void> {
    if (this.state === 'ended') return;
    this.emitData(this.masker.push(this.parser.flush()));
    this.emitData(this.masker.flush());
    // Asked before `ended` is announced, so every listener (the run deciding interrupted or
    // judged, the executor's block) sees the same reason at the same moment.
    if (this.target.lostConnection) this.lostConnection = await this.target.lostConnection();
    this.setEnded(code);
  }

  private setEnded(code: number | null): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.exitCode = code;
    // A copy: a listener may dispose the session (and clear the set) while we iterate.
    for (const fn of [...this.exitListeners]) fn(code);
  }
}
