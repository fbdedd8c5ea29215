import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  let cpu = cpus[0]?.model?.trim() ?? 'unknown CPU';
  // Some VMs report a bare family name in /proc/cpuinfo; keep what the kernel says.
  if (!cpu) cpu = 'unknown CPU';
  let distro = '';
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* not Linux */
  }
  return {
    cpu,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()}${distro ? ` (${distro})` : ''}`,
    node: process.version,
  };
}
