// `stepwise run <runbook>`: the same engine as the browser, headless. Prints the run id, one
// line per step with its verdict, and stops at the first failed step with the reason.
import { loadCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { Runs, defaultUser } from '../run/runs.ts';
import { LocalTarget } from '../target/local.ts';
import { createLogger } from '../log.ts';
import { formatDiagnostic } from '../errors.ts';
import type { Step } from '../runbook/model.ts';
import { dataDir, runbooksDir } from './config.ts';
import { resolveVars } from '../run/vars.ts';
import { formatPlan, planRun } from '../exec/plan.ts';

export interface RunArgs {
  runbook: string;
  vars: string[];
  from?: string;
  step?: string;
  yes: boolean;
  runbooks?: string;
  data?: string;
  target?: string;
  verbose: boolean;
  resume?: string;
  converge: boolean;
  plan: boolean;
  record?: string;
}

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export async function runCommand(a: RunArgs, out: (s: string) => void): Promise<number> {
  const vars: Record<string, string> = {};
  for (const kv of a.vars) {
    const i = kv.indexOf('=');
    if (i <= 0) {
      out(`stepwise run: --var ${JSON.stringify(kv)} must be NAME=VALUE`);
      return EXIT_USAGE;
    }
    vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const dir = runbooksDir(a.runbooks);
  const catalog = loadCatalog(dir);
  const entry = catalog.get(a.runbook);
  if (!entry) {
    out(`stepwise run: no runbook ${JSON.stringify(a.runbook)} in ${dir}; try \`stepwise list\``);
    return EXIT_USAGE;
  }
  if (!entry.ok || !entry.runbook) {
    out(`stepwise run: runbook ${entry.id} has errors:`);
    entry.diagnostics.filter((d) => d.severity === 'error').forEach((d) => out(`  ${formatDiagnostic(d)}`));
    return EXIT_USAGE;
  }
  const rb = entry.runbook;
  if (a.resume !== undefined && (a.from !== undefined || a.step !== undefined)) {
    out('stepwise run: --resume picks the step itself; drop --from/--step');
    return EXIT_USAGE;
  }
  let steps = selectSteps(rb.steps, a);
  if (typeof steps === 'string') {
    out(`stepwise run: ${steps}`);
    return EXIT_USAGE;
  }
  if (a.record !== undefined && a.record !== 'strict' && a.record !== 'best-effort') {
    out(`stepwise run: --record must be strict or best-effort, not ${JSON.stringify(a.record)}`);
    return EXIT_USAGE;
  }
  const targetId = a.target ?? 'local';
  if (targetId !== 'local') {
    out(`stepwise run: no target ${JSON.stringify(targetId)}; known: local`);
    return EXIT_USAGE;
  }

  if (a.plan) {
    const resolved = resolveVars(rb, vars);
    if (!resolved.ok) {
      out(`stepwise run: ${resolved.error.field ? `${resolved.error.field}: ` : ''}${resolved.error.message}`);
      return EXIT_USAGE;
    }
    const target = new LocalTarget();
    out(`plan for ${rb.id} on ${target.id} (${target.platform}); nothing is run`);
    formatPlan(planRun(rb, resolved.vars.masked, target, steps, { interactive: false })).forEach((l) => out(l));
    return 0;
  }

  const store = RunStore.open(dataDir(a.data));
  const runs = new Runs({
    catalog: () => catalog,
    store,
    audit: new AuditLog(store, dataDir(a.data)),
    dataDir: dataDir(a.data),
    log: createLogger(process.env.STEPWISE_LOG ?? 'warn'),
    targets: { local: () => new LocalTarget() },
  });
  try {
    const created = await runs.create(
      { runbook: rb.id, vars, target: targetId, options: { interactive: false, converge: a.converge, record: a.record as 'strict' | 'best-effort' | undefined }, ...(a.resume !== undefined ? { resume: a.resume } : {}) },
      defaultUser(),
    );
    if (!created.ok) {
      out(`stepwise run: ${created.error.field ? `${created.error.field}: ` : ''}${created.error.message}`);
      return EXIT_USAGE;
    }
    const run = created.value;
    out(`run ${run.id} ${rb.id} on ${targetId}`);
    if (run.resumedFrom) {
      const from = run.resumedFrom;
      out(`resuming run ${from.runId} from step ${from.stepId}`);
      from.notes.forEach((n) => out(`note: ${n}`));
      steps = rb.steps.slice(rb.steps.findIndex((s) => s.id === from.stepId));
    }
    if (a.verbose) run.session.onData((b) => process.stdout.write(b));
    const counts = { passed: 0, failed: 0, warning: 0, skipped: 0 };
    let failedAt: string | undefined;
    for (const [i, step] of steps.entries()) {
      const label = `[${i + 1}/${steps.length}] ${step.id}`;
      const r = await run.executeStep(step.id, { confirmed: a.yes, converge: a.converge });
      if (!r.ok) {
        const hint = r.error.code === 'CONFIRM_REQUIRED' ? ' (rerun with --yes to confirm)' : '';
        out(`${label}: failed — ${r.error.message}${hint}`);
        counts.failed++;
        failedAt = step.id;
        break;
      }
      const v = r.value;
      if (run.stopReason) {
        out(`${label}: failed — ${run.stopReason}`);
        counts.failed++;
        failedAt = step.id;
        break;
      }
      counts[v.status]++;
      const ms = [...v.blocks, ...v.checks].reduce((t, b) => t + b.durationMs, 0);
      out(`${label}: ${v.status}${v.reason ? ` — ${v.reason}` : ''} (${(ms / 1000).toFixed(1)}s)`);
      if (v.status === 'failed') {
        failedAt = step.id;
        break;
      }
    }
    // A run that got through to the end passed; for a resumed one, its predecessors did the rest.
    const complete = steps.length === rb.steps.length || run.resumedFrom !== undefined;
    run.end(failedAt ? 'failed' : complete ? 'passed' : 'ended');
    const status = store.getRun(run.id)?.status;
    out(`run ${run.id} ${status}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.warning ? `, ${counts.warning} warnings` : ''}`);
    out(`audit head ${run.auditHead()} (keep it elsewhere; \`stepwise audit verify ${run.id}\` checks the chain)`);
    if (failedAt) out(`resume with: stepwise run ${rb.id} --resume ${run.id}`);
    return failedAt ? EXIT_FAILED : 0;
  } finally {
    runs.dispose();
    store.close();
  }
}

function selectSteps(all: Step[], a: RunArgs): Step[] | string {
  const find = (id: string) => all.findIndex((s) => s.id === id);
  if (a.step !== undefined) {
    const i = find(a.step);
    return i < 0 ? `no step ${JSON.stringify(a.step)}; steps: ${all.map((s) => s.id).join(', ')}` : [all[i]];
  }
  if (a.from !== undefined) {
    const i = find(a.from);
    return i < 0 ? `no step ${JSON.stringify(a.from)}; steps: ${all.map((s) => s.id).join(', ')}` : all.slice(i);
  }
  return all;
}
