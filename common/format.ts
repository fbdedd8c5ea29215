// Pure text formatting shared by the server-rendered pages (server/http/pages.ts) and the
// browser, so a result looks the same whether it was rendered on load or arrived live.
// No DOM or Node imports.

import type { BlockStatus, StepStatus } from './result.ts';
import { CATALOGS, EN, type MessageKey, type Translator } from './i18n/index.ts';

/** "85 ms", "1.2 s", "3 min 07 s" (in English; `tr` picks the language and its digits). */
export function formatDuration(ms: number, tr: Translator = EN): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return tr.t('duration.ms', { ms: tr.number(Math.round(ms)) });
  if (ms < 60_000) {
    const digits = ms < 10_000 ? 1 : 0;
    return tr.t('duration.s', { s: tr.number(ms / 1000, { minimumFractionDigits: digits, maximumFractionDigits: digits }) });
  }
  const s = Math.round(ms / 1000);
  return tr.t('duration.min', { min: tr.number(Math.floor(s / 60)), sec: String(s % 60).padStart(2, '0') });
}

/** The line under a block's code: "exit 0 · 85 ms", "timed out · 5.0 s". */
export function resultMeta(r: { exitCode: number | null; durationMs: number; end: string }, tr: Translator = EN): string {
  let head: string;
  if (r.end === 'skipped') return tr.t('meta.notRun');
  else if (r.end === 'timeout') head = r.exitCode === null ? tr.t('meta.timedOut') : tr.t('meta.timedOutExit', { code: String(r.exitCode) });
  else if (r.end === 'interrupted') head = tr.t('meta.interrupted');
  else if (r.end === 'session-ended') head = tr.t('meta.sessionEnded');
  else head = r.exitCode === null ? tr.t('meta.noExit') : tr.t('meta.exit', { code: String(r.exitCode) });
  return tr.t('meta.join', { a: head, b: formatDuration(r.durationMs, tr) });
}

const HINT_SEPARATOR = ' — hint: ';

/** The verifier appends a check's hint to its reason; show them apart. */
export function splitHint(reason: string | undefined): { reason: string; hint?: string } {
  if (!reason) return { reason: '' };
  const i = reason.lastIndexOf(HINT_SEPARATOR);
  if (i < 0) return { reason };
  return { reason: reason.slice(0, i), hint: reason.slice(i + HINT_SEPARATOR.length) };
}

/** Statuses after which a step counts as done (training mode unlocks Next). */
export function isDone(status: StepStatus | BlockStatus | 'pending' | undefined): boolean {
  return status === 'passed' || status === 'warning' || status === 'skipped';
}

export const STATUS_LABEL: Record<BlockStatus, string> = {
  pending: 'pending',
  running: 'running',
  passed: 'passed',
  failed: 'failed',
  warning: 'warning',
  skipped: 'skipped',
};

export const VERDICT_TITLE: Record<StepStatus | 'pending', string> = {
  pending: 'Not verified yet',
  passed: 'Step passed',
  warning: 'Step passed with a warning',
  failed: 'Step failed',
  skipped: 'Step skipped',
};

/** "3 of 5 steps done". */
export function progressText(done: number, total: number, tr: Translator = EN): string {
  return tr.t('progress', { done, total });
}

/** A block, step or run status as a word of the language (the code itself stays English). */
export function statusLabel(status: string, tr: Translator = EN): string {
  const key = `status.${status}` as MessageKey;
  return key in CATALOGS.en ? tr.t(key) : status;
}

/** The step verdict's heading ("Step passed"). */
export function verdictTitle(status: StepStatus | 'pending', tr: Translator = EN): string {
  return tr.t(`verdict.${status}`);
}
