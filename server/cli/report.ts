// `stepwise report <runId>`: a recorded run as JSON, JUnit XML, Markdown or its raw asciicast,
// on stdout or into a file. `stepwise runs`: the recorded runs, newest first, one per line.
import fs from 'node:fs';
import path from 'node:path';
import { RunStore, type RunStatus } from '../record/store.ts';
import { loadCatalog } from '../runbook/catalog.ts';
import { exportRun, isReportFormat, REPORT_FORMATS } from '../report/export.ts';
import { RunHistory } from '../run/history.ts';
import { cliTranslator, dataDir, runbooksDir } from './config.ts';
import { isFleetId } from '../record/fleets.ts';
import { fleetReportCommand } from './fleet.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const RUN_STATUSES: readonly RunStatus[] = ['running', 'passed', 'failed', 'interrupted', 'ended', 'expired'];

export interface ReportArgs {
  runId: string;
  format?: string;
  output?: string;
  data?: string;
  runbooks?: string;
}

/** Writes raw bytes to stdout and resolves once they are handed to the OS. */
function writeStdout(b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(b, (err) => (err ? reject(err) : resolve())));
}

/** The store of a data folder, or undefined (without creating anything) when it has none. */
function openExisting(dir: string): RunStore | undefined {
  return fs.existsSync(path.join(dir, 'stepwise.db')) ? RunStore.open(dir) : undefined;
}

export async function reportCommand(
  a: ReportArgs,
  out: (s: string) => void,
  write: (b: Buffer) => Promise<void> = writeStdout,
): Promise<number> {
  // A fleet's id: the fleet's report (JSON, Markdown, JUnit with a testsuite per host).
  if (isFleetId(a.runId)) return fleetReportCommand(a, out);
  const tr = cliTranslator();
  const format = a.format ?? 'json';
  if (!isReportFormat(format)) {
    out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.format', { format: JSON.stringify(format), formats: REPORT_FORMATS.join('|') }) }));
    return EXIT_USAGE;
  }
  const dir = dataDir(a.data);
  const store = openExisting(dir);
  if (!store) {
    out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.noRuns', { id: JSON.stringify(a.runId), dir }) }));
    return EXIT_USAGE;
  }
  try {
    // The runbook is only needed for command texts and titles; casts do not need it.
    const catalog = format === 'cast' ? undefined : loadCatalog(runbooksDir(a.runbooks));
    const r = exportRun(new RunHistory(store, catalog && (() => catalog)), a.runId, format);
    if (!r.ok) {
      const message = r.error.code === 'NOT_FOUND' ? tr.t('cli.report.notFound', { message: r.error.message }) : r.error.message;
      out(tr.t('cli.usage', { command: 'report', message }));
      return EXIT_USAGE;
    }
    if (a.output !== undefined) {
      try {
        fs.writeFileSync(a.output, r.body, { mode: 0o600 });
      } catch (e) {
        out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.report.cannotWrite', { file: a.output, message: (e as Error).message }) }));
        return EXIT_FAILED;
      }
      out(tr.t('cli.report.wrote', { file: a.output, bytes: String(Buffer.byteLength(r.body)) }));
    } else if (typeof r.body === 'string') {
      out(r.body.endsWith('\n') ? r.body.slice(0, -1) : r.body); // out adds the newline back
    } else {
      await write(r.body); // a recording, byte for byte
    }
    return 0;
  } finally {
    store.close();
  }
}

export interface RunsArgs {
  runbook?: string;
  status?: string;
  limit?: string;
  data?: string;
}

export function runsCommand(a: RunsArgs, out: (s: string) => void): number {
  const tr = cliTranslator();
  if (a.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(a.status)) {
    out(tr.t('cli.usage', { command: 'runs', message: tr.t('cli.runs.status', { status: JSON.stringify(a.status), statuses: RUN_STATUSES.join(', ') }) }));
    return EXIT_USAGE;
  }
  if (a.limit !== undefined && !/^\d+$/.test(a.limit)) {
    out(tr.t('cli.usage', { command: 'runs', message: tr.t('cli.runs.limit', { limit: JSON.stringify(a.limit) }) }));
    return EXIT_USAGE;
  }
  const store = openExisting(dataDir(a.data));
  if (!store) return 0; // nothing recorded yet
  try {
    const runs = new RunHistory(store).list({
      ...(a.runbook !== undefined ? { runbookId: a.runbook } : {}),
      ...(a.status !== undefined ? { status: a.status as RunStatus } : {}),
      ...(a.limit !== undefined ? { limit: Number(a.limit) } : {}),
    });
    for (const r of runs) {
      out([r.id, r.status.padEnd(11), (r.runbookId ?? '-').padEnd(24), r.target.padEnd(10), r.user.padEnd(12), r.startedAt].join(' '));
    }
    return 0;
  } finally {
    store.close();
  }
}
