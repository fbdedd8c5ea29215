// `stepwise run <runbook>`: the same engine as the browser, headless. Prints the run id, one
// line per step with its verdict, and stops at the first failed step with the reason.
// Ctrl-C, SIGTERM and SIGHUP interrupt it cleanly: the running block gets Ctrl-C, the run ends
// `interrupted` with its recording sealed into its chain, its lab and session folder are
// removed, and the command exits 128 + the signal's number. A second signal exits at once.
import { terminalHandoff } from './handoff.ts';
import fs from 'node:fs';
import { loadCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { Runs, defaultUser } from '../run/runs.ts';
import type { Run } from '../run/run.ts';
import { LabTarget } from '../target/lab.ts';
import { Interruption, runInterruption } from './signals.ts';
import { fixedKind, sshKind, targetKinds } from '../target/registry.ts';
import { hasSshd } from '../target/lab-ssh.ts';
import { sshTargetKind } from './hosts.ts';
import { formatDiagnostic } from '../errors.ts';
import type { Runbook, Step } from '../runbook/model.ts';
import type { StepVerdict } from '../../common/result.ts';
import { cliRuns, dataDir, runbooksDir } from './config.ts';
import { resolveVars } from '../run/vars.ts';
import { formatPlan, planRun } from '../exec/plan.ts';
import { varsFromEnv, varsFromFlags } from './var-sources.ts';
import { readSecret } from './prompt.ts';
import { langFromEnv, translator, type Translator } from '../../common/i18n/index.ts';
import { statusLabel } from '../../common/format.ts';
import { parseRoleArgs } from '../run/role-binding.ts';
import { rollBackAfterFailure } from './rollback.ts';
import { fleetCommand, isFleetRun, type FleetArgs } from './fleet.ts';

/** `stepwise run`'s flags: a fleet's (FleetArgs), and these. */
export interface RunArgs extends FleetArgs {
  verbose: boolean;
  /** `--role NAME=TARGET`, each role of a runbook that spans hosts on its target (docs/format.md, Roles). */
  role?: string[];
}

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export async function runCommand(a: RunArgs, out: (s: string) => void): Promise<number> {
  // A fleet selector (@group, label=…, a,b) or a fleet id to resume: the fleet's own command.
  if (isFleetRun(a)) return fleetCommand(a, out);
  const tr = cliTranslator(a);
  const usage = (msg: string) => (out(tr.t('cli.usage', { command: 'run', message: msg })), EXIT_USAGE);
  const flags = varsFromFlags(a, (f) => fs.readFileSync(f, 'utf8'), (kv) => tr.t('cli.run.varFormat', { value: JSON.stringify(kv) }));
  if (!flags.ok) return usage(flags.error);
  const given = flags.value;
  const fromEnv = varsFromEnv(process.env);
  if (a.record !== undefined && a.record !== 'strict' && a.record !== 'best-effort') {
    return usage(tr.t('cli.run.record', { value: JSON.stringify(a.record) }));
  }
  if (a.resume !== undefined && (a.from !== undefined || a.step !== undefined || a.all)) {
    return usage(tr.t('cli.run.resumeAlone'));
  }
  if (a.all && (a.runbook !== undefined || a.from !== undefined || a.step !== undefined)) {
    return usage(tr.t('cli.run.allAlone'));
  }
  if (!a.all && a.runbook === undefined) return usage(tr.t('cli.run.nameOne'));
  const kinds = targetKinds();
  const targetId = a.target ?? 'local';
  // --role NAME=TARGET: each value any target --target takes (an inventory host, ssh://…, local, lab).
  const roleArgs = parseRoleArgs(a.role ?? []);
  if (!roleArgs.ok) return usage(roleArgs.error.message);
  const boundRoles = a.role?.length ? roleArgs.value : undefined;
  if (boundRoles && a.all) return usage(tr.t('cli.run.roleAll'));
  for (const id of Object.values(boundRoles ?? {})) {
    if (Object.prototype.hasOwnProperty.call(kinds, id)) continue;
    const ssh = sshTargetKind(id, a, Object.keys(kinds));
    if (typeof ssh === 'string') return usage(ssh);
    kinds[id] = ssh;
  }
  if (!Object.prototype.hasOwnProperty.call(kinds, targetId)) {
    // An inventory host name or ssh://user@host[:port] (docs/targets.md).
    const ssh = sshTargetKind(targetId, a, Object.keys(kinds));
    if (typeof ssh === 'string') return usage(ssh);
    kinds[targetId] = ssh;
  }

  const dir = runbooksDir(a.runbooks);
  const catalog = loadCatalog(dir);
  const entries = a.all ? catalog.entries : [catalog.get(a.runbook!)].filter((e) => e !== undefined);
  if (entries.length === 0) return usage(a.all ? tr.t('cli.run.noRunbooks', { dir }) : tr.t('cli.run.noRunbook', { id: JSON.stringify(a.runbook), dir }));
  const broken = entries.filter((e) => !e.ok || !e.runbook);
  if (broken.length) {
    for (const e of broken) {
      out(tr.t('cli.hasErrors', { id: e.id }));
      e.diagnostics.filter((d) => d.severity === 'error').forEach((d) => out(`  ${formatDiagnostic(d)}`));
    }
    return EXIT_USAGE;
  }
  const runbooks = entries.map((e) => e.runbook!);
  const steps = a.all ? undefined : selectSteps(runbooks[0].steps, a);
  if (typeof steps === 'string') return usage(steps);

  // Each runbook's values: from the var file and the command line (single runbook only: they
  // name its variables), STEPWISE_VAR_<NAME> for whatever a runbook declares, and a prompt
  // without echo for a secret still empty when a person is at the terminal.
  const varsFor = async (rb: Runbook): Promise<Record<string, string> | string> => {
    const declared = new Set(rb.vars.map((v) => v.name));
    const vars: Record<string, string> = Object.fromEntries(Object.entries(fromEnv).filter(([k]) => declared.has(k)));
    if (!a.all) Object.assign(vars, given);
    for (const spec of rb.vars) {
      if (!spec.secret || spec.default || vars[spec.name] || a.plan) continue;
      if (!process.stdin.isTTY) continue;
      const v = await readSecret(`${rb.id}: ${spec.name} (${spec.describe}, secret): `);
      if (v === undefined) return `no value for the secret ${spec.name}`;
      vars[spec.name] = v;
    }
    return vars;
  };

  if (a.plan) {
    const profile = kinds[targetId].profile();
    for (const rb of runbooks) {
      const given = await varsFor(rb);
      if (typeof given === 'string') return usage(given);
      const resolved = resolveVars(rb, given);
      if (!resolved.ok) return usage(`${resolved.error.field ? `${resolved.error.field}: ` : ''}${resolved.error.message}`);
      // A runbook that spans hosts: each block planned on its role's target (--role, else --target for every role).
      const roleProfiles = rb.roles?.length ? Object.fromEntries(rb.roles.map((r) => [r, kinds[boundRoles?.[r] ?? targetId]!.profile()])) : undefined;
      const where = roleProfiles ? Object.entries(roleProfiles).map(([r, p]) => `${r}=${p.id}`).join(',') : profile.id;
      out(`plan for ${rb.id} on ${where} (${profile.platform}); nothing is run`);
      formatPlan(planRun(rb, resolved.vars.masked, profile, steps ?? rb.steps, { interactive: false, ...(roleProfiles ? { roles: roleProfiles } : {}) })).forEach((l) => out(l));
    }
    return 0;
  }

  const stop = runInterruption('run', out);
  // --all shares one target across the runbooks, as one host is built up section by section.
  let shared: LabTarget | undefined;
  let store: RunStore | undefined;
  let runs: Runs | undefined;
  try {
    if (a.all && targetId === 'lab') {
      try {
        // As many hosts as the runbook with the most roles spans (guide sections 6-8: two).
        const hosts = hasSshd() ? Math.max(1, ...runbooks.map((rb) => rb.roles?.length ?? 1)) : 1;
        shared = await LabTarget.create({ persistent: true, hosts });
      } catch (e) {
        return usage(tr.t('cli.run.labFailed', { message: (e as Error).message }));
      }
      kinds.lab = fixedKind(shared);
      // Its other hosts, for the roles of a runbook that spans hosts (sharedLabRoles).
      for (const h of shared.sshHosts()) kinds[`lab:${h.name}`] = sshKind(h);
    }
    if (stop.signal) return stop.exitCode;
    store = RunStore.open(dataDir(a.data));
    runs = cliRuns(catalog, store, dataDir(a.data), kinds);
    const rows: Row[] = [];
    const failedRunbooks = new Set<string>();
    let failed = false;
    for (const rb of runbooks) {
      if (stop.signal) break;
      const blockedBy = rb.requires.filter((r) => failedRunbooks.has(r));
      if (blockedBy.length) {
        // Not run and not a new failure: it needs what failed.
        failedRunbooks.add(rb.id);
        const reason = `blocked: ${blockedBy.join(', ')} failed`;
        out(cliTranslator(a).t('cli.blocked', { runbook: rb.id, steps: rb.steps.length, by: blockedBy.join(', ') }));
        rows.push({ runbook: rb.id, counts: { passed: 0, failed: 0, warning: 0, skipped: 0, blocked: rb.steps.length }, skipped: [reason] });
        continue;
      }
      const vars = await varsFor(rb);
      if (typeof vars === 'string') return usage(vars);
      const r = await runOne(runs, rb, steps, vars, targetId, a, out, stop, shared ? sharedLabRoles(rb) : boundRoles);
      if (r === 'usage') return EXIT_USAGE;
      rows.push({ runbook: rb.id, counts: r.counts, skipped: r.skipped });
      if (r.failed) failedRunbooks.add(rb.id);
      failed ||= r.failed;
    }
    if (a.all) printTable(rows, out, cliTranslator(a));
    if (stop.signal) return stop.exitCode;
    return failed ? EXIT_FAILED : 0;
  } finally {
    runs?.dispose();
    store?.close();
    // Every lab this process made (a per-run lab is being removed by its run's end): gone
    // before the command exits, however it ended.
    await stop.close();
  }
}

interface Counts {
  passed: number;
  failed: number;
  warning: number;
  skipped: number;
  /** Steps not run because a runbook this one requires failed. */
  blocked: number;
}

interface Row {
  runbook: string;
  counts: Counts;
  skipped: string[];
}

async function runOne(
  runs: Runs,
  rb: Runbook,
  only: Step[] | undefined,
  vars: Record<string, string>,
  targetId: string,
  a: RunArgs,
  out: (s: string) => void,
  stop: Interruption<Run>,
  /** With --all on one lab, each role of a runbook that spans hosts on its lab host. */
  roles?: Record<string, string>,
): Promise<{ counts: Counts; failed: boolean; skipped: string[] } | 'usage'> {
  const created = await runs.create(
    {
      runbook: rb.id,
      vars,
      // A runbook that spans hosts without --target: its roles must be bound (--role), not put on local.
      ...(roles ? { roles } : rb.roles && rb.roles.length > 1 && a.target === undefined ? {} : { target: targetId }),
      // On a terminal, interactive blocks run with it lent to the person (handoff.ts); answers blocks are still typed.
      options: { interactive: onTerminal(), answerPrompts: true, converge: a.converge, record: a.record as 'strict' | 'best-effort' | undefined },
      ...(a.resume !== undefined ? { resume: a.resume } : {}),
      ...(a.lang !== undefined ? { lang: a.lang } : {}),
    },
    defaultUser(),
  );
  if (!created.ok) {
    out(`stepwise run: ${rb.id}: ${created.error.field ? `${created.error.field}: ` : ''}${created.error.message}`);
    return 'usage';
  }
  const run = created.value;
  stop.live = run;
  const tr = cliTranslator(a);
  // A runbook that spans hosts: where each role runs (source=host1,destination=host2).
  out(tr.t('cli.runStart', { id: run.id, runbook: rb.id, target: run.roles.length ? (runs.store.getRun(run.id)?.target ?? targetId) : targetId }));
  run.approvalWaits.add((req) => {
    out(`run ${run.id}: block ${req.blockId} needs ${req.need} approval${req.need === 1 ? '' : 's'} by someone other than ${req.operator}${req.expiresAt ? ` before ${req.expiresAt}` : ''}`);
    out(`waiting for approval: stepwise approve ${run.id}`);
  });
  let steps = only ?? rb.steps;
  if (run.resumedFrom) {
    const from = run.resumedFrom;
    out(tr.t('cli.resuming', { parent: from.runId, step: from.stepId }));
    from.notes.forEach((n) => out(tr.t('cli.note', { note: n })));
    steps = rb.steps.slice(rb.steps.findIndex((s) => s.id === from.stepId));
  }
  // --verbose: every terminal's output (a runbook that spans hosts: each role's shell).
  if (a.verbose) for (const t of run.roles.length ? run.roles.map((r) => run.terminal(r)!) : [run.terminal()!]) t.session.onData((b) => process.stdout.write(b));
  const handoff = onTerminal() ? terminalHandoff(run, rb, { stdin: process.stdin, stdout: process.stdout, echoing: a.verbose === true }) : undefined;
  const counts: Counts = { passed: 0, failed: 0, warning: 0, skipped: 0, blocked: 0 };
  const skipped: string[] = [];
  let couldNotRun = false;
  let stepFailed = false;
  for (const [i, step] of steps.entries()) {
    if (stop.signal) break;
    const at = { n: i + 1, total: steps.length, step: step.id };
    const r = await run.executeStep(step.id, { confirmed: a.yes, converge: a.converge });
    if (stop.signal) {
      out(tr.t('cli.stepInterrupted', at));
      break;
    }
    const why = !r.ok ? (r.error.code === 'CONFIRM_REQUIRED' ? tr.t('cli.confirmHint', { message: r.error.message }) : r.error.message) : run.stopReason;
    if (why) {
      out(tr.t('cli.stepCouldNotRun', { ...at, why }));
      counts.failed++;
      couldNotRun = true;
      break;
    }
    const v = (r as { ok: true; value: StepVerdict }).value;
    counts[v.status]++;
    if (v.status === 'skipped') skipped.push(`${step.id}: ${v.reason ?? 'skipped'}`);
    const ms = [...v.blocks, ...v.checks].reduce((t, b) => t + b.durationMs, 0);
    // Seconds with one decimal in the locale's digits; the status word is the language's.
    const sec = tr.number(ms / 1000, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false });
    const status = statusLabel(v.status, tr);
    out(v.reason ? tr.t('cli.stepDoneReason', { ...at, status, reason: v.reason, sec }) : tr.t('cli.stepDone', { ...at, status, sec }));
    if (v.status === 'failed') {
      stepFailed = true;
      break;
    }
  }
  // --rollback: the steps that passed are undone in the run's own shell before it ends.
  if (a.rollback && stepFailed && !couldNotRun && !stop.signal && !run.isEnded) await rollBackAfterFailure(run, runs.store, a, out);
  // The run decides its own status from its verdicts (run/status.ts); the CLI only says why it stopped.
  if (!run.isEnded) run.end(couldNotRun ? { stopped: 'failed' } : stop.signal ? { stopped: 'interrupted', reason: `interrupted by ${stop.signal}` } : {});
  handoff?.dispose();
  stop.live = undefined;
  const status = runs.store.getRun(run.id)?.status;
  out(tr.t('cli.runEnd', { id: run.id, status: statusLabel(status ?? '', tr), passed: counts.passed, failed: counts.failed, skipped: counts.skipped, warnings: counts.warning }));
  out(tr.t('cli.auditHead', { head: run.auditHead() ?? '', id: run.id }));
  if (status === 'failed' || status === 'interrupted') out(tr.t('cli.resumeWith', { runbook: rb.id, id: run.id }));
  return { counts, failed: status === 'failed' || status === 'interrupted', skipped };
}

/** Whether a person is at this process's terminal (stdin and stdout both a TTY). */
function onTerminal(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** The --all summary: a row per runbook, skip reasons, then one line over all steps (blocked count as skipped). */
function printTable(rows: Row[], out: (s: string) => void, tr: Translator): void {
  const w = Math.max(8, ...rows.map((r) => r.runbook.length));
  out('');
  out(`${'runbook'.padEnd(w)}  passed  failed  skipped  blocked  warnings`);
  for (const r of rows) {
    const c = r.counts;
    out(`${r.runbook.padEnd(w)}  ${String(c.passed + c.warning).padStart(6)}  ${String(c.failed).padStart(6)}  ${String(c.skipped).padStart(7)}  ${String(c.blocked).padStart(7)}  ${String(c.warning).padStart(8)}`);
    for (const s of r.skipped) out(`${''.padEnd(w)}    ${s.startsWith('blocked') ? s : `skipped ${s}`}`);
  }
  const t = rows.reduce((acc, r) => ({ p: acc.p + r.counts.passed + r.counts.warning, f: acc.f + r.counts.failed, s: acc.s + r.counts.skipped + r.counts.blocked }), { p: 0, f: 0, s: 0 });
  out(tr.t('cli.totals', { passed: t.p, failed: t.f, skipped: t.s }));
}

/** The language of the CLI's own lines: --lang, else LC_ALL, LC_MESSAGES, LANG (ko_KR.UTF-8 → ko), else English. */
function cliTranslator(a: RunArgs): Translator {
  return translator(langFromEnv(a.lang, process.env));
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

/** --all on one lab: role i of a runbook that spans hosts runs on lab host i (`lab` is host1,
 *  `lab:host2`… its other hosts), never on a lab of its own; a runbook without roles on the lab. */
function sharedLabRoles(rb: Runbook): Record<string, string> | undefined {
  if (!rb.roles?.length) return undefined;
  return Object.fromEntries(rb.roles.map((r, i) => [r, i === 0 ? 'lab' : `lab:host${i + 1}`]));
}
