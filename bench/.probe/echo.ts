import { rawPty } from '../lib/channels.ts';
import { echoLatency, shellReady, percentile } from '../lib/workload.ts';
const ch = await rawPty();
await shellReady(ch);
for (const gap of [10, 20, 50]) {
  const r = await echoLatency(ch, 300, gap);
  const s = r.samples;
  console.log(gap, 'p50', percentile(s,50).toFixed(3), 'p90', percentile(s,90).toFixed(3), 'p99', percentile(s,99).toFixed(3), 'max', Math.max(...s).toFixed(3), 'over1ms', s.filter(x=>x>1).length);
}
await ch.close();
process.exit(0);
