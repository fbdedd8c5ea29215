// The edge of run reports: a run's report (read through RunHistory) or its recording, in one format.
// Expected failures (no such run, no recording, unknown format) are values, never throws.

import fs from 'node:fs';
import path from 'node:path';
import type { RunRecord } from '../record/store.ts';
import { failure, type Failure } from '../errors.ts';
import { toJUnit } from './junit.ts';
import { toMarkdown } from './markdown.ts';
import type { RunHistory } from '../run/history.ts';

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

/** A run's report in one format; titles and command texts come from the runbook as it ran (RunHistory.report). */
export function exportRun(history: RunHistory, runId: string, format: ReportFormat): ExportResult {
  if (!isReportFormat(format)) {
    return { ok: false, error: failure('BAD_REQUEST', `unknown report format ${JSON.stringify(format)}; use ${REPORT_FORMATS.join(', ')}`, 'format') };
  }
  const meta = { contentType: CONTENT_TYPES[format], filename: `${runId}.${EXTENSIONS[format]}` };
  if (format === 'cast') {
    const run = history.get(runId);
    if (!run) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
    const body = readRecording(history.dataDir, run);
    if (!body) return { ok: false, error: failure('NOT_FOUND', `no recording for run ${JSON.stringify(runId)}`) };
    return { ok: true, body, ...meta };
  }
  const r = history.report(runId);
  if (!r.ok) return r;
  const body = format === 'json' ? JSON.stringify(r.value, null, 2) : format === 'junit' ? toJUnit(r.value) : toMarkdown(r.value);
  return { ok: true, body, ...meta };
}

/**
 * The recording's bytes, or undefined when there is none. Looks at the stored path, then at
 * `casts/<file>` next to the database (a data folder that was moved or restored elsewhere).
 */
function readRecording(dataDir: string, run: RunRecord): Buffer | undefined {
  const file = recordingFile(dataDir, run);
  return file === undefined ? undefined : fs.readFileSync(file);
}

/** Where readRecording finds the recording (the server streams it from there), or undefined. */
export function recordingFile(dataDir: string, run: RunRecord): string | undefined {
  if (!run.castPath) return undefined;
  const candidates = [path.resolve(run.castPath), path.join(dataDir, 'casts', path.basename(run.castPath))];
  return candidates.find((file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile());
}
