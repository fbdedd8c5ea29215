// Target selectors (docs/targets.md, Fleets): what `--target` (CLI) and `target` (API) name.
// `local`, `lab`, an inventory host and `ssh://user@host[:port]` (CLI only) are one target;
// `@group`, `@all`, `label=kvm[,rhel]` and a comma list of hosts and groups make a fleet.
// Pure: the selector and the inventory in, host names (or why not) out.
import type { Inventory } from './inventory.ts';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';

export type Selection =
  /** One target: a run as before. */
  | { fleet: false; id: string }
  /** Several hosts, or any `@`/`label=` selector (even one matching a single host): a fleet. */
  | { fleet: true; hosts: string[] };

const BUILT_IN = new Set(['local', 'lab']);

/** Whether a selector names a fleet by its form alone (before any inventory is read). */
export function isFleetSelector(selector: string): boolean {
  const s = selector.trim();
  return s.startsWith('@') || s.startsWith('label=') || s.includes(',');
}

/**
 * Expands a selector against the inventory. `adHoc`: ssh:// URLs are allowed (the CLI's; a
 * server never connects where its inventory does not say). Errors name the unknown group,
 * label or host, and what is known.
 */
export function selectTargets(selector: string, inv: Inventory | undefined, o: { adHoc?: boolean } = {}): Outcome<Selection> {
  const s = selector.trim();
  const bad = (message: string) => ({ ok: false as const, error: failure('UNKNOWN_TARGET', message, 'target') });
  const noInv = inv ? '' : ' (no inventory: --inventory FILE, STEPWISE_INVENTORY or inventory.yaml beside the runbooks)';
  if (s === '') return bad('target is empty');
  if (BUILT_IN.has(s)) return { ok: true, value: { fleet: false, id: s } };
  if (s.startsWith('ssh://')) {
    if (!o.adHoc) return bad(`target ${JSON.stringify(s)}: ssh:// targets are for the command line only; name an inventory host`);
    return { ok: true, value: { fleet: false, id: s } };
  }
  const hosts = inv ? [...inv.hosts.keys()] : [];
  if (s.startsWith('label=')) {
    const labels = s.slice('label='.length).split(',').map((l) => l.trim());
    if (labels.some((l) => l === '')) return bad(`target ${JSON.stringify(s)}: label=NAME[,NAME…] with no empty name`);
    const known = new Set(inv ? [...inv.hosts.values()].flatMap((h) => h.labels) : []);
    const unknown = labels.filter((l) => !known.has(l));
    if (unknown.length) return bad(`no host has the label ${unknown.map((l) => JSON.stringify(l)).join(', ')}${known.size ? `; labels: ${[...known].join(', ')}` : ''}${noInv}`);
    // Every label given (a host in all of them): `label=kvm,rhel` narrows.
    const matched = [...(inv?.hosts.values() ?? [])].filter((h) => labels.every((l) => h.labels.includes(l))).map((h) => h.name);
    if (matched.length === 0) return bad(`no host has all the labels ${labels.join(', ')}`);
    return { ok: true, value: { fleet: true, hosts: matched } };
  }
  const terms = s.split(',').map((t) => t.trim());
  if (terms.some((t) => t === '')) return bad(`target ${JSON.stringify(s)}: an empty name in the list`);
  const out: string[] = [];
  const add = (h: string) => {
    if (!out.includes(h)) out.push(h);
  };
  for (const t of terms) {
    if (t === '@all') {
      if (hosts.length === 0) return bad(`@all: the inventory has no hosts${noInv}`);
      hosts.forEach(add);
    } else if (t.startsWith('@')) {
      const g = t.slice(1);
      const members = inv?.groups.get(g);
      if (!members) return bad(`no group ${JSON.stringify(g)} in the inventory${inv && inv.groups.size ? `; groups: ${[...inv.groups.keys()].map((n) => `@${n}`).join(', ')}, @all` : ''}${noInv}`);
      if (members.length === 0) return bad(`group @${g} has no hosts`);
      members.forEach(add);
    } else if (BUILT_IN.has(t) || t.startsWith('ssh://')) {
      return bad(`${t} cannot be part of a fleet: a fleet is inventory hosts`);
    } else if (inv?.hosts.has(t)) {
      add(t);
    } else {
      return bad(`no host ${JSON.stringify(t)} in the inventory${hosts.length ? `; hosts: ${hosts.join(', ')}` : ''}${noInv}`);
    }
  }
  if (terms.length === 1 && !terms[0]!.startsWith('@')) return { ok: true, value: { fleet: false, id: out[0]! } };
  return { ok: true, value: { fleet: true, hosts: out } };
}

/**
 * A host's run vars: the inventory's per-host `vars` the runbook declares, under the values given
 * on the command line or in the request (those win, as Ansible's extra vars win over host vars).
 */
export function hostVars(declared: ReadonlySet<string>, inventoryVars: Record<string, string>, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inventoryVars)) if (declared.has(k)) out[k] = v;
  return { ...out, ...given };
}
