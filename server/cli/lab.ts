// `stepwise lab up|down|list`: a lab kept up between commands, for exploring by hand
// (`stepwise run … --target lab` makes and removes its own).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabTarget, teardown } from '../target/lab.ts';

function labs(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => /^sw-([a-z0-9]+)(?:\s|$)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}

function stateDirs(id: string): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`stepwise-lab-${id}-`)).map((n) => path.join(os.tmpdir(), n));
}

export async function labCommand(a: { action?: string; id?: string }, out: (s: string) => void): Promise<number> {
  switch (a.action) {
    case 'up': {
      const lab = await LabTarget.create({ ...(a.id ? { id: a.id } : {}), persistent: true });
      out(`lab ${lab.labId} is up: network namespace ${lab.netns}, LAN ${lab.lanNetns}`);
      out(`enter it with: ip netns exec ${lab.netns} bash   (files and libvirt live in its mount namespace: nsenter -t <pid> -m -n -u)`);
      out(`remove it with: stepwise lab down ${lab.labId}`);
      return 0;
    }
    case 'down': {
      const ids = a.id ? [a.id] : labs();
      if (a.id && !labs().includes(a.id) && stateDirs(a.id).length === 0) {
        out(`stepwise lab down: no lab ${a.id}`);
        return 2;
      }
      for (const id of ids) {
        const dirs = stateDirs(id);
        teardown(`sw-${id}`, `sw-${id}-lan`, dirs[0] ?? path.join(os.tmpdir(), `stepwise-lab-${id}-gone`));
        dirs.slice(1).forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
        out(`lab ${id} removed`);
      }
      return 0;
    }
    case 'list':
      labs().forEach((id) => out(id));
      return 0;
    default:
      out('usage: stepwise lab up [ID] | down [ID] | list');
      return 2;
  }
}
