// `stepwise lab up|down|list`: a lab kept up between commands, for exploring by hand
// (`stepwise run … --target lab` makes and removes its own), and the labs left behind by a
// process that was killed (stale: their owner is gone).
import { LabTarget, listLabs, removeLab, removeStaleLabs, type LabEntry } from '../target/lab.ts';

export async function labCommand(a: { action?: string; id?: string; stale?: boolean }, out: (s: string) => void): Promise<number> {
  switch (a.action) {
    case 'up': {
      const lab = await LabTarget.create({ ...(a.id ? { id: a.id } : {}), persistent: true, detached: true });
      out(`lab ${lab.labId} is up: network namespace ${lab.netns}, LAN ${lab.lanNetns}`);
      out(`KVM: ${lab.kvm.usable ? 'usable' : `not offered (${lab.kvm.reason})`}`);
      out(`enter it with: ip netns exec ${lab.netns} bash   (files and libvirt live in its mount namespace: nsenter -t <pid> -a)`);
      out(`remove it with: stepwise lab down ${lab.labId}`);
      return 0;
    }
    case 'down': {
      if (a.stale) {
        if (a.id) {
          out('stepwise lab down: give an ID or --stale, not both');
          return 2;
        }
        const ids = await removeStaleLabs();
        ids.forEach((id) => out(`lab ${id} removed (stale)`));
        if (!ids.length) out('no stale labs');
        return 0;
      }
      if (a.id) {
        if (!(await removeLab(a.id))) {
          out(`stepwise lab down: no lab ${a.id}`);
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
    case 'list': {
      const labs = await listLabs();
      if (labs.length) out(formatLabs(labs).join('\n'));
      return 0;
    }
    default:
      out('usage: stepwise lab up [ID] | down [ID] | down --stale | list');
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
