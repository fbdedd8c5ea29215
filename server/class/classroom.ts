// The classroom: classes of trainees, each seat with its own run (and, with target lab, its
// own lab host), the lab queue, the time limit, hints and solutions, the trainer's take-over
// and messages, progress, and a change feed for the trainer's live matrix. The HTTP face is
// server/http/classes-api.ts (and join.ts); the rules it applies are the pure modules beside it.
import type { Disposable } from '../../common/disposable.ts';
import type { Outcome } from '../../common/outcome.ts';
import type { ServerMessage } from '../../common/protocol.ts';
import type { AuditLog } from '../record/audit.ts';
import type { RunStore } from '../record/store.ts';
import { roleAtLeast, type Principal } from '../record/users.ts';
import type { Catalog } from '../runbook/catalog.ts';
import type { Runbook, Step } from '../runbook/model.ts';
import type { Run } from '../run/run.ts';
import { LAB_TARGET, type Runs } from '../run/runs.ts';
import type { Logger } from '../log.ts';
import { failure } from '../errors.ts';
import { ClassRecords, CLASS_ID_PATTERN, newClassId, newSeatToken, type ClassRecord, type MessageRecord, type SeatRecord } from './records.ts';
import { computeProgress, DEFAULT_STUCK_MINUTES, FAILS_FOR_SOLUTION, type ProgressEvent, type TraineeProgress } from './progress.ts';
import { hintState, type HintState } from './hints.ts';
import { classReportCsv, classReportMarkdown, type ClassReportInput } from './report.ts';
import type { SeatScope } from './seat-access.ts';
import type { Inventory } from '../target/inventory.ts';
import { isFleetSelector, selectTargets } from '../target/selector.ts';

/** Trainee names: what a URL segment, a user name and a report cell carry without quoting. */
export const TRAINEE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
// A class is a room of people: beyond this the trainer's matrix stops being readable, and the
// server's run limit (64 by default) is the real bound anyway.
export const MAX_SEATS = 100;
// A week: a class is a session, not a standing service (and setTimeout holds up to 24.8 days).
export const MAX_TIME_LIMIT_MINUTES = 7 * 24 * 60;
export const MAX_STUCK_MINUTES = 24 * 60;
// A message is a line or two from the trainer to the room.
export const MAX_MESSAGE_CHARS = 1000;
const MAX_NAME_CHARS = 100;
// The lab queue's head tries for a lab this often while trainees wait (a lab freed by a run's
// end is also noticed at once, on that run's exit).
const QUEUE_POLL_MS = 2_000;
/** The prefix of a seat principal's tokenId (sessions and websockets watch it like a token's). */
export const SEAT_TOKEN_PREFIX = 'seat:';

/** What changed in a class (the trainer's matrix re-reads the class's progress on any of them). */
export type ClassChange =
  | { type: 'trainee'; classId: string; trainee: string }
  | { type: 'control'; classId: string; trainee: string; takenOverBy: string | null }
  | { type: 'message'; classId: string; message: MessageRecord }
  | { type: 'queue'; classId: string }
  | { type: 'ended'; classId: string; reason: 'ended' | 'expired' };

export interface CreateClass {
  name: string;
  runbook: string;
  seats?: number;
  trainees?: string[];
  target: string;
  training: boolean;
  timeLimitMinutes?: number;
  stuckMinutes?: number;
  /** Read the runbook in this translation (`ko`); default the source's language. */
  lang?: string;
}

export interface SeatView {
  trainee: string;
  runId: string | null;
  joinedAt: string | null;
  live: boolean;
  /** Position in the lab queue (from 1) while waiting for a lab; null otherwise. */
  queued: number | null;
  takenOverBy: string | null;
}

export type ClassStatus = 'open' | 'ended' | 'expired';

export interface ClassView {
  id: string;
  name: string;
  runbook: string;
  target: string;
  training: boolean;
  timeLimitMinutes: number | null;
  stuckMinutes: number;
  lang: string | null;
  trainer: string;
  createdAt: string;
  expiresAt: string | null;
  endedAt: string | null;
  status: ClassStatus;
  seats: SeatView[];
}

export interface TraineeProgressView {
  trainee: string;
  runId: string | null;
  current: string | null;
  lastActivity: string | null;
  stuck: boolean;
  stuckReason: 'idle' | 'failing' | null;
  completion: number;
  queued: number | null;
  takenOverBy: string | null;
  steps: Array<{ id: string; status: string; attempts: number; hintsUsed: number; solutionRevealed: boolean; secondsOnStep: number }>;
}

export interface ClassProgress {
  classId: string;
  status: ClassStatus;
  steps: Array<{ id: string; title: string }>;
  trainees: TraineeProgressView[];
}

export type JoinResult = { runId: string; terminal: string; resumedFrom?: string } | { queued: number };

export interface ClassroomDeps {
  store: RunStore;
  runs: Runs;
  audit: AuditLog;
  catalog: () => Catalog;
  log: Logger;
  /** The target ids a class may name (the server's offer). */
  targetIds: () => readonly string[];
  /** The server's inventory: a class on `@group` (or `label=…`, a list) spreads its seats over those hosts. */
  inventory?: () => Inventory | undefined;
  now?: () => number;
}

const seatKey = (classId: string, trainee: string) => `${classId}/${trainee}`;

/** A class over a group: seat 1 on its first host, seat 2 on the second, … round the group again. */
export function seatHost(hosts: readonly string[], position: number): string {
  return hosts[(position - 1) % hosts.length]!;
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const wholeIn = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

export class Classroom implements Disposable {
  readonly records: ClassRecords;
  private readonly now: () => number;
  private readonly feeds = new Map<string, Set<(c: ClassChange) => void>>();
  private readonly runFeeds = new Map<string, Set<(m: ServerMessage) => void>>();
  /** Who has taken over a run's keyboard (a trainer's user), by run id. */
  private readonly control = new Map<string, string>();
  /** Seats waiting for a lab, first come first served (all classes: labs are the server's). */
  private readonly labQueue: string[] = [];
  private readonly joining = new Map<string, Promise<Outcome<JoinResult>>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly wired = new Map<string, Disposable[]>();
  private queueTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly d: ClassroomDeps) {
    this.records = new ClassRecords(d.store.database);
    this.now = d.now ?? Date.now;
    // Open classes of an earlier life of the server: their clocks run on (or ran out meanwhile).
    for (const c of this.records.open()) this.armClock(c);
  }

  // ---- classes ----

  /** Validates a POST /api/classes body. */
  parseCreate(body: unknown): Outcome<CreateClass> {
    const bad = (m: string, field: string): Outcome<CreateClass> => ({ ok: false, error: failure('BAD_REQUEST', m, field) });
    if (!isObj(body)) return { ok: false, error: failure('BAD_REQUEST', 'body must be a JSON object') };
    const b = body;
    if (typeof b.name !== 'string' || !b.name.trim() || b.name.length > MAX_NAME_CHARS) return bad(`name must be 1–${MAX_NAME_CHARS} characters`, 'name');
    if (typeof b.runbook !== 'string' || !b.runbook) return bad('runbook must be a runbook id', 'runbook');
    if ((b.seats === undefined) === (b.trainees === undefined)) return bad('give either seats (a count) or trainees (names), not both', 'seats');
    if (b.seats !== undefined && !wholeIn(b.seats, 1, MAX_SEATS)) return bad(`seats must be a whole number from 1 to ${MAX_SEATS}`, 'seats');
    if (b.trainees !== undefined) {
      if (!Array.isArray(b.trainees) || b.trainees.length < 1 || b.trainees.length > MAX_SEATS) return bad(`trainees must be a list of 1 to ${MAX_SEATS} names`, 'trainees');
      const seen = new Set<string>();
      for (const [i, t] of b.trainees.entries()) {
        if (typeof t !== 'string' || !TRAINEE_PATTERN.test(t)) return bad(`trainees[${i}] must be 1–32 letters, digits or . _ - (starting with a letter or digit)`, 'trainees');
        if (seen.has(t)) return bad(`trainees[${i}]: ${t} is named twice`, 'trainees');
        seen.add(t);
      }
    }
    const target = b.target ?? 'local';
    if (typeof target !== 'string') return bad('target must be "lab", "local" or a host', 'target');
    if (isFleetSelector(target)) {
      const hosts = this.hostsOf(target);
      if (!hosts.ok) return hosts;
    } else if (!this.d.targetIds().includes(target)) {
      return { ok: false, error: failure('UNKNOWN_TARGET', `no target ${JSON.stringify(target)}; known: ${this.d.targetIds().join(', ')}`, 'target') };
    }
    if (b.training !== undefined && typeof b.training !== 'boolean') return bad('training must be true or false', 'training');
    if (b.timeLimitMinutes !== undefined && b.timeLimitMinutes !== null && !wholeIn(b.timeLimitMinutes, 1, MAX_TIME_LIMIT_MINUTES)) {
      return bad(`timeLimitMinutes must be a whole number from 1 to ${MAX_TIME_LIMIT_MINUTES}`, 'timeLimitMinutes');
    }
    if (b.stuckMinutes !== undefined && !wholeIn(b.stuckMinutes, 1, MAX_STUCK_MINUTES)) return bad(`stuckMinutes must be a whole number from 1 to ${MAX_STUCK_MINUTES}`, 'stuckMinutes');
    const entry = this.d.catalog().get(b.runbook);
    if (!entry) return { ok: false, error: failure('UNKNOWN_RUNBOOK', `no runbook with id ${JSON.stringify(b.runbook)}`, 'runbook') };
    if (!entry.ok || !entry.runbook) return { ok: false, error: failure('BROKEN_RUNBOOK', `runbook ${entry.id} has errors and cannot run`, 'runbook') };
    if (b.lang !== undefined && (typeof b.lang !== 'string' || !entry.translations.some((t) => t.lang === b.lang && t.ok))) {
      const langs = entry.translations.filter((t) => t.ok).map((t) => t.lang);
      return bad(`lang must be the code of a translation of ${entry.id}${langs.length ? ` (${langs.join(', ')})` : ' (it has none)'}`, 'lang');
    }
    return {
      ok: true,
      value: {
        name: b.name.trim(),
        runbook: entry.id,
        ...(b.seats !== undefined ? { seats: b.seats as number } : {}),
        ...(b.trainees !== undefined ? { trainees: b.trainees as string[] } : {}),
        target,
        training: b.training !== false,
        ...(typeof b.timeLimitMinutes === 'number' ? { timeLimitMinutes: b.timeLimitMinutes } : {}),
        ...(b.stuckMinutes !== undefined ? { stuckMinutes: b.stuckMinutes as number } : {}),
        ...(typeof b.lang === 'string' ? { lang: b.lang } : {}),
      },
    };
  }

  /** A new class with its seats; each seat's token is in the answer and nowhere else. */
  create(c: CreateClass, by: Principal): Outcome<{ id: string; seats: Array<{ trainee: string; token: string }> }> {
    if (!this.isTrainer(by)) return { ok: false, error: failure('FORBIDDEN', `creating a class needs the trainer or admin role (you are ${by.role})`) };
    const names = c.trainees ?? Array.from({ length: c.seats ?? 0 }, (_, i) => `trainee-${i + 1}`);
    const seats = names.map((trainee) => ({ trainee, token: newSeatToken() }));
    const at = new Date(this.now());
    const rec: Omit<ClassRecord, 'endedAt' | 'endReason'> = {
      lang: c.lang ?? null,
      id: newClassId(),
      name: c.name,
      runbookId: c.runbook,
      target: c.target,
      training: c.training,
      timeLimitMinutes: c.timeLimitMinutes ?? null,
      stuckMinutes: c.stuckMinutes ?? DEFAULT_STUCK_MINUTES,
      trainer: by.user,
      createdAt: at.toISOString(),
      expiresAt: c.timeLimitMinutes ? new Date(at.getTime() + c.timeLimitMinutes * 60_000).toISOString() : null,
    };
    this.records.create(rec, seats);
    this.armClock({ ...rec, endedAt: null, endReason: null });
    this.d.log.info('class created', { classId: rec.id, trainer: by.user, runbook: c.runbook, seats: seats.length, target: c.target });
    return { ok: true, value: { id: rec.id, seats } };
  }

  /** The hosts a class's `@group` (or `label=…`, a list) names now, each one the server offers. */
  private hostsOf(selector: string): Outcome<string[]> {
    const sel = selectTargets(selector, this.d.inventory?.());
    if (!sel.ok) return sel;
    const hosts = sel.value.fleet ? sel.value.hosts : [sel.value.id];
    const offered = new Set(this.d.targetIds());
    const missing = hosts.filter((h) => !offered.has(h));
    if (missing.length) return { ok: false, error: failure('UNKNOWN_TARGET', `${selector}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not offered by this server`, 'target') };
    return { ok: true, value: hosts };
  }

  /** The target of the seat at `position` (from 1): the class's, or its group's hosts in turn. */
  private seatTarget(c: ClassRecord, position: number): Outcome<string> {
    if (!isFleetSelector(c.target)) return { ok: true, value: c.target };
    const hosts = this.hostsOf(c.target);
    return hosts.ok ? { ok: true, value: seatHost(hosts.value, position) } : hosts;
  }

  isTrainer(p: Principal): boolean {
    return p.role === 'trainer' || p.role === 'admin';
  }

  /** The class, when `p` may manage it: its trainer, or an admin. Another trainer's is FORBIDDEN. */
  managed(id: string, p: Principal): Outcome<ClassRecord> {
    const c = CLASS_ID_PATTERN.test(id) ? this.records.get(id) : undefined;
    if (!c) return { ok: false, error: failure('NOT_FOUND', `no class ${JSON.stringify(id)}`) };
    if (p.role === 'admin' || (p.role === 'trainer' && c.trainer === p.user)) return { ok: true, value: c };
    return { ok: false, error: failure('FORBIDDEN', p.role === 'trainer' ? `class ${id} is ${c.trainer}'s, not yours` : `managing a class needs its trainer or an admin (you are ${p.role})`) };
  }

  /** Classes `p` may see: an admin all, a trainer its own. */
  list(p: Principal): Outcome<ClassView[]> {
    if (!this.isTrainer(p)) return { ok: false, error: failure('FORBIDDEN', `classes are for trainers and admins (you are ${p.role})`) };
    return { ok: true, value: this.records.list(p.role === 'admin' ? undefined : p.user).map((c) => this.view(c)) };
  }

  get(id: string): ClassRecord | undefined {
    return CLASS_ID_PATTERN.test(id) ? this.records.get(id) : undefined;
  }

  status(c: ClassRecord): ClassStatus {
    return c.endReason ?? (c.endedAt ? 'ended' : 'open');
  }

  view(c: ClassRecord): ClassView {
    return {
      id: c.id,
      name: c.name,
      runbook: c.runbookId,
      target: c.target,
      training: c.training,
      timeLimitMinutes: c.timeLimitMinutes,
      stuckMinutes: c.stuckMinutes,
      lang: c.lang,
      trainer: c.trainer,
      createdAt: c.createdAt,
      expiresAt: c.expiresAt,
      endedAt: c.endedAt,
      status: this.status(c),
      seats: this.records.seats(c.id).map((s) => this.seatView(s)),
    };
  }

  private seatView(s: SeatRecord): SeatView {
    const run = s.runId ? this.d.runs.get(s.runId) : undefined;
    const q = this.labQueue.indexOf(seatKey(s.classId, s.trainee));
    return { trainee: s.trainee, runId: s.runId, joinedAt: s.joinedAt, live: !!run && !run.isEnded, queued: q < 0 ? null : q + 1, takenOverBy: (s.runId && this.control.get(s.runId)) ?? null };
  }

  /** What a seat sees of its class: no other seat, no progress. */
  traineeView(c: ClassRecord, trainee: string): Record<string, unknown> {
    const s = this.records.seat(c.id, trainee);
    return {
      id: c.id,
      name: c.name,
      runbook: c.runbookId,
      training: c.training,
      expiresAt: c.expiresAt,
      endedAt: c.endedAt,
      status: this.status(c),
      seat: s ? this.seatView(s) : null,
    };
  }

  /**
   * Ends the class: its runs end (a lab is removed with its run), its seats stop signing in;
   * every record stays. `expired`: the time limit ran out, and live runs end `expired`.
   */
  end(id: string, by: string, reason: 'ended' | 'expired' = 'ended'): Outcome<ClassView> {
    const c = this.records.get(id);
    if (!c) return { ok: false, error: failure('NOT_FOUND', `no class ${JSON.stringify(id)}`) };
    if (c.endedAt) return { ok: true, value: this.view(c) };
    this.records.end(id, reason, new Date(this.now()).toISOString());
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    for (let i = this.labQueue.length - 1; i >= 0; i--) if (this.labQueue[i]!.startsWith(`${id}/`)) this.labQueue.splice(i, 1);
    for (const s of this.records.seats(id)) {
      if (!s.runId) continue;
      const run = this.d.runs.get(s.runId);
      const endedWhy = reason === 'expired' ? `the class's time limit (${c.timeLimitMinutes} min) ran out` : `the class was ended by ${by}`;
      if (run && !run.isEnded) this.auditRun(s.runId, 'class-ended', { classId: id, by, reason });
      if (run && !run.isEnded) run.end(reason === 'expired' ? { stopped: 'expired', reason: endedWhy } : { reason: endedWhy });
      this.d.runs.end(s.runId);
      this.control.delete(s.runId);
    }
    this.d.log.info('class ended', { classId: id, by, reason });
    this.emit(id, { type: 'ended', classId: id, reason });
    return { ok: true, value: this.view(this.records.get(id)!) };
  }

  private armClock(c: ClassRecord): void {
    if (!c.expiresAt || c.endedAt) return;
    const left = Date.parse(c.expiresAt) - this.now();
    if (left <= 0) {
      this.end(c.id, 'stepwise', 'expired');
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(c.id);
      this.end(c.id, 'stepwise', 'expired');
    }, left);
    t.unref();
    this.timers.set(c.id, t);
  }

  // ---- seats: sign-in and scope ----

  /** The principal a seat token signs in as (role trainee), while its class is open. */
  seatPrincipal(token: string): Principal | undefined {
    if (typeof token !== 'string' || !token.startsWith('sws_') || token.length > 512) return undefined;
    const s = this.records.seatByToken(token);
    if (!s) return undefined;
    const c = this.records.get(s.classId);
    if (!c || c.endedAt) return undefined;
    return { user: `${s.trainee}@${s.classId}`, role: 'trainee', tokenId: `${SEAT_TOKEN_PREFIX}${s.classId}:${s.trainee}`, seat: { classId: s.classId, trainee: s.trainee } };
  }

  /** Whether a seat's sessions and sockets may go on (its class is open). */
  seatLive(tokenId: string): boolean {
    const m = /^seat:(cls_[0-9a-f]{12}):(.+)$/.exec(tokenId);
    if (!m) return false;
    const c = this.records.get(m[1]!);
    return !!c && !c.endedAt && !!this.records.seat(m[1]!, m[2]!);
  }

  /** What a trainee principal may reach (server/class/seat-access.ts), or undefined for anyone else. */
  scopeOf(p: Principal): SeatScope | undefined {
    if (p.role !== 'trainee' || !p.seat) return undefined;
    const c = this.records.get(p.seat.classId);
    if (!c) return undefined;
    return { classId: c.id, runbookId: c.runbookId, runs: new Set(this.records.seatRuns(c.id, p.seat.trainee)) };
  }

  /** The class and seat a run belongs to (undefined: not a class run). */
  runSeat(runId: string): { classId: string; trainee: string } | undefined {
    return this.records.runSeat(runId);
  }

  // ---- joining ----

  /**
   * A seat's run: the live one, else a new one (resuming the seat's last run when it ended
   * before the runbook was done). With a lab target past STEPWISE_MAX_LABS the seat waits in
   * the queue: `{queued: position}`. Idempotent, and one join per seat at a time.
   */
  join(classId: string, trainee: string): Promise<Outcome<JoinResult>> {
    const key = seatKey(classId, trainee);
    const pending = this.joining.get(key);
    if (pending) return pending;
    const p = this.joinNow(classId, trainee).finally(() => this.joining.delete(key));
    this.joining.set(key, p);
    return p;
  }

  private async joinNow(classId: string, trainee: string): Promise<Outcome<JoinResult>> {
    const c = this.records.get(classId);
    const seat = this.records.seat(classId, trainee);
    if (!c || !seat) return { ok: false, error: failure('NOT_FOUND', `no seat ${trainee} in class ${classId}`) };
    if (c.endedAt) return { ok: false, error: failure('CLASS_ENDED', `class ${c.name} has ended`) };
    const key = seatKey(classId, trainee);
    let resume: string | undefined;
    if (seat.runId) {
      const live = this.d.runs.get(seat.runId);
      if (live && !live.isEnded) return { ok: true, value: { runId: live.id, terminal: `/ws/runs/${live.id}` } };
      const rec = this.d.store.getRun(seat.runId);
      // Every step done: nothing to resume; the finished run is the seat's.
      if (!rec || rec.status === 'passed') return { ok: true, value: { runId: seat.runId, terminal: `/ws/runs/${seat.runId}` } };
      resume = seat.runId;
    }
    const lab = c.target === LAB_TARGET;
    if (lab) {
      // First come, first served: only the queue's head tries for a lab; a newcomer queues
      // behind those already waiting even when a lab has just freed (the head gets it).
      const at = this.labQueue.indexOf(key);
      if (at < 0 && this.labQueue.length > 0) {
        this.labQueue.push(key);
        this.armQueue();
        this.emit(classId, { type: 'queue', classId });
        return { ok: true, value: { queued: this.labQueue.length } };
      }
      if (at > 0) return { ok: true, value: { queued: at + 1 } };
    }
    const user = `${trainee}@${classId}`;
    const target = this.seatTarget(c, seat.position);
    if (!target.ok) return target;
    const lang = c.lang ? { lang: c.lang } : {};
    let created = await this.d.runs.create({ runbook: c.runbookId, target: target.value, options: { training: c.training }, ...lang, ...(resume ? { resume } : {}) }, user);
    if (!created.ok && resume && created.error.code !== 'RUN_LIMIT' && created.error.code !== 'TARGET_FAILED') {
      // The last run cannot be resumed (its runbook changed shape, …): a fresh run instead.
      this.d.log.warn('class seat: resume failed, starting afresh', { classId, trainee, from: resume, error: created.error.message });
      resume = undefined;
      created = await this.d.runs.create({ runbook: c.runbookId, target: target.value, options: { training: c.training }, ...lang }, user);
    }
    if (!created.ok) {
      if (lab && created.error.code === 'RUN_LIMIT' && created.error.field === 'target') {
        if (!this.labQueue.includes(key)) this.labQueue.push(key);
        this.armQueue();
        this.emit(classId, { type: 'queue', classId });
        return { ok: true, value: { queued: this.labQueue.indexOf(key) + 1 } };
      }
      return created;
    }
    const q = this.labQueue.indexOf(key);
    if (q >= 0) this.labQueue.splice(q, 1);
    const run = created.value;
    // The class may have ended while the run started: it must not outlive it.
    if (this.records.get(classId)?.endedAt) {
      this.d.runs.end(run.id);
      return { ok: false, error: failure('CLASS_ENDED', `class ${c.name} has ended`) };
    }
    this.records.setRun(classId, trainee, run.id, new Date(this.now()).toISOString());
    this.wire(classId, trainee, run);
    this.d.log.info('class seat joined', { classId, trainee, runId: run.id, ...(resume ? { resumedFrom: resume } : {}) });
    this.emit(classId, { type: 'trainee', classId, trainee });
    return { ok: true, value: { runId: run.id, terminal: `/ws/runs/${run.id}`, ...(resume ? { resumedFrom: resume } : {}) } };
  }

  /** The seat's run tells the feed when its progress may have changed, and frees its lab slot. */
  private wire(classId: string, trainee: string, run: Run): void {
    const changed = () => this.emit(classId, { type: 'trainee', classId, trainee });
    const subs: Disposable[] = [
      run.subscribe((m) => {
        if (m.type === 'step-verdict' || m.type === 'block-started' || m.type === 'block-finished' || m.type === 'session-ended') changed();
      }),
      run.session.onExit(() => {
        this.control.delete(run.id);
        this.wired.get(run.id)?.forEach((s) => s.dispose());
        this.wired.delete(run.id);
        changed();
        // A lab slot may be free now: the queue's head tries at once.
        setImmediate(() => this.pumpQueue());
      }),
    ];
    this.wired.set(run.id, subs);
  }

  private armQueue(): void {
    if (this.queueTimer || this.disposed) return;
    this.queueTimer = setInterval(() => this.pumpQueue(), QUEUE_POLL_MS);
    this.queueTimer.unref();
  }

  /** The queue's head tries for a lab (the trainee's page, polling, then finds its run). */
  private pumpQueue(): void {
    if (this.disposed) return;
    const head = this.labQueue[0];
    if (!head) {
      clearInterval(this.queueTimer);
      this.queueTimer = undefined;
      return;
    }
    const cut = head.indexOf('/');
    void this.join(head.slice(0, cut), head.slice(cut + 1)).then((r) => {
      // The head got its lab: the next one may find a free lab too, at once.
      if (r.ok && 'runId' in r.value) setImmediate(() => this.pumpQueue());
      if (!r.ok) {
        // Not a lab shortage (the class ended, the target failed): it leaves the queue.
        const i = this.labQueue.indexOf(head);
        if (i >= 0) this.labQueue.splice(i, 1);
        this.d.log.warn('class seat left the lab queue', { seat: head, error: r.error.message });
      }
      for (const k of new Set(this.labQueue.map((x) => x.slice(0, x.indexOf('/'))))) this.emit(k, { type: 'queue', classId: k });
    });
  }

  /** A seat's position in the lab queue (from 1), or null. */
  queuePosition(classId: string, trainee: string): number | null {
    const i = this.labQueue.indexOf(seatKey(classId, trainee));
    return i < 0 ? null : i + 1;
  }

  // ---- progress and report ----

  private runbookOf(c: ClassRecord): Runbook | undefined {
    return this.d.catalog().get(c.runbookId)?.runbook;
  }

  /** The progress events of a set of runs, oldest first (from their audit chains). */
  private events(runIds: readonly string[]): ProgressEvent[] {
    const out: ProgressEvent[] = [];
    for (const id of runIds) {
      for (const e of this.d.store.auditEvents(id)) {
        const stepId = typeof e.data.stepId === 'string' ? e.data.stepId : undefined;
        if (e.type === 'run-started') out.push({ type: 'run-started', at: e.ts, runId: id });
        else if (e.type === 'step-verdict' && stepId) out.push({ type: 'step-verdict', at: e.ts, stepId, status: String(e.data.status) });
        else if (e.type === 'hint-revealed' && stepId) out.push({ type: 'hint-revealed', at: e.ts, stepId });
        else if (e.type === 'solution-revealed' && stepId) out.push({ type: 'solution-revealed', at: e.ts, stepId });
        else if (e.type === 'block-started' || e.type === 'block-finished' || e.type === 'confirmation') out.push({ type: 'activity', at: e.ts });
      }
    }
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }

  private traineeProgress(c: ClassRecord, rb: Runbook | undefined, s: SeatRecord): TraineeProgress {
    const runs = this.records.seatRuns(c.id, s.trainee);
    const live = s.runId ? this.d.runs.get(s.runId) : undefined;
    return computeProgress({
      steps: (rb?.steps ?? []).map((st) => ({ id: st.id, executable: st.commands.length + st.checks.length > 0 })),
      events: this.events(runs),
      now: this.now(),
      stuckMinutes: c.stuckMinutes,
      ended: !!c.endedAt || !live || live.isEnded,
    });
  }

  progress(c: ClassRecord): ClassProgress {
    const rb = this.runbookOf(c);
    return {
      classId: c.id,
      status: this.status(c),
      steps: (rb?.steps ?? []).map((s) => ({ id: s.id, title: s.title })),
      trainees: this.records.seats(c.id).map((s) => {
        const p = this.traineeProgress(c, rb, s);
        const v = this.seatView(s);
        return {
          trainee: s.trainee,
          runId: s.runId,
          current: p.current,
          lastActivity: p.lastActivity,
          stuck: p.stuck,
          stuckReason: p.stuckReason,
          completion: p.completion,
          queued: v.queued,
          takenOverBy: v.takenOverBy,
          steps: p.steps.map((x) => ({ id: x.id, status: x.status, attempts: x.attempts, hintsUsed: x.hintsUsed, solutionRevealed: x.solutionRevealed, secondsOnStep: x.secondsOnStep })),
        };
      }),
    };
  }

  report(c: ClassRecord, format: 'csv' | 'md'): string {
    const rb = this.runbookOf(c);
    const input: ClassReportInput = {
      name: c.name,
      id: c.id,
      runbook: c.runbookId,
      trainer: c.trainer,
      createdAt: c.createdAt,
      endedAt: c.endedAt,
      steps: (rb?.steps ?? []).map((s) => ({ id: s.id, title: s.title })),
      trainees: this.records.seats(c.id).map((s) => ({ trainee: s.trainee, runId: s.runId, progress: this.traineeProgress(c, rb, s) })),
    };
    return format === 'csv' ? classReportCsv(input) : classReportMarkdown(input);
  }

  // ---- hints and solutions ----

  /**
   * Whether `p` may act on `runId` as its learner or its teacher: a class run's own seat, its
   * class's trainer or an admin; any other run: an operator (or above).
   */
  private mayLearn(runId: string, p: Principal): Outcome<{ seat?: { classId: string; trainee: string }; teacher: boolean }> {
    const seat = this.records.runSeat(runId);
    if (seat) {
      if (p.role === 'trainee') {
        return p.seat?.classId === seat.classId && p.seat.trainee === seat.trainee ? { ok: true, value: { seat, teacher: false } } : { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
      }
      const m = this.managed(seat.classId, p);
      return m.ok ? { ok: true, value: { seat, teacher: true } } : { ok: false, error: m.error };
    }
    if (p.role === 'trainee') return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
    return { ok: true, value: { teacher: p.role === 'admin' || p.role === 'trainer' } };
  }

  /** The run's step (from the runbook the run reads) and the runs whose reveals count for it. */
  private stepOf(runId: string, stepId: string, seat?: { classId: string; trainee: string }): Outcome<{ step: Step; runs: string[] }> {
    const rec = this.d.store.getRun(runId);
    if (!rec) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
    const entry = rec.runbookId ? this.d.catalog().get(rec.runbookId) : undefined;
    const rb = this.d.runs.get(runId)?.runbook ?? entry?.runbook;
    const step = rb?.steps.find((s) => s.id === stepId);
    if (!step) return { ok: false, error: failure('NOT_FOUND', `run ${runId} has no step ${JSON.stringify(stepId)}`, 'stepId') };
    // A run read in a translation gets that translation's hints and solution, when it has them.
    const lang = typeof rec.options.lang === 'string' ? rec.options.lang : undefined;
    const read = lang ? entry?.translations.find((t) => t.lang === lang && t.ok)?.runbook?.steps.find((s) => s.id === stepId) : undefined;
    if (read && (read.hints?.length || read.solution !== undefined)) return { ok: true, value: { step: read, runs: seat ? this.records.seatRuns(seat.classId, seat.trainee) : [runId] } };
    return { ok: true, value: { step, runs: seat ? this.records.seatRuns(seat.classId, seat.trainee) : [runId] } };
  }

  private seen(runs: string[], stepId: string): { hints: number; solution: boolean; failures: number } {
    let hints = 0;
    let solution = false;
    let failures = 0;
    for (const e of this.events(runs)) {
      if (e.type === 'activity' || e.type === 'run-started' || e.stepId !== stepId) continue;
      if (e.type === 'hint-revealed') hints++;
      else if (e.type === 'solution-revealed') solution = true;
      else if (e.status === 'failed') failures++;
    }
    return { hints, solution, failures };
  }

  hints(runId: string, stepId: string, p: Principal): Outcome<HintState> {
    const who = this.mayLearn(runId, p);
    if (!who.ok) return who;
    const st = this.stepOf(runId, stepId, who.value.seat);
    if (!st.ok) return st;
    const state = hintState(st.value.step, this.seen(st.value.runs, stepId));
    // The trainer reads the solution whenever they like; the trainee only once it is revealed.
    return { ok: true, value: who.value.teacher && st.value.step.solution !== undefined ? { ...state, solution: st.value.step.solution } : state };
  }

  /** Reveals the step's next hint, recorded in the run's audit chain (and so in progress). */
  revealHint(runId: string, stepId: string, p: Principal): Outcome<{ hint: string; index: number; remaining: number }> {
    const who = this.mayLearn(runId, p);
    if (!who.ok) return who;
    const st = this.stepOf(runId, stepId, who.value.seat);
    if (!st.ok) return st;
    const hints = st.value.step.hints ?? [];
    const seen = this.seen(st.value.runs, stepId);
    if (!hints.length) return { ok: false, error: failure('NOT_FOUND', `step ${stepId} has no hints`, 'stepId') };
    if (seen.hints >= hints.length) return { ok: false, error: failure('NO_MORE_HINTS', `all ${hints.length} hints of step ${stepId} are revealed`, 'stepId') };
    const index = seen.hints;
    this.auditRun(runId, 'hint-revealed', { stepId, index, by: p.user });
    if (who.value.seat) this.emit(who.value.seat.classId, { type: 'trainee', ...who.value.seat });
    return { ok: true, value: { hint: hints[index]!, index, remaining: hints.length - index - 1 } };
  }

  /** Reveals the solution: to the learner after FAILS_FOR_SOLUTION failed attempts, by the teacher at any time. */
  revealSolution(runId: string, stepId: string, p: Principal): Outcome<{ solution: string; by: string }> {
    const who = this.mayLearn(runId, p);
    if (!who.ok) return who;
    const st = this.stepOf(runId, stepId, who.value.seat);
    if (!st.ok) return st;
    const sol = st.value.step.solution;
    if (sol === undefined) return { ok: false, error: failure('NOT_FOUND', `step ${stepId} has no solution`, 'stepId') };
    const seen = this.seen(st.value.runs, stepId);
    if (!who.value.teacher && !seen.solution && seen.failures < FAILS_FOR_SOLUTION) {
      return { ok: false, error: failure('SOLUTION_LOCKED', `the solution of step ${stepId} opens after ${FAILS_FOR_SOLUTION} failed attempts (${seen.failures} so far), or when your trainer reveals it`, 'stepId') };
    }
    if (!seen.solution) {
      this.auditRun(runId, 'solution-revealed', { stepId, by: p.user, failures: seen.failures });
      if (who.value.seat) this.emit(who.value.seat.classId, { type: 'trainee', ...who.value.seat });
      // Revealed by the trainer: the trainee's page shows it without a reload.
      if (who.value.teacher) this.sendRun(runId, { type: 'class-reveal', runId, stepId, by: p.user });
    }
    return { ok: true, value: { solution: sol, by: p.user } };
  }

  // ---- the trainer's actions ----

  /** Who has taken over a run's keyboard (null: its trainee has it). */
  controller(runId: string): string | null {
    return this.control.get(runId) ?? null;
  }

  /**
   * Whether `p` may type into a class run's terminal now: its trainee unless taken over, then
   * only the trainer who took it over. Undefined for a run that is no class's.
   */
  mayType(runId: string, p: Principal): boolean | undefined {
    const seat = this.records.runSeat(runId);
    if (!seat) return undefined;
    const by = this.control.get(runId);
    if (by !== undefined) return p.role !== 'trainee' && p.user === by;
    return p.role === 'trainee' && p.seat?.classId === seat.classId && p.seat.trainee === seat.trainee;
  }

  /** Whether `p` may ever hold a class run's keyboard: its own trainee, its class's trainer, an admin. */
  mayHoldKeyboard(runId: string, p: Principal): boolean {
    const seat = this.records.runSeat(runId);
    if (!seat) return true;
    if (p.role === 'trainee') return p.seat?.classId === seat.classId && p.seat.trainee === seat.trainee;
    return this.managed(seat.classId, p).ok;
  }

  private liveSeatRun(c: ClassRecord, trainee: string): Outcome<Run> {
    const s = this.records.seat(c.id, trainee);
    if (!s) return { ok: false, error: failure('NOT_FOUND', `class ${c.id} has no trainee ${JSON.stringify(trainee)}`, 'trainee') };
    if (c.endedAt) return { ok: false, error: failure('CLASS_ENDED', `class ${c.name} has ended`) };
    const run = s.runId ? this.d.runs.get(s.runId) : undefined;
    if (!run || run.isEnded) return { ok: false, error: failure('SESSION_ENDED', `${trainee} has no live run (not joined, or its session ended)`, 'trainee') };
    return { ok: true, value: run };
  }

  takeOver(c: ClassRecord, trainee: string, by: Principal): Outcome<{ runId: string; takenOverBy: string }> {
    const run = this.liveSeatRun(c, trainee);
    if (!run.ok) return run;
    const id = run.value.id;
    if (this.control.get(id) !== by.user) {
      this.control.set(id, by.user);
      this.auditRun(id, 'takeover', { by: by.user, trainee });
      this.d.log.info('class: trainer took over', { classId: c.id, trainee, runId: id, by: by.user });
      this.sendRun(id, { type: 'class-control', runId: id, takenOverBy: by.user });
      this.emit(c.id, { type: 'control', classId: c.id, trainee, takenOverBy: by.user });
    }
    return { ok: true, value: { runId: id, takenOverBy: by.user } };
  }

  handBack(c: ClassRecord, trainee: string, by: Principal): Outcome<{ runId: string; takenOverBy: null }> {
    const run = this.liveSeatRun(c, trainee);
    if (!run.ok) return run;
    const id = run.value.id;
    const had = this.control.get(id);
    if (had !== undefined) {
      this.control.delete(id);
      this.auditRun(id, 'handback', { by: by.user, from: had, trainee });
      this.d.log.info('class: handed back', { classId: c.id, trainee, runId: id, by: by.user });
      this.sendRun(id, { type: 'class-control', runId: id, takenOverBy: null });
      this.emit(c.id, { type: 'control', classId: c.id, trainee, takenOverBy: null });
    }
    return { ok: true, value: { runId: id, takenOverBy: null } };
  }

  message(c: ClassRecord, by: Principal, text: unknown): Outcome<MessageRecord> {
    if (typeof text !== 'string' || !text.trim() || text.length > MAX_MESSAGE_CHARS) return { ok: false, error: failure('BAD_REQUEST', `text must be 1–${MAX_MESSAGE_CHARS} characters`, 'text') };
    if (c.endedAt) return { ok: false, error: failure('CLASS_ENDED', `class ${c.name} has ended`) };
    const m = this.records.addMessage(c.id, by.user, text.trim(), new Date(this.now()).toISOString());
    for (const s of this.records.seats(c.id)) {
      const run = s.runId ? this.d.runs.get(s.runId) : undefined;
      if (!run || run.isEnded) continue;
      this.auditRun(run.id, 'class-message', { by: by.user, text: m.text, messageId: m.id });
      this.sendRun(run.id, { type: 'class-message', classId: c.id, id: m.id, from: m.by, text: m.text, at: m.at });
    }
    this.emit(c.id, { type: 'message', classId: c.id, message: m });
    return { ok: true, value: m };
  }

  messages(classId: string): MessageRecord[] {
    return this.records.messages(classId);
  }

  /** What a socket newly attached to a class run is told: who has the keyboard, and the messages so far. */
  greeting(runId: string): ServerMessage[] {
    const seat = this.records.runSeat(runId);
    if (!seat) return [];
    const out: ServerMessage[] = [];
    const by = this.control.get(runId);
    if (by !== undefined) out.push({ type: 'class-control', runId, takenOverBy: by });
    for (const m of this.records.messages(seat.classId)) out.push({ type: 'class-message', classId: m.classId, id: m.id, from: m.by, text: m.text, at: m.at });
    return out;
  }

  // ---- feeds ----

  /** The class's change feed (the trainer's live matrix listens). */
  subscribe(classId: string, listener: (c: ClassChange) => void): Disposable {
    let set = this.feeds.get(classId);
    if (!set) this.feeds.set(classId, (set = new Set()));
    set.add(listener);
    return {
      dispose: () => {
        set!.delete(listener);
        if (!set!.size) this.feeds.delete(classId);
      },
    };
  }

  /** Protocol messages for the sockets of one class run (the gateway forwards them). */
  subscribeRun(runId: string, listener: (m: ServerMessage) => void): Disposable {
    let set = this.runFeeds.get(runId);
    if (!set) this.runFeeds.set(runId, (set = new Set()));
    set.add(listener);
    return {
      dispose: () => {
        set!.delete(listener);
        if (!set!.size) this.runFeeds.delete(runId);
      },
    };
  }

  private emit(classId: string, c: ClassChange): void {
    for (const fn of [...(this.feeds.get(classId) ?? [])]) {
      try {
        fn(c);
      } catch (e) {
        this.d.log.warn('class feed listener failed', { classId, error: (e as Error).message });
      }
    }
  }

  private sendRun(runId: string, m: ServerMessage): void {
    for (const fn of [...(this.runFeeds.get(runId) ?? [])]) fn(m);
  }

  private auditRun(runId: string, type: 'hint-revealed' | 'solution-revealed' | 'takeover' | 'handback' | 'class-message' | 'class-ended', data: Record<string, unknown>): void {
    try {
      this.d.audit.append(runId, type, data);
    } catch (e) {
      this.d.log.error('class event not recorded', { runId, type, error: (e as Error).message });
    }
  }

  /** Whether `p` is allowed to watch a class run (its trainer, an admin) — for pages that ask. */
  mayWatch(runId: string, p: Principal): boolean {
    const seat = this.records.runSeat(runId);
    if (!seat) return roleAtLeast(p.role, 'viewer');
    return this.managed(seat.classId, p).ok;
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.queueTimer);
    for (const subs of this.wired.values()) subs.forEach((s) => s.dispose());
    this.wired.clear();
    this.feeds.clear();
    this.runFeeds.clear();
  }
}

