// Where a headless run's variable values come from besides --var (whose values show in `ps`):
// the environment (STEPWISE_VAR_<NAME>) and a --var-file of KEY=VALUE lines. Pure.
import type { Outcome } from '../../common/outcome.ts';

const ENV_PREFIX = 'STEPWISE_VAR_';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** STEPWISE_VAR_<NAME>=value → NAME=value. */
export function varsFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(ENV_PREFIX) && v !== undefined && NAME.test(k.slice(ENV_PREFIX.length))) vars[k.slice(ENV_PREFIX.length)] = v;
  }
  return vars;
}

/**
 * KEY=VALUE lines; blank lines and lines starting with # are skipped; a value may be wrapped in
 * single or double quotes (taken literally, no escapes). Errors say file:line.
 */
export function parseVarFile(text: string, file: string): Outcome<Record<string, string>, string> {
  const vars: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const eq = line.indexOf('=');
    const key = (eq > 0 ? line.slice(0, eq) : line).trim().replace(/^export\s+/, '');
    if (eq <= 0) return { ok: false, error: `${where}: expected NAME=VALUE, got ${JSON.stringify(line.slice(0, 40))}` };
    if (!NAME.test(key)) return { ok: false, error: `${where}: ${JSON.stringify(key)} is not a variable name` };
    if (Object.hasOwn(vars, key)) return { ok: false, error: `${where}: ${key} is set twice` };
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    vars[key] = value;
  }
  return { ok: true, value: vars };
}

/**
 * The values given on the command line, as `stepwise run` and a fleet take them: a --var-file,
 * then each --var NAME=VALUE (a later one wins). The file is read with readFile (the caller's
 * I/O); errors are the usage line to print, badVar's for a --var without NAME=.
 */
export function varsFromFlags(a: { vars: readonly string[]; varFile?: string }, readFile: (file: string) => string, badVar: (kv: string) => string): Outcome<Record<string, string>, string> {
  const given: Record<string, string> = {};
  if (a.varFile !== undefined) {
    let text: string;
    try {
      text = readFile(a.varFile);
    } catch (e) {
      return { ok: false, error: `--var-file ${a.varFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}` };
    }
    const parsed = parseVarFile(text, a.varFile);
    if (!parsed.ok) return parsed;
    Object.assign(given, parsed.value);
  }
  for (const kv of a.vars) {
    const i = kv.indexOf('=');
    if (i <= 0) return { ok: false, error: badVar(kv) };
    given[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { ok: true, value: given };
}
