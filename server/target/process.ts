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

/** Every process of a session (stat field 6, the session id), e.g. all a terminal's shell started. */
export function sessionMembers(sid: number): ProcessId[] {
  const out: ProcessId[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[3]) === sid && fields[0] !== 'Z') out.push({ pid: Number(name), start: fields[19] });
  }
  return out;
}

// A program that ignores the hangup gets this long before it is killed.
const HANGUP_GRACE_MS = 1_000;

/**
 * Hangs up a terminal's session as closing a terminal window would (SIGHUP and SIGCONT to every
 * process in it: the shell does not always pass the hangup on to a job it waits for), then
 * kills what is still there after a grace period, so a closed session leaves no process.
 */
export function hangUpSession(sid: number): void {
  const members = sessionMembers(sid);
  for (const sig of ['SIGHUP', 'SIGCONT'] as const) {
    for (const m of members) {
      try {
        process.kill(m.pid, sig);
      } catch {
        /* already gone */
      }
    }
  }
  if (!members.length) return;
  // Not unref'd: a process exiting right after still kills the stragglers first.
  setTimeout(() => {
    for (const m of members) {
      if (!isRunning(m)) continue;
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }, HANGUP_GRACE_MS);
}
