// Everything the benchmark starts or creates is registered here and undone at the end,
// on Ctrl-C, or when the overall time limit fires.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

const undo: Array<() => void | Promise<void>> = [];

export function onCleanup(fn: () => void | Promise<void>): void {
  undo.push(fn);
}

export function tempDirCleanup(dir: string): void {
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
}

/** Stops one child we started, by its pid: SIGTERM, then SIGKILL if it lingers. */
export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** spawn() whose child is stopped at cleanup if it is still running. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, opts);
  onCleanup(() => stopChild(child));
  return child;
}

let ran = false;
export async function runCleanup(): Promise<void> {
  if (ran) return;
  ran = true;
  for (const fn of undo.reverse()) {
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup: ${(e as Error).message}`);
    }
  }
}
