// Which target each role of a runbook runs on (pure): from `--role NAME=TARGET` / the API's
// `roles`, or `--target`. A runbook without roles has none of this: it runs on its one target
// as always. See docs/format.md (Roles) and docs/targets.md (Runbooks that span hosts).
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';

/** The target id meaning "a lab host per role" when given as the run's one target. */
export const LAB_TARGET_ID = 'lab';
/** The target a lone role runs on when nothing names one (as a runbook without roles does). */
const DEFAULT_TARGET = 'local';

/** One role and the target id it is bound to, in the runbook's order of roles. */
export interface RoleBinding {
  role: string;
  target: string;
}

export type Binding =
  /** A runbook without roles: the run's one target, as before. */
  | { kind: 'single'; target: string }
  /** Each role on its own target (targets may repeat: two shells on one host). */
  | { kind: 'roles'; roles: RoleBinding[] }
  /** `--target lab`: one lab with one host per role, role i on lab host i. */
  | { kind: 'lab'; roles: string[] };

/**
 * Binds a runbook's roles. `given` is `--role`/`roles` (role → target id), `target` the run's
 * one target when given. Refuses, naming the roles, what would leave a role without a host or
 * put two roles on one target by accident (`--target X` for a runbook of several roles).
 */
export function bindRoles(roles: readonly string[] | undefined, given: Readonly<Record<string, string>> | undefined, target: string | undefined): Outcome<Binding> {
  const bad = (message: string) => ({ ok: false as const, error: failure('ROLE_BINDING', message, 'roles') });
  const named = given ? Object.keys(given) : [];
  if (!roles || roles.length === 0) {
    if (named.length) return bad(`the runbook declares no roles, so it cannot bind ${named.map((r) => `${r}=`).join(', ')}: give it one --target`);
    return { ok: true, value: { kind: 'single', target: target ?? DEFAULT_TARGET } };
  }
  if (named.length) {
    const unknown = named.filter((r) => !roles.includes(r));
    if (unknown.length) return bad(`${unknown.join(', ')} ${unknown.length === 1 ? 'is not a role' : 'are not roles'} of this runbook (roles: ${roles.join(', ')})`);
    if (target !== undefined) return bad(`give each role its target with --role NAME=TARGET, or one --target, not both`);
    const empty = named.filter((r) => typeof given![r] !== 'string' || given![r]!.trim() === '');
    if (empty.length) return bad(`role ${empty.join(', ')} has no target: --role ${empty[0]}=TARGET`);
    const unbound = roles.filter((r) => !named.includes(r));
    if (unbound.length) return bad(`role ${unbound.join(', ')} is not bound to a target: add --role ${unbound[0]}=TARGET (roles: ${roles.join(', ')})`);
    return { ok: true, value: { kind: 'roles', roles: roles.map((r) => ({ role: r, target: given![r]!.trim() })) } };
  }
  // One role on the lab is the lab target as offered (a CLI's shared lab, a test's fixed one).
  if (target === LAB_TARGET_ID && roles.length > 1) return { ok: true, value: { kind: 'lab', roles: [...roles] } };
  if (roles.length === 1) return { ok: true, value: { kind: 'roles', roles: [{ role: roles[0]!, target: target ?? DEFAULT_TARGET }] } };
  if (target !== undefined) {
    return bad(`this runbook spans ${roles.length} hosts (roles: ${roles.join(', ')}): bind each with --role NAME=TARGET, or use --target lab for a lab host per role, not one --target ${target}`);
  }
  return bad(`roles ${roles.join(', ')} are not bound to targets: bind each with --role NAME=TARGET (or --target lab for a lab host per role)`);
}

/** How a binding reads in the run's `target` column and the CLI: `source=host1,destination=host2`. */
export function bindingLabel(roles: readonly RoleBinding[]): string {
  return roles.map((r) => `${r.role}=${r.target}`).join(',');
}

/** `--role NAME=TARGET` arguments as a mapping; a malformed or repeated one is an error naming it. */
export function parseRoleArgs(args: readonly string[]): Outcome<Record<string, string>> {
  const out: Record<string, string> = Object.create(null);
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0 || i === a.length - 1) return { ok: false, error: failure('ROLE_BINDING', `--role ${JSON.stringify(a)}: write --role NAME=TARGET, like --role source=host1`, 'roles') };
    const role = a.slice(0, i);
    if (Object.hasOwn(out, role)) return { ok: false, error: failure('ROLE_BINDING', `--role ${role} is given twice`, 'roles') };
    out[role] = a.slice(i + 1);
  }
  return { ok: true, value: { ...out } };
}
