// Rollback from the command line (server/run/rollback.ts; docs/format.md, Rollback):
// - `stepwise run <runbook> --rollback`: when the run fails, the rollback blocks of the steps
//   that passed run right away in the run's own shell (rollBackAfterFailure, called by run.ts);
// - `stepwise rollback <runId> [--yes]`: a failed run that has ended is rolled back in a new run
//   linked to it, on the same target, its inputs and shell state restored as --resume restores them.
// Prints one line per rollback block and how the rollback ended; exit 0 when every rollback
// block ran, 1 when one failed (the rollback stops there) or it was refused.
import { loadCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { Runs, defaultUser } from '../run/runs.ts';
import type { Run } from '../run/run.ts';
import { RunHistory } from '../run/history.ts';
import { rollBackFinished, rollBackFleet, rollBackLive, type RollbackOutcome } from '../run/rollback.ts';
import type { FleetView } from '../run/fleet-view.ts';
import { targetKinds } from '../target/registry.ts';
import { runInterruption } from './signals.ts';
import { sshTargetKind } from './hosts.ts';
import { cliRuns, dataDir, runbooksDir } from './config.ts';
import { langFromEnv, translator, type Translator } from '../../common/i18n/index.ts';
import { statusLabel } from '../../common/format.ts';
import type { BlockResult } from '../../common/result.ts';
import type { Outcome } from '../../common/outcome.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export interface RollbackArgs {
  runId?: string;
  yes: boolean;
  data?: string;
  runbooks?: string;
  inventory?: string;
  lang?: string;
}

function cliTranslator(lang?: string): Translator {
  return translator(langFromEnv(lang, process.env));
}

function blockLine(tr: Translator, out: (s: string) => void) {
  return (stepId: string, r: BlockResult) => {
    const status = statusLabel(r.status, tr);
    out(tr.t('cli.rollback.block', { step: stepId, block: r.id, status: r.reason && r.status !== 'passed' ? `${status} (${r.reason})` : status }));
  };
}

/** How a rollback ended, in the CLI's words; true when every rollback block ran. */
function printOutcome(tr: Translator, out: (s: string) => void, o: Outcome<RollbackOutcome>): boolean {
  if (!o.ok) {
    out(tr.t('cli.rollback.refused', { message: o.error.message }));
    return false;
  }
  const v = o.value;
  v.notes.forEach((n) => out(tr.t('cli.note', { note: n })));
  const steps = v.undone.join(', ') || '-';
  if (v.status === 'passed') out(tr.t('cli.rollback.passed', { steps }));
  else out(tr.t('cli.rollback.failed', { block: v.failedBlock ?? '?', reason: v.reason ?? '', steps }));
  return v.status === 'passed';
}

/** `stepwise run --rollback`: the run failed and is still live; roll it back in its shell. */
export async function rollBackAfterFailure(run: Run, store: RunStore, a: { yes: boolean; lang?: string }, out: (s: string) => void): Promise<boolean> {
  const tr = cliTranslator(a.lang);
  const history = new RunHistory(store);
  const o = await rollBackLive(run, history, {
    confirmed: a.yes,
    onBlock: blockLine(tr, out),
    onPlan: (runId, planned) => out(tr.t('cli.rollback.start', { id: run.id, runId, steps: planned.join(', ') })),
  });
  return printOutcome(tr, out, o);
}

/** `stepwise rollback <runId>`. */
export async function rollbackCommand(a: RollbackArgs, out: (s: string) => void): Promise<number> {
  const tr = cliTranslator(a.lang);
  if (!a.runId) {
    out(tr.t('cli.usage', { command: 'rollback', message: tr.t('cli.main.approveOne') }));
    return EXIT_USAGE;
  }
  const dir = runbooksDir(a.runbooks);
  const catalog = loadCatalog(dir);
  const store = RunStore.open(dataDir(a.data));
  let runs: Runs | undefined;
  // Ctrl-C (SIGTERM, SIGHUP): Ctrl-C to the running rollback block, the run ends interrupted and
  // sealed, exit 128 + the signal; a second signal ends the run's records at once and exits.
  const stop = runInterruption('rollback', out);
  try {
    const history = new RunHistory(store, () => catalog);
    const record = history.get(a.runId);
    if (!record) {
      out(tr.t('cli.rollback.refused', { message: `no run ${JSON.stringify(a.runId)}` }));
      return EXIT_USAGE;
    }
    const kinds = targetKinds();
    if (!Object.prototype.hasOwnProperty.call(kinds, record.target)) {
      // The failed run's SSH host, from the inventory (docs/targets.md).
      const ssh = sshTargetKind(record.target, a, Object.keys(kinds));
      if (typeof ssh === 'string') {
        out(tr.t('cli.rollback.refused', { message: ssh }));
        return EXIT_USAGE;
      }
      kinds[record.target] = ssh;
    }
    runs = cliRuns(catalog, store, dataDir(a.data), kinds);
    const o = await rollBackFinished(runs, history, a.runId, defaultUser(), {
      confirmed: a.yes,
      onStart: (run) => {
        stop.live = run;
        out(tr.t('cli.runStart', { id: run.id, runbook: record.runbookId ?? '', target: record.target }));
      },
      onBlock: blockLine(tr, out),
      onPlan: (runId, planned) => out(tr.t('cli.rollback.start', { id: a.runId!, runId, steps: planned.join(', ') })),
    });
    const ok = printOutcome(tr, out, o);
    if (o.ok) {
      const head = store.auditEvents(o.value.runId).at(-1)?.hash;
      if (head) out(tr.t('cli.auditHead', { head, id: o.value.runId }));
    }
    if (stop.signal) return stop.exitCode;
    return ok ? 0 : EXIT_FAILED;
  } finally {
    runs?.dispose();
    store.close();
    await stop.close();
  }
}

/**
 * `stepwise run --target @group --rollback`, after a fleet in which a step failed: every host that
 * failed and every host that had passed the failed step is rolled back, each in its own new run.
 * Prints one line per rollback block and per host, prefixed with the host.
 */
export async function rollBackFleetHosts(runs: Runs, history: RunHistory, view: FleetView, a: { yes: boolean; lang?: string }, out: (s: string) => void): Promise<boolean> {
  const tr = cliTranslator(a.lang);
  const width = Math.max(...view.hosts.map((h) => h.host.length));
  const who = (host: string) => `[${host}]`.padEnd(width + 2);
  let ok = true;
  await rollBackFleet(runs, history, view.hosts.map((h) => ({ host: h.host, runId: h.runId, started: h.started, status: h.status, steps: h.steps })), defaultUser(), {
    confirmed: a.yes,
    onBlock: (host, stepId, r) => {
      const line: string[] = [];
      blockLine(tr, (s) => line.push(s))(stepId, r);
      out(`${who(host)} ${line.join('').trim()}`);
    },
    onPlan: (host, of, runId, planned, reason) => out(`${who(host)} ${tr.t('cli.rollback.start', { id: of, runId, steps: planned.join(', ') })} (${reason})`),
    onHost: (host, _reason, o) => {
      const lines: string[] = [];
      ok = printOutcome(tr, (s) => lines.push(s), o) && ok;
      for (const l of lines) out(`${who(host)} ${l}`);
    },
  });
  return ok;
}
