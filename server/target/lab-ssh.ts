// A lab host's own OpenSSH server, so SSH targets are tested against a real sshd (issue 10).
// It listens only inside the lab's network namespace, on a management link of its own (a veth
// to the LAN namespace on a subnet apart from the guide's LAN, so that the guide's network
// steps — bridges, addresses, routes on eth0/eth1 — never cut the path). Host keys and the
// lab's client key are generated for the lab in its folder; nothing of this machine's own SSH
// setup is read or written. Clients reach it through a ProxyCommand that enters the LAN
// namespace (`ip netns exec <lan> nc %h %p`): nothing is routed from this machine's network.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The management subnet: lab host N has .N, the LAN namespace .254. */
export const LAB_MGMT = { prefix: 24, gateway: '10.77.0.254', host: (n: number) => `10.77.0.${n}` } as const;
export const LAB_SSH_PORT = 22;
// sshd writes its pid file once it listens; it starts in milliseconds, this bounds a slow machine.
const SSHD_READY_MS = 15_000;

export interface LabSshPaths {
  dir: string;
  hostKey: string;
  clientKey: string;
  knownHosts: string;
  config: string;
  pidFile: string;
  log: string;
}

/** The lab's SSH files: one client key and known_hosts for the lab, the rest per host (n). */
export function labSshPaths(stateDir: string, n = 1): LabSshPaths {
  const dir = path.join(stateDir, 'ssh');
  const own = n === 1 ? '' : `host${n}_`;
  return {
    dir,
    hostKey: path.join(dir, `${own}ssh_host_ed25519_key`),
    clientKey: path.join(dir, 'client_key'),
    knownHosts: path.join(dir, 'known_hosts'),
    config: path.join(dir, `${own}sshd_config`),
    pidFile: path.join(dir, `${own}sshd.pid`),
    log: path.join(dir, `${own}sshd.log`),
  };
}

/** Pure: the sshd configuration of a lab host. */
export function sshdConfig(p: LabSshPaths, address: string): string {
  return [
    `ListenAddress ${address}:${LAB_SSH_PORT}`,
    `HostKey ${p.hostKey}`,
    `PidFile ${p.pidFile}`,
    `AuthorizedKeysFile ${p.dir}/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // No PAM stack in a lab; and the key files live under /tmp, which StrictModes would refuse.
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'AcceptEnv LANG',
    '',
  ].join('\n');
}

/** Cables the management link and starts sshd inside the lab (its init's namespaces). */
export async function startLabSshd(o: { netns: string; lanNetns: string; stateDir: string; initPid: number; hostNumber?: number; name?: string }): Promise<{ address: string }> {
  const n = o.hostNumber ?? 1;
  const address = LAB_MGMT.host(n);
  const p = labSshPaths(o.stateDir, n);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `stepwise-lab-host${n}`, '-f', p.hostKey]);
  if (!fs.existsSync(p.clientKey)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stepwise-lab-client', '-f', p.clientKey]);
  fs.copyFileSync(`${p.clientKey}.pub`, path.join(p.dir, 'authorized_keys'));
  const hostPub = fs.readFileSync(`${p.hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  fs.appendFileSync(p.knownHosts, `${address}${o.name ? `,${o.name}` : ''} ${hostPub}\n`, { mode: 0o600 });
  fs.writeFileSync(p.config, sshdConfig(p, address), { mode: 0o600 });
  const link = `mgmt${n}`;
  await run('ip', ['link', 'add', 'mgmt0', 'netns', o.netns, 'type', 'veth', 'peer', 'name', link, 'netns', o.lanNetns]);
  await run('ip', ['-n', o.netns, 'addr', 'add', `${address}/${LAB_MGMT.prefix}`, 'dev', 'mgmt0']);
  await run('ip', ['-n', o.netns, 'link', 'set', 'mgmt0', 'up']);
  // The LAN side: the guide's bridge carries it too, with the management gateway address.
  await run('ip', ['-n', o.lanNetns, 'link', 'set', link, 'master', 'lan', 'up']);
  await run('ip', ['-n', o.lanNetns, 'addr', 'replace', `${LAB_MGMT.gateway}/${LAB_MGMT.prefix}`, 'dev', 'lan']);
  // sshd daemonizes inside the lab's PID namespace: the lab's init reaps it, and killing the
  // init (lab down) ends it and every session it holds.
  await run('nsenter', ['-t', String(o.initPid), '-m', '-n', '-u', '-p', '-w', '--', 'bash', '-c', `mkdir -p /run/sshd && exec /usr/sbin/sshd -f '${p.config}' -E '${p.log}'`]);
  const end = Date.now() + SSHD_READY_MS;
  while (!fs.existsSync(p.pidFile)) {
    if (Date.now() > end) throw new Error(`the lab's sshd did not start: ${fs.existsSync(p.log) ? fs.readFileSync(p.log, 'utf8').trim().split('\n').slice(-2).join(' | ') : 'no log'}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { address };
}

/**
 * Lets the lab's hosts SSH to each other by name (qemu+ssh://host2/system): each gets the lab's
 * client key as root's key, every host's pinned key, and an ssh_config entry per host naming
 * its management address — written in its own overlays, never on this machine. The names go
 * to ssh_config, not /etc/hosts: which address a name has on the guide's LAN is the guide's to
 * set (sections 2.2 and 8 write /etc/hosts), while SSH keeps to the management link.
 */
export async function linkLabHosts(stateDir: string, hosts: Array<{ name: string; address: string; initPid: number }>): Promise<void> {
  const p = labSshPaths(stateDir);
  fs.writeFileSync(path.join(p.dir, 'ssh_config'), labSshConfig(hosts), { mode: 0o600 });
  for (const h of hosts) {
    const script = `mkdir -p /root/.ssh && chmod 700 /root/.ssh && cp '${p.clientKey}' /root/.ssh/id_ed25519 && cp '${p.clientKey}.pub' /root/.ssh/id_ed25519.pub && cp '${p.knownHosts}' /root/.ssh/known_hosts && cp '${path.join(p.dir, 'ssh_config')}' /root/.ssh/config`;
    await run('nsenter', ['-t', String(h.initPid), '-m', '--', 'sh', '-c', script]);
  }
}

/** Pure: root's ssh_config in every lab host — each host's name on its management address. */
export function labSshConfig(hosts: Array<{ name: string; address: string }>): string {
  return [
    ...hosts.flatMap((h) => [`Host ${h.name}`, `  HostName ${h.address}`, '  User root', '  BatchMode yes']),
    // known_hosts pins every host by address and name: nothing is asked, nothing is added.
    'Host *',
    '  StrictHostKeyChecking yes',
    '',
  ].join('\n');
}

/** Whether an sshd package is installed here (the lab offers SSH only then). */
export function hasSshd(): boolean {
  return fs.existsSync('/usr/sbin/sshd');
}

/** Pure: an inventory (docs/targets.md) reaching a lab's host over SSH, usable with --inventory. */
export function labInventory(o: { labId: string; lanNetns: string; stateDir: string; hosts: Array<{ name: string; address: string }> }): string {
  const p = labSshPaths(o.stateDir);
  return [
    `# lab ${o.labId}: its hosts' sshd, reached through the lab's LAN namespace`,
    'defaults:',
    '  user: root',
    `  identity: ${p.clientKey}`,
    `  known_hosts: ${p.knownHosts}`,
    `  proxy_command: ip netns exec ${o.lanNetns} nc %h %p`,
    'hosts:',
    ...o.hosts.flatMap((h) => [`  ${h.name}:`, `    address: ${h.address}`, '    labels: [lab]']),
    '',
  ].join('\n');
}
