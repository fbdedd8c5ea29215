// `stepwise run <runbook> --target @group|@all|label=…|a,b [--parallel N] [--max-fail N|P%]
// [--batches 1,25%,100%]`, and `--resume FLEETID`: a fleet run (docs/targets.md, Fleets). Prints
// the fleet id first, then one line per host per step prefixed with the host, then a table host ×
// status and `N passed, N failed, N skipped` counting hosts. Exit 1 when any host failed (or was
// skipped or interrupted). Ctrl-C, SIGTERM, SIGHUP stop it as they stop a single run: every
// running host's block gets Ctrl-C, its run ends `interrupted` and sealed, hosts not started are
// skipped, nothing is left behind, and the command exits 128 + the signal; a second signal ends
// every run at once (records consistent) and exits.
import fs from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { isFleetId } from '../record/fleets.ts';
import { Runs, defaultUser, RUN_LIMITS } from '../run/runs.ts';
import { Fleets, interruptOrphanedFleets, type Fleet, type FleetEvent } from '../run/fleet.ts';
import { sshKind, type TargetKind } from '../target/registry.ts';
import { Interruption } from './signals.ts';
import { isFleetSelector } from '../target/selector.ts';
import { createLogger } from '../log.ts';
import { formatDiagnostic } from '../errors.ts';
import { dataDir, runbooksDir } from './config.ts';
import { cliInventory } from './hosts.ts';
import { varsFromEnv, varsFromFlags } from './var-sources.ts';
import { readSecret } from './prompt.ts';
import { langFromEnv, translator, type Translator } from '../../common/i18n/index.ts';
import { statusLabel } from '../../common/format.ts';
import type { FleetView } from '../run/fleet-view.ts';
import { RunHistory } from '../run/history.ts';
import { exportFleet, FLEET_REPORT_FORMATS, type FleetReportFormat } from '../report/fleet.ts';
import { rollBackFleetHosts } from './rollback.ts';

/** `stepwise run`'s flags as a fleet takes them (RunArgs, run.ts, adds --verbose and --role). */
export interface FleetArgs {
  /** Absent with --all. */
  runbook?: string;
  all: boolean;
  vars: string[];
  varFile?: string;
  from?: string;
  step?: string;
  yes: boolean;
  runbooks?: string;
  data?: string;
  target?: string;
  resume?: string;
  converge: boolean;
  plan: boolean;
  record?: string;
  /** Read the runbook in this language (a translation's code); the run pins the translation too. */
  lang?: string;
  /** The inventory naming SSH hosts (else STEPWISE_INVENTORY, else inventory.yaml beside the runbooks). */
  inventory?: string;
  /** Trust an SSH host's unknown key on first connection (recorded in the run's audit chain). */
  acceptNewHostKey?: boolean;
  /** A fleet's flags: hosts at once, the failure budget, canary batches. */
  parallel?: string;
  maxFail?: string;
  batches?: string;
  /** When a step fails, roll back (rollback.ts): a run, the steps that passed, in its shell; a
   *  fleet, the hosts that failed and those that passed the failed step. */
  rollback?: boolean;
}

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const MARK: Record<string, string> = { passed: '✓', warning: '!', failed: '✗', skipped: '-', 'not-run': '·' };

/** Whether `stepwise run` is a fleet run: a fleet selector, a fleet id to resume, or fleet flags. */
export function isFleetRun(a: { target?: string; resume?: string; parallel?: string; maxFail?: string; batches?: string }): boolean {
  return (a.target !== undefined && isFleetSelector(a.target)) || (a.resume !== undefined && isFleetId(a.resume)) || a.parallel !== undefined || a.maxFail !== undefined || a.batches !== undefined;
}

export async function fleetCommand(a: FleetArgs, out: (s: string) => void): Promise<number> {
  const tr = translator(langFromEnv(a.lang, process.env));
  const usage = (msg: string) => (out(tr.t('cli.usage', { command: 'run', message: msg })), EXIT_USAGE);
  if (a.all || a.from !== undefined || a.step !== undefined || a.plan) return usage(tr.t('cli.fleet.alone'));
  if (a.runbook === undefined) return usage(tr.t('cli.run.nameOne'));
  const resuming = a.resume !== undefined;
  if (resuming && !isFleetId(a.resume!)) return usage(tr.t('cli.fleet.resumeId', { id: JSON.stringify(a.resume) }));
  if (!resuming && (a.target === undefined || !isFleetSelector(a.target))) return usage(tr.t('cli.fleet.needSelector'));
  if (a.record !== undefined && a.record !== 'strict' && a.record !== 'best-effort') return usage(tr.t('cli.run.record', { value: JSON.stringify(a.record) }));

  const inv = cliInventory(a.inventory, a.runbooks);
  if (typeof inv === 'string') return usage(inv);
  const dir = runbooksDir(a.runbooks);
  const catalog = loadCatalog(dir);
  const entry = catalog.get(a.runbook);
  if (!entry) return usage(tr.t('cli.run.noRunbook', { id: JSON.stringify(a.runbook), dir }));
  if (!entry.ok || !entry.runbook) {
    out(tr.t('cli.hasErrors', { id: entry.id }));
    entry.diagnostics.filter((d) => d.severity === 'error').forEach((d) => out(`  ${formatDiagnostic(d)}`));
    return EXIT_USAGE;
  }
  const rb = entry.runbook;

  // The values: a var file, STEPWISE_VAR_<NAME> the runbook declares, --var; a secret still empty
  // is asked once (no echo) when a person is at the terminal, and goes to every host.
  const declared = new Set(rb.vars.map((v) => v.name));
  const flags = varsFromFlags(a, (f) => fs.readFileSync(f, 'utf8'), (kv) => tr.t('cli.run.varFormat', { value: JSON.stringify(kv) }));
  if (!flags.ok) return usage(flags.error);
  const given: Record<string, string> = { ...Object.fromEntries(Object.entries(varsFromEnv(process.env)).filter(([k]) => declared.has(k))), ...flags.value };
  for (const spec of rb.vars) {
    if (!spec.secret || spec.default || given[spec.name] || !process.stdin.isTTY) continue;
    const v = await readSecret(`${rb.id}: ${spec.name} (${spec.describe}, secret): `);
    if (v === undefined) return usage(`no value for the secret ${spec.name}`);
    given[spec.name] = v;
  }

  // Every inventory host is a target (each connected per run, host keys strict).
  const kinds: Record<string, TargetKind> = {};
  for (const [name, host] of inv?.hosts ?? []) kinds[name] = sshKind(host, { acceptNewHostKey: a.acceptNewHostKey ?? false });

  // The first signal stops the fleet cleanly (fleet.stop); a second one ends every run now and exits.
  const stop = new Interruption<Fleet>(out, {
    notice: (sig) => `stepwise run: ${sig}: stopping the fleet (again to exit at once)`,
    stop: (fleet, sig) => void fleet.stop(`interrupted by ${sig}`),
    endNow: (fleet) => fleet.dispose(),
  });
  const data = dataDir(a.data);
  let store: RunStore | undefined;
  let runs: Runs | undefined;
  let fleets: Fleets | undefined;
  try {
    store = RunStore.open(data);
    interruptOrphanedFleets(store);
    const log = createLogger(process.env.STEPWISE_LOG ?? 'warn');
    const parallelHint = Number(a.parallel);
    // This process runs only this fleet: its own limits follow --parallel.
    const limit = Number.isInteger(parallelHint) && parallelHint > 0 ? Math.max(parallelHint, RUN_LIMITS.perUser) : RUN_LIMITS.perUser;
    runs = new Runs({ catalog: () => catalog, store, audit: new AuditLog(store, data), dataDir: data, log, targets: kinds, limits: { perUser: limit, total: Math.max(limit, RUN_LIMITS.total) } });
    fleets = new Fleets({ runs, store, catalog: () => catalog, inventory: () => inv, log, targetIds: () => Object.keys(kinds), adHoc: true });
    if (stop.signal) return stop.exitCode;
    const started = fleets.start(
      {
        runbook: rb.id,
        ...(a.target !== undefined ? { target: a.target } : {}),
        ...(a.parallel !== undefined ? { parallel: a.parallel } : {}),
        ...(a.maxFail !== undefined ? { maxFail: a.maxFail } : {}),
        ...(a.batches !== undefined ? { batches: a.batches } : {}),
        vars: given,
        ...(a.lang !== undefined ? { lang: a.lang } : {}),
        confirm: a.yes,
        converge: a.converge,
        ...(a.record ? { record: a.record as 'strict' | 'best-effort' } : {}),
        ...(resuming ? { resume: a.resume! } : {}),
      },
      defaultUser(),
    );
    if (!started.ok) return usage(`${started.error.field ? `${started.error.field}: ` : ''}${started.error.message}`);
    const fleet = started.value;
    stop.live = fleet;
    const first = fleet.view();
    out(tr.t('cli.fleet.start', { id: fleet.id, runbook: rb.id, target: first.target, hosts: first.hosts.length, parallel: first.parallel, maxFail: first.maxFail, batches: first.batches ?? '-' }));
    if (first.parentFleetId) out(tr.t('cli.fleet.resuming', { parent: first.parentFleetId, hosts: first.hosts.map((h) => h.host).join(', ') }));
    const width = Math.max(...first.hosts.map((h) => h.host.length));
    fleet.subscribe((e) => printEvent(e, width, out, tr));
    const status = await fleet.done;
    const view = fleets.view(fleet.id) ?? first;
    printTable(view, out, tr);
    const c = view.counts;
    out(tr.t('cli.totals', { passed: c.passed, failed: c.failed + c.interrupted, skipped: c.skipped }));
    if (a.rollback && status === 'failed' && !stop.signal) await rollBackFleetHosts(runs, new RunHistory(store, () => catalog), view, a, out);
    if (status !== 'passed') out(tr.t('cli.fleet.resumeWith', { runbook: rb.id, id: fleet.id }));
    if (stop.signal) return stop.exitCode;
    return status === 'passed' ? 0 : EXIT_FAILED;
  } finally {
    fleets?.dispose();
    runs?.dispose();
    store?.close();
    await stop.close();
  }
}

function printEvent(e: FleetEvent, width: number, out: (s: string) => void, tr: Translator): void {
  if (e.type === 'ended') return;
  const who = `[${e.host}]`.padEnd(width + 2);
  if (e.type === 'step') {
    if (e.status === 'running' || e.status === 'pending') return;
    const sec = e.durationMs !== undefined ? ` (${tr.number(e.durationMs / 1000, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false })}s)` : '';
    out(`${who} ${MARK[e.status] ?? '?'} ${e.stepId} ${statusLabel(e.status, tr)}${e.reason ? ` — ${e.reason}` : ''}${sec}`);
    return;
  }
  if (e.status === 'pending') return;
  if (e.status === 'running') {
    out(`${who} ${tr.t('cli.fleet.hostRunning', { runId: e.runId })}`);
    return;
  }
  out(`${who} ${statusLabel(e.status, tr)}${e.reason ? ` — ${e.reason}` : ''}`);
}

function printTable(v: FleetView, out: (s: string) => void, tr: Translator): void {
  const w = Math.max(4, ...v.hosts.map((h) => h.host.length));
  const sw = Math.max(6, ...v.hosts.map((h) => statusLabel(h.status, tr).length));
  out('');
  out(`${'host'.padEnd(w)}  batch  ${'status'.padEnd(sw)}  run                      steps`);
  for (const h of v.hosts) {
    const steps = h.steps.map((s) => MARK[s.status] ?? '·').join('');
    out(`${h.host.padEnd(w)}  ${String(h.batch + 1).padStart(5)}  ${statusLabel(h.status, tr).padEnd(sw)}  ${(h.started ? h.runId : '-').padEnd(23)}  ${steps}${h.reason ? `  ${h.reason}` : ''}`);
  }
}

/** `stepwise report FLEETID [--format json|md|junit] [--output FILE]`: the fleet's report. */
export function fleetReportCommand(a: { runId: string; format?: string; output?: string; data?: string; runbooks?: string }, out: (s: string) => void): number {
  const tr = translator(langFromEnv(undefined, process.env));
  const format = a.format ?? 'json';
  if (!(FLEET_REPORT_FORMATS as readonly string[]).includes(format)) {
    out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.format', { format: JSON.stringify(format), formats: FLEET_REPORT_FORMATS.join('|') }) }));
    return EXIT_USAGE;
  }
  const dir = dataDir(a.data);
  if (!fs.existsSync(path.join(dir, 'stepwise.db'))) {
    out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.noRuns', { id: JSON.stringify(a.runId), dir }) }));
    return EXIT_USAGE;
  }
  const store = RunStore.open(dir);
  try {
    const catalog = loadCatalog(runbooksDir(a.runbooks));
    const r = exportFleet({ store, catalog: () => catalog }, new RunHistory(store, () => catalog), a.runId, format as FleetReportFormat);
    if (!r.ok) {
      out(tr.t('cli.usage', { command: 'report', message: r.error.message }));
      return EXIT_USAGE;
    }
    if (a.output !== undefined) {
      try {
        fs.writeFileSync(a.output, r.value.body, { mode: 0o600 });
      } catch (e) {
        out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.cannotWrite', { file: a.output, message: (e as Error).message }) }));
        return EXIT_FAILED;
      }
      out(tr.t('cli.report.wrote', { file: a.output, bytes: String(Buffer.byteLength(r.value.body)) }));
    } else {
      out(r.value.body.endsWith('\n') ? r.value.body.slice(0, -1) : r.value.body);
    }
    return 0;
  } finally {
    store.close();
  }
}
