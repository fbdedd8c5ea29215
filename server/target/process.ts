// A process's identity across time: its pid and its start time (field 22 of
// /proc/<pid>/stat, in clock ticks since boot), so that a pid reused by another process after
// a crash is not mistaken for the owner that recorded it.
import fs from 'node:fs';

export interface ProcessId {
  pid: number;
  /** /proc/<pid>/stat field 22 (starttime), as text: it can exceed 2^53 in theory. */
  start: string;
}

/** Pure: the start time from the text of /proc/<pid>/stat (the name may hold spaces and parens). */
export function startFromStat(stat: string): string | undefined {
  // Fields after the name start at field 3 (state); starttime is field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** Pure: the state letter (R, S, Z...) from the text of /proc/<pid>/stat. */
export function stateFromStat(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

function readStat(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** This process, or another one now; undefined when it does not exist. */
export function processId(pid: number = process.pid): ProcessId | undefined {
  const stat = readStat(pid);
  const start = stat ? startFromStat(stat) : undefined;
  return start ? { pid, start } : undefined;
}

/** Whether the recorded process still runs: same pid, same start time, and not a zombie. */
export function isRunning(id: ProcessId): boolean {
  const stat = readStat(id.pid);
  return !!stat && startFromStat(stat) === id.start && stateFromStat(stat) !== 'Z';
}

/** Whether a pid exists at all, zombies included (a zombie holds its pid until reaped). */
export function pidExists(pid: number): boolean {
  return readStat(pid) !== undefined;
}

/** The pids whose parent is pid (from /proc, so it works whatever the kernel config). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
  }
  return out;
}
