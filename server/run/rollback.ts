// Rolling back a failed run: the rollback blocks (`rollback=true`) of the steps that had passed,
// the last step first and, within a step, the last block first, each recorded like any block,
// between `rollback-started` and `rollback-ended` events in the audit chain.
//
// Where it runs: in the failed run's own shell while that run is live (`stepwise run
// --rollback`, the step page's Roll back), else in a new run linked to it by
// `options.rollbackOf`, with its inputs and its shell state (directory, exports) restored as
// resume restores them. A rollback block that fails stops the rollback there and it is
// reported (as Terraform stops at a failed destroy, and Ansible at a failed handler): undoing
// further on top of a half-undone step could make things worse; the person decides.
//
// The decisions (which steps, which order, may this run be rolled back) are pure functions
// of the records; rollBack drives a Run through Run.executeAside.
import type { Block, Runbook } from '../runbook/model.ts';
import type { RunRecord } from '../record/store.ts';
import type { ShellState } from '../exec/state.ts';
import type { BlockResult } from '../../common/result.ts';
import type { Outcome } from '../../common/outcome.ts';
import { ALREADY_SATISFIED } from '../exec/executor.ts';
import { rollbackOrder } from '../exec/plan.ts';
import { failure } from '../errors.ts';
import type { ChainVerdict, RunHistory } from './history.ts';
import type { Run } from './run.ts';
import type { Runs } from './runs.ts';

export { rollbackOrder };

/** Failed runs being rolled back in this process now: a second request is refused, not run twice. */
const inProgress = new Set<string>();

/** One step to undo and its rollback blocks, in the order they run. */
export interface RollbackStep {
  stepId: string;
  blocks: Block[];
}

export interface RollbackOutcome {
  /** The failed run rolled back. */
  of: string;
  /** The run whose shell ran the rollback and whose records hold it: `of` itself, or a new linked run. */
  runId: string;
  /** passed: every rollback block ran (or was skipped); failed: it stopped at `failedBlock`. */
  status: 'passed' | 'failed';
  /** The steps planned, in the order undone. */
  planned: string[];
  /** The steps whose rollback blocks all ran, in the order undone. */
  undone: string[];
  results: BlockResult[];
  failedBlock?: string;
  reason?: string;
  notes: string[];
}

/**
 * The steps a rollback undoes: those that passed (or warned) along the run's chain. A step
 * "already satisfied" (converge ran its checks, not its commands) changed nothing in this run,
 * so there is nothing of it to undo. Pure.
 */
export function stepsToUndo(verdicts: ReadonlyMap<string, ChainVerdict>): Set<string> {
  const out = new Set<string>();
  for (const v of verdicts.values()) {
    if ((v.status === 'passed' || v.status === 'warning') && v.reason !== ALREADY_SATISFIED) out.add(v.stepId);
  }
  return out;
}

/** Whether the chain's verdicts have a failed step (a live run has no final status yet). Pure. */
export function hasFailedStep(verdicts: ReadonlyMap<string, ChainVerdict>): boolean {
  return [...verdicts.values()].some((v) => v.status === 'failed');
}

/** Runs that rolled back `run` (linked by options.rollbackOf), oldest first. */
export function rollbacksOf(history: RunHistory, run: RunRecord): RunRecord[] {
  if (!run.runbookId) return [];
  return history
    .list({ runbookId: run.runbookId, since: run.startedAt })
    .filter((r) => r.options.rollbackOf === run.id)
    .reverse();
}

/** What one chain's rollback events say: the steps undone, and whether a rollback went through. */
export function rollbackEvents(events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>): { passed: boolean; undone: string[] } {
  let passed = false;
  const undone: string[] = [];
  for (const e of events) {
    if (e.type !== 'rollback-ended') continue;
    if (e.data.status === 'passed') passed = true;
    if (Array.isArray(e.data.steps)) for (const st of e.data.steps) if (typeof st === 'string' && !undone.includes(st)) undone.push(st);
  }
  return { passed, undone };
}

/**
 * The run's rollbacks so far — in its own shell and by runs linked to it: the run whose rollback
 * went through (if one did), and the steps already undone by those that stopped part-way.
 */
export function earlierRollbacks(history: RunHistory, record: RunRecord): { passedIn?: string; undone: Set<string> } {
  const undone = new Set<string>();
  let passedIn: string | undefined;
  for (const r of [record, ...rollbacksOf(history, record)]) {
    const e = rollbackEvents(history.auditEvents(r.id));
    e.undone.forEach((st) => undone.add(st));
    if (e.passed) passedIn ??= r.id;
  }
  return { ...(passedIn ? { passedIn } : {}), undone };
}

/**
 * What a rollback of run `id` would undo, or why it may not be rolled back: it must have failed
 * (a live run: a step failed), not be a rollback itself, and not have been rolled back already.
 * `runbook`: the runbook the rollback runs (the live run's own, else the current one).
 */
export function rollbackPlan(history: RunHistory, id: string, runbook: Runbook, live: boolean, opts: { allowPassed?: boolean } = {}): Outcome<{ record: RunRecord; order: RollbackStep[] }> {
  const record = history.get(id);
  if (!record) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(id)}`) };
  const refuse = (message: string) => ({ ok: false as const, error: failure('ROLLBACK_REFUSED', message) });
  if (record.runbookId !== runbook.id) return refuse(`run ${id} ran runbook ${record.runbookId ?? '(none)'}, not ${runbook.id}`);
  if (typeof record.options.rollbackOf === 'string') return refuse(`run ${id} is itself the rollback of run ${record.options.rollbackOf}`);
  const verdicts = history.chainVerdicts(record);
  // A fleet rolls back the hosts that passed a step that failed elsewhere (opts.allowPassed).
  const failed = live ? hasFailedStep(verdicts) : record.status === 'failed' || (opts.allowPassed === true && record.status === 'passed');
  if (!failed) {
    return refuse(live ? `run ${id} has no failed step: only a failed run is rolled back` : `run ${id} did not fail (its status is ${record.status}): only a failed run is rolled back`);
  }
  // Once through is enough; a rollback that stopped part-way (a failed block, Ctrl-C) may be
  // tried again, for the steps it had not undone yet.
  const earlier = earlierRollbacks(history, record);
  if (earlier.passedIn) return refuse(earlier.passedIn === id ? `run ${id} was already rolled back (see its report)` : `run ${id} was already rolled back by run ${earlier.passedIn}`);
  const undo = stepsToUndo(verdicts);
  const order = rollbackOrder(runbook, new Set([...undo].filter((st) => !earlier.undone.has(st))));
  if (!order.length && earlier.undone.size) return refuse(`nothing left to roll back in run ${id}: its steps with rollback blocks are undone (${[...earlier.undone].join(', ')})`);
  if (!order.length) {
    const passed = runbook.steps.filter((s) => undo.has(s.id)).map((s) => s.id);
    return refuse(passed.length
      ? `nothing to roll back in run ${id}: the steps that passed (${passed.join(', ')}) have no rollback blocks`
      : `nothing to roll back in run ${id}: no step passed`);
  }
  return { ok: true, value: { record, order } };
}

/** A new run that rolls back a finished one starts from the failed run's inputs and shell state. */
export interface RollbackStart {
  parent: RunRecord;
  /** The parent's non-secret values (secrets are masked in records: they come anew or default). */
  vars: Record<string, string>;
  state?: ShellState;
}

/** The inputs and shell state a linked rollback run starts from (Runs.create, req.rollback). */
export function rollbackStart(history: RunHistory, id: string, runbook: Runbook): Outcome<RollbackStart> {
  // Whether it may be rolled back was decided by the caller (rollBackFinished); here: what it starts from.
  const plan = rollbackPlan(history, id, runbook, false, { allowPassed: true });
  if (!plan.ok) return plan;
  const parent = plan.value.record;
  const secret = new Set(runbook.vars.filter((v) => v.secret).map((v) => v.name));
  const declared = new Set(runbook.vars.map((v) => v.name));
  const vars = Object.fromEntries(Object.entries(parent.vars).filter(([k]) => declared.has(k) && !secret.has(k)));
  // The state the failed run reached: its own, else (nothing ran there) what the run it resumed had.
  const state = history.chain(parent).map((r) => history.shellState(r.id)).find((s) => s !== undefined);
  return { ok: true, value: { parent, vars, ...(state ? { state } : {}) } };
}

/**
 * Runs the rollback in `run`'s shell: `rollback-started`, each step's rollback blocks in
 * order (stopping at the first that fails), `rollback-ended`. `of` is the failed run.
 */
export async function rollBack(
  run: Run,
  of: string,
  order: readonly RollbackStep[],
  opts: { confirmed?: boolean; by?: string; reason?: string; onBlock?: (stepId: string, r: BlockResult) => void; onPlan?: (runId: string, planned: string[]) => void } = {},
): Promise<Outcome<RollbackOutcome>> {
  const blocks = order.flatMap((s) => s.blocks);
  const planned = order.map((s) => s.stepId);
  const by = opts.by ?? run.user;
  if (inProgress.has(of)) return { ok: false, error: failure('ROLLBACK_REFUSED', `run ${of} is being rolled back now`) };
  inProgress.add(of);
  try {
    return await rollBackSteps(run, of, order, planned, blocks, by, opts);
  } finally {
    inProgress.delete(of);
  }
}

function rollBackSteps(
  run: Run,
  of: string,
  order: readonly RollbackStep[],
  planned: string[],
  blocks: Block[],
  by: string,
  opts: { confirmed?: boolean; reason?: string; onBlock?: (stepId: string, r: BlockResult) => void; onPlan?: (runId: string, planned: string[]) => void },
): Promise<Outcome<RollbackOutcome>> {
  return run.executeAside(blocks, { confirmed: opts.confirmed, by }, async ({ runBlock, event }) => {
    event('rollback-started', { of, steps: planned, blocks: blocks.map((b) => b.id), by, ...(opts.reason ? { reason: opts.reason } : {}) });
    opts.onPlan?.(run.id, planned);
    const results: BlockResult[] = [];
    const undone: string[] = [];
    let failedAt: { block: string; reason: string } | undefined;
    for (const step of order) {
      for (const b of step.blocks) {
        const r = await runBlock(b);
        results.push(r);
        opts.onBlock?.(step.stepId, r);
        if (r.status === 'failed') {
          failedAt = { block: b.id, reason: r.reason ?? `exit code ${r.exitCode ?? 'none'}` };
          break;
        }
      }
      if (failedAt) break;
      undone.push(step.stepId);
    }
    const status = failedAt ? 'failed' : 'passed';
    event('rollback-ended', { of, status, steps: undone, ...(failedAt ? { failedBlock: failedAt.block, reason: failedAt.reason } : {}) });
    const outcome: RollbackOutcome = {
      of,
      runId: run.id,
      status,
      planned,
      undone,
      results,
      ...(failedAt ? { failedBlock: failedAt.block, reason: failedAt.reason } : {}),
      notes: [],
    };
    return outcome;
  });
}

/** Rolls back a failed run that is live in this process, in its own shell. */
export async function rollBackLive(run: Run, history: RunHistory, opts: { confirmed?: boolean; by?: string; onBlock?: (stepId: string, r: BlockResult) => void; onPlan?: (runId: string, planned: string[]) => void } = {}): Promise<Outcome<RollbackOutcome>> {
  if (!run.runbook) return { ok: false, error: failure('ROLLBACK_REFUSED', `run ${run.id} has no runbook to roll back`) };
  const plan = rollbackPlan(history, run.id, run.runbook, true);
  if (!plan.ok) return plan;
  return rollBack(run, run.id, plan.value.order, opts);
}

/**
 * Rolls back a failed run that has ended: a new run of the same runbook on the same target,
 * linked by options.rollbackOf, its inputs and shell state restored; it ends when done
 * (`ended`, or `failed` when a rollback block failed).
 */
export async function rollBackFinished(
  runs: Runs,
  history: RunHistory,
  id: string,
  user: string,
  opts: {
    confirmed?: boolean;
    target?: string;
    vars?: Record<string, string>;
    /** A fleet: a run that passed is rolled back too (a step failed on another host), and why. */
    allowPassed?: boolean;
    reason?: string;
    onStart?: (run: Run) => void;
    onBlock?: (stepId: string, r: BlockResult) => void;
    onPlan?: (runId: string, planned: string[]) => void;
  } = {},
): Promise<Outcome<RollbackOutcome>> {
  const record = history.get(id);
  if (!record) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(id)}`) };
  const runbook = record.runbookId ? history.currentRunbook(record) : undefined;
  if (!runbook) return { ok: false, error: failure('ROLLBACK_REFUSED', `run ${id} has no runbook in the catalog to roll back with`) };
  const plan = rollbackPlan(history, id, runbook, false, { allowPassed: opts.allowPassed });
  if (!plan.ok) return plan;
  const created = await runs.create({ runbook: runbook.id, target: opts.target ?? record.target, rollback: id, ...(opts.vars ? { vars: opts.vars } : {}), options: { interactive: false } }, user);
  if (!created.ok) return created;
  const run = created.value;
  opts.onStart?.(run);
  const notes = runbook.contentHash !== record.contentHash ? [`runbook ${runbook.id} changed since run ${id} started: its rollback blocks run as they are now`] : [];
  const out = await rollBack(run, id, plan.value.order, { confirmed: opts.confirmed, by: user, reason: opts.reason, onBlock: opts.onBlock, onPlan: opts.onPlan });
  if (!run.isEnded) {
    const reason = out.ok
      ? out.value.status === 'passed' ? `rolled back run ${id}: ${out.value.undone.join(', ')}` : `rollback of run ${id} stopped at ${out.value.failedBlock}: ${out.value.reason}`
      : out.error.message;
    // Interrupted (Ctrl-C, SIGTERM): the run ends as interrupted, whatever the block's result said.
    run.end(run.stopReason ? { stopped: 'interrupted', reason: run.stopReason } : out.ok && out.value.status === 'passed' ? { reason } : { stopped: 'failed', reason });
  }
  if (!out.ok) return out;
  return { ok: true, value: { ...out.value, notes } };
}

// ---------------------------------------------------------------- fleets

/** A fleet host as the rollback sees it: its run, and each step's verdict along that run's chain. */
export interface FleetHostRun {
  host: string;
  runId: string;
  /** Whether the host's run exists (a host skipped before it started has none). */
  started: boolean;
  /** The run's final status (passed, failed, interrupted, …). */
  status: string;
  steps: ReadonlyArray<{ id: string; status: string }>;
}

/**
 * After a fleet in which a step failed on some host, the hosts to roll back: every host whose run
 * failed (its passed steps), and every host that had passed a step that failed elsewhere — a
 * canary batch undone. Hosts never started, or interrupted, are left alone. Pure.
 */
export function fleetRollbackHosts(hosts: readonly FleetHostRun[]): Array<{ host: string; runId: string; reason: string }> {
  const failedOn = new Map<string, string>();
  for (const h of hosts) for (const s of h.steps) if (s.status === 'failed' && !failedOn.has(s.id)) failedOn.set(s.id, h.host);
  if (!failedOn.size) return [];
  const out: Array<{ host: string; runId: string; reason: string }> = [];
  for (const h of hosts) {
    if (!h.started) continue;
    if (h.status === 'failed') {
      out.push({ host: h.host, runId: h.runId, reason: `a step failed on ${h.host}` });
      continue;
    }
    const passedFailing = h.steps.find((s) => (s.status === 'passed' || s.status === 'warning') && failedOn.has(s.id));
    if (h.status === 'passed' && passedFailing) {
      out.push({ host: h.host, runId: h.runId, reason: `step ${passedFailing.id} failed on ${failedOn.get(passedFailing.id)}` });
    }
  }
  return out;
}

/**
 * `stepwise run --target @group --rollback`: rolls back each host fleetRollbackHosts names, one
 * after another, each in a new run on that host linked to its run (its own record and chain).
 */
export async function rollBackFleet(
  runs: Runs,
  history: RunHistory,
  hosts: readonly FleetHostRun[],
  user: string,
  opts: {
    confirmed?: boolean;
    onPlan?: (host: string, of: string, runId: string, planned: string[], reason: string) => void;
    onHost?: (host: string, reason: string, o: Outcome<RollbackOutcome>) => void;
    onBlock?: (host: string, stepId: string, r: BlockResult) => void;
  } = {},
): Promise<Array<{ host: string; outcome: Outcome<RollbackOutcome> }>> {
  const results: Array<{ host: string; outcome: Outcome<RollbackOutcome> }> = [];
  for (const h of fleetRollbackHosts(hosts)) {
    const outcome = await rollBackFinished(runs, history, h.runId, user, {
      confirmed: opts.confirmed,
      target: h.host,
      allowPassed: true,
      reason: h.reason,
      onPlan: (runId, planned) => opts.onPlan?.(h.host, h.runId, runId, planned, h.reason),
      onBlock: (stepId, r) => opts.onBlock?.(h.host, stepId, r),
    });
    opts.onHost?.(h.host, h.reason, outcome);
    results.push({ host: h.host, outcome });
  }
  return results;
}
