// A fleet run (docs/targets.md, Fleets): one runbook on many inventory hosts, each host's run a
// normal run (its own record, recording and audit chain) made through Runs and linked to the
// fleet. The scheduler's decisions are fleet-schedule.ts's; this drives them: starts hosts,
// runs their steps headless, records each host's status, and tells subscribers every change.
import type { Disposable } from '../../common/disposable.ts';
import type { Outcome } from '../../common/outcome.ts';
import type { Runbook } from '../runbook/model.ts';
import type { Catalog } from '../runbook/catalog.ts';
import type { Inventory } from '../target/inventory.ts';
import type { Logger } from '../log.ts';
import type { RunStore } from '../record/store.ts';
import type { Runs } from './runs.ts';
import type { Run } from './run.ts';
import { failure } from '../errors.ts';
import { newRunId } from '../record/ids.ts';
import { selfOwner, ownerAlive } from '../owner.ts';
import { FleetStore, isFleetId, newFleetId, type FleetHostRecord, type FleetHostStatus, type FleetStatus } from '../record/fleets.ts';
import { selectTargets, hostVars } from '../target/selector.ts';
import { RunHistory } from './history.ts';
import {
  amountLabel, assignBatches, decide, failureBudget, fleetStatus, parseBatches, parseMaxFail, parseParallel, type Amount,
} from './fleet-schedule.ts';
import { buildFleetView, type FleetStepStatus, type FleetView } from './fleet-view.ts';

export type FleetEvent =
  | { type: 'host'; fleetId: string; host: string; status: FleetHostStatus; runId: string; reason?: string }
  | { type: 'step'; fleetId: string; host: string; stepId: string; status: FleetStepStatus; reason?: string; durationMs?: number }
  | { type: 'ended'; fleetId: string; status: FleetStatus; reason?: string };

/** A fleet as asked for (API body, CLI flags), before it is checked. */
export interface FleetRequest {
  runbook: string;
  /** A selector (selector.ts): `@group`, `@all`, `label=…`, `a,b`. */
  target?: string;
  parallel?: unknown;
  maxFail?: unknown;
  batches?: unknown;
  vars?: Record<string, unknown>;
  lang?: string;
  /** Destructive blocks are confirmed (CLI --yes; API `confirm: true`). */
  confirm?: boolean;
  converge?: boolean;
  record?: 'strict' | 'best-effort';
  /** Re-run the hosts of this fleet that did not pass, each from its failed step. */
  resume?: string;
}

export interface FleetsDeps {
  runs: Runs;
  store: RunStore;
  catalog: () => Catalog;
  /** The inventory the selectors expand against (read when a fleet starts). */
  inventory: () => Inventory | undefined;
  log: Logger;
  /** The target ids Runs offers (each fleet host must be one). */
  targetIds: () => readonly string[];
  /** ssh:// in a selector list is refused anyway; this only allows a plain ad hoc target through. */
  adHoc?: boolean;
}

// How many hosts of a fleet connect (target set up, shell started) at the same time. It was 2
// while the SSH target's side commands blocked this process (ten connects at once then starved
// each other's shells past their 15 s readiness wait); they are asynchronous now, and ten at once
// connect without a failure on the loaded 2-core build machine (bench/fleet.ts, --parallel 10).
// Still bounded at 10, sshd's default MaxStartups (10:30:100): past ten unauthenticated
// connections at once, an sshd drops new ones at random — a fleet reached through one jump
// host would see hosts fail "unreachable" only because of its own --parallel.
const CONNECTS_AT_ONCE = 10;

interface HostState extends FleetHostRecord {
  run?: Run;
  runningStep?: string;
}

export class Fleet implements Disposable {
  private readonly listeners = new Set<(e: FleetEvent) => void>();
  private readonly hosts: HostState[];
  private stopped: string | undefined;
  private finished = false;
  private connecting = 0;
  private readonly connectWaiters: Array<() => void> = [];
  private resolveDone!: (s: FleetStatus) => void;
  /** Resolves with the fleet's status once every host has ended. */
  readonly done: Promise<FleetStatus>;

  constructor(
    readonly id: string,
    readonly runbook: Runbook,
    hosts: FleetHostRecord[],
    private readonly o: {
      deps: FleetsDeps;
      user: string;
      parallel: number;
      maxFail: Amount;
      vars: (host: string) => Record<string, unknown>;
      confirm: boolean;
      converge: boolean;
      record?: 'strict' | 'best-effort';
      lang?: string;
    },
  ) {
    this.hosts = hosts.map((h) => ({ ...h }));
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  private get fleets(): FleetStore {
    return new FleetStore(this.o.deps.store);
  }

  /** Every change of a host or of a host's step, and the fleet's end. */
  subscribe(listener: (e: FleetEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private emit(e: FleetEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.o.deps.log.warn('fleet listener failed', { fleetId: this.id, error: (err as Error).message });
      }
    }
  }

  get isEnded(): boolean {
    return this.finished;
  }

  /** The hosts' runs live now. */
  liveRuns(): Run[] {
    return this.hosts.flatMap((h) => (h.run && !h.run.isEnded ? [h.run] : []));
  }

  view(): FleetView {
    return fleetViewOf(this.o.deps, this.id, this) ?? (() => {
      throw new Error(`fleet ${this.id} has no record`);
    })();
  }

  /** @internal the in-memory step a host runs now (the view's `running` cell). */
  runningStepOf(host: string): string | undefined {
    return this.hosts.find((h) => h.host === host)?.runningStep;
  }

  start(): void {
    this.pump();
  }

  private setHost(h: HostState, status: FleetHostStatus, reason?: string): void {
    // An ended fleet's records are final (dispose() decided every host; the store may be closed).
    if (this.finished) return;
    h.status = status;
    h.reason = reason ?? null;
    this.fleets.setHost(this.id, h.host, status, reason);
    this.emit({ type: 'host', fleetId: this.id, host: h.host, status, runId: h.runId, ...(reason !== undefined ? { reason } : {}) });
  }

  /** Applies the scheduler's decision; ends the fleet when nothing is left. */
  private pump(): void {
    if (this.finished) return;
    const d = decide(this.hosts, { parallel: this.o.parallel, budget: failureBudget(this.o.maxFail, this.hosts.length), maxFailLabel: amountLabel(this.o.maxFail), stopped: this.stopped });
    for (const s of d.skip) this.setHost(this.hosts[s.index]!, 'skipped', s.reason);
    for (const i of d.start) {
      const h = this.hosts[i]!;
      this.setHost(h, 'running');
      void this.runHost(h).catch((e: Error) => {
        // A broken invariant in one host's run: that host fails, the fleet goes on deciding.
        this.o.deps.log.error('fleet host failed unexpectedly', { fleetId: this.id, host: h.host, error: e.message });
        if (h.status === 'running') this.setHost(h, 'failed', `internal error: ${e.message}`);
        this.pump();
      });
    }
    const status = fleetStatus(this.hosts, this.stopped !== undefined);
    if (status !== 'running') {
      this.finished = true;
      const reason = this.stopped ?? (status === 'failed' ? summary(this.hosts) : undefined);
      this.fleets.finish(this.id, status, reason);
      this.emit({ type: 'ended', fleetId: this.id, status, ...(reason !== undefined ? { reason } : {}) });
      this.listeners.clear();
      this.resolveDone(status);
    }
  }

  /** Waits for a connect slot (CONNECTS_AT_ONCE); the returned function frees it. */
  private async connectSlot(): Promise<() => void> {
    while (this.connecting >= CONNECTS_AT_ONCE) await new Promise<void>((r) => this.connectWaiters.push(r));
    this.connecting++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.connecting--;
      this.connectWaiters.shift()?.();
    };
  }

  private async runHost(h: HostState): Promise<void> {
    const deps = this.o.deps;
    const free = await this.connectSlot();
    if (this.stopped || this.finished) {
      free();
      this.setHost(h, 'skipped', `not started: ${this.stopped ?? 'the fleet ended'}`);
      this.pump();
      return;
    }
    const created = await deps.runs.create(
      {
        runbook: this.runbook.id,
        vars: this.o.vars(h.host),
        target: h.host,
        options: { interactive: false, ...(this.o.converge ? { converge: true } : {}), ...(this.o.record ? { record: this.o.record } : {}) },
        id: h.runId,
        ...(h.resumeOf !== null ? { resume: h.resumeOf } : {}),
        ...(this.o.lang !== undefined ? { lang: this.o.lang } : {}),
      },
      this.o.user,
    ).finally(free);
    if (!created.ok) {
      this.setHost(h, this.stopped ? 'interrupted' : 'failed', created.error.message);
      this.pump();
      return;
    }
    const run = created.value;
    if (this.finished) {
      // Disposed while this host was connecting: its run ends at once.
      run.end({ stopped: 'interrupted', reason: this.stopped ?? 'the fleet was ended' });
      return;
    }
    h.run = run;
    this.fleets.linkRun(run.id, this.id);
    this.emit({ type: 'host', fleetId: this.id, host: h.host, status: 'running', runId: run.id });
    let steps = this.runbook.steps;
    if (run.resumedFrom) steps = steps.slice(Math.max(0, steps.findIndex((s) => s.id === run.resumedFrom!.stepId)));
    let couldNotRun: string | undefined;
    for (const step of steps) {
      if (this.stopped || run.isEnded) break;
      h.runningStep = step.id;
      this.emit({ type: 'step', fleetId: this.id, host: h.host, stepId: step.id, status: 'running' });
      const r = await run.executeStep(step.id, { confirmed: this.o.confirm, ...(this.o.converge ? { converge: true } : {}) });
      h.runningStep = undefined;
      if (this.stopped) break;
      if (!r.ok || run.stopReason) {
        couldNotRun = !r.ok ? r.error.message : run.stopReason;
        this.emit({ type: 'step', fleetId: this.id, host: h.host, stepId: step.id, status: 'failed', ...(couldNotRun ? { reason: couldNotRun } : {}) });
        break;
      }
      const v = r.value;
      const ms = [...v.blocks, ...v.checks].reduce((t, b) => t + b.durationMs, 0);
      this.emit({ type: 'step', fleetId: this.id, host: h.host, stepId: step.id, status: v.status, ...(v.reason ? { reason: v.reason } : {}), durationMs: ms });
      if (v.status === 'failed') break;
    }
    if (!run.isEnded) run.end(this.stopped ? { stopped: 'interrupted', reason: this.stopped } : couldNotRun ? { stopped: 'failed' } : {});
    if (this.finished) return;
    const status = deps.store.getRun(run.id)?.status;
    const hostStatus: FleetHostStatus = status === 'passed' ? 'passed' : status === 'interrupted' ? 'interrupted' : 'failed';
    const reason = hostStatus === 'passed' ? undefined : couldNotRun ?? (hostStatus === 'interrupted' ? (run.stopReason ?? this.stopped) : failedStepReason(deps.store, run.id));
    this.setHost(h, hostStatus, reason);
    this.pump();
  }

  /**
   * Stops the fleet: no host starts any more (the pending ones are skipped with the reason) and
   * every running host's run is interrupted (Ctrl-C to its block, recorded, sealed).
   */
  async stop(reason: string): Promise<void> {
    if (this.finished) return;
    this.stopped ??= reason;
    const running = this.liveRuns();
    await Promise.all(running.map((r) => r.interrupt(reason)));
    this.pump();
    // Hosts still connecting end as soon as their run exists (runHost sees `stopped`).
    await this.done;
  }

  /** Ends everything now (synchronously): the runs end interrupted, the records stay consistent. */
  dispose(): void {
    if (this.finished) return;
    this.stopped ??= 'the fleet was ended';
    for (const r of this.liveRuns()) r.end({ stopped: 'interrupted', reason: this.stopped });
    for (const h of this.hosts) if (h.status === 'running' && (!h.run || h.run.isEnded)) this.setHost(h, 'interrupted', this.stopped);
    this.pump();
  }
}

/** The reason of a failed run: its first failed step's. */
function failedStepReason(store: RunStore, runId: string): string | undefined {
  const v = store.stepVerdicts(runId).find((x) => x.status === 'failed');
  return v ? `step ${v.stepId} failed${v.reason ? `: ${v.reason}` : ''}` : undefined;
}

function summary(hosts: readonly FleetHostRecord[]): string {
  const n = (s: FleetHostStatus) => hosts.filter((h) => h.status === s).length;
  return `${n('failed') + n('interrupted')} of ${hosts.length} hosts failed, ${n('skipped')} skipped`;
}

/** A fleet's view from its records (and the live fleet's running steps when it is this process's). */
export function fleetViewOf(deps: Pick<FleetsDeps, 'store' | 'catalog'>, id: string, live?: Fleet): FleetView | undefined {
  if (!isFleetId(id)) return undefined;
  const fs = new FleetStore(deps.store);
  const f = fs.get(id);
  if (!f) return undefined;
  const hosts = fs.hosts(id);
  const history = new RunHistory(deps.store, deps.catalog);
  const runbook = live?.runbook ?? deps.catalog().get(f.runbookId)?.runbook;
  // Steps of the runbook; without it (gone from the folder), those the records name.
  let steps = runbook?.steps.map((s) => ({ id: s.id, title: s.title }));
  const facts = new Map(hosts.map((h) => {
    const run = deps.store.getRun(h.runId);
    const verdicts = run ? history.chainVerdicts(run) : new Map();
    return [h.host, { started: !!run, verdicts, ...(live?.runningStepOf(h.host) ? { runningStep: live.runningStepOf(h.host)! } : {}) }];
  }));
  if (!steps) {
    const ids = [...new Set([...facts.values()].flatMap((x) => [...x.verdicts.keys()] as string[]))];
    steps = ids.map((s) => ({ id: s, title: s }));
  }
  return buildFleetView(f, hosts, steps, (h) => facts.get(h.host)!, !!live && !live.isEnded);
}

/** Fleets whose process died (kill -9 of the CLI or the server) end interrupted; their runs are orphans.ts's. */
export function interruptOrphanedFleets(store: RunStore): string[] {
  const fs = new FleetStore(store);
  const out: string[] = [];
  for (const f of fs.running()) {
    if (f.owner !== null && f.owner === selfOwner()) continue;
    if (f.owner !== null && ownerAlive(f.owner)) continue;
    const why = 'the process running the fleet ended';
    for (const h of fs.hosts(f.id)) {
      if (h.status === 'pending') fs.setHost(f.id, h.host, 'skipped', `not started: ${why}`);
      else if (h.status === 'running') fs.setHost(f.id, h.host, 'interrupted', why);
    }
    fs.finish(f.id, 'interrupted', why);
    out.push(f.id);
  }
  return out;
}

/** The fleets of a server or CLI process: starts them from requests, finds them, ends them. */
export class Fleets implements Disposable {
  private readonly live = new Map<string, Fleet>();

  constructor(readonly deps: FleetsDeps) {}

  get(id: string): Fleet | undefined {
    return this.live.get(id);
  }

  view(id: string): FleetView | undefined {
    return fleetViewOf(this.deps, id, this.live.get(id));
  }

  list(limit?: number): FleetView[] {
    return new FleetStore(this.deps.store).list(limit).map((f) => this.view(f.id)!).filter((v) => v !== undefined);
  }

  /** Checks the request, records the fleet with a run id reserved per host, and starts it. */
  start(req: FleetRequest, user: string): Outcome<Fleet> {
    const bad = (message: string, field: string) => ({ ok: false as const, error: failure('BAD_REQUEST', message, field) });
    const entry = this.deps.catalog().get(req.runbook);
    if (!entry) return { ok: false, error: failure('UNKNOWN_RUNBOOK', `no runbook with id ${JSON.stringify(req.runbook)}`, 'runbook') };
    if (!entry.ok || !entry.runbook) return { ok: false, error: failure('BROKEN_RUNBOOK', `runbook ${entry.id} has errors and cannot run`, 'runbook') };
    const runbook = entry.runbook;
    const fs = new FleetStore(this.deps.store);
    const parent = req.resume !== undefined ? fs.get(req.resume) : undefined;
    if (req.resume !== undefined && (!isFleetId(req.resume) || !parent)) return { ok: false, error: failure('NOT_FOUND', `no fleet ${JSON.stringify(req.resume)} to resume`, 'resume') };
    if (parent && parent.runbookId !== runbook.id) return bad(`fleet ${parent.id} ran runbook ${parent.runbookId}, not ${runbook.id}`, 'resume');
    if (parent && parent.status === 'running') return bad(`fleet ${parent.id} is still running`, 'resume');
    const parallel = parseParallel(req.parallel ?? parent?.parallel);
    if (!parallel.ok) return parallel;
    const maxFail = parseMaxFail(req.maxFail ?? parent?.maxFail);
    if (!maxFail.ok) return maxFail;
    const batches = parseBatches(req.batches ?? parent?.batches ?? undefined);
    if (!batches.ok) return batches;
    const inv = this.deps.inventory();

    // Which hosts, and for a resumed fleet, which run each continues.
    let names: string[];
    const resumeOf = new Map<string, string>();
    if (parent) {
      const redo = fs.hosts(parent.id).filter((h) => h.status !== 'passed');
      if (redo.length === 0) return bad(`every host of fleet ${parent.id} passed: nothing to resume`, 'resume');
      names = redo.map((h) => h.host);
      for (const h of redo) {
        const run = this.deps.store.getRun(h.runId);
        // A host that failed or was interrupted mid-run continues from its failed step; one that never started (or whose run never began) starts afresh.
        if (run && (run.status === 'failed' || run.status === 'interrupted')) resumeOf.set(h.host, run.id);
      }
      const unknown = names.filter((n) => !inv?.hosts.has(n));
      if (unknown.length) return { ok: false, error: failure('UNKNOWN_TARGET', `the inventory no longer has ${unknown.join(', ')}`, 'target') };
    } else {
      if (req.target === undefined) return bad('target must be a selector like @group, @all, label=NAME or host1,host2', 'target');
      const sel = selectTargets(req.target, inv, { adHoc: this.deps.adHoc ?? false });
      if (!sel.ok) return sel;
      if (!sel.value.fleet) return bad(`target ${JSON.stringify(req.target)} is one target: start a run (POST /api/runs), not a fleet`, 'target');
      names = sel.value.hosts;
    }
    const kinds = this.deps.targetIds();
    const missing = names.filter((n) => !kinds.includes(n));
    if (missing.length) return { ok: false, error: failure('UNKNOWN_TARGET', `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not a target here`, 'target') };
    const given = req.vars ?? {};
    const declared = new Set(runbook.vars.map((v) => v.name));
    for (const k of Object.keys(given)) if (!declared.has(k)) return { ok: false, error: failure('UNKNOWN_VAR', `variable ${k} is not declared by runbook ${runbook.id}`, `vars.${k}`) };

    const id = newFleetId();
    const batchOf = assignBatches(names.length, batches.value);
    const records: FleetHostRecord[] = names.map((host, position) => ({
      host, position, batch: batchOf[position]!, runId: newRunId(), resumeOf: resumeOf.get(host) ?? null, status: 'pending', reason: null,
    }));
    const batchesLabel = batches.value ? batches.value.map(amountLabel).join(',') : null;
    fs.create(
      {
        id,
        runbookId: runbook.id,
        target: parent ? parent.target : req.target!,
        user,
        parallel: parallel.value,
        maxFail: amountLabel(maxFail.value),
        batches: batchesLabel,
        options: { ...(req.converge ? { converge: true } : {}), ...(req.lang ? { lang: req.lang } : {}), ...(req.confirm ? { confirm: true } : {}) },
        startedAt: new Date().toISOString(),
        parentFleetId: parent?.id ?? null,
        owner: selfOwner(),
      },
      records,
    );
    const fleet = new Fleet(id, runbook, records, {
      deps: this.deps,
      user,
      parallel: parallel.value,
      maxFail: maxFail.value,
      vars: (host) => hostVars(declared, inv?.hosts.get(host)?.vars ?? {}, given),
      confirm: req.confirm === true,
      converge: req.converge === true,
      ...(req.record ? { record: req.record } : {}),
      ...(req.lang !== undefined ? { lang: req.lang } : {}),
    });
    this.live.set(id, fleet);
    void fleet.done.then(() => this.live.delete(id));
    this.deps.log.info('fleet started', { fleetId: id, runbook: runbook.id, hosts: names.length, user });
    fleet.start();
    return { ok: true, value: fleet };
  }

  dispose(): void {
    for (const f of [...this.live.values()]) f.dispose();
    this.live.clear();
  }
}
