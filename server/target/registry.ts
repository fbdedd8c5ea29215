// The kinds of target a server or CLI offers: what each is (platform, capabilities: enough
// to plan a run without building anything) and how to make one for a run.
import type { Target } from './target.ts';
import { LocalTarget } from './local.ts';
import { LabTarget, labProfile } from './lab.ts';
import { SshTarget, parseSshUrl, type SshConnectOptions, type SshHost } from './ssh.ts';
import type { Inventory } from './inventory.ts';

export interface TargetProfile {
  id: string;
  platform: string;
  capabilities: ReadonlySet<string>;
}

export interface TargetKind {
  profile(): TargetProfile;
  create(): Target | Promise<Target>;
}

/** The built-in kinds, plus one per inventory host (the server's offer: ssh:// ad hoc is the
 *  CLI's only, so that an API user cannot make the server connect anywhere). */
export function targetKinds(inventory?: Inventory): Record<string, TargetKind> {
  let local: LocalTarget | undefined;
  const hosts: Record<string, TargetKind> = {};
  for (const [name, host] of inventory?.hosts ?? []) if (name !== 'local' && name !== 'lab') hosts[name] = sshKind(host);
  return {
    ...hosts,
    local: {
      profile: () => (local ??= new LocalTarget()),
      create: () => new LocalTarget(),
    },
    lab: {
      profile: () => labProfile(),
      create: () => LabTarget.create(),
    },
  };
}

/** An SSH host (inventory entry or ssh:// URL): connected per run. Its platform is known
 *  for plans only when the inventory says it; a run reads it from the host's os-release. */
export function sshKind(host: SshHost, o: SshConnectOptions = {}): TargetKind {
  return {
    profile: () => ({ id: host.name, platform: host.platform ?? 'linux', capabilities: new Set(['ssh']) }),
    create: () => SshTarget.create(host, o),
  };
}

/** The SSH host a target id names: `ssh://user@host[:port]`, or an inventory host name. */
export function sshHostFor(id: string, inventory?: Inventory): SshHost | undefined {
  if (id.startsWith('ssh://')) return parseSshUrl(id);
  return inventory?.hosts.get(id);
}

/** One ready-made target offered under its id (tests, and a CLI lab kept across runs). */
export function fixedKind(target: Target): TargetKind {
  return { profile: () => target, create: () => target };
}
