// `stepwise lab up|down|list`: a lab kept up between commands, for exploring by hand
// (`stepwise run … --target lab` makes and removes its own), and the labs left behind by a
// process that was killed (stale: their owner is gone).
import { LabTarget, findLabRecord, listLabs, removeLab, removeStaleLabs, type LabEntry } from '../target/lab.ts';
import { hasSshd, labInventory } from '../target/lab-ssh.ts';
import { LAB_HOSTNAME } from '../target/lab.ts';
import { LAB_SHARED_IMAGES } from '../target/lab-init.ts';
import { cliTranslator } from './config.ts';

// More would crowd a 2-core machine; fleets of 20 (issue 10 §4) will want minimal hosts.
const MAX_LAB_HOSTS = 8;

export async function labCommand(a: { action?: string; id?: string; stale?: boolean; hosts?: string; minimal?: boolean }, out: (s: string) => void): Promise<number> {
  const tr = cliTranslator();
  switch (a.action) {
    case 'up': {
      const hosts = a.hosts === undefined ? 1 : Number(a.hosts);
      // Each host is a set of namespaces, overlays and daemons: a handful per lab.
      if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_LAB_HOSTS) {
        out(tr.t('cli.usage', { command: 'lab up', message: tr.t('cli.lab.hostsRange', { max: String(MAX_LAB_HOSTS) }) }));
        return 2;
      }
      if (hosts > 1 && !hasSshd()) {
        out(tr.t('cli.usage', { command: 'lab up', message: tr.t('cli.lab.needsSshd') }));
        return 2;
      }
      // Its own sshd wherever OpenSSH's server is installed: `lab inventory` then reaches it.
      const lab = await LabTarget.create({ ...(a.id ? { id: a.id } : {}), persistent: true, detached: true, ssh: hasSshd(), hosts, minimal: a.minimal ?? false });
      out(`lab ${lab.labId} is up: network namespace ${lab.netns}, LAN ${lab.lanNetns}`);
      if (lab.sshAddress) out(`sshd: ${lab.sshAddress}:22 inside the lab (stepwise lab inventory ${lab.labId} > inventory.yaml)`);
      if (hosts > 1) out(`hosts: ${LAB_HOSTNAME}, ${Array.from({ length: hosts - 1 }, (_, i) => `host${i + 2}`).join(', ')} on one LAN; they reach each other over SSH by name`);
      if (hosts > 1) out(`shared storage: ${LAB_SHARED_IMAGES} is one folder in every host (${lab.sharedDir}), as an NFS export would be`);
      out(`KVM: ${lab.kvm.usable ? 'usable' : `not offered (${lab.kvm.reason})`}`);
      out(`enter it with: ip netns exec ${lab.netns} bash   (files and libvirt live in its mount namespace: nsenter -t <pid> -a)`);
      out(`remove it with: stepwise lab down ${lab.labId}`);
      return 0;
    }
    case 'down': {
      if (a.stale) {
        if (a.id) {
          out(tr.t('cli.usage', { command: 'lab down', message: tr.t('cli.lab.idOrStale') }));
          return 2;
        }
        const ids = await removeStaleLabs();
        ids.forEach((id) => out(`lab ${id} removed (stale)`));
        if (!ids.length) out('no stale labs');
        return 0;
      }
      if (a.id) {
        if (!(await removeLab(a.id))) {
          out(tr.t('cli.usage', { command: 'lab down', message: tr.t('cli.lab.noLab', { id: a.id }) }));
          return 2;
        }
        out(`lab ${a.id} removed`);
        return 0;
      }
      // Without an id: the labs kept up by `lab up` and the stale ones, never a lab that a
      // running process (a run, a server, a test) is using.
      const labs = (await listLabs()).filter((l) => l.stale || l.owner === null);
      for (const l of labs) {
        await removeLab(l.id);
        out(`lab ${l.id} removed`);
      }
      const busy = (await listLabs()).filter((l) => !l.stale && l.owner);
      busy.forEach((l) => out(`lab ${l.id} left up: ${l.why} (stepwise lab down ${l.id} removes it anyway)`));
      return 0;
    }
    case 'inventory': {
      const r = a.id ? findLabRecord(a.id) : undefined;
      if (!r) {
        out(tr.t('cli.usage', { command: 'lab inventory', message: a.id ? tr.t('cli.lab.noLab', { id: a.id }) : tr.t('cli.lab.nameLab') }));
        return 2;
      }
      if (!r.ssh) {
        out(tr.t('cli.usage', { command: 'lab inventory', message: tr.t('cli.lab.noSshd', { id: r.id }) }));
        return 2;
      }
      const hosts = [{ name: LAB_HOSTNAME, address: r.ssh.address }, ...(r.extraHosts ?? []).filter((h) => h.ssh).map((h) => ({ name: h.name, address: h.ssh!.address }))];
      out(labInventory({ labId: r.id, lanNetns: r.lanNetns, stateDir: r.stateDir, hosts }).trimEnd());
      return 0;
    }
    case 'list': {
      const labs = await listLabs();
      if (labs.length) out(formatLabs(labs).join('\n'));
      return 0;
    }
    default:
      out(tr.t('cli.lab.usage'));
      return 2;
  }
}

/** One line per lab: id, state (up, STALE), owner, kvm, why. */
export function formatLabs(labs: LabEntry[]): string[] {
  const rows = labs.map((l) => [
    l.id,
    l.stale ? 'STALE' : l.up ? 'up' : 'down',
    l.owner === null ? 'lab-up' : l.owner ? `pid ${l.owner.pid}` : '-',
    l.kvm ? (l.kvm.usable ? 'kvm' : 'tcg') : '-',
    l.why,
  ]);
  const head = ['ID', 'STATE', 'OWNER', 'ACCEL', 'WHY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}
