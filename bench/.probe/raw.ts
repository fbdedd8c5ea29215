import pty from 'node-pty';
const p = pty.spawn('bash', ['--noprofile','--norc','-i'], { name: 'xterm-256color', cols: 100, rows: 30, env: {...process.env, PS1: '$ '} as any, encoding: null } as any);
let bytes = 0, t0 = 0, reads = 0; let tail = '';
await new Promise(r => setTimeout(r, 300));
const done = new Promise<void>((resolve) => {
  p.onData((d: any) => { bytes += d.length; reads++; tail = (tail + d.subarray(Math.max(0, d.length - 64)).toString('latin1')).slice(-64); if (tail.includes('BENCH_42_END')) resolve(); });
});
t0 = performance.now(); bytes = 0; reads = 0;
p.write('head -c 50000000 /dev/zero | base64; echo BENCH_$((6*7))_END\r');
await done;
const ms = performance.now() - t0;
console.log({ bytes, reads, ms, MBps: bytes / ms / 1000, avgRead: bytes / reads });
p.kill();
