// The shell state a resumed run restores: what the runbook exported and where it was. Pure.
import { shellQuote } from './script.ts';

export interface ShellState {
  cwd: string;
  /** Exported variables that were added or changed since the session started. */
  env: Record<string, string>;
}

// Bash maintains these itself; restoring them would be wrong.
const NOISE = new Set(['_', 'PWD', 'OLDPWD', 'SHLVL']);

export function parseEnv0(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of buf.toString('utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) out[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return out;
}

export function stateDiff(before: Record<string, string>, after: Record<string, string>, cwd: string): ShellState {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(after)) {
    if (!NOISE.has(k) && before[k] !== v) env[k] = v;
  }
  return { cwd, env };
}

/** The script that puts a fresh shell back into a saved state (the run's own vars excluded). */
export function restoreScript(state: ShellState, exclude: ReadonlySet<string>): string {
  // Every value is single-quoted: a directory named `$(…)` is a name, never a command.
  const lines = [`cd -- ${shellQuote(state.cwd)} || echo ${shellQuote(`stepwise: cannot restore the working directory ${state.cwd}`)}`];
  for (const [k, v] of Object.entries(state.env)) {
    if (!exclude.has(k) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) lines.push(`export ${k}=${shellQuote(v)}`);
  }
  return lines.join('\n');
}
