// A class's rows in the run store's database (tables classes, class_seats, class_runs,
// class_messages: the migration in server/record/store.ts). A seat token is kept only as its
// sha256 (like tokens, server/record/users.ts): shown once, in the answer that created the class.
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { tokenDigest } from '../record/users.ts';

export interface ClassRecord {
  id: string;
  name: string;
  runbookId: string;
  target: string;
  training: boolean;
  timeLimitMinutes: number | null;
  stuckMinutes: number;
  trainer: string;
  createdAt: string;
  expiresAt: string | null;
  endedAt: string | null;
  endReason: 'ended' | 'expired' | null;
  /** The language its runs read the runbook in (a translation's code); null: the source's. */
  lang: string | null;
}

export interface SeatRecord {
  classId: string;
  trainee: string;
  position: number;
  /** The seat's current run (null before it first joined). */
  runId: string | null;
  joinedAt: string | null;
}

export interface MessageRecord {
  id: number;
  classId: string;
  by: string;
  text: string;
  at: string;
}

interface ClassRow {
  id: string;
  name: string;
  runbook_id: string;
  target: string;
  training: number;
  time_limit_minutes: number | null;
  stuck_minutes: number;
  trainer: string;
  created_at: string;
  expires_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  lang: string | null;
}

interface SeatRow {
  class_id: string;
  trainee: string;
  position: number;
  run_id: string | null;
  joined_at: string | null;
}

const toClass = (r: ClassRow): ClassRecord => ({
  id: r.id,
  name: r.name,
  runbookId: r.runbook_id,
  target: r.target,
  training: r.training === 1,
  timeLimitMinutes: r.time_limit_minutes,
  stuckMinutes: r.stuck_minutes,
  trainer: r.trainer,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  endedAt: r.ended_at,
  endReason: r.end_reason === 'ended' || r.end_reason === 'expired' ? r.end_reason : null,
  lang: r.lang,
});

const toSeat = (r: SeatRow): SeatRecord => ({ classId: r.class_id, trainee: r.trainee, position: r.position, runId: r.run_id, joinedAt: r.joined_at });

/** `cls_` + 12 hex digits: a class id (URL-safe, not guessable, unlike a counter). */
export function newClassId(): string {
  return `cls_${crypto.randomBytes(6).toString('hex')}`;
}

export const CLASS_ID_PATTERN = /^cls_[0-9a-f]{12}$/;

/** A seat token: `sws_` + 32 random bytes, base64url. Its digest is what the database keeps. */
export function newSeatToken(): string {
  return `sws_${crypto.randomBytes(32).toString('base64url')}`;
}

export class ClassRecords {
  constructor(private readonly db: Database.Database) {}

  create(c: Omit<ClassRecord, 'endedAt' | 'endReason'>, seats: Array<{ trainee: string; token: string }>): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO classes (id, name, runbook_id, target, training, time_limit_minutes, stuck_minutes, trainer, created_at, expires_at, lang)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(c.id, c.name, c.runbookId, c.target, c.training ? 1 : 0, c.timeLimitMinutes, c.stuckMinutes, c.trainer, c.createdAt, c.expiresAt, c.lang);
      const seat = this.db.prepare('INSERT INTO class_seats (class_id, trainee, position, digest) VALUES (?, ?, ?, ?)');
      seats.forEach((s, i) => seat.run(c.id, s.trainee, i + 1, tokenDigest(s.token)));
    })();
  }

  get(id: string): ClassRecord | undefined {
    const row = this.db.prepare('SELECT * FROM classes WHERE id = ?').get(id) as ClassRow | undefined;
    return row ? toClass(row) : undefined;
  }

  /** Newest first; only `trainer`'s when given. */
  list(trainer?: string): ClassRecord[] {
    const rows = trainer === undefined
      ? this.db.prepare('SELECT * FROM classes ORDER BY created_at DESC, id DESC').all()
      : this.db.prepare('SELECT * FROM classes WHERE trainer = ? ORDER BY created_at DESC, id DESC').all(trainer);
    return (rows as ClassRow[]).map(toClass);
  }

  /** Classes not ended yet (the server restarts their clocks). */
  open(): ClassRecord[] {
    return (this.db.prepare('SELECT * FROM classes WHERE ended_at IS NULL').all() as ClassRow[]).map(toClass);
  }

  end(id: string, reason: 'ended' | 'expired', at: string): boolean {
    return this.db.prepare('UPDATE classes SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id).changes > 0;
  }

  seats(classId: string): SeatRecord[] {
    return (this.db.prepare('SELECT class_id, trainee, position, run_id, joined_at FROM class_seats WHERE class_id = ? ORDER BY position').all(classId) as SeatRow[]).map(toSeat);
  }

  seat(classId: string, trainee: string): SeatRecord | undefined {
    const row = this.db.prepare('SELECT class_id, trainee, position, run_id, joined_at FROM class_seats WHERE class_id = ? AND trainee = ?').get(classId, trainee) as SeatRow | undefined;
    return row ? toSeat(row) : undefined;
  }

  /** The seat a token opens, compared by digest (an index lookup, then timingSafeEqual). */
  seatByToken(token: string): SeatRecord | undefined {
    const digest = tokenDigest(token);
    const row = this.db.prepare('SELECT class_id, trainee, position, run_id, joined_at, digest FROM class_seats WHERE digest = ?').get(digest) as (SeatRow & { digest: Buffer }) | undefined;
    if (!row || !Buffer.isBuffer(row.digest) || row.digest.length !== digest.length || !crypto.timingSafeEqual(row.digest, digest)) return undefined;
    return toSeat(row);
  }

  /** The seat's new current run, remembered with every run it has had. */
  setRun(classId: string, trainee: string, runId: string, at: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE class_seats SET run_id = ?, joined_at = COALESCE(joined_at, ?) WHERE class_id = ? AND trainee = ?').run(runId, at, classId, trainee);
      this.db.prepare('INSERT OR IGNORE INTO class_runs (class_id, trainee, run_id, started_at) VALUES (?, ?, ?, ?)').run(classId, trainee, runId, at);
    })();
  }

  /** Every run of the seat, oldest first. */
  seatRuns(classId: string, trainee: string): string[] {
    return (this.db.prepare('SELECT run_id FROM class_runs WHERE class_id = ? AND trainee = ? ORDER BY started_at, rowid').all(classId, trainee) as Array<{ run_id: string }>).map((r) => r.run_id);
  }

  /** The class and seat a run belongs to, if it is a class run. */
  runSeat(runId: string): { classId: string; trainee: string } | undefined {
    const row = this.db.prepare('SELECT class_id, trainee FROM class_runs WHERE run_id = ?').get(runId) as { class_id: string; trainee: string } | undefined;
    return row ? { classId: row.class_id, trainee: row.trainee } : undefined;
  }

  addMessage(classId: string, by: string, text: string, at: string): MessageRecord {
    const r = this.db.prepare('INSERT INTO class_messages (class_id, by, text, at) VALUES (?, ?, ?, ?)').run(classId, by, text, at);
    return { id: Number(r.lastInsertRowid), classId, by, text, at };
  }

  messages(classId: string): MessageRecord[] {
    return (this.db.prepare('SELECT id, class_id, by, text, at FROM class_messages WHERE class_id = ? ORDER BY id').all(classId) as Array<{ id: number; class_id: string; by: string; text: string; at: string }>).map((r) => ({ id: r.id, classId: r.class_id, by: r.by, text: r.text, at: r.at }));
  }
}
