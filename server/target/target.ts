// A Target is where a run's shell lives: this host (local), later SSH hosts and a lab.
// The session and executor only see this interface.

/** The subset of node-pty's IPty a session needs; other targets provide the same shape. */
export interface PtyLike {
  readonly pid: number;
  onData(listener: (data: Buffer | string) => void): { dispose(): void };
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): { dispose(): void };
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  kill(signal?: string): void;
}

export interface SpawnOptions {
  /** Path (on the target) of the shell-integration rc file to start bash with. */
  rcFile: string;
  cols: number;
  rows: number;
  /** Extra environment for the shell. */
  env?: Record<string, string>;
}

export interface TargetInfo {
  id: string;
  platform: string;
  host: string;
  capabilities: string[];
}

export interface Target {
  readonly id: string;
  /** Platform identity used to choose blocks (`os=` attribute), e.g. `debian`, `rhel9`. */
  readonly platform: string;
  /** Capabilities blocks may require (`requires=`), e.g. `hw-virt`, `kvm`, `pci-passthrough` (docs/format.md). */
  readonly capabilities: ReadonlySet<string>;
  info(): TargetInfo;
  // The side-file methods are asynchronous: on a remote host each is a command over the
  // network, and one process drives many hosts at once (a fleet) without waiting on each in turn.
  /** A new private directory reachable by the target's shell, for staging scripts. */
  makeSessionDir(): Promise<string>;
  /** Writes a file into a session directory (mode 0600); resolves with its path. */
  writeSessionFile(dir: string, name: string, content: string): Promise<string>;
  /** Writes several files into a session directory at once (one round trip on a remote host);
   *  resolves with their paths, in order. Names are plain file names. */
  writeSessionFiles(dir: string, files: ReadonlyArray<readonly [name: string, content: string]>): Promise<string[]>;
  /** Reads a file from a session directory; undefined when it does not exist. */
  readSessionFile(dir: string, name: string): Promise<Buffer | undefined>;
  /** Reads several files of a session directory at once (one round trip on a remote host);
   *  a file that does not exist is absent from the map. Names are plain file names. */
  readSessionFiles(dir: string, names: readonly string[]): Promise<Map<string, Buffer>>;
  /** Removes a session directory. A caller may leave it to finish on its own (a disposal):
   *  the target's release still lets it finish first. */
  removeSessionDir(dir: string): Promise<void>;
  spawnShell(opts: SpawnOptions): PtyLike;
  /** Called when the run using it ends: a target made for one run goes away here. The promise,
   *  when there is one, settles once it is gone (callers may leave it running). */
  release?(): void | Promise<void>;
  /** When the shell ended because the connection to the host was lost (SSH), why; the run
   *  is then `interrupted` (resumable), not judged on what ran. */
  lostConnection?(): Promise<string | undefined>;
  /** Sends a signal to the foreground process group of the shell's terminal, if it can. */
  signalForeground(pty: PtyLike, signal: NodeJS.Signals): Promise<boolean>;
}
