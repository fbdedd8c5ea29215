// Runs the `stepwise` command as a separate process, as a user would, for the CLI tests.
import { spawnSync } from 'node:child_process';
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
