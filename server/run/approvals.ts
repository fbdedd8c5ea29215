// Four-eyes approvals: before a block with `approve=N` runs, its run asks for N approvals from
// people other than its operator, and waits. The requests and decisions live in the database,
// so `stepwise approve` in another process (or the server) can decide while a headless run
// waits on them; the waiting run polls, and writes what it sees into its own audit chain (the
// run's recorder stays the chain's one ordered writer).
import type Database from 'better-sqlite3';
import type { RunStore } from '../record/store.ts';
import type { Principal } from '../record/users.ts';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';

/** How often a waiting run looks for decisions: another process writes them, nothing notifies. */
export const APPROVAL_POLL_MS = 200;

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';
export type Decision = 'approve' | 'reject';

export interface ApprovalDecision {
  user: string;
  decision: Decision;
  comment: string;
  at: string;
}

export interface ApprovalRequest {
  id: number;
  runId: string;
  stepId: string;
  blockId: string;
  /** How many distinct approvers it needs. */
  need: number;
  /** The run's operator: the one person who may not approve it. */
  operator: string;
  requestedAt: string;
  expiresAt: string | null;
  state: ApprovalState;
  decidedAt: string | null;
  decisions: ApprovalDecision[];
}

interface RequestRow {
  id: number;
  run_id: string;
  step_id: string;
  block_id: string;
  need: number;
  operator: string;
  requested_at: string;
  expires_at: string | null;
  state: ApprovalState;
  decided_at: string | null;
}

/** Who may approve: approvers and admins (an operator operates; four eyes means someone else). */
export function mayApprove(role: Principal['role']): boolean {
  return role === 'approver' || role === 'admin';
}

/** The state a request's decisions put it in (pure): one rejection rejects; N approvals approve. */
export function settle(need: number, decisions: readonly ApprovalDecision[]): 'pending' | 'approved' | 'rejected' {
  if (decisions.some((d) => d.decision === 'reject')) return 'rejected';
  return new Set(decisions.filter((d) => d.decision === 'approve').map((d) => d.user)).size >= need ? 'approved' : 'pending';
}

export class Approvals {
  private readonly db: Database.Database;

  constructor(store: RunStore) {
    this.db = store.database;
  }

  request(r: { runId: string; stepId: string; blockId: string; need: number; operator: string; timeoutSec?: number }, now = new Date()): ApprovalRequest {
    const expires = r.timeoutSec === undefined ? null : new Date(now.getTime() + r.timeoutSec * 1000).toISOString();
    const info = this.db
      .prepare("INSERT INTO approval_requests (run_id, step_id, block_id, need, operator, requested_at, expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')")
      .run(r.runId, r.stepId, r.blockId, r.need, r.operator, now.toISOString(), expires);
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): ApprovalRequest | undefined {
    const row = this.db.prepare('SELECT * FROM approval_requests WHERE id = ?').get(id) as RequestRow | undefined;
    return row && this.withDecisions(row);
  }

  /**
   * Pending requests of runs still running, oldest first; of one run when given. A run whose
   * process died mid-wait leaves its request pending: it is not waiting, and is not listed.
   */
  pending(runId?: string): ApprovalRequest[] {
    const live = "SELECT a.* FROM approval_requests a JOIN runs r ON r.id = a.run_id WHERE a.state = 'pending' AND r.status = 'running'";
    const rows = (runId === undefined
      ? this.db.prepare(`${live} ORDER BY a.id`).all()
      : this.db.prepare(`${live} AND a.run_id = ? ORDER BY a.id`).all(runId)) as RequestRow[];
    return rows.map((r) => this.withDecisions(r));
  }

  /** Every request of a run, oldest first (reports). */
  ofRun(runId: string): ApprovalRequest[] {
    return (this.db.prepare('SELECT * FROM approval_requests WHERE run_id = ? ORDER BY id').all(runId) as RequestRow[]).map((r) => this.withDecisions(r));
  }

  /**
   * A decision on a run's pending request (the one for blockId, or its only one). Refused: a
   * role that may not approve, the run's own operator (four eyes), a second decision by the
   * same person, and a request that is no longer pending.
   */
  decide(runId: string, who: Principal, decision: Decision, comment: string, blockId?: string, now = new Date()): Outcome<ApprovalRequest> {
    if (!mayApprove(who.role)) return { ok: false, error: failure('FORBIDDEN', `${who.user} has the ${who.role} role: approving needs the approver or admin role`) };
    const pending = this.pending(runId).filter((r) => blockId === undefined || r.blockId === blockId);
    if (pending.length === 0) return { ok: false, error: failure('NOT_FOUND', `run ${runId} is not waiting for approval${blockId ? ` of block ${blockId}` : ''}`) };
    if (pending.length > 1) return { ok: false, error: failure('BAD_REQUEST', `run ${runId} waits for approval of several blocks (${pending.map((r) => r.blockId).join(', ')}): name one`, 'blockId') };
    const req = pending[0]!;
    if (who.user === req.operator) {
      return { ok: false, error: failure('FORBIDDEN', `${who.user} is the operator of run ${runId}: four eyes — someone else must approve or reject it`) };
    }
    if (req.decisions.some((d) => d.user === who.user)) return { ok: false, error: failure('BAD_REQUEST', `${who.user} already decided on block ${req.blockId} of run ${runId}`) };
    const at = now.toISOString();
    // Read again inside the write transaction: the waiting run (another process) may have
    // closed the request (expired, run ended) or another approver decided since the read above.
    const done = this.db.transaction((): boolean => {
      const current = this.get(req.id);
      if (!current || current.state !== 'pending' || current.decisions.some((d) => d.user === who.user)) return false;
      this.db.prepare('INSERT INTO approval_decisions (request_id, user, decision, comment, at) VALUES (?, ?, ?, ?, ?)').run(req.id, who.user, decision, comment, at);
      const state = settle(current.need, [...current.decisions, { user: who.user, decision, comment, at }]);
      if (state !== 'pending') this.db.prepare("UPDATE approval_requests SET state = ?, decided_at = ? WHERE id = ? AND state = 'pending'").run(state, at, req.id);
      return true;
    }).immediate();
    if (!done) return { ok: false, error: failure('NOT_FOUND', `block ${req.blockId} of run ${runId} is no longer waiting for approval (or ${who.user} already decided)`) };
    return { ok: true, value: this.get(req.id)! };
  }

  /** Ends a wait that no decision ended (expiry, or the run stopped). */
  close(id: number, state: 'expired' | 'cancelled', now = new Date()): void {
    this.db.prepare("UPDATE approval_requests SET state = ?, decided_at = ? WHERE id = ? AND state = 'pending'").run(state, now.toISOString(), id);
  }

  private withDecisions(r: RequestRow): ApprovalRequest {
    const decisions = this.db.prepare('SELECT user, decision, comment, at FROM approval_decisions WHERE request_id = ? ORDER BY at, rowid').all(r.id) as ApprovalDecision[];
    return {
      id: r.id,
      runId: r.run_id,
      stepId: r.step_id,
      blockId: r.block_id,
      need: r.need,
      operator: r.operator,
      requestedAt: r.requested_at,
      expiresAt: r.expires_at,
      state: r.state,
      decidedAt: r.decided_at,
      decisions,
    };
  }
}

export interface WaitHooks {
  /** Each decision as it is seen, in order (the run writes it into its chain). */
  onDecision(d: ApprovalDecision): void;
  /** True once the run has ended: the wait stops, the request is cancelled. */
  stopped(): boolean;
}

/** Waits for a request to be decided or to expire, polling the database (another process decides). */
export async function waitForDecision(approvals: Approvals, id: number, hooks: WaitHooks): Promise<ApprovalRequest> {
  let seen = 0;
  for (;;) {
    const req = approvals.get(id)!;
    for (; seen < req.decisions.length; seen++) hooks.onDecision(req.decisions[seen]!);
    if (req.state !== 'pending') return req;
    if (hooks.stopped()) {
      approvals.close(id, 'cancelled');
      return approvals.get(id)!;
    }
    if (req.expiresAt !== null && Date.now() >= Date.parse(req.expiresAt)) {
      approvals.close(id, 'expired');
      // A decision may have landed between the read and the close: the stored state says which won.
      const after = approvals.get(id)!;
      for (; seen < after.decisions.length; seen++) hooks.onDecision(after.decisions[seen]!);
      return after;
    }
    await new Promise((r) => setTimeout(r, APPROVAL_POLL_MS));
  }
}
