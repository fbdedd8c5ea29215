// Whether this machine can run KVM guests, from real probes rather than from a file's
// existence: /dev/kvm can exist on a CPU without VT-x/AMD-V, or with permissions QEMU's user
// does not have, and then libvirt stalls re-probing QEMU on every define (issue 8). KVM is
// usable only when the CPU has the flag, /dev/kvm is the KVM device (not a stand-in bind-
// mounted over it), it opens, and the user QEMU runs as may read and write it.
import fs from 'node:fs';
import os from 'node:os';

/** /dev/kvm is the misc character device 10:232 (Documentation/admin-guide/devices.txt). */
const KVM_MAJOR = 10;
const KVM_MINOR = 232;

export interface KvmFacts {
  /** /proc/cpuinfo lists vmx or svm. */
  cpuFlag: boolean;
  /** What /dev/kvm is: missing, the KVM device, or something else (e.g. /dev/null masking it). */
  device: 'missing' | 'kvm' | 'other';
  /** Opening /dev/kvm read-write as this process: ok, or the errno code (ENODEV: no module). */
  open: 'ok' | string;
  /** The user QEMU runs as, and whether the device's mode lets that user read and write it. */
  qemuUser: string;
  qemuUserAccess: boolean;
}

export interface KvmVerdict {
  usable: boolean;
  /** Why not, for people (target info, logs); "usable" when it is. */
  reason: string;
}

/** Pure: the verdict from the facts. */
export function judgeKvm(f: KvmFacts): KvmVerdict {
  if (!f.cpuFlag) return { usable: false, reason: `the CPU has no vmx/svm flag${f.device === 'missing' ? '' : ' (/dev/kvm exists but cannot run guests)'}` };
  if (f.device === 'missing') return { usable: false, reason: 'there is no /dev/kvm (kvm_intel/kvm_amd not loaded?)' };
  if (f.device === 'other') return { usable: false, reason: '/dev/kvm is not the KVM device (masked)' };
  // EACCES is about this process only; QEMU's user is judged below.
  if (f.open !== 'ok' && f.open !== 'EACCES' && f.open !== 'EPERM') return { usable: false, reason: `/dev/kvm does not open (${f.open})` };
  if (!f.qemuUserAccess) return { usable: false, reason: `QEMU's user ${f.qemuUser} may not open /dev/kvm` };
  return { usable: true, reason: 'usable' };
}

/** Pure: whether a file mode lets a user (uid and group ids) read and write it. */
export function modeAllowsRw(st: { mode: number; uid: number; gid: number }, user: { uid: number; gids: number[] }): boolean {
  if (user.uid === 0) return true;
  const bits = st.uid === user.uid ? (st.mode >> 6) & 7 : user.gids.includes(st.gid) ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & 6) === 6;
}

/** Pure: the user libvirt runs QEMU as, from qemu.conf (Debian's build defaults to libvirt-qemu). */
export function qemuUserFromConf(conf: string | undefined, fallback: string): string {
  const m = conf ? /^\s*user\s*=\s*"([^"]+)"/m.exec(conf) : null;
  return m ? m[1]! : fallback;
}

/** The probe: a few file reads and one open, well under a millisecond. */
export function probeKvm(dev = '/dev/kvm'): KvmVerdict & { facts: KvmFacts } {
  const facts = readFacts(dev);
  return { ...judgeKvm(facts), facts };
}

function readFacts(dev: string): KvmFacts {
  let cpuFlag = false;
  try {
    cpuFlag = /^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    /* no /proc: no flag known */
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dev);
  } catch {
    /* missing */
  }
  const device = !st ? 'missing' : st.isCharacterDevice() && major(st.rdev) === KVM_MAJOR && minor(st.rdev) === KVM_MINOR ? 'kvm' : 'other';
  let open = 'ok';
  if (device === 'kvm') {
    try {
      fs.closeSync(fs.openSync(dev, fs.constants.O_RDWR));
    } catch (e) {
      open = (e as NodeJS.ErrnoException).code ?? 'error';
    }
  }
  const qemuUser = qemuUserName();
  const user = lookupUser(qemuUser);
  const qemuUserAccess = !!st && !!user && modeAllowsRw(st, user);
  return { cpuFlag, device, open, qemuUser, qemuUserAccess };
}

/** libvirt's QEMU user when libvirt is installed, else whoever runs QEMU by hand: this user. */
function qemuUserName(): string {
  const self = os.userInfo().username;
  if (!fs.existsSync('/etc/libvirt')) return self;
  let conf: string | undefined;
  try {
    conf = fs.readFileSync('/etc/libvirt/qemu.conf', 'utf8');
  } catch {
    /* unreadable as non-root: the default below */
  }
  const name = qemuUserFromConf(conf, 'libvirt-qemu');
  return lookupUser(name) ? name : self;
}

function lookupUser(name: string): { uid: number; gids: number[] } | undefined {
  if (name === os.userInfo().username) {
    const u = os.userInfo();
    return { uid: u.uid, gids: process.getgroups?.() ?? [u.gid] };
  }
  if (/^\+\d+$/.test(name)) return { uid: Number(name.slice(1)), gids: [] };
  try {
    const pw = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
    if (!pw) return undefined;
    const gids = [Number(pw[3])];
    for (const g of fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':'))) {
      if (g[3]?.split(',').includes(name)) gids.push(Number(g[2]));
    }
    return { uid: Number(pw[2]), gids };
  } catch {
    return undefined;
  }
}

// Linux's dev_t encoding (glibc's gnu_dev_major/minor).
function major(dev: number): number {
  return Number((BigInt(dev) >> 8n) & 0xfffn);
}
function minor(dev: number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xfff00n));
}
