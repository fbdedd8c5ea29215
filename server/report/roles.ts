// The roles of a run of a runbook that spans hosts, as the run recorded them (options.roles,
// see run/role-shells.ts), for the reports: each role's binding, host and identity. Pure.
import { hostFacts, type HostFacts } from './host.ts';

export interface RoleFacts {
  role: string;
  /** The target id it was bound to (`host2`, `local`, `lab`, `lab:host2`). */
  target: string;
  host: string;
  /** Its SSH identity (host key, machine id, os), when it was reached over SSH. */
  identity?: HostFacts;
}

/** The recorded roles of a run, in the runbook's order; empty for a run on one host. */
export function roleFacts(options: Record<string, unknown>): RoleFacts[] {
  const roles = options.roles;
  if (!Array.isArray(roles)) return [];
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return roles
    .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && typeof (r as { role?: unknown }).role === 'string')
    .map((r) => {
      const identity = hostFacts({ targetInfo: r.targetInfo });
      return { role: str(r.role), target: str(r.target), host: str(r.host), ...(identity ? { identity } : {}) };
    });
}

/** `source (host1)`: where an execution ran, in a run with roles. */
export function placeText(e: { role?: string; host?: string }): string | undefined {
  return e.role === undefined ? undefined : `${e.role}${e.host ? ` (${e.host})` : ''}`;
}

/** The file of a role's recording in an evidence bundle: the first role's is the run's own. */
export function roleRecordingName(role: string): string {
  return `recording.${role}.cast`;
}
