// Durable records of runs: one SQLite file (`<dataDir>/stepwise.db`, WAL, synchronous=NORMAL,
// foreign keys on). All methods are synchronous; statements are prepared once and cached.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AuditEvent, AuditType } from './chain.ts';
import type { BlockEnd, BlockResult, BlockStatus, StepStatus } from '../../common/result.ts';
import { newRunId } from './ids.ts';

// expired: a class's time limit ran out while the run was live (server/class/).
export type RunStatus = 'running' | 'passed' | 'failed' | 'interrupted' | 'ended' | 'expired';
/** Kinds of block that run and leave a result (display blocks never run). */
export type ResultKind = 'command' | 'check' | 'file';

export interface RunRecord {
  id: string;
  runbookId: string | null;
  runbookFile: string | null;
  contentHash: string | null;
  runbookTitle: string | null;
  target: string;
  user: string;
  /** Variable values; secrets already masked by the caller. */
  vars: Record<string, string>;
  options: Record<string, unknown>;
  status: RunStatus;
  /** ISO 8601 (UTC). */
  startedAt: string;
  endedAt: string | null;
  castPath: string | null;
  parentRunId: string | null;
}

export interface NewRun {
  /** Defaults to newRunId(). */
  id?: string;
  runbookId?: string | null;
  runbookFile?: string | null;
  contentHash?: string | null;
  runbookTitle?: string | null;
  target: string;
  user: string;
  /** Secrets must already be masked. */
  vars?: Record<string, string>;
  options?: Record<string, unknown>;
  /** Defaults to now. */
  startedAt?: string;
  castPath?: string | null;
  parentRunId?: string | null;
  /** The process running it (server/owner.ts). */
  owner?: string | null;
}

export interface StoredBlockResult extends BlockResult {
  runId: string;
  /** Order of execution within the run, from 1. */
  seq: number;
  stepId: string;
  kind: ResultKind;
  /** ISO 8601 (UTC). */
  startedAt: string;
  /** In a runbook that spans hosts: the block's role and the host it ran on. */
  role?: string;
  host?: string;
}

export interface StoredStepVerdict {
  stepId: string;
  status: StepStatus;
  reason?: string;
  decidedAt: string;
}

export interface RunFilter {
  runbookId?: string;
  status?: RunStatus;
  /** Runs started by this user (exact match). */
  user?: string;
  /** Runs on this target id (exact match). */
  target?: string;
  /** Runs started at or after this instant (ISO 8601; compared in UTC). */
  since?: string;
  /** Runs started before this instant (ISO 8601, exclusive; compared in UTC). */
  until?: string;
  /** Default: no limit. */
  limit?: number;
}

interface RunRow {
  id: string;
  runbook_id: string | null;
  runbook_file: string | null;
  content_hash: string | null;
  runbook_title: string | null;
  target: string;
  user: string;
  vars_json: string;
  options_json: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  cast_path: string | null;
  parent_run_id: string | null;
}

interface BlockRow {
  run_id: string;
  seq: number;
  step_id: string;
  block_id: string;
  kind: string;
  status: string;
  exit_code: number | null;
  end_reason: string;
  reason: string | null;
  output: string;
  output_digest: string | null;
  duration_ms: number;
  cast_time: number | null;
  attempt: number | null;
  started_at: string;
  role?: string | null;
  host?: string | null;
}

interface VerdictRow {
  step_id: string;
  status: string;
  reason: string | null;
  decided_at: string;
}

/** Migrations in order; PRAGMA user_version is the number applied. Never edit a shipped one. */
const MIGRATIONS: Array<string | ((db: Database.Database) => void)> = [
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    runbook_id TEXT NULL,
    runbook_file TEXT NULL,
    content_hash TEXT NULL,
    runbook_title TEXT NULL,
    target TEXT NOT NULL,
    user TEXT NOT NULL,
    vars_json TEXT NOT NULL DEFAULT '{}',
    options_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('running','passed','failed','interrupted','ended')),
    started_at TEXT NOT NULL,
    ended_at TEXT NULL,
    cast_path TEXT NULL,
    parent_run_id TEXT NULL REFERENCES runs(id) ON DELETE SET NULL
  );
  CREATE INDEX runs_started ON runs(started_at DESC, id DESC);
  CREATE INDEX runs_runbook ON runs(runbook_id, started_at DESC);
  CREATE INDEX runs_status ON runs(status);

  CREATE TABLE block_results (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    block_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('command','check','file')),
    status TEXT NOT NULL,
    exit_code INTEGER NULL,
    end_reason TEXT NOT NULL,
    reason TEXT NULL,
    output TEXT NOT NULL,
    output_digest TEXT NULL,
    duration_ms INTEGER NOT NULL,
    cast_time REAL NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  );
  CREATE INDEX block_results_block ON block_results(run_id, block_id, seq);

  CREATE TABLE step_verdicts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
  );
  `,
  `
  CREATE TABLE audit_events (
    run_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    data_json TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run_id, n)
  );
  ALTER TABLE runs ADD COLUMN state_json TEXT NULL;
  ALTER TABLE block_results ADD COLUMN attempt INTEGER NULL;
  `,
  // Users and their API tokens (server/record/users.ts): only a sha256 of each token is kept.
  `
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
  );
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL CHECK (role IN ('viewer','operator','admin')),
    digest BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
  );
  CREATE INDEX tokens_user ON tokens(user);
  `,
  // The process that runs a run (see server/owner.ts): a dead owner's running runs are interrupted.
  `ALTER TABLE runs ADD COLUMN owner TEXT NULL;`,
  // The approver role (a CHECK cannot be altered: the tokens table is rebuilt), and four-eyes
  // approvals (server/run/approvals.ts): a request per wait before a block, a decision per approver.
  `
  CREATE TABLE tokens_v2 (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL CHECK (role IN ('viewer','approver','operator','admin')),
    digest BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
  );
  INSERT INTO tokens_v2 (id, user, role, digest, created_at, last_used_at, revoked_at)
    SELECT id, user, role, digest, created_at, last_used_at, revoked_at FROM tokens;
  DROP TABLE tokens;
  ALTER TABLE tokens_v2 RENAME TO tokens;
  CREATE INDEX tokens_user ON tokens(user);
  CREATE TABLE approval_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    block_id TEXT NOT NULL,
    need INTEGER NOT NULL,
    operator TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at TEXT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','expired','cancelled')),
    decided_at TEXT NULL
  );
  CREATE INDEX approval_requests_pending ON approval_requests(state, run_id);
  CREATE TABLE approval_decisions (
    request_id INTEGER NOT NULL REFERENCES approval_requests(id),
    user TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve','reject')),
    comment TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request_id, user)
  );
  `,
  // Fleet runs (server/run/fleet.ts, server/record/fleets.ts): a fleet, its hosts (each with the
  // id of its run reserved up front, so every host has one before it starts), and on each run
  // the fleet it belongs to.
  `
  CREATE TABLE fleets (
    id TEXT PRIMARY KEY,
    runbook_id TEXT NOT NULL,
    target TEXT NOT NULL,
    user TEXT NOT NULL,
    parallel INTEGER NOT NULL,
    max_fail TEXT NOT NULL,
    batches TEXT NULL,
    options_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('running','passed','failed','interrupted')),
    reason TEXT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NULL,
    parent_fleet_id TEXT NULL,
    owner TEXT NULL
  );
  CREATE INDEX fleets_started ON fleets(started_at DESC, id DESC);
  CREATE TABLE fleet_hosts (
    fleet_id TEXT NOT NULL REFERENCES fleets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    host TEXT NOT NULL,
    batch INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    resume_of TEXT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','running','passed','failed','skipped','interrupted')),
    reason TEXT NULL,
    PRIMARY KEY (fleet_id, host)
  );
  ALTER TABLE runs ADD COLUMN fleet_id TEXT NULL;
  CREATE INDEX runs_fleet ON runs(fleet_id);
  `,
  // Classrooms (server/class/): the trainer role (the tokens table is rebuilt for its CHECK),
  // classes, their seats (a seat token is kept as its sha256 only, like tokens), every run a
  // seat has had (a rejoin after the session ended resumes into a new run) and the class's messages.
  `
  CREATE TABLE tokens_v3 (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL CHECK (role IN ('viewer','approver','operator','trainer','admin')),
    digest BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
  );
  INSERT INTO tokens_v3 (id, user, role, digest, created_at, last_used_at, revoked_at)
    SELECT id, user, role, digest, created_at, last_used_at, revoked_at FROM tokens;
  DROP TABLE tokens;
  ALTER TABLE tokens_v3 RENAME TO tokens;
  CREATE INDEX tokens_user ON tokens(user);
  CREATE TABLE classes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    runbook_id TEXT NOT NULL,
    target TEXT NOT NULL,
    training INTEGER NOT NULL,
    time_limit_minutes INTEGER NULL,
    stuck_minutes INTEGER NOT NULL,
    trainer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NULL,
    ended_at TEXT NULL,
    end_reason TEXT NULL CHECK (end_reason IS NULL OR end_reason IN ('ended','expired'))
  );
  CREATE INDEX classes_trainer ON classes(trainer, created_at);
  CREATE TABLE class_seats (
    class_id TEXT NOT NULL REFERENCES classes(id),
    trainee TEXT NOT NULL,
    position INTEGER NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    run_id TEXT NULL,
    joined_at TEXT NULL,
    PRIMARY KEY (class_id, trainee)
  );
  CREATE TABLE class_runs (
    class_id TEXT NOT NULL,
    trainee TEXT NOT NULL,
    run_id TEXT NOT NULL PRIMARY KEY,
    started_at TEXT NOT NULL,
    FOREIGN KEY (class_id, trainee) REFERENCES class_seats(class_id, trainee)
  );
  CREATE INDEX class_runs_seat ON class_runs(class_id, trainee, started_at);
  CREATE TABLE class_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    class_id TEXT NOT NULL REFERENCES classes(id),
    by TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL
  );
  `,
  // Runbooks that span hosts (server/run/role-shells.ts): each block result's role and the host it ran on.
  `
  ALTER TABLE block_results ADD COLUMN role TEXT NULL;
  ALTER TABLE block_results ADD COLUMN host TEXT NULL;
  `,
  // The run status `expired` (a class's time limit ran out, server/class/). The runs table's
  // CHECK only widens, so its definition is edited in place (SQLite's documented way for CHECK
  // changes that leave stored rows valid): rebuilding the table would cascade-delete every
  // block result and verdict that references it.
  (db) => {
    db.unsafeMode(true); // better-sqlite3's defensive mode forbids writable_schema otherwise
    try {
      const version = db.pragma('schema_version', { simple: true }) as number;
      db.pragma('writable_schema = ON');
      db.prepare("UPDATE sqlite_master SET sql = replace(sql, '''interrupted'',''ended'')', '''interrupted'',''ended'',''expired'')') WHERE type = 'table' AND name = 'runs'").run();
      db.pragma(`schema_version = ${version + 1}`);
      db.pragma('writable_schema = OFF');
    } finally {
      db.unsafeMode(false);
    }
  },
  // The language a class's runs read their runbook in (a translation's code; null: the source's).
  `ALTER TABLE classes ADD COLUMN lang TEXT NULL;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

function nowIso(): string {
  return new Date().toISOString();
}

/** An ISO 8601 date or date-time as Date#toISOString() gives it; throws RangeError when it is not one. */
function isoInstant(value: string, what: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new RangeError(`${what} is not an ISO 8601 date or time: ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

function parseJsonObject<T>(text: string): T {
  try {
    const v = JSON.parse(text) as unknown;
    return (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as T;
  } catch {
    return {} as T;
  }
}

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    runbookId: row.runbook_id,
    runbookFile: row.runbook_file,
    contentHash: row.content_hash,
    runbookTitle: row.runbook_title,
    target: row.target,
    user: row.user,
    vars: parseJsonObject<Record<string, string>>(row.vars_json),
    options: parseJsonObject<Record<string, unknown>>(row.options_json),
    status: row.status as RunStatus,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    castPath: row.cast_path,
    parentRunId: row.parent_run_id,
  };
}

function toBlock(row: BlockRow): StoredBlockResult {
  const r: StoredBlockResult = {
    runId: row.run_id,
    seq: row.seq,
    stepId: row.step_id,
    kind: row.kind as ResultKind,
    startedAt: row.started_at,
    id: row.block_id,
    status: row.status as BlockStatus,
    exitCode: row.exit_code,
    output: row.output,
    durationMs: row.duration_ms,
    end: row.end_reason as BlockEnd,
  };
  if (row.reason !== null) r.reason = row.reason;
  if (row.output_digest !== null) r.outputDigest = row.output_digest;
  if (row.cast_time !== null) r.castTime = row.cast_time;
  if (row.attempt !== null) r.attempt = row.attempt;
  if (row.role != null) r.role = row.role;
  if (row.host != null) r.host = row.host;
  return r;
}

function toVerdict(row: VerdictRow): StoredStepVerdict {
  const v: StoredStepVerdict = { stepId: row.step_id, status: row.status as StepStatus, decidedAt: row.decided_at };
  if (row.reason !== null) v.reason = row.reason;
  return v;
}

/** Takes group and world access away from `p` (to `mode`), saying so when it had any. */
function keepPrivate(p: string, mode: number, warn: (message: string) => void): void {
  const was = fs.statSync(p).mode & 0o777;
  if ((was & 0o077) === 0) return;
  const octal = (m: number) => '0' + m.toString(8);
  try {
    fs.chmodSync(p, mode);
    warn(`${p} was readable by others (mode ${octal(was)}): now ${octal(mode)}`);
  } catch (e) {
    warn(`${p} is readable by others (mode ${octal(was)}) and cannot be changed: ${(e as Error).message}`);
  }
}

export class RunStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly cache = new Map<string, Database.Statement>();
  private readonly insertBlock: (runId: string, row: Omit<BlockRow, 'run_id' | 'seq'>) => number;

  private constructor(dbPath: string, db: Database.Database) {
    this.path = dbPath;
    this.db = db;
    this.insertBlock = db.transaction((runId: string, row: Omit<BlockRow, 'run_id' | 'seq'>): number => {
      const next = this.stmt('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM block_results WHERE run_id = ?').get(runId) as {
        seq: number;
      };
      this.stmt(
        `INSERT INTO block_results (run_id, seq, step_id, block_id, kind, status, exit_code, end_reason, reason,
           output, output_digest, duration_ms, cast_time, started_at, attempt, role, host)
         VALUES (@run_id, @seq, @step_id, @block_id, @kind, @status, @exit_code, @end_reason, @reason,
           @output, @output_digest, @duration_ms, @cast_time, @started_at, @attempt, @role, @host)`,
      ).run({ role: null, host: null, ...row, run_id: runId, seq: next.seq });
      return next.seq;
    });
  }

  /** Open (creating if needed) `<dataDir>/stepwise.db` and bring its schema up to date. */
  /**
   * Opens (creating if needed) the store in `dataDir`. The folder is kept 0700 and the
   * database 0600 (SQLite gives its -wal and -shm files the database's mode): recordings and
   * run records are for the Stepwise user only. A looser existing one is tightened, and `warn` told.
   */
  static open(dataDir: string, warn: (message: string) => void = () => {}): RunStore {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    keepPrivate(dataDir, 0o700, warn);
    const dbPath = path.join(dataDir, 'stepwise.db');
    fs.closeSync(fs.openSync(dbPath, 'a', 0o600));
    keepPrivate(dbPath, 0o600, warn);
    const db = new Database(dbPath);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new RunStore(dbPath, db);
  }

  close(): void {
    this.cache.clear();
    if (this.db.open) this.db.close();
  }

  /** The open connection, for record modules that keep their own tables here (users.ts). */
  get database(): Database.Database {
    return this.db;
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  // --- runs ---

  createRun(r: NewRun): RunRecord {
    const rec: RunRecord = {
      id: r.id ?? newRunId(),
      runbookId: r.runbookId ?? null,
      runbookFile: r.runbookFile ?? null,
      contentHash: r.contentHash ?? null,
      runbookTitle: r.runbookTitle ?? null,
      target: r.target,
      user: r.user,
      vars: { ...(r.vars ?? {}) },
      options: { ...(r.options ?? {}) },
      status: 'running',
      startedAt: r.startedAt ?? nowIso(),
      endedAt: null,
      castPath: r.castPath ?? null,
      parentRunId: r.parentRunId ?? null,
    };
    this.stmt(
      `INSERT INTO runs (id, runbook_id, runbook_file, content_hash, runbook_title, target, user, vars_json,
         options_json, status, started_at, ended_at, cast_path, parent_run_id, owner)
       VALUES (@id, @runbook_id, @runbook_file, @content_hash, @runbook_title, @target, @user, @vars_json,
         @options_json, @status, @started_at, NULL, @cast_path, @parent_run_id, @owner)`,
    ).run({
      id: rec.id,
      runbook_id: rec.runbookId,
      runbook_file: rec.runbookFile,
      content_hash: rec.contentHash,
      runbook_title: rec.runbookTitle,
      target: rec.target,
      user: rec.user,
      vars_json: JSON.stringify(rec.vars),
      options_json: JSON.stringify(rec.options),
      status: rec.status,
      started_at: rec.startedAt,
      cast_path: rec.castPath,
      parent_run_id: rec.parentRunId,
      owner: r.owner ?? null,
    });
    return rec;
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.stmt('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Newest first. */
  listRuns(filter: RunFilter = {}): RunRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.runbookId !== undefined) {
      where.push('runbook_id = @runbookId');
      params.runbookId = filter.runbookId;
    }
    if (filter.status !== undefined) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.user !== undefined) {
      where.push('user = @user');
      params.user = filter.user;
    }
    if (filter.target !== undefined) {
      where.push('target = @target');
      params.target = filter.target;
    }
    // started_at is stored as Date#toISOString(), so normalised instants compare as strings.
    if (filter.since !== undefined) {
      where.push('started_at >= @since');
      params.since = isoInstant(filter.since, 'since');
    }
    if (filter.until !== undefined) {
      where.push('started_at < @until');
      params.until = isoInstant(filter.until, 'until');
    }
    params.limit = filter.limit !== undefined && filter.limit >= 0 ? Math.trunc(filter.limit) : -1;
    const sql =
      'SELECT * FROM runs' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY started_at DESC, id DESC LIMIT @limit';
    return (this.stmt(sql).all(params) as RunRow[]).map(toRun);
  }

  /** Set a run's final status and end time. Returns false if there is no such run. */
  finishRun(id: string, status: RunStatus, endedAt: string = nowIso()): boolean {
    return this.stmt('UPDATE runs SET status = ?, ended_at = ? WHERE id = ?').run(status, endedAt, id).changes > 0;
  }

  setCastPath(id: string, castPath: string | null): boolean {
    return this.stmt('UPDATE runs SET cast_path = ? WHERE id = ?').run(castPath, id).changes > 0;
  }

  /** A running run becomes interrupted; false when it is no longer running (someone else ended it). */
  interruptRun(id: string, endedAt: string = nowIso()): boolean {
    return this.stmt("UPDATE runs SET status = 'interrupted', ended_at = ? WHERE id = ? AND status = 'running'").run(endedAt, id).changes > 0;
  }

  /** Runs still `running`, with the process that owns each (null: recorded before owners were). */
  runningRuns(): Array<{ id: string; owner: string | null }> {
    return this.stmt("SELECT id, owner FROM runs WHERE status = 'running'").all() as Array<{ id: string; owner: string | null }>;
  }

  // --- block results ---

  /**
   * Append a block's result to the run; returns its seq (1, 2, ... in execution order).
   * startedAt defaults to now minus the block's duration.
   */
  addBlockResult(runId: string, stepId: string, kind: ResultKind, result: BlockResult, startedAt?: string, place?: { role: string; host: string }): number {
    return this.insertBlock(runId, {
      step_id: stepId,
      block_id: result.id,
      kind,
      status: result.status,
      exit_code: result.exitCode,
      end_reason: result.end,
      reason: result.reason ?? null,
      output: result.output,
      output_digest: result.outputDigest ?? null,
      duration_ms: Math.round(result.durationMs),
      cast_time: result.castTime ?? null,
      attempt: result.attempt ?? null,
      started_at: startedAt ?? new Date(Date.now() - Math.max(0, result.durationMs)).toISOString(),
      role: place?.role ?? null,
      host: place?.host ?? null,
    });
  }

  /** All results of a run in execution order. */
  blockResults(runId: string): StoredBlockResult[] {
    return (this.stmt('SELECT * FROM block_results WHERE run_id = ? ORDER BY seq').all(runId) as BlockRow[]).map(toBlock);
  }

  /** The most recent result of each block of a run (re-runs replace earlier attempts). */
  latestBlockResults(runId: string): Map<string, StoredBlockResult> {
    const rows = this.stmt(
      `SELECT b.* FROM block_results b
       JOIN (SELECT block_id, MAX(seq) AS seq FROM block_results WHERE run_id = @runId GROUP BY block_id) m
         ON b.block_id = m.block_id AND b.seq = m.seq
       WHERE b.run_id = @runId
       ORDER BY b.seq`,
    ).all({ runId }) as BlockRow[];
    const map = new Map<string, StoredBlockResult>();
    for (const row of rows) map.set(row.block_id, toBlock(row));
    return map;
  }

  /** Steps with at least one block result in a run; reads no outputs (RunHistory walks chains with it). */
  startedSteps(runId: string): Set<string> {
    const rows = this.stmt('SELECT DISTINCT step_id FROM block_results WHERE run_id = ?').all(runId) as Array<{ step_id: string }>;
    return new Set(rows.map((r) => r.step_id));
  }

  // --- step verdicts ---

  /** Record a step's verdict; a later verdict for the same step replaces it. */
  setStepVerdict(
    runId: string,
    verdict: { stepId: string; status: StepStatus; reason?: string },
    decidedAt: string = nowIso(),
  ): void {
    this.stmt(
      `INSERT INTO step_verdicts (run_id, step_id, status, reason, decided_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, step_id) DO UPDATE SET
         status = excluded.status, reason = excluded.reason, decided_at = excluded.decided_at`,
    ).run(runId, verdict.stepId, verdict.status, verdict.reason ?? null, decidedAt);
  }

  /** Verdicts of a run, in the order steps were first decided. */
  stepVerdicts(runId: string): StoredStepVerdict[] {
    return (this.stmt('SELECT step_id, status, reason, decided_at FROM step_verdicts WHERE run_id = ? ORDER BY rowid').all(
      runId,
    ) as VerdictRow[]).map(toVerdict);
  }

  // --- shell state a resumed run restores (secrets masked by the caller) ---

  setRunState(runId: string, state: unknown): void {
    this.stmt('UPDATE runs SET state_json = ? WHERE id = ?').run(JSON.stringify(state), runId);
  }

  runState<T>(runId: string): T | undefined {
    const row = this.stmt('SELECT state_json FROM runs WHERE id = ?').get(runId) as { state_json: string | null } | undefined;
    return row?.state_json ? (JSON.parse(row.state_json) as T) : undefined;
  }

  // --- audit chain (see chain.ts; rows are only ever inserted) ---

  appendAuditEvent(e: AuditEvent): void {
    this.stmt('INSERT INTO audit_events (run_id, n, ts, type, data_json, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      e.run, e.n, e.ts, e.type, JSON.stringify(e.data), e.prev, e.hash,
    );
  }

  /** A run's events in stored (rowid) order, so a reordering shows up as a broken link. */
  auditEvents(runId: string): AuditEvent[] {
    const rows = this.stmt('SELECT run_id, n, ts, type, data_json, prev, hash FROM audit_events WHERE run_id = ? ORDER BY rowid').all(runId) as Array<{
      run_id: string; n: number; ts: string; type: string; data_json: string; prev: string; hash: string;
    }>;
    return rows.map((r) => ({ run: r.run_id, n: r.n, ts: r.ts, type: r.type as AuditType, data: parseJsonObject<Record<string, unknown>>(r.data_json), prev: r.prev, hash: r.hash }));
  }

  /** Every run id that has records or audit events. */
  auditedRunIds(): string[] {
    return (this.stmt('SELECT id FROM runs UNION SELECT DISTINCT run_id FROM audit_events ORDER BY 1').all() as Array<{ id: string }>).map((r) => r.id);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`stepwise.db schema version ${current} is newer than this Stepwise (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      const m = MIGRATIONS[v]!;
      if (typeof m === 'string') db.exec(m);
      else m(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
