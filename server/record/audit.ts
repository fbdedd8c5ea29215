// The audit log: appends hash-chained events for a run to the database and, as a second
// copy, to `<data>/audit/<runId>.jsonl`. Append-only: nothing here updates or deletes.
import fs from 'node:fs';
import path from 'node:path';
import type { RunStore } from './store.ts';
import { canonical, nextEvent, type AuditEvent, type AuditType } from './chain.ts';

export function auditLogPath(dataDir: string, runId: string): string {
  return path.join(dataDir, 'audit', `${runId}.jsonl`);
}

export class AuditLog {
  private readonly heads = new Map<string, AuditEvent>();

  constructor(private readonly store: RunStore, private readonly dataDir: string) {
    fs.mkdirSync(path.join(dataDir, 'audit'), { recursive: true, mode: 0o700 });
  }

  append(run: string, type: AuditType, data: Record<string, unknown>): AuditEvent {
    const last = this.heads.get(run) ?? this.store.auditEvents(run).at(-1);
    const e = nextEvent(last, run, type, data);
    this.store.appendAuditEvent(e);
    fs.appendFileSync(auditLogPath(this.dataDir, run), canonical(e) + '\n', { mode: 0o600 });
    this.heads.set(run, e);
    return e;
  }

  /** The hash of a run's latest event: print it and keep it elsewhere to pin the chain. */
  head(run: string): string | undefined {
    return (this.heads.get(run) ?? this.store.auditEvents(run).at(-1))?.hash;
  }

  forget(run: string): void {
    this.heads.delete(run);
  }
}
