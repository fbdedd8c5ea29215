// The inventory: the SSH hosts a run may target, by name (docs/targets.md). A YAML file with
// `defaults:` (user, port, identity, jump, known_hosts, proxy_command), `hosts:` (name →
// address or ssh_config alias, with the same fields plus labels, platform and vars) and
// `groups:` (name → host names). Parsing is pure: text in, hosts and `file:line CODE`
// diagnostics out; finding the file is at the edge (inventoryPath).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { diagnostic, type Code, type Diagnostic } from '../errors.ts';
import type { SshHost } from './ssh.ts';

export interface InventoryHost extends SshHost {
  labels: string[];
  vars: Record<string, string>;
}

export interface Inventory {
  file: string;
  hosts: Map<string, InventoryHost>;
  groups: Map<string, string[]>;
  diagnostics: Diagnostic[];
}

const HOST_FIELDS = new Set(['address', 'host', 'user', 'port', 'identity', 'jump', 'known_hosts', 'proxy_command', 'labels', 'platform', 'vars']);
const DEFAULT_FIELDS = new Set(['user', 'port', 'identity', 'jump', 'known_hosts', 'proxy_command']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Pure: parses an inventory's text. Paths (identity, known_hosts) are resolved against the file's folder, `~` against home. */
export function parseInventory(text: string, file: string, home: string = os.homedir()): Inventory {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  const diags: Diagnostic[] = [];
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const add = (n: Node | null | undefined, code: Code, msg: string) => diags.push(diagnostic(file, lineOf(n), code, msg));
  const inv: Inventory = { file, hosts: new Map(), groups: new Map(), diagnostics: diags };
  if (doc.errors.length) {
    for (const e of doc.errors) diags.push(diagnostic(file, e.linePos?.[0]?.line ?? 1, 'INVENTORY_YAML', e.message.split('\n')[0]!));
    return inv;
  }
  const root = doc.contents;
  if (root === null) return inv;
  if (!isMap(root)) {
    add(root as Node, 'INVENTORY_FIELD', 'an inventory is a mapping with defaults, hosts and groups');
    return inv;
  }
  const dir = path.dirname(file);
  const filePath = (p: string) => (p.startsWith('~/') ? path.join(home, p.slice(2)) : path.resolve(dir, p));
  const section = (name: string) => (root.items as Pair<Node, Node>[]).find((p) => isScalar(p.key) && p.key.value === name);
  for (const p of root.items as Pair<Node, Node>[]) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!['defaults', 'hosts', 'groups'].includes(k)) add(p.key, 'INVENTORY_FIELD', `unknown section ${JSON.stringify(k)} (defaults, hosts, groups)`);
  }

  const fields = (node: Node, allowed: Set<string>, what: string): Map<string, Node> => {
    const out = new Map<string, Node>();
    if (!isMap(node)) {
      add(node, 'INVENTORY_FIELD', `${what} must be a mapping`);
      return out;
    }
    for (const p of node.items as Pair<Node, Node>[]) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!allowed.has(k)) add(p.key, 'INVENTORY_FIELD', `${what}: unknown field ${JSON.stringify(k)}`);
      else if (out.has(k)) add(p.key, 'INVENTORY_DUPLICATE', `${what}: ${k} given twice`);
      else out.set(k, p.value as Node);
    }
    return out;
  };
  const str = (n: Node | undefined, what: string): string | undefined => {
    if (n === undefined) return undefined;
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number') && String(n.value) !== '') return String(n.value);
    add(n, 'INVENTORY_FIELD', `${what} must be a non-empty string`);
    return undefined;
  };
  const port = (n: Node | undefined, what: string): number | undefined => {
    if (n === undefined) return undefined;
    const v = isScalar(n) ? Number(n.value) : NaN;
    if (!Number.isInteger(v) || v < 1 || v > 65535) {
      add(n, 'INVENTORY_BAD_PORT', `${what}: port must be a whole number from 1 to 65535, not ${isScalar(n) ? JSON.stringify(n.value) : 'a collection'}`);
      return undefined;
    }
    return v;
  };
  const common = (f: Map<string, Node>, what: string): Partial<SshHost> => {
    const identity = str(f.get('identity'), `${what}.identity`);
    const knownHosts = str(f.get('known_hosts'), `${what}.known_hosts`);
    const out: Partial<SshHost> = {};
    const user = str(f.get('user'), `${what}.user`);
    const p = port(f.get('port'), what);
    const jump = str(f.get('jump'), `${what}.jump`);
    const proxy = str(f.get('proxy_command'), `${what}.proxy_command`);
    if (user) out.user = user;
    if (p !== undefined) out.port = p;
    if (identity) out.identity = filePath(identity);
    if (knownHosts) out.knownHosts = filePath(knownHosts);
    if (jump) out.jump = jump;
    if (proxy) out.proxyCommand = proxy;
    return out;
  };

  const d = section('defaults');
  const defaults = d && d.value ? common(fields(d.value, DEFAULT_FIELDS, 'defaults'), 'defaults') : {};

  const h = section('hosts');
  if (h?.value) {
    if (!isMap(h.value)) add(h.value, 'INVENTORY_FIELD', 'hosts must be a mapping of name to host');
    else {
      for (const p of h.value.items as Pair<Node, Node>[]) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        if (!NAME.test(name)) {
          add(p.key, 'INVENTORY_FIELD', `host name ${JSON.stringify(name)} must be letters, digits, . _ -`);
          continue;
        }
        if (inv.hosts.has(name)) {
          add(p.key, 'INVENTORY_DUPLICATE', `host ${name} is defined twice`);
          continue;
        }
        const v = p.value as Node | null;
        // `name: address` is short for `name: {address: …}`; `name:` alone is an ssh_config alias.
        if (v === null || isScalar(v)) {
          const address = v === null || v.value === null ? name : str(v, `hosts.${name}`);
          if (address) inv.hosts.set(name, { ...defaults, name, address, labels: [], vars: {} });
          continue;
        }
        const f = fields(v, HOST_FIELDS, `hosts.${name}`);
        if (f.has('address') && f.has('host')) add(f.get('host'), 'INVENTORY_DUPLICATE', `hosts.${name}: address and host both given`);
        const address = str(f.get('address') ?? f.get('host'), `hosts.${name}.address`) ?? name;
        const labels: string[] = [];
        const ln = f.get('labels');
        if (ln !== undefined) {
          if (!isSeq(ln)) add(ln, 'INVENTORY_FIELD', `hosts.${name}.labels must be a list`);
          else for (const item of ln.items as Node[]) {
            const s = str(item, `hosts.${name}.labels`);
            if (s) labels.push(s);
          }
        }
        const vars: Record<string, string> = {};
        const vn = f.get('vars');
        if (vn !== undefined) {
          if (!isMap(vn)) add(vn, 'INVENTORY_FIELD', `hosts.${name}.vars must be a mapping`);
          else for (const vp of vn.items as Pair<Node, Node>[]) {
            const k = isScalar(vp.key) ? String(vp.key.value) : '';
            const s = isScalar(vp.value) && vp.value.value !== null ? String(vp.value.value) : undefined;
            if (s === undefined) add(vp.key, 'INVENTORY_FIELD', `hosts.${name}.vars.${k} must be a scalar`);
            else vars[k] = s;
          }
        }
        const platform = str(f.get('platform'), `hosts.${name}.platform`);
        inv.hosts.set(name, { ...defaults, ...common(f, `hosts.${name}`), name, address, labels, vars, ...(platform ? { platform } : {}) });
      }
    }
  }

  const g = section('groups');
  if (g?.value) {
    if (!isMap(g.value)) add(g.value, 'INVENTORY_FIELD', 'groups must be a mapping of name to host names');
    else {
      for (const p of g.value.items as Pair<Node, Node>[]) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        if (inv.groups.has(name)) {
          add(p.key, 'INVENTORY_DUPLICATE', `group ${name} is defined twice`);
          continue;
        }
        if (inv.hosts.has(name)) add(p.key, 'INVENTORY_DUPLICATE', `group ${name} has the name of a host`);
        const members: string[] = [];
        if (!isSeq(p.value)) add((p.value as Node | null) ?? p.key, 'INVENTORY_FIELD', `groups.${name} must be a list of host names`);
        else for (const item of p.value.items as Node[]) {
          const s = str(item, `groups.${name}`);
          if (!s) continue;
          if (!inv.hosts.has(s)) add(item, 'INVENTORY_UNKNOWN_HOST', `groups.${name}: no host ${JSON.stringify(s)} in hosts`);
          else members.push(s);
        }
        inv.groups.set(name, members);
      }
    }
  }
  return inv;
}

/**
 * Which inventory file applies: --inventory, else STEPWISE_INVENTORY, else `inventory.yaml`
 * beside the runbooks folder when present; undefined when none.
 */
export function inventoryPath(flag: string | undefined, runbooksDir: string): string | undefined {
  if (flag) return path.resolve(flag);
  if (process.env.STEPWISE_INVENTORY) return path.resolve(process.env.STEPWISE_INVENTORY);
  const beside = path.join(path.dirname(path.resolve(runbooksDir)), 'inventory.yaml');
  return fs.existsSync(beside) ? beside : undefined;
}

/** Reads and parses an inventory file; a file that cannot be read is one diagnostic. */
export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { file, hosts: new Map(), groups: new Map(), diagnostics: [diagnostic(file, 1, 'INVENTORY_YAML', `cannot read: ${(e as Error).message}`)] };
  }
  return parseInventory(text, file);
}
