// `audit verify`: recomputes a run's chain and checks the database records, the JSON-lines
// copy of the log and the recording against it. Reports the first problem of each kind.
import fs from 'node:fs';
import type { RunStore } from './store.ts';
import { auditLogPath } from './audit.ts';
import { canonical, sha256, verifyChain, type AuditEvent } from './chain.ts';

export interface AuditProblem {
  run: string;
  /** The event number concerned, when there is one. */
  n?: number;
  where: 'chain' | 'log' | 'records' | 'recording';
  what: string;
}

export interface RunVerification {
  run: string;
  events: number;
  head?: string;
  problems: AuditProblem[];
}

export function verifyRun(store: RunStore, dataDir: string, run: string): RunVerification {
  const events = store.auditEvents(run);
  const problems: AuditProblem[] = [];
  const add = (where: AuditProblem['where'], what: string, n?: number) => problems.push(n === undefined ? { run, where, what } : { run, n, where, what });

  const broken = verifyChain(run, events);
  if (broken) add('chain', `database: ${broken.what}`, broken.n);
  if (events.length === 0) add('chain', 'no audit events recorded for this run');

  checkLog(dataDir, run, events, add);
  checkRecords(store, run, events, add);
  checkRecording(store, run, events, add);
  return { run, events: events.length, head: events.at(-1)?.hash, problems };
}

type Add = (where: AuditProblem['where'], what: string, n?: number) => void;

function checkLog(dataDir: string, run: string, events: AuditEvent[], add: Add): void {
  let text: string;
  try {
    text = fs.readFileSync(auditLogPath(dataDir, run), 'utf8');
  } catch (e) {
    add('log', `cannot read the log copy: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const logEvents: AuditEvent[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      logEvents.push(JSON.parse(line) as AuditEvent);
    } catch {
      add('log', `line ${i + 1} is not valid JSON`, i + 1);
      return;
    }
  }
  const broken = verifyChain(run, logEvents);
  if (broken) add('log', `log file: ${broken.what}`, broken.n);
  for (let i = 0; i < Math.max(lines.length, events.length); i++) {
    const db = events[i];
    const lg = logEvents[i];
    if (!db || !lg) {
      add('log', `the log has ${lines.length} events, the database ${events.length}`, i + 1);
      return;
    }
    if (canonical(db) !== lines[i]) {
      const fields = (['n', 'ts', 'type', 'data', 'prev', 'hash'] as const).filter((k) => canonical(db[k]) !== canonical(lg[k]));
      add('log', `event ${i + 1} differs between the log and the database (${fields.join(', ') || 'formatting'})`, i + 1);
      return;
    }
  }
}

function checkRecords(store: RunStore, run: string, events: AuditEvent[], add: Add): void {
  const rec = store.getRun(run);
  const started = events.find((e) => e.type === 'run-started');
  if (!rec) {
    add('records', 'the run row is missing from the database');
    return;
  }
  if (started) {
    const want = started.data;
    const have = { runbookId: rec.runbookId, contentHash: rec.contentHash, user: rec.user, target: rec.target, vars: rec.vars };
    for (const k of Object.keys(have) as Array<keyof typeof have>) {
      if (canonical(have[k]) !== canonical(want[k])) add('records', `run.${k} is ${JSON.stringify(have[k])} but the chain recorded ${JSON.stringify(want[k])}`, started.n);
    }
  }
  checkBlockRows(store, run, events, add);
  checkVerdicts(store, run, events, add);
}

function checkBlockRows(store: RunStore, run: string, events: AuditEvent[], add: Add): void {
  const finished = events.filter((e) => e.type === 'block-finished');
  const rows = store.blockResults(run);
  for (let i = 0; i < Math.max(rows.length, finished.length); i++) {
    const row = rows[i];
    const ev = finished[i];
    if (!row || !ev) {
      add('records', `the database has ${rows.length} block results, the chain ${finished.length}`, ev?.n);
      return;
    }
    const have = { blockId: row.id, stepId: row.stepId, status: row.status, exitCode: row.exitCode, durationMs: row.durationMs, outputDigest: row.outputDigest ?? null, textDigest: sha256(row.output), reason: row.reason ?? null, role: row.role ?? null, host: row.host ?? null };
    for (const k of Object.keys(have) as Array<keyof typeof have>) {
      if (canonical(have[k]) !== canonical(ev.data[k] ?? null)) {
        add('records', `block result ${row.seq} (${row.id}): ${k === 'textDigest' ? 'stored output was changed' : `${k} is ${JSON.stringify(have[k])} but the chain recorded ${JSON.stringify(ev.data[k])}`}`, ev.n);
        return;
      }
    }
  }
}

function checkVerdicts(store: RunStore, run: string, events: AuditEvent[], add: Add): void {
  const lastVerdict = new Map<string, AuditEvent>();
  for (const e of events) if (e.type === 'step-verdict') lastVerdict.set(String(e.data.stepId), e);
  const verdicts = store.stepVerdicts(run);
  for (const v of verdicts) {
    const e = lastVerdict.get(v.stepId);
    if (!e) add('records', `step ${v.stepId} has a verdict the chain never recorded`);
    else if (e.data.status !== v.status || (e.data.reason ?? null) !== (v.reason ?? null)) add('records', `step ${v.stepId} verdict is ${v.status} but the chain recorded ${String(e.data.status)}`, e.n);
  }
  if (verdicts.length !== lastVerdict.size) add('records', `the database has ${verdicts.length} step verdicts, the chain ${lastVerdict.size}`);
}

function checkRecording(store: RunStore, run: string, events: AuditEvent[], add: Add): void {
  const rec = store.getRun(run);
  const seal = events.find((e) => e.type === 'recording-sealed');
  if (!seal) {
    if (rec && rec.status !== 'running' && rec.status !== 'interrupted') add('recording', 'the run ended but its recording was never sealed into the chain');
    return;
  }
  const file = rec?.castPath;
  if (!file) {
    add('recording', 'the run has no recording path', seal.n);
    return;
  }
  let digest: string;
  try {
    digest = sha256(fs.readFileSync(file));
  } catch (e) {
    add('recording', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, seal.n);
    return;
  }
  if (digest !== seal.data.castDigest) add('recording', `${file} has sha256 ${digest.slice(0, 12)}…, the chain sealed ${String(seal.data.castDigest).slice(0, 12)}…`, seal.n);
  // A runbook that spans hosts: every other role's recording, sealed after the run's own.
  const roles = Array.isArray(rec?.options.roles) ? (rec!.options.roles as Array<{ role?: unknown; castPath?: unknown }>) : [];
  for (const e of events.filter((x) => x.type === 'recording-sealed' && x !== seal)) {
    const role = roles.find((r) => r.role === e.data.role);
    if (typeof role?.castPath !== 'string') {
      add('recording', `the chain sealed a recording of role ${JSON.stringify(e.data.role ?? null)}, which the run record does not have`, e.n);
      continue;
    }
    try {
      const d = sha256(fs.readFileSync(role.castPath));
      if (d !== e.data.castDigest) add('recording', `${role.castPath} (role ${String(e.data.role)}) has sha256 ${d.slice(0, 12)}…, the chain sealed ${String(e.data.castDigest).slice(0, 12)}…`, e.n);
    } catch (err) {
      add('recording', `cannot read ${role.castPath} (role ${String(e.data.role)}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, e.n);
    }
  }
  const sealed = new Set(events.filter((x) => x.type === 'recording-sealed').map((x) => x.data.role));
  for (const r of roles.slice(1)) if (!sealed.has(r.role)) add('recording', `the recording of role ${String(r.role)} was never sealed into the chain`);
}
