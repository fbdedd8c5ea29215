// Resolves a run's variables from the runbook's declarations and the values given. Pure.
import type { Runbook } from '../runbook/model.ts';
import { failure, type Failure } from '../errors.ts';
import { MASK } from '../terminal/mask.ts';
import { compileVarPattern } from '../runbook/parse.ts';

export interface ResolvedVars {
  values: Record<string, string>;
  /** The same with secret values replaced by the mask: what is stored and shown. */
  masked: Record<string, string>;
  secrets: string[];
  /** Names of the secret variables. */
  secretNames: string[];
}

export function resolveVars(rb: Runbook | undefined, given: Record<string, unknown> = {}): { ok: true; vars: ResolvedVars } | { ok: false; error: Failure } {
  const values: Record<string, string> = {};
  const masked: Record<string, string> = {};
  const secrets: string[] = [];
  const secretNames: string[] = [];
  const specs = new Map((rb?.vars ?? []).map((v) => [v.name, v]));
  for (const [name, value] of Object.entries(given)) {
    if (!specs.has(name)) return { ok: false, error: failure('UNKNOWN_VAR', `variable ${name} is not declared by runbook ${rb?.id ?? '(none)'}`, `vars.${name}`) };
    if (typeof value !== 'string') return { ok: false, error: failure('BAD_REQUEST', `variable ${name} must be a string`, `vars.${name}`) };
  }
  for (const spec of specs.values()) {
    const raw = given[spec.name];
    const value = typeof raw === 'string' ? raw : spec.default;
    if (spec.pattern !== undefined && !compileVarPattern(spec.pattern).test(value)) {
      const shown = spec.secret ? MASK : JSON.stringify(value);
      // The runbook's own words when it has them (pattern_message), else the pattern itself.
      const message = spec.patternMessage
        ? `${spec.name}: ${spec.patternMessage}`
        : `${spec.name}=${shown} does not match /${spec.pattern}/ (${spec.describe})`;
      return { ok: false, error: failure('VAR_PATTERN', message, `vars.${spec.name}`) };
    }
    values[spec.name] = value;
    masked[spec.name] = spec.secret ? MASK : value;
    if (spec.secret && value) secrets.push(value);
    if (spec.secret) secretNames.push(spec.name);
  }
  return { ok: true, vars: { values, masked, secrets, secretNames } };
}
