// `node --import tsx bench/lab-kvm.ts`: what masking an unusable /dev/kvm saves in the lab
// (issue 8). For the lab as it is made here (masked where /dev/kvm is unusable) and, where
// /dev/kvm exists, for a lab that leaves it as it is: libvirt's first answer, two defines of a
// tiny TCG guest and its start, each timed inside the lab. A benchmark: it prints, never fails
// on a number. Needs root and the lab's packages (.ci/setup).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { LabTarget } from '../server/target/lab.ts';
import { probeKvm } from '../server/target/kvm.ts';

const run = promisify(execFile);
// A guest start that re-probes QEMU can take minutes; past this a step counts as stalled.
const STEP_TIMEOUT_MS = 300_000;

const STEPS: Array<[string, string]> = [
  ['libvirt answers', 'virsh version >/dev/null'],
  ['image + XML', 'qemu-img create -q -f qcow2 /var/lib/libvirt/images/b.qcow2 16M && virt-install --name b1 --memory 32 --vcpus 1 --disk /var/lib/libvirt/images/b.qcow2 --import --os-variant generic --graphics none --noautoconsole --virt-type qemu --network none --print-xml > /root/b1.xml'],
  ['virsh define (1st)', 'virsh define /root/b1.xml >/dev/null'],
  ['virsh define (2nd)', 'virsh define /root/b1.xml >/dev/null'],
  ['virsh start', 'virsh start b1 >/dev/null'],
];

async function measure(maskKvm: boolean | undefined): Promise<void> {
  const lab = await LabTarget.create(maskKvm === undefined ? {} : { maskKvm });
  try {
    const init = JSON.parse(fs.readFileSync(`${lab.stateDir}/lab.json`, 'utf8')).init.pid as number;
    console.log(`lab ${lab.labId}: /dev/kvm ${lab.kvm.masked ? 'masked' : 'as on the host'}; kvm ${lab.kvm.usable ? 'usable' : `not offered (${lab.kvm.reason})`}`);
    for (const [name, script] of STEPS) {
      const t = performance.now();
      let note = '';
      try {
        await run('nsenter', ['-t', String(init), '-a', '--', 'env', 'LIBVIRT_DEFAULT_URI=qemu:///system', 'bash', '-c', script], { timeout: STEP_TIMEOUT_MS });
      } catch (e) {
        note = ` FAILED: ${((e as { stderr?: string }).stderr ?? String(e)).trim().split('\n').pop()}`;
      }
      console.log(`  ${name.padEnd(20)} ${((performance.now() - t) / 1000).toFixed(2).padStart(7)} s${note}`);
    }
  } finally {
    await lab.dispose();
  }
}

const kvm = probeKvm();
console.log(`this machine: kvm ${kvm.usable ? 'usable' : `unusable (${kvm.reason})`}; /dev/kvm ${kvm.facts.device}`);
await measure(undefined);
if (kvm.facts.device !== 'missing') await measure(!kvm.usable ? false : true);
