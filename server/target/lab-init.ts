// The script that turns a fresh network namespace into a disposable lab host. Pure: text.
// It runs inside `ip netns exec <lab> unshare --mount --uts --pid --fork --mount-proc
// --propagation private`, so every mount below is private to the lab and vanishes with it;
// the host's /etc, /var and devices are never written. It is PID 1 of the lab's PID
// namespace: daemons (libvirtd, virtlogd, QEMU) are re-parented to it, and it reaps them.

/** Host paths the guide writes: each becomes a copy-on-write overlay inside the lab. */
export const OVERLAID = ['/etc', '/var', '/root', '/home', '/srv', '/usr/local', '/opt'] as const;

export interface LabInitPaths {
  /** Host folder holding the overlays' upper and work dirs. */
  stateDir: string;
  /** Host folder with libvirt's connection drivers minus nodedev (see below). */
  driversDir: string;
  hostname: string;
  /** Hide /dev/kvm (bind an unopenable file over it): it exists but cannot run guests, and
   *  libvirt would otherwise re-probe QEMU for about a minute on every define (issue 8). */
  maskKvm: boolean;
  /** Start libvirtd (default); false for a lighter host (LabOptions.minimal). */
  libvirt?: boolean;
  /** Host folder bind-mounted on LAB_SHARED_IMAGES in every host of the lab: the emulated
   *  shared storage that live migration (guide section 8) needs. */
  sharedDir?: string;
  /** Give the host a /tmp, /var/tmp and /dev/shm of its own (tmpfs: gone with its mount
   *  namespace, nothing to clean up on this machine). These folders of this machine, which the
   *  host's shells and sshd read (its SSH files, host 1's session folders, the exchange folder),
   *  stay visible at their own paths; the rest of this machine's /tmp is not. */
  privateTmp?: readonly string[];
}

/** The folders a lab host gets a private tmpfs on (LabInitPaths.privateTmp). */
export const PRIVATE_TMP = ['/tmp', '/var/tmp', '/dev/shm'] as const;

/** Where the lab's shared storage appears in each host: libvirt's default image store, the
 *  folder the guide's runbooks keep every disk in (docs/guide.md). */
export const LAB_SHARED_IMAGES = '/var/lib/libvirt/images';

export const LIBVIRT_DRIVERS = '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver';

/** A shell word quoting s exactly. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function labInitScript(p: LabInitPaths): string {
  const overlays = OVERLAID.map((dir) => {
    const key = dir.replace(/\//g, '_');
    const up = `${p.stateDir}/${key}/upper`;
    const work = `${p.stateDir}/${key}/work`;
    return `mkdir -p ${q(up)} ${q(work)} && mount -t overlay overlay -o lowerdir=${dir},upperdir=${q(up)},workdir=${q(work)} ${dir}`;
  });
  return `set -eu
${overlays.join('\n')}
mount -t tmpfs -o mode=0755 lab-run /run
# Shells start where the init is (nsenter -w): the lab's /root, not the host's under it.
cd /root
${p.maskKvm ? `# /dev/kvm cannot run guests here. In its place, a root-only /dev/null (a device node, which
# libvirt can carry into a guest's private /dev) that QEMU's user may not open: libvirt then
# judges KVM unusable, as its cached probe of QEMU says, and uses TCG at once. (/dev/null would
# not do: libvirt would find it accessible, expect KVM, and re-probe QEMU on every define.)
if [ -e /dev/kvm ]; then mknod -m 0600 ${q(p.stateDir + '/no-kvm')} c 1 3 && mount --bind ${q(p.stateDir + '/no-kvm')} /dev/kvm; fi
` : ''}mkdir -p /run/lock /var/lib/libvirt/images /var/log/libvirt
${p.sharedDir ? `# Shared storage: one folder of this machine at the same path in every host of the lab, as an
# NFS export would be on real hosts (this machine's kernel has no NFS).
mount --bind ${q(p.sharedDir)} ${LAB_SHARED_IMAGES}
` : ''}hostname ${q(p.hostname)}
# A static host resolves its own name (libvirt and migration look it up; there is no DNS here).
printf '127.0.1.1\t%s\n' ${q(p.hostname)} >> /etc/hosts
# libvirt's node-device driver would list and could detach this machine's real PCI/USB
# devices: the lab's libvirtd starts without it (nodedev-* answer "not supported").
if [ -d ${LIBVIRT_DRIVERS} ]; then mount --bind ${q(p.driversDir)} ${LIBVIRT_DRIVERS}; fi
if ${p.libvirt === false ? 'false' : 'command -v libvirtd >/dev/null'}; then
  # No polkit in a lab: root on the local socket is enough. virsh on a terminal would still
  # try polkit's tty agent and print a notice into every output, so hide the agent.
  mkdir -p /etc/libvirt && printf 'auth_unix_ro = "none"\nauth_unix_rw = "none"\n' >> /etc/libvirt/libvirtd.conf
  if [ -e /usr/bin/pkttyagent ]; then : > ${q(p.stateDir + '/no-agent')}; mount --bind ${q(p.stateDir + '/no-agent')} /usr/bin/pkttyagent; fi
  virtlogd -d
  libvirtd -d
  for i in $(seq 1 100); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done
fi
${p.privateTmp ? privateTmpScript(p.privateTmp) : ''}echo STEPWISE-LAB-READY
# As PID 1, bash reaps every child re-parented to it (its SIGCHLD handler waits for any pid),
# so a stopped daemon never stays a zombie; the lab ends when the host kills this process.
sleep infinity &
while :; do wait; done
`;
}

/** Pure: the lines giving a host its own /tmp, /var/tmp and /dev/shm, keeping `keep` visible.
 *  Each kept folder is bound aside (in the lab's /run) before the tmpfs covers it, then moved
 *  back to its own path inside the new tmpfs. Last in the init: every bind of a folder under
 *  this machine's /tmp (overlays, drivers, shared images) is made by then. */
export function privateTmpScript(keep: readonly string[]): string {
  const aside = (i: number) => `/run/stepwise-keep/${i}`;
  return [
    '# A /tmp, /var/tmp and /dev/shm of its own: what a runbook (or mktemp over SSH) leaves there',
    "# stays in this host and goes with it; this machine's /tmp is not seen, except the lab's own",
    '# folders its shells and sshd read, at their own paths.',
    ...keep.map((d, i) => `mkdir -p ${aside(i)} && mount --bind ${q(d)} ${aside(i)}`),
    ...PRIVATE_TMP.map((t) => `if [ -d ${t} ] && [ ! -L ${t} ]; then mount -t tmpfs -o mode=1777,nosuid,nodev lab-tmp ${t}; fi`),
    ...keep.map((d, i) => `mkdir -p ${q(d)} && mount --move ${aside(i)} ${q(d)}`),
    ...(keep.length ? ['rmdir /run/stepwise-keep/* /run/stepwise-keep'] : []),
    '',
  ].join('\n');
}
