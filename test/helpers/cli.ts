// Runs the `stepwise` command as a separate process, as a user would, for the CLI tests.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os, { constants as osConstants } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/stepwise.js');

export interface CliResult {
  code: number | null;
  /** stdout as bytes (a cast export is raw bytes). */
  bytes: Buffer;
  stdout: string;
  stderr: string;
}

/** `stepwise ...args` in the checkout, with extra environment; warnings-only logs by default. */
export function runStepwise(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, STEPWISE_LOG: 'warn', ...env },
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, bytes: r.stdout, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** A `stepwise` process running in the background, for tests that signal or kill it. */
export interface CliProcess {
  child: import('node:child_process').ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves once the output matches; rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Exit code (128 + n for a signal death, as a shell reports it). */
  exited: Promise<number>;
}

export function spawnStepwise(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, STEPWISE_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? osConstants.signals[sig] : 0))),
  );
  return {
    child,
    output: () => out,
    exited,
    async waitFor(re, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Session folders (in the temp dir, or in tmp: a lab host's own /tmp) that the process with this pid owns. */
export function sessionDirsOf(pid: number, tmp: string = os.tmpdir()): string[] {
  return fs
    .readdirSync(tmp)
    .filter((n) => n.startsWith('stepwise-'))
    .map((n) => path.join(tmp, n))
    .filter((d) => {
      try {
        return fs.readFileSync(path.join(d, 'owner'), 'utf8').startsWith(`${pid}:`);
      } catch {
        return false;
      }
    });
}
