// The live runs of a server or CLI process: creates them from requests, finds them, ends them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runbook } from '../runbook/model.ts';
import { saveSnapshot } from '../record/snapshot.ts';
import type { Catalog } from '../runbook/catalog.ts';
import type { Target } from '../target/target.ts';
import type { TargetKind } from '../target/registry.ts';
import type { Logger } from '../log.ts';
import type { RunStore } from '../record/store.ts';
import type { AuditLog } from '../record/audit.ts';
import type { Disposable } from '../../common/disposable.ts';
import { failure } from '../errors.ts';
import { Run, type RunOptions } from './run.ts';
import type { Outcome } from '../../common/outcome.ts';
import { resolveVars } from './vars.ts';
import { resumePoint, type ResumePoint } from './resume.ts';
import { RunHistory } from './history.ts';
import { runbookLang } from '../runbook/translation.ts';
import { bindRoles, bindingLabel } from './role-binding.ts';
import { labRoleTargets, type RoleTarget } from './role-shells.ts';
import type { ShellState } from '../exec/state.ts';
import { rollbackStart, type RollbackStart } from './rollback.ts';

export interface RunRequest {
  runbook: string | null;
  vars?: Record<string, unknown>;
  target?: string;
  options?: RunOptions;
  /** Continue this earlier run of the same runbook from its failed step. */
  resume?: string;
  /** Roll back this failed run (rollback.ts): its inputs and shell state, linked to it by options.rollbackOf. */
  rollback?: string;
  /**
   * The language to read the runbook in (a translation's code); default: the source's. Without
   * a translation in that language the run reads the source (and records the source's language).
   */
  lang?: string;
  cols?: number;
  rows?: number;
  /** The run's id, reserved beforehand (fleet.ts); default a new one. */
  id?: string;
  /**
   * A runbook that spans hosts: each role's target id (`{"source": "host1", ...}`); or give
   * `target: "lab"` for a lab host per role (role-binding.ts).
   */
  roles?: Record<string, string>;
}

export interface RunsDeps {
  catalog: () => Catalog;
  store: RunStore;
  audit: AuditLog;
  dataDir: string;
  log: Logger;
  /** The targets offered, by id. */
  targets: Record<string, TargetKind>;
  /** How many runs may be live at once (defaults: RUN_LIMITS). */
  limits?: Partial<RunLimits>;
}

export interface RunLimits {
  /** Live runs one user may hold. */
  perUser: number;
  /** Live runs on this server, all users together. */
  total: number;
  /** Live runs on a lab target (each a set of namespaces, overlays and a libvirtd), all users together. */
  labs: number;
}

// Each live run is a shell (about 1 MB and two descriptors; a lab far more). A person drives
// one or two runs at a time; a classroom of 30 fits the total; labs are heavy, hence few.
export const RUN_LIMITS: RunLimits = { perUser: 10, total: 64, labs: 4 };
/** The target id whose runs count against `labs`. */
export const LAB_TARGET = 'lab';

/**
 * A resumed run of a runbook that spans hosts, given no binding: its parent's (Resume on the
 * step page sends none). A parent on a lab of its own (`lab`, `lab:hostN`) gets a new lab.
 */
function parentBinding(roles: unknown): Record<string, string> | undefined {
  if (!Array.isArray(roles) || roles.length === 0 || parentLab(roles)) return undefined;
  const out = Object.fromEntries(roles.filter((r) => typeof r?.role === 'string' && typeof r?.target === 'string').map((r) => [r.role as string, r.target as string]));
  return Object.keys(out).length ? out : undefined;
}

function parentLab(roles: unknown): string | undefined {
  return Array.isArray(roles) && roles.length > 0 && roles.every((r) => typeof r?.target === 'string' && (r.target === LAB_TARGET || r.target.startsWith(`${LAB_TARGET}:`))) ? LAB_TARGET : undefined;
}

/** Who the audit names: the OS user running Stepwise unless STEPWISE_USER says otherwise. */
export function defaultUser(): string {
  return process.env.STEPWISE_USER ?? os.userInfo().username;
}

export class Runs implements Disposable {
  private readonly live = new Map<string, Run>();
  /** Runs counted against the limits: live, or still starting (a burst is counted as it comes). */
  private readonly counted = new Set<{ user: string; lab: boolean }>();
  private reaper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RunsDeps) {}

  get store(): RunStore {
    return this.deps.store;
  }

  async create(req: RunRequest, user: string): Promise<Outcome<Run>> {
    let runbook;
    if (req.runbook !== null) {
      const entry = this.deps.catalog().get(req.runbook);
      if (!entry) return { ok: false, error: failure('UNKNOWN_RUNBOOK', `no runbook with id ${JSON.stringify(req.runbook)}`, 'runbook') };
      if (!entry.ok || !entry.runbook) {
        const first = entry.diagnostics.find((d) => d.severity === 'error');
        return { ok: false, error: failure('BROKEN_RUNBOOK', `runbook ${entry.id} has errors${first ? `, first: ${first.file}:${first.line} ${first.code} ${first.message}` : ''}`, 'runbook') };
      }
      runbook = entry.runbook;
      this.pin(runbook);
    }
    let resumed: ResumePoint | undefined;
    if (req.resume !== undefined) {
      if (!runbook) return { ok: false, error: failure('BAD_REQUEST', 'only a runbook run can be resumed', 'resume') };
      const point = resumePoint(new RunHistory(this.deps.store, this.deps.catalog), req.resume, runbook);
      if (!point.ok) return point;
      resumed = point.value;
    }
    let rollbackFrom: RollbackStart | undefined;
    if (req.rollback !== undefined) {
      if (!runbook || resumed) return { ok: false, error: failure('BAD_REQUEST', 'only a runbook run can be rolled back, and not while resuming', 'rollback') };
      const start = rollbackStart(new RunHistory(this.deps.store, this.deps.catalog), req.rollback, runbook);
      if (!start.ok) return start;
      rollbackFrom = start.value;
    }
    let lang: string | undefined;
    let translation: { file: string; contentHash: string } | undefined;
    if (runbook) {
      // A resumed run goes on in the language its parent was read in, unless told otherwise.
      const parentLang = (resumed ?? rollbackFrom)?.parent.options.lang;
      lang = req.lang ?? (typeof parentLang === 'string' ? parentLang : undefined) ?? runbookLang(runbook);
      if (lang !== runbookLang(runbook)) {
        const entry = this.deps.catalog().get(runbook.id)!;
        const t = entry.translations.find((x) => x.lang === lang);
        if (!t) {
          // No translation in that language: the operator reads the source.
          lang = runbookLang(runbook);
        } else if (!t.ok || !t.runbook) {
          // A translation that drifted from its source is refused: it would show other commands than those run.
          const first = t.diagnostics.find((d) => d.severity === 'error');
          return { ok: false, error: failure('BROKEN_RUNBOOK', `the ${lang} translation of ${runbook.id} has errors${first ? `, first: ${first.file}:${first.line} ${first.code} ${first.message}` : ''}`, 'lang') };
        } else {
          this.pin(t.runbook);
          translation = { file: t.file, contentHash: t.runbook.contentHash };
        }
      }
    }
    // A bare terminal has no prose to read: its lang (the interface's) is not recorded.
    const vars = resolveVars(runbook, { ...resumed?.vars, ...rollbackFrom?.vars, ...req.vars });
    if (!vars.ok) return vars;
    // Which target each role runs on; a runbook without roles has its one target, as always.
    const bound = bindRoles(runbook?.roles, req.roles ?? (req.target === undefined ? parentBinding(resumed?.parent.options.roles) : undefined), req.target ?? (req.roles === undefined ? parentLab(resumed?.parent.options.roles) : undefined));
    if (!bound.ok) return bound;
    const binding = bound.value;
    const kindOf = (id: string) => (Object.prototype.hasOwnProperty.call(this.deps.targets, id) ? this.deps.targets[id] : undefined);
    const unknown = (id: string, field: string) => ({ ok: false as const, error: failure('UNKNOWN_TARGET', `no target ${JSON.stringify(id)}; known: ${Object.keys(this.deps.targets).join(', ')}`, field) });
    for (const r of binding.kind === 'roles' ? binding.roles : []) if (!kindOf(r.target)) return unknown(r.target, 'roles');
    const targetId = binding.kind === 'single' ? binding.target : binding.kind === 'lab' ? LAB_TARGET : binding.roles[0]!.target;
    const kind = kindOf(targetId);
    if (!kind) return unknown(targetId, 'target');
    const slot = { user, lab: targetId === LAB_TARGET || (binding.kind === 'roles' && binding.roles.some((r) => r.target === LAB_TARGET)) };
    const refused = this.overLimit(slot);
    if (refused) {
      this.deps.log.warn('run refused: limit reached', { user, target: targetId, reason: refused.message });
      return { ok: false, error: refused };
    }
    this.counted.add(slot); // released when the run ends, or now if it does not start
    let target: Target;
    let roleTargets: RoleTarget[] | undefined;
    try {
      if (binding.kind === 'lab') roleTargets = await labRoleTargets(binding.roles);
      else if (binding.kind === 'roles') roleTargets = await this.roleTargets(binding.roles);
      target = roleTargets ? roleTargets[0]!.target : await kind.create();
    } catch (e) {
      this.counted.delete(slot);
      this.deps.log.error('target failed', { target: targetId, error: (e as Error).message });
      return { ok: false, error: failure('TARGET_FAILED', `target ${targetId} could not be set up: ${(e as Error).message}`, roleTargets || binding.kind !== 'single' ? 'roles' : 'target') };
    }
    // A resumed run with roles restores each role's shell state (run.ts keeps them under `roles`).
    const stateOf = (st: ShellState | undefined) => (st as (ShellState & { roles?: Record<string, ShellState> }) | undefined)?.roles;
    const parentRoles = stateOf(resumed?.state ?? rollbackFrom?.state);
    const roleFields = roleTargets
      ? {
          roles: roleTargets,
          targetLabel: bindingLabel(roleTargets.map((r) => ({ role: r.role, target: r.bound }))),
          ...(parentRoles ? { restoreRoles: parentRoles } : {}),
        }
      : {};
    const started = await Run.start({
      runbook,
      vars: vars.vars,
      target,
      user,
      options: rollbackFrom ? { ...req.options, rollbackOf: rollbackFrom.parent.id } : req.options,
      store: this.deps.store,
      audit: this.deps.audit,
      dataDir: this.deps.dataDir,
      log: this.deps.log,
      cols: req.cols,
      rows: req.rows,
      ...(req.id !== undefined ? { id: req.id } : {}),
      ...(lang !== undefined ? { lang } : {}),
      ...(translation ? { translation } : {}),
      ...(resumed ? { parentRunId: resumed.parent.id, restore: parentRoles && roleTargets ? parentRoles[roleTargets[0]!.role] : resumed.state } : {}),
      ...(rollbackFrom?.state ? { restore: rollbackFrom.state } : {}),
      ...roleFields,
    });
    if (!started.ok) {
      this.counted.delete(slot);
      // The other roles' targets before the first's (a lab's hosts go with it).
      for (const r of (roleTargets ?? []).slice(1).reverse()) r.target.release?.();
      target.release?.();
    }
    if (started.ok) {
      const run = started.value;
      if (resumed) run.resumedFrom = { runId: resumed.parent.id, stepId: resumed.fromStepId, notes: resumed.notes };
      this.live.set(run.id, run);
      run.session.onExit(() => {
        this.live.delete(run.id);
        this.counted.delete(slot);
      });
    }
    return started;
  }

  /** Each role's target, made in order; if one cannot be made, those made are let go and the error thrown. */
  private async roleTargets(roles: ReadonlyArray<{ role: string; target: string }>): Promise<RoleTarget[]> {
    const made: RoleTarget[] = [];
    try {
      for (const r of roles) {
        try {
          made.push({ role: r.role, bound: r.target, target: await this.deps.targets[r.target]!.create() });
        } catch (e) {
          throw new Error(`role ${r.role} (${r.target}): ${(e as Error).message}`);
        }
      }
      return made;
    } catch (e) {
      for (const m of made.reverse()) m.target.release?.();
      throw e;
    }
  }

  /** Why one more run of `slot` would be too many, or undefined when it may start. */
  private overLimit(slot: { user: string; lab: boolean }): ReturnType<typeof failure> | undefined {
    const l = { ...RUN_LIMITS, ...this.deps.limits };
    let mine = 0;
    let labs = 0;
    for (const c of this.counted) {
      if (c.user === slot.user) mine++;
      if (c.lab) labs++;
    }
    if (mine >= l.perUser) return failure('RUN_LIMIT', `${slot.user} has ${mine} live runs, the most one user may have: end one first`);
    if (this.counted.size >= l.total) return failure('RUN_LIMIT', `this server has ${this.counted.size} live runs, its limit: end one first`);
    if (slot.lab && labs >= l.labs) return failure('RUN_LIMIT', `${labs} labs are live, the most this server runs at once: end one first`, 'target');
    return undefined;
  }

  /** Keeps the runbook's text as run, so the run stays readable after the file changes. */
  private pin(rb: Runbook): void {
    const dir = this.deps.catalog().dir;
    try {
      if (!saveSnapshot(this.deps.dataDir, rb.contentHash, fs.readFileSync(path.join(dir, rb.file), 'utf8'))) {
        this.deps.log.warn('runbook changed while starting a run; not pinned', { runbook: rb.id });
      }
    } catch (e) {
      this.deps.log.warn('runbook snapshot failed', { runbook: rb.id, error: (e as Error).message });
    }
  }

  get(id: string): Run | undefined {
    return this.live.get(id);
  }

  end(id: string): boolean {
    const run = this.live.get(id);
    if (!run) return false;
    this.live.delete(id);
    run.end();
    return true;
  }

  /**
   * Ends runs nobody has watched or used for graceMs: a browser that reloads or drops its
   * connection gets the grace period to come back to a running session.
   */
  reapIdle(graceMs: number, everyMs = Math.min(graceMs, 15_000)): void {
    clearInterval(this.reaper);
    this.reaper = setInterval(() => {
      const now = Date.now();
      for (const run of [...this.live.values()]) {
        if (run.clients === 0 && !run.busy && now - run.lastActivity > graceMs) {
          this.deps.log.info('run ended after its grace period', { runId: run.id, idleMs: now - run.lastActivity });
          this.end(run.id);
        }
      }
    }, everyMs);
    this.reaper.unref();
  }

  get size(): number {
    return this.live.size;
  }

  dispose(): void {
    clearInterval(this.reaper);
    for (const id of [...this.live.keys()]) this.end(id);
  }
}
