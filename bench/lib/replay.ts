// CPU cost of the per-byte consumers, without the pty's noise: the flood's output is captured
// once, chunk by chunk as the session emitted it, then replayed through the recorder exactly as
// Run wires it (TextDecoder → AsciicastWriter, to a real file) and through the headless screen.
import path from 'node:path';
import fs from 'node:fs';
import { AsciicastWriter } from '../../server/record/asciicast.ts';
import { screenMirrorClass, sessionPipeline } from './channels.ts';
import { median, shellReady, throughput } from './workload.ts';

const cpuMs = (since: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};

export async function captureChunks(tmpDir: string, inputBytes: number): Promise<Buffer[]> {
  const ch = await sessionPipeline({ record: false, screen: false }, tmpDir);
  try {
    await shellReady(ch);
    const chunks: Buffer[] = [];
    const off = ch.onData((c) => chunks.push(Buffer.from(c as Buffer)));
    await throughput(ch, { inputBytes });
    off();
    return chunks;
  } finally {
    await ch.close();
  }
}

export interface ReplayCost {
  mb: number;
  chunks: number;
  /** Median ms of CPU (this process, user + system) per MB of output. */
  recorderMsPerMB: number;
  screenMsPerMB: number | undefined;
}

export async function replayCost(chunks: Buffer[], tmpDir: string, repeats = 5): Promise<ReplayCost> {
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  const mb = bytes / 1e6;
  const rec: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const file = path.join(tmpDir, `replay-${i}.cast`);
    const cast = AsciicastWriter.open(file, { width: 100, height: 30, title: 'replay' });
    const decoder = new TextDecoder('utf-8');
    const t0 = process.cpuUsage();
    for (const c of chunks) cast.output(decoder.decode(c, { stream: true }));
    cast.dispose(); // the last flush is part of the cost
    rec.push(cpuMs(t0));
    fs.rmSync(file, { force: true });
  }
  let screenMsPerMB: number | undefined;
  const Screen = await screenMirrorClass();
  if (Screen) {
    const scr: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const s = new Screen(100, 30) as InstanceType<typeof Screen> & { snapshot(cb: (screen: string) => void): void };
      const t0 = process.cpuUsage();
      for (const c of chunks) s.write(c);
      // The snapshot callback runs once everything written before it is parsed.
      await new Promise<void>((r) => s.snapshot(() => r()));
      scr.push(cpuMs(t0));
      s.dispose();
    }
    screenMsPerMB = median(scr) / mb;
  }
  return { mb, chunks: chunks.length, recorderMsPerMB: median(rec) / mb, screenMsPerMB };
}
