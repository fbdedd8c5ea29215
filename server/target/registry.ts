// The kinds of target a server or CLI offers: what each is (platform, capabilities: enough
// to plan a run without building anything) and how to make one for a run.
import type { Target } from './target.ts';
import { LocalTarget } from './local.ts';
import { LabTarget, labProfile } from './lab.ts';

export interface TargetProfile {
  id: string;
  platform: string;
  capabilities: ReadonlySet<string>;
}

export interface TargetKind {
  profile(): TargetProfile;
  create(): Target | Promise<Target>;
}

export function targetKinds(): Record<string, TargetKind> {
  let local: LocalTarget | undefined;
  return {
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

/** One ready-made target offered under its id (tests, and a CLI lab kept across runs). */
export function fixedKind(target: Target): TargetKind {
  return { profile: () => target, create: () => target };
}
