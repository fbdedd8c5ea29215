// SSH hosts on the command line: `--target NAME|ssh://…` resolved against the inventory, and
// `stepwise hosts trust HOST|list` (docs/targets.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatDiagnostic } from '../errors.ts';
import { inventoryPath, loadInventory, type Inventory } from '../target/inventory.ts';
import { sshHostFor, sshKind, type TargetKind } from '../target/registry.ts';
import { knownHostsFile, probeHostKey } from '../target/ssh.ts';
import { cliTranslator, runbooksDir } from './config.ts';

/** The inventory that applies, or a usage message when it has errors; undefined when there is none. */
export function cliInventory(flag: string | undefined, runbooks: string | undefined): Inventory | string | undefined {
  const file = inventoryPath(flag, runbooksDir(runbooks));
  if (!file) return undefined;
  const inv = loadInventory(file);
  const errors = inv.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) return `inventory ${file} has errors:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`;
  return inv;
}

/** The target kind of an SSH target id, or why there is none. */
export function sshTargetKind(id: string, a: { inventory?: string; runbooks?: string; acceptNewHostKey?: boolean }, builtIn: string[]): TargetKind | string {
  const inv = cliInventory(a.inventory, a.runbooks);
  if (typeof inv === 'string') return inv;
  const host = sshHostFor(id, inv);
  if (host) return sshKind(host, { acceptNewHostKey: a.acceptNewHostKey ?? false });
  if (id.startsWith('ssh://')) return `--target ${JSON.stringify(id)} is not ssh://[user@]host[:port]`;
  const names = inv ? [...inv.hosts.keys()] : [];
  return `no target ${JSON.stringify(id)}; known: ${[...builtIn, ...names].join(', ')}, or ssh://user@host[:port]${inv ? '' : ' (no inventory: --inventory FILE)'}`;
}

export async function hostsCommand(a: { action?: string; host?: string; inventory?: string; runbooks?: string }, out: (s: string) => void): Promise<number> {
  const tr = cliTranslator();
  const inv = cliInventory(a.inventory, a.runbooks);
  if (typeof inv === 'string') {
    out(tr.t('cli.usage', { command: 'hosts', message: inv }));
    return 2;
  }
  switch (a.action) {
    case 'list': {
      if (!inv) {
        out(tr.t('cli.usage', { command: 'hosts', message: tr.t('cli.hosts.noInventory') }));
        return 2;
      }
      for (const h of inv.hosts.values()) out(`${h.name}  ${h.user ? `${h.user}@` : ''}${h.address}${h.port ? `:${h.port}` : ''}${h.labels.length ? `  [${h.labels.join(', ')}]` : ''}`);
      for (const [g, members] of inv.groups) out(`@${g}  ${members.join(', ')}`);
      return 0;
    }
    case 'trust': {
      const host = a.host ? sshHostFor(a.host, inv) : undefined;
      if (!host) {
        out(tr.t('cli.usage', { command: 'hosts trust', message: tr.t('cli.hosts.nameHost', { given: a.host ? 'yes' : 'no', host: JSON.stringify(a.host ?? '') }) }));
        return 2;
      }
      const probe = await probeHostKey(host);
      if ('error' in probe) {
        out(tr.t('cli.usage', { command: 'hosts trust', message: probe.error }));
        return 1;
      }
      const file = knownHostsFile(host);
      const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      // A host already trusted with another key is not re-trusted here: a changed key is
      // always refused until someone removes the old one knowingly.
      const names = [...new Set(probe.lines.map((l) => l.split(' ')[0]!))];
      const keys = new Set(probe.lines.map((l) => l.split(' ').slice(1, 3).join(' ')));
      for (const n of names) {
        const known = fs.existsSync(file) ? spawnSync('ssh-keygen', ['-F', n, '-f', file], { encoding: 'utf8' }).stdout : '';
        const other = known.split('\n').filter((l) => l && !l.startsWith('#')).find((l) => !keys.has(l.split(' ').slice(1, 3).join(' ')));
        if (other) {
          out(tr.t('cli.usage', { command: 'hosts trust', message: tr.t('cli.hosts.otherKey', { host: host.name, name: n, file, fingerprints: probe.fingerprints.join(', ') }) }));
          return 1;
        }
      }
      const fresh = probe.lines.filter((l) => !have.split('\n').includes(l));
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      if (fresh.length) fs.appendFileSync(file, (have && !have.endsWith('\n') ? '\n' : '') + fresh.join('\n') + '\n', { mode: 0o600 });
      out(tr.t('cli.hosts.trusted', { host: host.name, fingerprints: probe.fingerprints.join(', '), file, fresh: fresh.length ? 'yes' : 'no' }));
      return 0;
    }
    default:
      out(tr.t('cli.hosts.usage'));
      return 2;
  }
}
