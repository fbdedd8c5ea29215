// Which process owns a run or a session folder, as text stored with it: "pid:starttime" (see
// target/process.ts), so that after a kill -9 the next stepwise command can tell a dead owner
// from a live one, and a reused pid from the original process.
import { isRunning, processId } from './target/process.ts';

export type OwnerId = string;

let self: OwnerId | undefined;

/** This process. */
export function selfOwner(): OwnerId {
  self ??= `${process.pid}:${processId()?.start ?? '0'}`;
  return self;
}

/** Whether the owner is still running (false for a malformed id). */
export function ownerAlive(owner: OwnerId): boolean {
  const m = /^(\d+):(\d+)$/.exec(owner);
  return m ? isRunning({ pid: Number(m[1]), start: m[2] }) : false;
}
