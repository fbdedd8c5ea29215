// What a lab must leave exactly as it found it: links, addresses, routes, network namespaces,
// mounts and /etc (each entry's mode, size and mtime, hashed). Other labs (another test run, a
// person's `stepwise lab up`) may come and go meanwhile: their namespaces (`sw-…`) and netns
// mounts are left out unless `keep` claims them as the test's own.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export function hostState(keep: (name: string) => boolean = () => false): Record<string, string> {
  const run = (c: string, ...a: string[]) => execFileSync(c, a, { encoding: 'utf8' });
  const etc = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      const st = fs.lstatSync(p);
      etc.update(`${p} ${st.mode} ${st.size} ${st.mtimeMs}\n`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('/etc');
  return {
    links: run('ip', '-o', 'link').replace(/\s+/g, ' '),
    addrs: run('ip', '-o', 'addr'),
    routes: run('ip', 'route') + run('ip', '-6', 'route'),
    netns: run('ip', 'netns', 'list').split('\n').filter((l) => !/^sw-/.test(l) || keep(l)).join('\n'),
    mounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => !m.startsWith('/run/netns/sw-') || keep(m)).sort().join('\n'),
    etc: etc.digest('hex'),
  };
}
