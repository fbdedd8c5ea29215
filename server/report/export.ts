// The edge of run reports: reads a run's records (and its recording) and renders one format.
// Expected failures (no such run, no recording, unknown format) are values, never throws.

import fs from 'node:fs';
import path from 'node:path';
import type { RunStore, RunRecord } from '../record/store.ts';
import type { Catalog } from '../runbook/catalog.ts';
import { failure, type Failure } from '../errors.ts';
import { buildReport, type RunReport } from './model.ts';
import { toJUnit } from './junit.ts';
import { toMarkdown } from './markdown.ts';
import type { Runbook } from '../runbook/model.ts';
import { parseRunbook } from '../runbook/parse.ts';
import { loadSnapshot } from '../record/snapshot.ts';

export const REPORT_FORMATS = ['json', 'junit', 'md', 'cast'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function isReportFormat(s: unknown): s is ReportFormat {
  return typeof s === 'string' && (REPORT_FORMATS as readonly string[]).includes(s);
}

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  junit: 'application/xml; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  cast: 'application/x-asciicast',
};

const EXTENSIONS: Record<ReportFormat, string> = { json: 'json', junit: 'junit.xml', md: 'md', cast: 'cast' };

export type ExportResult =
  | { ok: true; body: string | Buffer; contentType: string; filename: string }
  | { ok: false; error: Failure };

/** Where to find runbooks: a Catalog, or anything with its `get`. */
export type RunbookSource = Pick<Catalog, 'get'>;

/**
 * The report of a run. The runbook is looked up by the run's runbook id and used only if it
 * is the version that ran (same content hash); otherwise the report says `runbookChanged`.
 */
export function reportFor(store: RunStore, runId: string, catalog?: RunbookSource): { ok: true; value: RunReport } | { ok: false; error: Failure } {
  const run = store.getRun(runId);
  if (!run) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
  const current = run.runbookId && catalog ? catalog.get(run.runbookId)?.runbook : undefined;
  // The runbook as it was run (its snapshot) gives the commands even after the file changed.
  const pinned = current?.contentHash === run.contentHash ? current : pinnedRunbook(store, run);
  const report = buildReport(run, store.blockResults(run.id), store.stepVerdicts(run.id), pinned ?? current);
  if (current && current.contentHash !== run.contentHash) report.runbookChanged = true;
  return { ok: true, value: report };
}

function pinnedRunbook(store: RunStore, run: RunRecord): Runbook | undefined {
  if (!run.contentHash || !run.runbookFile) return undefined;
  const source = loadSnapshot(path.dirname(store.path), run.contentHash);
  return source === undefined ? undefined : parseRunbook(source, run.runbookFile).runbook;
}

export function exportRun(store: RunStore, runId: string, format: ReportFormat, catalog?: RunbookSource): ExportResult {
  if (!isReportFormat(format)) {
    return { ok: false, error: failure('BAD_REQUEST', `unknown report format ${JSON.stringify(format)}; use ${REPORT_FORMATS.join(', ')}`, 'format') };
  }
  const meta = { contentType: CONTENT_TYPES[format], filename: `${runId}.${EXTENSIONS[format]}` };
  if (format === 'cast') {
    const run = store.getRun(runId);
    if (!run) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
    const body = readRecording(store, run);
    if (!body) return { ok: false, error: failure('NOT_FOUND', `no recording for run ${JSON.stringify(runId)}`) };
    return { ok: true, body, ...meta };
  }
  const r = reportFor(store, runId, catalog);
  if (!r.ok) return r;
  const body = format === 'json' ? JSON.stringify(r.value, null, 2) : format === 'junit' ? toJUnit(r.value) : toMarkdown(r.value);
  return { ok: true, body, ...meta };
}

/**
 * The recording's bytes, or undefined when there is none. Looks at the stored path, then at
 * `casts/<file>` next to the database (a data folder that was moved or restored elsewhere).
 */
function readRecording(store: RunStore, run: RunRecord): Buffer | undefined {
  if (!run.castPath) return undefined;
  const candidates = [path.resolve(run.castPath), path.join(path.dirname(store.path), 'casts', path.basename(run.castPath))];
  for (const file of candidates) {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') throw e;
    }
  }
  return undefined;
}
